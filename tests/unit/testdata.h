/*
 * testdata.h — what the store's unit tests make their files of: bytes
 * from a fixed-seed generator (the same every run, and as incompressible
 * as random ones, so the store keeps them whole), written to a path.
 */
#ifndef PKGDIST_TESTDATA_H
#define PKGDIST_TESTDATA_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* The next byte of the sequence seeded by *state (xorshift64). */
__attribute__((unused)) static unsigned char
td_byte(uint64_t *state)
{
	*state ^= *state << 13;
	*state ^= *state >> 7;
	*state ^= *state << 17;
	return (unsigned char)(*state >> 32);
}

/* Write n bytes of p to path (created or truncated): 0 or -1. */
__attribute__((unused)) static int
td_write_file(const char *path, const unsigned char *p, size_t n)
{
	FILE *f = fopen(path, "w");
	int ok;

	if (f == NULL)
		return -1;
	ok = fwrite(p, 1, n, f) == n;
	return fclose(f) == 0 && ok ? 0 : -1;
}

#endif
