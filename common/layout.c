/*
 * layout.c — what the layouts share (layout.h): the tree builder (a
 * plan of where each file comes from, then the entries made, the files
 * written by a few threads), and the helpers for files, directories and
 * the DP's manifest.
 *
 * _GNU_SOURCE: syncfs(2), sync_file_range(2).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <linux/fs.h>

#include "checked.h"
#include "chunk.h"
#include "digest.h"
#include "dp.h"
#include "err.h"
#include "fault.h"
#include "io.h"
#include "layout.h"
#include "manifest.h"
#include "mdelta.h"
#include "progress.h"
#include "workq.h"

#define COPYBUF (256 * 1024)

enum action {
	ACT_NONE,
	ACT_LINK,
	ACT_COPYOLD,
	ACT_SOURCE,
	ACT_KEEP,
	ACT_RETIME
};

void
layout_remove_quietly(int dirfd, const char *name)
{
	struct err_saved failure = ERR_SAVED_INIT;

	err_save(&failure);
	(void)io_remove_tree(dirfd, name);
	err_restore(&failure);
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
static void
start_writeback(int fd)
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
		start_writeback(fd);
	return 0;
}

/*
 * Copy the regular file base under olddir into fd, checking it has e's
 * digest and size (the DP's own copy may have drifted).
 */
static int
copy_old(int olddir, const char *base, const struct entry *e, int fd,
    const char *what, uint64_t *bytes)
{
	enum checked_fault fault;
	struct stat st;
	char *buf = NULL;
	int in, rc = -1;

	if ((in = openat(olddir, base,
		 O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC)) == -1)
		return err_sys("%s", what);
	if (fstat(in, &st) == -1 || !S_ISREG(st.st_mode)) {
		err_set("%s: not a regular file in the old tree", what);
		goto out;
	}
	if ((buf = malloc(COPYBUF)) == NULL) {
		err_nomem();
		goto out;
	}
	if (checked_copy_fd(in, what, buf, COPYBUF, e->digest, e->size, fd,
		what, &fault) == -1) {
		if (fault == CHECKED_CONTENT)
			err_set("%s: the DP's old copy has drifted from its "
				"manifest (run with --verify)",
			    what);
		goto out;
	}
	*bytes += e->size;
	rc = 0;
out:
	free(buf);
	close(in);
	return rc;
}

/* Create a file for e under dir as name, fill it, set mode and mtime;
 * *bytes and *shared (the calling thread's own) count what was written
 * and what was shared with old.  old is the old tree's file for a copy
 * of it (ACT_COPYOLD), else the old copy to share with, or NULL.  Safe
 * to call from several threads when the source allows it: it changes
 * nothing shared (layout_write_content). */
static int
make_file(struct layout_push *a, int dir, const char *name,
    const struct entry *e, enum action act, const struct layout_old *old,
    const char *what, uint64_t *bytes, uint64_t *shared, uint64_t *ino)
{
	struct stat st;
	int fd, rc = -1;

	/* Read and write: a file made sharing blocks is read back. */
	if ((fd = openat(dir, name,
		 O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600)) ==
	    -1)
		return err_sys("%s", what);
	if (act == ACT_COPYOLD) {
		if (copy_old(old->dir, old->name, e, fd, what, bytes) == -1)
			goto out;
	} else if (layout_write_content(a, e, old, fd, what, bytes, shared) ==
	    -1)
		goto out;
	if (layout_finish_file(dir, name, fd, e, what) == -1)
		goto out;
	if (ino != NULL)
		*ino = fstat(fd, &st) == 0 ? (uint64_t)st.st_ino : 0;
	rc = 0;
out:
	close(fd);
	return rc;
}

