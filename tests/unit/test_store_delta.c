/*
 * test_store_delta.c — a large content a version changed in part is
 * kept as a delta from the newest version's copy: small on disk, read
 * back exactly by every reader (in order, at any offset, copied out),
 * made from the first version's whole copy and never from another delta,
 * kept whole when it shares too little or is no longer large, and
 * refused by name when the delta or its base is damaged or missing.
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "chunk.h"
#include "err.h"
#include "manifest.h"
#include "stage.h"
#include "store.h"
#include "tap.h"
#include "testdata.h"

#define BIG ((size_t)4 << 20)

static uint64_t rng = 0x2545f4914f6cdd1dULL;

static unsigned char
rnd(void)
{
	return td_byte(&rng);
}

static void
fill(unsigned char *p, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		p[i] = rnd();
}

/* objects/ab/cdef...SUFFIX of d in store. */
static void
obj_path(const char *store, const unsigned char d[DIGEST_LEN],
    const char *suffix, char *out, size_t n)
{
	char hex[DIGEST_HEXLEN + 1];

	digest_hex(d, hex);
	snprintf(out, n, "%s/objects/%.2s/%s%s", store, hex, hex + 2, suffix);
}

static long long
file_size(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0 ? (long long)st.st_size : -1;
}

/* Stage src as the next version of p; the digest of file "big" in it. */
static int
stage(struct store *s, const char *src, unsigned char d[DIGEST_LEN])
{
	struct stage_opts o;
	struct manifest m;
	const struct entry *e;
	uint64_t v;
	int ok;

	stage_opts_init(&o);
	manifest_init(&m);
	ok = stage_add(s, "p", src, &o, &v) == 0 &&
	    store_load_manifest(s, "p", v, &m) == 0 &&
	    (e = manifest_find(&m, "big")) != NULL;
	if (ok)
		memcpy(d, e->digest, DIGEST_LEN);
	else
		tap_diag("stage: %s", err_get());
	manifest_free(&m);
	return ok ? 0 : -1;
}

/* Every reader gives want (n bytes) for content d. */
static int
reads_back(struct store *s, const unsigned char d[DIGEST_LEN],
    const unsigned char *want, size_t n, const char *tmp)
{
	struct store_reader *r = NULL;
	struct store_view *v = NULL;
	unsigned char *got = malloc(n + 1);
	char path[512];
	size_t done = 0, i;
	ssize_t k = 0;
	int fd, ok = got != NULL && store_content_open(s, d, &r) == 0;

	while (ok && (k = store_reader_read(r, got + done, 65536)) > 0)
		done += (size_t)k;
	store_reader_close(r);
	ok = ok && k == 0 && done == n && memcmp(got, want, n) == 0;
	tap_ok(ok, "read in order: the bytes, SHA-256 checked%s%s",
	    ok ? "" : ": ", ok ? "" : err_get());
	ok = got != NULL && store_content_view(s, d, &v) == 1;
	for (i = 0; ok && i < 200; i++) {
		size_t off = (size_t)(rnd() | rnd() << 8 | rnd() << 16) % n;
		size_t len = 1 + (size_t)(rnd() | rnd() << 8) % 70000;

		if (len > n - off)
			len = n - off;
		ok = store_view_pread(v, got, len, off) == 0 &&
		    memcmp(got, want + off, len) == 0;
	}
	ok = ok && store_view_pread(v, got, 2, n - 1) == -1;
	store_view_close(v);
	tap_ok(ok,
	    "read at 200 offsets across operations: the bytes; past "
	    "the end refused");
	snprintf(path, sizeof(path), "%s/out", tmp);
	fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
	ok = fd != -1 && store_content_copy(s, d, n, fd, "out", NULL) == 0 &&
	    pread(fd, got, n + 1, 0) == (ssize_t)n && memcmp(got, want, n) == 0;
	if (fd != -1)
		close(fd);
	tap_ok(ok, "copied out: the bytes");
	free(got);
	return ok;
}

