/*
 * digest.c — SHA-256 through libcrypto's EVP interface (see digest.h).
 */
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "digest.h"
#include "err.h"
#include "io.h"

/* 1 MiB reads keep the per-call cost negligible against hashing. */
#define DIGEST_CHUNK (1024 * 1024)

int
digest_init(struct digest *d)
{
	EVP_MD_CTX *ctx;

	if ((ctx = EVP_MD_CTX_new()) == NULL)
		return err_nomem();
	if (EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) != 1) {
		EVP_MD_CTX_free(ctx);
		return err_set("cannot start SHA-256");
	}
	d->ctx = ctx;
	return 0;
}

int
digest_update(struct digest *d, const void *buf, size_t n)
{
	if (EVP_DigestUpdate(d->ctx, buf, n) != 1)
		return err_set("SHA-256 update failed");
	return 0;
}

int
digest_final(struct digest *d, unsigned char out[DIGEST_LEN])
{
	unsigned int len = 0;
	int ok;

	ok = EVP_DigestFinal_ex(d->ctx, out, &len) == 1 && len == DIGEST_LEN;
	digest_free(d);
	return ok ? 0 : err_set("SHA-256 finish failed");
}

void
digest_free(struct digest *d)
{
	EVP_MD_CTX_free(d->ctx);
	d->ctx = NULL;
}

int
digest_fd(int fd, unsigned char out[DIGEST_LEN], uint64_t *size,
    const char *what)
{
	struct digest d = { NULL };
	unsigned char *buf;
	uint64_t total = 0;
	ssize_t r;
	int rc = -1;

	if ((buf = malloc(DIGEST_CHUNK)) == NULL)
		return err_nomem();
	if (digest_init(&d) == -1)
		goto out;
	(void)posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL);
	for (;;) {
		if ((r = io_read_full(fd, buf, DIGEST_CHUNK, what)) == -1)
			goto out;
		if (r == 0)
			break;
		if (digest_update(&d, buf, (size_t)r) == -1)
			goto out;
		total += (uint64_t)r;
		if ((size_t)r < DIGEST_CHUNK)
			break;
	}
	if (digest_final(&d, out) == -1)
		goto out;
	*size = total;
	rc = 0;
out:
	digest_free(&d);
	free(buf);
	return rc;
}

void
digest_hex(const unsigned char d[DIGEST_LEN], char *out)
{
	static const char hex[] = "0123456789abcdef";
	size_t i;

	for (i = 0; i < DIGEST_LEN; i++) {
		out[2 * i] = hex[d[i] >> 4];
		out[2 * i + 1] = hex[d[i] & 15];
	}
	out[DIGEST_HEXLEN] = '\0';
}

/*
 * Value + 1 of each lowercase hex digit, 0 for every other byte.  A table,
 * not comparisons: digests are random, so a digit-or-letter branch is
 * mispredicted on a third of the characters, and parsing a manifest of a
 * million entries spent half its time there.
 */
static const unsigned char digest_hexval[256] = {
	['0'] = 1,
	['1'] = 2,
	['2'] = 3,
	['3'] = 4,
	['4'] = 5,
	['5'] = 6,
	['6'] = 7,
	['7'] = 8,
	['8'] = 9,
	['9'] = 10,
	['a'] = 11,
	['b'] = 12,
	['c'] = 13,
	['d'] = 14,
	['e'] = 15,
	['f'] = 16,
};

int
digest_unhex(const char *s, size_t len, unsigned char out[DIGEST_LEN])
{
	const unsigned char *u = (const unsigned char *)s;
	unsigned char bad = 0, hi, lo;
	size_t i;

	if (len != DIGEST_HEXLEN)
		return -1;
	for (i = 0; i < DIGEST_LEN; i++) {
		hi = digest_hexval[u[2 * i]];
		lo = digest_hexval[u[2 * i + 1]];
		bad |= (unsigned char)(hi == 0) | (unsigned char)(lo == 0);
		out[i] = (unsigned char)(((unsigned)hi - 1) << 4 |
		    ((unsigned)lo - 1));
	}
	return bad ? -1 : 0;
}
