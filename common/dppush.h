/*
 * dppush.h — bringing one DP to one version of one package.
 *
 * dp_push() is the whole DP side of a push, and knows nothing of the
 * store: it takes the DP (dp.h), the new version's manifest and a
 * content source, a struct of callbacks that writes a content, named by
 * its SHA-256 and size, into a file descriptor.  Locally (pkgpush) the
 * source reads the store; on a remote DP (pkgpush --serve) the same
 * dp_push() runs on the far side with a source that reads contents
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
 * The layouts are the engine's own (layout.h, private to dppush.c and
 * layout*.c); nothing outside sees them.
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
	/*
	 * Optional (may be NULL): as write(), for a file above
	 * CHUNK_THRESHOLD bytes whose path holds an older content above
	 * it on the DP: oldfd is that old copy (open for reading, never
	 * to be written: clients read it; not trusted) and old its entry
	 * in the DP's manifest.  fd is open for reading too.  The source
	 * may share the unchanged blocks with the old copy instead of
	 * writing them (reflink.h); *written gets the bytes it really
	 * wrote.  The same check as write()'s holds.
	 */
	int (*write_shared)(void *ctx, const unsigned char digest[DIGEST_LEN],
	    uint64_t size, int oldfd, const struct entry *old, int fd,
	    const char *what, uint64_t *written);
};

struct dp_push_opts {
	bool inplace;  /* layout for a DP that does not hold the
			* package yet (a DP keeps its layout) */
	bool verify;   /* re-hash what the DP holds first */
	bool rollback; /* allow a lower version */
	bool dry_run;  /* compute and report, change nothing */
	unsigned keep; /* atomic: trees kept, current included */
	int jobs;      /* hash threads for a scan (0: all CPUs) */
	/* Threads writing files at once (0 or 1: one, in the order given
	 * to prepare()).  More only with a source whose write() may be
	 * called from several threads at once, in any order (the store);
	 * never with a stream (the remote side). */
	int write_threads;
	/* DPs pushed at once from one source (a fanout, fanout.h): this
	 * one is number stagger of staggers (0: alone), and writes its
	 * files from that share of the way through the list, wrapping
	 * around, so that the DPs pushed at once read, inflate and check
	 * different contents first and copy the rest from one another.
	 * Not with a stream (prepare() set): its order is kept. */
	unsigned stagger, staggers;
	struct progress *progress; /* may be NULL */
	struct ratelimit *rate;	   /* remote DPs: the cap on what crosses the
				    * connection (ratelimit.h), or NULL */
	bool defer_tidy;	   /* atomic: leave the removal of trees beyond
				    * keep to dp_push_after() */
};

void dp_push_opts_init(struct dp_push_opts *o);

struct dp_push_result {
	bool held; /* the DP held the package before */
	uint64_t old_version, new_version;
	bool old_partial;
	uint64_t added, changed, deleted, meta; /* entries */
	uint64_t linked;      /* atomic: files hard-linked, unchanged */
	uint64_t bytes;	      /* bytes of content written */
	uint64_t state_bytes; /* bytes of state written on the DP (the
			       * state record, manifest deltas, bases) */
	bool from_spare;      /* atomic: the new tree was made from the
			       * spare (dp_push_after) */
	bool state_rebuilt;   /* --verify: the DP's state manifest could
			       * not be read and was made anew */
	char warning[512];    /* done, but something to tell ("": none):
			       * an unused base that could not be removed */
	uint64_t busy;	      /* inplace: files in use, left untouched */
	bool reused_tree;     /* rollback to a kept tree, nothing copied */
	bool up_to_date;      /* nothing to do */
	bool inplace;	      /* the layout used is in place */
	bool kept_layout;     /* the DP's layout differs from o->inplace's
			       * and was kept */
	int failed_errno;     /* on failure: errno class, 0 if unknown */
	bool permanent;	      /* on failure: waiting will not help (a
			       * lower version refused) */
	bool one_dp_sessions; /* remote: its pkgpush took one DP a session
			       * (an older release; remote.h) */
	uint64_t bytes_sent;  /* remote: bytes sent on the connection */
	uint64_t bytes_saved; /* remote: stored bytes of changed large
			       * files not sent, the DP's old copies
			       * holding them (recipes) */

	/* Local: bytes of changed files not written but shared with the
	 * DP's old copies (reflinks); bytes does not count them. */
	uint64_t bytes_shared;
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

#endif
