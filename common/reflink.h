/*
 * reflink.h — a changed large content written to a local DP sharing the
 * unchanged blocks with the DP's old copy of the file, where the file
 * system can (XFS with reflink=1, btrfs: FICLONERANGE).
 *
 * A content of the store above CHUNK_THRESHOLD bytes whose path held an
 * older large content on the DP is planned against it as a remote DP's
 * recipe is (recipe_make_plan(): the ranges the two have in common, by
 * their chunks).  Each copy range whose offsets in the old and the new
 * file are equal modulo the file system's block size is cloned from the
 * old copy, its whole blocks only; every other byte (insertions, the
 * ragged ends of copies, copies shifted by an insertion of a size that
 * is not a multiple of the block) is written from the store, which is
 * read once from start to end (its own SHA-256 checked as ever).  The
 * new file is then read back and its whole SHA-256 and size checked
 * before it is used: an old copy that drifted from the DP's manifest
 * (edited on the share) cannot slip through.
 *
 * The old copy is only read (clients are reading it): a clone gives the
 * new file its blocks, copy-on-write, and the old file's bytes never
 * change.  Where sharing is refused (ext4, tmpfs, NFS, another file
 * system: EOPNOTSUPP, EXDEV, EINVAL), the old copy drifted, the store
 * cannot give its chunk lists, or the two have too little in common (a
 * compressed file), the content is written whole as store_content_copy()
 * writes it, silently: that path names any store damage.
 *
 * Safe from several threads at once (the store is read only).
 */
#ifndef PKGDIST_REFLINK_H
#define PKGDIST_REFLINK_H

#include <stdbool.h>
#include <stdint.h>

#include "digest.h"
#include "manifest.h"

struct store;

/*
 * Write content d (size bytes) of s into fd (a new, empty regular file
 * at offset 0, open for reading and writing; what names it), sharing
 * what it can with oldfd, the DP's copy of the older content old (the
 * DP manifest's entry at the same path; open for reading, never
 * written, not trusted).  *written gets the bytes really written (size
 * when nothing was shared).  0: fd holds the content, checked; -1 with
 * err set as store_content_copy() sets it (*store_fault too), fd then
 * partial.
 */
int reflink_copy(struct store *s, const unsigned char d[DIGEST_LEN],
    uint64_t size, int oldfd, const struct entry *old, int fd, const char *what,
    uint64_t *written, bool *store_fault);

#endif
