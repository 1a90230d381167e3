/*
 * test_recipe.c — recipes: planned from two chunk lists (copies of the
 * old ranges, insertions of the rest, neighbours merged), applied on the
 * far side to make exactly the new bytes; an old copy that drifted is
 * told apart (drift) from malformed operations, and every operation is
 * read either way; unrelated contents are not worth a recipe.
 */
#define _GNU_SOURCE
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <openssl/sha.h>

#include "chunk.h"
#include "err.h"
#include "recipe.h"
#include "tap.h"

#define SIZE ((size_t)4 << 20)
#define FRAME ((size_t)1 << 20)

static uint64_t rng = 0x243f6a8885a308d3ULL;

static void
fill(unsigned char *p, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		rng ^= rng << 13;
		rng ^= rng >> 7;
		rng ^= rng << 17;
		p[i] = (unsigned char)(rng >> 29);
	}
}

static int
chunks(const unsigned char *p, size_t n, struct chunk_list *l)
{
	struct chunker c;

	if (chunker_init(&c, NULL) == -1 || chunker_update(&c, p, n) == -1)
		return -1;
	return chunker_final(&c, l);
}

/* Frames of encoded operations, as remote_recipe.c sends them. */
struct frames {
	unsigned char *v[64];
	size_t len[64];
	size_t n, next;
};

static int
encode(const struct recipe *r, const unsigned char *new, struct frames *f)
{
	size_t i, len = 0;
	unsigned char *buf = malloc(FRAME);

	memset(f, 0, sizeof(*f));
	if (buf == NULL)
		return -1;
	for (i = 0; i < r->n; i++) {
		const struct recipe_op *op = &r->v[i];
		size_t need = op->copy ? RECIPE_COPY_LEN :
					 recipe_insert_room((uint32_t)op->len);

		if (FRAME - len < need) {
			f->v[f->n] = buf;
			f->len[f->n++] = len;
			if (f->n == 64 || (buf = malloc(FRAME)) == NULL)
				return -1;
			len = 0;
		}
		if (op->copy)
			len += recipe_enc_copy(buf + len, op->off, op->len);
		else
			len += recipe_enc_insert(buf + len, FRAME - len,
			    new + op->off, (uint32_t)op->len);
	}
	f->v[f->n] = buf;
	f->len[f->n++] = len;
	return 0;
}

static void
frames_free(struct frames *f)
{
	size_t i;

	for (i = 0; i < f->n; i++)
		free(f->v[i]);
}

static int
next(void *arg, const unsigned char **p, size_t *len)
{
	struct frames *f = arg;

	if (f->next >= f->n)
		return err_set("no more frames");
	*p = f->v[f->next];
	*len = f->len[f->next++];
	return 0;
}

/* A memory file holding p[0..n). */
static int
memfile(const unsigned char *p, size_t n)
{
	int fd = memfd_create("recipe", 0);

	if (fd == -1 || (n > 0 && write(fd, p, n) != (ssize_t)n))
		return -1;
	return fd;
}

/* Apply f to old (oldlen bytes, which the site says are old_size) for
 * new; *same: the output is exactly new. */
static int
apply(const unsigned char *old, size_t oldlen, uint64_t old_size,
    const unsigned char *new, size_t newlen, struct frames *f, bool *drift,
    int *same)
{
	unsigned char d[SHA256_DIGEST_LENGTH], *buf, *got;
	int ofd = memfile(old, oldlen), out = memfile(NULL, 0), rc;

	SHA256(new, newlen, d);
	buf = malloc(RECIPE_INSERT_MAX);
	f->next = 0;
	rc = recipe_apply(ofd, old_size, out, "out", d, newlen, next, f, buf,
	    RECIPE_INSERT_MAX, drift);
	*same = 0;
	if ((got = malloc(newlen)) != NULL &&
	    pread(out, got, newlen, 0) == (ssize_t)newlen)
		*same = memcmp(got, new, newlen) == 0;
	free(got);
	free(buf);
	close(ofd);
	close(out);
	return rc;
}

struct two {
	const unsigned char *old, *new;
};

