/*
 * site_recipe.c — recipes over a child site's session (site_recipe.h).
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bigendian.h"
#include "digestset.h"
#include "err.h"
#include "lock.h"
#include "num.h"
#include "recipe.h"
#include "recipe_make.h"
#include "site_recipe.h"
#include "siteline.h"
#include "store.h"

/* The child waits this long for each part of the parent's stream. */
#define PARENT_TIMEOUT 600.0

/* ---- the head ---- */

/* One space-separated field of rest at *p: its length. */
static size_t
field(const char **p, const char **start)
{
	const char *sp;

	*start = *p;
	if ((sp = strchr(*p, ' ')) == NULL) {
		*p += strlen(*p);
		return (size_t)(*p - *start);
	}
	*p = sp + 1;
	return (size_t)(sp - *start);
}

int
site_recipe_head_parse(const char *rest, struct site_recipe_head *h)
{
	const char *p = rest, *f[4];
	size_t len[4], i;

	for (i = 0; i < 4; i++)
		if ((len[i] = field(&p, &f[i])) == 0)
			return err_set("a recipe's head not of the protocol");
	if (*p != '\0' || f[3][len[3]] != '\0' ||
	    digest_unhex(f[0], len[0], h->d) == -1 ||
	    num_u64(f[1], len[1], STORE_CONTENT_MAX, &h->size) == -1 ||
	    digest_unhex(f[2], len[2], h->base) == -1 ||
	    num_u64(f[3], len[3], STORE_CONTENT_MAX, &h->base_size) == -1)
		return err_set("a recipe's head not of the protocol");
	if (h->size == 0 || h->base_size == 0 ||
	    memcmp(h->d, h->base, DIGEST_LEN) == 0)
		return err_set("a recipe's head not of the protocol");
	return 0;
}

void
site_recipe_head_format(const struct site_recipe_head *h, char *buf)
{
	char hex[DIGEST_HEXLEN + 1], bhex[DIGEST_HEXLEN + 1];

	digest_hex(h->d, hex);
	digest_hex(h->base, bhex);
	snprintf(buf, SITE_RECIPE_HEAD_LEN, "recipe %s %" PRIu64 " %s %" PRIu64,
	    hex, h->size, bhex, h->base_size);
}

/* ---- the parent ---- */

/* recipe_make_emit()'s frames: one block each. */
static int
send_block(void *arg, const unsigned char *buf, size_t len)
{
	unsigned char n[4];
	const int *fd = arg;

	be_put32(n, (uint32_t)len);
	if (siteline_write_full(*fd, n, sizeof(n)) == -1 ||
	    siteline_write_full(*fd, buf, len) == -1)
		return -1;
	return 0;
}

/* Content c as a recipe from old's content, planned as r. */
static int
send_one(int fd, struct store *s, const struct digestset_item *c,
    const struct entry *old, const struct recipe *r, unsigned char *blk,
    struct site_recipe_stats *st)
{
	struct site_recipe_head h;
	char line[SITE_RECIPE_HEAD_LEN];
	unsigned char end[4] = { 0 };
	uint64_t ops = 0, stored = 0, sent;

	memcpy(h.d, c->d, DIGEST_LEN);
	h.size = c->size;
	memcpy(h.base, old->digest, DIGEST_LEN);
	h.base_size = old->size;
	site_recipe_head_format(&h, line);
	if (siteline_write(fd, "%s", line) == -1 ||
	    recipe_make_emit(s, c->d, r, blk, SITE_RECIPE_BLOCK_MAX, send_block,
		&fd, &ops, &stored) == -1 ||
	    siteline_write_full(fd, end, sizeof(end)) == -1)
		return -1;
	/* Each block has its length before it: count them as sent. */
	sent = strlen(line) + 1 + ops + sizeof(end);
	st->recipes++;
	st->sent += sent;
	st->saved += stored > sent ? stored - sent : 0;
	return 0;
}

int
site_recipe_send(int fd, struct store *s, const struct manifest *m,
    const struct manifest *bm, struct digestset_item *only, size_t *nonly,
    struct site_recipe_stats *st)
{
	struct recipe r = { 0 };
	const struct entry *old;
	unsigned char *blk = NULL;
	size_t i, kept = 0;
	int k, rc = -1;

