/*
 * scan.h — walk a directory tree into a manifest, hashing in parallel.
 *
 * scan_tree() is how every tool learns what a tree holds: pkgdiff scan
 * and verify, pkgstage add (metadata only; it hashes while it copies),
 * pkgpush --verify.  The walk works relative to directory descriptors
 * (openat, fstatat with AT_SYMLINK_NOFOLLOW, O_NOFOLLOW|O_DIRECTORY) and
 * never follows a symbolic link: a link is recorded as an `l` entry with
 * its target (readlinkat).  Nothing is skipped silently: a directory that
 * cannot be read, a file that cannot be hashed, or a file of a type the
 * manifest cannot describe (fifo, socket, device) fails the whole scan
 * with an error naming the path.
 *
 * What an entry holds: mode = st_mode & 07777, mtime = st_mtim.tv_sec,
 * size = st_size for files, 0 for directories, strlen(target) for links;
 * digest = SHA-256 of a file's bytes.  The root directory itself has no
 * entry; paths are relative to it.  The result is sorted (manifest_sort),
 * so the same tree always gives the same manifest whatever the number of
 * threads.
 *
 * Hashing: o->jobs threads start with the walk and hash files as they
 * are found (each thread with its own digest context and a 1 MiB read
 * buffer); when the walk ends, the files not yet taken go biggest
 * first.  A file whose size or mtime changes while it is read fails the
 * scan ("changed while being read"): a manifest never pairs a size with
 * other bytes' digest.  The walk itself visits names in manifest order,
 * so the --reuse manifest is followed with a cursor, not searched.
 *
 * All functions return 0 on success, -1 with err.h set on failure (then
 * the output manifest is left empty).  They are safe to call from any
 * thread; they start and join their own threads.
 */
#ifndef PKGDIST_SCAN_H
#define PKGDIST_SCAN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "digest.h"
#include "manifest.h"

struct progress;

/* What the walk's fstatat said of a regular file, for scan_opts.known. */
struct scan_stat {
	uint64_t ino;
	uint64_t size;
	int64_t mtime;	  /* st_mtim.tv_sec, as a manifest has it */
	int64_t mtime_ns; /* st_mtim, nanoseconds since the epoch */
	int64_t ctime_ns; /* st_ctim, likewise */
	unsigned mode;	  /* permission bits (st_mode & 07777) */
};

struct scan_opts {
	/* Hash threads (at most 64, workq.h); 0 or less means one per
	 * online CPU. */
	int jobs;
	/* The quick check: when a regular file's path, size and mtime equal
	 * those of an `f` entry of reuse, its digest is taken from there and
	 * the file is not opened.  NULL: hash everything. */
	const struct manifest *reuse;
	/* Items (entries) and bytes (hashed) are added as work is done;
	 * may be NULL.  Totals are not known in advance. */
	struct progress *progress;
	/* Metadata only: no file is opened, every file digest is left
	 * zero (for callers that hash while they copy, e.g. pkgstage). */
	bool no_hash;
	/* When set, called for each path (relative, unescaped) before it is
	 * recorded; returning true leaves it (and for a directory, all under
	 * it) out of the manifest.  NULL: keep everything. */
	bool (*skip)(const char *path, void *arg);
	void *skip_arg;
	/* The stat check (statcache.h): when set, called for each regular
	 * file the walk finds, in manifest order, with what fstatat said;
	 * returning true with digest filled takes that digest and the file
	 * is not opened; false (also when it cannot tell) has it hashed.
	 * Asked when reuse gave no digest; NULL: ask nothing. */
	bool (*known)(const char *path, const struct scan_stat *st,
	    unsigned char digest[DIGEST_LEN], void *arg);
	void *known_arg;
};

/* Fill o with defaults (all cores, no reuse, no progress, hashing). */
void scan_opts_init(struct scan_opts *o);

/*
 * Scan the directory open as dirfd (not closed; its own descriptor is
 * not moved) into out, which must be initialised (manifest_init) and is
 * filled with entries only (no header; callers set it with
 * manifest_set_header).  root names the tree in error messages
 * ("'ROOT/sub/dir': Permission denied").
 */
int scan_tree(int dirfd, const char *root, const struct scan_opts *o,
    struct manifest *out);

/* The same for a path (the root itself may be a symbolic link to a
 * directory, as the user named it; nothing below it is followed). */
int scan_path(const char *dir, const struct scan_opts *o, struct manifest *out);

/*
 * Hash one regular file, path relative to dirfd (unescaped, as in a
 * manifest entry), opened with O_NOFOLLOW: a link, a directory or a
 * special file there is an error.  *size gets the bytes hashed (may be
 * NULL).  what names the file in messages (NULL: path).
 */
int scan_hash_file(int dirfd, const char *path, unsigned char out[DIGEST_LEN],
    uint64_t *size, const char *what);

/*
 * Re-hash, in parallel (o->jobs threads; o->reuse, o->no_hash and
 * o->skip are ignored), the `f` entries among v[0..n) relative to
 * dirfd, storing each file's actual digest in v[i].digest and the bytes
 * read in v[i].size.  Other entries are left alone.  Any file that
 * cannot be opened or read (missing, replaced by a link or a directory)
 * fails the call with an error naming it; a caller that wants drift
 * (missing files included) as data scans the tree and compares
 * manifests with changes.h instead.
 */
int scan_rehash(int dirfd, struct entry *v, size_t n,
    const struct scan_opts *o);

/* Number of online CPUs (at least 1): the default for jobs. */
int scan_ncpu(void);

#endif
