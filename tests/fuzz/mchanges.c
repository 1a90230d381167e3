/*
 * Harness: a manifest rebuilt from the changes a site session carries
 * (mchanges_rebuild) against a fixed, valid base.  The first byte picks
 * what the rest is: 0, a payload as it crosses the network (digest,
 * length, zlib); anything else, change lines, which the harness applies
 * itself and, when they apply, sends through mchanges_make() and back,
 * so the fuzzer reaches the applying of lines and not only zlib.
 * fuzz-needs: common/mchanges.c
 *
 * Promises checked: a refused payload says why and gives no bytes; an
 * accepted one gives bytes of the length announced that load as a
 * manifest of that package and version; a payload made from change
 * lines that apply rebuilds the very bytes it was made from.
 */
#include <stdlib.h>
#include <string.h>

#include "changes.h"
#include "manifest.h"
#include "mchanges.h"
#include "store.h"
#include "fuzz.h"

/* The base every input changes (fuzz.h). */
static const char base_text[] = FUZZ_BASE_MANIFEST;

static void
load_base(struct manifest *m)
{
	if (manifest_load_buf(base_text, strlen(base_text), "base", m) == -1)
		abort();
}

/* A payload off the network: refused with a message, or exact. */
static void
rebuild_payload(const uint8_t *p, size_t n, size_t mlen)
{
	struct manifest bm, m;
	char *buf = NULL;

	load_base(&bm);
	(void)err_set("%s", "");
	if (mchanges_rebuild(&bm, p, n, "pkg", 2, mlen, "fuzz", &buf) == -1) {
		fuzz_check_err();
		if (buf != NULL)
			fuzz_fail("refused payload gives bytes");
	} else {
		manifest_init(&m);
		if (strlen(buf) != mlen ||
		    manifest_load_buf(buf, mlen, "fuzz", &m) == -1 ||
		    m.version != 2 || m.package == NULL ||
		    strcmp(m.package, "pkg") != 0)
			fuzz_fail("accepted payload is not the manifest "
				  "announced");
		manifest_free(&m);
	}
	manifest_free(&bm);
	free(buf);
}

/* Change lines: when they apply, make and rebuild must agree. */
static void
round_trip(const char *text, size_t n)
{
	struct change_file cf;
	struct manifest bm, bcopy, m;
	unsigned char *p = NULL;
	char *mbuf = NULL, *back = NULL;
	size_t mlen = 0, plen = 0;

	change_file_init(&cf);
	manifest_init(&m);
	load_base(&bm);
	if (change_file_load_buf(text, n, "fuzz", &cf) == -1 ||
	    changes_apply(&bm, &cf, &m, "base", NULL) == -1 ||
	    manifest_check(&m) == -1 ||
	    store_manifest_render(&m, "pkg", 2, &mbuf, &mlen) == -1)
		goto out;
	manifest_free(&bm);
	load_base(&bm);
	load_base(&bcopy);
	if (mchanges_make(&bm, &bcopy, &m, "pkg", 2, mbuf, mlen, &p, &plen) ==
	    -1)
		fuzz_fail("a manifest the base changes into has no payload");
	manifest_free(&bcopy);
	if (p == NULL)
		goto out;
	manifest_free(&bm);
	load_base(&bm);
	if (mchanges_rebuild(&bm, p, plen, "pkg", 2, mlen, "fuzz", &back) ==
		-1 ||
	    memcmp(back, mbuf, mlen) != 0)
		fuzz_fail("a payload does not rebuild what it was made from");
	rebuild_payload(p, plen, mlen);
out:
	change_file_free(&cf);
	manifest_free(&bm);
	manifest_free(&m);
	free(mbuf);
	free(back);
	free(p);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *text;

	if (size == 0)
		return 0;
	if (data[0] == 0) {
		rebuild_payload(data + 1, size - 1, 300);
		return 0;
	}
	if ((text = malloc(size)) == NULL)
		abort();
	memcpy(text, data + 1, size - 1);
	text[size - 1] = '\0';
	round_trip(text, size - 1);
	free(text);
	return 0;
}
