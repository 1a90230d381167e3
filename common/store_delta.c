/*
 * store_delta.c — a large content kept as its changes from another one
 * (objects/ab/cdef....d): the ranges it shares with its base, a content
 * stored whole, and the bytes it does not (see store.h, "contents").
 *
 * A version that changes 1% of a 600 MiB file then grows the store by
 * about 6 MiB, in one file and with no fsync of its own, where keeping
 * chunks each on their own would make thousands of files.  The base is
 * always a content stored whole, never another delta: reading one costs
 * no more than two files open, and a damaged base spoils only the
 * contents made from it, which fsck names.  gc keeps the base of every
 * delta it keeps.
 *
 * Format (integers big-endian):
 *
 *   "PKGDELT1"                 8 bytes
 *   digest, size               32 + u64: the content
 *   base digest, base size     32 + u64: the content it is made from
 *   count                      u32: operations
 *   count x (op u8, at u64, len u64)
 *                              'C': len bytes of the base from at;
 *                              'I': len bytes of this file from at
 *   check                      32: SHA-256 of everything above
 *   the inserted bytes, in the order of the operations
 *
 * Nothing in a delta is trusted: every offset and length is checked
 * before use, and the content's SHA-256 is checked by every reader, as
 * for a content stored whole.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bigendian.h"
#include "blob.h"
#include "chunk.h"
#include "digest.h"
#include "err.h"
#include "io.h"
#include "recipe.h"
#include "store.h"
#include "store_int.h"

#define DELTA_MAGIC "PKGDELT1"
#define DELTA_HEAD (8 + DIGEST_LEN + 8 + DIGEST_LEN + 8 + 4)
#define DELTA_OP 17

struct delta_op {
	uint64_t at;  /* offset in the content */
	uint64_t src; /* offset in the base (copy) or in the file */
	uint64_t len;
	bool copy;
};

struct store_delta {
	int fd;	    /* the .d file */
	int basefd; /* the base, stored whole */
	uint64_t size;
	struct delta_op *ops;
	size_t nops;
	char what[DIGEST_HEXLEN + 16];
};

uint64_t
store_delta_size(const struct store_delta *dl)
{
	return dl->size;
}

void
store_delta_close(struct store_delta *dl)
{
	if (dl == NULL)
		return;
	if (dl->fd != -1)
		close(dl->fd);
	if (dl->basefd != -1)
		close(dl->basefd);
	free(dl->ops);
	free(dl);
}

/* Read and check the head, the operations and their check; fill dl's
 * operations (base not opened yet). */
static int
delta_parse(struct store_delta *dl, const unsigned char d[DIGEST_LEN],
    uint64_t filesize, unsigned char base[DIGEST_LEN], uint64_t *base_size)
{
	unsigned char head[DELTA_HEAD], sum[DIGEST_LEN], want[DIGEST_LEN];
	unsigned char *tab = NULL;
	struct digest dg = { NULL };
	uint64_t at = 0, next, tablen;
	uint32_t n;
	size_t i;
	int rc = -1;

	if (filesize < DELTA_HEAD ||
	    io_pread_full(dl->fd, head, DELTA_HEAD, 0, dl->what) == -1 ||
	    memcmp(head, DELTA_MAGIC, 8) != 0 ||
	    memcmp(head + 8, d, DIGEST_LEN) != 0)
		return err_set("%s: not a delta of this content", dl->what);
	dl->size = be_get64(head + 40);
	memcpy(base, head + 48, DIGEST_LEN);
	*base_size = be_get64(head + 80);
	n = be_get32(head + 88);
	tablen = (uint64_t)n * DELTA_OP;
	if (n == 0 || n > dl->size ||
	    tablen > filesize - DELTA_HEAD - DIGEST_LEN ||
	    memcmp(base, d, DIGEST_LEN) == 0)
		return err_set("%s: damaged delta (its head)", dl->what);
	next = DELTA_HEAD + tablen + DIGEST_LEN;
	if ((tab = malloc((size_t)tablen + DIGEST_LEN)) == NULL ||
	    (dl->ops = calloc(n, sizeof(*dl->ops))) == NULL) {
		err_nomem();
		goto out;
	}
	if (io_pread_full(dl->fd, tab, (size_t)tablen + DIGEST_LEN, DELTA_HEAD,
		dl->what) == -1 ||
	    digest_init(&dg) == -1 ||
	    digest_update(&dg, head, DELTA_HEAD) == -1 ||
	    digest_update(&dg, tab, (size_t)tablen) == -1 ||
	    digest_final(&dg, sum) == -1)
		goto out;
	memcpy(want, tab + tablen, DIGEST_LEN);
	if (memcmp(sum, want, DIGEST_LEN) != 0) {
		err_set("%s: damaged delta (its operations)", dl->what);
		goto out;
	}
	for (i = 0; i < n; i++) {
		const unsigned char *p = tab + i * DELTA_OP;
		struct delta_op *op = &dl->ops[i];

		op->copy = p[0] == RECIPE_OP_COPY;
		op->src = be_get64(p + 1);
		op->len = be_get64(p + 9);
		op->at = at;
		if ((p[0] != RECIPE_OP_COPY && p[0] != RECIPE_OP_INSERT) ||
		    op->len == 0 || op->len > dl->size - at ||
		    (op->copy &&
			(op->src > *base_size ||
			    op->len > *base_size - op->src)) ||
		    (!op->copy &&
			(op->src != next || op->len > filesize - next))) {
			err_set("%s: damaged delta (operation %zu)", dl->what,
			    i);
			goto out;
		}
		if (!op->copy)
			next += op->len;
		at += op->len;
	}
	if (at != dl->size || next != filesize) {
		err_set("%s: damaged delta (%s)", dl->what,
		    at != dl->size ? "its size" : "its length");
		goto out;
	}
	dl->nops = n;
	rc = 0;
out:
	digest_free(&dg);
	free(tab);
	return rc;
}

