/*
 * test_chunk.c — content-defined chunks: the cuts follow the content
 * (the same for any feeding, only nearby cuts move after an insertion),
 * min and max hold, empty and tiny inputs, ids are the SHA-256 of the
 * bytes, and the threaded feed gives what the plain chunker gives.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/sha.h>

#include "chunk.h"
#include "err.h"
#include "tap.h"

#define SIZE ((size_t)8 << 20)

static uint64_t rng = 0x1234567887654321ULL;

static uint64_t
next(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}

static void
fill(unsigned char *p, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		p[i] = (unsigned char)(next() >> 24);
}

/* Chunk p[0..n) fed in pieces of step bytes (0: random sizes). */
static int
chunk(const unsigned char *p, size_t n, size_t step,
    const struct chunk_params *cp, struct chunk_list *l)
{
	struct chunker c;
	size_t off = 0;

	if (chunker_init(&c, cp) == -1)
		return -1;
	while (off < n) {
		size_t k = step != 0 ? step : 1 + (size_t)(next() % 300000);

		if (k > n - off)
			k = n - off;
		if (chunker_update(&c, p + off, k) == -1) {
			chunker_free(&c);
			return -1;
		}
		off += k;
	}
	return chunker_final(&c, l);
}

static int
same(const struct chunk_list *a, const struct chunk_list *b)
{
	size_t i;

	if (a->n != b->n || a->size != b->size)
		return 0;
	for (i = 0; i < a->n; i++)
		if (a->v[i].off != b->v[i].off || a->v[i].len != b->v[i].len ||
		    memcmp(a->v[i].id, b->v[i].id, DIGEST_LEN) != 0)
			return 0;
	return 1;
}

/* Chunks of b whose id is a chunk of a (quadratic: small lists). */
static size_t
shared(const struct chunk_list *a, const struct chunk_list *b)
{
	size_t i, j, k = 0;

	for (i = 0; i < b->n; i++)
		for (j = 0; j < a->n; j++)
			if (memcmp(a->v[j].id, b->v[i].id, DIGEST_LEN) == 0) {
				k++;
				break;
			}
	return k;
}

static int
well_formed(const struct chunk_list *l, const struct chunk_params *p,
    const unsigned char *data, size_t n)
{
	unsigned char id[SHA256_DIGEST_LENGTH];
	uint64_t off = 0;
	size_t i;

	if (l->size != n)
		return 0;
	for (i = 0; i < l->n; i++) {
		if (l->v[i].off != off || l->v[i].len > p->max ||
		    l->v[i].len == 0)
			return 0;
		if (i + 1 < l->n && l->v[i].len < p->min)
			return 0;
		SHA256(data + off, l->v[i].len, id);
		if (memcmp(id, l->v[i].id, DIGEST_LEN) != 0)
			return 0;
		off += l->v[i].len;
	}
	return off == n;
}

