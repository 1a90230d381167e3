/*
 * store.h — the store: the site server's master copy of every package
 * version, the contents those versions share, and what the store knows
 * about the distribution points (holdings records, DP list, retry jobs).
 *
 * Layout (the store's own; documented in pkgstage(1) FILES):
 *
 *   STORE/format                  "pkgdist-store 1"
 *   STORE/dps                     the DP list (pkgpush's dplist.h parses it)
 *   STORE/config                  the site settings (config.h), read by
 *                                 store_open()
 *   STORE/retry/                  retry jobs (retryjob.h)
 *   STORE/objects/ab/cdef...      one content, named by its SHA-256 in hex
 *                                 (2 + 62 digits): the bytes as they are
 *   STORE/objects/ab/cdef....z    or a zlib stream (RFC 1950) of them
 *   STORE/objects/ab/cdef....k    the chunk index of a content above
 *                                 CHUNK_THRESHOLD bytes (chunkindex.h)
 *   STORE/packages/PKG/lock       lock: add, import, gc (STORE_LOCK_UPDATE)
 *   STORE/packages/PKG/use        lock: readers of versions vs gc
 *   STORE/packages/PKG/holdings   holdings records (see below)
 *   STORE/packages/PKG/last-version  the highest version number the
 *                                 package has had, written when its newest
 *                                 version is removed (store_rm); missing in
 *                                 a store that never removed one
 *   STORE/packages/PKG/v/N/manifest   version N's manifest (with header)
 *   STORE/packages/PKG/v/N/info   creation time, file count, bytes
 *   STORE/packages/PKG/v/N/sig    Ed25519 signature of manifest (optional)
 *   STORE/objects.lock            lock: writers of objects vs gc sweep
 *   STORE/tmp/                    staging; leftovers of a crash go at the
 *                                 next add/import/gc
 *
 * A version exists exactly when STORE/packages/PKG/v/N/manifest exists: it
 * is built in a temporary directory (contents made durable first) and
 * appears with one rename, so a crash anywhere leaves either the complete
 * version or nothing.  Contents are written before any version refers to
 * them and removed (gc) only when no version refers to them.
 *
 * Calling: a tool resolves the directory with store_path(), opens it
 * with store_open() (STORE_CREATE for add and import), and passes the
 * struct store * to everything else.  All functions return 0 (or a count,
 * or a boolean as 1/0) on success and -1 with err.h set on failure; they
 * never print.  A struct store may be used by several threads at once for
 * reading (contents, manifests); the staging calls (store_txn_*) belong
 * to one thread unless stated.
 *
 * Every name from outside (package, DP) must pass name_valid() first;
 * these functions check again and refuse a bad one.
 */
#ifndef PKGDIST_STORE_H
#define PKGDIST_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "digest.h"
#include "manifest.h"

struct chunk_list;
struct config;
struct progress;
struct store;

#define STORE_DEFAULT "/var/lib/pkgdist"
#define STORE_ENV "PKGDIST_STORE"
/* Names under the store directory. */
#define STORE_DPS "dps"
#define STORE_SITES "sites" /* child sites (dplist.h) */
#define STORE_TRUST \
	"trust"			  /* keys a version from outside \
				   * must be signed by (trust.h) */
#define STORE_INCOMING "incoming" /* the inbox (inbox.h) */
#define STORE_RETRY "retry"

/* The default --wait of tools that take a package lock: generous, so a
 * second add queues behind a long first one instead of failing. */
#define STORE_WAIT_DEFAULT 3600.0

/* The largest version number (2^53 - 1: every JSON reader keeps it
 * exact), and the largest one a caller may choose (add --version, a
 * package file's): 2^52, which leaves as many adds again after it. */
#define STORE_VERSION_MAX (((uint64_t)1 << 53) - 1)
#define STORE_VERSION_GIVEN_MAX ((uint64_t)1 << 52)

