/*
 * stage.h — staging a source tree as a new version of a package
 * (pkgstage add).
 *
 * stage_add() describes the tree (a metadata-only scan, or the manifest
 * the caller gives, e.g. from "pkgdiff scan --reuse"), takes the
 * package's lock (store.h: two adds of one package run one after the
 * other and get consecutive versions), then copies every file's bytes
 * into the store with several threads, hashing them as they are copied
 * and compressing where that pays.  A file whose bytes do not match the
 * scan or the manifest (it changed while being staged) aborts the whole
 * add: nothing is committed.  With a manifest, a file whose digest the
 * store already holds is not read at all (that is what makes the second
 * add of a mostly unchanged tree cheap).
 */
#ifndef PKGDIST_STAGE_H
#define PKGDIST_STAGE_H

#include <stdint.h>

struct progress;
struct store;

struct stage_opts {
	uint64_t version;     /* 0: newest + 1; else above every existing */
	const char *manifest; /* describes the tree; NULL: scan it */
	double wait;	      /* package lock timeout (seconds) */
	int jobs;	      /* copy threads; 0: one per CPU */
	const char *sign_key; /* secret key file (sign.h); NULL: unsigned */
	struct progress *progress; /* may be NULL */
};

void stage_opts_init(struct stage_opts *o);

/* Stage srcdir as a new version of pkg; *version gets its number.
 * -1 with err set on failure, and then the store is as it was. */
int stage_add(struct store *s, const char *pkg, const char *srcdir,
    const struct stage_opts *o, uint64_t *version);

#endif