/* Flip the byte at off of path (made writable first). */
static int
flip(const char *path, off_t off)
{
	unsigned char b;
	int fd, ok;

	if (chmod(path, 0644) == -1 || (fd = open(path, O_RDWR)) == -1)
		return -1;
	ok = pread(fd, &b, 1, off) == 1;
	b ^= 0x5a;
	ok = ok && pwrite(fd, &b, 1, off) == 1;
	return close(fd) == 0 && ok ? 0 : -1;
}

static int
read_fails(struct store *s, const unsigned char d[DIGEST_LEN], size_t n,
    const char *want)
{
	unsigned char *buf = malloc(65536);
	int k = store_content_check(s, d, n, buf, 65536, NULL);

	free(buf);
	if (k != -1 || strstr(err_get(), want) == NULL) {
		tap_diag("got: %s", k == -1 ? err_get() : "no error");
		return 0;
	}
	return 1;
}

int
main(void)
{
	char tmp[] = "/tmp/test_store_delta.XXXXXX";
	char src[256], sdir[256], big[300], path[512], path2[512], cmd[600];
	unsigned char *v1, *v2, *v3, d1[DIGEST_LEN], d2[DIGEST_LEN];
	unsigned char d3[DIGEST_LEN], d4[DIGEST_LEN], head[88];
	struct store *s = NULL;
	struct store_gc_result gr;
	long long dsize;
	int ok, fd;

	if (mkdtemp(tmp) == NULL)
		return 1;
	snprintf(src, sizeof(src), "%s/src", tmp);
	snprintf(sdir, sizeof(sdir), "%s/store", tmp);
	snprintf(big, sizeof(big), "%s/big", src);
	v1 = malloc(BIG + 8192);
	v2 = malloc(BIG + 8192);
	v3 = malloc(BIG + 8192);
	if (mkdir(src, 0755) == -1 || v1 == NULL || v2 == NULL || v3 == NULL)
		return 1;
	fill(v1, BIG);
	if (td_write_file(big, v1, BIG) == -1 ||
	    store_open(sdir, STORE_CREATE, &s) == -1)
		return 1;
	ok = stage(s, src, d1) == 0;
	obj_path(sdir, d1, "", path, sizeof(path));
	tap_ok(ok && file_size(path) == (long long)BIG,
	    "version 1: the large content stored whole");

	/* 64 KiB overwritten in the middle. */
	memcpy(v2, v1, BIG);
	fill(v2 + BIG / 2, 65536);
	ok = td_write_file(big, v2, BIG) == 0 && stage(s, src, d2) == 0;
	obj_path(sdir, d2, ".d", path, sizeof(path));
	obj_path(sdir, d2, "", path2, sizeof(path2));
	dsize = file_size(path);
	tap_ok(ok && dsize > 65536 && dsize < 65536 + 8192 &&
		file_size(path2) == -1,
	    "version 2, 64 KiB changed: kept as a delta of %lld bytes, "
	    "not whole",
	    dsize);
	reads_back(s, d2, v2, BIG, tmp);

	/* 8 KiB inserted at the start of version 2's bytes. */
	fill(v3, 8192);
	memcpy(v3 + 8192, v2, BIG);
	ok = td_write_file(big, v3, BIG + 8192) == 0 && stage(s, src, d3) == 0;
	obj_path(sdir, d3, ".d", path, sizeof(path));
	dsize = file_size(path);
	tap_ok(ok && dsize > 0 && dsize < 65536 + 8192 + 16384,
	    "version 3, 8 KiB inserted at the start: a delta of %lld bytes",
	    dsize);
	/* Its base is version 1's whole copy, not version 2's delta. */
	fd = open(path, O_RDONLY);
	ok = fd != -1 && pread(fd, head, sizeof(head), 0) == sizeof(head) &&
	    memcmp(head, "PKGDELT1", 8) == 0 &&
	    memcmp(head + 48, d1, DIGEST_LEN) == 0;
	if (fd != -1)
		close(fd);
	tap_ok(ok, "its base is version 1's whole copy: deltas never chain");
	reads_back(s, d3, v3, BIG + 8192, tmp);

	/* Damage: the operations, then the inserted bytes, then the base. */
	snprintf(cmd, sizeof(cmd), "cp -p '%s' '%s/saved'", path, tmp);
	ok = system(cmd) == 0 && flip(path, 100) == 0 &&
	    read_fails(s, d3, BIG + 8192, "damaged delta");
	tap_ok(ok, "an operation changed: refused, 'damaged delta'");
	snprintf(cmd, sizeof(cmd), "cp '%s/saved' '%s'", tmp, path);
	ok = system(cmd) == 0 && flip(path, dsize - 10) == 0 &&
	    read_fails(s, d3, BIG + 8192, "digest mismatch");
	tap_ok(ok,
	    "an inserted byte changed: the content's SHA-256 catches it");
	ok = truncate(path, 60) == 0 &&
	    read_fails(s, d3, BIG + 8192, "not a delta of this content");
	tap_ok(ok, "cut short: refused");
	snprintf(cmd, sizeof(cmd), "cp '%s/saved' '%s'", tmp, path);
	obj_path(sdir, d1, "", path2, sizeof(path2));
	snprintf(cmd + strlen(cmd), sizeof(cmd) - strlen(cmd),
	    " && mv '%s' '%s/base'", path2, tmp);
	ok = system(cmd) == 0 &&
	    read_fails(s, d3, BIG + 8192, "its base, content ");
	tap_ok(ok, "its base missing: refused, naming the base");
	snprintf(cmd, sizeof(cmd), "mv '%s/base' '%s'", tmp, path2);
	tap_ok(system(cmd) == 0, "base put back");
	reads_back(s, d3, v3, BIG + 8192, tmp);

	/* Mostly new bytes: whole, and it becomes the next base. */
	fill(v3, BIG);
	ok = td_write_file(big, v3, BIG) == 0 && stage(s, src, d4) == 0;
	obj_path(sdir, d4, "", path, sizeof(path));
	tap_ok(ok && file_size(path) == (long long)BIG,
	    "a version sharing nothing: stored whole");
	/* Below the threshold: whole, no delta. */
	ok = td_write_file(big, v3, CHUNK_THRESHOLD / 2) == 0 &&
	    stage(s, src, d4) == 0;
	obj_path(sdir, d4, ".d", path, sizeof(path));
	obj_path(sdir, d4, "", path2, sizeof(path2));
	tap_ok(ok && file_size(path) == -1 &&
		file_size(path2) == (long long)(CHUNK_THRESHOLD / 2),
	    "shrunk below the threshold: stored whole");

	/* gc: version 1 goes, its content stays (versions 2 and 3 are made
	 * from it); when they go too, so does it. */
	ok = store_gc(s, 4, 5, &gr) == 0 && gr.versions_removed == 1;
	obj_path(sdir, d1, "", path, sizeof(path));
	tap_ok(ok && file_size(path) == (long long)BIG,
	    "gc removed version 1 and kept its content, the base of the "
	    "deltas kept");
	reads_back(s, d2, v2, BIG, tmp);
	ok = store_gc(s, 2, 5, &gr) == 0 && gr.versions_removed == 2;
	obj_path(sdir, d2, ".d", path2, sizeof(path2));
	tap_ok(ok && file_size(path) == -1 && file_size(path2) == -1,
	    "gc removed versions 2 and 3: their deltas and the base went");
	tap_ok(store_fsck(s, NULL, NULL, NULL) == 0, "fsck: no damage");

	store_close(s);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmp);
	if (system(cmd) != 0)
		return 1;
	free(v1);
	free(v2);
	free(v3);
	return tap_done();
}
