/*
 * layout_spare.c — the atomic layout's spare tree (layout.h;
 * dp_push_after() in dppush.h says what it is for).
 *
 * DP/.pkgdist/PKG/spare.vN.K mirrors the current tree vN.K: fresh
 * directories and symbolic links, hard links to its files, made after a
 * push (layout_spare_make()).  The next push renames it to its new tree
 * and changes only what differs (layout_spare_take()), once it has
 * checked that the spare is still that mirror: DP trees are outside
 * input, and anything may have been planted in it meanwhile.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "dp.h"
#include "err.h"
#include "io.h"
#include "layout.h"
#include "manifest.h"

/* "spare." + the current tree's name. */
#define SPARE_PREFIX "spare."

/* The entry of m that name in directory dir (NULL: the root) is, or
 * NULL; path (MANIFEST_PATH_MAX + 2 bytes) receives its path. */
static const struct entry *
entry_at(const struct manifest *m, const char *dir, const char *name,
    char *path)
{
	size_t dl = dir ? strlen(dir) : 0, nl = strlen(name);
	char *p = path;

	if (dl + 1 + nl > MANIFEST_PATH_MAX)
		return NULL;
	if (dir != NULL) {
		memcpy(p, dir, dl);
		p[dl] = '/';
		p += dl + 1;
	}
	memcpy(p, name, nl + 1);
	return manifest_find(m, path);
}

/* The type of name under fd as readdir gave it, or by a stat. */
static unsigned char
dirent_type(int fd, const char *name, unsigned char type)
{
	struct stat sb;

	if (type != DT_UNKNOWN)
		return type;
	if (fstatat(fd, name, &sb, AT_SYMLINK_NOFOLLOW) == -1)
		return DT_UNKNOWN;
	return S_ISDIR(sb.st_mode) ? DT_DIR :
	    S_ISLNK(sb.st_mode)	   ? DT_LNK :
	    S_ISREG(sb.st_mode)	   ? DT_REG :
				     DT_UNKNOWN;
}

/*
 * Does the directory dirfd (path dir in m, NULL: the root) hold only
 * entries m names under it, each with m's type?  Each one there is
 * flagged in present (by its index in m).  A directory's own type is
 * checked when it is opened (O_DIRECTORY, O_NOFOLLOW).  path is a
 * buffer of MANIFEST_PATH_MAX + 2 bytes.  1 yes, 0 no.
 */
static int
spare_dir_fits(const struct manifest *m, int dirfd, const char *dir, char *path,
    unsigned char *present)
{
	const struct entry *p;
	char **names;
	unsigned char *types;
	size_t n, i;
	int rc = 0;

	if (io_list_typed(dirfd, &names, &types, NULL, &n) == -1)
		return 0;
	for (i = 0; i < n; i++) {
		if ((p = entry_at(m, dir, names[i], path)) == NULL)
			goto out;
		present[p - m->v] = 1;
		if (p->type == ENTRY_DIR)
			continue;
		/* The type readdir gives, which costs no stat of the
		 * 5,000 files of a package; a stat where it gives none. */
		if (dirent_type(dirfd, names[i], types[i]) !=
		    (p->type == ENTRY_LINK ? DT_LNK : DT_REG))
			goto out;
	}
	rc = 1;
out:
	io_names_free(names, n);
	free(types);
	return rc;
}

/*
 * Check that the tree in rootfd holds only entries of m, each with its
 * type, and flag in present (m->n bytes, zeroed) each one it holds.  An
 * entry may be missing (a spare recycled from an older tree, one a crash
 * cut short): the tree builder makes it.  Files are not checked further
 * here: layout_build_tree() checks each one it keeps.  1 yes, 0 no (the
 * spare is not used), -1 on an error that is not the tree's.
 */
static int
spare_check(const struct manifest *m, int rootfd, unsigned char *present)
{
	struct dp_walk w;
	const char *base, *dir;
	size_t k, i;
	char *path;
	int pfd, fd, rc = 0, fits;

	if ((path = malloc(MANIFEST_PATH_MAX + 2)) == NULL)
		return err_nomem();
	dp_walk_init(&w, rootfd);
	/* The root, then each directory the spare holds: m is sorted, so a
	 * directory comes after its parent, whose listing flagged it. */
	for (k = 0; k <= m->n; k++) {
		i = k == 0 ? m->n : k - 1;
		if (i < m->n && (m->v[i].type != ENTRY_DIR || !present[i]))
			continue;
		dir = i < m->n ? m->v[i].path : NULL;
		if (dir == NULL)
			fd = openat(rootfd, ".", LAYOUT_DIRFLAGS);
		else if (dp_walk_parent(&w, dir, &pfd, &base) == -1)
			goto out;
		else
			fd = openat(pfd, base, LAYOUT_DIRFLAGS);
		if (fd == -1)
			goto out;
		fits = spare_dir_fits(m, fd, dir, path, present);
		close(fd);
		if (!fits)
			goto out;
	}
	rc = 1;
out:
	dp_walk_free(&w);
	free(path);
	return rc;
}