/* Largest manifest the store accepts (bytes), and largest content. */
#define STORE_MANIFEST_MAX ((size_t)1 << 30)
#define STORE_CONTENT_MAX ((uint64_t)1 << 46)

/* ---- opening ---- */

/* The store directory: opt if not NULL, else $PKGDIST_STORE if set and
 * not empty, else STORE_DEFAULT.  Never fails. */
const char *store_path(const char *opt);

enum {
	STORE_CREATE = 1 /* create the directory and layout if missing */
};

/* Open the store at dir.  Without STORE_CREATE a missing store is an
 * error ("store 'DIR': No such file or directory"); a directory that is
 * not a store (no or wrong STORE/format) is always one.  STORE/config is
 * read here: a malformed one is an error ("DIR/config:LINE: ..."), so
 * every tool that opens the store refuses it. */
int store_open(const char *dir, int flags, struct store **out);
void store_close(struct store *s);

/* The store's settings (STORE/config; empty when it has none), owned by
 * s.  The getters of config.h apply the environment's overrides. */
const struct config *store_config(const struct store *s);

/* The store directory as given. */
const char *store_dir(const struct store *s);

/* ---- packages and versions ---- */

/* Every package that has a directory in the store (even with no version
 * left), sorted; *names is a malloc'd array of malloc'd strings
 * (store_strings_free). */
int store_packages(struct store *s, char ***names, size_t *n);
void store_strings_free(char **v, size_t n);

/* Versions of pkg in ascending order (malloc'd; *n = 0 and *v = NULL for
 * an unknown package: not an error). */
int store_versions(struct store *s, const char *pkg, uint64_t **v, size_t *n);

/* Newest version of pkg, 0 when there is none. */
int store_newest(struct store *s, const char *pkg, uint64_t *version);

/* 1 if version exists, 0 if not, -1 on error. */
int store_has_version(struct store *s, const char *pkg, uint64_t version);

/* Load version's manifest (fully checked by manifest.h; its header names
 * pkg and version, else it is reported as damage).  m initialised by
 * the caller.  A missing version: -1, err "PKG version N: no such
 * version". */
int store_load_manifest(struct store *s, const char *pkg, uint64_t version,
    struct manifest *m);

/* The manifest's exact bytes (what a signature covers), malloc'd and
 * NUL-terminated. */
int store_manifest_bytes(struct store *s, const char *pkg, uint64_t version,
    char **buf, size_t *len);

struct store_version_info {
	uint64_t version;
	int64_t created;    /* seconds since the epoch */
	uint64_t files;	    /* `f` entries */
	uint64_t bytes;	    /* sum of their sizes */
	uint64_t new_bytes; /* stored bytes this version added (info) */
	bool is_signed;	    /* a signature is stored beside it */
};

int store_version_info(struct store *s, const char *pkg, uint64_t version,
    struct store_version_info *info);

/* ---- contents, by SHA-256 ---- */

/* 1 if the content is in the store, 0 if not, -1 on error. */
int store_has_content(struct store *s, const unsigned char d[DIGEST_LEN]);

/*
 * The stored form of a content, for callers that ship it as it is (the
 * SSH transport sends compressed contents without recompressing): its
 * bytes or a zlib stream of them.  A content kept as a delta from
 * another (a large file a version changed in part) is given as the
 * bytes it makes.  Read it with store_raw_read() from the start, close
 * it with store_raw_close().
 */
struct store_delta;
struct store_raw {
	int fd;			   /* the object; -1 for a delta */
	bool zlib;		   /* the bytes are a zlib stream (RFC 1950) */
	uint64_t stored_size;	   /* bytes to read */
	struct store_delta *delta; /* a delta, else NULL */
	uint64_t pos;		   /* a delta: bytes read */
};

int store_content_raw(struct store *s, const unsigned char d[DIGEST_LEN],
    struct store_raw *raw);
/* Up to n bytes; fewer only at the end (io_read_full's rules). */
ssize_t store_raw_read(struct store_raw *raw, void *buf, size_t n,
    const char *what);
