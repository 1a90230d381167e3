/*
 * num.h — decimal numbers from outside: manifests, package files, the
 * wire, retry jobs, the store's records, the DP state, the settings file,
 * the environment and the command line all read them here.  Two fixed
 * forms are read where they are defined: a manifest entry's octal mode
 * (manifest.c) and a clock's "HH:MM" (config.c), whose leading zeros
 * are part of the form.
 *
 * One spelling per number: ASCII digits only, no sign (but the leading
 * '-' num_i64 allows), no leading zero except "0" itself, no blank, and
 * no value above the caller's bound, checked without overflow.  The
 * functions set no error message (they return -1 only): the caller knows
 * what the number was and says so.
 */
#ifndef PKGDIST_NUM_H
#define PKGDIST_NUM_H

#include <stddef.h>
#include <stdint.h>

/* Parse exactly len bytes of s as a number from 0 to max. */
int num_u64(const char *s, size_t len, uint64_t max, uint64_t *out);

/* Parse exactly len bytes as an optionally negative int64_t ("-0" is not
 * a spelling of zero). */
int num_i64(const char *s, size_t len, int64_t *out);

/* A whole NUL-terminated argument from min to max (option values). */
int num_arg(const char *s, uint64_t min, uint64_t max, uint64_t *out);

/* Parse exactly len bytes as a number with an optional fraction, "N" or
 * "N.F" (N as num_u64 reads it; F one to nine digits, any of them zero),
 * from 0 to max: durations in seconds ("0.5"). */
int num_decimal(const char *s, size_t len, double max, double *out);

#endif
