/*
 * dppush.h — bringing one DP to one version of one package.
 *
 * dp_push() is the whole DP side of a push, and knows nothing of the
 * store: it takes the DP (dp.h), the new version's manifest and a
 * content source, a struct of callbacks that writes a content, named by
 * its SHA-256 and size, into a file descriptor.  Locally (pkgpush) the
 * source reads the store; on a remote DP (pkgpush --serve, issue 6) the
 * same dp_push() runs on the far side with a source that reads contents
 * from the SSH stream.  Both sides thus share the layouts, the state,
 * the checks and the failure behaviour.
 *
 * What dp_push() does, under the DP's lock (taken by the caller):
 *
 *   1. read the DP's state for the package (dp_state_read); remove debris
 *      of an earlier crash (tmp.* trees, temporary files);
 *   2. refuse to move the DP to a lower version unless o->rollback
 *      (the state is read after the lock is taken, so a concurrent push
 *      that left the DP higher is seen);
 *   3. know what the DP holds: its manifest from the state, or (with
 *      o->verify, or after an interrupted in-place push) a scan of DP/PKG
 *      (scan.h; --verify re-hashes everything, otherwise the quick
 *      size+mtime check);
 *   4. compute the changes (changes.h) between that and the new version
 *      as the DP holds it (dp_view: read-only modes);
 *   5. call src->prepare() once with the contents it will need, in the
 *      order it will ask for them (a remote sender streams them in that
 *      order), then apply the changes with the layout (atomic or
 *      inplace), asking src->write() for each added or changed file;
 *   6. write the state and manifest; atomic: remove trees beyond o->keep.
 *
 * A failure at any step leaves the DP at its old version (atomic: old
 * tree whole, new tree removed; inplace: every file old or new, nothing
 * deleted, state "partial") and returns -1 with err set; r->failed_errno
 * says why (ENOSPC, EIO, EBUSY for a file in use, ...).
 */
#ifndef PKGDIST_DPPUSH_H
#define PKGDIST_DPPUSH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "digest.h"
#include "dp.h"
#include "manifest.h"
#include "mdelta.h"

struct progress;
struct ratelimit;

/* One content the push needs. */
struct dp_need {
	unsigned char digest[DIGEST_LEN];
	uint64_t size;
};

struct content_source {
	void *ctx;
	/*
	 * Optional (may be NULL): called once, before any write(), with
	 * every content write() will be asked for, in that order (a
	 * digest may repeat).  Returning -1 stops the push.
	 */
	int (*prepare)(void *ctx, const struct dp_need *v, size_t n);
	/*
	 * Write the content with SHA-256 digest and size into fd (a new,
	 * empty regular file, at offset 0) and check, as it is written,
	 * that the bytes have that digest and size: a mismatch is an error
	 * (nothing is taken on trust).  what names the destination in
	 * messages.  0, or -1 with err set (err_errno() kept, ENOSPC from
	 * a full DP must stay ENOSPC).
	 */
	int (*write)(void *ctx, const unsigned char digest[DIGEST_LEN],
	    uint64_t size, int fd, const char *what);
};

struct dp_push_opts {
	bool inplace;		/* layout for a DP that does not hold the
				 * package yet (a DP keeps its layout) */
	bool verify;		/* re-hash what the DP holds first */
	bool rollback;		/* allow a lower version */
	bool dry_run;		/* compute and report, change nothing */
	unsigned keep;		/* atomic: trees kept, current included */
	int jobs;		/* hash threads for a scan (0: all CPUs) */
	/* Threads writing files at once (0 or 1: one, in the order given
	 * to prepare()).  More only with a source whose write() may be
	 * called from several threads at once, in any order (the store);
	 * never with a stream (the remote side). */
	int write_threads;
	struct progress *progress;	/* may be NULL */
	struct ratelimit *rate;	/* remote DPs: the cap on what crosses the
				 * connection (ratelimit.h), or NULL */
	bool defer_tidy;	/* atomic: leave the removal of trees beyond
				 * keep to dp_push_after() */
};

void dp_push_opts_init(struct dp_push_opts *o);

struct dp_push_result {
	bool held;		/* the DP held the package before */
	uint64_t old_version, new_version;
	bool old_partial;
	uint64_t added, changed, deleted, meta; /* entries */
	uint64_t linked;	/* atomic: files hard-linked, unchanged */
	uint64_t bytes;		/* bytes of content written */
	uint64_t state_bytes;	/* bytes of state written on the DP (the
				 * state record, manifest deltas, bases) */
	bool from_spare;	/* atomic: the new tree was made from the
				 * spare (dp_push_after) */
	bool state_rebuilt;	/* --verify: the DP's state manifest could
				 * not be read and was made anew */
	char warning[512];	/* done, but something to tell ("": none):
				 * an unused base that could not be removed */
	uint64_t busy;		/* inplace: files in use, left untouched */
	bool reused_tree;	/* rollback to a kept tree, nothing copied */
	bool up_to_date;	/* nothing to do */
	bool inplace;		/* the layout used is in place */
	bool kept_layout;	/* the DP's layout differs from o->inplace's
				 * and was kept */
	int failed_errno;	/* on failure: errno class, 0 if unknown */
	bool permanent;		/* on failure: waiting will not help (a
				 * lower version refused) */
	uint64_t bytes_sent;	/* remote: bytes sent on the connection */
};

/*
 * Bring pkg on the DP (locked by the caller) to newm's version.  newm is
 * the store's manifest (store modes); newm->version must be set.
 */
