/*
 * reflink.c — a changed large content written to a local DP, sharing
 * the blocks it has in common with the DP's old copy (reflink.h).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "chunk.h"
#include "digest.h"
#include "err.h"
#include "io.h"
#include "recipe.h"
#include "recipe_make.h"
#include "reflink.h"
#include "store.h"

#define READBUF ((size_t)1 << 20)
#define BLOCK_DEFAULT 4096

/* A range of the new file cloned from the old copy: whole blocks. */
struct span {
	uint64_t src, dst, len;
};

struct spans {
	struct span *v;
	size_t n;
	uint64_t len; /* bytes of all of them */
};

/* The file system's block: the unit offsets and lengths of a clone are
 * counted in (st_blksize, a multiple of it where it is larger, which
 * only clones a little less). */
static uint64_t
block_size(int fd)
{
	struct stat st;

	if (fstat(fd, &st) == 0 && st.st_blksize >= 512 &&
	    (st.st_blksize & (st.st_blksize - 1)) == 0)
		return (uint64_t)st.st_blksize;
	return BLOCK_DEFAULT;
}

/*
 * The spans the copies of r can clone: each copy's whole blocks, where
 * its offsets in the old and the new file are equal modulo bs (a clone
 * maps blocks to blocks; a copy shifted by a part of a block cannot
 * share any).  Neighbouring spans merge.  0, or -1 on ENOMEM.
 */
static int
plan_spans(const struct recipe *r, uint64_t bs, struct spans *out)
{
	uint64_t pos = 0, head, start, end;
	struct span *last;
	size_t i;

	memset(out, 0, sizeof(*out));
	if (r->n > 0 && (out->v = calloc(r->n, sizeof(*out->v))) == NULL)
		return err_nomem();
	for (i = 0; i < r->n; pos += r->v[i].len, i++) {
		const struct recipe_op *op = &r->v[i];

		if (!op->copy || op->off % bs != pos % bs)
			continue;
		head = (bs - pos % bs) % bs;
		if (op->len <= head)
			continue;
		start = pos + head;
		end = (pos + op->len) / bs * bs;
		if (end <= start)
			continue;
		last = out->n > 0 ? &out->v[out->n - 1] : NULL;
		if (last != NULL && last->dst + last->len == start &&
		    last->src + last->len == op->off + head)
			last->len += end - start;
		else {
			out->v[out->n].src = op->off + head;
			out->v[out->n].dst = start;
			out->v[out->n].len = end - start;
			out->n++;
		}
		out->len += end - start;
	}
	return 0;
}

/* Write the bytes of buf (n of them, at offset pos of the content) that
 * no span covers; *k is the first span not wholly before pos. */
static int
write_between(int fd, const char *what, const struct spans *sp, size_t *k,
    const unsigned char *buf, uint64_t pos, size_t n, uint64_t *written)
{
	uint64_t off = pos, end = pos + n, stop;

	while (off < end) {
		while (*k < sp->n && sp->v[*k].dst + sp->v[*k].len <= off)
			(*k)++;
		if (*k < sp->n && sp->v[*k].dst <= off) {
			off = sp->v[*k].dst + sp->v[*k].len;
			continue;
		}
		stop = *k < sp->n && sp->v[*k].dst < end ? sp->v[*k].dst : end;
		if (lseek(fd, (off_t)off, SEEK_SET) == -1)
			return err_sys("cannot write '%s'", what);
		if (io_write_full(fd, buf + (off - pos), (size_t)(stop - off),
			what) == -1)
			return -1;
		*written += stop - off;
		off = stop;
	}
	return 0;
}

/*
 * Read content d from start to end (the store checks its SHA-256 at the
 * end) and write into fd what the spans leave.  0; 1 when the store
 * could not give the content (the caller's whole copy names why); -1
 * with err set when writing failed.
 */
