/*
 * sign.c — Ed25519 through libcrypto's EVP interface (see sign.h).
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include "atomic.h"
#include "err.h"
#include "io.h"
#include "sign.h"

#define KEYFILE_MAX 16384

static int
write_bio(int dirfd, const char *name, BIO *b, mode_t mode)
{
	char *data;
	long len = BIO_get_mem_data(b, &data);

	if (len <= 0)
		return err_set("'%s': cannot encode key", name);
	return atomic_write_file(dirfd, name, data, (size_t)len, mode);
}

int
sign_keygen(const char *path)
{
	char base[NAME_MAX + 1], pub[NAME_MAX + 8];
	EVP_PKEY *k = NULL;
	BIO *bs = NULL, *bp = NULL;
	int dfd, rc = -1;

	if ((dfd = atomic_open_parent(path, base, sizeof(base) - 4)) == -1)
		return -1;
	snprintf(pub, sizeof(pub), "%s.pub", base);
	if (faccessat(dfd, base, F_OK, AT_SYMLINK_NOFOLLOW) == 0 ||
	    faccessat(dfd, pub, F_OK, AT_SYMLINK_NOFOLLOW) == 0) {
		err_set("'%s' or '%s.pub' exists: not overwritten", path, path);
		goto out;
	}
	if ((k = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519")) == NULL) {
		err_set("cannot make an Ed25519 key");
		goto out;
	}
	if ((bs = BIO_new(BIO_s_mem())) == NULL ||
	    (bp = BIO_new(BIO_s_mem())) == NULL ||
	    !PEM_write_bio_PrivateKey(bs, k, NULL, NULL, 0, NULL, NULL) ||
	    !PEM_write_bio_PUBKEY(bp, k)) {
		err_set("cannot encode the key");
		goto out;
	}
	/* The public key first: a crash between leaves no secret key
	 * without its public half. */
	if (write_bio(dfd, pub, bp, 0644) == -1 ||
	    write_bio(dfd, base, bs, 0600) == -1)
		goto out;
	rc = 0;
out:
	BIO_free(bs);
	BIO_free(bp);
	EVP_PKEY_free(k);
	close(dfd);
	return rc;
}

static EVP_PKEY *
read_key(const char *file, int secret)
{
	char *buf = NULL;
	size_t len;
	BIO *b = NULL;
	EVP_PKEY *k = NULL;

	if (io_slurp(AT_FDCWD, file, KEYFILE_MAX, &buf, &len) == -1)
		return NULL;
	if ((b = BIO_new_mem_buf(buf, (int)len)) == NULL) {
		err_set("'%s': out of memory", file);
		goto out;
	}
	k = secret ? PEM_read_bio_PrivateKey(b, NULL, NULL, NULL) :
		     PEM_read_bio_PUBKEY(b, NULL, NULL, NULL);
	if (k == NULL) {
		err_set("'%s': not a PEM %s key", file,
		    secret ? "private" : "public");
		goto out;
	}
	if (EVP_PKEY_get_id(k) != EVP_PKEY_ED25519) {
		err_set("'%s': not an Ed25519 key", file);
		EVP_PKEY_free(k);
		k = NULL;
	}
out:
	BIO_free(b);
	if (buf != NULL)
		explicit_bzero(buf, len);
	free(buf);
	return k;
}

int
sign_data(const char *keyfile, const void *msg, size_t n, unsigned char **sig,
    size_t *siglen)
{
	EVP_PKEY *k;
	EVP_MD_CTX *c = NULL;
	unsigned char *s = NULL;
	size_t len = SIGN_LEN;
	int rc = -1;

	*sig = NULL;
	*siglen = 0;
	if ((k = read_key(keyfile, 1)) == NULL)
		return -1;
	if ((c = EVP_MD_CTX_new()) == NULL || (s = malloc(SIGN_LEN)) == NULL) {
		err_nomem();
		goto out;
	}
	if (EVP_DigestSignInit(c, NULL, NULL, NULL, k) != 1 ||
	    EVP_DigestSign(c, s, &len, msg, n) != 1 || len != SIGN_LEN) {
		err_set("'%s': cannot sign", keyfile);
		goto out;
	}
	*sig = s;
	*siglen = len;
	s = NULL;
	rc = 0;
out:
	free(s);
	EVP_MD_CTX_free(c);
	EVP_PKEY_free(k);
	return rc;
}

