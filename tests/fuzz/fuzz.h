/*
 * fuzz.h — what every libFuzzer harness in tests/fuzz/ shares.
 *
 * A harness is tests/fuzz/NAME.c defining LLVMFuzzerTestOneInput() over
 * one parser of the core.  Besides "does not crash" it checks the
 * parser's promises (what it accepts it writes back the same way, what
 * it refuses it refuses with a message) and calls fuzz_fail() when one
 * breaks, which aborts so libFuzzer saves the input.
 *
 * A comment line "fuzz-needs: FILE..." names the core files the harness
 * links against; tests/fuzz/run skips a harness until they exist.
 *
 * The same harness is compiled into a unit test (tests/unit/fuzz_NAME.c,
 * with fuzz_replay.h), which replays the committed corpus under make
 * check and make asan: a crash once found stays a regression test.
 */
#ifndef PKGDIST_FUZZ_H
#define PKGDIST_FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "err.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* A small valid manifest of package "pkg" version 1, for the harnesses
 * of deltas and changes against a base: a directory with a file, a
 * file, nested directories and a link. */
#define FUZZ_H1 \
	"1111111111111111111111111111111111111111111111111111111111111111"
#define FUZZ_BASE_MANIFEST \
	"pkgdist-manifest 1\n" \
	"package pkg\n" \
	"version 1\n" \
	"d 0755 0 10 - a\n" \
	"f 0444 3 10 " FUZZ_H1 " a/f\n" \
	"f 0444 3 10 " FUZZ_H1 " b\n" \
	"d 0755 0 10 - c\n" \
	"d 0755 0 10 - c/d\n" \
	"l 0777 1 10 - l -> b\n"

__attribute__((noreturn, unused)) static void
fuzz_fail(const char *what)
{
	fprintf(stderr, "fuzz: broken promise: %s (err: %s)\n", what,
	    err_get());
	abort();
}

/* A refusal must say why. */
__attribute__((unused)) static void
fuzz_check_err(void)
{
	if (err_get()[0] == '\0')
		fuzz_fail("refused without a message");
}

#endif
