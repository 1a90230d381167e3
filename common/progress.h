/*
 * progress.h — the progress line shown on a terminal during long work.
 *
 * progress_start() returns NULL unless stderr is a terminal (and
 * PKGDIST_PROGRESS is not "0"), and every other call accepts NULL, so
 * callers never test for a terminal themselves and cron output stays
 * quiet.  Updates are thread-safe and cheap (atomic counters); the line
 * is redrawn at most ten times a second by whichever caller notices the
 * time has come.  Like msg.h, this is user interface: cmd/ creates the
 * progress object and passes it into core work functions.
 */
#ifndef PKGDIST_PROGRESS_H
#define PKGDIST_PROGRESS_H

#include <stdint.h>

struct progress;

/* what: a short label ("hashing", "dp2"); totals may be 0 if unknown. */
struct progress *progress_start(const char *what, uint64_t total_items,
    uint64_t total_bytes);
void progress_add(struct progress *p, uint64_t items, uint64_t bytes);
/* Erase the line and free. */
void progress_end(struct progress *p);

#endif