static int
read_mem(void *arg, int which, uint64_t off, unsigned char *buf, size_t n)
{
	const struct two *t = arg;

	memcpy(buf, (which == 0 ? t->old : t->new) + off, n);
	return 0;
}

int
main(void)
{
	struct two rs;
	struct chunk_list ol = { 0 }, nl = { 0 }, xl = { 0 };
	struct recipe r = { 0 }, x = { 0 };
	struct frames f;
	unsigned char *old, *new, *other, bad[64];
	size_t i, k;
	uint64_t worst;
	bool drift;
	int same, rc, ok, z;

	old = malloc(SIZE);
	new = malloc(SIZE + 100);
	other = malloc(SIZE);
	if (old == NULL || new == NULL || other == NULL)
		return 1;
	fill(old, SIZE);
	/* 100 bytes at the start, 64 KiB changed in the middle, and a text
	 * stretch (compressible) near the end. */
	fill(new, 100);
	memcpy(new + 100, old, SIZE);
	fill(new + 100 + SIZE / 2, 65536);
	for (i = 0; i < 30000; i++)
		new[100 + SIZE - 100000 + i] =
		    (unsigned char)("abcdefgh"[i % 8]);
	ok = chunks(old, SIZE, &ol) == 0 && chunks(new, SIZE + 100, &nl) == 0 &&
	    recipe_plan(&ol, &nl, &r) == 0;
	tap_ok(ok, "planned: %zu operations", r.n);
	tap_ok(r.copied + r.inserted == SIZE + 100,
	    "copies and insertions make the new size");
	tap_ok(r.inserted < 300000 && r.n < 20,
	    "about the changed bytes "
	    "inserted (%llu), neighbours merged",
	    (unsigned long long)r.inserted);
	tap_ok(recipe_worth(&r), "worth a recipe");
	for (i = 0, ok = 1; i + 1 < r.n; i++)
		if (!r.v[i].copy && !r.v[i + 1].copy &&
		    r.v[i].off + r.v[i].len == r.v[i + 1].off &&
		    r.v[i].len + r.v[i + 1].len <= RECIPE_INSERT_MAX)
			ok = 0;
	tap_ok(ok, "no two insertions that could be one");

	ok = encode(&r, new, &f) == 0;
	for (i = 0, z = 0; ok && i < f.n; i++) {
		size_t k = 0;

		while (k < f.len[i]) {
			if (f.v[i][k] == RECIPE_OP_COPY) {
				k += RECIPE_COPY_LEN;
				continue;
			}
			z |= f.v[i][k + 1];
			k += RECIPE_INSERT_HEAD +
			    ((size_t)f.v[i][k + 6] << 24 |
				(size_t)f.v[i][k + 7] << 16 |
				(size_t)f.v[i][k + 8] << 8 | f.v[i][k + 9]);
		}
	}
	tap_ok(ok && z, "the text stretch is inserted compressed");
	rc = apply(old, SIZE, SIZE, new, SIZE + 100, &f, &drift, &same);
	tap_ok(rc == 0 && same, "applied: exactly the new bytes (%s)",
	    rc == 0 ? "checked" : err_get());
	tap_ok(f.next == f.n, "every frame read");

	/* The old copy edited on the DP. */
	old[SIZE / 4] ^= 1;
	rc = apply(old, SIZE, SIZE, new, SIZE + 100, &f, &drift, &same);
	tap_ok(rc == -1 && drift && f.next == f.n,
	    "an old copy that drifted: refused as drift, every frame read "
	    "(%s)",
	    err_get());
	old[SIZE / 4] ^= 1;
	rc = apply(old, SIZE - 10, SIZE, new, SIZE + 100, &f, &drift, &same);
	tap_ok(rc == -1 && drift && f.next == f.n,
	    "an old copy of another size: drift");
	frames_free(&f);

	/* Malformed operations. */
	memset(&f, 0, sizeof(f));
	f.v[0] = bad;
	f.n = 1;
	f.len[0] = recipe_enc_copy(bad, SIZE - 10, 20);
	rc = apply(old, SIZE, SIZE, old, 20, &f, &drift, &same);
	tap_ok(rc == -1 && !drift,
	    "a copy beyond the old copy: malformed "
	    "(%s)",
	    err_get());
	f.len[0] = recipe_enc_copy(bad, 0, 30);
	rc = apply(old, SIZE, SIZE, old, 20, &f, &drift, &same);
	tap_ok(rc == -1 && !drift, "a copy beyond the new size: malformed");
	f.len[0] = recipe_enc_insert(bad, sizeof(bad), old, 20);
	bad[9] = 19;
	rc = apply(old, SIZE, SIZE, old, 20, &f, &drift, &same);
	tap_ok(rc == -1 && !drift,
	    "an insertion whose stored length lies: "
	    "malformed");
	bad[0] = 'X';
	rc = apply(old, SIZE, SIZE, old, 20, &f, &drift, &same);
	tap_ok(rc == -1 && !drift, "an unknown operation: malformed");
	f.len[0] = recipe_enc_copy(bad, 0, 10);
	rc = apply(old, SIZE, SIZE, old, 20, &f, &drift, &same);
	tap_ok(rc == -1 && !drift, "frames that end early: an error (%s)",
	    err_get());

	/* Refined: 20 overwrites of 4 KiB each cost about 4 KiB. */
	memcpy(new, old, SIZE);
	for (i = 1; i <= 20; i++)
		fill(new + i * 150001, 4096);
	recipe_free(&r);
	chunk_list_free(&nl);
	ok = chunks(new, SIZE, &nl) == 0 && recipe_plan(&ol, &nl, &r) == 0;
	tap_diag("before refining: %llu bytes inserted",
	    (unsigned long long)r.inserted);
	rs.old = old;
	rs.new = new;
	ok = ok && recipe_refine(&r, SIZE, read_mem, &rs) == 0;
	tap_ok(ok && r.inserted <= 20 * 4096 + 20 * 64 &&
		r.copied + r.inserted == SIZE,
	    "refined: %llu bytes inserted for 20 x 4 KiB "
	    "overwritten",
	    (unsigned long long)r.inserted);
	ok = ok && encode(&r, new, &f) == 0;
	rc = ok ? apply(old, SIZE, SIZE, new, SIZE, &f, &drift, &same) : -1;
	tap_ok(rc == 0 && same, "the refined recipe makes the new bytes");
	frames_free(&f);

	/* One overwrite of 160,000 bytes, at 24 places: with the chunks
	 * around it, often more than one insertion may carry
	 * (RECIPE_INSERT_MAX), so insertions in a row, narrowed as one to
	 * the bytes changed, none longer than RECIPE_INSERT_MAX. */
	for (k = 0, worst = 0, z = 0; k < 24; k++) {
		memcpy(new, old, SIZE);
		fill(new + 100000 + k * 160007, 160000);
		recipe_free(&r);
		chunk_list_free(&nl);
		if (chunks(new, SIZE, &nl) == -1 ||
		    recipe_plan(&ol, &nl, &r) == -1 ||
		    recipe_refine(&r, SIZE, read_mem, &rs) == -1 ||
		    r.copied + r.inserted != SIZE) {
			z = 1;
			break;
		}
		for (i = 0; i < r.n; i++)
			if (!r.v[i].copy && r.v[i].len > RECIPE_INSERT_MAX)
				z = 1;
		if (r.inserted > worst)
			worst = r.inserted;
	}
	tap_ok(z == 0 && worst <= 160000,
	    "refined: at most %llu bytes inserted for 160,000 overwritten "
	    "in one place",
	    (unsigned long long)worst);
	ok = encode(&r, new, &f) == 0;
	rc = ok ? apply(old, SIZE, SIZE, new, SIZE, &f, &drift, &same) : -1;
	tap_ok(rc == 0 && same, "that recipe makes the new bytes");
	frames_free(&f);

	/* Unrelated bytes: nothing in common. */
	fill(other, SIZE);
	ok = chunks(other, SIZE, &xl) == 0 && recipe_plan(&ol, &xl, &x) == 0;
	tap_ok(ok && !recipe_worth(&x) && x.copied == 0,
	    "unrelated contents: not worth a recipe");

	recipe_free(&r);
	recipe_free(&x);
	chunk_list_free(&ol);
	chunk_list_free(&nl);
	chunk_list_free(&xl);
	free(old);
	free(new);
	free(other);
	return tap_done();
}
