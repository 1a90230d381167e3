/*
 * trust.h — STORE/trust: the keys that every version reaching this store
 * from outside must be signed by (SPEC.md "Child sites").
 *
 * The file holds public keys as "pkgstage keygen" writes them in
 * KEY.pub, one after another (sign.h, key rings).  While it is absent
 * nothing is asked of a version.  While it exists, a version arriving
 * from outside (pkgstage import, the inbox, a parent's site push) must
 * carry a signature by one of its keys, or it is refused before anything
 * in the store changes.  Versions staged here (pkgstage add) are this
 * site's own and are not asked.  Two keys in the file during a change of
 * key let versions signed by the old one and by the new one both in.
 *
 * The file is read at every check, so an edit applies to the next
 * version without a restart.
 */
#ifndef PKGDIST_TRUST_H
#define PKGDIST_TRUST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct store;

/*
 * Check the signature (sig, siglen; NULL, 0 when unsigned) of the exact
 * manifest bytes mb of pkg version, arriving as what (a file name), by
 * STORE/trust.  0: allowed (no trust file, or signed by one of its
 * keys).  -1 with err: refused, *refused true ("WHAT: PKG version N is
 * not signed; 'STORE/trust' wants ..."), or the trust file cannot be
 * read or is malformed, *refused false (trouble: the version is not at
 * fault).
 */
int trust_check(struct store *s, const char *what, const char *pkg,
    uint64_t version, const void *mb, size_t mlen, const unsigned char *sig,
    size_t siglen, bool *refused);

#endif
