/*
 * store.c — the store: opening and layout, packages and versions, locks,
 * leftovers of crashed runs, the store's digest set (see store.h; the
 * module's other files are named in store_int.h).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <linux/fs.h>
#include <unistd.h>

#include "atomic.h"
#include "config.h"
#include "err.h"
#include "fault.h"
#include "io.h"
#include "lock.h"
#include "manifest.h"
#include "num.h"
#include "path.h"
#include "sign.h"
#include "store.h"
#include "store_int.h"

/* ---- a set of digests (open addressing; digests are random) ---- */

void
store_dset_free(struct dset *s)
{
	free(s->v);
	s->v = NULL;
	s->cap = s->n = 0;
}

static size_t
dset_hash(const unsigned char d[DIGEST_LEN])
{
	size_t h;

	memcpy(&h, d, sizeof(h));
	return h;
}

/* The slot for d: found (used) or where it would go. */
static struct dslot *
dset_slot(const struct dset *s, const unsigned char d[DIGEST_LEN])
{
	size_t i;

	if (s->cap == 0)
		return NULL;
	for (i = dset_hash(d) & (s->cap - 1);; i = (i + 1) & (s->cap - 1)) {
		if (!s->v[i].used || memcmp(s->v[i].d, d, DIGEST_LEN) == 0)
			return &s->v[i];
	}
}

struct dslot *
store_dset_find(const struct dset *s, const unsigned char d[DIGEST_LEN])
{
	struct dslot *sl = dset_slot(s, d);

	return sl != NULL && sl->used ? sl : NULL;
}

/* Insert d (or find it); *isnew tells which.  NULL on ENOMEM. */
struct dslot *
store_dset_add(struct dset *s, const unsigned char d[DIGEST_LEN], bool *isnew)
{
	struct dslot *sl;

	if ((s->n + 1) * 2 > s->cap) {
		struct dset ns;
		size_t i;

		ns.cap = s->cap == 0 ? 64 : s->cap * 2;
		ns.n = s->n;
		if ((ns.v = calloc(ns.cap, sizeof(*ns.v))) == NULL) {
			err_nomem();
			return NULL;
		}
		for (i = 0; i < s->cap; i++)
			if (s->v[i].used)
				*dset_slot(&ns, s->v[i].d) = s->v[i];
		free(s->v);
		*s = ns;
	}
	sl = dset_slot(s, d);
	*isnew = !sl->used;
	if (!sl->used) {
		memset(sl, 0, sizeof(*sl));
		memcpy(sl->d, d, DIGEST_LEN);
		sl->used = true;
		s->n++;
	}
	return sl;
}

/* ---- small helpers ---- */

const char *
store_form_suffix(enum store_form form)
{
	return form == STORE_ZLIB ? ".z" : form == STORE_DELTA ? ".d" : "";
}

void
store_obj_name(const unsigned char d[DIGEST_LEN], enum store_form form,
    char out[STORE_OBJ_NAME_MAX])
{
	char hex[DIGEST_HEXLEN + 1];

	digest_hex(d, hex);
	snprintf(out, STORE_OBJ_NAME_MAX, "%.2s/%s%s", hex, hex + 2,
	    store_form_suffix(form));
}

int
store_open_dir(int dirfd, const char *name)
{
	return openat(dirfd, name,
	    O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
}

/* mkdir that accepts an existing directory. */
int
store_ensure_dir(int dirfd, const char *name, const char *what)
{
	struct stat st;

	if (fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) == 0) {
		if (S_ISDIR(st.st_mode))
			return 0;
		return err_set("'%s' is not a directory", what);
	}
	if (errno != ENOENT)
		return err_sys("cannot stat '%s'", what);
	if (io_mkdir(dirfd, name, 0755) == -1) {
		if (err_errno() == EEXIST)
			return 0;
		return -1;
	}
	return 0;
}

/*
 * A write to the store failed: say what the store was doing and which
 * store, not the internal file that failed ("cannot write 'p1'"); the
 * reason (strerror) is kept.  Returns -1.
 */
int
store_err_io(struct store *s, const char *fmt, ...)
{
	char what[PATH_SHOW_LEN + 128];
	va_list ap;
	int e = err_errno();

	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	if (e == 0)
		return err_prefix("%s in store '%s': ", what, s->dir);
	errno = e;
	return err_sys("%s in store '%s'", what, s->dir);
}

