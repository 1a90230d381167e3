/*
 * store.c — the store: layout, versions, contents, holdings, locks,
 * staging transactions, gc and fsck (see store.h).
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>

#include <linux/fs.h>
#include <time.h>
#include <unistd.h>

#include "atomic.h"
#include "blob.h"
#include "config.h"
#include "digest.h"
#include "err.h"
#include "fault.h"
#include "io.h"
#include "lock.h"
#include "manifest.h"
#include "num.h"
#include "progress.h"
#include "sign.h"
#include "store.h"

#define FORMAT_LINE "pkgdist-store 1\n"
#define HOLD_MAGIC "pkgdist-holdings 1"
#define OBJ_NAME_MAX (2 + 1 + 62 + 2 + 1)
#define TXN_PREFIX "txn-"
#define BUILD_PREFIX ".build-"
#define DEL_PREFIX ".del-"
#define FLUSH_Q 1024
#define STORE_SMALL_READ ((uint64_t)128 << 10)	/* read, not mapped */

struct store {
	char *dir;
	int fd;			/* STORE */
	int objfd;		/* STORE/objects */
	int pkgfd;		/* STORE/packages */
	int tmpfd;		/* STORE/tmp */
	pthread_mutex_t mu;	/* objects/ab creation */
	unsigned char made[256]; /* objects/ab known to exist */
	struct config cfg;	/* STORE/config */
};

/* ---- a set of digests (open addressing; digests are random) ---- */

struct dslot {
	unsigned char d[DIGEST_LEN];
	bool used;
	bool zlib;
	uint64_t size;		/* content size (fsck) */
	uint64_t stored;	/* stored size (txn) */
	size_t ref;		/* fsck: first reference; txn: part number */
};

struct dset {
	struct dslot *v;
	size_t cap, n;
};

static void
dset_free(struct dset *s)
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

static struct dslot *
dset_find(const struct dset *s, const unsigned char d[DIGEST_LEN])
{
	struct dslot *sl = dset_slot(s, d);

	return sl != NULL && sl->used ? sl : NULL;
}

