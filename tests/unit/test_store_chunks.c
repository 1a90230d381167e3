/*
 * test_store_chunks.c — the chunk index the store keeps beside a large
 * content: written when it is staged (the chunks of its bytes), read
 * back as they are, rebuilt (and kept again) when missing or damaged,
 * and refused by the decoder when truncated, of another content or cut
 * with other sizes; a small content gets none.
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "chunk.h"
#include "chunkindex.h"
#include "err.h"
#include "manifest.h"
#include "stage.h"
#include "store.h"
#include "tap.h"
#include "testdata.h"

#define BIG ((size_t)3 << 20)

static uint64_t rng = 0x9e3779b97f4a7c15ULL;

static unsigned char
rnd(void)
{
	return td_byte(&rng);
}

static int
same(const struct chunk_list *a, const struct chunk_list *b)
{
	size_t i;

	if (a->n != b->n || a->size != b->size)
		return 0;
	for (i = 0; i < a->n; i++)
		if (a->v[i].len != b->v[i].len ||
		    memcmp(a->v[i].id, b->v[i].id, DIGEST_LEN) != 0)
			return 0;
	return 1;
}

/* Change the byte at off of path. */
static int
flip(const char *path, off_t off)
{
	unsigned char b;
	int fd = open(path, O_RDWR), ok;

	if (fd == -1)
		return -1;
	ok = pread(fd, &b, 1, off) == 1;
	b ^= 0x55;
	ok = ok && pwrite(fd, &b, 1, off) == 1;
	return close(fd) == 0 && ok ? 0 : -1;
}

static int
read_index(const char *path, unsigned char **buf, size_t *len)
{
	struct stat st;
	FILE *f = fopen(path, "r");
	int ok;

	*buf = NULL;
	if (f == NULL)
		return -1;
	ok = fstat(fileno(f), &st) == 0 &&
	    (*buf = malloc((size_t)st.st_size + 1)) != NULL &&
	    fread(*buf, 1, (size_t)st.st_size, f) == (size_t)st.st_size;
	*len = (size_t)st.st_size;
	fclose(f);
	return ok ? 0 : -1;
}

/* STORE/objects/ab/cdef....k of d. */
static void
index_path(const char *store, const unsigned char d[DIGEST_LEN], char *out,
    size_t n)
{
	char hex[DIGEST_HEXLEN + 1];

	digest_hex(d, hex);
	snprintf(out, n, "%s/objects/%.2s/%s.k", store, hex, hex + 2);
}