int
layout_fix_dirs(int rootfd, const struct manifest *m, const unsigned char *only,
    const char *where)
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
		if ((fd = openat(pfd, base, LAYOUT_DIRFLAGS)) == -1) {
			err_sys("%s",
			    dp_what(where, e->path, what, sizeof(what)));
			goto out;
		}
		if (fchmod(fd, e->mode) == -1 ||
		    layout_set_times(pfd, base, fd, e->mtime) == -1) {
			err_sys("%s",
			    dp_what(where, e->path, what, sizeof(what)));
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
 * writer threads (workq items: idx[k] for item k). */
struct writers {
	struct layout_push *a;
	const unsigned char *act;
	const size_t *idx; /* entries of a->newm, in order */
	size_t n, start;   /* idx's length; the first written
			    * (dp_push_opts.stagger) */
	int newfd, oldfd;
	const char *where;
	uint64_t bytes, shared; /* the writers' totals, folded by
				 * writer_end */
};

/* One writer thread's own: the walks that keep its parent directories
 * open, its message buffer, the bytes it wrote and shared. */
struct writer {
	struct dp_walk wn, wo;
	char *what;
	size_t wl;
	uint64_t bytes, shared;
};

static int
writer_begin(void *ctx, void **local)
{
	const struct writers *w = ctx;
	struct writer *t;

	if ((t = calloc(1, sizeof(*t))) == NULL)
		return err_nomem();
	t->wl = strlen(w->where) + PATH_SHOW_LEN + 2;
	if ((t->what = malloc(t->wl)) == NULL) {
		free(t);
		return err_nomem();
	}
	dp_walk_init(&t->wn, w->newfd);
	dp_walk_init(&t->wo, w->oldfd);
	*local = t;
	return 0;
}

static int
writer_item(void *ctx, void *local, size_t k)
{
	const struct writers *w = ctx;
	struct writer *t = local;
	size_t i = w->idx[(w->start + k) % w->n];
	const struct entry *e = &w->a->newm->v[i];
	struct layout_old old = { NULL, -1, NULL };
	const char *base;
	int pfd;
	/* Read once: the old tree's parent is looked up only for a copy
	 * from it or an old copy to share blocks with, and make_file must
	 * see the same action. */
	enum action act = w->act[i];

	dp_what(w->where, e->path, t->what, t->wl);
	if (dp_walk_parent(&t->wn, e->path, &pfd, &base) == -1 ||
	    (act == ACT_COPYOLD &&
		dp_walk_parent(&t->wo, e->path, &old.dir, &old.name) == -1))
		return err_prefix("%s: ", w->where);
	/* An old copy whose directory is gone: none to share. */
	if (act == ACT_SOURCE && w->oldfd != -1 &&
	    (old.e = layout_share_base(w->a, e)) != NULL &&
	    dp_walk_parent(&t->wo, e->path, &old.dir, &old.name) == -1)
		old.e = NULL;
	/* Each writer sets the number of the entries it writes only. */
	if (make_file(w->a, pfd, base, e, act,
		act == ACT_COPYOLD || old.e != NULL ? &old : NULL, t->what,
		&t->bytes, &t->shared, w->a->ino ? &w->a->ino[i] : NULL) == -1)
		return -1;
	if (w->a->o->progress)
		progress_add(w->a->o->progress, 1, e->size);
	return 0;
}

/* In the calling thread, after every writer stopped (workq.h). */
static void
writer_end(void *ctx, void *local)
{
	struct writers *w = ctx;
	struct writer *t = local;

	w->bytes += t->bytes;
	w->shared += t->shared;
	free(t->what);
	dp_walk_free(&t->wn);
	dp_walk_free(&t->wo);
	free(t);
}

/* Write the files idx[0..n) with o->write_threads threads (this one
 * included); the first failure stops the rest. */
static int
write_files(struct layout_push *a, const unsigned char *act, const size_t *idx,
    size_t n, int newfd, int oldfd, const char *where)
{
	static const struct workq_ops ops = { writer_begin, writer_item,
		writer_end };
	struct writers w = { a, act, idx, n, 0, newfd, oldfd, where, 0, 0 };
	int nt = a->o->write_threads, rc;

	if (a->o->staggers > 1 && a->o->stagger < a->o->staggers &&
	    (a->src == NULL || a->src->prepare == NULL))
		w.start =
		    (size_t)((uint64_t)n * a->o->stagger / a->o->staggers);

	if (nt > LAYOUT_WRITERS_MAX)
		nt = LAYOUT_WRITERS_MAX;
	if ((size_t)nt > n / 4)
		nt = (int)(n / 4); /* threads only pay on many files */
	rc = workq_run_ops(n, nt, &ops, &w);
	a->r->bytes += w.bytes;
	a->r->bytes_shared += w.shared;
	if (rc == -1)
		a->r->failed_errno = err_errno();
	return rc;
}

bool
layout_link_says(int dirfd, const char *name, const char *target)
{
	char buf[MANIFEST_PATH_MAX + 1];
	ssize_t n;

	n = readlinkat(dirfd, name, buf, sizeof(buf));
	return n >= 0 && (size_t)n == strlen(target) &&
	    memcmp(buf, target, (size_t)n) == 0;
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
 * puts the old ones back (layout_retime_undo), and after the switch the
 * manifests of the kept trees that share the inode are made to say so
 * (the atomic layout).  1 done, 0 neither works here (the caller copies), -1
 * with err set.
 */
static int
retime_file(struct layout_push *a, size_t i, int opfd, const char *obase,
    int pfd, const char *base, const char *what)
{
	const struct entry *e = &a->newm->v[i];
	int ofd, nfd, rc;

#ifdef FICLONE
	if ((ofd = openat(opfd, obase,
		 O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC)) == -1)
		return err_sys("%s", what);
	if ((nfd = openat(pfd, base,
		 O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600)) ==
	    -1) {
		close(ofd);
		return err_sys("%s", what);
	}
	if (ioctl(nfd, FICLONE, ofd) == 0) {
		if (a->ino != NULL)
			a->ino[i] = 0; /* a new inode */
		rc = layout_finish_file(pfd, base, nfd, e, what);
		close(nfd);
		close(ofd);
		return rc == -1 ? -1 : 1;
	}
	rc = errno;
	close(nfd);
	close(ofd);
	(void)unlinkat(pfd, base, 0);
	if (!io_cannot_share(rc)) {
		errno = rc;
		return err_sys("cannot clone '%s'", what);
	}
#endif
	if (io_link(opfd, obase, pfd, base) == -1) {
		if (io_cannot_share(err_errno()))
			return 0;
		return err_prefix("%s: ", what);
	}
	if (a->retimed == NULL &&
	    (a->retimed = calloc(a->newm->n, sizeof(*a->retimed))) == NULL)
		return err_nomem();
	a->retimed[a->nretimed++] = i;
	if ((nfd = openat(pfd, base,
		 O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC)) == -1)
		return err_sys("%s", what);
	if (fchmod(nfd, e->mode) == -1 ||
	    layout_set_times(pfd, base, nfd, e->mtime) == -1) {
		close(nfd);
		return err_sys("%s", what);
	}
	close(nfd);
	return 1;
}

void
layout_retime_undo(struct layout_push *a, int oldfd)
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
		    (fd = openat(pfd, base,
			 O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC)) == -1)
			continue;
		(void)fchmod(fd, o->mode);
		(void)layout_set_times(pfd, base, fd, o->mtime);
		close(fd);
	}
	dp_walk_free(&w);
}

