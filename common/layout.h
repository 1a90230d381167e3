/*
 * layout.h — the push engine's private interface: what dppush.c hands a
 * layout, the layouts behind one table of operations, and the tree
 * builder and helpers they share (layout.c).
 *
 * Code outside the push engine (dppush.c and layout*.c) must not
 * include it: everything else pushes through dppush.h.
 *
 *   dppush.c          state, version rules, what the DP holds, the
 *                     changes; picks the layout and calls its ops
 *   layout_atomic.c   DP/PKG a link to a complete tree, switched with one
 *                     rename (layout_atomic)
 *   layout_inplace.c  DP/PKG a plain directory, refreshed file by file
 *                     (layout_inplace)
 *   layout_spare.c    the atomic layout's spare tree (dp_push_after())
 *   layout.c          the tree builder and the helpers of the layouts
 *
 * The layouts include this header only of the engine's headers; none of
 * them calls into dppush.c or into another layout except through what is
 * declared here.
 */
#ifndef PKGDIST_LAYOUT_H
#define PKGDIST_LAYOUT_H

#include <fcntl.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "dp.h"
#include "dppush.h"
#include "manifest.h"
#include "mdelta.h"

#define LAYOUT_DIRFLAGS (O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
/* Files this big get their writeback started as soon as written (small
 * ones are left to the final sync: many tiny writes would only seek). */
#define LAYOUT_WRITEBACK_MIN (1024 * 1024)
/* At most this many writer threads per tree build. */
#define LAYOUT_WRITERS_MAX 8

/* One push as a layout sees it. */
struct layout_push {
	struct dp_handle *h;
	const char *pkg;
	int pkgfd;		     /* DP/.pkgdist/PKG */
	const struct manifest *oldm; /* DP view, may be empty */
	/* The manifest as read from the DP with its base (mdelta.h), for
	 * writing the new one as a delta; NULL: none (a new base). */
	const struct manifest *loaded;
	struct mdelta_base *base;
	const struct manifest *newm; /* DP view, header set */
	const struct content_source *src;
	const struct dp_push_opts *o;
	struct dp_push_result *r;
	struct dp_state *st; /* current state, updated */
	/* Atomic: entries of newm hard-linked to the old tree's file and
	 * given their new mode and mtime there (layout_build_tree). */
	size_t *retimed, nretimed;
	/* Atomic: per entry of newm, the inode number of its file in the
	 * new tree as layout_build_tree() made it (0: not known), so that
	 * the spare made after the switch need not read the tree again
	 * (layout_spare_recycle()); NULL: no build. */
	uint64_t *ino;
};

/*
 * A layout.  Every operation runs under the DP's lock, returns 0 (or the
 * count said) or -1 with err set, and keeps dppush.h's promise: a
 * failure leaves the DP at its old version.  An operation a layout has
 * no use for is NULL.
 */
struct layout_ops {
	enum dp_layout layout; /* the one it is */
	/* Bring the DP from a->oldm to a->newm and record it (dppush.h,
	 * steps 5 and 6). */
	int (*apply)(struct layout_push *a);
	/* The DP is at a->newm already: finish what an earlier push cut
	 * short after it changed the DP. */
	int (*finish)(struct layout_push *a);
	/* Write a->newm as the manifest of what the DP holds (--verify
	 * found the files right but the manifest unreadable). */
	int (*rewrite_manifest)(struct layout_push *a);
	/* Switch the DP back to a kept tree of version v: 1 done (with
	 * a->o->dry_run: changes nothing, 1 says it would be), 0 none
	 * kept (nothing changed). */
	int (*rollback)(struct layout_push *a, uint64_t v);
	/* dp_push_after(): a->oldm is what the DP holds, complete. */
	int (*after)(struct layout_push *a);
};

extern const struct layout_ops layout_atomic;
extern const struct layout_ops layout_inplace;

/* ---- the spare tree (layout_spare.c) ---- */

/*
 * Take the spare of the current tree as the new tree tmp (a name under
 * a->pkgfd; where names it in messages): renamed to tmp, checked to be a
 * faithful mirror of a->oldm, then trimmed to what a->newm keeps as it
 * is.  1: taken, *newfd is tmp and *have (malloc'd) flags each entry of
 * a->newm already there; 0: none, or one not fit to use (removed, tmp
 * does not exist); -1 error (tmp, when made, is left for the caller to
 * remove).
 */
