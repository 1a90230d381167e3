/*
 * digestset.h — sets of contents named by their SHA-256: an array of
 * elements sorted by digest, each digest once, searched with bsearch.
 *
 * An element begins with a struct digestset_item (the digest and the
 * content's size); a caller that keeps more per content embeds the item
 * as the first member of its own struct and passes its size as elsize.
 * Built once and then only read, a set needs no lock.  Used by pack.c
 * (the contents of a version and of its base), remote.c (the contents a
 * remote may ask for) and serve.c (the contents a push will write).
 */
#ifndef PKGDIST_DIGESTSET_H
#define PKGDIST_DIGESTSET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "digest.h"

struct manifest;

struct digestset_item {
	unsigned char d[DIGEST_LEN];
	uint64_t size;
};

/*
 * Sort the n elements of elsize bytes at v by digest and keep the first
 * of each digest (the array is compacted); *kept gets how many remain.
 * With strict, a digest met again with another size is -1, err "one
 * digest with two sizes"; without, the repeat is dropped all the same.
 */
int digestset_sort(void *v, size_t n, size_t elsize, bool strict, size_t *kept);

/* The element of the sorted set v (n elements of elsize bytes) with
 * digest d, or NULL. */
void *digestset_find(const void *v, size_t n, size_t elsize,
    const unsigned char d[DIGEST_LEN]);

/* The contents of m's `f` entries as a sorted set (not strict): *v is
 * malloc'd (free()), *n its elements; -1 on ENOMEM. */
int digestset_of_manifest(const struct manifest *m, struct digestset_item **v,
    size_t *n);

#endif
