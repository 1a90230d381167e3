/*
 * layout_inplace.c — the in-place layout: DP/PKG is a plain directory,
 * for shares that cannot hold links.
 *
 * A first install is built as a complete tree under .pkgdist/PKG/ and
 * renamed to DP/PKG (clients never see it half there).  A refresh:
 *
 *   0. state "partial from M" is written before anything is touched, so
 *      a crash leaves a record that the next push must scan the DP;
 *   1. every added or changed file or link is written under a temporary
 *      name in its own directory (new directories created), verified as
 *      written; then one sync; a failure here (no space, I/O error)
 *      removes the temporaries: the DP is still at its old version;
 *   2. each temporary is renamed over its target, unless the target is
 *      in use: another process holds a flock or fcntl lock on it, or the
 *      system refuses the rename (immutable file: EPERM); such a file is
 *      left untouched; mode/mtime-only changes are applied without
 *      opening any file for writing;
 *   3. only when every replacement succeeded: deletions (deepest first),
 *      then entries whose type changed (file to directory...);
 *   4. directory modes and mtimes, sync, manifest and state "complete".
 * If some file was in use, the push fails with EBUSY after step 2: the
 * DP is partly at the new version (state "partial"), nothing deleted.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "changes.h"
#include "dp.h"
#include "err.h"
#include "io.h"
#include "layout.h"
#include "manifest.h"
#include "mdelta.h"
#include "progress.h"

/* Per change: which phase, and the temporary written for it. */
enum { PH_NONE, PH_WRITE, PH_META, PH_DELETE, PH_LATE };

struct plan {
	struct layout_push *a;
	struct change_list cl;
	unsigned char *phase; /* per change */
	unsigned *tmpid;      /* per change: 0 none, else N */
	char **typechg;	      /* sorted paths whose type changed */
	size_t ntypechg;
	long pid;	  /* in temporary names: asked once */
	uint64_t from;	  /* the version the DP was at */
	int root;	  /* DP/PKG */
	struct dp_walk w; /* in DP/PKG */
	unsigned id;	  /* the last temporary's N */
	bool touched;	  /* something replaced or removed */
	char *firstbusy;  /* the first file in use, or NULL */
	char where[4400], what[8600];
};

static int
cmpstrp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Is path, or one of its parents, a path whose type changes? */
static bool
under_typechange(const struct plan *p, const char *path)
{
	char buf[MANIFEST_PATH_MAX + 1];
	const char *key = buf;
	char *s;

	if (p->ntypechg == 0)
		return false;
	snprintf(buf, sizeof(buf), "%s", path);
	for (;;) {
		if (bsearch(&key, p->typechg, p->ntypechg, sizeof(char *),
			cmpstrp) != NULL)
			return true;
		if ((s = strrchr(buf, '/')) == NULL)
			return false;
		*s = '\0';
	}
}

static void
tmpname(char *buf, size_t n, long pid, unsigned id)
{
	snprintf(buf, n, "%s%ld-%u", DP_INPLACE_TMP, pid, id);
}

/*
 * Is the file base under dir in use?  1 yes, 0 no, -1 error.  It is
 * opened read-only, non-blocking: never for writing.
 */
static int
in_use(int dir, const char *base)
{
	struct flock fl;
	int fd, busy = 0;

	if ((fd = openat(dir, base,
		 O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC | O_NOCTTY)) ==
	    -1) {
		if (errno == ENOENT || errno == ELOOP)
			return 0;
		return -1;
	}
	memset(&fl, 0, sizeof(fl));
	fl.l_type = F_WRLCK;
	fl.l_whence = SEEK_SET;
	if (fcntl(fd, F_GETLK, &fl) == 0 && fl.l_type != F_UNLCK)
		busy = 1;
	if (!busy) {
		if (flock(fd, LOCK_EX | LOCK_NB) == -1) {
			if (errno == EWOULDBLOCK)
				busy = 1;
		} else
			(void)flock(fd, LOCK_UN);
	}
	close(fd);
	return busy;
}

/* Write the temporary for entry e (file or link) under dir; oldbase
 * (NULL: none) is the file it replaces there, whose blocks it may
 * share. */
