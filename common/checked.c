/*
 * checked.c — the one checked copy of a content (see checked.h).
 */
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "checked.h"
#include "digest.h"
#include "err.h"
#include "io.h"

int
checked_copy(const struct checked_source *src,
    const unsigned char d[DIGEST_LEN], uint64_t size,
    const struct checked_out *out, size_t n, const char *damaged,
    enum checked_fault *fault)
{
	struct digest dg = { NULL };
	unsigned char got[DIGEST_LEN];
	char hex[DIGEST_HEXLEN + 1];
	const unsigned char *p;
	enum checked_fault why = CHECKED_SOURCE;
	uint64_t total = 0;
	ssize_t k;
	size_t i;
	int rc = -1;

	digest_hex(d, hex);
	if (digest_init(&dg) == -1)
		goto out;
	for (;;) {
		why = CHECKED_SOURCE;
		if ((k = src->next(src->ctx, &p)) == -1)
			goto out;
		if (k == 0)
			break;
		why = CHECKED_CONTENT;
		if ((uint64_t)k > size - total) {
			err_set("content %s: longer than its size %" PRIu64,
			    hex, size);
			goto out;
		}
		total += (uint64_t)k;
		why = CHECKED_SOURCE;
		if (digest_update(&dg, p, (size_t)k) == -1)
			goto out;
		why = CHECKED_OUTPUT;
		for (i = 0; i < n; i++)
			if (out[i].fd != -1 &&
			    io_write_full(out[i].fd, p, (size_t)k,
				out[i].what) == -1)
				goto out;
	}
	why = CHECKED_SOURCE;
	if (digest_final(&dg, got) == -1)
		goto out;
	why = CHECKED_CONTENT;
	if (total != size) {
		err_set("content %s: %" PRIu64 " bytes, %" PRIu64 " expected",
		    hex, total, size);
		goto out;
	}
	if (memcmp(got, d, DIGEST_LEN) != 0) {
		err_set("content %s: digest mismatch%s", hex,
		    damaged != NULL ? damaged : "");
		goto out;
	}
	why = CHECKED_NONE;
	rc = 0;
out:
	digest_free(&dg);
	if (fault != NULL)
		*fault = why;
	return rc;
}

/* A source over a file. */
struct checked_fd {
	int fd;
	const char *what;
	unsigned char *buf;
	size_t len;
	bool ended;
};

static ssize_t
fd_next(void *ctx, const unsigned char **p)
{
	struct checked_fd *f = ctx;
	ssize_t k;

	if (f->ended)
		return 0;
	if ((k = io_read_full(f->fd, f->buf, f->len, f->what)) == -1)
		return -1;
	if ((size_t)k < f->len)
		f->ended = true;
	*p = f->buf;
	return k;
}

int
checked_copy_fd(int in, const char *inwhat, void *buf, size_t len,
    const unsigned char d[DIGEST_LEN], uint64_t size, int out, const char *what,
    enum checked_fault *fault)
{
	struct checked_fd f = { in, inwhat, buf, len, false };
	struct checked_source src = { fd_next, &f };
	struct checked_out o = { out, what };

	return checked_copy(&src, d, size, &o, 1, NULL, fault);
}