/* A tree build: the plan (an action per entry of a->newm) and where it
 * stands. */
struct build {
	struct layout_push *a;
	int newfd, oldfd;
	const char *where;
	const unsigned char *have; /* in the spare already, or NULL */
	struct dp_walk wn, wo;	   /* in the new tree, the old one */
	unsigned char *act;	   /* enum action, per entry */
	size_t *idx, nidx;	   /* the files the writers write */
	char what[4400];
};

/*
 * Plan entry i, a file: keep it (in the spare and still right), link it
 * to the old tree's file (the same content, the old file still what its
 * manifest says), retime such a link, or take its content from the
 * source (then it is added to needs).  0, or -1 with err set.
 */
static int
plan_file(struct build *b, size_t i, struct dp_need *needs, size_t *nneed)
{
	const struct entry *e = &b->a->newm->v[i], *o;
	const char *base, *obase;
	struct stat st;
	int pfd, opfd;

	b->act[i] = ACT_SOURCE;
	if (b->have != NULL && b->have[i]) {
		/* In the spare: a link to the old tree's file, which must
		 * still be what its manifest says. */
		if (dp_walk_parent(&b->wn, e->path, &pfd, &base) == -1)
			return err_prefix("%s: ", b->where);
		if (fstatat(pfd, base, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
		    S_ISREG(st.st_mode) && (uint64_t)st.st_size == e->size &&
		    (st.st_mode & 07777) == e->mode &&
		    (int64_t)st.st_mtime == e->mtime) {
			b->act[i] = ACT_KEEP;
			b->a->ino[i] = (uint64_t)st.st_ino;
			return 0;
		}
		dp_what(b->where, e->path, b->what, sizeof(b->what));
		if (io_unlink(pfd, base, 0) == -1 && err_errno() != ENOENT)
			return err_prefix("%s: ", b->what);
	} else if (b->oldfd != -1 &&
	    (o = manifest_find(b->a->oldm, e->path)) != NULL &&
	    entry_same_content(o, e) &&
	    dp_walk_parent(&b->wo, e->path, &opfd, &obase) == 0 &&
	    fstatat(opfd, obase, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
	    S_ISREG(st.st_mode) && (uint64_t)st.st_size == e->size &&
	    (st.st_mode & 07777) == o->mode &&
	    (int64_t)st.st_mtime == o->mtime) {
		/* The old file is still what its manifest says; if only its
		 * mode or mtime changed, no byte is written. */
		b->act[i] = o->mode != e->mode || o->mtime != e->mtime ?
		    ACT_RETIME :
		    ACT_LINK;
		/* The new tree's file once linked (a copy or a clone
		 * instead sets its own, make_file() or retime_file()). */
		b->a->ino[i] = (uint64_t)st.st_ino;
		return 0;
	}
	memcpy(needs[*nneed].digest, e->digest, DIGEST_LEN);
	needs[*nneed].size = e->size;
	(*nneed)++;
	return 0;
}

/* Make file i under pfd as base by its plan, without writing content:
 * kept, retimed or linked (then counted linked), or queued for the
 * writers (a copy of the old file where the file system cannot link). */
static int
make_file_entry(struct build *b, size_t i, int pfd, const char *base)
{
	const struct entry *e = &b->a->newm->v[i];
	const char *obase;
	int opfd, k;

	if (b->act[i] == ACT_KEEP) {
		b->a->r->linked++;
		return 0;
	}
	if (b->act[i] == ACT_RETIME) {
		if (dp_walk_parent(&b->wo, e->path, &opfd, &obase) == -1 ||
		    (k = retime_file(b->a, i, opfd, obase, pfd, base,
			 b->what)) == -1)
			return -1;
		if (k == 1) {
			b->a->r->linked++;
			return 0;
		}
		b->act[i] = ACT_COPYOLD;
	}
	if (b->act[i] == ACT_LINK) {
		if (dp_walk_parent(&b->wo, e->path, &opfd, &obase) == -1)
			return -1;
		if (io_link(opfd, obase, pfd, base) == 0) {
			b->a->r->linked++;
			return 0;
		}
		/* A share without hard links: copy. */
		if (err_errno() != EPERM && err_errno() != EMLINK &&
		    err_errno() != ENOTSUP && err_errno() != EXDEV)
			return err_prefix("%s: ", b->where);
		b->act[i] = ACT_COPYOLD;
	}
	/* Written next, by the writers, in this order. */
	b->idx[b->nidx++] = i;
	return 0;
}

/* Make entry i of a->newm in the new tree (directories, links, files
 * linked; contents are left to the writers). */
static int
make_entry(struct build *b, size_t i)
{
	const struct entry *e = &b->a->newm->v[i];
	bool had = b->have != NULL && b->have[i];
	const char *base;
	int pfd;

	dp_what(b->where, e->path, b->what, sizeof(b->what));
	if (dp_walk_parent(&b->wn, e->path, &pfd, &base) == -1)
		return err_prefix("%s: ", b->where);
	switch (e->type) {
	case ENTRY_DIR:
		if (!had && io_mkdir(pfd, base, 0700) == -1)
			return err_prefix("%s: ", b->where);
		break;
	case ENTRY_LINK:
		/* A spare's links are its own (made, not linked), and kept
		 * only when they still say the target. */
		if ((!had || !layout_link_says(pfd, base, e->target)) &&
		    ((had && io_unlink(pfd, base, 0) == -1) ||
			io_symlink(e->target, pfd, base) == -1))
			return err_prefix("%s: ", b->where);
		if (layout_set_times(pfd, base, -1, e->mtime) == -1)
			return err_sys("%s", b->what);
		break;
	case ENTRY_FILE:
		return make_file_entry(b, i, pfd, base);
	}
	return 0;
}

int
layout_build_tree(struct layout_push *a, int newfd, int oldfd,
    const char *where, const unsigned char *have)
{
	const struct manifest *nm = a->newm;
	struct dp_need *needs = NULL;
	struct build b;
	size_t i, nneed = 0;
	int rc = -1;

	memset(&b, 0, sizeof(b));
	b.a = a;
	b.newfd = newfd;
	b.oldfd = oldfd;
	b.where = where;
	b.have = have;
	dp_walk_init(&b.wn, newfd);
	dp_walk_init(&b.wo, oldfd);
	free(a->ino);
	a->ino = NULL;
	if (nm->n &&
	    ((a->ino = calloc(nm->n, sizeof(*a->ino))) == NULL ||
		(b.act = calloc(nm->n, 1)) == NULL ||
		(needs = malloc(nm->n * sizeof(*needs))) == NULL ||
		(b.idx = malloc(nm->n * sizeof(*b.idx))) == NULL)) {
		err_nomem();
		goto out;
	}
	/* Plan: which files come from the old tree; the source is told
	 * the rest at once. */
	for (i = 0; i < nm->n; i++)
		if (nm->v[i].type == ENTRY_FILE &&
		    plan_file(&b, i, needs, &nneed) == -1)
			goto out;
	if (a->src && a->src->prepare &&
	    a->src->prepare(a->src->ctx, needs, nneed) == -1)
		goto out;
	for (i = 0; i < nm->n; i++)
		if (make_entry(&b, i) == -1)
			goto out;
	dp_walk_free(&b.wn);
	dp_walk_free(&b.wo);
	if (write_files(a, b.act, b.idx, b.nidx, newfd, oldfd, where) == -1 ||
	    layout_fix_dirs(newfd, nm, NULL, where) == -1)
		goto out;
	rc = 0;
out:
	dp_walk_free(&b.wn);
	dp_walk_free(&b.wo);
	free(b.act);
	free(needs);
	free(b.idx);
	return rc;
}

/* ---- the DP's manifest, contents ---- */

int
layout_save_manifest(struct layout_push *a, const char *name)
{
	if (mdelta_save_at(a->pkgfd, name, a->loaded, a->newm, a->base,
		&a->r->state_bytes) == -1)
		return err_prefix("%s/%s/%s: ", a->h->where, DP_META, a->pkg);
	return 0;
}

const struct entry *
layout_share_base(const struct layout_push *a, const struct entry *e)
{
	const struct entry *o;

	if (a->src == NULL || a->src->write_shared == NULL ||
	    e->type != ENTRY_FILE || e->size <= CHUNK_THRESHOLD ||
	    (o = manifest_find(a->oldm, e->path)) == NULL ||
	    o->type != ENTRY_FILE || o->size <= CHUNK_THRESHOLD ||
	    entry_same_content(o, e))
		return NULL;
	return o;
}

int
layout_write_content(const struct layout_push *a, const struct entry *e,
    const struct layout_old *old, int fd, const char *what, uint64_t *bytes,
    uint64_t *shared)
{
	uint64_t n = 0;
	int ofd, rc;

	if (a->src == NULL || a->src->write == NULL)
		return err_set("%s: no content source", what);
	/* An old copy that is gone or not a plain file: nothing to share,
	 * and no failure (the new content is written whole). */
	if (old != NULL && old->e != NULL && a->src->write_shared != NULL &&
	    (ofd = openat(old->dir, old->name,
		 O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC)) != -1) {
		rc = a->src->write_shared(a->src->ctx, e->digest, e->size, ofd,
		    old->e, fd, what, &n);
		close(ofd);
		if (rc == -1)
			return -1;
		if (n > e->size)
			n = e->size;
		*bytes += n;
		*shared += e->size - n;
		return 0;
	}
	if (a->src->write(a->src->ctx, e->digest, e->size, fd, what) == -1)
		return -1;
	*bytes += e->size;
	return 0;
}

void
layout_gc_bases(struct layout_push *a)
{
	if (mdelta_gc(a->pkgfd) == -1)
		snprintf(a->r->warning, sizeof(a->r->warning), "%s/%s/%s: %s",
		    a->h->where, DP_META, a->pkg, err_get());
}
