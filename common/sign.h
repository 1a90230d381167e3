/*
 * sign.h — Ed25519 signatures of manifests (signed versions).
 *
 * A version is signed over the exact bytes of its manifest (store.h
 * keeps the signature beside it; package files carry it, pack.h), so a
 * child site or a DP can refuse a tampered package.  Keys are PEM files
 * as OpenSSL writes them: the secret key a PKCS#8 "PRIVATE KEY" (mode
 * 0600), the public key a "PUBLIC KEY" (SubjectPublicKeyInfo), both
 * readable with "openssl pkey".  Only Ed25519 keys are accepted.  A
 * signature is the 64 raw bytes of RFC 8032.
 *
 * All functions return 0 on success and -1 with err.h set; nothing is
 * printed.  They use libcrypto's EVP interface only.
 */
#ifndef PKGDIST_SIGN_H
#define PKGDIST_SIGN_H

#include <stddef.h>

#define SIGN_LEN 64

/* Make a key pair: the secret key to path (mode 0600), the public key
 * to path + ".pub" (0644), each through the atomic-write helper.  An
 * existing path or path.pub is not overwritten (error). */
int sign_keygen(const char *path);

/* Sign msg with the secret key in keyfile; *sig is malloc'd (SIGN_LEN
 * bytes). */
int sign_data(const char *keyfile, const void *msg, size_t n,
    unsigned char **sig, size_t *siglen);

/* 0 when sig is a valid signature of msg by the public key in pubfile;
 * -1 with err "bad signature" (or why the key could not be read). */
int sign_verify(const char *pubfile, const void *msg, size_t n,
    const unsigned char *sig, size_t siglen);

/*
 * A key ring: public keys as sign_keygen() writes them in KEY.pub, one
 * PEM block after another in one file (text between blocks, such as a
 * line saying whose key follows, is ignored).  Every block must be a
 * "PUBLIC KEY" holding an Ed25519 key, and there must be one at least:
 * else -1, err "PATH: key N: ...".  A missing file is -1 with
 * err_errno() ENOENT.
 */
struct sign_keyring;
int sign_keyring_load(const char *path, struct sign_keyring **out);
size_t sign_keyring_count(const struct sign_keyring *kr);
/* 0 when sig is a signature of msg by one of the keys; -1, err "signed
 * by none of the N keys in 'PATH'", otherwise. */
int sign_keyring_verify(const struct sign_keyring *kr, const void *msg,
    size_t n, const unsigned char *sig, size_t siglen);
void sign_keyring_free(struct sign_keyring *kr);

#endif