void store_raw_close(struct store_raw *raw);

/*
 * A content's bytes at any offset, not checked here (callers that need
 * the SHA-256 checked read with a reader or hash what they rebuild):
 * the object when stored whole, the delta and its base otherwise.  1
 * with *v; 0 when the content is stored compressed (read it in order
 * with a reader instead); -1 with err (a missing content: errno ENOENT).
 */
struct store_view;
int store_content_view(struct store *s, const unsigned char d[DIGEST_LEN],
    struct store_view **v);
/* Exactly n bytes at off; -1 with err otherwise. */
int store_view_pread(struct store_view *v, void *buf, size_t n, uint64_t off);
void store_view_close(struct store_view *v);

/* A content opened for reading its original bytes. */
struct store_reader;

int store_content_open(struct store *s, const unsigned char d[DIGEST_LEN],
    struct store_reader **r);
/* Read up to n bytes; 0 at the end.  At the end the SHA-256 of all bytes
 * returned has been checked: a mismatch (damaged store) is -1 with err
 * "content HEX: digest mismatch", never a silent 0. */
ssize_t store_reader_read(struct store_reader *r, void *buf, size_t n);
void store_reader_close(struct store_reader *r);

/*
 * Read content d to its end as above, so its SHA-256 is checked, and
 * compare its length with size (the manifest's).  buf (len bytes) is the
 * caller's scratch; *total (may be NULL) gets the bytes read.  -1 with
 * err on any damage ("content HEX: ..."); fsck and export call it.
 */
int store_content_check(struct store *s, const unsigned char d[DIGEST_LEN],
    uint64_t size, void *buf, size_t len, uint64_t *total);

/*
 * Write the content's original bytes to outfd (from its current offset)
 * and check, as they are written, that they have the SHA-256 d and size
 * bytes.  A mismatch, a short content or a write error is -1, err
 * naming what (the "what" of the output in write errors).  The output is
 * then partial: callers write to a temporary file and rename it only on
 * success (pkgpush's hot path).  Raw contents are mapped and written
 * from the mapping in large chunks while being hashed (one copy);
 * compressed ones are inflated in large chunks.  On failure *store_fault
 * (when not NULL) says whether the store was at fault (the content
 * missing, unreadable, damaged) rather than the output: the caller
 * then names the content with store_err_content().
 */
int store_content_copy(struct store *s, const unsigned char d[DIGEST_LEN],
    uint64_t size, int outfd, const char *what, bool *store_fault);

/*
 * A descriptor to read content d (size bytes) at any offset (pread: the
 * old copy a recipe copies ranges from, recipe.h): the object itself when
 * it is stored as it is (not checked here: the rebuilt content's SHA-256
 * catches an object that is not what its name says), else an unlinked
 * temporary under STORE/tmp holding its bytes inflated and checked.
 * The caller closes it.  A missing content is -1 with errno ENOENT.
 */
int store_content_pread_fd(struct store *s, const unsigned char d[DIGEST_LEN],
    uint64_t size, int *fd);

/*
 * After a content failed to be read from the store, name it as an
 * administrator knows it, as fsck does: err becomes "PKG version V:
 * 'PATH': " in front of the message ("content HEX: digest mismatch
 * ..."), PATH (escaped, path_show) the first file of m, the version's
 * manifest, that has the digest d.  Linear in m: for error paths only.
 * Returns -1.
 */
int store_err_content(const char *pkg, uint64_t version,
    const struct manifest *m, const unsigned char d[DIGEST_LEN]);

/* ---- chunks of large contents ---- */

/*
 * The chunks (chunk.h) of content d, size bytes (above CHUNK_THRESHOLD),
 * from its index; an index that is missing (a content an earlier release
 * stored, or one imported), damaged or cut with other sizes is built by
 * reading the content (its SHA-256 and size checked: -1 with err
 * "content HEX: ..." otherwise) and kept for next time when the store
 * may be written.  out is the caller's (chunk_list_free).  Safe from
 * several threads.
 */