static int
write_tmp(struct layout_push *a, int dir, const char *tmp,
    const struct entry *e, const char *oldbase, const char *what)
{
	struct layout_old old;
	int fd, rc = -1;

	if (e->type == ENTRY_LINK) {
		if (io_symlink(e->target, dir, tmp) == -1)
			return err_prefix("%s: ", what);
		if (layout_set_times(dir, tmp, -1, e->mtime) == -1)
			return err_sys("%s", what);
		return 0;
	}
	old.e = oldbase != NULL ? layout_share_base(a, e) : NULL;
	old.dir = dir;
	old.name = oldbase;
	/* Read and write: a file made sharing blocks is read back. */
	if ((fd = openat(dir, tmp,
		 O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600)) ==
	    -1)
		return err_sys("%s", what);
	if (layout_write_content(a, e, old.e != NULL ? &old : NULL, fd, what,
		&a->r->bytes, &a->r->bytes_shared) == -1 ||
	    layout_finish_file(dir, tmp, fd, e, what) == -1)
		goto out;
	rc = 0;
out:
	close(fd);
	return rc;
}

/* Apply a mode/mtime change without opening anything for writing. */
static int
apply_meta(int dir, const char *base, const struct entry *e, const char *what)
{
	struct stat st;
	int fd;

	if (e->type == ENTRY_LINK) {
		if (layout_set_times(dir, base, -1, e->mtime) == -1)
			return err_sys("%s", what);
		return 0;
	}
	if (e->type == ENTRY_DIR)
		return 0; /* all directories are fixed at the end */
	if ((fd = openat(dir, base,
		 O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC | O_NOCTTY)) ==
	    -1)
		return err_sys("%s", what);
	if (fstat(fd, &st) == -1 || !S_ISREG(st.st_mode)) {
		close(fd);
		return err_set("%s: not a regular file", what);
	}
	if (fchmod(fd, e->mode) == -1 ||
	    layout_set_times(dir, base, fd, e->mtime) == -1) {
		close(fd);
		return err_sys("%s", what);
	}
	close(fd);
	return 0;
}

/* Create entry e directly (late phase: its old path is gone). */
static int
create_direct(struct layout_push *a, int dir, const char *base,
    const struct entry *e, long pid, unsigned id, const char *what)
{
	char tmp[64];

	if (e->type == ENTRY_DIR) {
		if (io_mkdir(dir, base, 0700) == -1 && err_errno() != EEXIST)
			return err_prefix("%s: ", what);
		return 0;
	}
	tmpname(tmp, sizeof(tmp), pid, id);
	if (write_tmp(a, dir, tmp, e, NULL, what) == -1) {
		(void)unlinkat(dir, tmp, 0);
		return -1;
	}
	if (io_rename(dir, tmp, dir, base) == -1) {
		(void)unlinkat(dir, tmp, 0);
		return err_prefix("%s: ", what);
	}
	return 0;
}

/* Remove the temporaries of phase 1 still there (after a failure). */
static void
drop_tmps(struct plan *p)
{
	struct dp_walk w;
	const char *base;
	char tmp[64];
	size_t i;
	int pfd;

	dp_walk_init(&w, p->root);
	for (i = 0; i < p->cl.n; i++) {
		const struct entry *e = change_entry(&p->cl.v[i]);

		if (p->tmpid[i] == 0)
			continue;
		if (dp_walk_parent(&w, e->path, &pfd, &base) == -1)
			continue;
		tmpname(tmp, sizeof(tmp), p->pid, p->tmpid[i]);
		(void)unlinkat(pfd, tmp, 0);
		p->tmpid[i] = 0;
	}
	dp_walk_free(&w);
}

/*
 * The directories whose mode or mtime a refresh may have moved: those
 * holding a changed entry, and changed directories themselves.  Only
 * they are set again (a refresh of 1% of a big tree must not touch every
 * directory).  *out: one flag per entry of m.
 */
static int
mark_dirs(const struct plan *p, const struct manifest *m, unsigned char **out)
{
	char buf[MANIFEST_PATH_MAX + 1], *s;
	const struct entry *d;
	size_t i;

	if ((*out = calloc(m->n ? m->n : 1, 1)) == NULL)
		return err_nomem();
	for (i = 0; i < p->cl.n; i++) {
		const struct entry *e = change_entry(&p->cl.v[i]);

		snprintf(buf, sizeof(buf), "%s", e->path);
		if (e->type == ENTRY_DIR && p->cl.v[i].kind != CHANGE_DEL &&
		    (d = manifest_find(m, buf)) != NULL)
			(*out)[d - m->v] = 1;
		if ((s = strrchr(buf, '/')) == NULL)
			continue; /* the root: no entry, no mtime */
		*s = '\0';
		if ((d = manifest_find(m, buf)) != NULL)
			(*out)[d - m->v] = 1;
	}
	return 0;
}

