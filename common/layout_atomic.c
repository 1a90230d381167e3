/*
 * layout_atomic.c — the atomic layout: DP/PKG is a link to a complete
 * tree under DP/.pkgdist/PKG/; a new version is built beside the old
 * one (unchanged files hard-linked), made durable, and the link switched
 * with one rename.  Also the shared helpers for building a tree, used by
 * the in-place layout for a first install.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <linux/fs.h>

#include "atomic.h"
#include "digest.h"
#include "dp.h"
#include "dppush.h"
#include "err.h"
#include "fault.h"
#include "io.h"
#include "manifest.h"
#include "mdelta.h"
#include "progress.h"

#define DIRFLAGS (O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
#define COPYBUF (256 * 1024)

enum action {
	ACT_NONE, ACT_LINK, ACT_COPYOLD, ACT_SOURCE, ACT_KEEP, ACT_RETIME
};

/* Remove a tree after a failure, keeping the failure's message. */
void
layout_remove_quietly(int dirfd, const char *name)
{
	char *msg = strdup(err_get());

	if (io_remove_tree(dirfd, name) == -1 && msg != NULL)
		err_set("%s", msg);
	free(msg);
}

int
layout_syncfs(int fd, const char *what)
{
	if (fault_hit("fsync") == -1 || syncfs(fd) == -1)
		return err_sys("cannot sync '%s'", what);
	return 0;
}

/*
 * Start writing fd's pages to disk now, without waiting: the final sync
 * then finds most of the data already there, so the disk works while the
 * next files are copied instead of all at the end.  A hint only.
 */
void
layout_start_writeback(int fd)
{
#ifdef SYNC_FILE_RANGE_WRITE
	(void)sync_file_range(fd, 0, 0, SYNC_FILE_RANGE_WRITE);
#else
	(void)fd;
#endif
}

int
layout_set_times(int dirfd, const char *name, int fd, int64_t mtime)
{
	struct timespec ts[2];

	ts[0].tv_sec = 0;
	ts[0].tv_nsec = UTIME_OMIT;
	ts[1].tv_sec = (time_t)mtime;
	ts[1].tv_nsec = 0;
	if (fd != -1)
		return futimens(fd, ts);
	return utimensat(dirfd, name, ts, AT_SYMLINK_NOFOLLOW);
}

int
layout_finish_file(int dir, const char *name, int fd, const struct entry *e,
    const char *what)
{
	if (fchmod(fd, e->mode) == -1 ||
	    layout_set_times(dir, name, fd, e->mtime) == -1)
		return err_sys("%s", what);
	if (e->size >= LAYOUT_WRITEBACK_MIN)
		layout_start_writeback(fd);
	return 0;
}

/*
 * Copy the regular file base under olddir into fd, checking it has e's
 * digest and size (the DP's own copy may have drifted).
 */
int
layout_copy_old(int olddir, const char *base, const struct entry *e, int fd,
    const char *what, uint64_t *bytes)
{
	unsigned char d[DIGEST_LEN];
	struct digest dg = { NULL };
	struct stat st;
	uint64_t total = 0;
	char *buf = NULL;
	ssize_t n;
	int in, rc = -1;

	if ((in = openat(olddir, base, O_RDONLY | O_NOFOLLOW | O_NONBLOCK |
	    O_CLOEXEC)) == -1)
		return err_sys("%s", what);
	if (fstat(in, &st) == -1 || !S_ISREG(st.st_mode)) {
		err_set("%s: not a regular file in the old tree", what);
		goto out;
	}
	if ((buf = malloc(COPYBUF)) == NULL) {
		err_sys("out of memory");
		goto out;
	}
	if (digest_init(&dg) == -1)
		goto out;
	for (;;) {
		if ((n = io_read_full(in, buf, COPYBUF, what)) == -1)
			goto out;
		if (n == 0)
			break;
		if (digest_update(&dg, buf, (size_t)n) == -1 ||
		    io_write_full(fd, buf, (size_t)n, what) == -1)
			goto out;
		total += (uint64_t)n;
		if (n < COPYBUF)
			break;
	}
	if (digest_final(&dg, d) == -1)
		goto out;
	if (total != e->size || memcmp(d, e->digest, DIGEST_LEN) != 0) {
		err_set("%s: the DP's old copy has drifted from its manifest "
		    "(run with --verify)", what);
		goto out;
	}
	*bytes += total;
	rc = 0;
out:
	digest_free(&dg);
	free(buf);
	close(in);
	return rc;
}

/* Create a file for e under dir as name, fill it, set mode and mtime;
 * *bytes (the calling thread's own) counts what was written.  Safe to
 * call from several threads when the source allows it: it changes
 * nothing shared (dp_write_content). */
static int
make_file(struct dp_apply *a, int dir, const char *name, const struct entry *e,
    enum action act, int olddir, const char *oldbase, const char *what,
    uint64_t *bytes)
{
	int fd, rc = -1;

	if ((fd = openat(dir, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW |
	    O_CLOEXEC, 0600)) == -1)
		return err_sys("%s", what);
	if (act == ACT_COPYOLD) {
		if (layout_copy_old(olddir, oldbase, e, fd, what, bytes) == -1)
			goto out;
	} else if (dp_write_content(a, e, fd, what, bytes) == -1)
		goto out;
	if (layout_finish_file(dir, name, fd, e, what) == -1)
		goto out;
	rc = 0;
out:
	close(fd);
	return rc;
}

/* Set mode and mtime of directories (those flagged in only, or all when
 * only is NULL), children before parents. */
int
layout_fix_dirs(int rootfd, const struct manifest *m,
    const unsigned char *only, const char *where)
{
	struct dp_walk w;
	const char *base;
	char what[4400 + PATH_SHOW_LEN];
	size_t i;
	int pfd, fd, rc = -1;

	dp_walk_init(&w, rootfd);
	for (i = m->n; i-- > 0;) {
		const struct entry *e = &m->v[i];

		if (e->type != ENTRY_DIR || (only != NULL && !only[i]))
			continue;
		if (dp_walk_parent(&w, e->path, &pfd, &base) == -1)
			goto out;
		if ((fd = openat(pfd, base, DIRFLAGS)) == -1) {
			err_sys("%s", dp_what(where, e->path, what,
			    sizeof(what)));
			goto out;
		}
		if (fchmod(fd, e->mode) == -1 ||
		    layout_set_times(pfd, base, fd, e->mtime) == -1) {
			err_sys("%s", dp_what(where, e->path, what,
			    sizeof(what)));
			close(fd);
			goto out;
		}
		close(fd);
	}
	if (fchmod(rootfd, dp_mode(ENTRY_DIR, 0755)) == -1) {
		err_sys("%s", where);
		goto out;
	}
	rc = 0;
out:
	dp_walk_free(&w);
	return rc;
}

