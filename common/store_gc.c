/*
 * store_gc.c — removing and checking: gc, rm, fsck (see store.h,
 * "maintenance").
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
#include <unistd.h>
#include <sys/stat.h>

#include "atomic.h"
#include "blob.h"
#include "chunk.h"
#include "digest.h"
#include "err.h"
#include "io.h"
#include "lock.h"
#include "manifest.h"
#include "path.h"
#include "progress.h"
#include "store.h"
#include "store_int.h"
#include "workq.h"

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
				    store_dset_add(used, m.v[k].digest,
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

/* What sweep() asks of a name in objects/XX: a content nothing uses, or
 * a leftover temporary. */
struct unused {
	const char *dir; /* "XX" */
	const struct dset *used;
};

/* An object's name (a content, or a content's chunk index: *index). */
static int
unhex_name(const char *dir, const char *name, unsigned char d[DIGEST_LEN],
    bool *index)
{
	char hex[DIGEST_HEXLEN];
	size_t l = strlen(name);

	*index = l == 64 && strcmp(name + 62, STORE_CHUNKS_SUFFIX) == 0;
	if (l != 62 && !*index &&
	    !(l == 64 &&
		(strcmp(name + 62, store_form_suffix(STORE_ZLIB)) == 0 ||
		    strcmp(name + 62, store_form_suffix(STORE_DELTA)) == 0)))
		return -1;
	memcpy(hex, dir, 2);
	memcpy(hex + 2, name, 62);
	return digest_unhex(hex, DIGEST_HEXLEN, d);
}

/* A delta a version uses, in objects/XX. */
static bool
is_used_delta(const char *name, void *arg)
{
	const struct unused *u = arg;
	unsigned char dg[DIGEST_LEN];
	bool index;
	size_t l = strlen(name);

	return l == 64 &&
	    strcmp(name + 62, store_form_suffix(STORE_DELTA)) == 0 &&
	    unhex_name(u->dir, name, dg, &index) == 0 &&
	    store_dset_find(u->used, dg) != NULL;
}

/* Add to used the base of the delta name in objects/dir (bases are
 * stored whole: one pass).  One that cannot be read stops the sweep
 * (its base might go); one whose head is damaged names no base to keep,
 * and fsck reports it. */
static int
keep_base(struct store *s, int dirfd, const char *dir, const char *name,
    void *arg)
{
	struct dset *used = arg;
	unsigned char dg[DIGEST_LEN], base[DIGEST_LEN];
	uint64_t base_size;
	bool index, isnew;
	int k;

	(void)dirfd;
	if (unhex_name(dir, name, dg, &index) == -1)
		return 0;
	if ((k = store_delta_base(s, dg, base, &base_size)) != 1)
		return k;
	return store_dset_add(used, base, &isnew) == NULL ? -1 : 0;
}

/* A temporary of an atomic write in objects/XX (atomic.h: a chunk index
 * cached by a push that was killed before its rename).  Every writer of
 * objects/ holds objects.lock shared; sweep() runs with it exclusive, so
 * one there now is nobody's, whatever its age. */
static bool
is_leftover(const char *name)
{
	return name[0] == '.' && strstr(name, ATOMIC_TMP_MARK) != NULL;
}

static bool
is_unused(const char *name, void *arg)
{
	const struct unused *u = arg;
	unsigned char dg[DIGEST_LEN];
	bool index;

	if (is_leftover(name))
		return true;
	return unhex_name(u->dir, name, dg, &index) == 0 &&
	    store_dset_find(u->used, dg) == NULL;
}

/* Remove name, a content nothing uses or a leftover, from objects/dir,
 * counting it in res. */
static int
remove_unused(struct store *s, int dirfd, const char *dir, const char *name,
    void *arg)
{
	struct store_gc_result *res = arg;
	unsigned char dg[DIGEST_LEN];
	struct stat st;
	bool index = true;

	(void)s;
	if (fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) == 0)
		res->bytes_freed += (uint64_t)st.st_size;
	/* A chunk index goes with its content, and a leftover is no
	 * content: neither is counted. */
	if (!is_leftover(name))
		(void)unhex_name(dir, name, dg, &index);
	if (io_unlink(dirfd, name, 0) == -1)
		return -1;
	if (!index)
		res->contents_removed++;
	return 0;
}

/* Call fn for every name in objects/XX that match() takes (the names
 * of a directory listed before any is acted on: io.h's rule). */
