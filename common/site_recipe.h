/*
 * site_recipe.h — a changed large content sent to a child site over ssh
 * (sitessh.h, session version 2 and later) as a recipe (recipe.h) against the
 * child's copy of the content at its path in the base version B it
 * named, instead of whole.
 *
 * On the wire, after the child's "lack" answer and before the package
 * file, zero or more of
 *
 *   "recipe HEX SIZE BASEHEX BASESIZE\n"   content HEX (SIZE bytes), one
 *                                          the child said it lacks, made
 *                                          from content BASEHEX of B
 *   blocks: u32 n (1..SITE_RECIPE_BLOCK_MAX), then n bytes of whole
 *           operations (recipe.h); u32 0 after the last
 *
 * then "file\n".  The package file that follows holds the lacked
 * contents not sent as recipes.
 *
 * The child rebuilds each from its own stored copy of the base content
 * into its store (store_txn_put_made(): size and SHA-256 checked before
 * the content is kept, the base never written), and keeps it with no
 * version using it yet (store_txn_keep_contents()); one whose base is
 * missing, damaged or not what the parent thinks is named in *whole:
 * the child asks for it whole ("whole K").  Every length, count and
 * digest from the parent is checked before use.
 *
 * Functions return 0 or -1 with err.h set; nothing prints.
 */
#ifndef PKGDIST_SITE_RECIPE_H
#define PKGDIST_SITE_RECIPE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "digest.h"
#include "manifest.h"

struct digestset_item;
struct store;

/* The longest block: the longest insertion, compressed or not, fits. */
#define SITE_RECIPE_BLOCK_MAX ((uint32_t)320 << 10)

struct site_recipe_head {
	unsigned char d[DIGEST_LEN];
	uint64_t size;
	unsigned char base[DIGEST_LEN];
	uint64_t base_size;
};

/* The head after "recipe ": -1 with err on any broken rule. */
int site_recipe_head_parse(const char *rest, struct site_recipe_head *h);
/* Its line, "recipe ..." (at least SITE_RECIPE_HEAD_LEN bytes). */
#define SITE_RECIPE_HEAD_LEN (7 + 2 * (DIGEST_HEXLEN + 1) + 2 * 21)
void site_recipe_head_format(const struct site_recipe_head *h, char *buf);

struct site_recipe_stats {
	uint64_t recipes; /* contents sent as recipes */
	uint64_t sent;	  /* their bytes on the wire */
	uint64_t saved;	  /* their stored sizes less those */
};

/*
 * The parent's side: of only (*nonly elements, a sorted set: what the
 * child lacks), send as recipes those that changed a little from the
 * file at their path in bm (B's manifest; NULL: none), m being the
 * version's manifest, and remove them from only (which stays sorted);
 * then "file".  st: what the recipes saved.  -1: the connection or the
 * store failed midway (the session is then over).
 */
int site_recipe_send(int fd, struct store *s, const struct manifest *m,
    const struct manifest *bm, struct digestset_item *only, size_t *nonly,
    struct site_recipe_stats *st);

/*
 * The child's side, after its "lack" answer: rebuild the parent's
 * recipes of pkg (against base, the version it named) up to "file".
 * lack: the sorted set (nlack) it said it lacks.  *whole (malloc'd,
 * *nwhole digests): those it could not rebuild.  *objlock: the store's
 * objects lock, held shared from the first content kept (so no gc takes
 * it before the version using it is committed), or -1: the caller
 * releases it (lock_release()) after its import.
 */
int site_recipe_receive(int in, struct store *s, const char *pkg, uint64_t base,
    const struct digestset_item *lack, size_t nlack,
    unsigned char (**whole)[DIGEST_LEN], size_t *nwhole, int *objlock);

/*
 * Make content h->d from oldfd (h->base_size bytes) into outfd with the
 * blocks read from in, up to and with the 0 after the last: as
 * recipe_apply() (blk SITE_RECIPE_BLOCK_MAX, scratch RECIPE_INSERT_MAX
 * bytes).  -1 with *drift: the bytes made are not the content, and
 * every block was read.  (site_recipe_receive() calls it; the fuzz
 * harness too.)
 */
int site_recipe_apply(int in, double timeout, int oldfd, int outfd,
    const char *what, const struct site_recipe_head *h, unsigned char *blk,
    unsigned char *scratch, bool *drift);

#endif