/* The files of a tree build that need bytes written, shared by the
 * writer threads. */
struct writers {
	struct dp_apply *a;
	const unsigned char *act;
	const size_t *idx;		/* entries of a->newm, in order */
	size_t n, next;
	int newfd, oldfd;
	const char *where;
	pthread_mutex_t mu;
	bool stop;
	char *errmsg;			/* the first failure */
	int errnum;
	uint64_t bytes;
};

static void *
writer(void *arg)
{
	struct writers *w = arg;
	const struct manifest *nm = w->a->newm;
	struct dp_walk wn, wo;
	uint64_t bytes = 0;
	const char *base, *obase = NULL;
	char *what = NULL;
	size_t i, wl = strlen(w->where) + PATH_SHOW_LEN + 2;
	int pfd, opfd = -1;

	dp_walk_init(&wn, w->newfd);
	dp_walk_init(&wo, w->oldfd);
	if ((what = malloc(wl)) == NULL) {
		err_sys("out of memory");
		goto fail;
	}
	for (;;) {
		const struct entry *e;
		enum action act;

		pthread_mutex_lock(&w->mu);
		if (w->stop || w->next >= w->n) {
			pthread_mutex_unlock(&w->mu);
			break;
		}
		i = w->idx[w->next++];
		pthread_mutex_unlock(&w->mu);
		e = &nm->v[i];
		/* Read once: the old tree's parent is looked up only for a
		 * copy from it, and make_file must see the same action. */
		act = w->act[i];
		dp_what(w->where, e->path, what, wl);
		if (dp_walk_parent(&wn, e->path, &pfd, &base) == -1 ||
		    (act == ACT_COPYOLD &&
		    dp_walk_parent(&wo, e->path, &opfd, &obase) == -1)) {
			err_prefix("%s: ", w->where);
			goto fail;
		}
		if (make_file(w->a, pfd, base, e, act, opfd, obase,
		    what, &bytes) == -1)
			goto fail;
		if (w->a->o->progress)
			progress_add(w->a->o->progress, 1, e->size);
	}
	goto out;
fail:
	pthread_mutex_lock(&w->mu);
	if (w->errmsg == NULL) {
		w->errmsg = strdup(err_get());
		w->errnum = err_errno();
	}
	w->stop = true;
	pthread_mutex_unlock(&w->mu);
out:
	pthread_mutex_lock(&w->mu);
	w->bytes += bytes;
	pthread_mutex_unlock(&w->mu);
	free(what);
	dp_walk_free(&wn);
	dp_walk_free(&wo);
	return NULL;
}

/* Write the files idx[0..n) with o->write_threads threads (this one
 * included). */
static int
write_files(struct dp_apply *a, const unsigned char *act, const size_t *idx,
    size_t n, int newfd, int oldfd, const char *where)
{
	struct writers w;
	pthread_t th[LAYOUT_WRITERS_MAX] = { 0 };	/* cppcheck: set before use */
	int nt = a->o->write_threads, k, started = 0;

	memset(&w, 0, sizeof(w));
	w.a = a;
	w.act = act;
	w.idx = idx;
	w.n = n;
	w.newfd = newfd;
	w.oldfd = oldfd;
	w.where = where;
	pthread_mutex_init(&w.mu, NULL);
	if (nt > LAYOUT_WRITERS_MAX)
		nt = LAYOUT_WRITERS_MAX;
	if ((size_t)nt > n / 4)
		nt = (int)(n / 4);	/* threads only pay on many files */
	for (k = 1; k < nt; k++) {
		if (pthread_create(&th[started], NULL, writer, &w) != 0)
			break;
		started++;
	}
	writer(&w);
	for (k = 0; k < started; k++)
		pthread_join(th[k], NULL);
	pthread_mutex_destroy(&w.mu);
	a->r->bytes += w.bytes;
	if (w.errmsg != NULL || w.stop) {
		err_set("%s", w.errmsg ? w.errmsg : "out of memory");
		a->r->failed_errno = w.errnum;
		free(w.errmsg);
		return -1;
	}
	return 0;
}

/* Whether the symbolic link name under dirfd points at target. */
static bool
link_says(int dirfd, const char *name, const char *target)
{
	char buf[MANIFEST_PATH_MAX + 1];
	ssize_t n;

	n = readlinkat(dirfd, name, buf, sizeof(buf));
	return n >= 0 && (size_t)n == strlen(target) &&
	    memcmp(buf, target, (size_t)n) == 0;
}

/* Is errnum a file system's way of saying it cannot clone or link? */
static bool
cannot_share(int errnum)
{
	return errnum == EPERM || errnum == EMLINK || errnum == ENOTSUP ||
	    errnum == EOPNOTSUPP || errnum == EXDEV || errnum == EINVAL ||
	    errnum == ENOTTY || errnum == ENOSYS;
}

/*
 * Entry i of a->newm, whose content the old tree's file (obase under
 * opfd, checked against a->oldm by the caller) has, differs from it in
 * mode or mtime only: make it under pfd as base without writing a byte
 * of content.  Where the file system clones (FICLONE: a new inode that
 * shares the old one's blocks), a clone gets the new mode and mtime and
 * the old tree is untouched.  Elsewhere the old file is hard-linked and
 * the shared inode gets the new mode and mtime: clients still reading
 * the old tree see them too (the same bytes, a new time or mode), so i
 * is recorded in a->retimed first: a push that fails before its switch
 * puts the old ones back (retime_undo), and after the switch the
 * manifests of the kept trees that share the inode are made to say so
 * (retime_kept).  1 done, 0 neither works here (the caller copies), -1
 * with err set.
 */
