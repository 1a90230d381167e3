/*
 * test_timefmt.c — the one time format (timefmt.h): ISO 8601, local time
 * with its offset, "Z" at a zero offset, one word.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "tap.h"
#include "timefmt.h"

static const char *
in_zone(const char *tz, int64_t t)
{
	static char buf[TIMEFMT_LEN];

	setenv("TZ", tz, 1);
	tzset();
	timefmt(t, buf, sizeof(buf));
	return buf;
}

static int
is(const char *got, const char *want)
{
	if (strcmp(got, want) != 0)
		tap_diag("got '%s', want '%s'", got, want);
	return strcmp(got, want) == 0;
}

int
main(void)
{
	char small[8];

	tap_ok(is(in_zone("UTC0", 1700000000), "2023-11-14T22:13:20Z"),
	    "a zero offset is written Z");
	tap_ok(is(in_zone("<+0530>-5:30", 1700000000),
		   "2023-11-15T03:43:20+05:30"),
	    "local time east of UTC carries its +hh:mm offset");
	tap_ok(
	    is(in_zone("<-0330>3:30", 1700000000), "2023-11-14T18:43:20-03:30"),
	    "local time west of UTC carries its -hh:mm offset");
	tap_ok(is(in_zone("UTC0", -1), "1969-12-31T23:59:59Z"),
	    "a time before the epoch is a date too");
	tap_ok(is(in_zone("UTC0", INT64_MAX), "9223372036854775807"),
	    "a time the C library cannot break down is its number of seconds");
	tap_ok(strchr(in_zone("<+0530>-5:30", 0), ' ') == NULL,
	    "the result is one word");
	memset(small, 'x', sizeof(small));
	timefmt(1700000000, small, sizeof(small));
	tap_ok(memchr(small, '\0', sizeof(small)) != NULL,
	    "a short buffer gets a terminated prefix, no overflow");
	setenv("TZ", "<+0530>-5:30", 1);
	tzset();
	{
		char u[TIMEFMT_LEN];

		tap_ok(timefmt_utc(1700000000, u, sizeof(u)) == 0 &&
			is(u, "2023-11-14T22:13:20Z"),
		    "timefmt_utc is UTC whatever TZ says");
		tap_ok(timefmt_utc(INT64_MAX, u, sizeof(u)) == -1 &&
			u[0] == '\0',
		    "timefmt_utc refuses a time beyond 9999");
	}
	{
		char a[32];

		timefmt_age(-5, a, sizeof(a));
		tap_ok(is(a, "0s"), "a negative age is 0s");
		timefmt_age(59, a, sizeof(a));
		tap_ok(is(a, "59s"), "below a minute: seconds");
		timefmt_age(17 * 60 + 59, a, sizeof(a));
		tap_ok(is(a, "17m"), "below an hour: minutes, rounded down");
		timefmt_age(3 * 3600 + 5 * 60 + 9, a, sizeof(a));
		tap_ok(is(a, "3h05m"), "below a day: hours and minutes");
		timefmt_age(2 * 86400 + 4 * 3600 + 59 * 60, a, sizeof(a));
		tap_ok(is(a, "2d04h"), "a day or more: days and hours");
	}
	return tap_done();
}
