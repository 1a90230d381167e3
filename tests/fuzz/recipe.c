/*
 * Harness: recipes (recipe.h, proto.h RECIPE) on arbitrary bytes: the
 * RECIPE frame decoder, and recipe_apply() reading operations from
 * frames cut out of the input against a fixed old copy.
 * fuzz-needs: common/recipe.c common/proto.c
 *
 * The first input byte picks the target.  RECIPE: a decoded frame
 * encodes to a payload that decodes to the same message and encodes to
 * the same bytes again; its path passes path_check().  Operations: the
 * next 3 bytes are the new content's size (at most 2^24), the rest is
 * frames, each a 2-byte length and its bytes.  Promises: recipe_apply()
 * never writes more than the size, refuses with a message, and when it
 * succeeds the output has exactly the size and the digest it was asked
 * for (that of the old copy's first size bytes, so copies can succeed).
 */
#define _GNU_SOURCE /* memfd_create */
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "manifest.h"
#include "proto.h"
#include "recipe.h"
#include "fuzz.h"

#define OLD_SIZE ((size_t)1 << 16)

static unsigned char enc1[PROTO_FRAME_MAX], enc2[PROTO_FRAME_MAX];

static void
fuzz_recipe_frame(const unsigned char *b, size_t n)
{
	static struct proto_recipe m1, m2;
	size_t l1, l2;

	if (proto_dec_recipe(b, n, &m1) == -1) {
		fuzz_check_err();
		return;
	}
	if (path_check(m1.old_path) == -1)
		fuzz_fail("proto_dec_recipe: a path that breaks the rules");
	l1 = proto_enc_recipe(&m1, enc1);
	if (proto_dec_recipe(enc1, l1, &m2) == -1)
		fuzz_fail("proto_dec_recipe: an encoded message does not "
			  "decode");
	l2 = proto_enc_recipe(&m2, enc2);
	if (l1 != l2 || memcmp(enc1, enc2, l1) != 0)
		fuzz_fail("proto_enc_recipe: a message changed through a "
			  "round trip");
}

struct cut {
	const unsigned char *b;
	size_t n, off;
};

static int
cut_next(void *arg, const unsigned char **p, size_t *len)
{
	struct cut *c = arg;
	size_t l;

	if (c->n - c->off < 2)
		return err_set("no more frames");
	l = (size_t)c->b[c->off] << 8 | c->b[c->off + 1];
	c->off += 2;
	if (l > c->n - c->off)
		l = c->n - c->off;
	*p = c->b + c->off;
	*len = l;
	c->off += l;
	return 0;
}

static void
fuzz_apply(const unsigned char *b, size_t n)
{
	static unsigned char old[OLD_SIZE], buf[RECIPE_INSERT_MAX];
	unsigned char d[DIGEST_LEN];
	struct digest dg;
	struct cut c;
	struct stat st;
	uint64_t size;
	size_t i;
	bool drift;
	int ofd, out, rc;

	if (n < 3)
		return;
	size = (uint64_t)b[0] << 16 | (uint64_t)b[1] << 8 | b[2];
	if (size == 0)
		return;
	for (i = 0; i < OLD_SIZE; i++)
		old[i] = (unsigned char)(i * 2654435761u >> 13);
	if (digest_init(&dg) == -1 ||
	    digest_update(&dg, old,
		size < OLD_SIZE ? (size_t)size : OLD_SIZE) == -1 ||
	    digest_final(&dg, d) == -1)
		abort();
	if ((ofd = memfd_create("old", 0)) == -1 ||
	    write(ofd, old, OLD_SIZE) != (ssize_t)OLD_SIZE ||
	    (out = memfd_create("out", 0)) == -1)
		abort();
	c.b = b + 3;
	c.n = n - 3;
	c.off = 0;
	rc = recipe_apply(ofd, OLD_SIZE, out, "out", d, size, cut_next, &c, buf,
	    sizeof(buf), &drift);
	if (fstat(out, &st) == -1)
		abort();
	if ((uint64_t)st.st_size > size)
		fuzz_fail("recipe_apply: wrote more than the size");
	if (rc == -1)
		fuzz_check_err();
	else if ((uint64_t)st.st_size != size)
		fuzz_fail("recipe_apply: succeeded with another size");
	close(ofd);
	close(out);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size == 0)
		return 0;
	if (data[0] % 2 == 0)
		fuzz_recipe_frame(data + 1, size - 1);
	else
		fuzz_apply(data + 1, size - 1);
	return 0;
}
