/*
 * tap.h — the smallest TAP producer, for the C unit tests.
 *
 * Each test program calls tap_ok() once per check, then returns
 * tap_done(), which prints the plan ("1..N") last, as TAP allows, and
 * exits non-zero when a check failed.  tests/run counts the lines.
 */
#ifndef PKGDIST_TAP_H
#define PKGDIST_TAP_H

#include <stdarg.h>
#include <stdio.h>

static int tap_count, tap_failed;

__attribute__((format(printf, 2, 3), unused)) static int
tap_ok(int cond, const char *fmt, ...)
{
	va_list ap;

	tap_count++;
	printf("%sok %d - ", cond ? "" : "not ", tap_count);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	putchar('\n');
	if (!cond)
		tap_failed++;
	return cond;
}

/* Print a diagnostic line ("# ..."), e.g. the error a check got. */
__attribute__((format(printf, 1, 2), unused)) static void
tap_diag(const char *fmt, ...)
{
	va_list ap;

	fputs("# ", stdout);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	putchar('\n');
}

__attribute__((unused)) static int
tap_done(void)
{
	printf("1..%d\n", tap_count);
	return tap_failed != 0;
}

#endif
