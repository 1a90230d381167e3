/*
 * statcache.h — the stat check: what a drift check saw of each file last
 * time, so the next check re-reads only what stat shows changed.
 *
 * pkgdist-cron checks every DP at every run (pkgdist-cron(1)); reading
 * every byte each time costs a DP's whole size.  A stat cache is one file
 * per tree checked (pkgdist-cron keeps it under STORE/cron/stat/DP/PKG),
 * written by `pkgdiff verify --cache FILE`:
 *
 *   pkgdist-statcache 1
 *   INO CTIME MTIME SIZE DIGEST PATH
 *
 * one line per regular file, sorted by path (unescaped, byte order), with
 * the inode, ctime and mtime (nanoseconds since the epoch) and size the
 * check's fstatat saw, the SHA-256 it found, and the path escaped as in a
 * manifest.  The check takes a file's digest from the cache, without
 * opening the file, only when its stat agrees with the manifest (type,
 * size, mtime, mode) and with the cache's line (inode, ctime, size,
 * mtime); anything else, or every file when deep, is read and hashed.
 * A write to a file always moves its ctime, and nothing can set ctime
 * back, so a file whose inode and ctime are those of the last check
 * holds the bytes hashed then.  As git's index does with racy entries, a
 * file changed (ctime) later than STATCACHE_RACY_NS before the check
 * began is not recorded: a write in the same clock tick as the change
 * the check saw would leave its ctime unchanged.
 *
 * The cache is an optimisation and holds nothing else: a missing cache
 * is an empty one, and a damaged one is refused by statcache_load (the
 * caller says so and checks with an empty one, which it then rewrites).
 *
 *   struct statcache c;
 *   statcache_init(&c, &want, deep);
 *   if (statcache_load(&c, dirfd, name, shown) == -1) warn, go on empty
 *   scan_opts_init(&so); so.known = statcache_known; so.known_arg = &c;
 *   scan_path(dir, &so, &have);   ... compare want and have ...
 *   statcache_save(&c, &have, dirfd, name);
 *   statcache_free(&c);
 */
#ifndef PKGDIST_STATCACHE_H
#define PKGDIST_STATCACHE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "digest.h"
#include "manifest.h"
#include "scan.h"

#define STATCACHE_MAGIC "pkgdist-statcache 1"
#define STATCACHE_RACY_NS ((int64_t)1000000000)

struct statcache_rec {
	char *path; /* unescaped */
	uint64_t ino, size;
	int64_t ctime_ns, mtime_ns;
	unsigned char digest[DIGEST_LEN];
};

struct statcache {
	const struct manifest *want; /* borrowed: what the tree should hold */
	bool deep;		     /* trust nothing: read every file */
	int64_t start_ns;	     /* when the check began (racy rule) */
	struct statcache_rec *v;     /* the last check's lines, sorted */
	size_t n, cap;
	struct statcache_rec *seen; /* this check's, in walk order */
	size_t nseen, capseen;
	size_t hits; /* digests taken from the cache */
};

/* Start a check of a tree against want (borrowed until statcache_free);
 * the clock of the racy rule starts now. */
void statcache_init(struct statcache *c, const struct manifest *want,
    bool deep);
void statcache_free(struct statcache *c);

/*
 * Read the cache name under dirfd (AT_FDCWD: a path).  A missing file is
 * an empty cache (0).  Any broken rule: -1 with err "SHOWN:LINE: why"
 * (shown names the file in messages) and the cache left empty, so the
 * check can go on reading every file.
 */
int statcache_load(struct statcache *c, int dirfd, const char *name,
    const char *shown);

/* The scan_opts.known hook (arg: the struct statcache).  Records what
 * the walk saw; answers from the last check's line when the rule above
 * allows.  Out of memory only makes it answer false. */
bool statcache_known(const char *path, const struct scan_stat *st,
    unsigned char digest[DIGEST_LEN], void *arg);

/* Write, atomically as name under dirfd, what this check saw of each
 * file (sorted first), with the digests have (the scan's result) gives
 * them. */
int statcache_save(struct statcache *c, const struct manifest *have, int dirfd,
    const char *name);

#endif