int store_content_chunks(struct store *s, const unsigned char d[DIGEST_LEN],
    uint64_t size, struct chunk_list *out);

/* ---- holdings records: which DP holds what ---- */

enum store_hold_state {
	STORE_HOLD_COMPLETE, /* DP is at version, whole */
	STORE_HOLD_PARTIAL,  /* push of wanted stopped midway (inplace) */
	STORE_HOLD_FAILED    /* push of wanted failed, or is not known to
			      * have ended; DP still at version */
};

struct store_holding {
	char dp[NAME_MAX_LEN + 1];
	uint64_t version; /* version the DP holds whole; 0: none */
	uint64_t wanted;  /* version last pushed to it; 0: none */
	enum store_hold_state state;
	int64_t time; /* when recorded (fault_now()) */
};

/* "complete", "partial", "failed". */
const char *store_hold_state_name(enum store_hold_state st);

/* h in words, for a message saying what was forgotten: "dp1 held
 * office version 2 (complete, last pushed 2)", or "dp1 held no version
 * of office (failed, last pushed 3)".  Returns buf. */
#define STORE_HOLDING_TEXT (2 * NAME_MAX_LEN + 96)
const char *store_holding_text(const char *pkg, const struct store_holding *h,
    char buf[STORE_HOLDING_TEXT]);

/* Record (replace) the holding of h->dp for pkg, atomically and under a
 * short lock of its own, so pushes of several DPs in threads or
 * processes may all record.  Safe from any thread. */
int store_holding_record(struct store *s, const char *pkg,
    const struct store_holding *h);

/*
 * Record, before a push touches any of them, that the n DPs named in dps
 * are being brought to version: each one's wanted becomes version (its
 * version and state stay as recorded; a DP with no record gets one
 * holding nothing, state failed), in one write under the holdings lock.
 * gc keeps every version named as a holding's wanted, so a push killed
 * after a DP switched and before its outcome was recorded still keeps
 * the version the DP may now hold.  The caller holds pkg's USE lock
 * shared from before this call until every outcome is recorded.
 */
int store_holdings_begin(struct store *s, const char *pkg,
    const char *const *dps, size_t n, uint64_t version);

/* Holdings of pkg, sorted by DP name (malloc'd; none: *n = 0). */
int store_holdings(struct store *s, const char *pkg, struct store_holding **v,
    size_t *n);

/* The holding of dp for pkg: 1 with *h filled, 0 when the store records
 * none (*h zeroed), -1 with err when the records cannot be read. */
int store_holding_find(struct store *s, const char *pkg, const char *dp,
    struct store_holding *h);

/* Forget the holding of dp for pkg (a DP removed from the list).  *had
 * (may be NULL) gets the record removed; 0 when there was none (had->dp
 * is then ""), 1 when one was removed. */
int store_holding_forget(struct store *s, const char *pkg, const char *dp,
    struct store_holding *had);

/* Forget the holdings of dp for pkg, or (pkg NULL) for every package of
 * the store, in their order: fn (may be NULL) is told of each record
 * removed, and *n gets how many were.  A pkg the store lacks is -1, err
 * "package 'PKG': not in the store". */
int store_holding_forget_every(struct store *s, const char *pkg, const char *dp,
    void (*fn)(void *arg, const char *pkg, const struct store_holding *had),
    void *arg, size_t *n);

/* ---- locks ---- */

enum store_lock_kind {
	/* Exclusive: add, import and gc hold it while they change the
	 * package's versions.  Serialises updates of one package (F5). */
	STORE_LOCK_UPDATE,
	/* Readers of a version's contents (pkgpush) hold it shared for as
	 * long as they read; gc holds it exclusive while it removes
	 * versions, so a version is never removed under a push. */
	STORE_LOCK_USE
};

