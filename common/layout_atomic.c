/*
 * layout_atomic.c — the atomic layout: DP/PKG is a link to a complete
 * tree under DP/.pkgdist/PKG/; a new version is built beside the old
 * one (unchanged files hard-linked, layout_build_tree(); from the spare
 * where there is one, layout_spare.c), made durable, and the link
 * switched with one rename.  The trees kept for a rollback, the order
 * they were live in, and their removal beyond --keep are here too.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
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
#include "mdelta.h"

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
		return err_nomem();
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
	struct err_saved failure = ERR_SAVED_INIT;

	err_save(&failure);
	remove_tree(pkgfd, t);
	err_restore(&failure);
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
lived_order(struct layout_push *a, struct tree *t, size_t nt,
    char (**v)[DP_TREE_MAX], size_t *n)
{
	char name[DP_TREE_MAX];
	size_t i, j;

	*n = 0;
	if ((*v = calloc(nt + 1, sizeof(**v))) == NULL)
		return err_nomem();
	if (a->st->lived == NULL) {
		if (nt > 0) /* t is NULL when there is no tree */
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
make_live(struct layout_push *a, const char *tree)
{
	char(*v)[DP_TREE_MAX] = NULL;
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
 * live ones too).  The most recently live of those that go becomes the
 * spare of the current tree instead (layout_spare_recycle(); cur, its
 * manifest, NULL: none does).  The state's "lived" line is trimmed to
 * the trees kept (written by the caller).
 */
static void
prune(struct layout_push *a, const struct manifest *cur)
{
	char(*v)[DP_TREE_MAX] = NULL;
	struct tree *t = NULL;
	size_t nt = 0, n = 0, i, j, keep, rank = SIZE_MAX, reuse = 0;

	keep = (a->o->keep ? a->o->keep : 1) - 1;
	if (list_trees(a->pkgfd, &t, &nt) == -1 ||
	    lived_order(a, t, nt, &v, &n) == -1)
		goto out;
	for (i = 0; i < nt; i++) {
		if (strcmp(t[i].name, a->st->tree) == 0)
			continue;
		for (j = 0; j < n && strcmp(v[j], t[i].name) != 0; j++)
			;
		if (j < n && j < keep)
			continue;
		if (cur != NULL && j < n && j < rank) {
			if (rank != SIZE_MAX)
				remove_tree(a->pkgfd, t[reuse].name);
			rank = j;
			reuse = i;
		} else
			remove_tree(a->pkgfd, t[i].name);
	}
	if (rank != SIZE_MAX &&
	    layout_spare_recycle(a, t[reuse].name, cur) != 1)
		remove_tree(a->pkgfd, t[reuse].name);
	if (a->st->lived != NULL)
		(void)dp_state_set_lived(a->st, v, n < keep ? n : keep);
out:
	free(t);
	free(v);
	prune_orphans(a->pkgfd);
}

/* Point DP/PKG at tree (under .pkgdist/PKG) with one rename. */
static int
switch_link(struct layout_push *a, const char *tree)
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
	if (io_rename(a->pkgfd, DP_TMP_PREFIX "link", a->h->rootfd, a->pkg) ==
	    -1) {
		/* Say what the administrator can act on (the DP's own
		 * directory), not the name of the temporary link. */
		int e = err_errno();

		(void)unlinkat(a->pkgfd, DP_TMP_PREFIX "link", 0);
		return err_code(e,
		    "cannot switch '%s/%s' to its new tree: "
		    "%s%s",
		    a->h->where, a->pkg, strerror(e),
		    e == EACCES || e == EPERM || e == EROFS ?
			" (the DP's directory must be writable)" :
			"");
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
finish_state(struct layout_push *a, const char *tree, uint64_t v, bool tidy)
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
		prune(a, a->newm);
	return dp_state_write(a->h, a->pkg, a->st, &a->r->state_bytes);
}
/*
 * After the switch: a kept tree whose file shares its inode with a file
 * retime_file() gave a new mode and mtime shows them too; its manifest
 * is written anew to say so (whole: a new base), so that a rollback to
 * it and `pkgdiff verify` of it stay right.  A failure is a warning.
 */
