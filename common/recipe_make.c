/*
 * recipe_make.c — a recipe for a stored content against an older one,
 * and its operations in frames (see recipe_make.h).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "chunk.h"
#include "err.h"
#include "recipe.h"
#include "recipe_make.h"
#include "store.h"

const struct entry *
recipe_make_base(const struct manifest *m, const struct manifest *old,
    const unsigned char d[DIGEST_LEN], uint64_t size)
{
	const struct entry *o;
	size_t i;

	if (old == NULL || size <= CHUNK_THRESHOLD)
		return NULL;
	for (i = 0; i < m->n; i++)
		if (m->v[i].type == ENTRY_FILE &&
		    memcmp(m->v[i].digest, d, DIGEST_LEN) == 0)
			break;
	if (i == m->n || (o = manifest_find(old, m->v[i].path)) == NULL ||
	    o->type != ENTRY_FILE || o->size <= CHUNK_THRESHOLD ||
	    memcmp(o->digest, d, DIGEST_LEN) == 0)
		return NULL;
	return o;
}

/* n bytes at off of a raw object. */
static int
pread_full(int fd, uint64_t off, unsigned char *buf, size_t n)
{
	size_t done = 0;
	ssize_t k;

	while (done < n) {
		k = pread(fd, buf + done, n - done, (off_t)(off + done));
		if (k == -1 && errno == EINTR)
			continue;
		if (k <= 0)
			return err_set("content: shorter than its chunks say");
		done += (size_t)k;
	}
	return 0;
}

/* recipe_refine()'s reader: the old (fds[0]) or new (fds[1]) raw
 * object. */
static int
read_at(void *arg, int which, uint64_t off, unsigned char *buf, size_t n)
{
	const int *fds = arg;

	return pread_full(fds[which], off, buf, n);
}

int
recipe_make_plan(struct store *s, const unsigned char d[DIGEST_LEN],
    uint64_t size, const struct entry *old, struct recipe *r)
{
	struct chunk_list nl = { 0 }, ol = { 0 };
	struct store_raw nraw, oraw;
	int rc = 0;

	memset(r, 0, sizeof(*r));
	nraw.fd = oraw.fd = -1;
	/* Anything in the way of a recipe only means the whole content
	 * goes. */
	if (store_content_chunks(s, d, size, &nl) == -1 ||
	    store_content_chunks(s, old->digest, old->size, &ol) == -1 ||
	    recipe_plan(&ol, &nl, r) == -1)
		goto out;
	if (!recipe_worth(r)) {
		recipe_free(r);
		goto out;
	}
	rc = 1;
	/* Both stored as they are: narrow the insertions to the bytes
	 * that differ (a few reads around each edit). */
	if (store_content_raw(s, d, &nraw) == 0 && !nraw.zlib &&
	    store_content_raw(s, old->digest, &oraw) == 0 && !oraw.zlib) {
		int fds[2];

		fds[0] = oraw.fd;
		fds[1] = nraw.fd;
		if (recipe_refine(r, old->size, read_at, fds) == -1) {
			recipe_free(r);
			rc = 0;
		}
	}
out:
	if (nraw.fd != -1)
		close(nraw.fd);
	if (oraw.fd != -1)
		close(oraw.fd);
	chunk_list_free(&nl);
	chunk_list_free(&ol);
	return rc;
}

/* The new content's bytes at increasing offsets: pread on a raw
 * object, a reader skipping forward on a compressed one. */
struct source {
	struct store_raw raw;
	struct store_reader *r;
	uint64_t pos;
	unsigned char *skip;
};

static int
source_read(struct source *c, uint64_t off, unsigned char *buf, size_t n)
{
	ssize_t k;
	size_t done = 0;

	if (c->r == NULL)
		return pread_full(c->raw.fd, off, buf, n);
	if (off < c->pos)
		return err_set("recipe: insertions out of order");
	while (c->pos < off) {
		size_t want = off - c->pos < RECIPE_INSERT_MAX ?
		    (size_t)(off - c->pos) :
		    RECIPE_INSERT_MAX;

		if ((k = store_reader_read(c->r, c->skip, want)) <= 0)
			return k == 0 ? err_set("content: shorter than its "
						"chunks say") :
					-1;
		c->pos += (uint64_t)k;
	}
	while (done < n) {
		if ((k = store_reader_read(c->r, buf + done, n - done)) <= 0)
			return k == 0 ? err_set("content: shorter than its "
						"chunks say") :
					-1;
		done += (size_t)k;
		c->pos += (uint64_t)k;
	}
	return 0;
}

int
recipe_make_emit(struct store *s, const unsigned char d[DIGEST_LEN],
    const struct recipe *r, unsigned char *buf, size_t room, recipe_frame_fn fn,
    void *arg, uint64_t *len_out, uint64_t *stored_out)
{
	struct source src;
	unsigned char *data = NULL;
	uint64_t total = 0;
	size_t len = 0, i;
	int rc = -1;

	memset(&src, 0, sizeof(src));
	if (room < recipe_insert_room(RECIPE_INSERT_MAX))
		return err_set("recipe: frame too small");
	if (store_content_raw(s, d, &src.raw) == -1)
		return -1;
	if (stored_out != NULL)
		*stored_out = src.raw.stored_size;
	if (src.raw.zlib) {
		close(src.raw.fd);
		src.raw.fd = -1;
		if (store_content_open(s, d, &src.r) == -1)
			goto out;
		if ((src.skip = malloc(RECIPE_INSERT_MAX)) == NULL) {
			err_nomem();
			goto out;
		}
	}
	if ((data = malloc(RECIPE_INSERT_MAX)) == NULL) {
		err_nomem();
		goto out;
	}
	for (i = 0; i < r->n; i++) {
		const struct recipe_op *op = &r->v[i];
		size_t need = op->copy ? RECIPE_COPY_LEN :
					 recipe_insert_room((uint32_t)op->len);

		if (room - len < need) {
			if (fn(arg, buf, len) == -1)
				goto out;
			total += len;
			len = 0;
		}
		if (op->copy) {
			len += recipe_enc_copy(buf + len, op->off, op->len);
			continue;
		}
		if (source_read(&src, op->off, data, (size_t)op->len) == -1)
			goto out;
		len += recipe_enc_insert(buf + len, room - len, data,
		    (uint32_t)op->len);
	}
	if (len > 0) {
		if (fn(arg, buf, len) == -1)
			goto out;
		total += len;
	}
	if (len_out != NULL)
		*len_out = total;
	rc = 0;
out:
	if (src.raw.fd != -1)
		close(src.raw.fd);
	store_reader_close(src.r);
	free(src.skip);
	free(data);
	return rc;
}
