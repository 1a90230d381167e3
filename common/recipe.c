/*
 * recipe.c — copy ranges and insertions that rebuild a large content
 * from its old copy: planned on the site, applied on the far side (see
 * recipe.h).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "bigendian.h"
#include "blob.h"
#include "err.h"
#include "io.h"
#include "recipe.h"

/* An old chunk, found by id. */
struct old_chunk {
	unsigned char id[DIGEST_LEN];
	uint64_t off;
};

static int
cmp_old(const void *a, const void *b)
{
	const struct old_chunk *x = a, *y = b;
	int c = memcmp(x->id, y->id, DIGEST_LEN);

	if (c != 0)
		return c;
	return x->off < y->off ? -1 : x->off > y->off;
}

static int
cmp_id(const void *key, const void *el)
{
	return memcmp(key, ((const struct old_chunk *)el)->id, DIGEST_LEN);
}

static int
op_add(struct recipe *r, bool copy, uint64_t off, uint64_t len)
{
	struct recipe_op *last = r->n > 0 ? &r->v[r->n - 1] : NULL, *nv;

	if (copy)
		r->copied += len;
	else
		r->inserted += len;
	/* A copy right after the range the last one copied, an insertion
	 * of the bytes right after the last one's: one operation. */
	if (last != NULL && last->copy == copy &&
	    last->off + last->len == off &&
	    (copy || last->len + len <= RECIPE_INSERT_MAX)) {
		last->len += len;
		return 0;
	}
	if (r->v == NULL || r->n == r->cap) {
		size_t cap = r->cap == 0 ? 64 : r->cap * 2;

		if ((nv = realloc(r->v, cap * sizeof(*nv))) == NULL)
			return err_nomem();
		r->v = nv;
		r->cap = cap;
	}
	r->v[r->n].copy = copy;
	r->v[r->n].off = off;
	r->v[r->n].len = len;
	r->n++;
	return 0;
}

/* An insertion of len new bytes at off, in operations of at most
 * RECIPE_INSERT_MAX bytes (what the far side takes in one). */
static int
insert_add(struct recipe *r, uint64_t off, uint64_t len)
{
	while (len > 0) {
		uint64_t k = len < RECIPE_INSERT_MAX ? len : RECIPE_INSERT_MAX;

		if (op_add(r, false, off, k) == -1)
			return -1;
		off += k;
		len -= k;
	}
	return 0;
}

int
recipe_plan(const struct chunk_list *old, const struct chunk_list *new,
    struct recipe *r)
{
	struct old_chunk *ix = NULL;
	size_t i;
	int rc = -1;

	memset(r, 0, sizeof(*r));
	if (old->n > 0 && (ix = malloc(old->n * sizeof(*ix))) == NULL)
		return err_nomem();
	for (i = 0; i < old->n; i++) {
		memcpy(ix[i].id, old->v[i].id, DIGEST_LEN);
		ix[i].off = old->v[i].off;
	}
	if (old->n > 0)
		qsort(ix, old->n, sizeof(*ix), cmp_old);
	for (i = 0; i < new->n; i++) {
		const struct chunk *c = &new->v[i];
		const struct old_chunk *f = old->n > 0 ?
		    bsearch(c->id, ix, old->n, sizeof(*ix), cmp_id) :
		    NULL;

		if (f != NULL) {
			/* Of equal chunks, the one that continues the last
			 * copy keeps it one operation. */
			const struct recipe_op *last =
			    r->n > 0 ? &r->v[r->n - 1] : NULL;
			const struct old_chunk *g;

			while (f > ix &&
			    memcmp((f - 1)->id, c->id, DIGEST_LEN) == 0)
				f--;
			for (g = f;
			     last != NULL && last->copy && g < ix + old->n &&
			     memcmp(g->id, c->id, DIGEST_LEN) == 0;
			     g++)
				if (g->off == last->off + last->len) {
					f = g;
					break;
				}
		}
		if ((f != NULL ? op_add(r, true, f->off, c->len) :
				 insert_add(r, c->off, c->len)) == -1)
			goto out;
	}
	rc = 0;
out:
	free(ix);
	if (rc == -1)
		recipe_free(r);
	return rc;
}

#define REFINE_BLOCK ((size_t)16 << 10)

/* Bytes in common at the start (back false) or the end (back true) of
 * old[a, a + n) and new[x, x + n). */
