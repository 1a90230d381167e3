/*
 * test_status.c — the summary of --status rows (status.h): each DP
 * counted once, by its worst row; a package it does not hold counts only
 * when nothing else is known of the DP.
 */
#include <stdio.h>
#include <string.h>

#include "status.h"
#include "tap.h"

static struct status_row
row(const char *dp, enum status_state st, uint64_t version, uint64_t newest)
{
	struct status_row r;

	memset(&r, 0, sizeof(r));
	snprintf(r.target, sizeof(r.target), "%s", dp);
	snprintf(r.package, sizeof(r.package), "pkg");
	r.state = st;
	r.version = version;
	r.newest = newest;
	return r;
}

int
main(void)
{
	struct status_row v[9];
	size_t count[STATUS_KIND_N], n = 0;

	v[n++] = row("dp1", STATUS_COMPLETE, 2, 2);
	v[n++] = row("dp1", STATUS_COMPLETE, 1, 2); /* dp1: behind */
	v[n++] = row("dp2", STATUS_NONE, 0, 2);
	v[n++] = row("dp2", STATUS_COMPLETE, 2, 2);    /* dp2: newest */
	v[n++] = row("dp3", STATUS_NONE, 0, 2);	       /* dp3: none */
	v[n++] = row("dp4", STATUS_DAMAGED, 0, 2);     /* dp4: failed */
	v[n++] = row("dp4", STATUS_UNREACHABLE, 0, 2); /* dp4: unreachable */
	v[n++] = row("dp5", STATUS_PARTIAL, 1, 2);     /* dp5: partial */
	tap_ok(status_count(v, n, false, count) == 5, "five DPs");
	tap_ok(count[STATUS_KIND_NEWEST] == 1 &&
		count[STATUS_KIND_BEHIND] == 1 &&
		count[STATUS_KIND_NONE] == 1 &&
		count[STATUS_KIND_FAILED] == 0 &&
		count[STATUS_KIND_UNREACHABLE] == 1 &&
		count[STATUS_KIND_PARTIAL] == 1,
	    "each counted by its worst row");
	tap_ok(status_count(v, 0, false, count) == 0 &&
		count[STATUS_KIND_NEWEST] == 0,
	    "no rows, no DP");
	v[n] = row("kid", STATUS_COMPLETE, 2, 2);
	v[n++].site = true;
	tap_ok(status_count(v, n, false, count) == 5,
	    "a child site's row is not a DP");
	tap_ok(status_count(v, n, true, count) == 1 &&
		count[STATUS_KIND_NEWEST] == 1,
	    "the sites counted on their own");
	tap_ok(strcmp(status_kind_name(STATUS_KIND_NEWEST),
		   "complete at newest") == 0 &&
		strcmp(status_kind_name(STATUS_KIND_NONE), "without it") == 0,
	    "the kinds' names");
	return tap_done();
}