static int
objects_each(struct store *s, const struct dset *used,
    bool (*match)(const char *name, void *arg),
    int (*fn)(struct store *s, int dirfd, const char *dir, const char *name,
	void *arg),
    void *arg)
{
	struct unused u = { NULL, used };
	char dir[3], **names;
	size_t n, i;
	int b, fd, rc;

	for (b = 0; b < 256; b++) {
		snprintf(dir, sizeof(dir), "%02x", b);
		if ((fd = store_open_dir(s->objfd, dir)) == -1) {
			if (errno == ENOENT)
				continue;
			return err_sys("cannot open '%s/objects/%s'", s->dir,
			    dir);
		}
		u.dir = dir;
		if (io_list_names(fd, match, &u, &names, &n) == -1) {
			close(fd);
			return err_prefix("'%s/objects/%s': ", s->dir, dir);
		}
		for (i = 0, rc = 0; i < n && rc == 0; i++)
			rc = fn(s, fd, dir, names[i], arg);
		io_names_free(names, n);
		close(fd);
		if (rc == -1)
			return -1;
	}
	return 0;
}

/* Remove version v of pkg (rename to v/.del-N, then the tree; a crash
 * between leaves a leftover the next run removes).  The caller holds
 * the package's UPDATE lock and its USE lock exclusive. */
static int
version_remove(int vfd, uint64_t v)
{
	char name[32], del[48];

	snprintf(name, sizeof(name), "%" PRIu64, v);
	snprintf(del, sizeof(del), STORE_DEL_PREFIX "%" PRIu64, v);
	if (io_rename(vfd, name, vfd, del) == -1 ||
	    io_remove_tree(vfd, del) == -1)
		return -1;
	return 0;
}

/* Does a holdings record name v as held or being brought to? */
static bool
held(const struct store_holding *h, size_t nh, uint64_t v)
{
	size_t j;

	for (j = 0; j < nh; j++)
		if (h[j].version == v || h[j].wanted == v)
			return true;
	return false;
}

static int
gc_package(struct store *s, const char *pkg, unsigned keep, double timeout,
    struct store_gc_result *res)
{
	struct store_holding *h = NULL;
	uint64_t *v = NULL;
	size_t nv = 0, nh = 0, i;
	int lk = -1, ulk = -1, vfd = -1, rc = -1;