/* The store's one call to syncfs: contents renamed into objects/ are
 * made durable with one flush instead of one fsync per file.  Goes
 * through the fault hook as an fsync. */
int
store_sync(struct store *s)
{
	if (fault_hit("fsync") == -1)
		return err_sys("cannot sync store '%s'", s->dir);
	if (syncfs(s->fd) == -1)
		return err_sys("cannot sync store '%s'", s->dir);
	return 0;
}

/* ---- opening ---- */

/*
 * Ask ext2/3/4 to treat STORE/tmp as the top of a hierarchy (chattr +T):
 * its subdirectories, the staging directories of add and import, are
 * then spread over block groups with free inodes (the Orlov allocator)
 * instead of all landing in tmp's own group.  Creating thousands of
 * contents in a group full of recently deleted inodes costs ext4 a scan
 * per file (several seconds for 5,000 files on a busy machine); a fresh
 * group avoids it.  Best effort: other file systems refuse the ioctl,
 * which changes nothing else.
 */
static void
store_topdir(struct store *s)
{
	int fd, flags;

	if ((fd = openat(s->fd, "tmp",
		 O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)) == -1)
		return;
	if (ioctl(fd, FS_IOC_GETFLAGS, &flags) == 0 &&
	    !(flags & FS_TOPDIR_FL)) {
		flags |= FS_TOPDIR_FL;
		(void)ioctl(fd, FS_IOC_SETFLAGS, &flags);
	}
	close(fd);
}

const char *
store_path(const char *opt)
{
	const char *e;

	if (opt != NULL)
		return opt;
	if ((e = getenv(STORE_ENV)) != NULL && *e != '\0')
		return e;
	return STORE_DEFAULT;
}

static int
store_init_layout(struct store *s)
{
	static const char *dirs[] = { "objects", "packages", "tmp",
		STORE_RETRY };
	size_t i;

	for (i = 0; i < sizeof(dirs) / sizeof(dirs[0]); i++)
		if (store_ensure_dir(s->fd, dirs[i], dirs[i]) == -1)
			return err_prefix("store '%s': ", s->dir);
	if (atomic_write_file(s->fd, "format", STORE_FORMAT_LINE,
		strlen(STORE_FORMAT_LINE), 0644) == -1)
		return err_prefix("store '%s': ", s->dir);
	return 0;
}

/* STORE/config, named in messages by its path under the directory as
 * given. */
static int
store_load_config(struct store *s)
{
	char *shown;
	size_t len = strlen(s->dir) + sizeof(CONFIG_FILE) + 1;
	int r;

	if ((shown = malloc(len)) == NULL)
		return err_nomem();
	snprintf(shown, len, "%s%s%s", s->dir,
	    s->dir[0] != '\0' && s->dir[strlen(s->dir) - 1] == '/' ? "" : "/",
	    CONFIG_FILE);
	r = config_load(s->fd, CONFIG_FILE, shown, &s->cfg);
	free(shown);
	return r;
}

