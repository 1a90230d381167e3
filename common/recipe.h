/*
 * recipe.h — a large content rebuilt on the far side from its old copy:
 * which ranges of the old content to copy, which bytes to insert.
 *
 * The site knows the chunks (chunk.h) of the content a DP holds at a
 * path and of the new one (the store's chunk indexes).  recipe_plan()
 * matches them by id: a new chunk the old content has becomes a copy of
 * that range of the old copy (neighbouring copies merge into one), any
 * other becomes an insertion of its bytes.  When few bytes are in common
 * (a compressed file: any change moves every byte) recipe_worth() says
 * so, and the content goes whole.
 *
 * On the wire (proto.h: a RECIPE frame, then DATA frames, each holding
 * whole operations, until the content's size is made):
 *
 *   'C' u64 offset  u64 length             copy from the old copy
 *   'I' u8 zlib  u32 length  u32 stored  stored bytes
 *                                          insert length bytes (a zlib
 *                                          stream of them when zlib)
 *
 * recipe_apply() (the far side) writes the new content into a file from
 * the old copy and the operations, hashing as it writes; it trusts
 * nothing: every offset, length and count is checked before use.  An
 * old copy that is not what the site thinks (edited on the share, its
 * size or bytes differ) makes the result's SHA-256 differ: *drift is
 * then set and the caller asks for the whole content instead.  Memory
 * is constant whatever the content's size.
 *
 * Functions return 0 or -1 with err.h set, and never print.
 */
#ifndef PKGDIST_RECIPE_H
#define PKGDIST_RECIPE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "chunk.h"
#include "digest.h"

#define RECIPE_OP_COPY 'C'
#define RECIPE_OP_INSERT 'I'
#define RECIPE_COPY_LEN 17
#define RECIPE_INSERT_HEAD 10
/* The longest insertion: with its zlib bound it fits a frame. */
#define RECIPE_INSERT_MAX ((uint32_t)256 << 10)

struct recipe_op {
	bool copy;
	uint64_t off; /* copy: in the old content; insert: in the
		       * new one */
	uint64_t len;
};

struct recipe {
	struct recipe_op *v;
	size_t n, cap;
	uint64_t copied;   /* bytes copies make */
	uint64_t inserted; /* bytes insertions carry */
};

/* The operations that make new from old. */
int recipe_plan(const struct chunk_list *old, const struct chunk_list *new,
    struct recipe *r);
void recipe_free(struct recipe *r);

/*
 * Narrow each insertion to the bytes that really differ: where the new
 * bytes it carries start or end as the old bytes between the copies
 * around it do (an edit that overwrote a few KiB inside a chunk), those
 * become copies.  rd(arg, which, off, buf, n) reads n bytes at off of
 * the old (which 0) or new (1) content; -1 with err set.
 */
typedef int (*recipe_read_fn)(void *arg, int which, uint64_t off,
    unsigned char *buf, size_t n);
int recipe_refine(struct recipe *r, uint64_t old_size, recipe_read_fn rd,
    void *arg);

/* Is a recipe worth sending rather than the whole content: at least an
 * eighth of the bytes copied from the old copy. */
bool recipe_worth(const struct recipe *r);

/* Encode one operation at buf (room bytes: RECIPE_COPY_LEN, or for an
 * insertion RECIPE_INSERT_HEAD + compressBound(len)); returns its
 * length.  An insertion of len (at most RECIPE_INSERT_MAX) bytes is
 * compressed (zlib) where that pays. */
size_t recipe_enc_copy(unsigned char *buf, uint64_t off, uint64_t len);
size_t recipe_enc_insert(unsigned char *buf, size_t room,
    const unsigned char *data, uint32_t len);
/* The room an insertion of len bytes may take. */
size_t recipe_insert_room(uint32_t len);

/* The source of the operations: the next frame's payload (DATA), as
 * proto_expect() gives it; -1 with err set. */
typedef int (
    *recipe_next_fn)(void *arg, const unsigned char **payload, size_t *len);

/*
 * Make the content of digest d and size bytes in outfd (at its offset)
 * from oldfd (old_size bytes expected; read with pread, never written)
 * and the operations next() gives, buf being the caller's scratch of
 * buflen (at least RECIPE_INSERT_MAX) bytes.  0: made and checked;
 * -1 with *drift: the old copy was not what the site thinks (the output
 * is then incomplete, every operation was still read); -1 without it:
 * malformed operations or an I/O error on outfd (what names it).
 */
int recipe_apply(int oldfd, uint64_t old_size, int outfd, const char *what,
    const unsigned char d[DIGEST_LEN], uint64_t size, recipe_next_fn next,
    void *arg, unsigned char *buf, size_t buflen, bool *drift);

#endif