static int
write_rest(struct store *s, const unsigned char d[DIGEST_LEN], uint64_t size,
    int fd, const char *what, const struct spans *sp, uint64_t *written)
{
	struct store_reader *r = NULL;
	unsigned char *buf = NULL;
	uint64_t pos = 0;
	size_t k = 0;
	ssize_t n;
	int rc = 1;

	if ((buf = malloc(READBUF)) == NULL)
		return err_nomem();
	if (store_content_open(s, d, &r) == -1)
		goto out;
	while ((n = store_reader_read(r, buf, READBUF)) > 0) {
		if ((uint64_t)n > size - pos)
			goto out; /* longer than the manifest says */
		if (write_between(fd, what, sp, &k, buf, pos, (size_t)n,
			written) == -1) {
			rc = -1;
			goto out;
		}
		pos += (uint64_t)n;
	}
	if (n == 0 && pos == size)
		rc = 0;
out:
	store_reader_close(r);
	free(buf);
	return rc;
}

/* Does fd hold exactly content d of size bytes?  1 yes, 0 no, -1 with
 * err set when it cannot be read. */
static int
holds(int fd, const unsigned char d[DIGEST_LEN], uint64_t size,
    const char *what)
{
	unsigned char got[DIGEST_LEN];
	uint64_t n;

	if (lseek(fd, 0, SEEK_SET) == -1)
		return err_sys("cannot read '%s'", what);
	if (digest_fd(fd, got, &n, what) == -1)
		return -1;
	return n == size && memcmp(got, d, DIGEST_LEN) == 0;
}

/*
 * Clone the spans, write the rest and check the result: 1 made; 0 not
 * here (sharing refused, the store could not give the content, the old
 * copy drifted): the caller writes the content whole; -1 with err set.
 */
static int
share(struct store *s, const unsigned char d[DIGEST_LEN], uint64_t size,
    int oldfd, int fd, const char *what, const struct spans *sp,
    uint64_t *written)
{
	size_t i;
	int k;

	if (ftruncate(fd, (off_t)size) == -1)
		return err_sys("cannot write '%s'", what);
	for (i = 0; i < sp->n; i++)
		if (io_clone_range(oldfd, sp->v[i].src, fd, sp->v[i].dst,
			sp->v[i].len, what) == -1)
			return io_cannot_share(err_errno()) ? 0 : -1;
	if ((k = write_rest(s, d, size, fd, what, sp, written)) != 0)
		return k == 1 ? 0 : -1;
	return holds(fd, d, size, what);
}

int
reflink_copy(struct store *s, const unsigned char d[DIGEST_LEN], uint64_t size,
    int oldfd, const struct entry *old, int fd, const char *what,
    uint64_t *written, bool *store_fault)
{
	struct recipe r = { 0 };
	struct spans sp = { 0 };
	struct stat st;
	int k = 0;

	*written = 0;
	if (store_fault != NULL)
		*store_fault = false;
	/* The old copy must at least look like the DP's manifest says; a
	 * content the store cannot plan (no chunks, too little in common)
	 * goes whole. */
	if (oldfd != -1 && fstat(oldfd, &st) == 0 && S_ISREG(st.st_mode) &&
	    (uint64_t)st.st_size == old->size && size > CHUNK_THRESHOLD &&
	    old->size > CHUNK_THRESHOLD &&
	    recipe_make_plan(s, d, size, old, &r) == 1) {
		if (plan_spans(&r, block_size(fd), &sp) == -1) {
			recipe_free(&r);
			return -1;
		}
		if (sp.len > 0 &&
		    (k = share(s, d, size, oldfd, fd, what, &sp, written)) ==
			1) {
			free(sp.v);
			recipe_free(&r);
			return 0;
		}
	}
	free(sp.v);
	recipe_free(&r);
	if (k == -1)
		return -1;
	/* Whole, as every content is written where nothing is shared. */
	*written = 0;
	if (ftruncate(fd, 0) == -1 || lseek(fd, 0, SEEK_SET) == -1)
		return err_sys("cannot write '%s'", what);
	if (store_content_copy(s, d, size, fd, what, store_fault) == -1)
		return -1;
	*written = size;
	return 0;
}