int
main(void)
{
	struct chunk_params p, small;
	struct chunk_list a = { 0 }, b = { 0 }, c = { 0 };
	struct chunk_feed *f = NULL;
	unsigned char *data, *ins;
	size_t off, i, k;
	int ok;

	chunk_params_default(&p);
	tap_ok(p.avg == CHUNK_AVG_DEFAULT && p.min == p.avg / 4 &&
		p.max == p.avg * 4,
	    "default parameters: min avg/4, max 4 avg");
	ok = chunk_params_for(3000, &small) == -1 && *err_get() != '\0';
	tap_ok(ok, "an average that is not a power of two is refused: %s",
	    err_get());
	tap_ok(chunk_params_for(64, &small) == -1,
	    "an average below the bound is refused");
	tap_ok(chunk_params_for(4096, &small) == 0 && small.min == 1024 &&
		small.max == 16384,
	    "4096: min 1024, max 16384");

	data = malloc(SIZE + 4096);
	ins = malloc(SIZE + 4096);
	if (data == NULL || ins == NULL)
		return 1;
	fill(data, SIZE);

	ok = chunk(data, SIZE, SIZE, &p, &a) == 0;
	tap_ok(ok && well_formed(&a, &p, data, SIZE),
	    "8 MiB random: %zu chunks, each within min and max, ids the "
	    "SHA-256 of their bytes, consecutive, covering all",
	    a.n);
	tap_ok(a.n > 0 && SIZE / a.n > p.avg / 2 &&
		    SIZE /
			a.n<p.avg * 2,
			    "the mean chunk (%zu bytes) is near the average "
			    "(%lu)",
			    a.n> 0 ?
		SIZE / a.n :
		0,
	    (unsigned long)p.avg);

	ok = chunk(data, SIZE, 0, &p, &b) == 0;
	tap_ok(ok && same(&a, &b),
	    "fed in random pieces: the same cuts "
	    "and ids");
	chunk_list_free(&b);
	ok = chunk(data, 1 << 20, 1, &p, &b) == 0 &&
	    chunk(data, 1 << 20, 1 << 20, &p, &c) == 0 && same(&b, &c);
	tap_ok(ok, "fed a byte at a time: the same cuts and ids");
	chunk_list_free(&b);
	chunk_list_free(&c);

	/* 100 bytes inserted at the start. */
	fill(ins, 100);
	memcpy(ins + 100, data, SIZE);
	ok = chunk(ins, SIZE + 100, SIZE, &p, &b) == 0;
	k = ok ? shared(&a, &b) : 0;
	tap_ok(ok && k + 2 >= b.n && k + 2 >= a.n,
	    "100 bytes inserted at the start: %zu of %zu chunks unchanged", k,
	    b.n);
	for (i = 0, off = 0; ok && i < b.n; i++)
		if (b.v[i].off > 2 * (uint64_t)p.max) {
			off = i;
			break;
		}
	ok = ok && off > 0;
	for (i = off; ok && i < b.n; i++) {
		size_t j;

		for (j = 0; j < a.n && a.v[j].off + 100 != b.v[i].off; j++)
			;
		if (j == a.n || a.v[j].len != b.v[i].len)
			ok = 0;
	}
	tap_ok(ok,
	    "beyond the first two max lengths every cut is the old "
	    "one moved by 100 bytes");
	chunk_list_free(&b);

	/* A run of zeros: the hash settles; cuts are forced at max or
	 * come at min, never outside. */
	memset(ins, 0, SIZE);
	ok = chunk(ins, SIZE, 0, &p, &b) == 0 && well_formed(&b, &p, ins, SIZE);
	tap_ok(ok, "8 MiB of zeros: %zu chunks, within min and max", b.n);
	chunk_list_free(&b);

	ok = chunk(data, 0, 1, &p, &b) == 0;
	tap_ok(ok && b.n == 0 && b.size == 0, "empty input: no chunk");
	chunk_list_free(&b);
	ok = chunk(data, 1, 1, &p, &b) == 0;
	tap_ok(ok && b.n == 1 && b.v[0].len == 1 &&
		well_formed(&b, &p, data, 1),
	    "one byte: one chunk of one byte, its SHA-256");
	chunk_list_free(&b);
	ok = chunk(data, p.min - 1, 0, &p, &b) == 0;
	tap_ok(ok && b.n == 1 && b.v[0].len == p.min - 1,
	    "below min: one chunk");
	chunk_list_free(&b);

	ok = chunk_feed_start(&p, &f) == 0;
	for (off = 0; ok && off < SIZE; off += k) {
		unsigned char *buf = chunk_feed_buf(f);

		k = 1 + (size_t)(next() % CHUNK_FEED_BUF);
		if (k > SIZE - off)
			k = SIZE - off;
		memcpy(buf, data + off, k);
		ok = chunk_feed_push(f, k) == 0;
	}
	ok = ok && chunk_feed_end(f, &b) == 0;
	tap_ok(ok && same(&a, &b), "the threaded feed gives the same list");
	chunk_list_free(&b);
	ok = chunk_feed_start(&p, &f) == 0;
	if (ok) {
		memcpy(chunk_feed_buf(f), data, 4096);
		ok = chunk_feed_push(f, 4096) == 0;
		chunk_feed_abort(f);
	}
	tap_ok(ok, "a feed aborted midway stops and frees");

	chunk_list_free(&a);
	free(data);
	free(ins);
	return tap_done();
}
