/*
 * siteline.h — the framing of a child site's session (sitessh.h): lines
 * of text, and the length-prefixed blocks of a recipe (site_recipe.h),
 * on ssh's standard input and output.
 *
 * Reads take exactly what they return, nothing past it (the package file
 * that follows in the same stream is read by pack_import() from the
 * descriptor), and wait at most timeout seconds for each part (0 or
 * less: forever).  Every line is at most SITELINE_MAX bytes.
 *
 * Functions return 0 or -1 with err.h set (peer names the other side in
 * its messages); nothing prints.
 */
#ifndef PKGDIST_SITELINE_H
#define PKGDIST_SITELINE_H

#include <stddef.h>
#include <stdint.h>

#include "digest.h"

#define SITELINE_MAX 4096

/* One line from fd, its '\n' dropped, at most max - 1 bytes. */
int siteline_read(int fd, double timeout, const char *peer, char *buf,
    size_t max);

/* Exactly n bytes from fd (the end of the stream before them: -1). */
int siteline_read_full(int fd, double timeout, const char *peer, void *buf,
    size_t n);

/* Write one line: the text cut at SITELINE_MAX, newlines in it made
 * spaces, so a message is one line whatever it holds. */
int siteline_write(int fd, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Write n bytes as they are. */
int siteline_write_full(int fd, const void *buf, size_t n);

/*
 * Digests, one a line (lowercase hex, '\n'), as an offer and its answer
 * carry them: n of them read in blocks of many lines (exactly their
 * bytes: what follows is not taken), fn(arg, d) called with each (its
 * -1 stops); or written so, from n elements stride bytes apart, each
 * beginning with its digest.
 */
int siteline_read_digests(int fd, double timeout, const char *peer, uint64_t n,
    int (*fn)(void *arg, const unsigned char d[DIGEST_LEN]), void *arg);
int siteline_write_digests(int fd, const void *v, size_t n, size_t stride);

/* "WORD REST": REST after the first word and a space ("" for a line of
 * the word alone), or NULL when the line is not that word's. */
const char *siteline_word(const char *line, const char *word);

#endif
