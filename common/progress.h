/*
 * progress.h — the progress line shown on a terminal during long work.
 *
 * One line on stderr, redrawn in place, in the manner of rsync's
 * --info=progress2 and of a download manager:
 *
 *	office97: 3/10 DPs (1 failed), 120.5 MiB/~340.2 MiB 35%, 45.1 MiB/s, ETA
 *0:05
 *
 * progress_start() returns NULL unless stderr is a terminal (and
 * PKGDIST_PROGRESS is not "0"), and every other call accepts NULL, so
 * callers never test for a terminal themselves and cron output stays
 * quiet.  Counting is thread-safe and cheap (atomic counters); the line
 * is redrawn at most ten times a second, by whichever caller notices the
 * time has come, and not at all in the first half second, so short work
 * shows nothing.  Totals may grow as work is planned (a push knows what a
 * DP needs only once it has compared the DP with the version), so the
 * percentage and the ETA are of the work known so far.
 *
 * No other line may land on the progress line: progress_hold() erases it
 * (while it is shown) and keeps it from being redrawn until
 * progress_release().  msg.h's functions and the relay of a remote peer's
 * stderr hold it around each message; a tool that prints report lines on
 * stdout holds it around each (and flushes stdout before releasing).
 * Holds nest within a thread.  Like msg.h, this is user interface: cmd/
 * creates the progress object and passes it into core work functions.
 */
#ifndef PKGDIST_PROGRESS_H
#define PKGDIST_PROGRESS_H

#include <stdint.h>

struct progress;

/*
 * Start the line labelled what (the package, or "office97: staging");
 * totals may be 0 if unknown.  NULL when no line is to be shown (or out
 * of memory: the work goes on without one).  One line at a time per
 * process.
 */
struct progress *progress_start(const char *what, uint64_t total_items,
    uint64_t total_bytes);
/* Count items and bytes done. */
void progress_add(struct progress *p, uint64_t items, uint64_t bytes);
/* Work planned: add bytes (negative: work that will not be done after
 * all, such as what a failed DP still needed) to the total. */
void progress_expect(struct progress *p, int64_t bytes);
/*
 * Show "DONE/TOTAL noun" (noun: "DPs").  progress_target_start() counts
 * a target begun (until every target has begun, the byte total is
 * estimated, shown as "~": the targets not begun are taken to need what
 * the others needed on average); progress_target_done() one finished,
 * failed or not.
 */
void progress_targets(struct progress *p, uint64_t total, const char *noun);
void progress_target_start(struct progress *p);
void progress_target_done(struct progress *p, int failed);
/* Show the bandwidth cap in effect now on rl's chain (", cap 512
 * KiB/s"; nothing while no cap holds); rl must outlive p's line. */
struct ratelimit;
void progress_cap(struct progress *p, struct ratelimit *rl);
/* Erase the line and free. */
void progress_end(struct progress *p);

/* Erase the line of this process, if shown, and keep it off until the
 * matching release (see above).  Without a line, nothing happens. */
void progress_hold(void);
void progress_release(void);

#endif