/*
 * newfd holds a spare: a mirror of a->oldm, or of part of it.  Check it
 * (spare_check), then remove what the new version does not keep as it
 * is: entries gone, or changed in type, content, mode or mtime (files)
 * or target (links).  have[i] is set for each entry of a->newm left in
 * place.  1 done, 0 the spare is not fit to use, -1 error.
 */
static int
spare_trim(struct layout_push *a, int newfd, unsigned char *have,
    const char *where)
{
	const struct manifest *om = a->oldm, *nm = a->newm;
	unsigned char *present;
	struct dp_walk w;
	const char *base;
	size_t i;
	int pfd, k, rc = -1;

	if ((present = calloc(om->n + 1, 1)) == NULL)
		return err_nomem();
	if ((k = spare_check(om, newfd, present)) != 1) {
		free(present);
		return k;
	}
	dp_walk_init(&w, newfd);
	for (i = 0; i < om->n; i++) {
		const struct entry *o = &om->v[i], *e;
		bool keep;

		if (!present[i])
			continue;

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
					    io_unlink(pfd, base, 0)) == -1 &&
		    err_errno() != ENOENT) {
			err_prefix("%s: ", where);
			goto out;
		}
	}
	rc = 1;
out:
	dp_walk_free(&w);
	free(present);
	return rc;
}

/* Fill the directory newfd with a mirror of the tree oldfd whose
 * manifest is m: directories and symbolic links made, files linked;
 * those entries flagged in there (NULL: none, newfd is empty) are in
 * newfd already. */
