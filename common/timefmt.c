/*
 * timefmt.c — points in time shown to people (timefmt.h).
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "timefmt.h"

void
timefmt(int64_t t, char *buf, size_t len)
{
	char z[16];
	struct tm tm;
	time_t tt = (time_t)t;
	size_t n;

	if (len == 0)
		return;
	if ((int64_t)tt != t || localtime_r(&tt, &tm) == NULL ||
	    (n = strftime(buf, len, "%Y-%m-%dT%H:%M:%S", &tm)) == 0 ||
	    strftime(z, sizeof(z), "%z", &tm) != 5 ||
	    (z[0] != '+' && z[0] != '-')) {
		snprintf(buf, len, "%" PRId64, t);
		return;
	}
	/* strftime's "+hhmm" becomes RFC 3339's "+hh:mm", zero "Z". */
	if (strcmp(z + 1, "0000") == 0)
		snprintf(buf + n, len - n, "Z");
	else
		snprintf(buf + n, len - n, "%.3s:%.2s", z, z + 3);
}

void
timefmt_span(int64_t s, char *buf, size_t len)
{
	if (s < 120)
		snprintf(buf, len, "%" PRId64 "s", s);
	else if (s < 7200)
		snprintf(buf, len, "%" PRId64 "m", s / 60);
	else if (s < 2 * 86400)
		snprintf(buf, len, "%" PRId64 "h", s / 3600);
	else
		snprintf(buf, len, "%" PRId64 "d", s / 86400);
}

void
timefmt_age(int64_t s, char *buf, size_t len)
{
	if (s < 0)
		s = 0;
	if (s < 60)
		snprintf(buf, len, "%" PRId64 "s", s);
	else if (s < 3600)
		snprintf(buf, len, "%" PRId64 "m", s / 60);
	else if (s < 86400)
		snprintf(buf, len, "%" PRId64 "h%02" PRId64 "m", s / 3600,
		    s / 60 % 60);
	else
		snprintf(buf, len, "%" PRId64 "d%02" PRId64 "h", s / 86400,
		    s / 3600 % 24);
}

int
timefmt_utc(int64_t t, char *buf, size_t len)
{
	struct tm tm;
	time_t tt = (time_t)t;

	if (len == 0)
		return -1;
	buf[0] = '\0';
	if ((int64_t)tt != t || gmtime_r(&tt, &tm) == NULL ||
	    tm.tm_year < -1900 || tm.tm_year > 9999 - 1900 ||
	    strftime(buf, len, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0) {
		buf[0] = '\0';
		return -1;
	}
	return 0;
}