int
main(void)
{
	char tmp[] = "/tmp/test_store_chunks.XXXXXX";
	char src[256], sdir[256], path[512], cmd[300];
	struct chunk_params p, other;
	struct chunk_list want = { 0 }, got = { 0 }, dec = { 0 };
	struct chunker c;
	struct stage_opts o;
	struct store *s = NULL;
	struct manifest m;
	struct stat st;
	unsigned char *data, *ix = NULL, d[DIGEST_LEN], small_d[DIGEST_LEN];
	size_t i, ixlen = 0;
	uint64_t v = 0;
	int ok;

	if (mkdtemp(tmp) == NULL)
		return 1;
	snprintf(src, sizeof(src), "%s/src", tmp);
	snprintf(sdir, sizeof(sdir), "%s/store", tmp);
	if (mkdir(src, 0755) == -1 || (data = malloc(BIG)) == NULL)
		return 1;
	for (i = 0; i < BIG; i++)
		data[i] = rnd();
	snprintf(path, sizeof(path), "%s/big", src);
	if (td_write_file(path, data, BIG) == -1)
		return 1;
	snprintf(path, sizeof(path), "%s/small", src);
	if (td_write_file(path, data, 5000) == -1)
		return 1;

	chunk_params_default(&p);
	ok = chunker_init(&c, NULL) == 0 &&
	    chunker_update(&c, data, BIG) == 0 && chunker_final(&c, &want) == 0;
	tap_ok(ok && want.n > 1, "the chunks of 3 MiB: %zu", want.n);

	stage_opts_init(&o);
	manifest_init(&m);
	ok = store_open(sdir, STORE_CREATE, &s) == 0 &&
	    stage_add(s, "p", src, &o, &v) == 0 &&
	    store_load_manifest(s, "p", v, &m) == 0 && m.n == 2;
	tap_ok(ok, "staged: %s", ok ? "version 1" : err_get());
	if (!ok)
		return tap_done();
	memcpy(d, m.v[0].digest, DIGEST_LEN);
	memcpy(small_d, m.v[1].digest, DIGEST_LEN);

	index_path(sdir, d, path, sizeof(path));
	ok = stat(path, &st) == 0 &&
	    (size_t)st.st_size ==
		CHUNKINDEX_HEAD + want.n * CHUNKINDEX_ENTRY + CHUNKINDEX_TAIL;
	tap_ok(ok,
	    "the large content's index is written when it is staged "
	    "(%lld bytes)",
	    (long long)st.st_size);
	index_path(sdir, small_d, path, sizeof(path));
	tap_ok(stat(path, &st) == -1, "a small content gets none");

	ok = store_content_chunks(s, d, BIG, &got) == 0 && same(&want, &got);
	tap_ok(ok, "read back: the chunks of the bytes");
	chunk_list_free(&got);

	/* As an earlier release left it: no index. */
	index_path(sdir, d, path, sizeof(path));
	unlink(path);
	ok = store_content_chunks(s, d, BIG, &got) == 0 && same(&want, &got);
	tap_ok(ok, "missing: built from the content");
	chunk_list_free(&got);
	tap_ok(stat(path, &st) == 0, "and kept for next time");

	/* Damaged: one byte flipped. */
	ok = chmod(path, 0644) == 0 && flip(path, 200) == 0 &&
	    store_content_chunks(s, d, BIG, &got) == 0 && same(&want, &got);
	chunk_list_free(&got);
	ok = ok && read_index(path, &ix, &ixlen) == 0 &&
	    chunkindex_decode(ix, ixlen, d, BIG, &p, &dec) == 0 &&
	    same(&want, &dec);
	tap_ok(ok, "damaged: rebuilt, and the index kept decodes again");
	chunk_list_free(&dec);
	free(ix);
	ix = NULL;

	ok = store_content_chunks(s, d, BIG + 1, &got) == -1;
	tap_ok(ok, "a size the content does not have is refused: %s",
	    err_get());

	/* The decoder. */
	ok = chunkindex_encode(&want, &p, d, &ix, &ixlen) == 0 &&
	    chunkindex_decode(ix, ixlen, d, BIG, &p, &dec) == 0 &&
	    same(&want, &dec);
	tap_ok(ok, "encoded and decoded: the same list");
	chunk_list_free(&dec);
	tap_ok(ix != NULL &&
		chunkindex_decode(ix, ixlen - 1, d, BIG, &p, &dec) == -1,
	    "truncated: refused (%s)", err_get());
	tap_ok(ix != NULL &&
		chunkindex_decode(ix, ixlen, small_d, BIG, &p, &dec) == -1,
	    "of another content: refused (%s)", err_get());
	tap_ok(ix != NULL &&
		chunkindex_decode(ix, ixlen, d, BIG - 1, &p, &dec) == -1,
	    "of another size: refused (%s)", err_get());
	ok = chunk_params_for(16384, &other) == 0;
	tap_ok(ok && ix != NULL &&
		chunkindex_decode(ix, ixlen, d, BIG, &other, &dec) == -1,
	    "cut with other sizes: refused (%s)", err_get());
	if (ix != NULL) {
		ix[CHUNKINDEX_HEAD + 1] ^= 1;
		tap_ok(chunkindex_decode(ix, ixlen, d, BIG, &p, &dec) == -1,
		    "a flipped bit: refused (%s)", err_get());
	}
	free(ix);

	manifest_free(&m);
	chunk_list_free(&want);
	store_close(s);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmp);
	(void)system(cmd);
	free(data);
	return tap_done();
}