static void
retime_kept(struct layout_push *a)
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
	    (curfd = openat(a->pkgfd, a->st->tree, LAYOUT_DIRFLAGS)) == -1)
		goto out;
	dp_walk_init(&wc, curfd);
	for (i = 0; i < nt; i++) {
		if (strcmp(t[i].name, a->st->tree) == 0 ||
		    (tfd = openat(a->pkgfd, t[i].name, LAYOUT_DIRFLAGS)) == -1)
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
				-1 ||
			    dp_walk_parent(&wt, e->path, &pfd, &base) == -1 ||
			    fstatat(pfd, base, &old, AT_SYMLINK_NOFOLLOW) ==
				-1 ||
			    cur.st_ino != old.st_ino ||
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
		if (changed &&
		    mdelta_save_at(a->pkgfd, mname, NULL, &m, NULL,
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

/*
 * The new tree tmp (where names it) to build in: the spare of the old
 * tree (layout_spare_take(): only what changed is then done), else a new
 * empty directory.  *newfd is it, *have the spare's entries (NULL: an
 * empty tree).  0, or -1 with err set (tmp may exist: the caller removes
 * it).
 */
static int
new_tree(struct layout_push *a, const char *tmp, const char *where, int *newfd,
    unsigned char **have)
{
	int k;

	if ((k = layout_spare_take(a, tmp, where, newfd, have)) != 0)
		return k == 1 ? 0 : -1;
	if (io_mkdir(a->pkgfd, tmp, 0700) == -1)
		return err_prefix("%s: ", a->h->where);
	/* Not tracked for signals (a tree); the next run removes it. */
	if ((*newfd = openat(a->pkgfd, tmp, LAYOUT_DIRFLAGS)) == -1)
		return err_sys("%s", where);
	return 0;
}

/* A name for the new tree of version v: "vN.K", the first K for which
 * neither the tree nor its manifest exists. */
static void
tree_name(int pkgfd, uint64_t v, char tree[DP_TREE_MAX],
    char mname[DP_TREE_MAX + sizeof(DP_TREE_MANIFEST)])
{
	struct stat st;
	unsigned k;

	for (k = 1;; k++) {
		snprintf(tree, DP_TREE_MAX, "v%" PRIu64 ".%u", v, k);
		dp_tree_manifest_name(tree, mname);
		if (fstatat(pkgfd, tree, &st, AT_SYMLINK_NOFOLLOW) == -1 &&
		    errno == ENOENT &&
		    fstatat(pkgfd, mname, &st, AT_SYMLINK_NOFOLLOW) == -1 &&
		    errno == ENOENT)
			return;
	}
}

/*
 * The tree tree (version v), complete and named, becomes DP/PKG: the
 * manifest pointer, the switch, the record.  *switched says whether
 * DP/PKG links to it (also when the switch was not made durable).
 */
static int
switch_to(struct layout_push *a, const char *tree, uint64_t v, bool *switched)
{
	char target[300];
	int rc = 0;

	*switched = false;
	/* Before the switch: the pointer is right for either tree. */
	if (dp_current_manifest(a->h, a->pkg, a->pkgfd, &a->r->state_bytes) ==
		-1 ||
	    switch_link(a, tree) == -1) {
		/* Never live: it goes (and can never count as kept).  A
		 * switch done but not made durable keeps it. */
		snprintf(target, sizeof(target), "%s/%s/%s", DP_META, a->pkg,
		    tree);
		if (layout_link_says(a->h->rootfd, a->pkg, target))
			*switched = true;
		else
			remove_tree_quietly(a->pkgfd, tree);
		return -1;
	}
	*switched = true;
	/* The switch is done: from here a failure is only a warning. */
	if (finish_state(a, tree, v, !a->o->defer_tidy) == -1)
		rc = -1;
	retime_kept(a);
	if (!a->o->defer_tidy)
		layout_gc_bases(a);
	return rc;
}

static int
atomic_apply(struct layout_push *a)
{
	char tmp[64], tree[DP_TREE_MAX], where[4400];
	char mname[DP_TREE_MAX + sizeof(DP_TREE_MANIFEST)];
	uint64_t v = a->newm->version;
	unsigned char *have = NULL;
	struct stat st;
	int newfd = -1, oldfd = -1, rc = -1;
	bool built = true, switched = false;

	if (fstatat(a->h->rootfd, a->pkg, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
	    !S_ISLNK(st.st_mode))
		return err_set("%s/%s: not a link (held in place?): "
			       "refusing to replace it",
		    a->h->where, a->pkg);
	snprintf(tmp, sizeof(tmp), "%s%" PRIu64 ".%ld", DP_TMP_PREFIX, v,
	    (long)getpid());
	snprintf(where, sizeof(where), "%s/%s/%s/%s", a->h->where, DP_META,
	    a->pkg, tmp);
	if (new_tree(a, tmp, where, &newfd, &have) == -1)
		goto out;
	if (a->r->held && a->st->tree[0] &&
	    (oldfd = openat(a->pkgfd, a->st->tree, LAYOUT_DIRFLAGS)) == -1) {
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
	tree_name(a->pkgfd, v, tree, mname);
	if (layout_save_manifest(a, mname) == -1)
		goto out;
	if (io_rename(a->pkgfd, tmp, a->pkgfd, tree) == -1 ||
	    io_fsync_dir(a->pkgfd, where) == -1) {
		err_prefix("%s: ", a->h->where);
		(void)unlinkat(a->pkgfd, mname, 0);
		goto out;
	}
	built = false;
	rc = switch_to(a, tree, v, &switched);
out:
	if (rc == -1 && !switched && oldfd != -1)
		layout_retime_undo(a, oldfd);
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
	return rc;
}

/* Up to date: finish what a push cut short after its switch (the record
 * of the tree DP/PKG links to, the trees beyond keep) and make
 * DP/.pkgdist/PKG/manifest a pointer if it is not one. */
static int
atomic_finish(struct layout_push *a)
{
	if (dp_current_manifest(a->h, a->pkg, a->pkgfd, &a->r->state_bytes) ==
	    -1)
		return -1;
	if (!a->st->stale)
		return 0;
	if (!a->o->defer_tidy)
		prune(a, a->oldm);
	if (dp_state_write(a->h, a->pkg, a->st, &a->r->state_bytes) == -1)
		return -1;
	a->st->stale = false;
	layout_gc_bases(a);
	return 0;
}

/* The current tree's manifest written anew, and DP/.pkgdist/PKG/manifest
 * its pointer again. */
static int
atomic_rewrite_manifest(struct layout_push *a)
{
	char mname[DP_TREE_MAX + sizeof(DP_TREE_MANIFEST)];

	dp_tree_manifest_name(a->st->tree, mname);
	if (layout_save_manifest(a, mname) == -1)
		return -1;
	return dp_current_manifest(a->h, a->pkg, a->pkgfd, &a->r->state_bytes);
}

/* The newest kept tree of version v under a->pkgfd (one whose manifest
 * is there and reads): 1 and its name in name, 0 none, -1 error.
 * Changes nothing. */
static int
kept_tree(struct layout_push *a, uint64_t v, char name[DP_TREE_MAX])
{
	char mname[DP_TREE_MAX + sizeof(DP_TREE_MANIFEST)];
	struct tree *t = NULL;
	struct manifest m;
	struct stat st;
	size_t n = 0, i;
	int rc = 0;

	if (list_trees(a->pkgfd, &t, &n) == -1)
		return -1;
	if (n > 0) /* t is NULL when there is no tree */
		qsort(t, n, sizeof(*t), tree_cmp_desc);
	for (i = 0; i < n; i++) {
		if (t[i].v != v)
			continue;
		dp_tree_manifest_name(t[i].name, mname);
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
		snprintf(name, DP_TREE_MAX, "%s", t[i].name);
		rc = 1;
		break;
	}
	free(t);
	return rc;
}

/* Switch DP/PKG back to the kept tree of version v (kept_tree()); a dry
 * run only says whether there is one. */
static int
atomic_rollback(struct layout_push *a, uint64_t v)
{
	char tree[DP_TREE_MAX];
	int k;

	if ((k = kept_tree(a, v, tree)) != 1 || a->o->dry_run)
		return k;
	if (dp_current_manifest(a->h, a->pkg, a->pkgfd, &a->r->state_bytes) ==
		-1 ||
	    switch_link(a, tree) == -1 || finish_state(a, tree, v, false) == -1)
		return -1;
	layout_gc_bases(a);
	return 1;
}

/* dp_push_after(): the trees beyond keep go, then the spare is made. */
static int
atomic_after(struct layout_push *a)
{
	char *lived;
	int rc = -1;

	if (a->st->tree[0] == '\0')
		return 0;
	lived = a->st->lived != NULL ? strdup(a->st->lived) : NULL;
	prune(a, a->oldm);
	/* The record names the trees kept only. */
	if (lived != NULL && a->st->lived != NULL &&
	    strcmp(lived, a->st->lived) != 0 &&
	    dp_state_write(a->h, a->pkg, a->st, NULL) == -1)
		goto out;
	layout_gc_bases(a);
	rc = layout_spare_make(a);
out:
	free(lived);
	return rc;
}

const struct layout_ops layout_atomic = {
	.layout = DP_LAYOUT_ATOMIC,
	.apply = atomic_apply,
	.finish = atomic_finish,
	.rewrite_manifest = atomic_rewrite_manifest,
	.rollback = atomic_rollback,
	.after = atomic_after,
};
