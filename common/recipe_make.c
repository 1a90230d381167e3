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

/* recipe_refine()'s reader: the old (v[0]) or new (v[1]) content. */
static int
read_at(void *arg, int which, uint64_t off, unsigned char *buf, size_t n)
{
	struct store_view **v = arg;

	return store_view_pread(v[which], buf, n, off);
}

int
recipe_make_plan(struct store *s, const unsigned char d[DIGEST_LEN],
    uint64_t size, const struct entry *old, struct recipe *r)
{
	struct chunk_list nl = { 0 }, ol = { 0 };
	struct store_view *v[2] = { NULL, NULL };
	int rc = 0;

	memset(r, 0, sizeof(*r));
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
	/* Both readable at any offset (not compressed): narrow the
	 * insertions to the bytes that differ (a few reads around each
	 * edit). */
	if (store_content_view(s, old->digest, &v[0]) == 1 &&
	    store_content_view(s, d, &v[1]) == 1 &&
	    recipe_refine(r, old->size, read_at, v) == -1) {
		recipe_free(r);
		rc = 0;
	}
out:
	store_view_close(v[0]);
	store_view_close(v[1]);
	chunk_list_free(&nl);
	chunk_list_free(&ol);
	return rc;
}

/* The new content's bytes at increasing offsets: a view where it has
 * one, a reader skipping forward on a compressed one. */
struct source {
	struct store_view *v;
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
		return store_view_pread(c->v, buf, n, off);
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
	struct store_raw raw;
	unsigned char *data = NULL;
	uint64_t total = 0;
	size_t len = 0, i;
	int k, rc = -1;

	memset(&src, 0, sizeof(src));
	if (room < recipe_insert_room(RECIPE_INSERT_MAX))
		return err_set("recipe: frame too small");
	/* What sending it whole would send: its stored form's bytes. */
	if (store_content_raw(s, d, &raw) == -1)
		return -1;
	if (stored_out != NULL)
		*stored_out = raw.stored_size;
	store_raw_close(&raw);
	if ((k = store_content_view(s, d, &src.v)) == -1)
		return -1;
	if (k == 0) {
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
	store_view_close(src.v);
	store_reader_close(src.r);
	free(src.skip);
	free(data);
	return rc;
}
