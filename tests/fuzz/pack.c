/*
 * Harness: the package-file reader (pack_reader_open_mem, _next, _read)
 * on arbitrary bytes.
 * fuzz-needs: common/pack.c common/manifest.c
 *
 * Promises checked: an opened package names a valid package and version
 * and its manifest's header says the same; each content it announces is
 * one the manifest names with that size, and reading it yields exactly
 * that many bytes before the end (or an error, never more); a recipe
 * record is rebuilt (from an empty old copy, into /dev/null) or refused;
 * the reader says why whenever it refuses.
 */
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "manifest.h"
#include "pack.h"
#include "fuzz.h"
#include "path.h"

static int
named_with_size(const struct manifest *m, const struct pack_content *c)
{
	size_t i;

	for (i = 0; i < m->n; i++)
		if (m->v[i].type == ENTRY_FILE &&
		    memcmp(m->v[i].digest, c->digest, DIGEST_LEN) == 0 &&
		    m->v[i].size == c->size)
			return 1;
	return 0;
}

/* A recipe's old copy (empty) and output (/dev/null), opened once. */
static int oldfd = -1, nullfd = -1;

static int
rebuild(struct pack_reader *r)
{
	FILE *f;
	bool drift;

	if (oldfd == -1) {
		if ((f = tmpfile()) == NULL || (oldfd = dup(fileno(f))) == -1 ||
		    (nullfd = open("/dev/null", O_WRONLY)) == -1)
			fuzz_fail("cannot open the recipe's files");
		fclose(f);
	}
	if (pack_reader_rebuild(r, oldfd, nullfd, "/dev/null", &drift) == 0)
		return 0;
	fuzz_check_err();
	/* After a drift the reader goes on; else it stops. */
	return drift ? 0 : -1;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct pack_reader *r;
	struct pack_content c;
	const struct pack_info *info;
	const struct manifest *m;
	unsigned char buf[4096];
	uint64_t total;
	ssize_t got;
	int rv;

	if (pack_reader_open_mem(data, size, "fuzz", &r) == -1) {
		fuzz_check_err();
		return 0;
	}
	info = pack_reader_info(r);
	m = pack_reader_manifest(r);
	if (info == NULL || m == NULL)
		fuzz_fail("opened package has no info or no manifest");
	if (!name_valid(info->package) || info->version < 1)
		fuzz_fail("opened package has a bad name or version");
	if (m->package == NULL || strcmp(m->package, info->package) != 0 ||
	    m->version != info->version)
		fuzz_fail("manifest header differs from the package header");
	while ((rv = pack_reader_next(r, &c)) == 1) {
		if (!named_with_size(m, &c))
			fuzz_fail("content not named by the manifest");
		if (c.recipe) {
			if (info->base == 0)
				fuzz_fail("a recipe in a full package");
			if (rebuild(r) == -1)
				break;
			continue;
		}
		total = 0;
		while ((got = pack_reader_read(r, buf, sizeof(buf))) > 0) {
			total += (uint64_t)got;
			if (total > c.size)
				fuzz_fail("content longer than announced");
		}
		if (got == -1) {
			fuzz_check_err();
			break;
		}
		if (total != c.size)
			fuzz_fail("content ended before its size");
	}
	if (rv == -1)
		fuzz_check_err();
	pack_reader_close(r);
	return 0;
}