int layout_spare_take(struct layout_push *a, const char *tmp, const char *where,
    int *newfd, unsigned char **have);
/* Make the spare of the current tree a->st->tree from its manifest
 * a->oldm, unless it is there; spares of other trees go. */
int layout_spare_make(struct layout_push *a);
/*
 * A tree that is to go (beyond --keep; not the current one) becomes the
 * spare of the current tree a->st->tree, whose manifest is cur, instead:
 * what of it is a link to the current tree's file stays, the rest is
 * replaced.  Far cheaper than removing it and linking a spare afresh
 * when one version differs from the next in a few files.  1: tree is
 * gone (the spare, or removed when that failed: a failure is not the
 * push's, and err says it); 0: left as it was, for the caller to remove
 * (a spare of the current tree is there already, or tree is not one to
 * take).
 */
int layout_spare_recycle(struct layout_push *a, const char *tree,
    const struct manifest *cur);

/* ---- shared by the layouts (layout.c) ---- */

/*
 * Build the complete tree a->newm in newfd; oldfd (-1: none) is the old
 * tree, whose manifest is a->oldm.  Unchanged files are hard links to the
 * old tree (or, differing in mode or mtime only, clones or retimed links:
 * a->retimed).  newfd is empty, or (have not NULL) a spare trimmed by
 * layout_spare_take(): have[i] set for each entry of a->newm already
 * there.  Contents come from a->src, asked for in one prepare().
 */
int layout_build_tree(struct layout_push *a, int newfd, int oldfd,
    const char *where, const unsigned char *have);
/* A build that fails before its switch: the old tree's files that it
 * retimed get their old mode and mtime back (a->retimed). */
void layout_retime_undo(struct layout_push *a, int oldfd);
/* Set mode and mtime of directories (those flagged in only, or all when
 * only is NULL), children before parents. */
int layout_fix_dirs(int rootfd, const struct manifest *m,
    const unsigned char *only, const char *where);
int layout_syncfs(int fd, const char *what);
int layout_set_times(int dirfd, const char *name, int fd, int64_t mtime);
/* Give a file just written (fd, name under dir) e's mode and mtime and
 * start the writeback of a big one.  0, or -1 with err set. */
int layout_finish_file(int dir, const char *name, int fd, const struct entry *e,
    const char *what);
/* Remove a tree after a failure, keeping the failure's message. */
void layout_remove_quietly(int dirfd, const char *name);
/* Whether the symbolic link name under dirfd points at target. */
bool layout_link_says(int dirfd, const char *name, const char *target);

/* The old copy a changed file may share blocks with: the entry of
 * a->oldm at its path (layout_share_base()), its file name under dir. */
struct layout_old {
	const struct entry *e;
	int dir;
	const char *name;
};

/* The entry of a->oldm at e's path when e may share blocks with its
 * file (both above CHUNK_THRESHOLD bytes, other contents, a source with
 * write_shared), else NULL. */
const struct entry *layout_share_base(const struct layout_push *a,
    const struct entry *e);

/*
 * The one way a layout writes a file's content: fill fd (a new, empty
 * regular file, open for reading and writing) with e's content through
 * a->src, adding the bytes written to *bytes and those shared with the
 * old copy instead to *shared.  old (NULL: none) is the old copy
 * layout_share_base() named: when it opens as a regular file, the
 * source is asked to share with it (write_shared), else the content is
 * written whole.  It changes nothing in a (a->r included), so the tree
 * builder's writer threads call it at once, each with its own counters,
 * when the source allows it (o->write_threads).  0, or -1 with err set.
 */
int layout_write_content(const struct layout_push *a, const struct entry *e,
    const struct layout_old *old, int fd, const char *what, uint64_t *bytes,
    uint64_t *shared);
/* Write a->newm as the DP's manifest name under a->pkgfd (a delta
 * against a->base when small, mdelta.h); counts r->state_bytes. */
int layout_save_manifest(struct layout_push *a, const char *name);
/* Remove the bases no manifest names any more (mdelta_gc()), once the
 * new state is in place; a failure only sets r->warning. */
void layout_gc_bases(struct layout_push *a);

#endif