static int
common_run(recipe_read_fn rd, void *arg, uint64_t a, uint64_t x, uint64_t n,
    bool back, unsigned char *ob, unsigned char *nb, uint64_t *out)
{
	uint64_t done = 0;
	size_t k, i;

	*out = 0;
	while (done < n) {
		k = n - done < REFINE_BLOCK ? (size_t)(n - done) : REFINE_BLOCK;
		if (rd(arg, 0, back ? a + n - done - k : a + done, ob, k) ==
			-1 ||
		    rd(arg, 1, back ? x + n - done - k : x + done, nb, k) == -1)
			return -1;
		for (i = 0; i < k; i++) {
			size_t j = back ? k - 1 - i : i;

			if (ob[j] != nb[j]) {
				*out = done + i;
				return 0;
			}
		}
		done += k;
	}
	*out = n;
	return 0;
}

int
recipe_refine(struct recipe *r, uint64_t old_size, recipe_read_fn rd, void *arg)
{
	struct recipe out = { 0 };
	unsigned char *ob = malloc(REFINE_BLOCK), *nb = malloc(REFINE_BLOCK);
	size_t i, j;
	int rc = -1;

	if (ob == NULL || nb == NULL) {
		err_nomem();
		goto fail;
	}
	for (i = 0; i < r->n; i = j) {
		const struct recipe_op *op = &r->v[i];
		uint64_t a, b, gap, m, pre = 0, suf = 0, len = 0;

		if (op->copy) {
			if (op_add(&out, true, op->off, op->len) == -1)
				goto fail;
			j = i + 1;
			continue;
		}
		/* Insertions in a row (one edit longer than
		 * RECIPE_INSERT_MAX is several) carry one stretch of new
		 * bytes, narrowed as one: narrowed one at a time, the
		 * unchanged bytes at the end of the first would stay. */
		for (j = i;
		     j < r->n && !r->v[j].copy && r->v[j].off == op->off + len;
		     j++)
			len += r->v[j].len;
		/* The old bytes between the copies around them. */
		a = i > 0 && r->v[i - 1].copy ?
		    r->v[i - 1].off + r->v[i - 1].len :
		    0;
		b = j < r->n && r->v[j].copy ? r->v[j].off : old_size;
		gap = b > a ? b - a : 0;
		if (gap > 0 &&
		    common_run(rd, arg, a, op->off, gap < len ? gap : len,
			false, ob, nb, &pre) == -1)
			goto fail;
		/* The ends aligned: old [b - m, b) against the last m new
		 * bytes, m not reaching into the prefix on either side. */
		m = gap - pre < len - pre ? gap - pre : len - pre;
		if (m > 0 &&
		    common_run(rd, arg, b - m, op->off + len - m, m, true, ob,
			nb, &suf) == -1)
			goto fail;
		if ((pre > 0 && op_add(&out, true, a, pre) == -1) ||
		    insert_add(&out, op->off + pre, len - pre - suf) == -1 ||
		    (suf > 0 && op_add(&out, true, b - suf, suf) == -1))
			goto fail;
	}
	recipe_free(r);
	*r = out;
	rc = 0;
	goto out;
fail:
	recipe_free(&out);
out:
	free(ob);
	free(nb);
	return rc;
}

void
recipe_free(struct recipe *r)
{
	free(r->v);
	memset(r, 0, sizeof(*r));
}

bool
recipe_worth(const struct recipe *r)
{
	return r->copied > 0 && r->copied >= (r->copied + r->inserted) / 8;
}

size_t
recipe_enc_copy(unsigned char *buf, uint64_t off, uint64_t len)
{
	buf[0] = RECIPE_OP_COPY;
	be_put64(buf + 1, off);
	be_put64(buf + 9, len);
	return RECIPE_COPY_LEN;
}

size_t
recipe_insert_room(uint32_t len)
{
	return RECIPE_INSERT_HEAD + compressBound((uLong)len);
}

size_t
recipe_enc_insert(unsigned char *buf, size_t room, const unsigned char *data,
    uint32_t len)
{
	uLongf zlen = (uLongf)(room - RECIPE_INSERT_HEAD);
	bool z = false;

	/* Compressed where that pays, as the store does. */
	if (blob_pays(data, len) &&
	    compress2(buf + RECIPE_INSERT_HEAD, &zlen, data, (uLong)len,
		BLOB_LEVEL) == Z_OK &&
	    zlen < len)
		z = true;
	if (!z) {
		memcpy(buf + RECIPE_INSERT_HEAD, data, len);
		zlen = len;
	}
	buf[0] = RECIPE_OP_INSERT;
	buf[1] = z ? 1 : 0;
	be_put32(buf + 2, len);
	be_put32(buf + 6, (uint32_t)zlen);
	return RECIPE_INSERT_HEAD + (size_t)zlen;
}

