/*
 * io.h — full-transfer loops and the fault-injectable system calls.
 *
 * io_read_full() and io_write_full() loop over short transfers and EINTR
 * (OpenSSH's atomicio), so a short read or write is never taken for
 * success.  Every operation that changes a file system or reads file
 * contents in the core goes through a function here: each calls
 * fault_hit() first (fault.h), which is how the tests inject ENOSPC, EIO
 * or a crash at the Nth operation.  All return 0 (or a count) on success
 * and -1 with err.h set on failure, naming the path given.
 */
#ifndef PKGDIST_IO_H
#define PKGDIST_IO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* Read up to n bytes; fewer only at end of file.  Returns the count or
 * -1.  what names the file in the error message. */
ssize_t io_read_full(int fd, void *buf, size_t n, const char *what);

/* Read exactly n bytes at off (pread); end of file first is -1 with
 * err "'what': shorter than expected". */
int io_pread_full(int fd, void *buf, size_t n, uint64_t off, const char *what);

/* Write all n bytes or fail. */
int io_write_full(int fd, const void *buf, size_t n, const char *what);

int io_fsync(int fd, const char *what);

/* fsync the directory dirfd (after a rename or create in it). */
int io_fsync_dir(int dirfd, const char *what);

int io_rename(int olddirfd, const char *oldname, int newdirfd,
    const char *newname);
int io_link(int olddirfd, const char *oldname, int newdirfd,
    const char *newname);
int io_symlink(const char *target, int dirfd, const char *name);
int io_mkdir(int dirfd, const char *name, mode_t mode);
/* Open path (relative, '/'-separated, from a manifest) under dirfd
 * following no link at all: every directory on the way with
 * O_NOFOLLOW | O_DIRECTORY, the last name with flags | O_NOFOLLOW |
 * O_CLOEXEC.  -1 with errno (no err set), as openat. */
int io_open_below(int dirfd, const char *path, int flags);

/* flags: 0 or AT_REMOVEDIR. */
int io_unlink(int dirfd, const char *name, int flags);

/* Read a whole regular file (at most max bytes, else an error) into a
 * NUL-terminated malloc'd buffer.  dirfd may be AT_FDCWD. */
int io_slurp(int dirfd, const char *path, size_t max, char **buf, size_t *len);

/* The names in the directory dirfd (not "." and "..") for which
 * match(name, arg) is true (match NULL: every name), in directory order:
 * a malloc'd vector of malloc'd strings (NULL when none), freed with
 * io_names_free().  The one way the core reads a directory's names,
 * but for the scanner (scan.c), which stats as it reads.  Whatever
 * removes entries (io_remove_tree(), the sweeps of leftovers in the
 * store and on DPs) lists first and removes after: no removal runs
 * while a directory stream is being read, whose result POSIX leaves
 * unspecified.  -1 with err when the directory cannot be read or memory
 * runs out. */
int io_list_names(int dirfd, bool (*match)(const char *name, void *arg),
    void *arg, char ***names, size_t *n);
/* Every name in dirfd as io_list_names() lists them, and in *types
 * (malloc'd, freed by the caller; NULL when none) each one's type as
 * readdir(3) reports it (<dirent.h>'s DT_REG, DT_DIR, DT_LNK, ...): no
 * stat(2) needed, but DT_UNKNOWN where the file system does not say.
 * inos (NULL: not wanted) the same for each one's inode number (d_ino):
 * on one local file system two names have the same number exactly when
 * they are links to one file; some (network mounts) may number what
 * they list unlike stat(2), so a use must stay right when numbers that
 * ought to be equal are not. */
int io_list_typed(int dirfd, char ***names, unsigned char **types,
    uint64_t **inos, size_t *n);
void io_names_free(char **names, size_t n);
/* Sort names in byte order (strcmp). */
void io_names_sort(char **names, size_t n);

/* Copy the first size bytes of the regular file in to out (a new,
 * empty file, at offset 0), by the kernel where it can (copy_file_range:
 * no copy through user space; shared extents where the file system has
 * them), else by reads and writes.  A source shorter than size is an
 * error.  Counts as one "write" for the fault hook; what names out. */
int io_copy_file(int in, int out, uint64_t size, const char *what);

/* Share len bytes at srcoff of the regular file src with out at
 * dstoff (FICLONERANGE: out's range then uses src's blocks,
 * copy-on-write; src is not written).  Offsets and len must be
 * multiples of the file system's block size.  Counts as one "write"
 * for the fault hook; -1 with err set and errno kept (a file system
 * that cannot: io_cannot_share()). */
int io_clone_range(int src, uint64_t srcoff, int out, uint64_t dstoff,
    uint64_t len, const char *what);
/* Is errnum a file system's way of saying it cannot clone or link
 * (EOPNOTSUPP, EXDEV, EINVAL, EPERM, EMLINK, ...)? */
bool io_cannot_share(int errnum);

/* Remove the tree name under dirfd without following links (rm -rf);
 * a missing name is success. */
int io_remove_tree(int dirfd, const char *name);

/* Raise the soft limit of open descriptors to the hard limit.  Walks of
 * a tree (scan, a DP's tree, removal) hold one descriptor per directory
 * level, and a manifest path may be some 2,000 levels deep: more than
 * the usual soft limit of 1,024 an unprivileged account gets.  Tools
 * that walk trees call it once at start. */
void io_raise_fd_limit(void);

#endif