int
store_open(const char *dir, int flags, struct store **out)
{
	struct store *s;
	char *buf = NULL;
	size_t len;

	*out = NULL;
	if ((s = calloc(1, sizeof(*s))) == NULL)
		return err_nomem();
	s->fd = s->objfd = s->pkgfd = s->tmpfd = -1;
	pthread_mutex_init(&s->mu, NULL);
	config_init(&s->cfg);
	if ((s->dir = strdup(dir)) == NULL) {
		err_nomem();
		goto fail;
	}
	if ((s->fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) == -1) {
		if (errno == ENOENT && !(flags & STORE_CREATE)) {
			err_code(ENOENT,
			    "store '%s' does not exist (the first "
			    "'pkgstage add' creates it; -s STORE or "
			    "$PKGDIST_STORE names another)",
			    dir);
			goto fail;
		}
		if (errno != ENOENT) {
			err_sys("store '%s'", dir);
			goto fail;
		}
		if (io_mkdir(AT_FDCWD, dir, 0755) == -1 &&
		    err_errno() != EEXIST) {
			err_prefix("store: ");
			goto fail;
		}
		if ((s->fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) ==
		    -1) {
			err_sys("store '%s'", dir);
			goto fail;
		}
	}
	if (faccessat(s->fd, "format", F_OK, AT_SYMLINK_NOFOLLOW) == -1) {
		if (errno != ENOENT || !(flags & STORE_CREATE)) {
			err_set("'%s' is not a pkgdist store (no 'format' "
				"file)",
			    dir);
			goto fail;
		}
		if (store_init_layout(s) == -1)
			goto fail;
	}
	if (io_slurp(s->fd, "format", 64, &buf, &len) == -1) {
		err_prefix("store '%s': ", dir);
		goto fail;
	}
	if (len != strlen(STORE_FORMAT_LINE) ||
	    memcmp(buf, STORE_FORMAT_LINE, len) != 0) {
		err_set("store '%s': unknown format (not \"pkgdist-store 1\")",
		    dir);
		goto fail;
	}
	free(buf);
	buf = NULL;
	if (flags & STORE_CREATE) {
		/* A store made before retry/ existed, or damaged: make the
		 * directories that are missing (no fault point otherwise). */
		static const char *dirs[] = { "objects", "packages", "tmp",
			STORE_RETRY };
		size_t i;

		for (i = 0; i < sizeof(dirs) / sizeof(dirs[0]); i++)
			if (store_ensure_dir(s->fd, dirs[i], dirs[i]) == -1) {
				err_prefix("store '%s': ", dir);
				goto fail;
			}
		store_topdir(s);
	}
	if ((s->objfd = store_open_dir(s->fd, "objects")) == -1 ||
	    (s->pkgfd = store_open_dir(s->fd, "packages")) == -1 ||
	    (s->tmpfd = store_open_dir(s->fd, "tmp")) == -1) {
		err_sys("store '%s': damaged layout", dir);
		goto fail;
	}
	if (store_load_config(s) == -1)
		goto fail;
	*out = s;
	return 0;
fail:
	free(buf);
	store_close(s);
	return -1;
}

void
store_close(struct store *s)
{
	if (s == NULL)
		return;
	if (s->fd != -1)
		close(s->fd);
	if (s->objfd != -1)
		close(s->objfd);
	if (s->pkgfd != -1)
		close(s->pkgfd);
	if (s->tmpfd != -1)
		close(s->tmpfd);
	pthread_mutex_destroy(&s->mu);
	config_free(&s->cfg);
	free(s->dir);
	free(s);
}

const char *
store_dir(const struct store *s)
{
	return s->dir;
}

const struct config *
store_config(const struct store *s)
{
	return &s->cfg;
}

/* ---- packages and versions ---- */

void
store_strings_free(char **v, size_t n)
{
	io_names_free(v, n);
}

static bool
is_package(const char *name, void *arg)
{
	(void)arg;
	return name_valid(name);
}

int
store_packages(struct store *s, char ***names, size_t *n)
{
	if (io_list_names(s->pkgfd, is_package, NULL, names, n) == -1)
		return err_prefix("'%s/packages': ", s->dir);
	io_names_sort(*names, *n);
	return 0;
}

static int
cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

