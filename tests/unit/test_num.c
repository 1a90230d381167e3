/*
 * test_num.c — strict decimal numbers: one spelling each, no overflow.
 */
#include <stdint.h>
#include <string.h>

#include "num.h"
#include "tap.h"

static int
u(const char *s, uint64_t max, uint64_t *v)
{
	return num_u64(s, strlen(s), max, v);
}

static int
i(const char *s, int64_t *v)
{
	return num_i64(s, strlen(s), v);
}

int
main(void)
{
	uint64_t v = 0;
	int64_t w = 0;

	tap_ok(u("0", UINT64_MAX, &v) == 0 && v == 0, "0 is a number");
	tap_ok(u("18446744073709551615", UINT64_MAX, &v) == 0 &&
	    v == UINT64_MAX, "2^64-1 is the largest");
	tap_ok(u("18446744073709551616", UINT64_MAX, &v) == -1,
	    "2^64 overflows and is refused");
	tap_ok(u("99999999999999999999999", UINT64_MAX, &v) == -1,
	    "a long string of digits is refused, not wrapped");
	tap_ok(u("007", UINT64_MAX, &v) == -1, "a leading zero is refused");
	tap_ok(u("", UINT64_MAX, &v) == -1, "an empty string is refused");
	tap_ok(u("+1", UINT64_MAX, &v) == -1 && u("-1", UINT64_MAX, &v) == -1,
	    "a sign is refused");
	tap_ok(u(" 1", UINT64_MAX, &v) == -1 && u("1 ", UINT64_MAX, &v) == -1,
	    "blanks are refused");
	tap_ok(u("1x", UINT64_MAX, &v) == -1, "trailing garbage is refused");
	tap_ok(u("256", 256, &v) == 0 && u("257", 256, &v) == -1,
	    "the bound is inclusive");
	tap_ok(num_u64("123", 2, UINT64_MAX, &v) == 0 && v == 12,
	    "exactly len bytes are read");
	tap_ok(i("-1700000000", &w) == 0 && w == -1700000000,
	    "a negative time parses");
	tap_ok(i("-9223372036854775808", &w) == 0 && w == INT64_MIN,
	    "INT64_MIN parses");
	tap_ok(i("9223372036854775808", &w) == -1 &&
	    i("-9223372036854775809", &w) == -1, "int64 overflow is refused");
	tap_ok(i("-0", &w) == -1 && i("-", &w) == -1,
	    "'-0' and a lone '-' are refused");
	tap_ok(num_arg("0", 1, 10, &v) == -1 && num_arg("10", 1, 10, &v) == 0,
	    "num_arg enforces its minimum and maximum");
	return tap_done();
}
