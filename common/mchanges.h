/*
 * mchanges.h — a version's manifest carried as the changes from its base
 * version's manifest, in the package stream of a site session.
 *
 * A refresh of a 5,000-file package to a child site changes a hundred
 * entries, yet the whole manifest (800 KB; 270 KB compressed, most of it
 * SHA-256s that do not compress) crossed the link with every version:
 * more than the changed files themselves.  The child holds the base
 * version's manifest already, byte for byte (a store keeps only the
 * canonical spelling, store_manifest_render()), so the parent sends the
 * change lines (changes.h) and the child rebuilds the exact bytes, which
 * are then checked as any manifest is (the one parser, the signature
 * over its bytes).
 *
 * The payload (pack.h, manifest method PACK_MANIFEST_CHANGES):
 *
 *   32  SHA-256 of the manifest's exact bytes
 *   8   length of the change lines (big-endian)
 *   ..  the change lines, zlib (RFC 1950)
 *
 * The parent sends one only when the rebuild gives its bytes exactly and
 * the payload is smaller than the whole manifest compressed; the child
 * refuses one whose rebuild differs in length or SHA-256 (a base that is
 * not the parent's).  Never in a package file: only a reader given the
 * base manifest (pack_import_opts.manifest_changes) takes one.
 *
 * Functions return 0 or -1 with err set.
 */
#ifndef PKGDIST_MCHANGES_H
#define PKGDIST_MCHANGES_H

#include <stddef.h>
#include <stdint.h>

#include "manifest.h"

/* The payload's fixed part: digest and length. */
#define MCHANGES_HEAD 40

/*
 * The payload for pkg version's manifest m, whose exact bytes are mbuf
 * (mlen), against the base manifest bm; bcopy is a second copy of bm,
 * used up by the check that the child's rebuild gives mbuf exactly.
 * *out NULL (0 returned) when it would not: the manifest then goes
 * whole.  Whether it is worth sending is the caller's choice.
 */
int mchanges_make(const struct manifest *bm, struct manifest *bcopy,
    const struct manifest *m, const char *pkg, uint64_t version,
    const char *mbuf, size_t mlen, unsigned char **out, size_t *outlen);

/*
 * The exact bytes of pkg version's manifest (*mbuf, malloc'd and
 * NUL-terminated, mlen bytes as the stream announced) from the payload
 * p (plen bytes) and the base manifest bm (used up).  name names the
 * stream in errors.
 */
int mchanges_rebuild(struct manifest *bm, const unsigned char *p, size_t plen,
    const char *pkg, uint64_t version, size_t mlen, const char *name,
    char **mbuf);

#endif