/* Insert d (or find it); *isnew tells which.  NULL on ENOMEM. */
static struct dslot *
dset_add(struct dset *s, const unsigned char d[DIGEST_LEN], bool *isnew)
{
	struct dslot *sl;

	if ((s->n + 1) * 2 > s->cap) {
		struct dset ns;
		size_t i;

		ns.cap = s->cap == 0 ? 64 : s->cap * 2;
		ns.n = s->n;
		if ((ns.v = calloc(ns.cap, sizeof(*ns.v))) == NULL) {
			err_sys("out of memory");
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

static int
check_pkg(const char *pkg)
{
	if (pkg == NULL || !name_valid(pkg))
		return err_set("'%s': invalid package name",
		    pkg != NULL ? pkg : "");
	return 0;
}

static void
obj_name(const unsigned char d[DIGEST_LEN], bool zlib, char out[OBJ_NAME_MAX])
{
	char hex[DIGEST_HEXLEN + 1];

	digest_hex(d, hex);
	snprintf(out, OBJ_NAME_MAX, "%.2s/%s%s", hex, hex + 2,
	    zlib ? ".z" : "");
}

static int
open_dir(int dirfd, const char *name)
{
	return openat(dirfd, name,
	    O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
}

/* mkdir that accepts an existing directory. */
static int
ensure_dir(int dirfd, const char *name, const char *what)
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

/* The store's one call to syncfs: contents renamed into objects/ are
 * made durable with one flush instead of one fsync per file.  Goes
 * through the fault hook as an fsync. */
static int
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

	if ((fd = openat(s->fd, "tmp", O_RDONLY | O_DIRECTORY | O_NOFOLLOW |
	    O_CLOEXEC)) == -1)
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
		if (ensure_dir(s->fd, dirs[i], dirs[i]) == -1)
			return err_prefix("store '%s': ", s->dir);
	if (atomic_write_file(s->fd, "format", FORMAT_LINE,
	    strlen(FORMAT_LINE), 0644) == -1)
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
		return err_sys("out of memory");
	snprintf(shown, len, "%s%s%s", s->dir, s->dir[0] != '\0' &&
	    s->dir[strlen(s->dir) - 1] == '/' ? "" : "/", CONFIG_FILE);
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
		return err_sys("out of memory");
	s->fd = s->objfd = s->pkgfd = s->tmpfd = -1;
	pthread_mutex_init(&s->mu, NULL);
	config_init(&s->cfg);
	if ((s->dir = strdup(dir)) == NULL) {
		err_sys("out of memory");
		goto fail;
	}
	if ((s->fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) == -1) {
		if (errno == ENOENT && !(flags & STORE_CREATE)) {
			err_code(ENOENT, "store '%s' does not exist (the first "
			    "'pkgstage add' creates it; -s STORE or "
			    "$PKGDIST_STORE names another)", dir);
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
		if ((s->fd = open(dir, O_RDONLY | O_DIRECTORY |
		    O_CLOEXEC)) == -1) {
			err_sys("store '%s'", dir);
			goto fail;
		}
	}
	if (faccessat(s->fd, "format", F_OK, AT_SYMLINK_NOFOLLOW) == -1) {
		if (errno != ENOENT || !(flags & STORE_CREATE)) {
			err_set("'%s' is not a pkgdist store (no 'format' "
			    "file)", dir);
			goto fail;
		}
		if (store_init_layout(s) == -1)
			goto fail;
	}
	if (io_slurp(s->fd, "format", 64, &buf, &len) == -1) {
		err_prefix("store '%s': ", dir);
		goto fail;
	}
	if (len != strlen(FORMAT_LINE) || memcmp(buf, FORMAT_LINE, len) != 0) {
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
			if (ensure_dir(s->fd, dirs[i], dirs[i]) == -1) {
				err_prefix("store '%s': ", dir);
				goto fail;
			}
		store_topdir(s);
	}
	if ((s->objfd = open_dir(s->fd, "objects")) == -1 ||
	    (s->pkgfd = open_dir(s->fd, "packages")) == -1 ||
	    (s->tmpfd = open_dir(s->fd, "tmp")) == -1) {
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

int
store_dirfd(const struct store *s)
{
	return s->fd;
}

int
store_retry_dirfd(struct store *s, bool create)
{
	int fd;

	if (create && ensure_dir(s->fd, STORE_RETRY, STORE_RETRY) == -1)
		return -1;
	if ((fd = open_dir(s->fd, STORE_RETRY)) == -1)
		return err_sys("cannot open '%s/%s'", s->dir, STORE_RETRY);
	return fd;
}

/* ---- packages and versions ---- */

void
store_strings_free(char **v, size_t n)
{
	io_names_free(v, n);
}

static int
cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

int
store_packages(struct store *s, char ***names, size_t *n)
{
	DIR *d = NULL;
	struct dirent *de;
	char **v = NULL, **nv;
	size_t cnt = 0, cap = 0;
	int fd;

	*names = NULL;
	*n = 0;
	if ((fd = dup(s->pkgfd)) == -1 || (d = fdopendir(fd)) == NULL) {
		if (fd != -1)
			close(fd);
		return err_sys("cannot read '%s/packages'", s->dir);
	}
	rewinddir(d);
	while ((errno = 0, de = readdir(d)) != NULL) {
		if (!name_valid(de->d_name))
			continue;
		if (cnt == cap) {
			cap = cap ? cap * 2 : 16;
			if ((nv = realloc(v, cap * sizeof(*v))) == NULL)
				goto nomem;
			v = nv;
		}
		if ((v[cnt] = strdup(de->d_name)) == NULL)
			goto nomem;
		cnt++;
	}
	if (errno != 0) {
		err_sys("cannot read '%s/packages'", s->dir);
		goto fail;
	}
	closedir(d);
	if (cnt > 0)
		qsort(v, cnt, sizeof(*v), cmp_str);
	*names = v;
	*n = cnt;
	return 0;
nomem:
	err_sys("out of memory");
fail:
	closedir(d);
	store_strings_free(v, cnt);
	return -1;
}

static int
cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

/* Open packages/PKG/v; -1 with errno ENOENT (err set) if missing. */
static int
open_vdir(struct store *s, const char *pkg)
{
	char path[NAME_MAX_LEN + 8];
	int fd;

	snprintf(path, sizeof(path), "%s/v", pkg);
	if ((fd = openat(s->pkgfd, path,
	    O_RDONLY | O_DIRECTORY | O_CLOEXEC)) == -1)
		return err_sys("cannot open '%s/packages/%s'", s->dir, path);
	return fd;
}

int
store_versions(struct store *s, const char *pkg, uint64_t **vp, size_t *np)
{
	DIR *d;
	struct dirent *de;
	uint64_t *v = NULL, *nv, x;
	size_t cnt = 0, cap = 0;
	int fd;

	*vp = NULL;
	*np = 0;
	if (check_pkg(pkg) == -1)
		return -1;
	if ((fd = open_vdir(s, pkg)) == -1)
		return errno == ENOENT ? 0 : -1;
	if ((d = fdopendir(fd)) == NULL) {
		close(fd);
		return err_sys("cannot read versions of '%s'", pkg);
	}
	while ((errno = 0, de = readdir(d)) != NULL) {
		if (num_arg(de->d_name, 1, UINT64_MAX, &x) == -1)
			continue;
		if (cnt == cap) {
			cap = cap ? cap * 2 : 16;
			if ((nv = realloc(v, cap * sizeof(*v))) == NULL) {
				err_sys("out of memory");
				goto fail;
			}
			v = nv;
		}
		v[cnt++] = x;
	}
	if (errno != 0) {
		err_sys("cannot read versions of '%s'", pkg);
		goto fail;
	}
	closedir(d);
	if (cnt > 0)
		qsort(v, cnt, sizeof(*v), cmp_u64);
	*vp = v;
	*np = cnt;
	return 0;
fail:
	closedir(d);
	free(v);
	return -1;
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

	if (check_pkg(pkg) == -1)
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
	if (check_pkg(pkg) == -1)
		return -1;
	if (version == 0 || store_has_version(s, pkg, version) == 0)
		return err_set("%s version %" PRIu64 ": no such version",
		    pkg, version);
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
		err_set("'%s': header does not name %s version %" PRIu64,
		    name, pkg, version);
		goto out;
	}
	rc = 0;
out:
	free(buf);
	return rc;
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
		return err_set("%s version %" PRIu64 ": no such version",
		    pkg, version);
	vpath(path, sizeof(path), pkg, version, "sig");
	info->is_signed = fstatat(s->pkgfd, path, &st,
	    AT_SYMLINK_NOFOLLOW) == 0;
	vpath(path, sizeof(path), pkg, version, "info");
	if (io_slurp(s->pkgfd, path, 4096, &buf, &len) == 0) {
		int seen = 0;

		for (line = strtok_r(buf, "\n", &save); line != NULL;
		    line = strtok_r(NULL, "\n", &save)) {
			long long c;
			unsigned long long u;

			/* The store's own info file, and only a cache: a bad
			 * one is worked out again from the manifest below. */
			/* NOLINTBEGIN(cert-err34-c) */
			if (sscanf(line, "created %lld", &c) == 1) {
				info->created = c;
				seen |= 1;
			} else if (sscanf(line, "files %llu", &u) == 1) {
				info->files = u;
				seen |= 2;
			} else if (sscanf(line, "bytes %llu", &u) == 1) {
				info->bytes = u;
				seen |= 4;
			} else if (sscanf(line, "new_bytes %llu", &u) == 1) {
				info->new_bytes = u;
			}
			/* NOLINTEND(cert-err34-c) */
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
		return err_set("%s version %" PRIu64 ": no such version",
		    pkg, version);
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

/* ---- contents ---- */

/* Open the stored form of d: raw first, then zlib.  -1 with errno
 * ENOENT and err "content HEX: missing" when neither exists. */
static int
obj_open(struct store *s, const unsigned char d[DIGEST_LEN], bool *zlib,
    uint64_t *stored)
{
	char name[OBJ_NAME_MAX], hex[DIGEST_HEXLEN + 1];
	struct stat st;
	int fd, z;

	for (z = 0; z < 2; z++) {
		obj_name(d, z, name);
		fd = openat(s->objfd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
		if (fd != -1)
			break;
		if (errno != ENOENT)
			return err_sys("cannot open content '%s/objects/%s'",
			    s->dir, name);
	}
	if (fd == -1) {
		digest_hex(d, hex);
		err_set("content %s: missing", hex);
		errno = ENOENT;
		return -1;
	}
	if (fstat(fd, &st) == -1 || !S_ISREG(st.st_mode)) {
		err_set("content '%s/objects/%s': not a regular file", s->dir,
		    name);
		close(fd);
		return -1;
	}
	*zlib = z == 1;
	*stored = (uint64_t)st.st_size;
	return fd;
}

int
store_has_content(struct store *s, const unsigned char d[DIGEST_LEN])
{
	char name[OBJ_NAME_MAX];
	int z;

	for (z = 0; z < 2; z++) {
		obj_name(d, z, name);
		if (faccessat(s->objfd, name, F_OK, AT_SYMLINK_NOFOLLOW) == 0)
			return 1;
		if (errno != ENOENT && errno != ENOTDIR)
			return err_sys("cannot stat '%s/objects/%s'", s->dir,
			    name);
	}
	return 0;
}

int
store_content_raw(struct store *s, const unsigned char d[DIGEST_LEN],
    struct store_raw *raw)
{
	raw->fd = obj_open(s, d, &raw->zlib, &raw->stored_size);
	return raw->fd == -1 ? -1 : 0;
}

struct store_reader {
	int fd;
	bool zlib;
	bool ended;
	uint64_t left;		/* stored bytes not read yet (fstat) */
	struct blob_inflate inf;
	struct digest dg;
	unsigned char want[DIGEST_LEN];
	char what[DIGEST_HEXLEN + 16];
};

/* Read at most the stored size: the end of the object costs no
 * read(2) returning 0 (two per object before). */
static ssize_t
fd_read(void *arg, void *buf, size_t n)
{
	struct store_reader *r = arg;
	ssize_t k;

	if (r->left == 0)
		return 0;
	if (n > r->left)
		n = (size_t)r->left;
	if ((k = io_read_full(r->fd, buf, n, r->what)) > 0)
		r->left -= (uint64_t)k;
	return k;
}

/* A reader of d over fd, already opened by obj_open (taken over, closed
 * on failure too). */
static int
reader_from_fd(const unsigned char d[DIGEST_LEN], int fd, bool zlib,
    uint64_t stored, struct store_reader **out)
{
	struct store_reader *r;
	char hex[DIGEST_HEXLEN + 1];

	*out = NULL;
	if ((r = calloc(1, sizeof(*r))) == NULL) {
		close(fd);
		return err_sys("out of memory");
	}
	memcpy(r->want, d, DIGEST_LEN);
	digest_hex(d, hex);
	snprintf(r->what, sizeof(r->what), "content %s", hex);
	r->fd = fd;
	r->zlib = zlib;
	r->left = stored;
	if (digest_init(&r->dg) == -1 ||
	    (r->zlib && blob_inflate_init(&r->inf, fd_read, r,
	    r->what) == -1)) {
		digest_free(&r->dg);
		close(r->fd);
		free(r);
		return -1;
	}
	*out = r;
	return 0;
}

int
store_content_open(struct store *s, const unsigned char d[DIGEST_LEN],
    struct store_reader **out)
{
	uint64_t stored;
	bool zlib;
	int fd;

	*out = NULL;
	if ((fd = obj_open(s, d, &zlib, &stored)) == -1)
		return -1;
	return reader_from_fd(d, fd, zlib, stored, out);
}

ssize_t
store_reader_read(struct store_reader *r, void *buf, size_t n)
{
	unsigned char got[DIGEST_LEN];
	ssize_t k;

	if (r->ended)
		return 0;
	if (r->zlib)
		k = blob_inflate_read(&r->inf, buf, n);
	else
		k = fd_read(r, buf, n);
	if (k == -1)
		return -1;
	if (k > 0) {
		if (digest_update(&r->dg, buf, (size_t)k) == -1)
			return -1;
		return k;
	}
	r->ended = true;
	if (digest_final(&r->dg, got) == -1)
		return -1;
	if (memcmp(got, r->want, DIGEST_LEN) != 0)
		return err_set("%s: digest mismatch", r->what);
	return 0;
}

void
store_reader_close(struct store_reader *r)
{
	if (r == NULL)
		return;
	if (r->zlib)
		blob_inflate_end(&r->inf);
	digest_free(&r->dg);
	close(r->fd);
	free(r);
}

int
store_err_content(const char *pkg, uint64_t version,
    const struct manifest *m, const unsigned char d[DIGEST_LEN])
{
	char shown[PATH_SHOW_LEN];
	size_t i;

	for (i = 0; m != NULL && i < m->n; i++)
		if (m->v[i].type == ENTRY_FILE &&
		    memcmp(m->v[i].digest, d, DIGEST_LEN) == 0)
			return err_prefix("%s version %" PRIu64 ": '%s': ", pkg,
			    version, path_show(m->v[i].path, shown,
			    sizeof(shown)));
	return err_prefix("%s version %" PRIu64 ": ", pkg, version);
}

int
store_content_check(struct store *s, const unsigned char d[DIGEST_LEN],
    uint64_t size, void *buf, size_t len, uint64_t *total)
{
	struct store_reader *r;
	char hex[DIGEST_HEXLEN + 1];
	uint64_t n = 0;
	ssize_t k;

	if (total != NULL)
		*total = 0;
	if (store_content_open(s, d, &r) == -1)
		return -1;
	while ((k = store_reader_read(r, buf, len)) > 0)
		n += (uint64_t)k;
	store_reader_close(r);
	if (total != NULL)
		*total = n;
	if (k == -1)
		return -1;
	if (n != size) {
		digest_hex(d, hex);
		return err_set("content %s: has %" PRIu64 " bytes, the "
		    "manifest says %" PRIu64, hex, n, size);
	}
	return 0;
}

int
store_content_copy(struct store *s, const unsigned char d[DIGEST_LEN],
    uint64_t size, int outfd, const char *what, bool *store_fault)
{
	struct store_reader *r = NULL;
	unsigned char got[DIGEST_LEN];
	unsigned char *buf = NULL, *map = MAP_FAILED;
	struct digest dg = { NULL };
	uint64_t stored, done = 0;
	bool zlib, out_err = false;	/* the output failed, not the store */
	int fd = -1, rc = -1;
	ssize_t k;
	char hex[DIGEST_HEXLEN + 1];

	digest_hex(d, hex);
	if (store_fault != NULL)
		*store_fault = true;
	if ((fd = obj_open(s, d, &zlib, &stored)) == -1)
		return -1;
	if (!zlib) {
		/* Map, hash and write from the mapping: one copy. */
		if (stored != size) {
			err_set("content %s: %" PRIu64 " bytes stored, %"
			    PRIu64 " expected", hex, stored, size);
			goto out;
		}
		if (fault_hit("read") == -1) {
			err_sys("cannot read content %s", hex);
			goto out;
		}
		if (digest_init(&dg) == -1)
			goto out;
		if (size > 0 && size <= STORE_SMALL_READ) {
			/* Small: one read(2), not mmap + madvise + munmap. */
			if ((buf = malloc((size_t)size)) == NULL) {
				err_sys("out of memory");
				goto out;
			}
			while (done < size) {
				k = read(fd, buf + done, (size_t)(size - done));
				if (k == -1 && errno == EINTR)
					continue;
				if (k == -1) {
					err_sys("cannot read content %s", hex);
					goto out;
				}
				if (k == 0) {
					err_set("content %s: shorter than %"
					    PRIu64 " bytes", hex, size);
					goto out;
				}
				done += (uint64_t)k;
			}
			if (digest_update(&dg, buf, (size_t)size) == -1)
				goto out;
			if (io_write_full(outfd, buf, (size_t)size, what) ==
			    -1) {
				out_err = true;
				goto out;
			}
		} else if (size > 0) {
			map = mmap(NULL, size, PROT_READ, MAP_SHARED, fd, 0);
			if (map == MAP_FAILED) {
				err_sys("cannot map content %s", hex);
				goto out;
			}
			(void)madvise(map, size, MADV_SEQUENTIAL);
		}
		while (done < size) {
			size_t part = size - done > BLOB_CHUNK * 4 ?
			    BLOB_CHUNK * 4 : (size_t)(size - done);

			if (digest_update(&dg, map + done, part) == -1)
				goto out;
			if (io_write_full(outfd, map + done, part, what) ==
			    -1) {
				out_err = true;
				goto out;
			}
			done += part;
		}
		if (digest_final(&dg, got) == -1)
			goto out;
		if (memcmp(got, d, DIGEST_LEN) != 0) {
			err_set("content %s: digest mismatch (store damaged)",
			    hex);
			goto out;
		}
		rc = 0;
		goto out;
	}
	/* Compressed: the reader takes over the descriptor (no second
	 * lookup of the object). */
	k = reader_from_fd(d, fd, zlib, stored, &r);
	fd = -1;
	if (k == -1)
		goto out;
	if ((buf = malloc(BLOB_CHUNK * 4)) == NULL) {
		err_sys("out of memory");
		goto out;
	}
	while ((k = store_reader_read(r, buf, BLOB_CHUNK * 4)) > 0) {
		done += (uint64_t)k;
		if (done > size) {
			err_set("content %s: longer than %" PRIu64 " bytes",
			    hex, size);
			goto out;
		}
		if (io_write_full(outfd, buf, (size_t)k, what) == -1) {
			out_err = true;
			goto out;
		}
	}
	if (k == -1)
		goto out;
	if (done != size) {
		err_set("content %s: %" PRIu64 " bytes, %" PRIu64 " expected",
		    hex, done, size);
		goto out;
	}
	rc = 0;
out:
	if (rc == -1 && store_fault != NULL)
		*store_fault = !out_err;
	if (map != MAP_FAILED)
		munmap(map, size);
	digest_free(&dg);
	store_reader_close(r);
	free(buf);
	if (fd != -1)
		close(fd);
	return rc;
}

/* ---- holdings ---- */

static const char *hold_names[] = { "complete", "partial", "failed" };

const char *
store_hold_state_name(enum store_hold_state st)
{
	if ((unsigned)st > STORE_HOLD_FAILED)
		return "unknown";
	return hold_names[st];
}

static int
cmp_holding(const void *a, const void *b)
{
	return strcmp(((const struct store_holding *)a)->dp,
	    ((const struct store_holding *)b)->dp);
}

/* Parse packages/PKG/holdings (missing: none). */
static int
holdings_read(struct store *s, const char *pkg, struct store_holding **vp,
    size_t *np)
{
	char path[NAME_MAX_LEN + 16];
	char *buf = NULL, *p, *nl;
	struct store_holding *v = NULL, *nv, h;
	size_t n = 0, cap = 0, lineno = 1;
	size_t len;
	int rc = -1;

	*vp = NULL;
	*np = 0;
	snprintf(path, sizeof(path), "%s/holdings", pkg);
	if (io_slurp(s->pkgfd, path, (size_t)64 << 20, &buf, &len) == -1) {
		if (err_errno() == ENOENT)
			return 0;
		return -1;
	}
	if (strncmp(buf, HOLD_MAGIC "\n", strlen(HOLD_MAGIC) + 1) != 0) {
		err_set("'%s/packages/%s': not a holdings file", s->dir, path);
		goto out;
	}
	for (p = buf + strlen(HOLD_MAGIC) + 1; *p != '\0'; p = nl + 1) {
		char dp[NAME_MAX_LEN + 2], st[16];
		unsigned long long ver, want;
		long long t;
		int k, used = 0;

		lineno++;
		if ((nl = strchr(p, '\n')) == NULL) {
			err_set("'%s/packages/%s':%zu: unterminated line",
			    s->dir, path, lineno);
			goto out;
		}
		*nl = '\0';
		/* The store's own holdings record (written under its lock). */
		/* NOLINTNEXTLINE(cert-err34-c) */
		k = sscanf(p, "%65s %llu %llu %15s %lld%n", dp, &ver, &want,
		    st, &t, &used);
		memset(&h, 0, sizeof(h));
		if (k != 5 || p[used] != '\0' || !name_valid(dp)) {
			err_set("'%s/packages/%s':%zu: bad record", s->dir,
			    path, lineno);
			goto out;
		}
		for (k = 0; k < 3; k++)
			if (strcmp(st, hold_names[k]) == 0)
				break;
		if (k == 3) {
			err_set("'%s/packages/%s':%zu: bad state '%s'", s->dir,
			    path, lineno, st);
			goto out;
		}
		memcpy(h.dp, dp, strlen(dp) + 1);
		h.version = ver;
		h.wanted = want;
		h.state = (enum store_hold_state)k;
		h.time = t;
		if (n == cap) {
			cap = cap ? cap * 2 : 8;
			if ((nv = realloc(v, cap * sizeof(*v))) == NULL) {
				err_sys("out of memory");
				goto out;
			}
			v = nv;
		}
		v[n++] = h;
	}
	if (n > 0)
		qsort(v, n, sizeof(*v), cmp_holding);
	*vp = v;
	*np = n;
	v = NULL;
	rc = 0;
out:
	free(buf);
	free(v);
	return rc;
}

static int
holdings_write(struct store *s, const char *pkg,
    const struct store_holding *v, size_t n)
{
	char *buf = NULL;
	size_t len = 0, i;
	FILE *fp;
	int pfd, rc;

	if ((fp = open_memstream(&buf, &len)) == NULL)
		return err_sys("out of memory");
	fprintf(fp, "%s\n", HOLD_MAGIC);
	for (i = 0; i < n; i++)
		fprintf(fp, "%s %" PRIu64 " %" PRIu64 " %s %lld\n", v[i].dp,
		    v[i].version, v[i].wanted,
		    store_hold_state_name(v[i].state), (long long)v[i].time);
	if (fclose(fp) != 0) {
		free(buf);
		return err_sys("out of memory");
	}
	if ((pfd = open_dir(s->pkgfd, pkg)) == -1) {
		free(buf);
		return err_sys("cannot open '%s/packages/%s'", s->dir, pkg);
	}
	rc = atomic_write_file(pfd, "holdings", buf, len, 0644);
	close(pfd);
	free(buf);
	return rc;
}

/* The holdings lock of pkg (creating the package directory). */
static int
holdings_lock(struct store *s, const char *pkg)
{
	int pfd, fd;

	if (ensure_dir(s->pkgfd, pkg, pkg) == -1)
		return -1;
	if ((pfd = open_dir(s->pkgfd, pkg)) == -1)
		return err_sys("cannot open '%s/packages/%s'", s->dir, pkg);
	fd = lock_acquire(pfd, "holdings.lock", false, 600);
	close(pfd);
	return fd;
}

int
store_holding_record(struct store *s, const char *pkg,
    const struct store_holding *h)
{
	struct store_holding *v = NULL, *nv;
	size_t n, i;
	int lk, rc = -1;

	if (check_pkg(pkg) == -1)
		return -1;
	if (!name_valid(h->dp))
		return err_set("'%s': invalid DP name", h->dp);
	if ((unsigned)h->state > STORE_HOLD_FAILED)
		return err_set("invalid holding state");
	if ((lk = holdings_lock(s, pkg)) == -1)
		return -1;
	if (holdings_read(s, pkg, &v, &n) == -1)
		goto out;
	for (i = 0; i < n; i++)
		if (strcmp(v[i].dp, h->dp) == 0)
			break;
	if (i == n) {
		if ((nv = realloc(v, (n + 1) * sizeof(*v))) == NULL) {
			err_sys("out of memory");
			goto out;
		}
		v = nv;
		n++;
	}
	v[i] = *h;
	qsort(v, n, sizeof(*v), cmp_holding);
	rc = holdings_write(s, pkg, v, n);
out:
	free(v);
	lock_release(lk);
	return rc;
}

int
store_holdings(struct store *s, const char *pkg, struct store_holding **v,
    size_t *n)
{
	*v = NULL;
	*n = 0;
	if (check_pkg(pkg) == -1)
		return -1;
	return holdings_read(s, pkg, v, n);
}

int
store_holding_forget(struct store *s, const char *pkg, const char *dp)
{
	struct store_holding *v = NULL;
	size_t n, i, j;
	int lk, rc = -1;

	if (check_pkg(pkg) == -1)
		return -1;
	if ((lk = holdings_lock(s, pkg)) == -1)
		return -1;
	if (holdings_read(s, pkg, &v, &n) == -1)
		goto out;
	for (i = j = 0; i < n; i++)
		if (strcmp(v[i].dp, dp) != 0)
			v[j++] = v[i];
	rc = j == n ? 0 : holdings_write(s, pkg, v, j);
out:
	free(v);
	lock_release(lk);
	return rc;
}

/* ---- locks ---- */

int
store_lock(struct store *s, const char *pkg, enum store_lock_kind kind,
    bool shared, double timeout)
{
	int pfd, fd;

	if (check_pkg(pkg) == -1)
		return -1;
	if (kind == STORE_LOCK_UPDATE) {
		shared = false;
		if (ensure_dir(s->pkgfd, pkg, pkg) == -1)
			return -1;
	}
	if ((pfd = open_dir(s->pkgfd, pkg)) == -1) {
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
	return strncmp(name, TXN_PREFIX, strlen(TXN_PREFIX)) == 0 && l >= 5 &&
	    strcmp(name + l - 5, ".lock") == 0;
}

static bool
is_vdir_leftover(const char *name, void *arg)
{
	(void)arg;
	return strncmp(name, BUILD_PREFIX, strlen(BUILD_PREFIX)) == 0 ||
	    strncmp(name, DEL_PREFIX, strlen(DEL_PREFIX)) == 0;
}

/* Remove STORE/tmp/txn-* whose owner is gone (its lock is free). */
static int
clean_tmp(struct store *s)
{
	char **names;
	size_t n, i;

	if (io_list_names(s->tmpfd, is_txn_lock, NULL, &names, &n) == -1)
		return err_prefix("'%s/tmp': ", s->dir);
	for (i = 0; i < n; i++) {
		char dir[NAME_MAX + 1];
		int lk;

		if ((lk = lock_acquire(s->tmpfd, names[i], false, 0)) == -1)
			continue;	/* a live transaction */
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
static int
clean_vdir(struct store *s, int vfd)
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

/* ---- staging transactions ---- */

struct store_txn {
	struct store *s;
	char pkg[NAME_MAX_LEN + 1];
	int lockfd;		/* package UPDATE lock */
	int objlockfd;		/* objects.lock, shared */
	int stagelock;		/* tmp/txn-X.lock */
	int stagefd;		/* tmp/txn-X */
	int vfd;		/* packages/PKG/v */
	char stage[64];
	uint64_t newest;
	uint64_t seq;
	pthread_mutex_t mu;
	struct dset staged;	/* contents in stage/ */
	bool done;
	/* The flusher: starts the write-back of staged contents while the
	 * copy goes on, without making the copying threads wait for the
	 * disk (sync_file_range blocks when the device queue is full). */
	pthread_t fth;
	bool fstarted, fstop;
	pthread_cond_t fcv;
	int fq[FLUSH_Q];
	size_t fhead, flen;
};

static void *
flusher(void *arg)
{
	struct store_txn *t = arg;
	int fd;

	pthread_mutex_lock(&t->mu);
	for (;;) {
		while (t->flen == 0 && !t->fstop)
			pthread_cond_wait(&t->fcv, &t->mu);
		if (t->flen == 0)
			break;
		fd = t->fq[t->fhead];
		t->fhead = (t->fhead + 1) % FLUSH_Q;
		t->flen--;
		pthread_mutex_unlock(&t->mu);
		(void)sync_file_range(fd, 0, 0, SYNC_FILE_RANGE_WRITE);
		close(fd);
		pthread_mutex_lock(&t->mu);
	}
	pthread_mutex_unlock(&t->mu);
	return NULL;
}

/* Queue fd's write-back (a dup of it; skipped when the queue is full:
 * store_sync() covers everything anyway). */
static void
flush_push(struct store_txn *t, int fd)
{
	int d;

	pthread_mutex_lock(&t->mu);
	if (!t->fstarted && !t->fstop) {
		if (pthread_create(&t->fth, NULL, flusher, t) == 0)
			t->fstarted = true;
		else
			t->fstop = true;
	}
	if (t->fstarted && !t->fstop && t->flen < FLUSH_Q &&
	    (d = fcntl(fd, F_DUPFD_CLOEXEC, 0)) != -1) {
		t->fq[(t->fhead + t->flen) % FLUSH_Q] = d;
		t->flen++;
		pthread_cond_signal(&t->fcv);
	}
	pthread_mutex_unlock(&t->mu);
}

/* Stop the flusher after it has started every queued write-back. */
static void
flush_stop(struct store_txn *t)
{
	pthread_mutex_lock(&t->mu);
	t->fstop = true;
	pthread_cond_signal(&t->fcv);
	pthread_mutex_unlock(&t->mu);
	if (t->fstarted)
		pthread_join(t->fth, NULL);
	t->fstarted = false;
}

uint64_t
store_txn_newest(const struct store_txn *t)
{
	return t->newest;
}

int
store_txn_begin(struct store *s, const char *pkg, double timeout,
    struct store_txn **out)
{
	struct store_txn *t;
	struct timespec ts;
	char name[80];
	uint64_t *v = NULL;
	size_t n;

	*out = NULL;
	if (check_pkg(pkg) == -1)
		return -1;
	if ((t = calloc(1, sizeof(*t))) == NULL)
		return err_sys("out of memory");
	t->s = s;
	t->lockfd = t->objlockfd = t->stagelock = t->stagefd = t->vfd = -1;
	snprintf(t->pkg, sizeof(t->pkg), "%s", pkg);
	pthread_mutex_init(&t->mu, NULL);
	pthread_cond_init(&t->fcv, NULL);
	if ((t->lockfd = store_lock(s, pkg, STORE_LOCK_UPDATE, false,
	    timeout)) == -1)
		goto fail;
	if ((t->objlockfd = lock_acquire(s->fd, "objects.lock", true,
	    timeout)) == -1) {
		err_prefix("store '%s': ", s->dir);
		goto fail;
	}
	snprintf(name, sizeof(name), "%s/v", pkg);
	if (ensure_dir(s->pkgfd, name, name) == -1)
		goto fail;
	if ((t->vfd = open_vdir(s, pkg)) == -1)
		goto fail;
	if (clean_vdir(s, t->vfd) == -1 || clean_tmp(s) == -1)
		goto fail;
	if (store_versions(s, pkg, &v, &n) == -1)
		goto fail;
	t->newest = n > 0 ? v[n - 1] : 0;
	free(v);
	clock_gettime(CLOCK_REALTIME, &ts);
	snprintf(t->stage, sizeof(t->stage), TXN_PREFIX "%ld-%lx",
	    (long)getpid(), (unsigned long)ts.tv_nsec ^
	    ((unsigned long)ts.tv_sec << 20));
	snprintf(name, sizeof(name), "%s.lock", t->stage);
	if ((t->stagelock = lock_acquire(s->tmpfd, name, false, 0)) == -1)
		goto fail;
	if (io_mkdir(s->tmpfd, t->stage, 0700) == -1)
		goto fail;
	if ((t->stagefd = open_dir(s->tmpfd, t->stage)) == -1) {
		err_sys("cannot open '%s/tmp/%s'", s->dir, t->stage);
		goto fail;
	}
	*out = t;
	return 0;
fail:
	store_txn_abort(t);
	return -1;
}

void
store_txn_abort(struct store_txn *t)
{
	char name[80];

	if (t == NULL)
		return;
	flush_stop(t);
	if (t->stagefd != -1)
		close(t->stagefd);
	if (t->stagelock != -1) {
		(void)io_remove_tree(t->s->tmpfd, t->stage);
		snprintf(name, sizeof(name), "%s.lock", t->stage);
		(void)io_unlink(t->s->tmpfd, name, 0);
		lock_release(t->stagelock);
	}
	if (t->vfd != -1)
		close(t->vfd);
	lock_release(t->objlockfd);
	lock_release(t->lockfd);
	dset_free(&t->staged);
	pthread_cond_destroy(&t->fcv);
	pthread_mutex_destroy(&t->mu);
	free(t);
}

/* Known: staged in this transaction or in the store. */
static int
txn_known(struct store_txn *t, const unsigned char d[DIGEST_LEN])
{
	bool in;

	pthread_mutex_lock(&t->mu);
	in = dset_find(&t->staged, d) != NULL;
	pthread_mutex_unlock(&t->mu);
	if (in)
		return 1;
	return store_has_content(t->s, d);
}

/* A new part file in the stage directory. */
static int
txn_part(struct store_txn *t, char name[32])
{
	int fd;

	pthread_mutex_lock(&t->mu);
	snprintf(name, 32, "p%" PRIu64, ++t->seq);
	pthread_mutex_unlock(&t->mu);
	if (fault_hit("write") == -1)
		return err_sys("cannot create '%s/tmp/%s/%s'", t->s->dir,
		    t->stage, name);
	fd = openat(t->stagefd, name,
	    O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0444);
	if (fd == -1)
		return err_sys("cannot create '%s/tmp/%s/%s'", t->s->dir,
		    t->stage, name);
	return fd;
}

/* Keep part file name as content d (or drop it if d is known by now).
 * It keeps its part name until commit moves it into objects/. */
static int
txn_keep(struct store_txn *t, const char *part, int fd,
    const unsigned char d[DIGEST_LEN], bool zlib, uint64_t stored,
    uint64_t *added)
{
	struct dslot *sl;
	bool isnew;
	int have, rc = -1;

	/* Start writing it back now (another thread); store_sync() waits
	 * for all of it at commit. */
	flush_push(t, fd);
	if ((have = store_has_content(t->s, d)) == -1)
		return -1;
	pthread_mutex_lock(&t->mu);
	if (have || dset_find(&t->staged, d) != NULL) {
		rc = io_unlink(t->stagefd, part, 0);
		goto out;
	}
	if ((sl = dset_add(&t->staged, d, &isnew)) == NULL)
		goto out;
	sl->zlib = zlib;
	sl->stored = stored;
	sl->ref = (size_t)strtoull(part + 1, NULL, 10);
	if (added != NULL)
		*added = stored;
	rc = 0;
out:
	pthread_mutex_unlock(&t->mu);
	return rc;
}

/* Open path under dirfd following no link at all (every directory
 * component with O_NOFOLLOW|O_DIRECTORY, the file with O_NOFOLLOW). */
static int
open_nofollow(int dirfd, const char *path)
{
	char comp[NAME_MAX + 1];
	const char *p = path, *slash;
	int fd = dirfd, nfd, saved;

	while ((slash = strchr(p, '/')) != NULL) {
		size_t l = (size_t)(slash - p);

		if (l == 0 || l > NAME_MAX) {
			errno = ENAMETOOLONG;
			goto fail;
		}
		memcpy(comp, p, l);
		comp[l] = '\0';
		nfd = openat(fd, comp,
		    O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (fd != dirfd)
			close(fd);
		if (nfd == -1)
			return -1;
		fd = nfd;
		p = slash + 1;
	}
	nfd = openat(fd, p, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
	saved = errno;
	if (fd != dirfd)
		close(fd);
	errno = saved;
	return nfd;
fail:
	if (fd != dirfd)
		close(fd);
	return -1;
}

static bool
same_stat(const struct stat *a, const struct stat *b)
{
	return a->st_size == b->st_size && a->st_ino == b->st_ino &&
	    a->st_mtim.tv_sec == b->st_mtim.tv_sec &&
	    a->st_mtim.tv_nsec == b->st_mtim.tv_nsec &&
	    a->st_ctim.tv_sec == b->st_ctim.tv_sec &&
	    a->st_ctim.tv_nsec == b->st_ctim.tv_nsec;
}

/* A known content is not read: the file must still be a regular file
 * with the manifest's size and mtime. */
static int
quick_check(int dirfd, const struct entry *e)
{
	struct stat st;
	int fd;

	if ((fd = open_nofollow(dirfd, e->path)) == -1) {
		if (errno == ELOOP || errno == ENOTDIR || errno == ENOENT)
			return err_set("'%s': changed while being staged "
			    "(%s)", e->path, strerror(errno));
		return err_sys("cannot open '%s'", e->path);
	}
	if (fstat(fd, &st) == -1) {
		close(fd);
		return err_sys("cannot stat '%s'", e->path);
	}
	close(fd);
	if (!S_ISREG(st.st_mode) || (uint64_t)st.st_size != e->size ||
	    (int64_t)st.st_mtime != e->mtime)
		return err_set("'%s': changed while being staged (%s)",
		    e->path, !S_ISREG(st.st_mode) ? "no longer a regular "
		    "file" : (uint64_t)st.st_size != e->size ? "size "
		    "differs" : "mtime differs");
	return 0;
}

int
store_txn_put_file(struct store_txn *t, int dirfd, const struct entry *e,
    bool trust_digest, unsigned char out[DIGEST_LEN], uint64_t *stored)
{
	const char *path = e->path;
	const unsigned char *expect = trust_digest ? e->digest : NULL;
	uint64_t expect_size = e->size;
	struct stat st1, st2;
	struct digest dg = { NULL };
	struct blob_deflate bd;
	unsigned char *buf = NULL;
	char part[32] = "";
	uint64_t total = 0, written = 0;
	bool zlib = false, first = true;
	int fd = -1, pfd = -1, rc = -1, k;
	ssize_t got;

	memset(&bd, 0, sizeof(bd));
	if (stored != NULL)
		*stored = 0;
	if (expect != NULL) {
		if ((k = txn_known(t, expect)) == -1)
			return -1;
		if (k == 1) {
			memcpy(out, expect, DIGEST_LEN);
			return quick_check(dirfd, e);
		}
	}
	if ((fd = open_nofollow(dirfd, path)) == -1) {
		if (errno == ELOOP || errno == ENOTDIR || errno == ENOENT)
			return err_set("'%s': changed while being staged "
			    "(%s)", path, strerror(errno));
		return err_sys("cannot open '%s'", path);
	}
	if (fstat(fd, &st1) == -1) {
		err_sys("cannot stat '%s'", path);
		goto out;
	}
	if (!S_ISREG(st1.st_mode) || (uint64_t)st1.st_size != expect_size) {
		err_set("'%s': changed while being staged (%s)", path,
		    S_ISREG(st1.st_mode) ? "size differs" :
		    "no longer a regular file");
		goto out;
	}
	if ((buf = malloc(BLOB_CHUNK)) == NULL) {
		err_sys("out of memory");
		goto out;
	}
	if (digest_init(&dg) == -1)
		goto out;
	if ((pfd = txn_part(t, part)) == -1)
		goto out;
	for (;;) {
		if ((got = io_read_full(fd, buf, BLOB_CHUNK, path)) == -1)
			goto out;
		if (first) {
			zlib = blob_pays(buf, (size_t)got);
			if (zlib && blob_deflate_init(&bd) == -1)
				goto out;
			first = false;
		}
		if (got == 0)
			break;
		total += (uint64_t)got;
		if (total > expect_size)
			break;
		if (digest_update(&dg, buf, (size_t)got) == -1)
			goto out;
		if (zlib) {
			if (blob_deflate_write(&bd, buf, (size_t)got, pfd,
			    part, &written) == -1)
				goto out;
		} else {
			if (io_write_full(pfd, buf, (size_t)got, part) == -1)
				goto out;
			written += (uint64_t)got;
		}
		if ((size_t)got < BLOB_CHUNK)
			break;
	}
	if (zlib && blob_deflate_finish(&bd, pfd, part, &written) == -1)
		goto out;
	if (digest_final(&dg, out) == -1)
		goto out;
	if (fstat(fd, &st2) == -1) {
		err_sys("cannot stat '%s'", path);
		goto out;
	}
	if (total != expect_size || !same_stat(&st1, &st2)) {
		err_set("'%s': changed while being staged", path);
		goto out;
	}
	if (expect != NULL && memcmp(out, expect, DIGEST_LEN) != 0) {
		err_set("'%s': changed while being staged (its content no "
		    "longer matches the manifest)", path);
		goto out;
	}
	if (txn_keep(t, part, pfd, out, zlib, written, stored) == -1)
		goto out;
	part[0] = '\0';
	rc = 0;
out:
	if (rc == -1 && part[0] != '\0')
		(void)unlinkat(t->stagefd, part, 0);
	if (pfd != -1)
		close(pfd);
	if (fd != -1)
		close(fd);
	blob_deflate_end(&bd);
	digest_free(&dg);
	free(buf);
	return rc;
}

struct tee {
	ssize_t (*rd)(void *arg, void *buf, size_t n);
	void *arg;
	int fd;			/* -1: do not keep */
	const char *what;
	uint64_t n;
};

static ssize_t
tee_read(void *arg, void *buf, size_t n)
{
	struct tee *t = arg;
	ssize_t k = t->rd(t->arg, buf, n);

	if (k > 0) {
		t->n += (uint64_t)k;
		if (t->fd != -1 &&
		    io_write_full(t->fd, buf, (size_t)k, t->what) == -1)
			return -1;
	}
	return k;
}

int
store_txn_put_stream(struct store_txn *t, const unsigned char d[DIGEST_LEN],
    uint64_t size, bool zlib, ssize_t (*rd)(void *arg, void *buf, size_t n),
    void *arg, uint64_t *stored)
{
	struct blob_inflate bi;
	struct digest dg = { NULL };
	struct tee tee = { rd, arg, -1, NULL, 0 };
	unsigned char got[DIGEST_LEN], *buf = NULL;
	char part[32] = "", hex[DIGEST_HEXLEN + 1];
	uint64_t total = 0;
	ssize_t k;
	int known, rc = -1;

	memset(&bi, 0, sizeof(bi));
	if (stored != NULL)
		*stored = 0;
	digest_hex(d, hex);
	if ((known = txn_known(t, d)) == -1)
		return -1;
	if ((buf = malloc(BLOB_CHUNK)) == NULL)
		return err_sys("out of memory");
	if (digest_init(&dg) == -1)
		goto out;
	if (!known) {
		if ((tee.fd = txn_part(t, part)) == -1)
			goto out;
		tee.what = part;
	}
	if (zlib && blob_inflate_init(&bi, tee_read, &tee, hex) == -1)
		goto out;
	for (;;) {
		if (zlib)
			k = blob_inflate_read(&bi, buf, BLOB_CHUNK);
		else
			k = tee_read(&tee, buf, BLOB_CHUNK);
		if (k == -1)
			goto out;
		if (k == 0)
			break;
		total += (uint64_t)k;
		if (total > size) {
			err_set("content %s: longer than %" PRIu64 " bytes",
			    hex, size);
			goto out;
		}
		if (digest_update(&dg, buf, (size_t)k) == -1)
			goto out;
	}
	if (digest_final(&dg, got) == -1)
		goto out;
	if (total != size) {
		err_set("content %s: %" PRIu64 " bytes, %" PRIu64 " expected",
		    hex, total, size);
		goto out;
	}
	if (memcmp(got, d, DIGEST_LEN) != 0) {
		err_set("content %s: digest mismatch", hex);
		goto out;
	}
	if (!known) {
		if (txn_keep(t, part, tee.fd, d, zlib, tee.n, stored) == -1)
			goto out;
		part[0] = '\0';
	}
	rc = 0;
out:
	if (rc == -1 && part[0] != '\0')
		(void)unlinkat(t->stagefd, part, 0);
	if (tee.fd != -1)
		close(tee.fd);
	if (zlib)
		blob_inflate_end(&bi);
	digest_free(&dg);
	free(buf);
	return rc;
}

int
store_manifest_render(struct manifest *m, const char *pkg, uint64_t version,
    char **buf, size_t *len)
{
	*buf = NULL;
	*len = 0;
	if (manifest_set_header(m, pkg, version) == -1)
		return -1;
	return manifest_write_mem(m, buf, len);
}

/* Move every staged content into objects/. */
static int
txn_move(struct store_txn *t, uint64_t *added)
{
	struct store *s = t->s;
	char from[OBJ_NAME_MAX], to[OBJ_NAME_MAX], dir[3];
	size_t i;
	int have;

	*added = 0;
	for (i = 0; i < t->staged.cap; i++) {
		struct dslot *sl = &t->staged.v[i];

		if (!sl->used)
			continue;
		obj_name(sl->d, sl->zlib, to);
		snprintf(from, sizeof(from), "p%zu", sl->ref);
		if ((have = store_has_content(s, sl->d)) == -1)
			return -1;
		if (have) {
			/* Another transaction put it meanwhile. */
			if (io_unlink(t->stagefd, from, 0) == -1)
				return -1;
			continue;
		}
		memcpy(dir, to, 2);
		dir[2] = '\0';
		pthread_mutex_lock(&s->mu);
		if (!s->made[sl->d[0]]) {
			if (ensure_dir(s->objfd, dir, "objects") == -1) {
				pthread_mutex_unlock(&s->mu);
				return -1;
			}
			s->made[sl->d[0]] = 1;
		}
		pthread_mutex_unlock(&s->mu);
		if (io_rename(t->stagefd, from, s->objfd, to) == -1)
			return -1;
		*added += sl->stored;
	}
	return 0;
}

int
store_txn_commit(struct store_txn *t, struct manifest *m, uint64_t version,
    const unsigned char *sig, size_t siglen)
{
	struct store *s = t->s;
	char build[64], vname[32], info[256], *buf = NULL;
	uint64_t files = 0, bytes = 0, added = 0;
	size_t len, i;
	int bfd = -1, rc = -1, have;

	build[0] = '\0';
	if (version == 0) {
		err_set("%s: version 0 is not a version", t->pkg);
		goto out;
	}
	if ((have = store_has_version(s, t->pkg, version)) == -1)
		goto out;
	if (have) {
		err_set("%s version %" PRIu64 ": already exists", t->pkg,
		    version);
		goto out;
	}
	/* Every content is there before anything moves. */
	for (i = 0; i < m->n; i++) {
		const struct entry *e = &m->v[i];
		int k;

		if (e->type != ENTRY_FILE)
			continue;
		files++;
		bytes += e->size;
		if ((k = txn_known(t, e->digest)) == -1)
			goto out;
		if (k == 0) {
			char shown[PATH_SHOW_LEN];

			err_set("'%s': content not in the store",
			    path_show(e->path, shown, sizeof(shown)));
			goto out;
		}
	}
	if (store_manifest_render(m, t->pkg, version, &buf, &len) == -1)
		goto out;
	if (manifest_check(m) == -1)
		goto out;
	flush_stop(t);
	if (txn_move(t, &added) == -1 || store_sync(s) == -1)
		goto out;
	snprintf(build, sizeof(build), BUILD_PREFIX "%" PRIu64, version);
	if (io_mkdir(t->vfd, build, 0755) == -1)
		goto out;
	if ((bfd = open_dir(t->vfd, build)) == -1) {
		err_sys("cannot open '%s'", build);
		goto out;
	}
	if (atomic_write_file(bfd, "manifest", buf, len, 0444) == -1)
		goto out;
	snprintf(info, sizeof(info), "created %lld\nfiles %" PRIu64
	    "\nbytes %" PRIu64 "\nnew_bytes %" PRIu64 "\n",
	    (long long)fault_now(), files, bytes, added);
	if (atomic_write_file(bfd, "info", info, strlen(info), 0444) == -1)
		goto out;
	if (sig != NULL && atomic_write_file(bfd, "sig", sig, siglen,
	    0444) == -1)
		goto out;
	snprintf(vname, sizeof(vname), "%" PRIu64, version);
	if (io_rename(t->vfd, build, t->vfd, vname) == -1)
		goto out;
	if (io_fsync_dir(t->vfd, "versions") == -1) {
		/* Not known to be durable: take it back, so that a failure
		 * reported is a version not committed. */
		if (io_rename(t->vfd, vname, t->vfd, build) == -1)
			err_prefix("%s version %" PRIu64 " is visible but "
			    "may not be durable: ", t->pkg, version);
		goto out;
	}
	t->done = true;
	rc = 0;
out:
	if (bfd != -1)
		close(bfd);
	free(buf);
	if (rc == -1 && build[0] != '\0')
		(void)io_remove_tree(t->vfd, build);
	store_txn_abort(t);
	return rc;
}

/* ---- gc ---- */

/* Add every content of every version to used. */
static int
collect_used(struct store *s, struct dset *used)
{
	char **pk = NULL;
	size_t np, i, j, k;
	int rc = -1;

	if (store_packages(s, &pk, &np) == -1)
		return -1;
	for (i = 0; i < np; i++) {
		uint64_t *v;
		size_t nv;

		if (store_versions(s, pk[i], &v, &nv) == -1)
			goto out;
		for (j = 0; j < nv; j++) {
			struct manifest m;
			bool isnew;

			manifest_init(&m);
			if (store_load_manifest(s, pk[i], v[j], &m) == -1) {
				free(v);
				goto out;
			}
			for (k = 0; k < m.n; k++)
				if (m.v[k].type == ENTRY_FILE &&
				    dset_add(used, m.v[k].digest,
				    &isnew) == NULL) {
					manifest_free(&m);
					free(v);
					goto out;
				}
			manifest_free(&m);
		}
		free(v);
	}
	rc = 0;
out:
	store_strings_free(pk, np);
	return rc;
}

static int
unhex_name(const char *dir, const char *name, unsigned char d[DIGEST_LEN])
{
	char hex[DIGEST_HEXLEN];
	size_t l = strlen(name);

	if (l != 62 && !(l == 64 && strcmp(name + 62, ".z") == 0))
		return -1;
	memcpy(hex, dir, 2);
	memcpy(hex + 2, name, 62);
	return digest_unhex(hex, DIGEST_HEXLEN, d);
}

static int
sweep(struct store *s, const struct dset *used, struct store_gc_result *res)
{
	int b;

	for (b = 0; b < 256; b++) {
		char dir[3];
		DIR *d;
		struct dirent *de;
		int fd;

		snprintf(dir, sizeof(dir), "%02x", b);
		if ((fd = open_dir(s->objfd, dir)) == -1) {
			if (errno == ENOENT)
				continue;
			return err_sys("cannot open '%s/objects/%s'", s->dir,
			    dir);
		}
		if ((d = fdopendir(fd)) == NULL) {
			close(fd);
			return err_sys("cannot read '%s/objects/%s'", s->dir,
			    dir);
		}
		while ((de = readdir(d)) != NULL) {
			unsigned char dg[DIGEST_LEN];
			struct stat st;

			if (unhex_name(dir, de->d_name, dg) == -1 ||
			    dset_find(used, dg) != NULL)
				continue;
			if (fstatat(dirfd(d), de->d_name, &st,
			    AT_SYMLINK_NOFOLLOW) == 0)
				res->bytes_freed += (uint64_t)st.st_size;
			if (io_unlink(dirfd(d), de->d_name, 0) == -1) {
				closedir(d);
				return -1;
			}
			res->contents_removed++;
		}
		closedir(d);
	}
	return 0;
}

static int
gc_package(struct store *s, const char *pkg, unsigned keep, double timeout,
    struct store_gc_result *res)
{
	struct store_holding *h = NULL;
	uint64_t *v = NULL;
	size_t nv = 0, nh = 0, i, j;
	int lk = -1, ulk = -1, vfd = -1, rc = -1;

	if ((lk = store_lock(s, pkg, STORE_LOCK_UPDATE, false,
	    timeout)) == -1)
		return -1;
	if ((vfd = open_vdir(s, pkg)) == -1) {
		if (errno == ENOENT)
			rc = 0;
		goto out;
	}
	if (clean_vdir(s, vfd) == -1)
		goto out;
	if (store_versions(s, pkg, &v, &nv) == -1 ||
	    store_holdings(s, pkg, &h, &nh) == -1)
		goto out;
	if (nv > keep) {
		if ((ulk = store_lock(s, pkg, STORE_LOCK_USE, false,
		    timeout)) == -1)
			goto out;
		for (i = 0; i < nv - keep; i++) {
			char name[32], del[48];

			for (j = 0; j < nh; j++)
				if (h[j].version == v[i] ||
				    h[j].wanted == v[i])
					break;
			if (j < nh)
				continue;
			snprintf(name, sizeof(name), "%" PRIu64, v[i]);
			snprintf(del, sizeof(del), DEL_PREFIX "%" PRIu64,
			    v[i]);
			if (io_rename(vfd, name, vfd, del) == -1 ||
			    io_remove_tree(vfd, del) == -1)
				goto out;
			res->versions_removed++;
		}
		if (io_fsync_dir(vfd, "versions") == -1)
			goto out;
	}
	rc = 0;
out:
	if (vfd != -1)
		close(vfd);
	free(v);
	free(h);
	store_unlock(ulk);
	store_unlock(lk);
	return rc;
}

int
store_gc(struct store *s, unsigned keep, double timeout,
    struct store_gc_result *res)
{
	struct dset used = { NULL, 0, 0 };
	char **pk = NULL;
	size_t np = 0, i;
	int olk = -1, rc = -1;

	memset(res, 0, sizeof(*res));
	if (store_packages(s, &pk, &np) == -1)
		return -1;
	for (i = 0; i < np; i++)
		if (gc_package(s, pk[i], keep, timeout, res) == -1)
			goto out;
	if ((olk = lock_acquire(s->fd, "objects.lock", false,
	    timeout)) == -1) {
		err_prefix("store '%s': ", s->dir);
		goto out;
	}
	if (clean_tmp(s) == -1 || collect_used(s, &used) == -1 ||
	    sweep(s, &used, res) == -1)
		goto out;
	rc = 0;
out:
	lock_release(olk);
	dset_free(&used);
	store_strings_free(pk, np);
	return rc;
}

/* ---- fsck ---- */

struct fsck_ref {
	char *where;		/* "PKG version N: 'PATH'" */
};

struct fsck {
	struct store *s;
	struct dset set;
	struct fsck_ref *refs;
	size_t nrefs;
	struct dslot **todo;
	size_t ntodo, next;
	pthread_mutex_t mu;
	struct progress *p;
	void (*report)(const char *, void *);
	void *arg;
	long damage;
};

static void
fsck_report(struct fsck *f, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void
fsck_report(struct fsck *f, const char *fmt, ...)
{
	char line[8192];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	pthread_mutex_lock(&f->mu);
	f->damage++;
	if (f->report != NULL)
		f->report(line, f->arg);
	pthread_mutex_unlock(&f->mu);
}

static void *
fsck_worker(void *arg)
{
	struct fsck *f = arg;
	unsigned char *buf = malloc(BLOB_CHUNK);

	for (;;) {
		struct dslot *sl;
		uint64_t total = 0;

		pthread_mutex_lock(&f->mu);
		sl = f->next < f->ntodo ? f->todo[f->next++] : NULL;
		pthread_mutex_unlock(&f->mu);
		if (sl == NULL)
			break;
		if (buf == NULL) {
			fsck_report(f, "%s: cannot check: out of memory",
			    f->refs[sl->ref].where);
			continue;
		}
		if (store_content_check(f->s, sl->d, sl->size, buf,
		    BLOB_CHUNK, &total) == -1)
			fsck_report(f, "%s: %s", f->refs[sl->ref].where,
			    err_get());
		progress_add(f->p, 1, total);
	}
	free(buf);
	return NULL;
}

int
store_fsck(struct store *s, struct progress *p,
    void (*report)(const char *line, void *arg), void *arg)
{
	struct fsck f;
	char **pk = NULL;
	size_t np = 0, i, j, k;
	pthread_t th[64];
	int nth, rc = -1, olk = -1;
	long ncpu;

	memset(&f, 0, sizeof(f));
	f.s = s;
	f.p = p;
	f.report = report;
	f.arg = arg;
	pthread_mutex_init(&f.mu, NULL);
	/* No content sweep while we check (adds and imports go on). */
	if ((olk = lock_acquire(s->fd, "objects.lock", true,
	    STORE_WAIT_DEFAULT)) == -1 && err_errno() != EACCES &&
	    err_errno() != EROFS) {
		/* (A store we may only read is checked without it.) */
		err_prefix("store '%s': ", s->dir);
		goto out;
	}
	if (store_packages(s, &pk, &np) == -1)
		goto out;
	for (i = 0; i < np; i++) {
		uint64_t *v;
		size_t nv;

		if (store_versions(s, pk[i], &v, &nv) == -1) {
			fsck_report(&f, "%s: %s", pk[i], err_get());
			continue;
		}
		for (j = 0; j < nv; j++) {
			struct manifest m;

			manifest_init(&m);
			if (store_load_manifest(s, pk[i], v[j], &m) == -1) {
				/* Removed by a gc meanwhile: not damage. */
				if (store_has_version(s, pk[i], v[j]) == 0)
					continue;
				fsck_report(&f, "%s version %" PRIu64 ": %s",
				    pk[i], v[j], err_get());
				continue;
			}
			for (k = 0; k < m.n; k++) {
				struct dslot *sl;
				struct fsck_ref *nr;
				char shown[PATH_SHOW_LEN];
				bool isnew;
				int l;

				if (m.v[k].type != ENTRY_FILE)
					continue;
				if ((sl = dset_add(&f.set, m.v[k].digest,
				    &isnew)) == NULL)
					goto oom;
				if (!isnew) {
					if (sl->size != m.v[k].size)
						fsck_report(&f, "%s version %"
						    PRIu64 ": '%s': size "
						    "differs from another "
						    "file of the same "
						    "content", pk[i], v[j],
						    m.v[k].path);
					continue;
				}
				sl->size = m.v[k].size;
				if ((nr = realloc(f.refs, (f.nrefs + 1) *
				    sizeof(*nr))) == NULL)
					goto oom;
				f.refs = nr;
				l = asprintf(&f.refs[f.nrefs].where,
				    "%s version %" PRIu64 ": '%s'", pk[i],
				    v[j], path_show(m.v[k].path, shown,
				    sizeof(shown)));
				if (l == -1)
					goto oom;
				sl->ref = f.nrefs++;
			}
			manifest_free(&m);
			continue;
oom:
			manifest_free(&m);
			free(v);
			err_sys("out of memory");
			goto out;
		}
		free(v);
	}
	/* An array of pointers: sizeof a pointer is meant. */
	/* NOLINTNEXTLINE(bugprone-sizeof-expression) */
	if ((f.todo = calloc(f.set.n + 1, sizeof(*f.todo))) == NULL) {
		err_sys("out of memory");
		goto out;
	}
	for (i = 0; i < f.set.cap; i++)
		if (f.set.v[i].used)
			f.todo[f.ntodo++] = &f.set.v[i];
	ncpu = sysconf(_SC_NPROCESSORS_ONLN);
	nth = ncpu < 1 ? 1 : ncpu > 64 ? 64 : (int)ncpu;
	for (i = 0; i < (size_t)nth; i++)
		if (pthread_create(&th[i], NULL, fsck_worker, &f) != 0)
			break;
	if (i == 0)
		fsck_worker(&f);
	for (j = 0; j < i; j++)
		pthread_join(th[j], NULL);
	rc = f.damage > INT32_MAX ? INT32_MAX : (int)f.damage;
out:
	for (i = 0; i < f.nrefs; i++)
		free(f.refs[i].where);
	free(f.refs);
	free(f.todo);
	dset_free(&f.set);
	store_strings_free(pk, np);
	pthread_mutex_destroy(&f.mu);
	lock_release(olk);
	return rc;
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
