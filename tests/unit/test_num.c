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
		v == UINT64_MAX,
	    "2^64-1 is the largest");
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
		i("-9223372036854775809", &w) == -1,
	    "int64 overflow is refused");
	tap_ok(i("-0", &w) == -1 && i("-", &w) == -1,
	    "'-0' and a lone '-' are refused");
	tap_ok(num_arg("0", 1, 10, &v) == -1 && num_arg("10", 1, 10, &v) == 0,
	    "num_arg enforces its minimum and maximum");
	{
		double d = 0;

#define DEC(s, max) num_decimal(s, strlen(s), max, &d)
		tap_ok(DEC("20", 100) == 0 && d == 20 && DEC("0.5", 100) == 0 &&
			d == 0.5 && DEC("1.25", 100) == 0 && d == 1.25,
		    "decimals: N and N.F");
		tap_ok(DEC("0.000000001", 1) == 0 && d > 0 && d < 1e-8,
		    "a fraction of nine digits");
		tap_ok(DEC("0.0000000001", 1) == -1, "ten digits are refused");
		tap_ok(DEC("1.", 100) == -1 && DEC(".5", 100) == -1 &&
			DEC("", 100) == -1,
		    "a dot needs digits on both sides");
		tap_ok(DEC("05", 100) == -1 && DEC("1e3", 1e9) == -1 &&
			DEC("+1", 100) == -1 && DEC("-1", 100) == -1 &&
			DEC(" 1", 100) == -1 && DEC("inf", 1e9) == -1 &&
			DEC("nan", 1e9) == -1 && DEC("0x10", 100) == -1 &&
			DEC("1.2.3", 100) == -1 && DEC("1.-2", 100) == -1,
		    "one spelling: no leading zero, exponent, sign, blank, "
		    "word or hex");
		tap_ok(DEC("100.5", 100) == -1 && DEC("100", 100) == 0 &&
			DEC("99999999999999999999", 1e30) == -1,
		    "the bound, and no overflow");
#undef DEC
	}
	return tap_done();
}
