/*
 * Harness: the recipes of a child site's session (site_recipe.h) on
 * arbitrary bytes: the "recipe ..." head line, and a recipe's blocks
 * read from a stream and applied against a fixed old copy.
 * fuzz-needs: common/site_recipe.c common/siteline.c common/recipe.c
 *
 * The first input byte picks the target.  Head: the rest (up to a NUL,
 * at most a line) is what follows "recipe "; a head it accepts formats
 * to a line that parses to the same head and formats the same again.
 * Blocks: the next 3 bytes are the new content's size (at most 2^24),
 * the rest is the stream from the parent (u32 lengths and blocks).
 * Promises: site_recipe_apply() never writes more than the size,
 * refuses with a message, never reads past the stream, and when it
 * succeeds the output has exactly the size, made from the old copy's
 * first size bytes (their digest is the one asked for).
 */
#define _GNU_SOURCE /* memfd_create */
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "recipe.h"
#include "site_recipe.h"
#include "siteline.h"
#include "fuzz.h"

#define OLD_SIZE ((size_t)1 << 16)

static void
fuzz_head(const unsigned char *b, size_t n)
{
	static char line[SITELINE_MAX], out1[SITE_RECIPE_HEAD_LEN],
	    out2[SITE_RECIPE_HEAD_LEN];
	struct site_recipe_head h1, h2;
	size_t len = n < sizeof(line) - 1 ? n : sizeof(line) - 1;
	const char *rest;

	memcpy(line, b, len);
	line[len] = '\0';
	if (site_recipe_head_parse(line, &h1) == -1) {
		fuzz_check_err();
		return;
	}
	site_recipe_head_format(&h1, out1);
	if ((rest = siteline_word(out1, "recipe")) == NULL ||
	    site_recipe_head_parse(rest, &h2) == -1)
		fuzz_fail("site_recipe_head_format: a head that does not "
			  "parse");
	site_recipe_head_format(&h2, out2);
	if (memcmp(&h1, &h2, sizeof(h1)) != 0 || strcmp(out1, out2) != 0)
		fuzz_fail("site_recipe_head: a head changed through a round "
			  "trip");
}

static void
fuzz_blocks(const unsigned char *b, size_t n)
{
	static unsigned char old[OLD_SIZE], blk[SITE_RECIPE_BLOCK_MAX],
	    scratch[RECIPE_INSERT_MAX];
	struct site_recipe_head h;
	struct digest dg;
	struct stat st;
	off_t pos;
	size_t i;
	bool drift;
	int in, ofd, out, rc;

	if (n < 3)
		return;
	memset(&h, 0, sizeof(h));
	h.size = (uint64_t)b[0] << 16 | (uint64_t)b[1] << 8 | b[2];
	h.base_size = OLD_SIZE;
	if (h.size == 0)
		return;
	for (i = 0; i < OLD_SIZE; i++)
		old[i] = (unsigned char)(i * 2654435761u >> 13);
	if (digest_init(&dg) == -1 ||
	    digest_update(&dg, old,
		h.size < OLD_SIZE ? (size_t)h.size : OLD_SIZE) == -1 ||
	    digest_final(&dg, h.d) == -1)
		abort();
	if ((in = memfd_create("in", 0)) == -1 ||
	    (n > 3 && write(in, b + 3, n - 3) != (ssize_t)(n - 3)) ||
	    lseek(in, 0, SEEK_SET) != 0 ||
	    (ofd = memfd_create("old", 0)) == -1 ||
	    write(ofd, old, OLD_SIZE) != (ssize_t)OLD_SIZE ||
	    (out = memfd_create("out", 0)) == -1)
		abort();
	rc = site_recipe_apply(in, 1.0, ofd, out, "out", &h, blk, scratch,
	    &drift);
	if (fstat(out, &st) == -1 || (pos = lseek(in, 0, SEEK_CUR)) == -1)
		abort();
	if ((uint64_t)st.st_size > h.size)
		fuzz_fail("site_recipe_apply: wrote more than the size");
	if ((size_t)pos > n - 3)
		fuzz_fail("site_recipe_apply: read past the stream");
	if (rc == -1)
		fuzz_check_err();
	else if ((uint64_t)st.st_size != h.size)
		fuzz_fail("site_recipe_apply: succeeded with another size");
	close(in);
	close(ofd);
	close(out);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size == 0)
		return 0;
	if (data[0] % 2 == 0)
		fuzz_head(data + 1, size - 1);
	else
		fuzz_blocks(data + 1, size - 1);
	return 0;
}
