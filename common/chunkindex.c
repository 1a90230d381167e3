/*
 * chunkindex.c — a content's chunk index, encoded and decoded (see
 * chunkindex.h).
 */
#include <stdlib.h>
#include <string.h>

#include "bigendian.h"
#include "chunkindex.h"
#include "err.h"

/* SHA-256 of buf[0..n) into out. */
static int
sum(const unsigned char *buf, size_t n, unsigned char out[DIGEST_LEN])
{
	struct digest dg;

	if (digest_init(&dg) == -1)
		return -1;
	if (digest_update(&dg, buf, n) == -1) {
		digest_free(&dg);
		return -1;
	}
	return digest_final(&dg, out);
}

size_t
chunkindex_max_len(uint64_t size, const struct chunk_params *p)
{
	/* Every chunk but the last has at least min bytes. */
	uint64_t n = size / p->min + 1;

	return CHUNKINDEX_HEAD + (size_t)n * CHUNKINDEX_ENTRY + CHUNKINDEX_TAIL;
}

int
chunkindex_encode(const struct chunk_list *l, const struct chunk_params *p,
    const unsigned char d[DIGEST_LEN], unsigned char **out, size_t *len)
{
	unsigned char *b, *q;
	size_t n, i;

	*out = NULL;
	*len = 0;
	if (l->n > UINT32_MAX)
		return err_set("chunk index: too many chunks");
	n = CHUNKINDEX_HEAD + l->n * CHUNKINDEX_ENTRY + CHUNKINDEX_TAIL;
	if ((b = malloc(n)) == NULL)
		return err_nomem();
	memcpy(b, CHUNKINDEX_MAGIC, 8);
	be_put32(b + 8, p->avg);
	be_put32(b + 12, p->min);
	be_put32(b + 16, p->max);
	be_put32(b + 20, (uint32_t)l->n);
	be_put64(b + 24, l->size);
	memcpy(b + 32, d, DIGEST_LEN);
	q = b + CHUNKINDEX_HEAD;
	for (i = 0; i < l->n; i++, q += CHUNKINDEX_ENTRY) {
		be_put32(q, l->v[i].len);
		memcpy(q + 4, l->v[i].id, DIGEST_LEN);
	}
	if (sum(b, n - CHUNKINDEX_TAIL, q) == -1) {
		free(b);
		return -1;
	}
	*out = b;
	*len = n;
	return 0;
}

int
chunkindex_decode(const unsigned char *buf, size_t len,
    const unsigned char d[DIGEST_LEN], uint64_t size,
    const struct chunk_params *p, struct chunk_list *l)
{
	unsigned char check[DIGEST_LEN];
	const unsigned char *q;
	uint32_t count, i;

	memset(l, 0, sizeof(*l));
	if (len < CHUNKINDEX_HEAD + CHUNKINDEX_TAIL ||
	    memcmp(buf, CHUNKINDEX_MAGIC, 8) != 0)
		return err_set("chunk index: not an index");
	if (be_get32(buf + 8) != p->avg || be_get32(buf + 12) != p->min ||
	    be_get32(buf + 16) != p->max)
		return err_set("chunk index: cut with other sizes");
	count = be_get32(buf + 20);
	if ((len - CHUNKINDEX_HEAD - CHUNKINDEX_TAIL) / CHUNKINDEX_ENTRY !=
		count ||
	    (len - CHUNKINDEX_HEAD - CHUNKINDEX_TAIL) % CHUNKINDEX_ENTRY != 0)
		return err_set("chunk index: length does not match its count");
	if (be_get64(buf + 24) != size || memcmp(buf + 32, d, DIGEST_LEN) != 0)
		return err_set("chunk index: of another content");
	if (sum(buf, len - CHUNKINDEX_TAIL, check) == -1)
		return -1;
	if (memcmp(check, buf + len - CHUNKINDEX_TAIL, DIGEST_LEN) != 0)
		return err_set("chunk index: checksum mismatch");
	if ((l->v = malloc(((size_t)count + 1) * sizeof(*l->v))) == NULL)
		return err_nomem();
	l->cap = (size_t)count + 1;
	q = buf + CHUNKINDEX_HEAD;
	for (i = 0; i < count; i++, q += CHUNKINDEX_ENTRY) {
		uint32_t n = be_get32(q);

		if (n == 0 || n > p->max || (n < p->min && i + 1 < count) ||
		    n > size - l->size) {
			chunk_list_free(l);
			return err_set("chunk index: chunk %lu has a bad "
				       "length",
			    (unsigned long)i);
		}
		if (chunk_list_add(l, n, q + 4) == -1) {
			chunk_list_free(l);
			return -1;
		}
	}
	if (l->size != size) {
		chunk_list_free(l);
		return err_set("chunk index: chunks do not cover the content");
	}
	return 0;
}