static int
first_install(struct layout_push *a)
{
	char tmp[64], where[4400];
	int newfd = -1, rc = -1;

	snprintf(tmp, sizeof(tmp), "%s%" PRIu64 ".%ld", DP_TMP_PREFIX,
	    a->newm->version, (long)getpid());
	snprintf(where, sizeof(where), "%s/%s/%s/%s", a->h->where, DP_META,
	    a->pkg, tmp);
	if (io_mkdir(a->pkgfd, tmp, 0700) == -1)
		return err_prefix("%s: ", a->h->where);
	if ((newfd = openat(a->pkgfd, tmp, LAYOUT_DIRFLAGS)) == -1) {
		err_sys("%s", where);
		goto out;
	}
	if (layout_build_tree(a, newfd, -1, where, NULL) == -1 ||
	    layout_syncfs(newfd, where) == -1)
		goto out;
	if (layout_save_manifest(a, DP_MANIFEST) == -1)
		goto out;
	a->st->layout = DP_LAYOUT_INPLACE;
	a->st->status = DP_ST_COMPLETE;
	a->st->version = a->newm->version;
	a->st->from = 0;
	a->st->tree[0] = '\0';
	if (dp_state_write(a->h, a->pkg, a->st, &a->r->state_bytes) == -1)
		goto out;
	/* renameat refuses to replace an existing DP/PKG (EEXIST, or
	 * ENOTEMPTY) only when it is a non-empty directory; check first. */
	if (faccessat(a->h->rootfd, a->pkg, F_OK, AT_SYMLINK_NOFOLLOW) == 0) {
		err_set("%s/%s: already exists: refusing to replace it",
		    a->h->where, a->pkg);
		goto undo;
	}
	if (io_rename(a->pkgfd, tmp, a->h->rootfd, a->pkg) == -1 ||
	    io_fsync_dir(a->h->rootfd, a->h->where) == -1) {
		err_prefix("%s: ", a->h->where);
		goto undo;
	}
	layout_gc_bases(a);
	rc = 0;
	goto out;
undo:
	a->r->failed_errno = err_errno();
	(void)unlinkat(a->pkgfd, DP_STATE, 0);
out:
	if (newfd != -1)
		close(newfd);
	if (rc == -1) {
		if (a->r->failed_errno == 0)
			a->r->failed_errno = err_errno();
		layout_remove_quietly(a->pkgfd, tmp);
	}
	return rc;
}

static int
save_state(struct layout_push *a, enum dp_status s, uint64_t from,
    const char *error)
{
	a->st->layout = DP_LAYOUT_INPLACE;
	a->st->status = s;
	a->st->version = a->newm->version;
	a->st->from = from;
	a->st->tree[0] = '\0';
	free(a->st->error);
	a->st->error = error ? strdup(error) : NULL;
	return dp_state_write(a->h, a->pkg, a->st, &a->r->state_bytes);
}

/* Note that the file shown as what is in use ("file in use, how"). */
static void
note_busy(struct plan *p, const char *what, const char *how)
{
	size_t n;
	char *msg;

	p->a->r->busy++;
	if (p->firstbusy != NULL)
		return;
	n = strlen(what) + strlen(how) + 32;
	if ((msg = malloc(n)) == NULL)
		return;
	snprintf(msg, n, "%s: file in use, %s", what, how);
	p->firstbusy = msg;
}

/*
 * The plan: the changes from a->oldm to a->newm, the phase of each (a
 * change under a path whose type changes waits until that path is
 * gone), and the contents asked of the source, in the order phases 1
 * and 3 will write them.
 */
