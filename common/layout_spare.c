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

/*
 * Does the directory dirfd (path dir in m, NULL: the root) hold exactly
 * the entries m names under it, cnt of them, each with m's type?  A
 * directory's own type is checked when it is opened (O_DIRECTORY,
 * O_NOFOLLOW).  path is a buffer of MANIFEST_PATH_MAX + 2 + 256 bytes.
 * 1 yes, 0 no.
 */
static int
spare_dir_fits(const struct manifest *m, int dirfd, const char *dir, size_t cnt,
    char *path)
{
	const struct entry *p;
	struct stat sb;
	char **names;
	unsigned char *types;
	size_t n, i, dl = dir ? strlen(dir) : 0;
	int rc = 0, want;

	if (io_list_typed(dirfd, &names, &types, &n) == -1)
		return 0;
	/* Every name known, none missing (names are unique). */
	if (n != cnt)
		goto out;
	for (i = 0; i < n; i++) {
		if (dl + 1 + strlen(names[i]) > MANIFEST_PATH_MAX)
			goto out;
		if (dir != NULL)
			snprintf(path, MANIFEST_PATH_MAX + 2, "%s/%s", dir,
			    names[i]);
		else
			snprintf(path, MANIFEST_PATH_MAX + 2, "%s", names[i]);
		if ((p = manifest_find(m, path)) == NULL)
			goto out;
		if (p->type == ENTRY_DIR)
			continue;
		/* The type readdir gives, which costs no stat of the
		 * 5,000 files of a package; a stat where it gives none. */
		want = p->type == ENTRY_LINK ? DT_LNK : DT_REG;
		if (types[i] != DT_UNKNOWN) {
			if (types[i] != want)
				goto out;
		} else if (fstatat(dirfd, names[i], &sb, AT_SYMLINK_NOFOLLOW) ==
			-1 ||
		    !(want == DT_LNK ? S_ISLNK(sb.st_mode) :
				       S_ISREG(sb.st_mode)))
			goto out;
	}
	rc = 1;
out:
	io_names_free(names, n);
	free(types);
	return rc;
}

/*
 * Check that the tree in rootfd holds exactly the entries of m: each
 * directory (and the root) holds as many entries as m names under it,
 * each of them named in m with that type.  Files are not checked further
 * here: layout_build_tree() checks each one it keeps.  1 yes, 0 no (the
 * spare is not used), -1 on an error that is not the tree's.
 */
static int
spare_check(const struct manifest *m, int rootfd)
{
	struct dp_walk w;
	const struct entry *p;
	const char *base, *dir;
	size_t *cnt = NULL, i;
	char *sl, *path = NULL;
	int pfd, fd, rc = 0, fits;

	dp_walk_init(&w, rootfd);
	if ((cnt = calloc(m->n + 1, sizeof(*cnt))) == NULL ||
	    (path = malloc(MANIFEST_PATH_MAX + 2 + 256)) == NULL) {
		free(cnt);
		return err_nomem();
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
			fd = openat(rootfd, ".", LAYOUT_DIRFLAGS);
		else if (dp_walk_parent(&w, dir, &pfd, &base) == -1)
			goto out;
		else
			fd = openat(pfd, base, LAYOUT_DIRFLAGS);
		if (fd == -1)
			goto out;
		fits = spare_dir_fits(m, fd, dir, cnt[i], path);
		close(fd);
		if (!fits)
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
spare_trim(struct layout_push *a, int newfd, unsigned char *have,
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
					    io_unlink(pfd, base, 0)) == -1 &&
		    err_errno() != ENOENT) {
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
	if (spare_fill(a->oldm, newfd, oldfd, where) == -1 ||
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
