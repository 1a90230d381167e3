/*
 * lock.h — the one lock helper: flock(2) on a lock file.
 *
 * A lock is a file under a directory (created if missing, never removed,
 * so the inode stays the one everybody locks).  lock_acquire() waits up to
 * timeout seconds (negative: forever, 0: one try).  The lock goes with the
 * descriptor: lock_release() or process death (a crash) frees it, so a
 * killed process never leaves a stale lock.
 */
#ifndef PKGDIST_LOCK_H
#define PKGDIST_LOCK_H

#include <stdbool.h>

/* Take an exclusive (or, with shared, a shared) lock on name under dirfd.
 * Returns the lock descriptor, or -1: err says "'PATH' is locked by
 * another process (waited N s)" on timeout, with err_errno() EWOULDBLOCK;
 * messages name the lock by its full path ("cannot open lock
 * '/var/lib/pkgdist/packages/office97/lock': Permission denied"). */
int lock_acquire(int dirfd, const char *name, bool shared, double timeout);

void lock_release(int fd);

#endif