	if (keep == 0)
		keep = 1; /* never the newest: its number stays used */
	if ((lk = store_lock(s, pkg, STORE_LOCK_UPDATE, false, timeout)) == -1)
		return -1;
	if ((vfd = store_open_vdir(s, pkg)) == -1) {
		if (errno == ENOENT)
			rc = 0;
		goto out;
	}
	if (store_clean_vdir(s, vfd) == -1)
		goto out;
	/* No add or import changes the versions while the UPDATE lock is
	 * held; a push may record a holding until the USE lock is ours. */
	if (store_versions(s, pkg, &v, &nv) == -1)
		goto out;
	if (nv > keep) {
		if ((ulk = store_lock(s, pkg, STORE_LOCK_USE, false,
			 timeout)) == -1 ||
		    store_holdings(s, pkg, &h, &nh) == -1)
			goto out;
		for (i = 0; i < nv - keep; i++) {
			if (held(h, nh, v[i]))
				continue;
			if (version_remove(vfd, v[i]) == -1)
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

void
store_rm_result_free(struct store_rm_result *r)
{
	free(r->versions);
	free(r->forgot);
	memset(r, 0, sizeof(*r));
}

/* Split h into the records in the way of removing version (0: the whole
 * package), appended to r->forgot, and the others, left in h[0..*nh). */
static int
rm_split(struct store_holding *h, size_t *nh, uint64_t version,
    struct store_rm_result *r)
{
	size_t i, j;

	if (*nh > 0 && (r->forgot = calloc(*nh, sizeof(*h))) == NULL)
		return err_nomem();
	for (i = j = 0; i < *nh; i++) {
		if (version == 0 || h[i].version == version ||
		    h[i].wanted == version)
			r->forgot[r->nforgot++] = h[i];
		else
			h[j++] = h[i];
	}
	*nh = j;
	return 0;
}

/* err: what is in the way of removing version (0: the package). */
static int
rm_refuse(const char *pkg, uint64_t version, const struct store_rm_result *r)
{
	char names[1024], what[64];
	size_t i, l = 0;

	names[0] = '\0';
	for (i = 0; i < r->nforgot && l < sizeof(names) - 1; i++)
		l += (size_t)snprintf(names + l, sizeof(names) - l, "%s%s",
		    i > 0 ? ", " : "", r->forgot[i].dp);
	if (version != 0)
		snprintf(what, sizeof(what), "%s version %" PRIu64, pkg,
		    version);
	else
		snprintf(what, sizeof(what), "package '%s'", pkg);
	return err_set("%s: recorded as held by %s (pkgpush --forget "
		       "removes a record; --force removes them with it)",
	    what, names);
}

/* The records of store_rm(): in the way (refused unless force) or
 * removed.  Caller holds the package's UPDATE and USE locks. */
static int
rm_records(struct store *s, const char *pkg, uint64_t version, bool force,
    struct store_rm_result *r)
{
	struct store_holding *h = NULL;
	char path[NAME_MAX_LEN + 16];
	size_t nh = 0;
	int lk, rc = -1;

	if ((lk = store_holdings_lock(s, pkg)) == -1)
		return -1;
	if (store_holdings_read(s, pkg, &h, &nh) == -1 ||
	    rm_split(h, &nh, version, r) == -1)
		goto out;
	if (r->nforgot == 0) {
		rc = 0;
		goto out;
	}
	if (!force) {
		rm_refuse(pkg, version, r);
		goto out;
	}
	snprintf(path, sizeof(path), "%s/holdings", pkg);
	if (nh > 0)
		rc = store_holdings_write(s, pkg, h, nh);
	else
		rc = io_unlink(s->pkgfd, path, 0);
out:
	free(h);
	lock_release(lk);
	return rc;
}

/* Which versions store_rm() removes: version alone (checked to exist)
 * or every one; *newest gets the newest when it is among them, else 0. */
static int
rm_versions(struct store *s, const char *pkg, uint64_t version,
    struct store_rm_result *r, uint64_t *newest)
{
	uint64_t *v = NULL;
	size_t nv = 0, i;
	int rc = -1;

	if (store_versions(s, pkg, &v, &nv) == -1)
		return -1;
	if (version != 0) {
		for (i = 0; i < nv && v[i] != version; i++)
			;
		if (i == nv) {
			err_set("%s version %" PRIu64 ": no such version", pkg,
			    version);
			goto out;
		}
		*newest = i == nv - 1 ? version : 0;
		v[0] = version;
		nv = 1;
	} else {
		*newest = nv > 0 ? v[nv - 1] : 0;
	}
	r->versions = v;
	r->nversions = nv;
	v = NULL;
	rc = 0;
out:
	free(v);
	return rc;
}

int
store_rm(struct store *s, const char *pkg, uint64_t version, bool force,
    double timeout, struct store_rm_result *r)
{
	struct stat st;
	uint64_t newest = 0;
	size_t i;
	int lk = -1, ulk = -1, vfd = -1, rc = -1;

	memset(r, 0, sizeof(*r));
	if (package_name_check(pkg) == -1)
		return -1;
	if (fstatat(s->pkgfd, pkg, &st, AT_SYMLINK_NOFOLLOW) == -1) {
		if (errno == ENOENT)
			return err_set("package '%s': not in the store", pkg);
		return err_sys("cannot stat '%s/packages/%s'", s->dir, pkg);
	}
	if ((lk = store_lock(s, pkg, STORE_LOCK_UPDATE, false, timeout)) ==
		-1 ||
	    (ulk = store_lock(s, pkg, STORE_LOCK_USE, false, timeout)) == -1)
		goto out;
	if ((vfd = store_open_vdir(s, pkg)) == -1) {
		if (errno != ENOENT || version != 0)
			goto out;
	} else if (store_clean_vdir(s, vfd) == -1) {
		goto out;
	}
	if (vfd != -1 && rm_versions(s, pkg, version, r, &newest) == -1)
		goto out;
	if (rm_records(s, pkg, version, force, r) == -1) {
		free(r->versions);
		r->versions = NULL;
		r->nversions = 0;
		goto out;
	}
	/* Its number stays given before the newest goes. */
	if (newest != 0 && store_mark_write(s, pkg, newest) == -1)
		goto out;
	for (i = 0; i < r->nversions; i++)
		if (version_remove(vfd, r->versions[i]) == -1)
			goto out;
	if (r->nversions > 0 && io_fsync_dir(vfd, "versions") == -1)
		goto out;
	rc = 0;
out:
	if (vfd != -1)
		close(vfd);
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
	if ((olk = lock_acquire(s->fd, "objects.lock", false, timeout)) == -1) {
		err_prefix("store '%s': ", s->dir);
		goto out;
	}
	if (store_clean_tmp(s) == -1 || collect_used(s, &used) == -1 ||
	    objects_each(s, &used, is_used_delta, keep_base, &used) == -1 ||
	    objects_each(s, &used, is_unused, remove_unused, res) == -1)
		goto out;
	rc = 0;
out:
	lock_release(olk);
	store_dset_free(&used);
	store_strings_free(pk, np);
	return rc;
}

/* ---- fsck ---- */

struct fsck_ref {
	char *where; /* "PKG version N: 'PATH'" */
};

struct fsck {
	struct store *s;
	struct dset set;
	struct fsck_ref *refs;
	size_t nrefs;
	struct dslot **todo;
	size_t ntodo;
	pthread_mutex_t mu;
	struct progress *p;
	void (*report)(const char *, void *);
	void *arg;
	long damage;
};

static void fsck_report(struct fsck *f, const char *fmt, ...)
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

/* Each checking thread's own 1 MiB buffer; NULL when out of memory, and
 * then each of its contents is reported as not checked. */
static int
fsck_begin(void *ctx, void **local)
{
	(void)ctx;
	*local = malloc(BLOB_CHUNK);
	return 0;
}

static int
fsck_one(void *ctx, void *local, size_t i)
{
	struct fsck *f = ctx;
	struct dslot *sl = f->todo[i];
	unsigned char *buf = local;
	uint64_t total = 0;
	int k;

	if (buf == NULL) {
		fsck_report(f, "%s: cannot check: out of memory",
		    f->refs[sl->ref].where);
		return 0;
	}
	if (sl->size > CHUNK_THRESHOLD) {
		char why[256];

		k = store_chunks_check(f->s, sl->d, sl->size, buf, BLOB_CHUNK,
		    &total, why, sizeof(why));
		if (k == 1)
			fsck_report(f,
			    "%s: %s (remove it: it is "
			    "rebuilt when next needed)",
			    f->refs[sl->ref].where, why);
	} else {
		k = store_content_check(f->s, sl->d, sl->size, buf, BLOB_CHUNK,
		    &total);
	}
	if (k == -1)
		fsck_report(f, "%s: %s", f->refs[sl->ref].where, err_get());
	progress_add(f->p, 1, total);
	return 0; /* damage is reported, and the check goes on */
}

static void
fsck_end(void *ctx, void *local)
{
	(void)ctx;
	free(local);
}

int
store_fsck(struct store *s, struct progress *p,
    void (*report)(const char *line, void *arg), void *arg)
{
	static const struct workq_ops check = { fsck_begin, fsck_one,
		fsck_end };
	struct fsck f;
	char **pk = NULL;
	size_t np = 0, i, j, k;
	int rc = -1, olk = -1;
	long ncpu;

	memset(&f, 0, sizeof(f));
	f.s = s;
	f.p = p;
	f.report = report;
	f.arg = arg;
	pthread_mutex_init(&f.mu, NULL);
	/* No content sweep while we check (adds and imports go on). */
	if ((olk = lock_acquire(s->fd, "objects.lock", true,
		 STORE_WAIT_DEFAULT)) == -1 &&
	    err_errno() != EACCES && err_errno() != EROFS) {
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
				if ((sl = store_dset_add(&f.set, m.v[k].digest,
					 &isnew)) == NULL)
					goto oom;
				if (!isnew) {
					if (sl->size != m.v[k].size)
						fsck_report(&f,
						    "%s version %" PRIu64
						    ": '%s': size "
						    "differs from another "
						    "file of the same "
						    "content",
						    pk[i], v[j], m.v[k].path);
					continue;
				}
				sl->size = m.v[k].size;
				if ((nr = realloc(f.refs,
					 (f.nrefs + 1) * sizeof(*nr))) == NULL)
					goto oom;
				f.refs = nr;
				l = asprintf(&f.refs[f.nrefs].where,
				    "%s version %" PRIu64 ": '%s'", pk[i], v[j],
				    path_show(m.v[k].path, shown,
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
			err_nomem();
			goto out;
		}
		free(v);
	}
	/* An array of pointers: sizeof a pointer is meant. */
	/* NOLINTNEXTLINE(bugprone-sizeof-expression) */
	if ((f.todo = calloc(f.set.n + 1, sizeof(*f.todo))) == NULL) {
		err_nomem();
		goto out;
	}
	for (i = 0; i < f.set.cap; i++)
		if (f.set.v[i].used)
			f.todo[f.ntodo++] = &f.set.v[i];
	/* One thread per CPU.  Items never fail: each damage is reported,
	 * and counted. */
	ncpu = sysconf(_SC_NPROCESSORS_ONLN);
	(void)workq_run_ops(f.ntodo,
	    ncpu > WORKQ_MAX_THREADS ? WORKQ_MAX_THREADS : (int)ncpu, &check,
	    &f);
	rc = f.damage > INT32_MAX ? INT32_MAX : (int)f.damage;
out:
	for (i = 0; i < f.nrefs; i++)
		free(f.refs[i].where);
	free(f.refs);
	free(f.todo);
	store_dset_free(&f.set);
	store_strings_free(pk, np);
	pthread_mutex_destroy(&f.mu);
	lock_release(olk);
	return rc;
}