int dp_push(struct dp_handle *h, const char *pkg, const struct manifest *newm,
    const struct content_source *src, const struct dp_push_opts *o,
    struct dp_push_result *r);

/*
 * True when r is dp_push() refusing to move the DP (to a lower version
 * without rollback, or to a higher one with it): the DP was not touched
 * and still holds its version, so the refusal fails the command for it
 * but is not noted on the DP or in the store as a failure, and queues no
 * retry.  Works on a remote DP's result too (held, old_version and
 * permanent travel in RESULT).
 */
bool dp_push_refused(const struct dp_push_result *r, bool rollback);

/*
 * Work that may follow a push once its outcome is known (pkgpush --serve
 * does it after its reply, under the DP's lock still): remove the trees
 * beyond keep (as dp_push() does without o->defer_tidy), and prepare a
 * spare of the current tree, DP/.pkgdist/PKG/spare.vN.K: a mirror of it
 * made of fresh directories and symbolic links and hard links to its
 * files, synced, then named.  The next push of pkg renames the spare to
 * its new tree and changes only what differs instead of linking every
 * unchanged file again; it checks the spare first (each directory holds
 * exactly the entries the manifest names; each kept file still has the
 * manifest's type, size, mode and mtime, as the old tree's files are
 * checked) and builds from scratch when it is not a faithful mirror.
 * Spares of other trees are removed.  Atomic layout only (else nothing
 * is done); 0, or -1 with err set (nothing is lost: the next push builds
 * its tree as it would without a spare).
 */
int dp_push_after(struct dp_handle *h, const char *pkg, unsigned keep);
#define DP_SPARE_PREFIX "spare."

/* Remove debris of an interrupted push of pkg (tmp.* under
 * .pkgdist/PKG).  dp_push() calls it; exposed for tests. */
int dp_clean_debris(struct dp_handle *h, const char *pkg);

/* ---- internal to the layouts (layout_atomic.c, layout_inplace.c) ---- */

struct dp_apply {
	struct dp_handle *h;
	const char *pkg;
	int pkgfd;			/* DP/.pkgdist/PKG */
	const struct manifest *oldm;	/* DP view, may be empty */
	/* The manifest as read from the DP with its base (mdelta.h), for
	 * writing the new one as a delta; NULL: none (a new base). */
	const struct manifest *loaded;
	struct mdelta_base *base;
	const struct manifest *newm;	/* DP view, header set */
	const struct content_source *src;
	const struct dp_push_opts *o;
	struct dp_push_result *r;
	struct dp_state *st;		/* current state, updated */
	/* Atomic: entries of newm hard-linked to the old tree's file and
	 * given their new mode and mtime there (layout_build_tree). */
	size_t *retimed, nretimed;
};

int layout_atomic_apply(struct dp_apply *a);
/* The newest kept tree of version v under a->pkgfd (one whose manifest
 * is there): 1 and its name in name, 0 none, -1 error.  Changes nothing
 * (a dry run asks it what layout_atomic_rollback would do). */
int layout_atomic_kept(struct dp_apply *a, uint64_t v, char *name,
    size_t len);
/* Switch DP/PKG back to the kept tree of version v that
 * layout_atomic_kept() names; 1 done, 0 none kept (nothing changed). */
int layout_atomic_rollback(struct dp_apply *a, uint64_t v);
/* Up to date: finish what a push cut short after its switch (the record
 * of the tree DP/PKG links to, the trees beyond keep) and make
 * DP/.pkgdist/PKG/manifest a pointer if it is not one. */
int layout_atomic_finish(struct dp_apply *a);
int layout_inplace_apply(struct dp_apply *a);

/* Shared by the layouts (layout_atomic.c). */
int layout_build_tree(struct dp_apply *a, int newfd, int oldfd,
    const char *where, const unsigned char *have);
int layout_fix_dirs(int rootfd, const struct manifest *m,
    const unsigned char *only, const char *where);
/* Files this big get their writeback started as soon as written (small
 * ones are left to the final sync: many tiny writes would only seek). */
#define LAYOUT_WRITEBACK_MIN (1024 * 1024)
/* At most this many writer threads per tree build. */
#define LAYOUT_WRITERS_MAX 8
int layout_syncfs(int fd, const char *what);
void layout_start_writeback(int fd);
int layout_set_times(int dirfd, const char *name, int fd, int64_t mtime);
/* Give a file just written (fd, name under dir) e's mode and mtime and
 * start the writeback of a big one.  0, or -1 with err set. */
int layout_finish_file(int dir, const char *name, int fd,
    const struct entry *e, const char *what);
int layout_copy_old(int olddir, const char *base, const struct entry *e,
    int fd, const char *what, uint64_t *bytes);
void layout_remove_quietly(int dirfd, const char *name);

/* Write a->newm as the DP's manifest name under a->pkgfd (a delta
 * against a->base when small, mdelta.h); counts r->state_bytes. */
int dp_save_manifest(struct dp_apply *a, const char *name);
/* Remove the bases no manifest names any more (mdelta_gc()), once the
 * new state is in place; a failure only sets r->warning. */
void dp_gc_bases(struct dp_apply *a);

/*
 * The one way a layout writes a file's content: fill fd (a new, empty
 * regular file) with e's content through a->src and add e->size to
 * *bytes.  It changes nothing in a (a->r included), so the atomic
 * layout's writer threads call it at once, each with its own counter,
 * when the source allows it (o->write_threads).  0, or -1 with err set.
 */
int dp_write_content(const struct dp_apply *a, const struct entry *e, int fd,
    const char *what, uint64_t *bytes);

#endif
