/*
 * timefmt.h — the one way a tool shows a point in time to a person
 * (pkgstage list, pkgretry list and run; every tool, one format).
 *
 * The format is ISO 8601 / RFC 3339 in the local time zone with its
 * offset, to the second, as one word: "2026-11-22T04:34:27+01:00", and
 * "2026-11-22T03:34:27Z" where the offset is zero (a server on UTC).
 * Why: an administrator reads it against the clock, cron's schedule and
 * the logs of that machine (local time); the offset keeps it unambiguous
 * when lists from sites in other zones are compared; one word keeps
 * lines whose fields are split on blanks (pkgstage list) parseable; and
 * within one zone it sorts as text.  Files keep seconds since the epoch:
 * this is for display only.
 */
#ifndef PKGDIST_TIMEFMT_H
#define PKGDIST_TIMEFMT_H

#include <stddef.h>
#include <stdint.h>

/* Room for any result, the NUL included. */
#define TIMEFMT_LEN 40

/*
 * Write t (seconds since the epoch) into buf (len bytes, TIMEFMT_LEN is
 * always enough) as above; a time the C library cannot break down is
 * written as its decimal number of seconds.  Never fails; uses TZ.
 */
void timefmt(int64_t t, char *buf, size_t len);

/*
 * A span of s seconds as a person reads it, in one unit, rounded down:
 * "45s" below 2 minutes, "17m" below 2 hours, "5h" below 2 days, else
 * "3d" (pkgretry: "next at ... (in 17m)", "timed out after 2h").
 */
void timefmt_span(int64_t s, char *buf, size_t len);

/*
 * An age of s seconds to the minute, in at most two units, rounded
 * down: "42s", "17m", "3h05m", "2d04h"; a negative age (a clock set
 * back) is "0s" (pkgstage list --incoming).
 */
void timefmt_age(int64_t s, char *buf, size_t len);

/*
 * For programs, not people (the --json output): t in UTC as RFC 3339,
 * "2026-11-22T03:34:27Z", whatever TZ says.  0, or -1 (buf "") for a
 * time with no such form (before year 0 or after 9999): JSON says null.
 */
int timefmt_utc(int64_t t, char *buf, size_t len);

#endif
