/*
 * chunkindex.h — the chunk index of one large content: the bytes the
 * store keeps beside the content (STORE/objects/ab/cdef....k, pkgstage(1)
 * FILES) so that a push knows a content's chunks without reading it.
 *
 * Format (integers big-endian):
 *
 *   "PKGCHIX1"                 8 bytes
 *   avg, min, max              u32 each: the chunk_params it was cut with
 *   count                      u32: chunks
 *   size                       u64: the content's bytes
 *   digest                     32: the content's SHA-256
 *   count x (len u32, id 32)   each chunk in order (offsets are the sum
 *                              of the lengths before it)
 *   check                      32: SHA-256 of everything above
 *
 * 36 bytes a chunk: 0.1 % of the content at the 32 KiB average.
 *
 * chunkindex_decode() trusts nothing: a damaged, truncated or foreign
 * index is -1 with err set (callers rebuild it from the content).  Both
 * return -1 with err.h set on failure and never print.
 */
#ifndef PKGDIST_CHUNKINDEX_H
#define PKGDIST_CHUNKINDEX_H

#include <stddef.h>
#include <stdint.h>

#include "chunk.h"
#include "digest.h"

#define CHUNKINDEX_MAGIC "PKGCHIX1"
#define CHUNKINDEX_HEAD 64
#define CHUNKINDEX_ENTRY (4 + DIGEST_LEN)
#define CHUNKINDEX_TAIL DIGEST_LEN

/* Bytes of the index of a content of size bytes cut with p, at most:
 * what a reader may read before it refuses the file. */
size_t chunkindex_max_len(uint64_t size, const struct chunk_params *p);

/* The index of the content d (l->size bytes) cut with p, malloc'd. */
int chunkindex_encode(const struct chunk_list *l, const struct chunk_params *p,
    const unsigned char d[DIGEST_LEN], unsigned char **out, size_t *len);

/* Decode buf[0..len) as the index of content d of size bytes cut with
 * p: anything else (other parameters included) is -1 with err "chunk
 * index: ...".  l is filled on success (chunk_list_free). */
int chunkindex_decode(const unsigned char *buf, size_t len,
    const unsigned char d[DIGEST_LEN], uint64_t size,
    const struct chunk_params *p, struct chunk_list *l);

#endif
