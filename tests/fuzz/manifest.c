/*
 * Harness: the manifest parser (manifest_load_buf, the streaming reader
 * under it, and entry_parse) on arbitrary bytes.
 * fuzz-needs: common/manifest.c
 *
 * Promises checked: an accepted manifest passes manifest_check() and is
 * written back as exactly the bytes read (one spelling per manifest);
 * an accepted entry line is written back as exactly that line; every
 * refusal carries a message.
 */
#define _GNU_SOURCE /* open_memstream on older glibc headers */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "manifest.h"
#include "fuzz.h"

static void
fuzz_manifest(const uint8_t *data, size_t size)
{
	struct manifest m;
	char *out = NULL;
	size_t outlen = 0;
	FILE *fp;

	manifest_init(&m);
	if (manifest_load_buf((const char *)data, size, "fuzz", &m) == -1) {
		fuzz_check_err();
		if (m.n != 0 || m.package != NULL)
			fuzz_fail("refused manifest not left empty");
		manifest_free(&m);
		return;
	}
	if (manifest_check(&m) == -1)
		fuzz_fail("accepted manifest fails manifest_check");
	if ((fp = open_memstream(&out, &outlen)) == NULL)
		abort();
	if (manifest_write(&m, fp) == -1)
		fuzz_fail("accepted manifest cannot be written");
	if (fclose(fp) != 0)
		abort();
	if (outlen != size || memcmp(out, data, size) != 0)
		fuzz_fail(
		    "accepted manifest is not written back byte for byte");
	free(out);
	manifest_free(&m);
}

static void
fuzz_entry(const uint8_t *data, size_t size)
{
	struct entry e, e2;
	char *out = NULL;
	size_t outlen = 0;
	FILE *fp;

	if (entry_parse((const char *)data, size, &e) == -1) {
		fuzz_check_err();
		return;
	}
	if ((fp = open_memstream(&out, &outlen)) == NULL)
		abort();
	if (entry_write(&e, fp) == -1)
		fuzz_fail("accepted entry cannot be written");
	if (fclose(fp) != 0)
		abort();
	if (outlen != size + 1 || memcmp(out, data, size) != 0 ||
	    out[size] != '\n')
		fuzz_fail("accepted entry is not written back byte for byte");
	if (entry_parse(out, size, &e2) == -1)
		fuzz_fail("written entry does not parse");
	if (!entry_same_content(&e, &e2) || e.mode != e2.mode ||
	    e.mtime != e2.mtime || strcmp(e.path, e2.path) != 0)
		fuzz_fail("entry changed through write and parse");
	entry_free(&e2);
	entry_free(&e);
	free(out);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const uint8_t *nl;

	fuzz_manifest(data, size);
	/* Each line on its own as an entry line (change lists parse so). */
	while (size > 0) {
		nl = memchr(data, '\n', size);
		fuzz_entry(data, nl != NULL ? (size_t)(nl - data) : size);
		if (nl == NULL)
			break;
		size -= (size_t)(nl - data) + 1;
		data = nl + 1;
	}
	return 0;
}
