/*
 * test_digestset.c — sets of contents by digest: sorted, each digest
 * once, found by bsearch; a digest with two sizes refused when strict.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "digestset.h"
#include "manifest.h"
#include "tap.h"

/* An element with more than the item, as serve.c keeps. */
struct rich {
	struct digestset_item c;
	int tag;
};

static void
dg(unsigned char d[DIGEST_LEN], int k)
{
	memset(d, 0, DIGEST_LEN);
	d[0] = (unsigned char)(k * 37);
	d[DIGEST_LEN - 1] = (unsigned char)k;
}

int
main(void)
{
	struct rich r[6];
	struct digestset_item *v = NULL;
	static const char text[] =
	    "pkgdist-manifest 1\n"
	    "d 0755 0 1 - a\n"
	    "f 0644 3 1 "
	    "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
	    " a/x\n"
	    "f 0644 3 1 "
	    "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
	    " a/y\n"
	    "l 0777 1 1 - b -> a\n"
	    "f 0644 0 1 "
	    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
	    " c\n";
	struct manifest m;
	unsigned char d[DIGEST_LEN];
	const struct rich *f;
	size_t n = 99, i;
	int sorted = 1;

	for (i = 0; i < 6; i++) {
		dg(r[i].c.d, (int)(i % 4));
		r[i].c.size = i % 4;
		r[i].tag = (int)i;
	}
	tap_ok(digestset_sort(r, 6, sizeof(r[0]), true, &n) == 0 && n == 4,
	    "repeats are folded: 6 elements, 4 digests");
	for (i = 1; i < n; i++)
		if (memcmp(r[i - 1].c.d, r[i].c.d, DIGEST_LEN) >= 0)
			sorted = 0;
	tap_ok(sorted, "the set is sorted by digest");
	for (i = 0; i < 4; i++) {
		dg(d, (int)i);
		f = digestset_find(r, n, sizeof(r[0]), d);
		tap_ok(f != NULL && f->c.size == i && f->tag % 4 == (int)i,
		    "digest %zu is found with its size and payload", i);
	}
	dg(d, 9);
	tap_ok(digestset_find(r, n, sizeof(r[0]), d) == NULL,
	    "a digest not in the set is not found");
	tap_ok(digestset_find(r, 0, sizeof(r[0]), d) == NULL,
	    "nothing is found in an empty set");
	tap_ok(digestset_sort(r, 0, sizeof(r[0]), true, &n) == 0 && n == 0,
	    "an empty set sorts to nothing");

	for (i = 0; i < 3; i++) {
		dg(r[i].c.d, 1);
		r[i].c.size = i == 2 ? 5 : 1;
	}
	tap_ok(digestset_sort(r, 3, sizeof(r[0]), true, &n) == -1,
	    "strict: one digest with two sizes is refused");
	for (i = 0; i < 3; i++) {
		dg(r[i].c.d, 1);
		r[i].c.size = i == 2 ? 5 : 1;
	}
	tap_ok(digestset_sort(r, 3, sizeof(r[0]), false, &n) == 0 && n == 1,
	    "not strict: the repeat is dropped");

	manifest_init(&m);
	tap_ok(manifest_load_buf(text, strlen(text), "test", &m) == 0,
	    "a manifest loads");
	tap_ok(digestset_of_manifest(&m, &v, &n) == 0 && n == 2 &&
		(v[0].size == 0 || v[1].size == 0),
	    "a manifest's files give each content once, with its size");
	free(v);
	manifest_free(&m);
	return tap_done();
}