int
store_delta_open(struct store *s, const unsigned char d[DIGEST_LEN], int fd,
    struct store_delta **out)
{
	struct store_delta *dl;
	unsigned char base[DIGEST_LEN];
	char name[STORE_OBJ_NAME_MAX], hex[DIGEST_HEXLEN + 1];
	uint64_t base_size = 0;
	struct stat st;

	*out = NULL;
	if ((dl = calloc(1, sizeof(*dl))) == NULL) {
		close(fd);
		return err_nomem();
	}
	dl->fd = fd;
	dl->basefd = -1;
	digest_hex(d, hex);
	snprintf(dl->what, sizeof(dl->what), "content %s", hex);
	if (fstat(fd, &st) == -1) {
		err_sys("cannot stat %s", dl->what);
		goto fail;
	}
	if (delta_parse(dl, d, (uint64_t)st.st_size, base, &base_size) == -1)
		goto fail;
	store_obj_name(base, STORE_RAW, name);
	dl->basefd = openat(s->objfd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (dl->basefd == -1 || fstat(dl->basefd, &st) == -1 ||
	    !S_ISREG(st.st_mode) || (uint64_t)st.st_size != base_size) {
		digest_hex(base, hex);
		if (dl->basefd == -1 && errno == ENOENT)
			err_set("%s: its base, content %s, is missing",
			    dl->what, hex);
		else if (dl->basefd == -1)
			err_sys("%s: cannot open its base, content %s",
			    dl->what, hex);
		else
			err_set("%s: its base, content %s, is not %" PRIu64
				" bytes",
			    dl->what, hex, base_size);
		goto fail;
	}
	*out = dl;
	return 0;
fail:
	store_delta_close(dl);
	return -1;
}

int
store_delta_pread(struct store_delta *dl, void *buf, size_t n, uint64_t off)
{
	unsigned char *p = buf;
	size_t lo = 0, hi = dl->nops;

	if (off > dl->size || n > dl->size - off)
		return err_set("%s: read beyond its end", dl->what);
	/* The operation holding off: the last one starting at or before. */
	while (hi - lo > 1) {
		size_t mid = lo + (hi - lo) / 2;

		if (dl->ops[mid].at <= off)
			lo = mid;
		else
			hi = mid;
	}
	while (n > 0) {
		const struct delta_op *op = &dl->ops[lo++];
		uint64_t in = off - op->at;
		size_t k = op->len - in < n ? (size_t)(op->len - in) : n;

		if (io_pread_full(op->copy ? dl->basefd : dl->fd, p, k,
			op->src + in, dl->what) == -1)
			return -1;
		p += k;
		off += k;
		n -= k;
	}
	return 0;
}

int
store_delta_base(struct store *s, const unsigned char d[DIGEST_LEN],
    unsigned char base[DIGEST_LEN], uint64_t *base_size)
{
	unsigned char head[DELTA_HEAD];
	char name[STORE_OBJ_NAME_MAX];
	struct stat st;
	int fd, rc = 0;

	store_obj_name(d, STORE_DELTA, name);
	if ((fd = openat(s->objfd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC)) ==
	    -1) {
		if (errno == ENOENT)
			return 0;
		return err_sys("cannot open '%s/objects/%s'", s->dir, name);
	}
	if (fstat(fd, &st) == -1)
		rc = err_sys("cannot stat '%s/objects/%s'", s->dir, name);
	else if (st.st_size < DELTA_HEAD)
		rc = 0; /* damage: no base to name (fsck reports it) */
	else if (io_pread_full(fd, head, DELTA_HEAD, 0, name) == -1)
		rc = -1;
	else if (memcmp(head, DELTA_MAGIC, 8) == 0 &&
	    memcmp(head + 8, d, DIGEST_LEN) == 0) {
		memcpy(base, head + 48, DIGEST_LEN);
		*base_size = be_get64(head + 80);
		rc = 1;
	}
	close(fd);
	return rc;
}

/* recipe_refine()'s reader: the base (fds[0]) or the new content
 * (fds[1]), both whole files. */
static int
read_at(void *arg, int which, uint64_t off, unsigned char *buf, size_t n)
{
	const int *fds = arg;

	return io_pread_full(fds[which], buf, n, off,
	    which == 0 ? "the base" : "the new content");
}

int
store_delta_plan(struct store *s, const unsigned char base[DIGEST_LEN],
    uint64_t base_size, const struct chunk_list *base_chunks,
    const struct chunk_list *chunks, int newfd, struct recipe *r)
{
	char name[STORE_OBJ_NAME_MAX];
	int fds[2] = { -1, newfd }, rc = 0;

	memset(r, 0, sizeof(*r));
	store_obj_name(base, STORE_RAW, name);
	if ((fds[0] = openat(s->objfd, name,
		 O_RDONLY | O_NOFOLLOW | O_CLOEXEC)) == -1)
		return 0;
	/* Anything in the way only means the content is kept whole. */
	if (recipe_plan(base_chunks, chunks, r) == 0 && recipe_worth(r) &&
	    recipe_refine(r, base_size, read_at, fds) == 0 &&
	    r->inserted <= (r->copied + r->inserted) / STORE_DELTA_MAX_PART)
		rc = 1;
	if (rc == 0)
		recipe_free(r);
	close(fds[0]);
	return rc;
}

int
store_delta_write(int dirfd, const char *name,
    const unsigned char d[DIGEST_LEN], uint64_t size,
    const unsigned char base[DIGEST_LEN], uint64_t base_size,
    const struct recipe *r, int newfd, uint64_t *stored)
{
	unsigned char *tab = NULL, *buf = NULL, *p;
	struct digest dg = { NULL };
	uint64_t next, left, off;
	size_t tablen, i;
	int fd = -1;

	if (r->n == 0 || r->n > UINT32_MAX)
		return err_set("content: no delta of %zu operations", r->n);
	tablen = DELTA_HEAD + r->n * DELTA_OP;
	if ((tab = malloc(tablen + DIGEST_LEN)) == NULL ||
	    (buf = malloc(BLOB_CHUNK)) == NULL) {
		err_nomem();
		goto fail;
	}
	memcpy(tab, DELTA_MAGIC, 8);
	memcpy(tab + 8, d, DIGEST_LEN);
	be_put64(tab + 40, size);
	memcpy(tab + 48, base, DIGEST_LEN);
	be_put64(tab + 80, base_size);
	be_put32(tab + 88, (uint32_t)r->n);
	next = tablen + DIGEST_LEN;
	for (i = 0, p = tab + DELTA_HEAD; i < r->n; i++, p += DELTA_OP) {
		p[0] = r->v[i].copy ? RECIPE_OP_COPY : RECIPE_OP_INSERT;
		be_put64(p + 1, r->v[i].copy ? r->v[i].off : next);
		be_put64(p + 9, r->v[i].len);
		if (!r->v[i].copy)
			next += r->v[i].len;
	}
	if (digest_init(&dg) == -1 || digest_update(&dg, tab, tablen) == -1 ||
	    digest_final(&dg, tab + tablen) == -1)
		goto fail;
	fd = openat(dirfd, name,
	    O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0444);
	if (fd == -1) {
		err_sys("cannot create '%s'", name);
		goto fail;
	}
	if (io_write_full(fd, tab, tablen + DIGEST_LEN, name) == -1)
		goto fail;
	for (i = 0; i < r->n; i++) {
		if (r->v[i].copy)
			continue;
		for (off = r->v[i].off, left = r->v[i].len; left > 0;) {
			size_t k =
			    left < BLOB_CHUNK ? (size_t)left : BLOB_CHUNK;

			if (io_pread_full(newfd, buf, k, off,
				"the new content") == -1 ||
			    io_write_full(fd, buf, k, name) == -1)
				goto fail;
			off += k;
			left -= k;
		}
	}
	*stored = next;
	digest_free(&dg);
	free(tab);
	free(buf);
	return fd;
fail:
	if (fd != -1) {
		close(fd);
		(void)unlinkat(dirfd, name, 0);
	}
	digest_free(&dg);
	free(tab);
	free(buf);
	return -1;
}
