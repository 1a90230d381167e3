/*
 * digest.h — SHA-256 of contents through libcrypto's EVP interface.
 *
 * A struct digest is one running hash.  digest_fd() hashes what is left
 * of an open file with large reads (the scan's hot path).  Hex is always
 * lowercase, as the manifest requires.
 */
#ifndef PKGDIST_DIGEST_H
#define PKGDIST_DIGEST_H

#include <stddef.h>
#include <stdint.h>

#define DIGEST_LEN 32
#define DIGEST_HEXLEN 64

struct digest {
	void *ctx; /* EVP_MD_CTX */
};

int digest_init(struct digest *d);
int digest_update(struct digest *d, const void *buf, size_t n);
/* Write the result and free the context. */
int digest_final(struct digest *d, unsigned char out[DIGEST_LEN]);
/* Free without a result (error paths); safe on a finished digest. */
void digest_free(struct digest *d);

/* Hash fd from its current offset to end of file; *size gets the count
 * of bytes hashed.  what names the file in errors. */
int digest_fd(int fd, unsigned char out[DIGEST_LEN], uint64_t *size,
    const char *what);

/* out must hold DIGEST_HEXLEN + 1 bytes. */
void digest_hex(const unsigned char d[DIGEST_LEN], char *out);
/* Parse exactly 64 lowercase hex digits; -1 (no err set) otherwise. */
int digest_unhex(const char *s, size_t len, unsigned char out[DIGEST_LEN]);

#endif