static int
retime_file(struct dp_apply *a, size_t i, int opfd, const char *obase,
    int pfd, const char *base, const char *what)
{
	const struct entry *e = &a->newm->v[i];
	int ofd, nfd, rc;

#ifdef FICLONE
	if ((ofd = openat(opfd, obase, O_RDONLY | O_NOFOLLOW | O_NONBLOCK |
	    O_CLOEXEC)) == -1)
		return err_sys("%s", what);
	if ((nfd = openat(pfd, base, O_WRONLY | O_CREAT | O_EXCL |
	    O_NOFOLLOW | O_CLOEXEC, 0600)) == -1) {
		close(ofd);
		return err_sys("%s", what);
	}
	if (ioctl(nfd, FICLONE, ofd) == 0) {
		rc = layout_finish_file(pfd, base, nfd, e, what);
		close(nfd);
		close(ofd);
		return rc == -1 ? -1 : 1;
	}
	rc = errno;
	close(nfd);
	close(ofd);
	(void)unlinkat(pfd, base, 0);
	if (!cannot_share(rc)) {
		errno = rc;
		return err_sys("cannot clone '%s'", what);
	}
#endif
	if (io_link(opfd, obase, pfd, base) == -1)
		return cannot_share(err_errno()) ? 0 : err_prefix("%s: ", what);
	if (a->retimed == NULL && (a->retimed = calloc(a->newm->n,
	    sizeof(*a->retimed))) == NULL)
		return err_sys("out of memory");
	a->retimed[a->nretimed++] = i;
	if ((nfd = openat(pfd, base, O_RDONLY | O_NOFOLLOW | O_NONBLOCK |
	    O_CLOEXEC)) == -1)
		return err_sys("%s", what);
	if (fchmod(nfd, e->mode) == -1 ||
	    layout_set_times(pfd, base, nfd, e->mtime) == -1) {
		close(nfd);
		return err_sys("%s", what);
	}
	close(nfd);
	return 1;
}

/*
 * Build the complete tree a->newm in newfd; olddir (-1: none) is the old
 * tree, whose manifest is a->oldm.  Unchanged files are hard links to the
 * old tree.  newfd is empty, or (have not NULL) a spare trimmed by
 * spare_trim(): have[i] set for each entry of a->newm already there.
 */
