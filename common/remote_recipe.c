/*
 * remote_recipe.c — a changed large file sent to a remote DP as a recipe
 * (see remote_recipe.h).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "chunk.h"
#include "err.h"
#include "recipe.h"
#include "remote_recipe.h"
#include "store.h"

const struct entry *
remote_recipe_base(const struct manifest *m, const struct manifest *old,
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

/* The new content's bytes at increasing offsets: pread on a raw
 * object, a reader skipping forward on a compressed one. */
struct source {
	struct store_raw raw;
	struct store_reader *r;
	uint64_t pos;
	unsigned char *skip;
};

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

/* The operations of r in DATA frames built in buf. */
static int
send_ops(struct proto *p, const struct recipe *r, struct source *src,
    unsigned char *buf, unsigned char *data, uint64_t *sent)
{
	size_t len = 0, i;
	const size_t room = PROTO_FRAME_MAX;

	for (i = 0; i < r->n; i++) {
		const struct recipe_op *op = &r->v[i];
		size_t need = op->copy ? RECIPE_COPY_LEN :
					 recipe_insert_room((uint32_t)op->len);

		if (room - len < need) {
			if (proto_send(p, PROTO_DATA, buf, len) == -1)
				return -1;
			*sent += len;
			len = 0;
		}
		if (op->copy) {
			len += recipe_enc_copy(buf + len, op->off, op->len);
			continue;
		}
		if (source_read(src, op->off, data, (size_t)op->len) == -1)
			return -1;
		len += recipe_enc_insert(buf + len, room - len, data,
		    (uint32_t)op->len);
	}
	if (len > 0) {
		if (proto_send(p, PROTO_DATA, buf, len) == -1)
			return -1;
		*sent += len;
	}
	return 0;
}

int
remote_recipe_send(struct proto *p, struct store *s,
    const unsigned char d[DIGEST_LEN], uint64_t size, const struct entry *old,
    unsigned char *buf, uint64_t *sent, uint64_t *saved)
{
	struct chunk_list nl = { 0 }, ol = { 0 };
	struct recipe r = { 0 };
	struct source src;
	struct store_raw oraw;
	struct proto_recipe pr;
	unsigned char *data = NULL;
	int rc = 0;

	*sent = *saved = 0;
	memset(&src, 0, sizeof(src));
	src.raw.fd = -1;
	/* Anything in the way of a recipe only means the whole content
	 * goes (and a damaged store is named by that). */
	if (store_content_chunks(s, d, size, &nl) == -1 ||
	    store_content_chunks(s, old->digest, old->size, &ol) == -1 ||
	    recipe_plan(&ol, &nl, &r) == -1 || !recipe_worth(&r))
		goto out;
	if (store_content_raw(s, d, &src.raw) == -1)
		goto out;
	/* Both stored as they are: narrow the insertions to the bytes
	 * that differ (a few reads around each edit). */
	if (!src.raw.zlib && store_content_raw(s, old->digest, &oraw) == 0) {
		int fds[2];

		fds[0] = oraw.fd;
		fds[1] = src.raw.fd;
		if (!oraw.zlib &&
		    recipe_refine(&r, old->size, read_at, fds) == -1) {
			close(oraw.fd);
			goto out;
		}
		close(oraw.fd);
	}
	if (src.raw.zlib) {
		close(src.raw.fd);
		src.raw.fd = -1;
		if (store_content_open(s, d, &src.r) == -1 ||
		    (src.skip = malloc(RECIPE_INSERT_MAX)) == NULL)
			goto out;
	}
	if ((data = malloc(RECIPE_INSERT_MAX)) == NULL)
		goto out;
	memset(&pr, 0, sizeof(pr));
	memcpy(pr.digest, d, DIGEST_LEN);
	pr.size = size;
	memcpy(pr.old_digest, old->digest, DIGEST_LEN);
	pr.old_size = old->size;
	if (strlen(old->path) > MANIFEST_PATH_MAX)
		goto out;
	memcpy(pr.old_path, old->path, strlen(old->path) + 1);
	/* From here the remote reads a recipe: no way back to whole. */
	rc = -1;
	*sent = proto_enc_recipe(&pr, buf);
	if (proto_send(p, PROTO_RECIPE, buf, (size_t)*sent) == -1 ||
	    send_ops(p, &r, &src, buf, data, sent) == -1)
		goto out;
	/* Against the content sent whole in its stored form. */
	*saved = src.raw.stored_size > *sent ? src.raw.stored_size - *sent : 0;
	rc = 1;
out:
	if (src.raw.fd != -1)
		close(src.raw.fd);
	store_reader_close(src.r);
	free(src.skip);
	free(data);
	recipe_free(&r);
	chunk_list_free(&nl);
	chunk_list_free(&ol);
	return rc;
}
