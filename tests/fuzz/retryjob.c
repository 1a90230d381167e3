/*
 * Harness: the retry-job parser (retryjob_parse) on arbitrary bytes.
 * fuzz-needs: common/retryjob.c common/manifest.c
 *
 * The file name a job must carry is taken from the input's "id" line,
 * so the fuzzer can reach accepted jobs; a "failed" line makes it parse
 * the job as one in failed/.
 *
 * Promises checked: an accepted job runs only a pkgdist tool (argv[0]
 * passes retryjob_tool_valid(), argv ends with NULL), its id is valid
 * and equals the file name, and it is written back as exactly the bytes
 * read; a refusal says why.
 */
#define _GNU_SOURCE /* open_memstream, memmem */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "retryjob.h"
#include "fuzz.h"

/* The value of the first "\nid " line, or "x". */
static void
job_name(const uint8_t *data, size_t size, char *name, size_t cap)
{
	const uint8_t *p, *e;
	size_t n;

	strcpy(name, "x");
	if ((p = memmem(data, size, "\nid ", 4)) == NULL)
		return;
	p += 4;
	e = memchr(p, '\n', size - (size_t)(p - data));
	n = e != NULL ? (size_t)(e - p) : size - (size_t)(p - data);
	if (n == 0 || n >= cap || memchr(p, '\0', n) != NULL)
		return;
	memcpy(name, p, n);
	name[n] = '\0';
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct retryjob j;
	char name[RETRYJOB_ID_MAX + 16];
	bool failed = memmem(data, size, "\nfailed ", 8) != NULL;
	char *out = NULL;
	size_t outlen = 0;
	FILE *fp;
	int i;

	job_name(data, size, name, sizeof(name));
	retryjob_init(&j);
	if (retryjob_parse((const char *)data, size, name, failed, &j) == -1) {
		fuzz_check_err();
		retryjob_free(&j);
		return 0;
	}
	if (j.argc < 1 || j.argv == NULL || j.argv[j.argc] != NULL)
		fuzz_fail("accepted job has no argv or argv is not terminated");
	for (i = 0; i < j.argc; i++)
		if (j.argv[i] == NULL)
			fuzz_fail("accepted job has a NULL argument");
	if (!retryjob_tool_valid(j.argv[0]))
		fuzz_fail(
		    "accepted job runs a program that is no pkgdist tool");
	if (!retryjob_id_valid(j.id) || strcmp(j.id, name) != 0)
		fuzz_fail("accepted job's id is invalid or not its file name");
	if ((fp = open_memstream(&out, &outlen)) == NULL)
		abort();
	if (retryjob_write(&j, fp) == -1)
		fuzz_fail("accepted job cannot be written");
	if (fclose(fp) != 0)
		abort();
	if (outlen != size || memcmp(out, data, size) != 0)
		fuzz_fail("accepted job is not written back byte for byte");
	free(out);
	retryjob_free(&j);
	return 0;
}