static int
plan_changes(struct plan *p)
{
	struct layout_push *a = p->a;
	struct dp_need *needs = NULL;
	size_t i, nneed = 0;
	int pass, rc = -1;

	if (changes_list(a->oldm, a->newm, &p->cl) == -1)
		return -1;
	if (p->cl.n &&
	    ((p->phase = calloc(p->cl.n, 1)) == NULL ||
		(p->tmpid = calloc(p->cl.n, sizeof(*p->tmpid))) == NULL ||
		(p->typechg = malloc(p->cl.n * sizeof(char *))) == NULL ||
		(needs = malloc(p->cl.n * sizeof(*needs))) == NULL)) {
		err_nomem();
		goto out;
	}
	/* Already sorted: the change list is in path order. */
	for (i = 0; i < p->cl.n; i++) {
		const struct change *c = &p->cl.v[i];

		if (c->kind == CHANGE_MOD && c->from->type != c->to->type)
			p->typechg[p->ntypechg++] = c->to->path;
	}
	for (i = 0; i < p->cl.n; i++) {
		const struct change *c = &p->cl.v[i];
		const struct entry *e = change_entry(c);

		if (c->kind == CHANGE_DEL)
			p->phase[i] = PH_DELETE;
		else if (under_typechange(p, e->path))
			p->phase[i] = PH_LATE;
		else if (c->kind == CHANGE_PERM)
			p->phase[i] = PH_META;
		else
			p->phase[i] = PH_WRITE;
	}
	for (pass = 0; pass < 2; pass++)
		for (i = 0; i < p->cl.n; i++) {
			const struct entry *e = change_entry(&p->cl.v[i]);

			if (p->phase[i] != (pass ? PH_LATE : PH_WRITE) ||
			    e->type != ENTRY_FILE)
				continue;
			memcpy(needs[nneed].digest, e->digest, DIGEST_LEN);
			needs[nneed].size = e->size;
			nneed++;
		}
	if (a->src && a->src->prepare &&
	    a->src->prepare(a->src->ctx, needs, nneed) == -1)
		goto out;
	rc = 0;
out:
	free(needs);
	return rc;
}

/* 1. Every added or changed file or link as a temporary beside its
 * target (new directories made), then one sync. */
static int
write_temporaries(struct plan *p)
{
	struct layout_push *a = p->a;
	const char *base;
	char tmp[64];
	size_t i;
	int pfd;

	for (i = 0; i < p->cl.n; i++) {
		const struct entry *e = change_entry(&p->cl.v[i]);

		if (p->phase[i] != PH_WRITE)
			continue;
		dp_what(p->where, e->path, p->what, sizeof(p->what));
		if (dp_walk_parent(&p->w, e->path, &pfd, &base) == -1)
			return err_prefix("%s: ", p->where);
		if (e->type == ENTRY_DIR) {
			if (io_mkdir(pfd, base, 0700) == -1 &&
			    err_errno() != EEXIST)
				return err_prefix("%s: ", p->what);
			continue;
		}
		p->tmpid[i] = ++p->id;
		tmpname(tmp, sizeof(tmp), p->pid, p->id);
		if (write_tmp(a, pfd, tmp, e, base, p->what) == -1)
			return -1;
		if (a->o->progress)
			progress_add(a->o->progress, 1, e->size);
	}
	return layout_syncfs(p->root, p->where);
}

/* 2, for change i: its temporary over its target, or its new mode and
 * mtime; a target in use is left untouched (its temporary goes). */
static int
replace_one(struct plan *p, size_t i)
{
	const struct change *c = &p->cl.v[i];
	const struct entry *e = change_entry(c);
	const char *base;
	char tmp[64];
	int pfd, busy = 0;

	dp_what(p->where, e->path, p->what, sizeof(p->what));
	if (dp_walk_parent(&p->w, e->path, &pfd, &base) == -1)
		return err_prefix("%s: ", p->where);
	if (c->kind != CHANGE_ADD && e->type == ENTRY_FILE &&
	    (busy = in_use(pfd, base)) == -1)
		return err_sys("%s", p->what);
	if (!busy && p->phase[i] == PH_META) {
		if (apply_meta(pfd, base, e, p->what) == -1)
			return -1;
		p->touched = true;
		return 0;
	}
	if (!busy) {
		tmpname(tmp, sizeof(tmp), p->pid, p->tmpid[i]);
		if (io_rename(pfd, tmp, pfd, base) == 0) {
			p->tmpid[i] = 0;
			p->touched = true;
			return 0;
		}
		if (err_errno() != EPERM && err_errno() != EBUSY &&
		    err_errno() != ETXTBSY && err_errno() != EACCES)
			return err_prefix("%s: ", p->what);
	}
	note_busy(p, p->what, "left untouched");
	if (p->tmpid[i]) {
		tmpname(tmp, sizeof(tmp), p->pid, p->tmpid[i]);
		(void)unlinkat(pfd, tmp, 0);
		p->tmpid[i] = 0;
	}
	return 0;
}

