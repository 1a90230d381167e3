/*
 * store_int.h — the parts of the store module shared by its files:
 * store.c (opening, layout, packages, versions, locks, leftovers of
 * crashed runs, the store's digest hash set), store_content.c (contents:
 * objects, readers, checks), store_txn.c (staging transactions),
 * store_holdings.c (holdings records) and store_gc.c (gc, rm, fsck).
 *
 * Code outside the store module must not include this file: its callers
 * use store.h.  Everything here follows store.h's rules (0 or -1 with
 * err.h set, never a message printed).
 */
#ifndef PKGDIST_STORE_INT_H
#define PKGDIST_STORE_INT_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "digest.h"
#include "store.h"

#define STORE_FORMAT_LINE "pkgdist-store 1\n"
#define STORE_HOLD_MAGIC "pkgdist-holdings 1"
#define STORE_LAST_VERSION "last-version"
#define STORE_OBJ_NAME_MAX (2 + 1 + 62 + 2 + 1)
#define STORE_TXN_PREFIX "txn-"
#define STORE_BUILD_PREFIX ".build-"
#define STORE_DEL_PREFIX ".del-"

struct store {
	char *dir;
	int fd;			 /* STORE */
	int objfd;		 /* STORE/objects */
	int pkgfd;		 /* STORE/packages */
	int tmpfd;		 /* STORE/tmp */
	pthread_mutex_t mu;	 /* objects/ab creation */
	unsigned char made[256]; /* objects/ab known to exist */
	struct config cfg;	 /* STORE/config */
};

/* ---- a set of digests (open addressing; digests are random): the
 * contents staged by a transaction, used by versions (gc), checked
 * (fsck).  Not locked: callers that share one lock it. ---- */

struct dslot {
	unsigned char d[DIGEST_LEN];
	bool used;
	bool zlib;
	bool delta;	 /* txn: staged as a delta */
	uint64_t size;	 /* content size (fsck) */
	uint64_t stored; /* stored size (txn) */
	size_t ref;	 /* fsck: first reference; txn: part number */
	bool chunks;	 /* txn: its chunk index is staged too */
};

struct dset {
	struct dslot *v;
	size_t cap, n;
};

void store_dset_free(struct dset *s);
/* The slot of d, NULL when absent. */
struct dslot *store_dset_find(const struct dset *s,
    const unsigned char d[DIGEST_LEN]);
/* Insert d (or find it); *isnew tells which.  NULL on ENOMEM (err set). */
struct dslot *store_dset_add(struct dset *s, const unsigned char d[DIGEST_LEN],
    bool *isnew);

/* ---- small helpers ---- */

/* How a content is kept: its bytes, a zlib stream of them, or a delta
 * from another content (store_delta.c). */
enum store_form { STORE_RAW, STORE_ZLIB, STORE_DELTA };
#define STORE_FORMS 3

/* "ab/cdef..." (".z" appended for zlib, ".d" for a delta): d's name
 * under STORE/objects. */
void store_obj_name(const unsigned char d[DIGEST_LEN], enum store_form form,
    char out[STORE_OBJ_NAME_MAX]);
/* The suffix of form's names ("", ".z", ".d"). */
const char *store_form_suffix(enum store_form form);
/* openat of a directory, no link followed (errno kept; no err set). */
int store_open_dir(int dirfd, const char *name);
/* mkdir that accepts an existing directory; what names it in errors. */
int store_ensure_dir(int dirfd, const char *name, const char *what);
/*
 * A write to the store failed: say what the store was doing (fmt) and
 * which store, not the internal file that failed ("cannot write 'p1'");
 * the reason (strerror) is kept.  Returns -1.
 */
