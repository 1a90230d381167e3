/*
 * remote_recipe.c — a changed large file sent to a remote DP as a recipe
 * (see remote_recipe.h).
 */
#include <string.h>
#include <unistd.h>

#include "recipe.h"
#include "recipe_make.h"
#include "remote_recipe.h"
#include "store.h"

/* recipe_make_emit()'s frames: DATA frames. */
static int
send_frame(void *arg, const unsigned char *buf, size_t len)
{
	return proto_send(arg, PROTO_DATA, buf, len);
}

int
remote_recipe_send(struct proto *p, struct store *s,
    const unsigned char d[DIGEST_LEN], uint64_t size, const struct entry *old,
    unsigned char *buf, uint64_t *sent, uint64_t *saved)
{
	struct recipe r = { 0 };
	struct proto_recipe pr;
	uint64_t ops = 0, stored = 0;
	int rc = 0;

	*sent = *saved = 0;
	if (strlen(old->path) > MANIFEST_PATH_MAX ||
	    recipe_make_plan(s, d, size, old, &r) != 1)
		goto out;
	/* The new content must be there to read its insertions from:
	 * else it goes whole (and its absence is named by that). */
	if (store_has_content(s, d) != 1)
		goto out;
	memset(&pr, 0, sizeof(pr));
	memcpy(pr.digest, d, DIGEST_LEN);
	pr.size = size;
	memcpy(pr.old_digest, old->digest, DIGEST_LEN);
	pr.old_size = old->size;
	memcpy(pr.old_path, old->path, strlen(old->path) + 1);
	/* From here the remote reads a recipe: no way back to whole. */
	rc = -1;
	*sent = proto_enc_recipe(&pr, buf);
	if (proto_send(p, PROTO_RECIPE, buf, (size_t)*sent) == -1 ||
	    recipe_make_emit(s, d, &r, buf, PROTO_FRAME_MAX, send_frame, p,
		&ops, &stored) == -1)
		goto out;
	*sent += ops;
	/* Against the content sent whole in its stored form. */
	*saved = stored > *sent ? stored - *sent : 0;
	rc = 1;
out:
	recipe_free(&r);
	return rc;
}