/* 1 when sig is k's signature of msg, 0 when not, -1 with err. */
static int
verify_key(EVP_PKEY *k, const void *msg, size_t n, const unsigned char *sig,
    size_t siglen)
{
	EVP_MD_CTX *c;
	int ok;

	if (siglen != SIGN_LEN)
		return 0;
	if ((c = EVP_MD_CTX_new()) == NULL)
		return err_nomem();
	ok = EVP_DigestVerifyInit(c, NULL, NULL, NULL, k) == 1 &&
	    EVP_DigestVerify(c, sig, siglen, msg, n) == 1;
	EVP_MD_CTX_free(c);
	return ok;
}

int
sign_verify(const char *pubfile, const void *msg, size_t n,
    const unsigned char *sig, size_t siglen)
{
	EVP_PKEY *k;
	int r;

	if ((k = read_key(pubfile, 0)) == NULL)
		return -1;
	r = verify_key(k, msg, n, sig, siglen);
	EVP_PKEY_free(k);
	if (r == 0)
		return err_set("bad signature (not made by the key in '%s')",
		    pubfile);
	return r == 1 ? 0 : -1;
}

/* ---- key rings ---- */

/* A trust file of this size holds hundreds of keys. */
#define KEYRING_MAX (256 * 1024)

struct sign_keyring {
	EVP_PKEY **k;
	size_t n;
	char *path;
};

void
sign_keyring_free(struct sign_keyring *kr)
{
	size_t i;

	if (kr == NULL)
		return;
	for (i = 0; i < kr->n; i++)
		EVP_PKEY_free(kr->k[i]);
	free(kr->k);
	free(kr->path);
	free(kr);
}

int
sign_keyring_load(const char *path, struct sign_keyring **out)
{
	struct sign_keyring *kr = NULL;
	char *buf = NULL, *name = NULL, *header = NULL;
	unsigned char *data = NULL;
	const unsigned char *p;
	long dlen;
	size_t len;
	BIO *b = NULL;
	EVP_PKEY *k, **nk;
	int rc = -1;

	*out = NULL;
	if (io_slurp(AT_FDCWD, path, KEYRING_MAX, &buf, &len) == -1)
		return -1;
	if ((kr = calloc(1, sizeof(*kr))) == NULL ||
	    (kr->path = strdup(path)) == NULL ||
	    (b = BIO_new_mem_buf(buf, (int)len)) == NULL) {
		err_nomem();
		goto out;
	}
	for (;;) {
		ERR_clear_error();
		if (PEM_read_bio(b, &name, &header, &data, &dlen) != 1) {
			/* The end, or a block that does not decode. */
			if (ERR_GET_REASON(ERR_peek_last_error()) ==
			    PEM_R_NO_START_LINE)
				break;
			err_set("'%s': key %zu: not a PEM block", path,
			    kr->n + 1);
			goto out;
		}
		if (strcmp(name, "PUBLIC KEY") != 0) {
			err_set("'%s': key %zu: a '%s' block, not a public "
				"key (only KEY.pub files belong here)",
			    path, kr->n + 1, name);
			goto out;
		}
		p = data;
		if ((k = d2i_PUBKEY(NULL, &p, dlen)) == NULL ||
		    EVP_PKEY_get_id(k) != EVP_PKEY_ED25519) {
			EVP_PKEY_free(k);
			err_set("'%s': key %zu: not an Ed25519 public key",
			    path, kr->n + 1);
			goto out;
		}
		if ((nk = realloc(kr->k, (kr->n + 1) * sizeof(EVP_PKEY *))) ==
		    NULL) {
			EVP_PKEY_free(k);
			err_nomem();
			goto out;
		}
		kr->k = nk;
		kr->k[kr->n++] = k;
		OPENSSL_free(name);
		OPENSSL_free(header);
		OPENSSL_free(data);
		name = header = NULL;
		data = NULL;
	}
	if (kr->n == 0) {
		err_set("'%s': holds no public key", path);
		goto out;
	}
	*out = kr;
	kr = NULL;
	rc = 0;
out:
	ERR_clear_error();
	OPENSSL_free(name);
	OPENSSL_free(header);
	OPENSSL_free(data);
	BIO_free(b);
	free(buf);
	sign_keyring_free(kr);
	return rc;
}

size_t
sign_keyring_count(const struct sign_keyring *kr)
{
	return kr->n;
}

int
sign_keyring_verify(const struct sign_keyring *kr, const void *msg, size_t n,
    const unsigned char *sig, size_t siglen)
{
	size_t i;
	int r;

	for (i = 0; i < kr->n; i++)
		if ((r = verify_key(kr->k[i], msg, n, sig, siglen)) != 0)
			return r == 1 ? 0 : -1;
	return err_set("signed by none of the %zu key%s in '%s'", kr->n,
	    kr->n == 1 ? "" : "s", kr->path);
}
