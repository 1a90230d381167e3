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
#include "dppush.h"
#include "err.h"
#include "io.h"
#include "manifest.h"
#include "mdelta.h"
#include "progress.h"

#define DIRFLAGS (O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)

/* Per change: which phase, and the temporary written for it. */
enum { PH_NONE, PH_WRITE, PH_META, PH_DELETE, PH_LATE };

struct plan {
	struct change_list cl;
	unsigned char *phase;		/* per change */
	unsigned *tmpid;		/* per change: 0 none, else N */
	char **typechg;			/* sorted paths whose type changed */
	size_t ntypechg;
	long pid;			/* in temporary names: asked once */
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

	if ((fd = openat(dir, base, O_RDONLY | O_NOFOLLOW | O_NONBLOCK |
	    O_CLOEXEC | O_NOCTTY)) == -1) {
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

/* Write the temporary for entry e (file or link) under dir. */
static int
write_tmp(struct dp_apply *a, int dir, const char *tmp, const struct entry *e,
    const char *what)
{
	int fd, rc = -1;

	if (e->type == ENTRY_LINK) {
		if (io_symlink(e->target, dir, tmp) == -1)
			return err_prefix("%s: ", what);
		if (layout_set_times(dir, tmp, -1, e->mtime) == -1)
			return err_sys("%s", what);
		return 0;
	}
	if ((fd = openat(dir, tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW |
	    O_CLOEXEC, 0600)) == -1)
		return err_sys("%s", what);
	if (dp_write_content(a, e, fd, what, &a->r->bytes) == -1 ||
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
		return 0;	/* all directories are fixed at the end */
	if ((fd = openat(dir, base, O_RDONLY | O_NOFOLLOW | O_NONBLOCK |
	    O_CLOEXEC | O_NOCTTY)) == -1)
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
create_direct(struct dp_apply *a, int dir, const char *base,
    const struct entry *e, long pid, unsigned id, const char *what)
{
	char tmp[64];

	if (e->type == ENTRY_DIR) {
		if (io_mkdir(dir, base, 0700) == -1 && err_errno() != EEXIST)
			return err_prefix("%s: ", what);
		return 0;
	}
	tmpname(tmp, sizeof(tmp), pid, id);
	if (write_tmp(a, dir, tmp, e, what) == -1) {
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
drop_tmps(struct dp_apply *a, struct plan *p, int root)
{
	struct dp_walk w;
	const char *base;
	char tmp[64];
	size_t i;
	int pfd;

	dp_walk_init(&w, root);
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
	(void)a;
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
		return err_sys("out of memory");
	for (i = 0; i < p->cl.n; i++) {
		const struct entry *e = change_entry(&p->cl.v[i]);

		snprintf(buf, sizeof(buf), "%s", e->path);
		if (e->type == ENTRY_DIR && p->cl.v[i].kind != CHANGE_DEL &&
		    (d = manifest_find(m, buf)) != NULL)
			(*out)[d - m->v] = 1;
		if ((s = strrchr(buf, '/')) == NULL)
			continue;	/* the root: no entry, no mtime */
		*s = '\0';
		if ((d = manifest_find(m, buf)) != NULL)
			(*out)[d - m->v] = 1;
	}
	return 0;
}

static int
first_install(struct dp_apply *a)
{
	char tmp[64], where[4400];
	int newfd = -1, rc = -1;

	snprintf(tmp, sizeof(tmp), "%s%" PRIu64 ".%ld", DP_TMP_PREFIX,
	    a->newm->version, (long)getpid());
	snprintf(where, sizeof(where), "%s/%s/%s/%s", a->h->where, DP_META,
	    a->pkg, tmp);
	if (io_mkdir(a->pkgfd, tmp, 0700) == -1)
		return err_prefix("%s: ", a->h->where);
	if ((newfd = openat(a->pkgfd, tmp, DIRFLAGS)) == -1) {
		err_sys("%s", where);
		goto out;
	}
	if (layout_build_tree(a, newfd, -1, where, NULL) == -1 ||
	    layout_syncfs(newfd, where) == -1)
		goto out;
	if (dp_save_manifest(a, DP_MANIFEST) == -1)
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
	dp_gc_bases(a);
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
save_state(struct dp_apply *a, enum dp_status s, uint64_t from,
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

int
layout_inplace_apply(struct dp_apply *a)
{
	struct plan p;
	struct dp_walk w;
	struct dp_need *needs = NULL;
	size_t i, nneed = 0;
	const char *base;
	char tmp[64], where[4400], what[8600], *firstbusy = NULL;
	unsigned char *dirs = NULL;
	uint64_t from = a->st->version;
	unsigned id = 0;
	int root = -1, pfd, rc = -1, busy, e_no = 0, pass;
	bool touched = false;

	memset(&p, 0, sizeof(p));
	p.pid = (long)getpid();
	change_list_init(&p.cl);
	dp_walk_init(&w, -1);
	if (!a->r->held)
		return first_install(a);

	snprintf(where, sizeof(where), "%s/%s", a->h->where, a->pkg);
	if ((root = openat(a->h->rootfd, a->pkg, DIRFLAGS)) == -1)
		return err_sys("%s", where);
	if (changes_list(a->oldm, a->newm, &p.cl) == -1)
		goto out;
	if (p.cl.n && ((p.phase = calloc(p.cl.n, 1)) == NULL ||
	    (p.tmpid = calloc(p.cl.n, sizeof(*p.tmpid))) == NULL ||
	    (p.typechg = malloc(p.cl.n * sizeof(char *))) == NULL ||
	    (needs = malloc(p.cl.n * sizeof(*needs))) == NULL)) {
		err_sys("out of memory");
		goto out;
	}
	for (i = 0; i < p.cl.n; i++) {
		const struct change *c = &p.cl.v[i];

		if (c->kind == CHANGE_MOD && c->from->type != c->to->type)
			p.typechg[p.ntypechg++] = c->to->path;
	}
	/* Already sorted: the change list is in path order. */
	for (i = 0; i < p.cl.n; i++) {
		const struct change *c = &p.cl.v[i];
		const struct entry *e = change_entry(c);

		if (c->kind == CHANGE_DEL)
			p.phase[i] = PH_DELETE;
		else if (under_typechange(&p, e->path))
			p.phase[i] = PH_LATE;
		else if (c->kind == CHANGE_PERM)
			p.phase[i] = PH_META;
		else
			p.phase[i] = PH_WRITE;
	}
	/* The contents, in the order they will be asked for. */
	for (pass = 0; pass < 2; pass++)
		for (i = 0; i < p.cl.n; i++) {
			const struct entry *e = change_entry(&p.cl.v[i]);

			if (p.phase[i] != (pass ? PH_LATE : PH_WRITE) ||
			    e->type != ENTRY_FILE)
				continue;
			memcpy(needs[nneed].digest, e->digest, DIGEST_LEN);
			needs[nneed].size = e->size;
			nneed++;
		}
	if (a->src && a->src->prepare &&
	    a->src->prepare(a->src->ctx, needs, nneed) == -1)
		goto out;

	/* 0. The intent, before anything is touched. */
	if (save_state(a, DP_ST_PARTIAL, from, NULL) == -1)
		goto out;

	/* 1. Temporaries (and new directories). */
	dp_walk_init(&w, root);
	for (i = 0; i < p.cl.n; i++) {
		const struct entry *e = change_entry(&p.cl.v[i]);

		if (p.phase[i] != PH_WRITE)
			continue;
		dp_what(where, e->path, what, sizeof(what));
		if (dp_walk_parent(&w, e->path, &pfd, &base) == -1) {
			err_prefix("%s: ", where);
			goto fail1;
		}
		if (e->type == ENTRY_DIR) {
			if (io_mkdir(pfd, base, 0700) == -1 &&
			    err_errno() != EEXIST) {
				err_prefix("%s: ", what);
				goto fail1;
			}
			continue;
		}
		p.tmpid[i] = ++id;
		tmpname(tmp, sizeof(tmp), p.pid, id);
		if (write_tmp(a, pfd, tmp, e, what) == -1)
			goto fail1;
		if (a->o->progress)
			progress_add(a->o->progress, 1, e->size);
	}
	if (layout_syncfs(root, where) == -1)
		goto fail1;

	/* 2. Replacements: each temporary over its target. */
	for (i = 0; i < p.cl.n; i++) {
		const struct change *c = &p.cl.v[i];
		const struct entry *e = change_entry(c);

		if (p.phase[i] != PH_WRITE && p.phase[i] != PH_META)
			continue;
		if (e->type == ENTRY_DIR)
			continue;
		dp_what(where, e->path, what, sizeof(what));
		if (dp_walk_parent(&w, e->path, &pfd, &base) == -1) {
			err_prefix("%s: ", where);
			goto fail2;
		}
		busy = 0;
		if (c->kind != CHANGE_ADD && e->type == ENTRY_FILE &&
		    (busy = in_use(pfd, base)) == -1) {
			err_sys("%s", what);
			goto fail2;
		}
		if (!busy && p.phase[i] == PH_META) {
			if (apply_meta(pfd, base, e, what) == -1)
				goto fail2;
			touched = true;
			continue;
		}
		if (!busy) {
			tmpname(tmp, sizeof(tmp), p.pid, p.tmpid[i]);
			if (io_rename(pfd, tmp, pfd, base) == 0) {
				p.tmpid[i] = 0;
				touched = true;
				continue;
			}
			if (err_errno() != EPERM && err_errno() != EBUSY &&
			    err_errno() != ETXTBSY && err_errno() != EACCES) {
				err_prefix("%s: ", what);
				goto fail2;
			}
			busy = 1;
		}
		a->r->busy++;
		if (firstbusy == NULL) {
			size_t n = strlen(what) + 64;
			if ((firstbusy = malloc(n)) != NULL)
				snprintf(firstbusy, n, "%s: file in use, left "
				    "untouched", what);
		}
		if (p.tmpid[i]) {
			tmpname(tmp, sizeof(tmp), p.pid, p.tmpid[i]);
			(void)unlinkat(pfd, tmp, 0);
			p.tmpid[i] = 0;
		}
	}
	/* A file in use that would be removed (deleted, or the old side of
	 * a type change) also stops the deletions. */
	for (i = 0; i < p.cl.n; i++) {
		const struct change *c = &p.cl.v[i];
		const struct entry *e = c->from;

		if (c->from == NULL || e->type != ENTRY_FILE ||
		    (p.phase[i] != PH_DELETE && !(c->kind == CHANGE_MOD &&
		    c->to->type != ENTRY_FILE)))
			continue;
		if (dp_walk_parent(&w, e->path, &pfd, &base) == -1)
			continue;	/* its directory is gone already */
		if ((busy = in_use(pfd, base)) == 1) {
			a->r->busy++;
			if (firstbusy == NULL) {
				size_t n = strlen(where) +
				    PATH_SHOW_LEN + 64;
				char shown[PATH_SHOW_LEN];

				if ((firstbusy = malloc(n)) != NULL)
					snprintf(firstbusy, n, "%s/%s: file "
					    "in use, %s", where, path_show(
					    e->path, shown, sizeof(shown)),
					    p.phase[i] == PH_DELETE ?
					    "not deleted" : "left untouched");
			}
		}
	}
	if (a->r->busy) {
		err_set("%s%s", firstbusy ? firstbusy : where,
		    a->r->busy > 1 ? " (and others)" : "");
		errno = EBUSY;
		e_no = EBUSY;
		goto partial;
	}

	/* 3. Deletions, deepest first; then the new sides of type changes. */
	for (i = p.cl.n; i-- > 0;) {
		const struct change *c = &p.cl.v[i];
		const struct entry *e = c->from;

		if (p.phase[i] != PH_DELETE &&
		    !(c->kind == CHANGE_MOD && c->from->type != c->to->type))
			continue;
		dp_what(where, e->path, what, sizeof(what));
		if (dp_walk_parent(&w, e->path, &pfd, &base) == -1) {
			if (err_errno() == ENOENT)
				continue;
			goto fail2;
		}
		if (e->type == ENTRY_DIR) {
			if (io_remove_tree(pfd, base) == -1)
				goto fail2;
		} else if (io_unlink(pfd, base, 0) == -1 &&
		    err_errno() != ENOENT) {
			err_prefix("%s: ", where);
			goto fail2;
		}
		touched = true;
	}
	for (i = 0; i < p.cl.n; i++) {
		const struct entry *e = change_entry(&p.cl.v[i]);

		if (p.phase[i] != PH_LATE)
			continue;
		dp_what(where, e->path, what, sizeof(what));
		if (dp_walk_parent(&w, e->path, &pfd, &base) == -1) {
			err_prefix("%s: ", where);
			goto fail2;
		}
		if (create_direct(a, pfd, base, e, p.pid, ++id, what) == -1)
			goto fail2;
	}

	/* 4. Directories, durability, the record. */
	dp_walk_free(&w);
	dp_walk_init(&w, -1);
	if (mark_dirs(&p, a->newm, &dirs) == -1 ||
	    layout_fix_dirs(root, a->newm, dirs, where) == -1 ||
	    layout_syncfs(root, where) == -1)
		goto fail2;
	if (dp_save_manifest(a, DP_MANIFEST) == -1)
		goto fail2;
	if (save_state(a, DP_ST_COMPLETE, 0, NULL) == -1) {
		err_prefix("%s: ", a->h->where);
		goto fail2;
	}
	dp_gc_bases(a);
	rc = 0;
	goto out;

fail1:
	/* Nothing replaced yet: back to the old version, complete. */
	e_no = err_errno();
	drop_tmps(a, &p, root);
	/* New, still empty directories go too: no debris. */
	for (i = p.cl.n; i-- > 0;) {
		const struct entry *e = change_entry(&p.cl.v[i]);

		if (p.phase[i] != PH_WRITE || e->type != ENTRY_DIR ||
		    p.cl.v[i].kind != CHANGE_ADD)
			continue;
		if (dp_walk_parent(&w, e->path, &pfd, &base) == 0)
			(void)unlinkat(pfd, base, AT_REMOVEDIR);
	}
	/* The directories the temporaries came and went in get back their
	 * times (and modes): the DP is left exactly as it was. */
	{
		unsigned char *od = calloc(a->oldm->n ? a->oldm->n : 1, 1);
		char buf[MANIFEST_PATH_MAX + 1], *sl;
		const struct entry *d;
		char *msg = strdup(err_get());

		for (i = 0; od != NULL && i < p.cl.n; i++) {
			if (p.phase[i] != PH_WRITE)
				continue;
			snprintf(buf, sizeof(buf), "%s",
			    change_entry(&p.cl.v[i])->path);
			if ((sl = strrchr(buf, '/')) == NULL)
				continue;
			*sl = '\0';
			if ((d = manifest_find(a->oldm, buf)) != NULL &&
			    d->type == ENTRY_DIR)
				od[d - a->oldm->v] = 1;
		}
		if (od != NULL)
			(void)layout_fix_dirs(root, a->oldm, od, where);
		free(od);
		if (msg != NULL) {
			err_set("%s", msg);
			free(msg);
		}
	}
	if (!touched && !a->r->old_partial) {
		char *msg = strdup(err_get());

		a->st->version = from;
		a->st->status = DP_ST_COMPLETE;
		a->st->from = 0;
		free(a->st->error);
		a->st->error = msg ? strdup(msg) : NULL;
		(void)dp_state_write(a->h, a->pkg, a->st,
		    &a->r->state_bytes);
		if (msg) {
			err_set("%s", msg);
			free(msg);
		}
	}
	goto out;
fail2:
	e_no = err_errno();
partial:
	drop_tmps(a, &p, root);
	{
		char *msg = strdup(err_get());

		(void)save_state(a, DP_ST_PARTIAL, from, msg);
		if (msg) {
			err_set("%s", msg);
			free(msg);
		}
	}
out:
	if (rc == -1)
		a->r->failed_errno = e_no ? e_no : err_errno();
	dp_walk_free(&w);
	change_list_free(&p.cl);
	free(p.phase);
	free(p.tmpid);
	free(p.typechg);
	free(needs);
	free(firstbusy);
	free(dirs);
	if (root != -1)
		close(root);
	return rc;
}