/* Open packages/PKG/v; -1 with errno ENOENT (err set) if missing. */
int
store_open_vdir(struct store *s, const char *pkg)
{
	char path[NAME_MAX_LEN + 8];
	int fd;

	snprintf(path, sizeof(path), "%s/v", pkg);
	if ((fd = openat(s->pkgfd, path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) ==
	    -1)
		return err_sys("cannot open '%s/packages/%s'", s->dir, path);
	return fd;
}

static bool
is_version(const char *name, void *arg)
{
	uint64_t x;

	(void)arg;
	return num_arg(name, 1, UINT64_MAX, &x) == 0;
}

int
store_versions(struct store *s, const char *pkg, uint64_t **vp, size_t *np)
{
	char **names;
	uint64_t *v = NULL;
	size_t n, i;
	int fd, rc;

	*vp = NULL;
	*np = 0;
	if (package_name_check(pkg) == -1)
		return -1;
	if ((fd = store_open_vdir(s, pkg)) == -1)
		return errno == ENOENT ? 0 : -1;
	rc = io_list_names(fd, is_version, NULL, &names, &n);
	close(fd);
	if (rc == -1)
		return err_prefix("versions of '%s': ", pkg);
	if (n > 0 && (v = malloc(n * sizeof(*v))) == NULL) {
		io_names_free(names, n);
		return err_nomem();
	}
	for (i = 0; i < n; i++)
		(void)num_arg(names[i], 1, UINT64_MAX, &v[i]);
	io_names_free(names, n);
	if (n > 1)
		qsort(v, n, sizeof(*v), cmp_u64);
	*vp = v;
	*np = n;
	return 0;
}

int
store_newest(struct store *s, const char *pkg, uint64_t *version)
{
	uint64_t *v;
	size_t n;

	*version = 0;
	if (store_versions(s, pkg, &v, &n) == -1)
		return -1;
	if (n > 0)
		*version = v[n - 1];
	free(v);
	return 0;
}

/*
 * The highest version number pkg has had by its mark (0: no mark, as in
 * every store that never removed a newest version).  A mark that does
 * not parse is damage: numbers could be given twice.
 */
int
store_mark_read(struct store *s, const char *pkg, uint64_t *mark)
{
	char path[NAME_MAX_LEN + sizeof(STORE_LAST_VERSION) + 2];
	char *buf = NULL;
	size_t len;
	int rc = 0;

	*mark = 0;
	snprintf(path, sizeof(path), "%s/" STORE_LAST_VERSION, pkg);
	if (io_slurp(s->pkgfd, path, 64, &buf, &len) == -1)
		return err_errno() == ENOENT ? 0 : -1;
	if (len < 2 || buf[len - 1] != '\n' ||
	    (buf[len - 1] = '\0', num_arg(buf, 1, UINT64_MAX, mark) == -1))
		rc = err_set("'%s/packages/%s': damaged (not a version "
			     "number)",
		    s->dir, path);
	free(buf);
	return rc;
}

/* Keep v as the highest version number pkg has had (before the newest
 * version is removed).  A mark already above v stays. */
int
store_mark_write(struct store *s, const char *pkg, uint64_t v)
{
	char line[32];
	uint64_t old;
	int pfd, rc;

	if (store_mark_read(s, pkg, &old) == -1)
		return -1;
	if (old >= v)
		return 0;
	if ((pfd = store_open_dir(s->pkgfd, pkg)) == -1)
		return err_sys("cannot open '%s/packages/%s'", s->dir, pkg);
	snprintf(line, sizeof(line), "%" PRIu64 "\n", v);
	rc = atomic_write_file(pfd, STORE_LAST_VERSION, line, strlen(line),
	    0644);
	close(pfd);
	if (rc == -1)
		return store_err_io(s,
		    "cannot keep the last version number "
		    "of %s",
		    pkg);
	return 0;
}

static void
vpath(char *out, size_t len, const char *pkg, uint64_t version,
    const char *file)
{
	snprintf(out, len, "%s/v/%" PRIu64 "%s%s", pkg, version,
	    file != NULL ? "/" : "", file != NULL ? file : "");
}

int
store_has_version(struct store *s, const char *pkg, uint64_t version)
{
	char path[NAME_MAX_LEN + 64];
	struct stat st;

	if (package_name_check(pkg) == -1)
		return -1;
	vpath(path, sizeof(path), pkg, version, "manifest");
	if (fstatat(s->pkgfd, path, &st, AT_SYMLINK_NOFOLLOW) == 0)
		return 1;
	if (errno == ENOENT || errno == ENOTDIR)
		return 0;
	return err_sys("cannot stat '%s/packages/%s'", s->dir, path);
}

int
store_manifest_bytes(struct store *s, const char *pkg, uint64_t version,
    char **buf, size_t *len)
{
	char path[NAME_MAX_LEN + 64];

	*buf = NULL;
	*len = 0;
	if (package_name_check(pkg) == -1)
		return -1;
	if (version == 0 || store_has_version(s, pkg, version) == 0)
		return err_set("%s version %" PRIu64 ": no such version", pkg,
		    version);
	vpath(path, sizeof(path), pkg, version, "manifest");
	if (io_slurp(s->pkgfd, path, STORE_MANIFEST_MAX, buf, len) == -1)
		return err_prefix("%s version %" PRIu64 ": ", pkg, version);
	return 0;
}

int
store_load_manifest(struct store *s, const char *pkg, uint64_t version,
    struct manifest *m)
{
	char name[PATH_MAX];
	char *buf = NULL;
	size_t len;
	int rc = -1;

	if (store_manifest_bytes(s, pkg, version, &buf, &len) == -1)
		return -1;
	snprintf(name, sizeof(name), "%s/packages/%s/v/%" PRIu64 "/manifest",
	    s->dir, pkg, version);
	if (manifest_load_buf(buf, len, name, m) == -1)
		goto out;
	if (m->package == NULL || strcmp(m->package, pkg) != 0 ||
	    m->version != version) {
		manifest_free(m);
		manifest_init(m);
		err_set("'%s': header does not name %s version %" PRIu64, name,
		    pkg, version);
		goto out;
	}
	rc = 0;
out:
	free(buf);
	return rc;
}

/* The value of an info line "KEY VALUE" when its key is key, else NULL. */
static const char *
info_value(const char *line, const char *key)
{
	size_t n = strlen(key);

	return strncmp(line, key, n) == 0 && line[n] == ' ' ? line + n + 1 :
							      NULL;
}

int
store_version_info(struct store *s, const char *pkg, uint64_t version,
    struct store_version_info *info)
{
	char path[NAME_MAX_LEN + 64];
	char *buf = NULL, *line, *save = NULL;
	size_t len;
	struct stat st;
	struct manifest m;
	size_t i;
	bool got = false;

	memset(info, 0, sizeof(*info));
	info->version = version;
	if (store_has_version(s, pkg, version) != 1)
		return err_set("%s version %" PRIu64 ": no such version", pkg,
		    version);
	vpath(path, sizeof(path), pkg, version, "sig");
	info->is_signed =
	    fstatat(s->pkgfd, path, &st, AT_SYMLINK_NOFOLLOW) == 0;
	vpath(path, sizeof(path), pkg, version, "info");
	if (io_slurp(s->pkgfd, path, 4096, &buf, &len) == 0) {
		int seen = 0;

		/* The store's own info file, and only a cache: a bad one
		 * is worked out again from the manifest below. */
		for (line = strtok_r(buf, "\n", &save); line != NULL;
		     line = strtok_r(NULL, "\n", &save)) {
			const char *v;

			if ((v = info_value(line, "created")) != NULL &&
			    num_i64(v, strlen(v), &info->created) == 0)
				seen |= 1;
			else if ((v = info_value(line, "files")) != NULL &&
			    num_u64(v, strlen(v), UINT64_MAX, &info->files) ==
				0)
				seen |= 2;
			else if ((v = info_value(line, "bytes")) != NULL &&
			    num_u64(v, strlen(v), UINT64_MAX, &info->bytes) ==
				0)
				seen |= 4;
			else if ((v = info_value(line, "new_bytes")) != NULL)
				(void)num_u64(v, strlen(v), UINT64_MAX,
				    &info->new_bytes);
		}
		got = seen == 7;
	}
	free(buf);
	if (got)
		return 0;
	/* No or damaged info: work it out from the manifest. */
	vpath(path, sizeof(path), pkg, version, "manifest");
	if (fstatat(s->pkgfd, path, &st, 0) == 0)
		info->created = st.st_mtime;
	manifest_init(&m);
	if (store_load_manifest(s, pkg, version, &m) == -1)
		return -1;
	for (i = 0; i < m.n; i++)
		if (m.v[i].type == ENTRY_FILE) {
			info->files++;
			info->bytes += m.v[i].size;
		}
	manifest_free(&m);
	return 0;
}

int
store_version_signature(struct store *s, const char *pkg, uint64_t version,
    unsigned char **sig, size_t *len)
{
	char path[NAME_MAX_LEN + 64];
	char *buf;

	*sig = NULL;
	*len = 0;
	if (store_has_version(s, pkg, version) != 1)
		return err_set("%s version %" PRIu64 ": no such version", pkg,
		    version);
	vpath(path, sizeof(path), pkg, version, "sig");
	if (faccessat(s->pkgfd, path, F_OK, AT_SYMLINK_NOFOLLOW) == -1) {
		if (errno == ENOENT)
			return 0;
		return err_sys("cannot stat '%s/packages/%s'", s->dir, path);
	}
	if (io_slurp(s->pkgfd, path, 4096, &buf, len) == -1)
		return -1;
	*sig = (unsigned char *)buf;
	return 0;
}

int
store_verify_version(struct store *s, const char *pkg, uint64_t version,
    const char *pub)
{
	unsigned char *sig = NULL;
	char *buf = NULL;
	size_t siglen, len;
	int rc = -1;

	if (store_version_signature(s, pkg, version, &sig, &siglen) == -1)
		return -1;
	if (sig == NULL)
		return err_set("%s version %" PRIu64 ": not signed", pkg,
		    version);
	if (store_manifest_bytes(s, pkg, version, &buf, &len) == -1)
		goto out;
	if (sign_verify(pub, buf, len, sig, siglen) == -1) {
		err_prefix("%s version %" PRIu64 ": ", pkg, version);
		goto out;
	}
	rc = 0;
out:
	free(sig);
	free(buf);
	return rc;
}

/* ---- locks ---- */

int
store_lock(struct store *s, const char *pkg, enum store_lock_kind kind,
    bool shared, double timeout)
{
	int pfd, fd;

	if (package_name_check(pkg) == -1)
		return -1;
	if (kind == STORE_LOCK_UPDATE) {
		shared = false;
		if (store_ensure_dir(s->pkgfd, pkg, pkg) == -1)
			return -1;
	}
	if ((pfd = store_open_dir(s->pkgfd, pkg)) == -1) {
		if (errno == ENOENT)
			return err_set("package '%s': not in the store", pkg);
		return err_sys("cannot open '%s/packages/%s'", s->dir, pkg);
	}
	fd = lock_acquire(pfd, kind == STORE_LOCK_UPDATE ? "lock" : "use",
	    shared, timeout);
	close(pfd);
	if (fd == -1)
		return err_prefix("package '%s': ", pkg);
	return fd;
}

void
store_unlock(int fd)
{
	lock_release(fd);
}

/* ---- leftovers of crashed runs ---- */

static bool
is_txn_lock(const char *name, void *arg)
{
	size_t l = strlen(name);

	(void)arg;
	return strncmp(name, STORE_TXN_PREFIX, strlen(STORE_TXN_PREFIX)) == 0 &&
	    l >= 5 && strcmp(name + l - 5, ".lock") == 0;
}

static bool
is_vdir_leftover(const char *name, void *arg)
{
	(void)arg;
	return strncmp(name, STORE_BUILD_PREFIX, strlen(STORE_BUILD_PREFIX)) ==
	    0 ||
	    strncmp(name, STORE_DEL_PREFIX, strlen(STORE_DEL_PREFIX)) == 0;
}

/* Remove STORE/tmp/txn-* whose owner is gone (its lock is free). */
int
store_clean_tmp(struct store *s)
{
	char **names;
	size_t n, i;

	if (io_list_names(s->tmpfd, is_txn_lock, NULL, &names, &n) == -1)
		return err_prefix("'%s/tmp': ", s->dir);
	for (i = 0; i < n; i++) {
		char dir[NAME_MAX + 1];
		int lk;

		if ((lk = lock_acquire(s->tmpfd, names[i], false, 0)) == -1)
			continue; /* a live transaction */
		snprintf(dir, sizeof(dir), "%.*s", (int)strlen(names[i]) - 5,
		    names[i]);
		/* Best effort: the next run tries again. */
		if (io_remove_tree(s->tmpfd, dir) == 0)
			(void)io_unlink(s->tmpfd, names[i], 0);
		lock_release(lk);
	}
	io_names_free(names, n);
	return 0;
}

/* Remove v/.build-* and v/.del-* of pkg (caller holds its UPDATE lock). */
int
store_clean_vdir(struct store *s, int vfd)
{
	char **names;
	size_t n, i;
	int rc = 0;

	(void)s;
	if (io_list_names(vfd, is_vdir_leftover, NULL, &names, &n) == -1)
		return err_prefix("versions: ");
	for (i = 0; i < n; i++)
		if (io_remove_tree(vfd, names[i]) == -1)
			rc = -1;
	io_names_free(names, n);
	return rc;
}
