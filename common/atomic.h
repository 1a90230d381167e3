/*
 * atomic.h — the one way pkgdist writes a file.
 *
 * As git's lockfile: the data goes to a temporary name in the target's own
 * directory ("NAME.tmp-PID-N"), is written in full and fsynced, renamed
 * over NAME, and the directory is fsynced.  Readers see the old file or
 * the new one, never a part.  Until commit or abort the temporary name is
 * registered so that SIGINT, SIGTERM or SIGHUP removes it (the handler of
 * atomic_install_cleanup()).  Nothing removes it at exit() or after a
 * crash: a temporary left that way keeps its recognisable name
 * (ATOMIC_TMP_MARK) and is removed by the next run or "pkgstage gc".
 *
 *   struct atomic_file af;
 *   if (atomic_open(&af, dirfd, "manifest", 0444) == -1) goto out;
 *   ... atomic_write(&af, buf, n) or fprintf(atomic_stream(&af), ...) ...
 *   if (atomic_commit(&af) == -1) goto out;    (closes; aborts on failure)
 *   out: atomic_abort(&af);                    (no-op after commit)
 */
#ifndef PKGDIST_ATOMIC_H
#define PKGDIST_ATOMIC_H

#include <stddef.h>
#include <stdio.h>
#include <sys/types.h>

struct atomic_file {
	int dirfd; /* not owned */
	int fd;	   /* -1 once closed */
	FILE *fp;  /* from atomic_stream(), or NULL */
	int slot;  /* cleanup registry slot, -1 if none */
	mode_t mode;
	int keep_mode; /* ATOMIC_MODE_USER: mode is the file's own */
	int through;   /* ATOMIC_MODE_USER: writing through a device,
			* fifo or socket, no temporary, no rename */
	char name[256];
	char tmpname[300];
};

/* Every temporary name is "." + NAME (cut to fit) + ATOMIC_TMP_MARK +
 * "PID-N", hidden from a plain ls, so "gc" and the next run can recognise
 * and remove leftovers of a crash. */
#define ATOMIC_TMP_MARK ".tmp-"

/*
 * Open a temporary for name under dirfd; at commit it gets mode.
 *
 * mode ATOMIC_MODE_USER is for a file a user names (-o FILE), written as
 * a shell's "> FILE" would leave it, but atomically: an existing regular
 * FILE (a symbolic link is followed to see what it is) keeps its
 * permission bits (and, for root, its owner); a new one gets
 * 0666 & ~umask; an existing device node, fifo or socket is written
 * through and never replaced (-o /dev/null stays the device); a
 * directory is refused (EISDIR).
 */
#define ATOMIC_MODE_USER ((mode_t)-1)
int atomic_open(struct atomic_file *af, int dirfd, const char *name,
    mode_t mode);
int atomic_write(struct atomic_file *af, const void *buf, size_t n);
/* A stdio stream on the file, for formatted writers; flushed at commit. */
FILE *atomic_stream(struct atomic_file *af);
/* The descriptor, for callers that copy with their own loop. */
int atomic_fd(const struct atomic_file *af);
/* Flush, fsync, fchmod to mode, rename over name, fsync the directory. */
int atomic_commit(struct atomic_file *af);
/* Remove the temporary file if it is still there.  Safe to call twice. */
void atomic_abort(struct atomic_file *af);

/* Write buf as name under dirfd in one call. */
int atomic_write_file(int dirfd, const char *name, const void *buf, size_t len,
    mode_t mode);

/*
 * Open the directory of path, a file a user names (-o FILE, as typed),
 * for an atomic write of its last component, copied into base (len
 * bytes).  Returns the directory's descriptor, or -1 with err set (no
 * name after the last '/', a name that does not fit, a directory that
 * cannot be opened).
 */
int atomic_open_parent(const char *path, char *base, size_t len);

/* Install the SIGINT/SIGTERM/SIGHUP handler that removes the registered
 * temporary files, then dies of the same signal.  Tools call it once at
 * start.  Only files are removed there (unlink is async-signal-safe, a
 * tree walk is not): trees being built carry a recognisable temporary
 * name and are removed by the next run. */
void atomic_install_cleanup(void);

/* Register another temporary file for removal on a signal (a file that
 * is written by hand, e.g. with copy_file_range); returns a slot, or -1
 * when the registry is full (the file then just is not removed on a
 * signal).  atomic_untrack(slot) forgets it; -1 is accepted. */
int atomic_track(int dirfd, const char *name);
void atomic_untrack(int slot);

/* Make a unique temporary name for name in out (size outlen): the same
 * scheme as atomic_open(), for callers that build something by hand. */
int atomic_tmpname(const char *name, char *out, size_t outlen);

#endif