struct apply {
	int oldfd, outfd;
	const char *what;
	struct digest dg;
	bool drift; /* the old copy failed us: read on, write
		     * nothing */
	unsigned char *buf;
	size_t buflen;
};

static int
emit(struct apply *a, const void *p, size_t n)
{
	if (a->drift)
		return 0;
	if (digest_update(&a->dg, p, n) == -1)
		return -1;
	return io_write_full(a->outfd, p, n, a->what);
}

static int
copy_old(struct apply *a, uint64_t off, uint64_t len)
{
	ssize_t k;

	while (len > 0 && !a->drift) {
		size_t want = len < a->buflen ? (size_t)len : a->buflen;

		k = pread(a->oldfd, a->buf, want, (off_t)off);
		if (k == -1 && errno == EINTR)
			continue;
		if (k <= 0) {
			/* Shorter than it was, or unreadable: either way
			 * not the copy the recipe was made for. */
			a->drift = true;
			break;
		}
		if (emit(a, a->buf, (size_t)k) == -1)
			return -1;
		off += (uint64_t)k;
		len -= (uint64_t)k;
	}
	return 0;
}

int
recipe_apply(int oldfd, uint64_t old_size, int outfd, const char *what,
    const unsigned char d[DIGEST_LEN], uint64_t size, recipe_next_fn next,
    void *arg, unsigned char *buf, size_t buflen, bool *drift)
{
	struct apply a;
	struct stat st;
	unsigned char got[DIGEST_LEN];
	const unsigned char *p;
	uint64_t made = 0;
	size_t len, i;
	int rc = -1;

	*drift = false;
	memset(&a, 0, sizeof(a));
	a.oldfd = oldfd;
	a.outfd = outfd;
	a.what = what;
	a.buf = buf;
	a.buflen = buflen;
	if (buflen < RECIPE_INSERT_MAX)
		return err_set("recipe: scratch buffer too small");
	if (digest_init(&a.dg) == -1)
		return -1;
	if (fstat(oldfd, &st) == -1 || !S_ISREG(st.st_mode) ||
	    (uint64_t)st.st_size != old_size)
		a.drift = true;
	while (made < size) {
		if (next(arg, &p, &len) == -1)
			goto out;
		if (len == 0) {
			err_set("recipe: an empty frame");
			goto out;
		}
		for (i = 0; i < len;) {
			uint64_t off, n;

			if (p[i] == RECIPE_OP_COPY) {
				if (len - i < RECIPE_COPY_LEN)
					goto bad;
				off = be_get64(p + i + 1);
				n = be_get64(p + i + 9);
				i += RECIPE_COPY_LEN;
				if (n == 0 || n > size - made ||
				    off > old_size || n > old_size - off)
					goto bad;
				if (copy_old(&a, off, n) == -1)
					goto out;
			} else if (p[i] == RECIPE_OP_INSERT) {
				uint32_t z, stored;

				if (len - i < RECIPE_INSERT_HEAD)
					goto bad;
				z = p[i + 1];
				n = be_get32(p + i + 2);
				stored = be_get32(p + i + 6);
				i += RECIPE_INSERT_HEAD;
				if (z > 1 || n == 0 || n > RECIPE_INSERT_MAX ||
				    n > size - made || stored > len - i ||
				    (z == 0 && stored != n))
					goto bad;
				if (z == 1) {
					if (blob_uncompress(p + i, stored,
						a.buf, (size_t)n,
						"recipe") == -1)
						goto out;
					if (emit(&a, a.buf, (size_t)n) == -1)
						goto out;
				} else if (emit(&a, p + i, (size_t)n) == -1) {
					goto out;
				}
				i += stored;
			} else {
				goto bad;
			}
			made += n;
		}
	}
	if (digest_final(&a.dg, got) == -1)
		goto out;
	if (!a.drift && memcmp(got, d, DIGEST_LEN) != 0)
		a.drift = true;
	if (a.drift) {
		*drift = true;
		err_set("recipe: the old copy is not the one the site has "
			"(the whole content is asked for)");
		goto out;
	}
	rc = 0;
	goto out;
bad:
	err_set("recipe: a malformed operation");
out:
	digest_free(&a.dg);
	return rc;
}
