/*
 * chunk.h — content-defined chunks of a large content.
 *
 * A content above CHUNK_THRESHOLD bytes is cut into chunks whose
 * boundaries follow the bytes, not their offsets: a rolling "gear" hash
 * (one table look-up, one shift and one add per byte; its state depends
 * only on the last 64 bytes) is tested at every byte, and a chunk ends
 * where the hash's top bits are all zero.  An insertion or a deletion
 * therefore moves only the boundaries near it, and the chunks after it
 * come out the same, so two versions of a file that differ a little
 * share most chunks.
 *
 * Sizes are normalised: no cut before min bytes (those bytes are not even
 * hashed, except the 64 the hash needs to be warm at min), a stricter
 * test (more bits) below the average and a looser one above it, and a
 * forced cut at max.  Chunks then cluster around the average, with few
 * tiny or huge ones.  Each chunk is named by the SHA-256 of its bytes.
 *
 * The same bytes always give the same cuts and ids for the same
 * parameters (struct chunk_params; chunk_params_default() is what the
 * store uses), whatever sizes the bytes are fed in.
 *
 *   struct chunker c;
 *   chunker_init(&c, NULL);
 *   while (... read buf ...) chunker_update(&c, buf, n);
 *   chunker_final(&c, &list);      (list.v[i]: offset, length, id)
 *   chunk_list_free(&list);
 *
 * struct chunk_feed runs a chunker on a thread of its own, fed buffers
 * that the caller has finished with: the store chunks a content while
 * the same read hashes and stores it (one read), and the second core
 * does the chunking.
 *
 * Every function returns 0 or -1 with err.h set; none prints.
 */
#ifndef PKGDIST_CHUNK_H
#define PKGDIST_CHUNK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "digest.h"

/* Contents above this many bytes are chunked. */
#define CHUNK_THRESHOLD ((uint64_t)1 << 20)
/* The average the store uses (bytes; a power of two). */
#define CHUNK_AVG_DEFAULT ((uint32_t)32 << 10)
/* Bounds on the parameters: chunk lengths fit 32 bits, and the hash
 * needs 64 bytes before the first cut. */
#define CHUNK_AVG_MIN ((uint32_t)256)
#define CHUNK_AVG_MAX ((uint32_t)1 << 24)

struct chunk_params {
	uint32_t avg; /* a power of two */
	uint32_t min; /* avg / 4 */
	uint32_t max; /* avg * 4 */
};

/* The parameters for average avg (a power of two within the bounds
 * above); -1 with err otherwise. */
int chunk_params_for(uint32_t avg, struct chunk_params *p);
/* The store's: CHUNK_AVG_DEFAULT. */
void chunk_params_default(struct chunk_params *p);

struct chunk {
	uint64_t off;
	uint32_t len;
	unsigned char id[DIGEST_LEN];
};

struct chunk_list {
	struct chunk *v;
	size_t n, cap;
	uint64_t size; /* sum of the lengths */
};

void chunk_list_free(struct chunk_list *l);
/* Append a chunk (off must be l->size); -1 on ENOMEM. */
int chunk_list_add(struct chunk_list *l, uint32_t len,
    const unsigned char id[DIGEST_LEN]);

struct chunker {
	struct chunk_params p;
	uint64_t mask_small; /* tested below avg: more bits */
	uint64_t mask_large; /* tested from avg on: fewer bits */
	uint64_t h;	     /* the rolling hash */
	uint32_t len;	     /* bytes of the current chunk so far */
	struct digest dg;    /* SHA-256 of the current chunk */
	struct chunk_list out;
};

/* p NULL: chunk_params_default(). */
int chunker_init(struct chunker *c, const struct chunk_params *p);
int chunker_update(struct chunker *c, const void *buf, size_t n);
/* End the last chunk and hand the list over (the chunker is freed). */
int chunker_final(struct chunker *c, struct chunk_list *out);
/* Free without a result; safe after chunker_final and twice. */
void chunker_free(struct chunker *c);

/* ---- a chunker on its own thread ---- */

#define CHUNK_FEED_BUF ((size_t)1 << 20)

struct chunk_feed;

int chunk_feed_start(const struct chunk_params *p, struct chunk_feed **out);
/* A buffer of CHUNK_FEED_BUF bytes to read into (waits while every
 * buffer is being chunked).  Owned by the feed. */
unsigned char *chunk_feed_buf(struct chunk_feed *f);
/* Hand over the first n bytes of the buffer chunk_feed_buf() gave last;
 * the caller must not touch it afterwards. */
int chunk_feed_push(struct chunk_feed *f, size_t n);
/* Wait for the chunking of everything pushed, hand the list over and
 * free the feed (also on failure: -1 with the chunker's error). */
int chunk_feed_end(struct chunk_feed *f, struct chunk_list *out);
/* Stop and free without a result; NULL is accepted. */
void chunk_feed_abort(struct chunk_feed *f);

#endif
