/*
 * store_chunks.c — the chunk index kept beside each large content
 * (objects/ab/cdef....k, chunkindex.h): written when the content is
 * staged, read by pushes, built from the content when it is missing (a
 * content an earlier release stored), damaged or cut with other sizes,
 * checked by fsck (see store.h, "chunks of large contents").
 *
 * An index is a cache of what the content's bytes say: losing one loses
 * nothing, so it is written without an fsync of its own when staged
 * (the commit's syncfs covers it) and rebuilt whenever it does not
 * decode.  gc removes it with its content.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "atomic.h"
#include "blob.h"
#include "chunk.h"
#include "chunkindex.h"
#include "err.h"
#include "io.h"
#include "lock.h"
#include "store.h"
#include "store_int.h"

/* Waiting for the objects lock only to cache an index is not worth
 * much: a gc sweeping now just means the next push builds it again. */
#define CACHE_LOCK_WAIT 1.0

void
store_chunks_name(const unsigned char d[DIGEST_LEN],
    char out[STORE_OBJ_NAME_MAX])
{
	char hex[DIGEST_HEXLEN + 1];

	digest_hex(d, hex);
	snprintf(out, STORE_OBJ_NAME_MAX, "%.2s/%s" STORE_CHUNKS_SUFFIX, hex,
	    hex + 2);
}

int
store_chunks_write_at(int dirfd, const char *name, const struct chunk_list *l,
    const unsigned char d[DIGEST_LEN])
{
	struct chunk_params p;
	unsigned char *buf = NULL;
	size_t len;
	int fd, rc = -1;

	chunk_params_default(&p);
	if (chunkindex_encode(l, &p, d, &buf, &len) == -1)
		return -1;
	fd = openat(dirfd, name,
	    O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0444);
	if (fd == -1) {
		err_sys("cannot create '%s'", name);
		goto out;
	}
	if (io_write_full(fd, buf, len, name) == -1) {
		close(fd);
		(void)unlinkat(dirfd, name, 0);
		goto out;
	}
	if (close(fd) == -1) {
		err_sys("cannot write '%s'", name);
		(void)unlinkat(dirfd, name, 0);
		goto out;
	}
	rc = 0;
out:
	free(buf);
	return rc;
}

/* Read d's index: 1 with *l filled, 0 when there is none or it does not
 * decode (why says which, for fsck), -1 when it cannot be read. */
static int
index_read(struct store *s, const unsigned char d[DIGEST_LEN], uint64_t size,
    struct chunk_list *l, char *why, size_t whylen)
{
	struct chunk_params p;
	char name[STORE_OBJ_NAME_MAX];
	unsigned char *buf = NULL;
	struct stat st;
	size_t max;
	ssize_t k;
	int fd, rc = -1;

	why[0] = '\0';
	chunk_params_default(&p);
	store_chunks_name(d, name);
	fd = openat(s->objfd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd == -1) {
		if (errno == ENOENT)
			return 0;
		if (errno == ELOOP) {
			snprintf(why, whylen, "chunk index: a symbolic link");
			return 0;
		}
		return err_sys("cannot open '%s/objects/%s'", s->dir, name);
	}
	max = chunkindex_max_len(size, &p);
	if (fstat(fd, &st) == -1) {
		err_sys("cannot stat '%s/objects/%s'", s->dir, name);
		goto out;
	}
	if (!S_ISREG(st.st_mode) || (uint64_t)st.st_size > max) {
		snprintf(why, whylen, "chunk index: %s",
		    S_ISREG(st.st_mode) ? "too long" : "not a regular file");
		rc = 0;
		goto out;
	}
	if ((buf = malloc((size_t)st.st_size + 1)) == NULL) {
		err_nomem();
		goto out;
	}
	if ((k = io_read_full(fd, buf, (size_t)st.st_size + 1, name)) == -1)
		goto out;
	if (chunkindex_decode(buf, (size_t)k, d, size, &p, l) == -1) {
		snprintf(why, whylen, "%s", err_get());
		rc = 0;
		goto out;
	}
	rc = 1;
out:
	free(buf);
	close(fd);
	return rc;
}

/* Keep l as d's index (best effort: a store we may not write, or a gc
 * holding the objects lock, only means it is built again next time). */
