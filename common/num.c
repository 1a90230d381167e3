/*
 * num.c — strict decimal numbers (see num.h).
 */
#include <stdint.h>
#include <string.h>

#include "num.h"

int
num_u64(const char *s, size_t len, uint64_t max, uint64_t *out)
{
	uint64_t v = 0, d;
	size_t i;

	if (len == 0 || (len > 1 && s[0] == '0'))
		return -1;
	for (i = 0; i < len; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		d = (uint64_t)(s[i] - '0');
		if (v > (max - d) / 10)
			return -1;
		v = v * 10 + d;
	}
	*out = v;
	return 0;
}

int
num_i64(const char *s, size_t len, int64_t *out)
{
	uint64_t v;

	if (len > 0 && s[0] == '-') {
		if (num_u64(s + 1, len - 1, (uint64_t)INT64_MAX + 1, &v) ==
			-1 ||
		    v == 0)
			return -1;
		/* Two's complement: -(2^63) has no positive counterpart. */
		*out = v == (uint64_t)INT64_MAX + 1 ? INT64_MIN : -(int64_t)v;
		return 0;
	}
	if (num_u64(s, len, INT64_MAX, &v) == -1)
		return -1;
	*out = (int64_t)v;
	return 0;
}

int
num_arg(const char *s, uint64_t min, uint64_t max, uint64_t *out)
{
	uint64_t v;

	if (num_u64(s, strlen(s), max, &v) == -1 || v < min)
		return -1;
	*out = v;
	return 0;
}

int
num_decimal(const char *s, size_t len, double max, double *out)
{
	const char *dot = memchr(s, '.', len);
	size_t ilen = dot != NULL ? (size_t)(dot - s) : len, flen, i;
	uint64_t whole, frac = 0;
	double v, scale = 1;

	if (num_u64(s, ilen, UINT64_MAX, &whole) == -1)
		return -1;
	if (dot != NULL) {
		flen = len - ilen - 1;
		if (flen == 0 || flen > 9)
			return -1;
		for (i = 0; i < flen; i++) {
			if (dot[1 + i] < '0' || dot[1 + i] > '9')
				return -1;
			frac = frac * 10 + (uint64_t)(dot[1 + i] - '0');
			scale *= 10;
		}
	}
	v = (double)whole + (double)frac / scale;
	if (!(v <= max))
		return -1;
	*out = v;
	return 0;
}