	memset(st, 0, sizeof(*st));
	for (i = 0; i < *nonly; i++) {
		old = recipe_make_base(m, bm, only[i].d, only[i].size);
		k = old == NULL ?
		    0 :
		    recipe_make_plan(s, only[i].d, only[i].size, old, &r);
		/* The new content must be there to read the insertions
		 * from: else it goes whole, and its absence is named by
		 * that. */
		if (k == 1 && store_has_content(s, only[i].d) != 1)
			k = 0;
		if (k == 1 && blk == NULL &&
		    (blk = malloc(SITE_RECIPE_BLOCK_MAX)) == NULL) {
			err_nomem();
			goto out;
		}
		if (k == 1 && send_one(fd, s, &only[i], old, &r, blk, st) == -1)
			goto out;
		recipe_free(&r);
		if (k == 0)
			only[kept++] = only[i];
	}
	*nonly = kept;
	rc = siteline_write(fd, "file");
out:
	recipe_free(&r);
	free(blk);
	return rc;
}

/* ---- the child ---- */

/* The blocks of one recipe, read from the parent. */
struct blocks {
	int in;
	double timeout;
	unsigned char *blk;
	bool ended; /* its 0 was read */
};

/* The next block: 1 with *len bytes at b->blk, 0 at the end. */
static int
block_read(struct blocks *b, size_t *len)
{
	unsigned char n[4];
	uint32_t v;

	if (b->ended)
		return 0;
	if (siteline_read_full(b->in, b->timeout, "the parent", n, sizeof(n)) ==
	    -1)
		return -1;
	if ((v = be_get32(n)) == 0) {
		b->ended = true;
		return 0;
	}
	if (v > SITE_RECIPE_BLOCK_MAX)
		return err_set("the parent: a recipe block of %" PRIu32
			       " bytes, above %" PRIu32,
		    v, SITE_RECIPE_BLOCK_MAX);
	if (siteline_read_full(b->in, b->timeout, "the parent", b->blk, v) ==
	    -1)
		return -1;
	*len = v;
	return 1;
}

/* recipe_apply()'s source. */
static int
block_next(void *arg, const unsigned char **p, size_t *len)
{
	int k;

	if ((k = block_read(arg, len)) == -1)
		return -1;
	if (k == 0)
		return err_set("the parent: a recipe ends before its content");
	*p = ((struct blocks *)arg)->blk;
	return 0;
}

/* Read the rest of a recipe not made (its bytes are not needed). */
static int
block_drain(struct blocks *b)
{
	size_t len;
	int k;

	while ((k = block_read(b, &len)) == 1)
		;
	return k;
}

int
site_recipe_apply(int in, double timeout, int oldfd, int outfd,
    const char *what, const struct site_recipe_head *h, unsigned char *blk,
    unsigned char *scratch, bool *drift)
{
	struct blocks b = { in, timeout, blk, false };
	size_t len;
	int k;

	*drift = false;
	if (recipe_apply(oldfd, h->base_size, outfd, what, h->d, h->size,
		block_next, &b, scratch, RECIPE_INSERT_MAX, drift) == -1) {
		/* Every operation was read: its end must follow. */
		if (*drift && block_drain(&b) == -1)
			*drift = false;
		return -1;
	}
	if ((k = block_read(&b, &len)) != 0)
		return k == -1 ? -1 :
				 err_set("the parent: a recipe longer than its "
					 "content");
	return 0;
}

/* What the child's rebuilding of recipes holds. */
struct receive {
	int in;
	struct store *s;
	const char *pkg;
	uint64_t base;
	struct store_txn *t;
	bool loaded;
	struct manifest bm;
	struct digestset_item *bv; /* the base version's contents */
	size_t nbv;
	unsigned char *blk, *scratch;
	/* The one being made: */
	const struct site_recipe_head *h;
	int oldfd;
	bool drift;
};

/* store_txn_put_made()'s maker. */
static int
make_cb(void *arg, int fd, const char *what)
{
	struct receive *rv = arg;

	return site_recipe_apply(rv->in, PARENT_TIMEOUT, rv->oldfd, fd, what,
	    rv->h, rv->blk, rv->scratch, &rv->drift);
}

/* The store's objects lock, shared (see site_recipe_receive()). */
static int
objects_lock(struct store *s, int *objlock)
{
	int dfd;

	if (*objlock != -1)
		return 0;
	if ((dfd = open(store_dir(s), O_RDONLY | O_DIRECTORY | O_CLOEXEC)) ==
	    -1)
		return err_sys("store '%s'", store_dir(s));
	/* The name store_txn_begin() and gc lock. */
	*objlock = lock_acquire(dfd, "objects.lock", true, STORE_WAIT_DEFAULT);
	close(dfd);
	return *objlock == -1 ? -1 : 0;
}

/* Check h against what the child said and holds: the content one it
 * lacks, the base one of the base version. */