/* 2. The replacements; then the files in use that phase 3 would remove
 * (deleted, or the old side of a type change) are counted too: any file
 * in use stops phase 3 (*busy). */
static int
replace_all(struct plan *p, bool *busy)
{
	char shown[PATH_SHOW_LEN], what[sizeof(p->where) + PATH_SHOW_LEN + 2];
	const char *base;
	size_t i;
	int pfd;

	for (i = 0; i < p->cl.n; i++)
		if ((p->phase[i] == PH_WRITE || p->phase[i] == PH_META) &&
		    change_entry(&p->cl.v[i])->type != ENTRY_DIR &&
		    replace_one(p, i) == -1)
			return -1;
	for (i = 0; i < p->cl.n; i++) {
		const struct change *c = &p->cl.v[i];
		const struct entry *e = c->from;

		if (c->from == NULL || e->type != ENTRY_FILE ||
		    (p->phase[i] != PH_DELETE &&
			!(c->kind == CHANGE_MOD && c->to->type != ENTRY_FILE)))
			continue;
		if (dp_walk_parent(&p->w, e->path, &pfd, &base) == -1)
			continue; /* its directory is gone already */
		if (in_use(pfd, base) == 1) {
			snprintf(what, sizeof(what), "%s/%s", p->where,
			    path_show(e->path, shown, sizeof(shown)));
			note_busy(p, what,
			    p->phase[i] == PH_DELETE ? "not deleted" :
						       "left untouched");
		}
	}
	*busy = p->a->r->busy > 0;
	return 0;
}

/* 3. Deletions, deepest first; then the new sides of type changes. */
static int
delete_and_retype(struct plan *p)
{
	const char *base;
	size_t i;
	int pfd;

	for (i = p->cl.n; i-- > 0;) {
		const struct change *c = &p->cl.v[i];
		const struct entry *e = c->from;

		if (p->phase[i] != PH_DELETE &&
		    !(c->kind == CHANGE_MOD && c->from->type != c->to->type))
			continue;
		dp_what(p->where, e->path, p->what, sizeof(p->what));
		if (dp_walk_parent(&p->w, e->path, &pfd, &base) == -1) {
			if (err_errno() == ENOENT)
				continue;
			return -1;
		}
		if (e->type == ENTRY_DIR) {
			if (io_remove_tree(pfd, base) == -1)
				return -1;
		} else if (io_unlink(pfd, base, 0) == -1 &&
		    err_errno() != ENOENT)
			return err_prefix("%s: ", p->where);
		p->touched = true;
	}
	for (i = 0; i < p->cl.n; i++) {
		const struct entry *e = change_entry(&p->cl.v[i]);

		if (p->phase[i] != PH_LATE)
			continue;
		dp_what(p->where, e->path, p->what, sizeof(p->what));
		if (dp_walk_parent(&p->w, e->path, &pfd, &base) == -1)
			return err_prefix("%s: ", p->where);
		if (create_direct(p->a, pfd, base, e, p->pid, ++p->id,
			p->what) == -1)
			return -1;
	}
	return 0;
}

/* 4. Directories, durability, the record. */
static int
finish_refresh(struct plan *p)
{
	struct layout_push *a = p->a;
	unsigned char *dirs = NULL;
	int rc = -1;

	dp_walk_free(&p->w);
	dp_walk_init(&p->w, -1);
	if (mark_dirs(p, a->newm, &dirs) == -1 ||
	    layout_fix_dirs(p->root, a->newm, dirs, p->where) == -1 ||
	    layout_syncfs(p->root, p->where) == -1 ||
	    layout_save_manifest(a, DP_MANIFEST) == -1)
		goto out;
	if (save_state(a, DP_ST_COMPLETE, 0, NULL) == -1) {
		err_prefix("%s: ", a->h->where);
		goto out;
	}
	layout_gc_bases(a);
	rc = 0;
out:
	free(dirs);
	return rc;
}

/*
 * Phase 1 failed, nothing replaced yet: back to the old version,
 * complete.  The temporaries go, and the new, still empty directories;
 * the directories they came and went in get back their times (and
 * modes): the DP is left exactly as it was.  The failure's message is
 * kept.
 */
