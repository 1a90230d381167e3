/*
 * Harness: the delta loader (mdelta_load_at) on arbitrary change lines
 * against a fixed, valid base: the input is everything after the "base"
 * line of a delta file (the line count, the optional header, the change
 * lines), so the fuzzer reaches the applying of lines, not just the
 * SHA-256 comparison.
 * fuzz-needs: common/mdelta.c
 *
 * Promises checked: an accepted delta gives a manifest that passes
 * manifest_check() (the loader checks only what the lines can break);
 * saving it as a delta against the same base and loading that gives the
 * same manifest; every refusal carries a message and leaves the result
 * empty.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "atomic.h"
#include "changes.h"
#include "digest.h"
#include "manifest.h"
#include "mdelta.h"
#include "fuzz.h"

/* The base every input changes (fuzz.h). */
static const char base_text[] = FUZZ_BASE_MANIFEST;

static int dfd = -1;
static char head[256];

static void
fuzz_setup(void)
{
	char dir[] = "/tmp/fuzz_mdelta.XXXXXX";
	unsigned char d[DIGEST_LEN];
	char hex[DIGEST_HEXLEN + 1];
	struct digest dg = { NULL };

	if (mkdtemp(dir) == NULL ||
	    (dfd = open(dir, O_RDONLY | O_DIRECTORY)) == -1)
		abort();
	if (atomic_write_file(dfd, "base.1.1", base_text, strlen(base_text),
		0644) == -1)
		abort();
	if (digest_init(&dg) == -1 ||
	    digest_update(&dg, base_text, strlen(base_text)) == -1 ||
	    digest_final(&dg, d) == -1)
		abort();
	digest_hex(d, hex);
	snprintf(head, sizeof(head), "%s\nbase base.1.1 %s\n", MDELTA_MAGIC,
	    hex);
}

static bool
same(const struct manifest *a, const struct manifest *b)
{
	size_t i;

	if (a->n != b->n || a->version != b->version ||
	    (a->package == NULL) != (b->package == NULL) ||
	    (a->package != NULL && strcmp(a->package, b->package) != 0))
		return false;
	for (i = 0; i < a->n; i++)
		if (strcmp(a->v[i].path, b->v[i].path) != 0 ||
		    changes_classify(&a->v[i], &b->v[i]) != CHANGE_NONE)
			return false;
	return true;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct manifest m, m2;
	struct mdelta_base b;
	size_t hl;
	char *buf;
	int fd;

	if (dfd == -1)
		fuzz_setup();
	hl = strlen(head);
	if ((buf = malloc(hl + size + 1)) == NULL)
		abort();
	memcpy(buf, head, hl);
	memcpy(buf + hl, data, size);
	/* A plain write: an fsync per input would slow the fuzzer 50x. */
	if ((fd = openat(dfd, "d.manifest", O_WRONLY | O_CREAT | O_TRUNC,
		 0644)) == -1 ||
	    write(fd, buf, hl + size) != (ssize_t)(hl + size) ||
	    close(fd) == -1)
		abort();
	free(buf);
	if (mdelta_load_at(dfd, "d.manifest", "fuzz", &m, &b) == -1) {
		fuzz_check_err();
		if (m.n != 0 || m.package != NULL || b.name[0] != '\0')
			fuzz_fail("refused delta not left empty");
		return 0;
	}
	if (manifest_check(&m) == -1)
		fuzz_fail("accepted delta gives a manifest that fails "
			  "manifest_check");
	if (mdelta_save_at(dfd, "e.manifest", &m, &m, &b, NULL) == -1)
		fuzz_fail("accepted delta cannot be saved again");
	if (mdelta_load_at(dfd, "e.manifest", "fuzz", &m2, NULL) == -1)
		fuzz_fail("a saved delta does not load");
	if (!same(&m, &m2))
		fuzz_fail("a saved delta loads as another manifest");
	manifest_free(&m);
	manifest_free(&m2);
	mdelta_base_free(&b);
	return 0;
}