/* Take the package lock of kind (shared only for STORE_LOCK_USE
 * readers), waiting up to timeout seconds (negative: forever).  Returns
 * the lock descriptor (release with store_unlock) or -1, err "package
 * 'PKG' is locked by another process (waited N s)". */
int store_lock(struct store *s, const char *pkg, enum store_lock_kind kind,
    bool shared, double timeout);
void store_unlock(int fd);

/* ---- staging a version (add, import) ---- */

/*
 * A transaction builds one version.  store_txn_begin() takes the
 * package's UPDATE lock (waiting up to timeout) and the store's objects
 * lock shared, and removes leftovers of crashed runs of this package.
 * Contents put during the transaction go to STORE/tmp/ and move into
 * objects/ only at commit (so an aborted add or import leaves the store
 * as it was).  store_txn_commit() makes the contents durable, writes the
 * version directory and renames it into place: only then is the version
 * visible.  store_txn_abort() (also after a failed commit, and a no-op
 * after a successful one) removes everything and releases the locks.
 */
struct store_txn;

int store_txn_begin(struct store *s, const char *pkg, double timeout,
    struct store_txn **t);

/* Newest version when the lock was taken (0: none). */
uint64_t store_txn_newest(const struct store_txn *t);

/* The highest version number the package has had (the newest, or a
 * newer one removed since: numbers are never given twice): add gives it
 * + 1, and add --version N must be above it. */
uint64_t store_txn_high(const struct store_txn *t);

/*
 * Stage the content of the regular file e->path under dirfd (no link
 * followed on the way, O_NOFOLLOW at the end): read it once in large
 * chunks, hash it as it is read, compress it when its first 64 KiB
 * shrink by more than about 10 % (blob.h), else keep it as it is.
 *
 * When trust_digest is false (a metadata-only scan), e->digest is
 * ignored; the file must have e->size bytes and must not change while
 * read (fstat before and after: size, mtime, ctime, inode).  When it is
 * true (a manifest from pkgdiff scan), the bytes read must hash to
 * e->digest; and a content the store already holds is not read at all:
 * the file is only checked to still have e's size and mtime (the quick
 * check of "pkgdiff scan --reuse").  Otherwise -1, err "'PATH': changed
 * while being staged (...)".  The digest is stored in out.  Safe to call
 * from several threads at once on one transaction.  *stored gets the
 * bytes this call added to the store (0 for a known content); may be
 * NULL.
 */
int store_txn_put_file(struct store_txn *t, int dirfd, const struct entry *e,
    bool trust_digest, unsigned char out[DIGEST_LEN], uint64_t *stored);

/*
 * Stage a content from a stream of its stored form (package import):
 * read stored bytes through the callback (returns count, 0 at end, -1
 * error), which are a zlib stream if zlib, else the bytes themselves;
 * the original bytes must have SHA-256 d and size bytes, else -1, err
 * "content HEX: digest mismatch".  Kept as stored (not recompressed).
 */
int store_txn_put_stream(struct store_txn *t, const unsigned char d[DIGEST_LEN],
    uint64_t size, bool zlib, ssize_t (*rd)(void *arg, void *buf, size_t n),
    void *arg, uint64_t *stored);

/*
 * Stage content d (size bytes, kept as they are) that make(arg, fd,
 * what) writes into fd, a new file of the transaction: make must check
 * that the bytes it writes have SHA-256 d (recipe_apply() does), and
 * the file must hold size bytes after it.  A content the store already
 * has is not made at all (*made false).  -1 when make fails (its err)
 * or the store cannot be written.
 */
int store_txn_put_made(struct store_txn *t, const unsigned char d[DIGEST_LEN],
    uint64_t size, int (*make)(void *arg, int fd, const char *what), void *arg,
    bool *made, uint64_t *stored);