static int
head_check(struct receive *rv, const struct site_recipe_head *h,
    const struct digestset_item *lack, size_t nlack)
{
	const struct digestset_item *b;

	if (rv->base == 0 ||
	    digestset_find(lack, nlack, sizeof(*lack), h->d) == NULL)
		return err_set("the parent: a recipe for a content not asked "
			       "for");
	if (!rv->loaded) {
		rv->loaded = true;
		if (store_load_manifest(rv->s, rv->pkg, rv->base, &rv->bm) ==
			-1 ||
		    digestset_of_manifest(&rv->bm, &rv->bv, &rv->nbv) == -1)
			return -1;
	}
	b = digestset_find(rv->bv, rv->nbv, sizeof(*rv->bv), h->base);
	if (b == NULL || b->size != h->base_size)
		return err_set("the parent: a recipe from a content %s "
			       "version %" PRIu64 " lacks",
		    rv->pkg, rv->base);
	return 0;
}

/* Rebuild one recipe: 0 made (or present), 1 to be sent whole. */
static int
receive_one(struct receive *rv, const struct site_recipe_head *h, int *objlock)
{
	struct blocks b = { rv->in, PARENT_TIMEOUT, rv->blk, false };
	uint64_t stored;
	bool made = false;
	int k;

	/* In store_txn_begin()'s order: the package, then the objects. */
	if ((rv->t == NULL &&
		store_txn_begin(rv->s, rv->pkg, STORE_WAIT_DEFAULT, &rv->t) ==
		    -1) ||
	    objects_lock(rv->s, objlock) == -1)
		return -1;
	/* A base missing or damaged (a compressed one is checked as it
	 * is inflated): asked for whole. */
	if (store_content_pread_fd(rv->s, h->base, h->base_size, &rv->oldfd) ==
	    -1)
		return block_drain(&b) == -1 ? -1 : 1;
	rv->h = h;
	rv->drift = false;
	k = store_txn_put_made(rv->t, h->d, h->size, make_cb, rv, &made,
	    &stored);
	close(rv->oldfd);
	rv->oldfd = -1;
	if (k == -1)
		/* Not the content: the base is not what the parent
		 * thinks (every block was read).  Else malformed, or
		 * this store failed. */
		return rv->drift ? 1 : -1;
	/* Present already: not made, its blocks not read. */
	if (!made && block_drain(&b) == -1)
		return -1;
	return 0;
}

int
site_recipe_receive(int in, struct store *s, const char *pkg, uint64_t base,
    const struct digestset_item *lack, size_t nlack,
    unsigned char (**whole)[DIGEST_LEN], size_t *nwhole, int *objlock)
{
	struct receive rv;
	struct site_recipe_head h;
	char line[SITELINE_MAX];
	const char *rest;
	unsigned char(*w)[DIGEST_LEN] = NULL;
	size_t n = 0, count = 0;
	int k, rc = -1;

	*whole = NULL;
	*nwhole = 0;
	*objlock = -1;
	memset(&rv, 0, sizeof(rv));
	rv.in = in;
	rv.s = s;
	rv.pkg = pkg;
	rv.base = base;
	rv.oldfd = -1;
	manifest_init(&rv.bm);
	for (;;) {
		if (siteline_read(in, PARENT_TIMEOUT, "the parent", line,
			sizeof(line)) == -1)
			goto out;
		if (strcmp(line, "file") == 0)
			break;
		if ((rest = siteline_word(line, "recipe")) == NULL) {
			err_set("not a request of this protocol");
			goto out;
		}
		if (site_recipe_head_parse(rest, &h) == -1 ||
		    head_check(&rv, &h, lack, nlack) == -1)
			goto out;
		if (++count > nlack) {
			err_set("the parent: more recipes than contents asked "
				"for");
			goto out;
		}
		if (rv.blk == NULL &&
		    ((rv.blk = malloc(SITE_RECIPE_BLOCK_MAX)) == NULL ||
			(rv.scratch = malloc(RECIPE_INSERT_MAX)) == NULL)) {
			err_nomem();
			goto out;
		}
		if ((k = receive_one(&rv, &h, objlock)) == -1)
			goto out;
		if (k == 1) {
			/* At most nlack of them: count is. */
			if (w == NULL &&
			    (w = calloc(nlack, sizeof(*w))) == NULL) {
				err_nomem();
				goto out;
			}
			memcpy(w[n++], h.d, DIGEST_LEN);
		}
	}
	rc = 0;
out:
	/* What was made is checked: kept, whatever comes next. */
	if (rv.t != NULL) {
		struct err_saved why = ERR_SAVED_INIT;

		if (rc == 0)
			rc = store_txn_keep_contents(rv.t);
		else {
			err_save(&why);
			(void)store_txn_keep_contents(rv.t);
			(void)err_restore(&why);
		}
		store_txn_abort(rv.t);
	}
	manifest_free(&rv.bm);
	free(rv.bv);
	free(rv.blk);
	free(rv.scratch);
	if (rc == 0) {
		*whole = w;
		*nwhole = n;
	} else
		free(w);
	return rc;
}
