/*
 * remote_recipe.h — the client's half of recipes (recipe.h, proto.h
 * RECIPE): a changed large file sent to a remote DP as the ranges of its
 * old copy to keep and the chunks to insert, instead of whole.
 *
 * remote.c calls recipe_make_base() (recipe_make.h) for each content
 * the remote asks for in the first round of a refresh that went by
 * change list (so the DP holds the base version whole), and
 * remote_recipe_send() when it names an old content.  Chunk lists come
 * from the store's indexes (store_content_chunks(): built once for
 * contents an earlier release stored).  Return 0 / 1 / -1 as stated,
 * err.h set on -1; never print.
 */
#ifndef PKGDIST_REMOTE_RECIPE_H
#define PKGDIST_REMOTE_RECIPE_H

#include <stdint.h>

#include "digest.h"
#include "manifest.h"
#include "proto.h"

struct store;

/*
 * Send content d (size bytes) as a RECIPE from old's content: 1 when
 * sent (*sent: the bytes of the operations, *saved: size less those);
 * 0 when it is not worth it (few chunks in common: a compressed file) or
 * the chunks cannot be had, and nothing was sent: the caller sends the
 * content whole.  buf: PROTO_FRAME_MAX bytes of scratch.  -1: the
 * connection failed.
 */
int remote_recipe_send(struct proto *p, struct store *s,
    const unsigned char d[DIGEST_LEN], uint64_t size, const struct entry *old,
    unsigned char *buf, uint64_t *sent, uint64_t *saved);

#endif