/*
 * Commit m (sorted, checked; its header is set here to pkg and version)
 * as version, which must not exist yet (else -1, err "PKG version N:
 * already exists"); add passes newest + 1 or its checked --version N,
 * import may add a version below the newest.
 * Every `f` entry's content must be in the store or put in this
 * transaction, else -1 naming the path.  sig/siglen: a signature of the
 * exact manifest bytes to store beside it (NULL: none); the bytes are
 * produced by manifest_write() and may be obtained before commit with
 * store_manifest_render().  Releases the locks.
 */
int store_txn_commit(struct store_txn *t, struct manifest *m, uint64_t version,
    const unsigned char *sig, size_t siglen);
void store_txn_abort(struct store_txn *t);
/* Before an abort: move the contents put so far (each checked against
 * its digest) into objects/, durably, with no version using them yet: a
 * transfer cut short (a child site's receive) then need not bring them
 * again; gc removes them if no version comes to use them. */
int store_txn_keep_contents(struct store_txn *t);

/* The exact bytes store_txn_commit() stores for m with that header
 * (malloc'd, NUL-terminated): what add --sign signs. */
int store_manifest_render(struct manifest *m, const char *pkg, uint64_t version,
    char **buf, size_t *len);

/* ---- maintenance ---- */

struct store_gc_result {
	uint64_t versions_removed;
	uint64_t contents_removed;
	uint64_t bytes_freed;
};

/* Remove, per package, versions beyond the newest keep that no holding
 * names (as version or wanted), never the newest (keep 0 is keep 1),
 * then every content no version uses, and leftovers of crashed runs.
 * Takes each package's locks in turn (wait up to timeout): the UPDATE
 * lock, then the USE lock exclusive, and reads the holdings only then,
 * so a push that was reading records its holding first; the objects
 * lock exclusive for the sweep. */
int store_gc(struct store *s, unsigned keep, double timeout,
    struct store_gc_result *res);

/* What store_rm() removed (or, refused, would have to forget). */
struct store_rm_result {
	uint64_t *versions; /* removed, ascending (malloc'd) */
	size_t nversions;
	struct store_holding *forgot; /* records removed (malloc'd) */
	size_t nforgot;
};

void store_rm_result_free(struct store_rm_result *r);

/*
 * Remove version of pkg (0: every version, and its holdings records),
 * under its UPDATE lock and its USE lock exclusive (wait up to timeout).
 * Refused (-1, err naming them: "PKG version N: held by dp1, dp2
 * (--force removes their records too)") while a holdings record names
 * the version as held or being brought to (for the whole package: any
 * record holding or wanting a version), unless force, which removes
 * those records too.  A version the store lacks is -1 ("PKG version N:
 * no such version"), a package it lacks -1 ("package 'PKG': not in the
 * store").  When the newest version goes, its number is kept in
 * packages/PKG/last-version first, so no later add gives it again (the
 * package's directory stays for that).  Contents no version uses any
 * longer stay until the next gc.  r is filled in both on success and on
 * a refusal (the records in the way); the caller frees it.
 */
int store_rm(struct store *s, const char *pkg, uint64_t version, bool force,
    double timeout, struct store_rm_result *r);

/* Check the whole store: every manifest parses and names its package and
 * version, every content referenced exists and has its hash (and size).
 * Each damage found is passed to report (one line, e.g.
 * "office97 version 3: content 9f86...: missing").  Returns the number
 * of damages (0 clean) or -1 when the check itself could not run. */
int store_fsck(struct store *s, struct progress *p,
    void (*report)(const char *line, void *arg), void *arg);

/* The signature stored beside version (malloc'd); *sig = NULL and
 * *len = 0 when it is unsigned. */
int store_version_signature(struct store *s, const char *pkg, uint64_t version,
    unsigned char **sig, size_t *len);

/* Verify version's stored signature against the public key file pub
 * (sign.h): 0 valid; -1 with err "PKG version N: not signed" or
 * "...: bad signature" otherwise.  pkgpush --trust calls it. */
int store_verify_version(struct store *s, const char *pkg, uint64_t version,
    const char *pub);

#endif