static int
spare_fill(const struct manifest *m, int newfd, int oldfd,
    const unsigned char *there, const char *where)
{
	struct dp_walk wn, wo;
	const char *base, *obase;
	size_t i;
	int pfd, opfd, rc = -1;

	dp_walk_init(&wn, newfd);
	dp_walk_init(&wo, oldfd);
	for (i = 0; i < m->n; i++) {
		const struct entry *e = &m->v[i];

		if (there != NULL && there[i])
			continue;
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
	return (strncmp(name, SPARE_PREFIX, strlen(SPARE_PREFIX)) == 0 ||
		   strncmp(name, DP_TMP_PREFIX SPARE_PREFIX,
		       strlen(DP_TMP_PREFIX SPARE_PREFIX)) == 0) &&
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

/* Where spare_keep_dir() stands: the current tree's manifest, and per
 * entry of it whether the spare holds it as it must and, for a file,
 * the current tree's inode number. */
struct mirror {
	const struct manifest *m;
	unsigned char *in; /* MIRROR_* per entry */
	uint64_t *ino;	   /* per file entry, set with MIRROR_INO */
	char *path;	   /* MANIFEST_PATH_MAX + 2 bytes */
	const char *where;
	bool known; /* ino[] came with the tree: no need to list it */
};

#define MIRROR_IN 1   /* in the spare, as the current tree has it */
#define MIRROR_INO 2  /* ino[] holds the current tree's file's number */
#define MIRROR_SYNC 4 /* a directory something was removed from */

/* The entry of mr->m that name in directory dir (NULL: the root) is,
 * or NULL. */
static const struct entry *
mirror_find(struct mirror *mr, const char *dir, const char *name)
{
	return entry_at(mr->m, dir, name, mr->path);
}

/* Whether what the spare holds at e's path (of type t, inode number
 * ino) stays: a directory or a link for one (a link's target is checked
 * when the spare is taken), a file only as a link to the current tree's
 * file. */
static bool
mirror_keeps(const struct mirror *mr, const struct entry *e, unsigned char t,
    uint64_t ino)
{
	size_t k = (size_t)(e - mr->m->v);

	switch (e->type) {
	case ENTRY_DIR:
		return t == DT_DIR;
	case ENTRY_LINK:
		return t == DT_LNK;
	case ENTRY_FILE:
		return t == DT_REG && (mr->in[k] & MIRROR_INO) &&
		    mr->ino[k] == ino;
	}
	return false;
}

/*
 * Directory dir (NULL: the root) of the spare, sfd, against the same
 * directory of the current tree, cfd: what is in the spare as the
 * current tree has it stays (flagged MIRROR_IN), the rest goes.  A file
 * stays only when it is a link to the current tree's file of its path:
 * the same inode number (io_list_typed()).  1 when something went (the
 * directory is to be synced before the spare is named: a removal lost
 * in a crash would bring back an old file), 0 when nothing did, -1 with
 * err set.
 */
static int
spare_keep_dir(struct mirror *mr, int sfd, int cfd, const char *dir)
{
	const struct entry *e;
	char **names = NULL;
	unsigned char *types = NULL, t;
	uint64_t *inos = NULL;
	size_t n = 0, i, k;
	bool removed = false, keep;
	int rc = -1;

	if (!mr->known && io_list_typed(cfd, &names, &types, &inos, &n) == -1)
		return err_prefix("%s: ", mr->where);
	for (i = 0; i < n; i++)
		if ((e = mirror_find(mr, dir, names[i])) != NULL &&
		    e->type == ENTRY_FILE &&
		    dirent_type(cfd, names[i], types[i]) == DT_REG) {
			k = (size_t)(e - mr->m->v);
			mr->ino[k] = inos[i];
			mr->in[k] |= MIRROR_INO;
		}
	io_names_free(names, n);
	free(types);
	free(inos);
	names = NULL;
	types = NULL;
	inos = NULL;
	n = 0;
	/* Its own mode goes for now, as a spare made afresh has it: the
	 * tree builder writes in it and sets each directory's at the end. */
	if (fchmod(sfd, 0700) == -1 ||
	    io_list_typed(sfd, &names, &types, &inos, &n) == -1)
		return err_sys("%s", mr->where);
	for (i = 0; i < n; i++) {
		e = mirror_find(mr, dir, names[i]);
		t = dirent_type(sfd, names[i], types[i]);
		k = e != NULL ? (size_t)(e - mr->m->v) : 0;
		keep = e != NULL && mirror_keeps(mr, e, t, inos[i]);
		if (keep) {
			mr->in[k] |= MIRROR_IN;
			continue;
		}
		if ((t == DT_DIR ? io_remove_tree(sfd, names[i]) :
				   io_unlink(sfd, names[i], 0)) == -1) {
			err_prefix("%s: ", mr->where);
			goto out;
		}
		removed = true;
	}
	rc = removed;
out:
	io_names_free(names, n);
	free(types);
	free(inos);
	return rc;
}

/* Sync the directories of sparefd that spare_keep_dir() removed
 * something from (root: the root itself), once all is removed: on most
 * file systems the first sync then carries every removal. */
static int
spare_sync_removals(struct mirror *mr, int sparefd, bool root)
{
	struct dp_walk w;
	const char *base;
	size_t i;
	int pfd, fd, k, rc = -1;

	if (root && io_fsync_dir(sparefd, mr->where) == -1)
		return -1;
	dp_walk_init(&w, sparefd);
	for (i = 0; i < mr->m->n; i++) {
		if (!(mr->in[i] & MIRROR_SYNC))
			continue;
		if (dp_walk_parent(&w, mr->m->v[i].path, &pfd, &base) == -1) {
			err_prefix("%s: ", mr->where);
			goto out;
		}
		if ((fd = openat(pfd, base, LAYOUT_DIRFLAGS)) == -1) {
			err_sys("%s", mr->where);
			goto out;
		}
		k = io_fsync_dir(fd, mr->where);
		close(fd);
		if (k == -1)
			goto out;
	}
	rc = 0;
out:
	dp_walk_free(&w);
	return rc;
}

/*
 * Make sparefd, a tree of an earlier version, a mirror of the current
 * tree curfd whose manifest is m, changing only what differs: each
 * directory the two share is gone through (spare_keep_dir()), the
 * removals made durable, then what is missing is made (spare_fill()).
 * known (NULL: the tree is listed instead) is the inode number of each
 * file of m in curfd, 0 where not known.  0, or -1 with err set.
 */
static int
spare_mirror(const struct manifest *m, int sparefd, int curfd,
    const uint64_t *known, const char *where)
{
	struct mirror mr = { m, NULL, NULL, NULL, where, known != NULL };
	struct dp_walk ws, wc;
	const char *base;
	size_t k, i;
	bool root = false;
	int pfd, sfd = -1, cfd = -1, rc = -1, kept;

	dp_walk_init(&ws, sparefd);
	dp_walk_init(&wc, curfd);
	if ((mr.in = calloc(m->n + 1, 1)) == NULL ||
	    (mr.ino = calloc(m->n + 1, sizeof(*mr.ino))) == NULL ||
	    (mr.path = malloc(MANIFEST_PATH_MAX + 2)) == NULL) {
		err_nomem();
		goto out;
	}
	for (i = 0; known != NULL && i < m->n; i++)
		if (known[i] != 0 && m->v[i].type == ENTRY_FILE) {
			mr.ino[i] = known[i];
			mr.in[i] |= MIRROR_INO;
		}
	/* The root, then each directory both hold, parents first (m is
	 * sorted). */
	for (k = 0; k <= m->n; k++) {
		i = k == 0 ? m->n : k - 1;
		if (i < m->n &&
		    (m->v[i].type != ENTRY_DIR || !(mr.in[i] & MIRROR_IN)))
			continue;
		if (i == m->n) {
			sfd = openat(sparefd, ".", LAYOUT_DIRFLAGS);
			if (!mr.known)
				cfd = openat(curfd, ".", LAYOUT_DIRFLAGS);
		} else {
			if (dp_walk_parent(&ws, m->v[i].path, &pfd, &base) ==
			    -1)
				goto fail;
			sfd = openat(pfd, base, LAYOUT_DIRFLAGS);
			if (!mr.known) {
				if (dp_walk_parent(&wc, m->v[i].path, &pfd,
					&base) == -1)
					goto fail;
				cfd = openat(pfd, base, LAYOUT_DIRFLAGS);
			}
		}
		if (sfd == -1 || (!mr.known && cfd == -1)) {
			err_sys("%s", where);
			goto out;
		}
		if ((kept = spare_keep_dir(&mr, sfd, cfd,
			 i < m->n ? m->v[i].path : NULL)) == -1)
			goto out;
		if (kept == 1 && i == m->n)
			root = true;
		else if (kept == 1)
			mr.in[i] |= MIRROR_SYNC;
		close(sfd);
		if (cfd != -1)
			close(cfd);
		sfd = cfd = -1;
	}
	if (spare_sync_removals(&mr, sparefd, root) == -1)
		goto out;
	for (i = 0; i < m->n; i++)
		mr.in[i] &= MIRROR_IN;
	rc = spare_fill(m, sparefd, curfd, mr.in, where);
	goto out;
fail:
	err_prefix("%s: ", where);
out:
	if (sfd != -1)
		close(sfd);
	if (cfd != -1)
		close(cfd);
	dp_walk_free(&ws);
	dp_walk_free(&wc);
	free(mr.in);
	free(mr.ino);
	free(mr.path);
	return rc;
}

int
layout_spare_recycle(struct layout_push *a, const char *tree,
    const struct manifest *cur)
{
	char spare[DP_TREE_MAX + sizeof(SPARE_PREFIX)], tmp[96];
	char mname[DP_TREE_MAX + sizeof(DP_TREE_MANIFEST)], where[4400];
	struct stat sb;
	int sparefd = -1, curfd = -1;

	snprintf(spare, sizeof(spare), "%s%s", SPARE_PREFIX, a->st->tree);
	snprintf(tmp, sizeof(tmp), "%s%s", DP_TMP_PREFIX, spare);
	if (cur->n == 0 || a->st->tree[0] == '\0' ||
	    strcmp(tree, a->st->tree) == 0)
		return 0;
	spare_sweep(a->pkgfd, spare);
	if (fstatat(a->pkgfd, spare, &sb, AT_SYMLINK_NOFOLLOW) == 0)
		return 0;
	/* The manifest first, as a tree is removed: a tree without one is
	 * never taken for a kept tree. */
	dp_tree_manifest_name(tree, mname);
	if ((io_unlink(a->pkgfd, mname, 0) == -1 && err_errno() != ENOENT) ||
	    io_rename(a->pkgfd, tree, a->pkgfd, tmp) == -1)
		return 0;
	snprintf(where, sizeof(where), "%s/%s/%s/%s", a->h->where, DP_META,
	    a->pkg, tmp);
	if ((sparefd = openat(a->pkgfd, tmp, LAYOUT_DIRFLAGS)) == -1 ||
	    (curfd = openat(a->pkgfd, a->st->tree, LAYOUT_DIRFLAGS)) == -1) {
		err_sys("%s", where);
		goto fail;
	}
	/* Named a spare only once its removals are durable. */
	if (spare_mirror(cur, sparefd, curfd, cur == a->newm ? a->ino : NULL,
		where) == -1 ||
	    io_rename(a->pkgfd, tmp, a->pkgfd, spare) == -1 ||
	    io_fsync_dir(a->pkgfd, where) == -1)
		goto fail;
	close(sparefd);
	close(curfd);
	return 1;
fail:
	if (sparefd != -1)
		close(sparefd);
	if (curfd != -1)
		close(curfd);
	layout_remove_quietly(a->pkgfd, tmp);
	return 1;
}

int
layout_spare_take(struct layout_push *a, const char *tmp, const char *where,
    int *newfd, unsigned char **have)
{
	char spare[DP_TREE_MAX + sizeof(SPARE_PREFIX)];
	struct stat st;
	int fit;

	*newfd = -1;
	*have = NULL;
	/* Not with --verify or after a partial push: the spare mirrors the
	 * recorded manifest, not a scan. */
	if (!a->r->held || a->st->tree[0] == '\0' || a->o->verify ||
	    a->st->status != DP_ST_COMPLETE || a->newm->n == 0)
		return 0;
	snprintf(spare, sizeof(spare), "%s%s", SPARE_PREFIX, a->st->tree);
	if (fstatat(a->pkgfd, spare, &st, AT_SYMLINK_NOFOLLOW) == -1 ||
	    !S_ISDIR(st.st_mode) ||
	    io_rename(a->pkgfd, spare, a->pkgfd, tmp) == -1)
		return 0;
	if ((*have = calloc(a->newm->n, 1)) == NULL) {
		err_nomem();
		goto fail;
	}
	if ((*newfd = openat(a->pkgfd, tmp, LAYOUT_DIRFLAGS)) == -1) {
		err_sys("%s", where);
		goto fail;
	}
	if ((fit = spare_trim(a, *newfd, *have, where)) == -1)
		goto fail;
	if (fit == 1)
		return 1;
	/* Not a mirror of the old tree: the caller starts afresh. */
	close(*newfd);
	*newfd = -1;
	free(*have);
	*have = NULL;
	if (io_remove_tree(a->pkgfd, tmp) == -1)
		return err_prefix("%s: ", a->h->where);
	return 0;
fail:
	if (*newfd != -1)
		close(*newfd);
	*newfd = -1;
	free(*have);
	*have = NULL;
	return -1;
}

int
layout_spare_make(struct layout_push *a)
{
	char spare[DP_TREE_MAX + sizeof(SPARE_PREFIX)], tmp[96];
	char where[4400];
	struct stat sb;
	int newfd = -1, oldfd = -1, rc = -1;
	bool made = false;

	snprintf(spare, sizeof(spare), "%s%s", SPARE_PREFIX, a->st->tree);
	snprintf(tmp, sizeof(tmp), "%s%s", DP_TMP_PREFIX, spare);
	snprintf(where, sizeof(where), "%s/%s/%s/%s", a->h->where, DP_META,
	    a->pkg, tmp);
	spare_sweep(a->pkgfd, spare);
	if (fstatat(a->pkgfd, spare, &sb, AT_SYMLINK_NOFOLLOW) == 0)
		return 0;
	if (io_mkdir(a->pkgfd, tmp, 0700) == -1)
		return err_prefix("%s: ", where);
	made = true;
	if ((newfd = openat(a->pkgfd, tmp, LAYOUT_DIRFLAGS)) == -1 ||
	    (oldfd = openat(a->pkgfd, a->st->tree, LAYOUT_DIRFLAGS)) == -1) {
		err_sys("%s", where);
		goto out;
	}
	/* Durable before it is named a spare. */
	if (spare_fill(a->oldm, newfd, oldfd, NULL, where) == -1 ||
	    layout_syncfs(newfd, where) == -1 ||
	    io_rename(a->pkgfd, tmp, a->pkgfd, spare) == -1 ||
	    io_fsync_dir(a->pkgfd, where) == -1)
		goto out;
	made = false;
	rc = 0;
out:
	if (made)
		layout_remove_quietly(a->pkgfd, tmp);
	if (newfd != -1)
		close(newfd);
	if (oldfd != -1)
		close(oldfd);
	return rc;
}
