/*
 * fault.h — the test-only fault-injection hook.
 *
 * Compiled in only when PKGDIST_TESTING is defined (make check and make
 * asan build that way; make all and make install do not).  Then the
 * environment variable PKGDIST_FAULT="OP:N:ACTION" makes the Nth
 * operation of kind OP fail:
 *
 *   OP      read, write, fsync, rename, link, symlink, mkdir, unlink, or
 *           any (counts every kind)
 *   N       1-based count of matching operations in this process
 *   ACTION  crash (SIGKILL, as a power cut would), hang (never return,
 *           deaf to every signal but SIGKILL, as a call stuck on a dead
 *           NFS server), or an errno name: ENOSPC, EIO, EACCES, EROFS,
 *           EDQUOT
 *
 * PKGDIST_FAULT_COUNT=FILE makes the process write the number of
 * operations of each kind it performed to FILE at exit ("OP COUNT" lines),
 * so a torture test knows how many crash points exist.
 * PKGDIST_FAULT_SLOW=OP:MS makes every operation of kind OP (or any)
 * take MS milliseconds longer, as on a slow disk or link, so a test can
 * watch work in progress (the progress line).
 * PKGDIST_NOW=SECONDS replaces time(NULL) through fault_now(), so tests
 * can move the clock (retry backoff).
 * PKGDIST_FAULT_SESSION=N makes pkgpush --serve drop a session for
 * several DPs (proto.h) once it has served N of them, as a connection
 * cut between two DPs would: fault_session_cut().
 */
#ifndef PKGDIST_FAULT_H
#define PKGDIST_FAULT_H

#include <stdbool.h>
#include <time.h>

#ifdef PKGDIST_TESTING
/* 0 to go on; -1 with errno set to make the caller fail; may not return. */
int fault_hit(const char *op);
time_t fault_now(void);
bool fault_session_cut(unsigned served);
#else
#define fault_hit(op) ((void)(op), 0)
#define fault_now() time(NULL)
#define fault_session_cut(served) ((void)(served), false)
#endif

#endif