static void
index_cache(struct store *s, const unsigned char d[DIGEST_LEN],
    const struct chunk_list *l)
{
	struct chunk_params p;
	char name[STORE_OBJ_NAME_MAX];
	unsigned char *buf = NULL;
	size_t len;
	int lk, dfd = -1;

	chunk_params_default(&p);
	if ((lk = lock_acquire(s->fd, "objects.lock", true, CACHE_LOCK_WAIT)) ==
	    -1)
		return;
	store_chunks_name(d, name);
	name[2] = '\0';
	if ((dfd = store_open_dir(s->objfd, name)) == -1)
		goto out;
	if (chunkindex_encode(l, &p, d, &buf, &len) == -1)
		goto out;
	store_chunks_name(d, name);
	(void)atomic_write_file(dfd, name + 3, buf, len, 0444);
out:
	free(buf);
	if (dfd != -1)
		close(dfd);
	lock_release(lk);
}

/* Read content d to its end through a chunker: its SHA-256 and size are
 * checked (-1 with err "content HEX: ..." otherwise). */
static int
index_build(struct store *s, const unsigned char d[DIGEST_LEN], uint64_t size,
    void *buf, size_t len, uint64_t *total, struct chunk_list *l)
{
	struct store_reader *r = NULL;
	struct chunker c;
	char hex[DIGEST_HEXLEN + 1];
	uint64_t n = 0;
	ssize_t k;

	memset(l, 0, sizeof(*l));
	if (total != NULL)
		*total = 0;
	if (chunker_init(&c, NULL) == -1)
		return -1;
	if (store_content_open(s, d, &r) == -1)
		goto fail;
	while ((k = store_reader_read(r, buf, len)) > 0) {
		n += (uint64_t)k;
		if (chunker_update(&c, buf, (size_t)k) == -1)
			goto fail;
	}
	store_reader_close(r);
	r = NULL;
	if (total != NULL)
		*total = n;
	if (k == -1)
		goto fail;
	if (n != size) {
		digest_hex(d, hex);
		err_set("content %s: has %llu bytes, the manifest says %llu",
		    hex, (unsigned long long)n, (unsigned long long)size);
		goto fail;
	}
	return chunker_final(&c, l);
fail:
	store_reader_close(r);
	chunker_free(&c);
	return -1;
}

int
store_content_chunks(struct store *s, const unsigned char d[DIGEST_LEN],
    uint64_t size, struct chunk_list *out)
{
	char why[256];
	unsigned char *buf;
	int k;

	if ((k = index_read(s, d, size, out, why, sizeof(why))) != 0)
		return k == 1 ? 0 : -1;
	if ((buf = malloc(BLOB_CHUNK)) == NULL)
		return err_nomem();
	k = index_build(s, d, size, buf, BLOB_CHUNK, NULL, out);
	free(buf);
	if (k == -1)
		return -1;
	index_cache(s, d, out);
	return 0;
}

int
store_chunks_check(struct store *s, const unsigned char d[DIGEST_LEN],
    uint64_t size, void *buf, size_t len, uint64_t *total, char *why,
    size_t whylen)
{
	struct chunk_list got = { 0 }, kept = { 0 };
	size_t i;
	int k, rc = -1;

	why[0] = '\0';
	if (index_build(s, d, size, buf, len, total, &got) == -1)
		return -1;
	if ((k = index_read(s, d, size, &kept, why, whylen)) == -1) {
		snprintf(why, whylen, "%s", err_get());
		rc = 1;
		goto out;
	}
	if (k == 0) {
		/* Missing: rebuilt at its first use, not damage.  One that
		 * does not decode is (why says how). */
		rc = why[0] != '\0' ? 1 : 0;
		goto out;
	}
	rc = got.n != kept.n;
	for (i = 0; rc == 0 && i < got.n; i++)
		if (got.v[i].len != kept.v[i].len ||
		    memcmp(got.v[i].id, kept.v[i].id, DIGEST_LEN) != 0)
			rc = 1;
	if (rc == 1)
		snprintf(why, whylen,
		    "chunk index: does not match the "
		    "content");
out:
	if (rc == 1) {
		char name[STORE_OBJ_NAME_MAX], *t;

		store_chunks_name(d, name);
		if (asprintf(&t, "%s/objects/%s: %s", s->dir, name, why) !=
		    -1) {
			snprintf(why, whylen, "%s", t);
			free(t);
		}
	}
	chunk_list_free(&got);
	chunk_list_free(&kept);
	return rc;
}
