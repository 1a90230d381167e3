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
		return err_set("cannot allocate a SHA-256 context");
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
		return err_sys("cannot hash '%s'", what);
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
 * A table, not branches: digests are random, so a branch per digit is
 * mispredicted half the time (that was half the cost of reading a
 * million-entry manifest).  X marks a byte that is not a lowercase hex
 * digit; validity is gathered and checked once per digest.
 */
#define X 0x10
static const unsigned char unhex_tab[256] = {
	X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X,
	X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X,
	X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X,
	0, 1, 2, 3, 4, 5, 6, 7, 8, 9, X, X, X, X, X, X,
	X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X,
	X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X,
	X, 10, 11, 12, 13, 14, 15, X, X, X, X, X, X, X, X, X,
	X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X,
	X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X,
	X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X,
	X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X,
	X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X,
	X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X,
	X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X,
	X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X,
	X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X,
};
#undef X

int
digest_unhex(const char *s, size_t len, unsigned char out[DIGEST_LEN])
{
	const unsigned char *u = (const unsigned char *)s;
	unsigned bad = 0, hi, lo;
	size_t i;

	if (len != DIGEST_HEXLEN)
		return -1;
	for (i = 0; i < DIGEST_LEN; i++) {
		hi = unhex_tab[u[2 * i]];
		lo = unhex_tab[u[2 * i + 1]];
		bad |= hi | lo;
		out[i] = (unsigned char)(hi << 4 | lo);
	}
	return (bad & 0x10) != 0 ? -1 : 0;
}