int store_err_io(struct store *s, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* The store's one syncfs (through the fault hook as an fsync). */
int store_sync(struct store *s);

/* ---- chunk indexes (store_chunks.c) ---- */

struct chunk_list;

#define STORE_CHUNKS_SUFFIX ".k"
/* "ab/cdef....k": the name of d's chunk index under STORE/objects. */
void store_chunks_name(const unsigned char d[DIGEST_LEN],
    char out[STORE_OBJ_NAME_MAX]);
/* Write l as d's index to a new file name under dirfd (no fsync: the
 * commit's syncfs covers it). */
int store_chunks_write_at(int dirfd, const char *name,
    const struct chunk_list *l, const unsigned char d[DIGEST_LEN]);
/* fsck: read content d once (buf of len bytes), checking its SHA-256
 * and size (-1 with err otherwise; *total the bytes read), and its index
 * against it: 1 when the index is damaged or does not match (why says
 * how), 0 when it matches or there is none. */
int store_chunks_check(struct store *s, const unsigned char d[DIGEST_LEN],
    uint64_t size, void *buf, size_t len, uint64_t *total, char *why,
    size_t whylen);

/* ---- deltas (store_delta.c) ---- */

struct recipe;
struct store_delta;

/* A delta is kept only when the bytes it carries are at most 1/N of the
 * content: beyond that the content is kept whole and becomes the base
 * of the next versions (deltas never chain). */
#define STORE_DELTA_MAX_PART 2

/* Open the delta fd (taken over, closed on failure too) of content d
 * and its base: every operation checked, the base stored whole and of
 * the size the delta says. */
int store_delta_open(struct store *s, const unsigned char d[DIGEST_LEN], int fd,
    struct store_delta **dl);
/* Exactly n bytes of the content at off (not checked here: readers hash
 * what they read). */
int store_delta_pread(struct store_delta *dl, void *buf, size_t n,
    uint64_t off);
uint64_t store_delta_size(const struct store_delta *dl);
void store_delta_close(struct store_delta *dl);
/* The base d is a delta of: 1 with base and *base_size, 0 when d is not
 * kept as a delta (or its head is damaged: it names no base), -1 when
 * it cannot be read. */
int store_delta_base(struct store *s, const unsigned char d[DIGEST_LEN],
    unsigned char base[DIGEST_LEN], uint64_t *base_size);
/* 1 with r when the content in newfd (cut into chunks) is worth keeping
 * as a delta from base, a content stored whole (cut into base_chunks);
 * 0 when not (anything in the way included: the content is then kept
 * whole). */
int store_delta_plan(struct store *s, const unsigned char base[DIGEST_LEN],
    uint64_t base_size, const struct chunk_list *base_chunks,
    const struct chunk_list *chunks, int newfd, struct recipe *r);
/* Write r as the delta of d (size bytes, its bytes in newfd) from base
 * to a new file name under dirfd (no fsync: the commit's syncfs covers
 * it).  Returns the file open for reading and writing, *stored its
 * length, or -1 (the file removed). */
int store_delta_write(int dirfd, const char *name,
    const unsigned char d[DIGEST_LEN], uint64_t size,
    const unsigned char base[DIGEST_LEN], uint64_t base_size,
    const struct recipe *r, int newfd, uint64_t *stored);

/* ---- packages and versions ---- */

/* Open packages/PKG/v; -1 with errno ENOENT (err set) if missing. */
int store_open_vdir(struct store *s, const char *pkg);
/* The highest version number pkg has had by its mark
 * (packages/PKG/last-version; 0: none, as in every store that never
 * removed a newest version).  A mark that does not parse is damage. */
int store_mark_read(struct store *s, const char *pkg, uint64_t *mark);
/* Keep v as that mark (a mark already above v stays); before the newest
 * version is removed. */
int store_mark_write(struct store *s, const char *pkg, uint64_t v);

/* ---- leftovers of crashed runs ---- */

/* Remove STORE/tmp/txn-* whose owner is gone (its lock is free). */
int store_clean_tmp(struct store *s);
/* Remove v/.build-* and v/.del-* of a package (vfd: its v directory;
 * the caller holds its UPDATE lock). */
int store_clean_vdir(struct store *s, int vfd);

/* ---- holdings ---- */

/* Parse packages/PKG/holdings, sorted by DP (missing: none). */
int store_holdings_read(struct store *s, const char *pkg,
    struct store_holding **vp, size_t *np);
/* Replace packages/PKG/holdings with v (sorted by the caller). */
int store_holdings_write(struct store *s, const char *pkg,
    const struct store_holding *v, size_t n);
/* The holdings lock of pkg (creating the package directory): held
 * around every read-modify-write of its holdings. */
int store_holdings_lock(struct store *s, const char *pkg);

#endif
