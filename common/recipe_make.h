/*
 * recipe_make.h — a recipe (recipe.h) for a large content of the store
 * against an older content of the store, and its operations encoded in
 * frames: what a refresh of a remote DP sends (remote_recipe.h) and what
 * a package file against a base version carries (pack.h).
 *
 * recipe_make_base() says which file of the older version a content
 * starts from (the file at the same path, above CHUNK_THRESHOLD bytes,
 * with another content); recipe_make_plan() matches the two contents'
 * chunks (the store's indexes, store_content_chunks()) and narrows the
 * insertions; recipe_make_emit() encodes the operations, the insertions'
 * bytes read from the new content, in frames of at most room bytes,
 * each holding whole operations (what recipe_apply() takes).
 *
 * Return 0 / 1 / -1 as stated, err.h set on -1; never print.
 */
#ifndef PKGDIST_RECIPE_MAKE_H
#define PKGDIST_RECIPE_MAKE_H

#include <stddef.h>
#include <stdint.h>

#include "digest.h"
#include "manifest.h"
#include "recipe.h"

struct store;

/* The entry of old (an older version's manifest) a recipe for content d
 * (size bytes) of m starts from: the file at the path of m's first file
 * of d, when both are above CHUNK_THRESHOLD bytes and old's holds another
 * content; NULL when there is none (the content goes whole). */
const struct entry *recipe_make_base(const struct manifest *m,
    const struct manifest *old, const unsigned char d[DIGEST_LEN],
    uint64_t size);

/* Plan content d (size bytes) from old's content into *r: 1 when it is
 * worth it (recipe_worth()); 0 when not (few chunks in common: a
 * compressed file) or the chunks cannot be had (the content goes whole,
 * and a damaged store is named by that): *r is then empty. */
int recipe_make_plan(struct store *s, const unsigned char d[DIGEST_LEN],
    uint64_t size, const struct entry *old, struct recipe *r);

/* Called with each frame (len bytes at buf, whole operations); -1 with
 * err set stops. */
typedef int (*recipe_frame_fn)(void *arg, const unsigned char *buf, size_t len);

/*
 * Encode r's operations for content d in frames of at most room bytes
 * (at least recipe_insert_room(RECIPE_INSERT_MAX)) built in buf (room
 * bytes), handing each to fn; *len_out (may be NULL) gets the bytes of
 * all of them and *stored_out (may be NULL) the content's stored size,
 * what sending it whole would have cost.  -1: the content could not be
 * read, or fn failed.
 */
int recipe_make_emit(struct store *s, const unsigned char d[DIGEST_LEN],
    const struct recipe *r, unsigned char *buf, size_t room, recipe_frame_fn fn,
    void *arg, uint64_t *len_out, uint64_t *stored_out);

#endif