static void
undo_writes(struct plan *p)
{
	struct layout_push *a = p->a;
	struct err_saved failure = ERR_SAVED_INIT;
	char buf[MANIFEST_PATH_MAX + 1], *sl;
	const struct entry *d;
	unsigned char *od;
	const char *base;
	size_t i;
	int pfd;

	err_save(&failure);
	drop_tmps(p);
	for (i = p->cl.n; i-- > 0;) {
		const struct entry *e = change_entry(&p->cl.v[i]);

		if (p->phase[i] != PH_WRITE || e->type != ENTRY_DIR ||
		    p->cl.v[i].kind != CHANGE_ADD)
			continue;
		if (dp_walk_parent(&p->w, e->path, &pfd, &base) == 0)
			(void)unlinkat(pfd, base, AT_REMOVEDIR);
	}
	od = calloc(a->oldm->n ? a->oldm->n : 1, 1);
	for (i = 0; od != NULL && i < p->cl.n; i++) {
		if (p->phase[i] != PH_WRITE)
			continue;
		snprintf(buf, sizeof(buf), "%s",
		    change_entry(&p->cl.v[i])->path);
		if ((sl = strrchr(buf, '/')) == NULL)
			continue;
		*sl = '\0';
		if ((d = manifest_find(a->oldm, buf)) != NULL &&
		    d->type == ENTRY_DIR)
			od[d - a->oldm->v] = 1;
	}
	if (od != NULL)
		(void)layout_fix_dirs(p->root, a->oldm, od, p->where);
	free(od);
	if (!p->touched && !a->r->old_partial) {
		a->st->version = p->from;
		a->st->status = DP_ST_COMPLETE;
		a->st->from = 0;
		free(a->st->error);
		a->st->error = strdup(failure.msg);
		(void)dp_state_write(a->h, a->pkg, a->st, &a->r->state_bytes);
	}
	err_restore(&failure);
}

/* A failure after something was replaced (or a file in use): the DP is
 * partly at the new version and says so, with the failure's message. */
static void
keep_partial(struct plan *p)
{
	struct err_saved failure = ERR_SAVED_INIT;

	err_save(&failure);
	drop_tmps(p);
	(void)save_state(p->a, DP_ST_PARTIAL, p->from, failure.msg);
	err_restore(&failure);
}

static int
inplace_apply(struct layout_push *a)
{
	struct plan p;
	int rc = -1, e_no = 0;
	bool busy = false;

	if (!a->r->held)
		return first_install(a);
	memset(&p, 0, sizeof(p));
	p.a = a;
	p.pid = (long)getpid();
	p.from = a->st->version;
	change_list_init(&p.cl);
	dp_walk_init(&p.w, -1);
	snprintf(p.where, sizeof(p.where), "%s/%s", a->h->where, a->pkg);
	if ((p.root = openat(a->h->rootfd, a->pkg, LAYOUT_DIRFLAGS)) == -1)
		return err_sys("%s", p.where);
	if (plan_changes(&p) == -1)
		goto out;
	/* 0. The intent, before anything is touched. */
	if (save_state(a, DP_ST_PARTIAL, p.from, NULL) == -1)
		goto out;
	dp_walk_init(&p.w, p.root);
	if (write_temporaries(&p) == -1) {
		e_no = err_errno();
		undo_writes(&p);
		goto out;
	}
	if (replace_all(&p, &busy) == -1)
		goto partial;
	if (busy) {
		err_set("%s%s", p.firstbusy ? p.firstbusy : p.where,
		    a->r->busy > 1 ? " (and others)" : "");
		errno = EBUSY;
		e_no = EBUSY;
		keep_partial(&p);
		goto out;
	}
	if (delete_and_retype(&p) == -1 || finish_refresh(&p) == -1)
		goto partial;
	rc = 0;
	goto out;
partial:
	e_no = err_errno();
	keep_partial(&p);
out:
	if (rc == -1)
		a->r->failed_errno = e_no ? e_no : err_errno();
	dp_walk_free(&p.w);
	change_list_free(&p.cl);
	free(p.phase);
	free(p.tmpid);
	free(p.typechg);
	free(p.firstbusy);
	if (p.root != -1)
		close(p.root);
	return rc;
}

/* The manifest of DP/PKG written anew. */
static int
inplace_rewrite_manifest(struct layout_push *a)
{
	return layout_save_manifest(a, DP_MANIFEST);
}

const struct layout_ops layout_inplace = {
	.layout = DP_LAYOUT_INPLACE,
	.apply = inplace_apply,
	.rewrite_manifest = inplace_rewrite_manifest,
};
