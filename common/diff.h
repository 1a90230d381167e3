/*
 * diff.h — the change list between two sides, as pkgdiff diff and
 * pkgdiff verify compute it (pkgdiff(1)).
 *
 * A side is a directory (scanned, links not followed: scan.h), a
 * manifest file ("-": standard input, one side at most), or a delta file
 * (a DP's state manifest, mdelta.h, read whole with its base).  Two
 * manifest files are compared streaming, in constant memory; the change
 * list is then kept in a temporary file (in memory while it fits stdio's
 * buffer) and copied to out only when both were read to their end, so
 * that a bad line late in either leaves out empty.  Anything else is
 * loaded whole and compared (changes.h).
 *
 * A scan shows a progress line on a terminal (progress.h).  Functions
 * return 0, or -1 with err.h set; nothing here prints but to out.
 */
#ifndef PKGDIST_DIFF_H
#define PKGDIST_DIFF_H

#include <stdbool.h>
#include <stdio.h>

#include "changes.h"
#include "manifest.h"

struct statcache;

/* Scan dir into m with jobs threads (0: all cores): digests from reuse
 * (may be NULL) where path, size and mtime match; cache (may be NULL)
 * answers for files whose stat it knows (statcache.h). */
int diff_scan(const char *dir, int jobs, const struct manifest *reuse,
    struct statcache *cache, struct manifest *m);

/* The changes from side a to side b: written to out as change lines, or
 * with st given counted there instead (--stat); *n gets their count. */
int diff_sides(const char *a, const char *b, int jobs, FILE *out,
    struct change_stat *st, long long *n);

/*
 * The drift of directory dir from manifest file manifest, written to
 * out; *n gets the count.  With cache (a file name), a file whose stat
 * the last check's record vouches for is not read (every file is with
 * deep), and the record is written anew for the next check; a damaged
 * record is read past (every file then read), and cache_note, when not
 * NULL, is told why before the scan.
 */
int diff_verify(const char *manifest, const char *dir, int jobs,
    const char *cache, bool deep, void (*cache_note)(const char *why),
    FILE *out, long long *n);

#endif