int
layout_build_tree(struct dp_apply *a, int newfd, int oldfd, const char *where,
    const unsigned char *have)
{
	const struct manifest *nm = a->newm;
	struct dp_walk wn, wo;
	struct dp_need *needs = NULL;
	unsigned char *act = NULL;
	size_t i, nneed = 0;
	const char *base, *obase;
	char what[4400];
	size_t *idx = NULL, nidx = 0;
	int pfd, opfd, rc = -1, k;

	dp_walk_init(&wn, newfd);
	dp_walk_init(&wo, oldfd);
	if (nm->n && (act = calloc(nm->n, 1)) == NULL) {
		err_sys("out of memory");
		goto out;
	}
	if (nm->n && ((needs = malloc(nm->n * sizeof(*needs))) == NULL ||
	    (idx = malloc(nm->n * sizeof(*idx))) == NULL)) {
		err_sys("out of memory");
		goto out;
	}
	/* Plan: which files come from the old tree. */
	for (i = 0; i < nm->n; i++) {
		const struct entry *e = &nm->v[i], *o;
		struct stat st;

		if (e->type != ENTRY_FILE)
			continue;
		if (have != NULL && have[i]) {
			/* In the spare: a link to the old tree's file, which
			 * must still be what its manifest says. */
			if (dp_walk_parent(&wn, e->path, &pfd, &base) == -1) {
				err_prefix("%s: ", where);
				goto out;
			}
			if (fstatat(pfd, base, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
			    S_ISREG(st.st_mode) &&
			    (uint64_t)st.st_size == e->size &&
			    (st.st_mode & 07777) == e->mode &&
			    (int64_t)st.st_mtime == e->mtime) {
				act[i] = ACT_KEEP;
				continue;
			}
			dp_what(where, e->path, what, sizeof(what));
			if (io_unlink(pfd, base, 0) == -1 &&
			    err_errno() != ENOENT) {
				err_prefix("%s: ", what);
				goto out;
			}
			act[i] = ACT_SOURCE;
			goto need;
		}
		act[i] = ACT_SOURCE;
		if (oldfd == -1 || (o = manifest_find(a->oldm, e->path)) ==
		    NULL || !entry_same_content(o, e))
			goto need;
		/* The old file must still be what its manifest says. */
		if (dp_walk_parent(&wo, e->path, &opfd, &obase) == -1 ||
		    fstatat(opfd, obase, &st, AT_SYMLINK_NOFOLLOW) == -1 ||
		    !S_ISREG(st.st_mode) || (uint64_t)st.st_size != e->size ||
		    (st.st_mode & 07777) != o->mode ||
		    (int64_t)st.st_mtime != o->mtime) {
			act[i] = ACT_SOURCE;
			goto need;
		}
		/* Only its mode or mtime changed: no byte is written. */
		act[i] = o->mode != e->mode || o->mtime != e->mtime ?
		    ACT_RETIME : ACT_LINK;
		continue;
need:
		memcpy(needs[nneed].digest, e->digest, DIGEST_LEN);
		needs[nneed].size = e->size;
		nneed++;
	}
	if (a->src && a->src->prepare &&
	    a->src->prepare(a->src->ctx, needs, nneed) == -1)
		goto out;
	for (i = 0; i < nm->n; i++) {
		const struct entry *e = &nm->v[i];

		dp_what(where, e->path, what, sizeof(what));
		if (dp_walk_parent(&wn, e->path, &pfd, &base) == -1) {
			err_prefix("%s: ", where);
			goto out;
		}
		switch (e->type) {
		case ENTRY_DIR:
			if (have != NULL && have[i])
				break;
			if (io_mkdir(pfd, base, 0700) == -1)
				goto fail;
			break;
		case ENTRY_LINK:
			/* A spare's links are its own (made, not linked), and
			 * kept only when they still say the target. */
			if (have != NULL && have[i] &&
			    !link_says(pfd, base, e->target) &&
			    io_unlink(pfd, base, 0) == -1)
				goto fail;
			if ((have == NULL || !have[i] ||
			    !link_says(pfd, base, e->target)) &&
			    io_symlink(e->target, pfd, base) == -1)
				goto fail;
			if (layout_set_times(pfd, base, -1, e->mtime) == -1) {
				err_sys("%s", what);
				goto out;
			}
			break;
		case ENTRY_FILE:
			if (act[i] == ACT_KEEP) {
				a->r->linked++;
				break;
			}
			if (act[i] == ACT_RETIME) {
				if (dp_walk_parent(&wo, e->path, &opfd,
				    &obase) == -1)
					goto out;
				if ((k = retime_file(a, i, opfd, obase, pfd,
				    base, what)) == -1)
					goto out;
				if (k == 1) {
					a->r->linked++;
					break;
				}
				act[i] = ACT_COPYOLD;
			}
			if (act[i] == ACT_LINK) {
				if (dp_walk_parent(&wo, e->path, &opfd,
				    &obase) == -1)
					goto out;
				if (io_link(opfd, obase, pfd, base) == 0) {
					a->r->linked++;
					break;
				}
				/* A share without hard links: copy. */
				if (err_errno() != EPERM &&
				    err_errno() != EMLINK &&
				    err_errno() != ENOTSUP &&
				    err_errno() != EXDEV)
					goto fail;
				act[i] = ACT_COPYOLD;
			}
			/* Written next, by the writers, in this order. */
			idx[nidx++] = i;
			break;
		}
	}
	dp_walk_free(&wn);
	dp_walk_free(&wo);
	if (write_files(a, act, idx, nidx, newfd, oldfd, where) == -1)
		goto out;
	if (layout_fix_dirs(newfd, nm, NULL, where) == -1)
		goto out;
	rc = 0;
	goto out;
fail:
	err_prefix("%s: ", where);
out:
	dp_walk_free(&wn);
	dp_walk_free(&wo);
	free(act);
	free(needs);
	free(idx);
	return rc;
}

struct tree {
	char name[DP_TREE_MAX];
	uint64_t v;
	unsigned k;
};

/* The trees under pkgfd (complete ones: vN.K directories). */
static bool
is_tree(const char *name, void *arg)
{
	(void)arg;
	return dp_tree_parse(name, NULL, NULL) == 0;
}

static int
list_trees(int pkgfd, struct tree **out, size_t *np)
{
	struct tree *v = NULL;
	char **names;
	size_t n, i;

	*out = NULL;
	*np = 0;
	if (io_list_names(pkgfd, is_tree, NULL, &names, &n) == -1)
		return err_prefix("cannot read the trees: ");
	if (n > 0 && (v = calloc(n, sizeof(*v))) == NULL) {
		io_names_free(names, n);
		return err_sys("out of memory");
	}
	for (i = 0; i < n; i++) {
		snprintf(v[i].name, sizeof(v[i].name), "%s", names[i]);
		(void)dp_tree_parse(names[i], &v[i].v, &v[i].k);
	}
	io_names_free(names, n);
	*out = v;
	*np = n;
	return 0;
}

static int
tree_cmp_desc(const void *a, const void *b)
{
	const struct tree *x = a, *y = b;

	if (x->v != y->v)
		return x->v < y->v ? 1 : -1;
	return x->k < y->k ? 1 : x->k > y->k ? -1 : 0;
}

/*
 * Remove tree manifests without their tree (a crash between writing the
 * manifest and renaming the tree into place): they would keep their
 * base from being removed.  Under the DP's lock nobody else is between
 * those two steps.
 */
static bool
is_tree_manifest(const char *name, void *arg)
{
	char tree[DP_TREE_MAX];

	(void)arg;
	return dp_tree_manifest(name, tree) == 0;
}

static void
prune_orphans(int pkgfd)
{
	struct stat st;
	char **names, tree[DP_TREE_MAX];
	size_t n, i;

	if (io_list_names(pkgfd, is_tree_manifest, NULL, &names, &n) == -1)
		return;
	for (i = 0; i < n; i++) {
		if (dp_tree_manifest(names[i], tree) == 0 &&
		    fstatat(pkgfd, tree, &st, AT_SYMLINK_NOFOLLOW) == -1 &&
		    errno == ENOENT)
			(void)io_unlink(pkgfd, names[i], 0);
	}
	io_names_free(names, n);
}

/* Remove tree t and its manifest (the manifest first: a tree without
 * one is never taken for a kept tree).  Failing to is not failing the
 * push. */
static void
remove_tree(int pkgfd, const char *t)
{
	char mname[DP_TREE_MAX + sizeof(DP_TREE_MANIFEST)];

	dp_tree_manifest_name(t, mname);
	if (io_unlink(pkgfd, mname, 0) == -1 && err_errno() != ENOENT)
		return;
	(void)io_remove_tree(pkgfd, t);
}

/* The same after a failure, keeping the failure's message. */
static void
remove_tree_quietly(int pkgfd, const char *t)
{
	char *msg = strdup(err_get());

	remove_tree(pkgfd, t);
	if (msg != NULL)
		err_set("%s", msg);
	free(msg);
}

/*
 * The trees other than the current one in the order they were last live,
 * most recent first, into v (n of them): those the state's "lived" line
 * names that exist, in its order.  A state without the line (an earlier
 * release) says nothing of the order: then every other tree, by
 * (version, K) from the highest, as that release kept them.  With the
 * line, a tree it does not name was never live (a switch that failed or
 * was cut short) and is left out.
 */
static int
lived_order(struct dp_apply *a, struct tree *t, size_t nt,
    char (**v)[DP_TREE_MAX], size_t *n)
{
	char name[DP_TREE_MAX];
	size_t i, j;

	*n = 0;
	if ((*v = calloc(nt + 1, sizeof(**v))) == NULL)
		return err_sys("out of memory");
	if (a->st->lived == NULL) {
		if (nt > 0)	/* t is NULL when there is no tree */
			qsort(t, nt, sizeof(*t), tree_cmp_desc);
		for (i = 0; i < nt; i++)
			if (strcmp(t[i].name, a->st->tree) != 0)
				memcpy((*v)[(*n)++], t[i].name, DP_TREE_MAX);
		return 0;
	}
	for (j = 0; dp_state_lived(a->st, j, name) == 1; j++) {
		if (strcmp(name, a->st->tree) == 0)
			continue;
		for (i = 0; i < nt; i++)
			if (strcmp(t[i].name, name) == 0)
				break;
		if (i < nt && *n < nt)
			memcpy((*v)[(*n)++], name, DP_TREE_MAX);
	}
	return 0;
}

/*
 * Make tree the current one in a->st: the tree live until now becomes
 * the most recently live.  A state of an earlier release (no "lived"
 * line) is first given the order it kept trees in (lived_order()).
 */
static int
make_live(struct dp_apply *a, const char *tree)
{
	char (*v)[DP_TREE_MAX] = NULL;
	struct tree *t = NULL;
	size_t nt = 0, n = 0;
	int rc = -1;

	/* A first install has no tree before it (any other tree there was
	 * never live). */
	if (a->st->lived == NULL && a->st->tree[0] != '\0') {
		if (list_trees(a->pkgfd, &t, &nt) == -1 ||
		    lived_order(a, t, nt, &v, &n) == -1 ||
		    dp_state_set_lived(a->st, v, n) == -1)
			goto out;
	}
	rc = dp_state_make_live(a->st, tree);
out:
	free(t);
	free(v);
	return rc;
}

/*
 * Remove trees beyond keep: the current one (a->st->tree) and the keep-1
 * trees most recently live before it stay, every other tree goes (never
 * live ones too).  The state's "lived" line is trimmed to the trees
 * kept (written by the caller).
 */
static void
prune(struct dp_apply *a)
{
	char (*v)[DP_TREE_MAX] = NULL;
	struct tree *t = NULL;
	size_t nt = 0, n = 0, i, j, keep;

	keep = (a->o->keep ? a->o->keep : 1) - 1;
	if (list_trees(a->pkgfd, &t, &nt) == -1 ||
	    lived_order(a, t, nt, &v, &n) == -1)
		goto out;
	for (i = 0; i < nt; i++) {
		if (strcmp(t[i].name, a->st->tree) == 0)
			continue;
		for (j = 0; j < n && j < keep; j++)
			if (strcmp(v[j], t[i].name) == 0)
				break;
		if (j == n || j == keep)
			remove_tree(a->pkgfd, t[i].name);
	}
	if (a->st->lived != NULL)
		(void)dp_state_set_lived(a->st, v, n < keep ? n : keep);
out:
	free(t);
	free(v);
	prune_orphans(a->pkgfd);
}

/* Point DP/PKG at tree (under .pkgdist/PKG) with one rename. */
static int
switch_link(struct dp_apply *a, const char *tree)
{
	char target[300];

	snprintf(target, sizeof(target), "%s/%s/%s", DP_META, a->pkg, tree);
	(void)unlinkat(a->pkgfd, DP_TMP_PREFIX "link", 0);
	if (io_symlink(target, a->pkgfd, DP_TMP_PREFIX "link") == -1) {
		if (err_errno() == EPERM || err_errno() == ENOTSUP ||
		    err_errno() == ENOSYS)
			err_prefix("the file system refuses symbolic links "
			    "(push with --inplace): ");
		return err_prefix("%s/%s: ", a->h->where, a->pkg);
	}
	if (io_rename(a->pkgfd, DP_TMP_PREFIX "link", a->h->rootfd,
	    a->pkg) == -1) {
		/* Say what the administrator can act on (the DP's own
		 * directory), not the name of the temporary link. */
		int e = err_errno();

		(void)unlinkat(a->pkgfd, DP_TMP_PREFIX "link", 0);
		return err_code(e, "cannot switch '%s/%s' to its new tree: "
		    "%s%s", a->h->where, a->pkg, strerror(e),
		    e == EACCES || e == EPERM || e == EROFS ?
		    " (the DP's directory must be writable)" : "");
	}
	if (io_fsync_dir(a->h->rootfd, a->h->where) == -1)
		return err_prefix("%s/%s: ", a->h->where, a->pkg);
	return 0;
}

/*
 * Record that DP/PKG now points at tree (version v): the state, with
 * tree most recently made live (make_live); with tidy, the trees beyond
 * keep removed first (prune), so the record names only trees kept.
 * DP/.pkgdist/PKG/manifest needs no change: it stands for the manifest
 * of whatever tree DP/PKG points at (dp_current_manifest(), called
 * before the switch).
 */
static int
finish_state(struct dp_apply *a, const char *tree, uint64_t v, bool tidy)
{
	a->st->layout = DP_LAYOUT_ATOMIC;
	a->st->status = DP_ST_COMPLETE;
	a->st->version = v;
	a->st->from = 0;
	free(a->st->error);
	a->st->error = NULL;
	if (make_live(a, tree) == -1)
		return err_prefix("%s: ", a->h->where);
	if (tidy)
		prune(a);
	return dp_state_write(a->h, a->pkg, a->st, &a->r->state_bytes);
}

/* ---- the spare tree (dppush.h: dp_push_after) ---- */

/*
 * Check that the tree in rootfd holds exactly the entries of m: each
 * directory (and the root) holds as many entries as m names under it,
 * each of them named in m with that type.  Files are not stat'ed here:
 * layout_build_tree() checks each one it keeps.  1 yes, 0 no (the spare
 * is not used), -1 on an error that is not the tree's.
 */
static int
spare_check(const struct manifest *m, int rootfd)
{
	struct dp_walk w;
	struct dirent *de;
	const struct entry *p;
	const char *base, *dir;
	size_t *cnt = NULL, i, k, dl;
	char *sl, *path = NULL;
	DIR *d;
	int pfd, fd, rc = 0;

	dp_walk_init(&w, rootfd);
	if ((cnt = calloc(m->n + 1, sizeof(*cnt))) == NULL ||
	    (path = malloc(MANIFEST_PATH_MAX + 2 + 256)) == NULL) {
		free(cnt);
		return err_sys("out of memory");
	}
	for (i = 0; i < m->n; i++) {
		const struct entry *e = &m->v[i];

		if ((sl = strrchr(e->path, '/')) == NULL) {
			cnt[m->n]++;
			continue;
		}
		/* A copy: m must stay sorted while it is searched. */
		memcpy(path, e->path, (size_t)(sl - e->path));
		path[sl - e->path] = '\0';
		p = manifest_find(m, path);
		if (p == NULL || p->type != ENTRY_DIR)
			goto out;
		cnt[p - m->v]++;
	}
	for (i = 0; i <= m->n; i++) {
		if (i < m->n && m->v[i].type != ENTRY_DIR)
			continue;
		dir = i < m->n ? m->v[i].path : NULL;
		if (dir == NULL)
			fd = openat(rootfd, ".", DIRFLAGS);
		else if (dp_walk_parent(&w, dir, &pfd, &base) == -1)
			goto out;
		else
			fd = openat(pfd, base, DIRFLAGS);
		if (fd == -1 || (d = fdopendir(fd)) == NULL) {
			if (fd != -1)
				close(fd);
			goto out;
		}
		dl = dir ? strlen(dir) : 0;
		k = 0;
		while ((de = readdir(d)) != NULL) {
			unsigned char want;

			if (strcmp(de->d_name, ".") == 0 ||
			    strcmp(de->d_name, "..") == 0)
				continue;
			k++;
			if (dl + 1 + strlen(de->d_name) > MANIFEST_PATH_MAX)
				break;
			if (dir != NULL) {
				memcpy(path, dir, dl);
				path[dl] = '/';
				strcpy(path + dl + 1, de->d_name);
			} else
				strcpy(path, de->d_name);
			if ((p = manifest_find(m, path)) == NULL)
				break;
			want = p->type == ENTRY_DIR ? DT_DIR :
			    p->type == ENTRY_LINK ? DT_LNK : DT_REG;
			if (de->d_type == DT_UNKNOWN) {
				struct stat sb;

				if (fstatat(dirfd(d), de->d_name, &sb,
				    AT_SYMLINK_NOFOLLOW) == -1 ||
				    (S_ISDIR(sb.st_mode) ? DT_DIR :
				    S_ISLNK(sb.st_mode) ? DT_LNK :
				    S_ISREG(sb.st_mode) ? DT_REG : 0) != want)
					break;
			} else if (de->d_type != want)
				break;
		}
		closedir(d);
		/* Every name known, none missing (names are unique). */
		if (de != NULL || k != cnt[i])
			goto out;
	}
	rc = 1;
out:
	dp_walk_free(&w);
	free(cnt);
	free(path);
	return rc;
}

/*
 * newfd holds a spare: a mirror of a->oldm.  Check it (spare_check), then
 * remove what the new version does not keep as it is: entries gone, or
 * changed in type, content, mode or mtime (files) or target (links).
 * have[i] is set for each entry of a->newm left in place.  1 done, 0 the
 * spare is not fit to use, -1 error.
 */
static int
spare_trim(struct dp_apply *a, int newfd, unsigned char *have,
    const char *where)
{
	const struct manifest *om = a->oldm, *nm = a->newm;
	struct dp_walk w;
	const char *base;
	size_t i;
	int pfd, k, rc = -1;

	if ((k = spare_check(om, newfd)) != 1)
		return k;
	dp_walk_init(&w, newfd);
	for (i = 0; i < om->n; i++) {
		const struct entry *o = &om->v[i], *e;
		bool keep;

		e = manifest_find(nm, o->path);
		keep = e != NULL && e->type == o->type;
		if (keep && o->type == ENTRY_FILE)
			keep = entry_same_content(o, e) && o->mode == e->mode &&
			    o->mtime == e->mtime;
		else if (keep && o->type == ENTRY_LINK)
			keep = strcmp(o->target, e->target) == 0;
		if (keep) {
			have[e - nm->v] = 1;
			continue;
		}
		/* Its directory may be gone already. */
		if (dp_walk_parent(&w, o->path, &pfd, &base) == -1) {
			if (err_errno() == ENOENT)
				continue;
			err_prefix("%s: ", where);
			goto out;
		}
		if ((o->type == ENTRY_DIR ? io_remove_tree(pfd, base) :
		    io_unlink(pfd, base, 0)) == -1 && err_errno() != ENOENT) {
			err_prefix("%s: ", where);
			goto out;
		}
	}
	rc = 1;
out:
	dp_walk_free(&w);
	return rc;
}

/* Fill the empty directory newfd with a mirror of the tree oldfd whose
 * manifest is m: directories and symbolic links made, files linked. */
static int
spare_fill(const struct manifest *m, int newfd, int oldfd, const char *where)
{
	struct dp_walk wn, wo;
	const char *base, *obase;
	size_t i;
	int pfd, opfd, rc = -1;

	dp_walk_init(&wn, newfd);
	dp_walk_init(&wo, oldfd);
	for (i = 0; i < m->n; i++) {
		const struct entry *e = &m->v[i];

		if (dp_walk_parent(&wn, e->path, &pfd, &base) == -1)
			goto fail;
		if (e->type == ENTRY_DIR) {
			if (io_mkdir(pfd, base, 0700) == -1)
				goto fail;
		} else if (e->type == ENTRY_LINK) {
			if (io_symlink(e->target, pfd, base) == -1 ||
			    layout_set_times(pfd, base, -1, e->mtime) == -1)
				goto fail;
		} else if (dp_walk_parent(&wo, e->path, &opfd, &obase) == -1 ||
		    io_link(opfd, obase, pfd, base) == -1)
			goto fail;
	}
	rc = 0;
	goto out;
fail:
	err_prefix("%s: ", where);
out:
	dp_walk_free(&wn);
	dp_walk_free(&wo);
	return rc;
}

/* Remove every spare.* and tmp.spare.* under pkgfd but keep. */
static bool
is_other_spare(const char *name, void *keep)
{
	return (strncmp(name, DP_SPARE_PREFIX, strlen(DP_SPARE_PREFIX)) == 0 ||
	    strncmp(name, DP_TMP_PREFIX DP_SPARE_PREFIX,
	    strlen(DP_TMP_PREFIX DP_SPARE_PREFIX)) == 0) &&
	    strcmp(name, keep) != 0;
}

static void
spare_sweep(int pkgfd, const char *keep)
{
	char **names;
	size_t n, i;

	if (io_list_names(pkgfd, is_other_spare, (void *)keep, &names, &n) ==
	    -1)
		return;
	for (i = 0; i < n; i++)
		(void)io_remove_tree(pkgfd, names[i]);
	io_names_free(names, n);
}

int
dp_push_after(struct dp_handle *h, const char *pkg, unsigned keep)
{
	struct dp_push_opts o;
	struct dp_push_result r;
	struct dp_apply a;
	struct dp_state st;
	struct manifest m;
	struct stat sb;
	char spare[80], tmp[96], where[4400], *lived = NULL;
	int pkgfd = -1, newfd = -1, oldfd = -1, rc = -1;
	bool made = false;

	dp_state_init(&st);
	manifest_init(&m);
	if (h->metafd == -1 || (pkgfd = openat(h->metafd, pkg, DIRFLAGS)) ==
	    -1)
		return err_sys("%s/%s/%s", h->where, DP_META, pkg);
	if (dp_state_read(h, pkg, &st, &m) == -1)
		goto out;
	if (st.layout != DP_LAYOUT_ATOMIC || st.status != DP_ST_COMPLETE ||
	    st.tree[0] == '\0') {
		rc = 0;
		goto out;
	}
	dp_push_opts_init(&o);
	o.keep = keep;
	memset(&r, 0, sizeof(r));
	memset(&a, 0, sizeof(a));
	a.h = h;
	a.pkg = pkg;
	a.pkgfd = pkgfd;
	a.o = &o;
	a.r = &r;
	a.st = &st;
	lived = st.lived != NULL ? strdup(st.lived) : NULL;
	prune(&a);
	/* The record names the trees kept only. */
	if (lived != NULL && st.lived != NULL && strcmp(lived, st.lived) != 0 &&
	    dp_state_write(h, pkg, &st, NULL) == -1)
		goto out;
	dp_gc_bases(&a);
	snprintf(spare, sizeof(spare), "%s%s", DP_SPARE_PREFIX, st.tree);
	snprintf(tmp, sizeof(tmp), "%s%s", DP_TMP_PREFIX, spare);
	snprintf(where, sizeof(where), "%s/%s/%s/%s", h->where, DP_META, pkg,
	    tmp);
	spare_sweep(pkgfd, spare);
	if (fstatat(pkgfd, spare, &sb, AT_SYMLINK_NOFOLLOW) == 0) {
		rc = 0;
		goto out;
	}
	if (io_mkdir(pkgfd, tmp, 0700) == -1) {
		err_prefix("%s: ", where);
		goto out;
	}
	made = true;
	if ((newfd = openat(pkgfd, tmp, DIRFLAGS)) == -1 ||
	    (oldfd = openat(pkgfd, st.tree, DIRFLAGS)) == -1) {
		err_sys("%s", where);
		goto out;
	}
	/* Durable before it is named a spare. */
	if (spare_fill(&m, newfd, oldfd, where) == -1 ||
	    layout_syncfs(newfd, where) == -1 ||
	    io_rename(pkgfd, tmp, pkgfd, spare) == -1 ||
	    io_fsync_dir(pkgfd, where) == -1)
		goto out;
	made = false;
	rc = 0;
out:
	if (made)
		layout_remove_quietly(pkgfd, tmp);
	if (newfd != -1)
		close(newfd);
	if (oldfd != -1)
		close(oldfd);
	close(pkgfd);
	dp_state_free(&st);
	manifest_free(&m);
	free(lived);
	return rc;
}

/* A push that fails before its switch: the old tree's files that
 * retime_file() gave a new mode and mtime get their old ones back. */
static void
retime_undo(struct dp_apply *a, int oldfd)
{
	const struct entry *e, *o;
	struct dp_walk w;
	const char *base;
	size_t i;
	int pfd, fd;

	dp_walk_init(&w, oldfd);
	for (i = 0; i < a->nretimed; i++) {
		e = &a->newm->v[a->retimed[i]];
		if ((o = manifest_find(a->oldm, e->path)) == NULL ||
		    dp_walk_parent(&w, e->path, &pfd, &base) == -1 ||
		    (fd = openat(pfd, base, O_RDONLY | O_NOFOLLOW |
		    O_NONBLOCK | O_CLOEXEC)) == -1)
			continue;
		(void)fchmod(fd, o->mode);
		(void)layout_set_times(pfd, base, fd, o->mtime);
		close(fd);
	}
	dp_walk_free(&w);
}

/*
 * After the switch: a kept tree whose file shares its inode with a file
 * retime_file() gave a new mode and mtime shows them too; its manifest
 * is written anew to say so (whole: a new base), so that a rollback to
 * it and `pkgdiff verify` of it stay right.  A failure is a warning.
 */
static void
retime_kept(struct dp_apply *a)
{
	char mname[DP_TREE_MAX + sizeof(DP_TREE_MANIFEST)];
	struct stat cur, old;
	struct tree *t = NULL;
	struct dp_walk wc, wt;
	struct manifest m;
	struct entry *x;
	const struct entry *e;
	const char *base;
	size_t nt = 0, i, j;
	int curfd = -1, tfd, pfd;
	bool changed;

	if (a->nretimed == 0 || list_trees(a->pkgfd, &t, &nt) == -1 ||
	    (curfd = openat(a->pkgfd, a->st->tree, DIRFLAGS)) == -1)
		goto out;
	dp_walk_init(&wc, curfd);
	for (i = 0; i < nt; i++) {
		if (strcmp(t[i].name, a->st->tree) == 0 ||
		    (tfd = openat(a->pkgfd, t[i].name, DIRFLAGS)) == -1)
			continue;
		dp_tree_manifest_name(t[i].name, mname);
		if (mdelta_load_at(a->pkgfd, mname, NULL, &m, NULL) == -1) {
			close(tfd);
			continue;
		}
		changed = false;
		dp_walk_init(&wt, tfd);
		for (j = 0; j < a->nretimed; j++) {
			e = &a->newm->v[a->retimed[j]];
			x = (struct entry *)manifest_find(&m, e->path);
			if (x == NULL || x->type != ENTRY_FILE ||
			    dp_walk_parent(&wc, e->path, &pfd, &base) == -1 ||
			    fstatat(pfd, base, &cur, AT_SYMLINK_NOFOLLOW) ==
			    -1 || dp_walk_parent(&wt, e->path, &pfd, &base) ==
			    -1 || fstatat(pfd, base, &old, AT_SYMLINK_NOFOLLOW) ==
			    -1 || cur.st_ino != old.st_ino ||
			    cur.st_dev != old.st_dev)
				continue;
			if (x->mode != e->mode || x->mtime != e->mtime) {
				x->mode = e->mode;
				x->mtime = e->mtime;
				changed = true;
			}
		}
		dp_walk_free(&wt);
		close(tfd);
		if (changed && mdelta_save_at(a->pkgfd, mname, NULL, &m, NULL,
		    &a->r->state_bytes) == -1)
			snprintf(a->r->warning, sizeof(a->r->warning),
			    "%s/%s/%s: %s", a->h->where, DP_META, a->pkg,
			    err_get());
		manifest_free(&m);
	}
	dp_walk_free(&wc);
out:
	if (curfd != -1)
		close(curfd);
	free(t);
}

int
layout_atomic_apply(struct dp_apply *a)
{
	char tmp[64], tree[64], mname[80], where[4400], spare[96];
	uint64_t v = a->newm->version;
	unsigned char *have = NULL;
	struct stat st;
	unsigned k;
	int newfd = -1, oldfd = -1, slot = -1, rc = -1, fit;
	bool built = false, switched = false;

	if (fstatat(a->h->rootfd, a->pkg, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
	    !S_ISLNK(st.st_mode))
		return err_set("%s/%s: not a link (held in place?): "
		    "refusing to replace it", a->h->where, a->pkg);
	snprintf(tmp, sizeof(tmp), "%s%" PRIu64 ".%ld", DP_TMP_PREFIX, v,
	    (long)getpid());
	snprintf(where, sizeof(where), "%s/%s/%s/%s", a->h->where, DP_META,
	    a->pkg, tmp);
	/* A spare of the old tree (dp_push_after) becomes the new tree:
	 * only what changed is done.  Not with --verify or after a partial
	 * push: the spare mirrors the recorded manifest, not a scan. */
	snprintf(spare, sizeof(spare), "%s%s", DP_SPARE_PREFIX, a->st->tree);
	if (a->r->held && a->st->tree[0] && !a->o->verify &&
	    a->st->status == DP_ST_COMPLETE && a->newm->n > 0 &&
	    fstatat(a->pkgfd, spare, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
	    S_ISDIR(st.st_mode) && io_rename(a->pkgfd, spare, a->pkgfd,
	    tmp) == 0) {
		built = true;
		if ((have = calloc(a->newm->n, 1)) == NULL) {
			err_sys("out of memory");
			goto out;
		}
		if ((newfd = openat(a->pkgfd, tmp, DIRFLAGS)) == -1) {
			err_sys("%s", where);
			goto out;
		}
		if ((fit = spare_trim(a, newfd, have, where)) == -1)
			goto out;
		if (fit == 0) {
			/* Not a mirror of the old tree: start afresh. */
			close(newfd);
			newfd = -1;
			free(have);
			have = NULL;
			if (io_remove_tree(a->pkgfd, tmp) == -1) {
				err_prefix("%s: ", a->h->where);
				goto out;
			}
			built = false;
		}
	}
	if (have == NULL) {
		if (io_mkdir(a->pkgfd, tmp, 0700) == -1) {
			err_prefix("%s: ", a->h->where);
			goto out;
		}
		built = true;
		/* Not tracked for signals (a tree); the next run removes
		 * it. */
		if ((newfd = openat(a->pkgfd, tmp, DIRFLAGS)) == -1) {
			err_sys("%s", where);
			goto out;
		}
	}
	if (a->r->held && a->st->tree[0] &&
	    (oldfd = openat(a->pkgfd, a->st->tree, DIRFLAGS)) == -1) {
		err_sys("%s/%s/%s/%s", a->h->where, DP_META, a->pkg,
		    a->st->tree);
		goto out;
	}
	a->r->from_spare = have != NULL;
	if (layout_build_tree(a, newfd, oldfd, where, have) == -1)
		goto out;
	/* Durable before visible. */
	if (layout_syncfs(newfd, where) == -1)
		goto out;
	for (k = 1;; k++) {
		snprintf(tree, sizeof(tree), "v%" PRIu64 ".%u", v, k);
		snprintf(mname, sizeof(mname), "%s.manifest", tree);
		if (fstatat(a->pkgfd, tree, &st, AT_SYMLINK_NOFOLLOW) == -1 &&
		    errno == ENOENT &&
		    fstatat(a->pkgfd, mname, &st, AT_SYMLINK_NOFOLLOW) ==
		    -1 && errno == ENOENT)
			break;
	}
	if (dp_save_manifest(a, mname) == -1)
		goto out;
	if (io_rename(a->pkgfd, tmp, a->pkgfd, tree) == -1 ||
	    io_fsync_dir(a->pkgfd, where) == -1) {
		err_prefix("%s: ", a->h->where);
		(void)unlinkat(a->pkgfd, mname, 0);
		goto out;
	}
	built = false;
	atomic_untrack(slot);
	slot = -1;
	/* Before the switch: the pointer is right for either tree. */
	if (dp_current_manifest(a->h, a->pkg, a->pkgfd,
	    &a->r->state_bytes) == -1 || switch_link(a, tree) == -1) {
		char target[300];

		/* Never live: it goes (and can never count as kept).  A
		 * switch done but not made durable keeps it. */
		snprintf(target, sizeof(target), "%s/%s/%s", DP_META, a->pkg,
		    tree);
		if (link_says(a->h->rootfd, a->pkg, target))
			switched = true;
		else
			remove_tree_quietly(a->pkgfd, tree);
		goto out;
	}
	switched = true;
	/* The switch is done: from here a failure is only a warning. */
	rc = 0;
	if (finish_state(a, tree, v, !a->o->defer_tidy) == -1)
		rc = -1;
	retime_kept(a);
	if (!a->o->defer_tidy)
		dp_gc_bases(a);
out:
	if (rc == -1 && !switched && oldfd != -1)
		retime_undo(a, oldfd);
	free(a->retimed);
	a->retimed = NULL;
	a->nretimed = 0;
	free(have);
	if (newfd != -1)
		close(newfd);
	if (oldfd != -1)
		close(oldfd);
	if (built) {
		if (a->r->failed_errno == 0)
			a->r->failed_errno = err_errno();
		layout_remove_quietly(a->pkgfd, tmp);
	}
	if (slot != -1)
		atomic_untrack(slot);
	return rc;
}

int
layout_atomic_finish(struct dp_apply *a)
{
	if (dp_current_manifest(a->h, a->pkg, a->pkgfd,
	    &a->r->state_bytes) == -1)
		return -1;
	if (!a->st->stale)
		return 0;
	if (!a->o->defer_tidy)
		prune(a);
	if (dp_state_write(a->h, a->pkg, a->st, &a->r->state_bytes) == -1)
		return -1;
	a->st->stale = false;
	dp_gc_bases(a);
	return 0;
}

int
layout_atomic_kept(struct dp_apply *a, uint64_t v, char *name, size_t len)
{
	struct tree *t = NULL;
	struct manifest m;
	char mname[80];
	struct stat st;
	size_t n = 0, i;
	int rc = 0;

	if (list_trees(a->pkgfd, &t, &n) == -1)
		return -1;
	if (n > 0)	/* t is NULL when there is no tree */
		qsort(t, n, sizeof(*t), tree_cmp_desc);
	for (i = 0; i < n; i++) {
		if (t[i].v != v)
			continue;
		snprintf(mname, sizeof(mname), "%s.manifest", t[i].name);
		if (fstatat(a->pkgfd, mname, &st, AT_SYMLINK_NOFOLLOW) == -1 ||
		    !S_ISREG(st.st_mode))
			continue;
		/* Its manifest (a delta and its base) must read, or the DP
		 * would be left at a state nobody can load: a damaged one
		 * is passed over (the version is then built afresh). */
		manifest_init(&m);
		if (mdelta_load_at(a->pkgfd, mname, NULL, &m, NULL) == -1)
			continue;
		manifest_free(&m);
		snprintf(name, len, "%s", t[i].name);
		rc = 1;
		break;
	}
	free(t);
	return rc;
}

int
layout_atomic_rollback(struct dp_apply *a, uint64_t v)
{
	char tree[64];
	int k;

	if ((k = layout_atomic_kept(a, v, tree, sizeof(tree))) != 1)
		return k;
	if (dp_current_manifest(a->h, a->pkg, a->pkgfd,
	    &a->r->state_bytes) == -1 || switch_link(a, tree) == -1 ||
	    finish_state(a, tree, v, false) == -1)
		return -1;
	dp_gc_bases(a);
	return 1;
}
