/*
 * io.c — full-transfer loops and the fault-injectable system calls
 * (see io.h).
 *
 * _GNU_SOURCE: copy_file_range(2).
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>
#include <linux/fs.h>

#include "err.h"
#include "fault.h"
#include "io.h"

ssize_t
io_read_full(int fd, void *buf, size_t n, const char *what)
{
	char *p = buf;
	size_t done = 0;
	ssize_t r;

	if (fault_hit("read") == -1)
		return err_sys("cannot read '%s'", what);
	while (done < n) {
		r = read(fd, p + done, n - done);
		if (r == -1) {
			if (errno == EINTR)
				continue;
			return err_sys("cannot read '%s'", what);
		}
		if (r == 0)
			break;
		done += (size_t)r;
	}
	return (ssize_t)done;
}

int
io_pread_full(int fd, void *buf, size_t n, uint64_t off, const char *what)
{
	char *p = buf;
	size_t done = 0;
	ssize_t r;

	if (fault_hit("read") == -1)
		return err_sys("cannot read '%s'", what);
	while (done < n) {
		r = pread(fd, p + done, n - done, (off_t)(off + done));
		if (r == -1) {
			if (errno == EINTR)
				continue;
			return err_sys("cannot read '%s'", what);
		}
		if (r == 0)
			return err_set("'%s': shorter than expected", what);
		done += (size_t)r;
	}
	return 0;
}

int
io_write_full(int fd, const void *buf, size_t n, const char *what)
{
	const char *p = buf;
	size_t done = 0;
	ssize_t r;

	if (fault_hit("write") == -1)
		return err_sys("cannot write '%s'", what);
	while (done < n) {
		r = write(fd, p + done, n - done);
		if (r == -1) {
			if (errno == EINTR)
				continue;
			return err_sys("cannot write '%s'", what);
		}
		if (r == 0) {
			errno = EIO;
			return err_sys("cannot write '%s'", what);
		}
		done += (size_t)r;
	}
	return 0;
}

int
io_fsync(int fd, const char *what)
{
	if (fault_hit("fsync") == -1 || fsync(fd) == -1)
		return err_sys("cannot sync '%s'", what);
	return 0;
}

int
io_fsync_dir(int dirfd, const char *what)
{
	/* Some file systems (and old NFS servers) refuse fsync on a
	 * directory; that is no reason to fail a write that is durable on
	 * every file system that supports it. */
	if (fault_hit("fsync") == -1)
		return err_sys("cannot sync directory '%s'", what);
	if (fsync(dirfd) == -1 && errno != EINVAL && errno != EROFS &&
	    errno != EBADF)
		return err_sys("cannot sync directory '%s'", what);
	return 0;
}

int
io_rename(int olddirfd, const char *oldname, int newdirfd, const char *newname)
{
	if (fault_hit("rename") == -1 ||
	    renameat(olddirfd, oldname, newdirfd, newname) == -1)
		return err_sys("cannot rename '%s' to '%s'", oldname, newname);
	return 0;
}

int
io_link(int olddirfd, const char *oldname, int newdirfd, const char *newname)
{
	if (fault_hit("link") == -1 ||
	    linkat(olddirfd, oldname, newdirfd, newname, 0) == -1)
		return err_sys("cannot link '%s' to '%s'", newname, oldname);
	return 0;
}

int
io_symlink(const char *target, int dirfd, const char *name)
{
	if (fault_hit("symlink") == -1 || symlinkat(target, dirfd, name) == -1)
		return err_sys("cannot create link '%s'", name);
	return 0;
}

int
io_mkdir(int dirfd, const char *name, mode_t mode)
{
	if (fault_hit("mkdir") == -1 || mkdirat(dirfd, name, mode) == -1)
		return err_sys("cannot create directory '%s'", name);
	return 0;
}

int
io_unlink(int dirfd, const char *name, int flags)
{
	if (fault_hit("unlink") == -1 || unlinkat(dirfd, name, flags) == -1)
		return err_sys("cannot remove '%s'", name);
	return 0;
}

int
io_slurp(int dirfd, const char *path, size_t max, char **bufp, size_t *lenp)
{
	struct stat st;
	char *buf = NULL, *nbuf;
	size_t cap = 0, len = 0;
	ssize_t r;
	int fd, rc = -1;

	*bufp = NULL;
	if ((fd = openat(dirfd, path, O_RDONLY | O_CLOEXEC)) == -1)
		return err_sys("cannot open '%s'", path);
	if (fstat(fd, &st) == -1) {
		err_sys("cannot stat '%s'", path);
		goto out;
	}
	if (!S_ISREG(st.st_mode)) {
		err_set("'%s' is not a regular file", path);
		goto out;
	}
	for (;;) {
		if (len == cap) {
			if (cap >= max + 1) {
				err_set("'%s' is larger than %zu bytes", path,
				    max);
				goto out;
			}
			cap = cap == 0 ? 8192 : cap * 2;
			if (cap > max + 1)
				cap = max + 1;
			if ((nbuf = realloc(buf, cap + 1)) == NULL) {
				err_nomem();
				goto out;
			}
			buf = nbuf;
		}
		if ((r = io_read_full(fd, buf + len, cap - len, path)) == -1)
			goto out;
		len += (size_t)r;
		if (len < cap)
			break;
	}
	if (len > max) {
		err_set("'%s' is larger than %zu bytes", path, max);
		goto out;
	}
	buf[len] = '\0';
	*bufp = buf;
	*lenp = len;
	buf = NULL;
	rc = 0;
out:
	free(buf);
	close(fd);
	return rc;
}

/* io_list_names(), and each name's type and inode number as readdir(3)
 * gives them when types (inos) is not NULL. */
static int
list_names(int dirfd, bool (*match)(const char *name, void *arg), void *arg,
    char ***namesp, unsigned char **typesp, uint64_t **inosp, size_t *np)
{
	struct dirent *de;
	char **names = NULL, **nv;
	unsigned char *types = NULL, *tv;
	uint64_t *inos = NULL, *iv;
	size_t n = 0, cap = 0;
	DIR *d;
	int fd;

	*namesp = NULL;
	if (typesp != NULL)
		*typesp = NULL;
	if (inosp != NULL)
		*inosp = NULL;
	*np = 0;
	if ((fd = openat(dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC)) == -1)
		return err_sys("cannot read a directory");
	if ((d = fdopendir(fd)) == NULL) {
		close(fd);
		return err_sys("cannot read a directory");
	}
	while (errno = 0, (de = readdir(d)) != NULL) {
		if (strcmp(de->d_name, ".") == 0 ||
		    strcmp(de->d_name, "..") == 0 ||
		    (match != NULL && !match(de->d_name, arg)))
			continue;
		if (n == cap) {
			cap = cap ? cap * 2 : 8;
			if ((nv = realloc(names, cap * sizeof(*nv))) == NULL)
				goto fail;
			names = nv;
			if (typesp != NULL) {
				if ((tv = realloc(types, cap)) == NULL)
					goto fail;
				types = tv;
			}
			if (inosp != NULL) {
				if ((iv = realloc(inos, cap * sizeof(*iv))) ==
				    NULL)
					goto fail;
				inos = iv;
			}
		}
		if ((names[n] = strdup(de->d_name)) == NULL)
			goto fail;
		if (typesp != NULL)
			types[n] = de->d_type;
		if (inosp != NULL)
			inos[n] = (uint64_t)de->d_ino;
		n++;
	}
	if (errno != 0)
		goto fail;
	closedir(d);
	*namesp = names;
	if (typesp != NULL)
		*typesp = types;
	if (inosp != NULL)
		*inosp = inos;
	*np = n;
	return 0;
fail:
	err_sys("cannot read a directory");
	closedir(d);
	io_names_free(names, n);
	free(types);
	free(inos);
	return -1;
}

int
io_list_names(int dirfd, bool (*match)(const char *name, void *arg), void *arg,
    char ***namesp, size_t *np)
{
	return list_names(dirfd, match, arg, namesp, NULL, NULL, np);
}

int
io_list_typed(int dirfd, char ***namesp, unsigned char **typesp,
    uint64_t **inosp, size_t *np)
{
	return list_names(dirfd, NULL, NULL, namesp, typesp, inosp, np);
}

static int
cmp_name(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

void
io_names_sort(char **names, size_t n)
{
	if (n > 1)
		qsort(names, n, sizeof(*names), cmp_name);
}

void
io_names_free(char **names, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		free(names[i]);
	free(names);
}

/* Below this depth io_empty_dir() holds one descriptor per level; deeper
 * trees (a manifest path may have some 2048 levels, a hostile share any
 * number) are emptied by io_empty_deep() with two at a time. */
#define IO_TREE_FD_DEPTH 128

/* Remove every entry of the directory fd that is not a directory and put
 * the name of its first subdirectory in name: 1 found, 0 none (fd is
 * then empty), -1 error.  fd is not closed. */
static int
io_strip_dir(int fd, const char *what, char name[NAME_MAX + 1])
{
	struct stat st;
	char **names;
	size_t n, i;
	int found = 0, rc = -1;

	(void)fchmod(fd, 0700);
	if (io_list_names(fd, NULL, NULL, &names, &n) == -1)
		return err_prefix("'%s': ", what);
	for (i = 0; i < n; i++) {
		if (fstatat(fd, names[i], &st, AT_SYMLINK_NOFOLLOW) == -1) {
			err_sys("cannot stat '%s/.../%s'", what, names[i]);
			goto out;
		}
		if (!S_ISDIR(st.st_mode)) {
			if (io_unlink(fd, names[i], 0) == -1)
				goto out;
		} else if (!found) {
			snprintf(name, NAME_MAX + 1, "%s", names[i]);
			found = 1;
		}
	}
	rc = found;
out:
	io_names_free(names, n);
	return rc;
}

/* Empty the directory fd however deep it goes, holding at most
 * IO_DEEP_FDS descriptors: a depth-first walk whose stack keeps the
 * descriptors of the last IO_DEEP_FDS levels only (a ring); when it has
 * to climb above them it starts again from fd.  Files are removed on the
 * way down, each directory once it is empty.  fd is closed. */
#define IO_DEEP_FDS 32
static int
io_empty_deep(int fd, const char *what)
{
	int stk[IO_DEEP_FDS];
	char names[IO_DEEP_FDS][NAME_MAX + 1], next[NAME_MAX + 1];
	size_t b, n, i;
	int r, cur, whole, rc = -1;

#define AT(k) ((b + (k)) % IO_DEEP_FDS)
	for (;;) {
		/* One pass from fd: stk[AT(0)] is fd itself while whole. */
		b = 0;
		n = 0;
		whole = 1;
		if ((stk[AT(0)] = dup(fd)) == -1) {
			err_sys("cannot read directory '%s'", what);
			goto out;
		}
		n = 1;
		for (;;) {
			if ((r = io_strip_dir(stk[AT(n - 1)], what, next)) ==
			    -1)
				goto fail;
			if (r == 1) {
				cur = openat(stk[AT(n - 1)], next,
				    O_RDONLY | O_DIRECTORY | O_NOFOLLOW |
					O_CLOEXEC);
				if (cur == -1) {
					err_sys("cannot open '%s/.../%s'", what,
					    next);
					goto fail;
				}
				if (n == IO_DEEP_FDS) {
					/* Forget the oldest level. */
					close(stk[AT(0)]);
					b = (b + 1) % IO_DEEP_FDS;
					n--;
					whole = 0;
				}
				stk[AT(n)] = cur;
				memcpy(names[AT(n)], next, sizeof(next));
				n++;
				continue;
			}
			/* stk[AT(n - 1)] is empty. */
			if (n == 1) {
				close(stk[AT(0)]);
				n = 0;
				break;
			}
			close(stk[AT(n - 1)]);
			n--;
			if (io_unlink(stk[AT(n - 1)], names[AT(n)],
				AT_REMOVEDIR) == -1)
				goto fail;
		}
		if (whole) {
			rc = 0; /* fd itself is empty */
			goto out;
		}
	}
fail:
	for (i = 0; i < n; i++)
		close(stk[AT(i)]);
out:
#undef AT
	close(fd);
	return rc;
}

static int
io_empty_dir(int fd, const char *what, int depth)
{
	struct stat st;
	char **names = NULL;
	size_t n = 0, i;
	int sub, rc = -1;

	if (depth > IO_TREE_FD_DEPTH)
		return io_empty_deep(fd, what);
	/* Trees written read-only (pkgpush) must still be removable. */
	(void)fchmod(fd, 0700);
	if (io_list_names(fd, NULL, NULL, &names, &n) == -1) {
		err_prefix("'%s': ", what);
		goto out;
	}
	for (i = 0; i < n; i++) {
		if (fstatat(fd, names[i], &st, AT_SYMLINK_NOFOLLOW) == -1) {
			err_sys("cannot stat '%s/%s'", what, names[i]);
			goto out;
		}
		if (S_ISDIR(st.st_mode)) {
			sub = openat(fd, names[i],
			    O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
			if (sub == -1) {
				err_sys("cannot open '%s/%s'", what, names[i]);
				goto out;
			}
			if (io_empty_dir(sub, names[i], depth + 1) == -1 ||
			    io_unlink(fd, names[i], AT_REMOVEDIR) == -1)
				goto out;
		} else if (io_unlink(fd, names[i], 0) == -1)
			goto out;
	}
	rc = 0;
out:
	io_names_free(names, n);
	close(fd);
	return rc;
}

int
io_remove_tree(int dirfd, const char *name)
{
	struct stat st;
	int fd;

	if (fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) == -1) {
		if (errno == ENOENT)
			return 0;
		return err_sys("cannot stat '%s'", name);
	}
	if (!S_ISDIR(st.st_mode))
		return io_unlink(dirfd, name, 0);
	fd = openat(dirfd, name,
	    O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd == -1)
		return err_sys("cannot open '%s'", name);
	if (io_empty_dir(fd, name, 0) == -1)
		return -1;
	return io_unlink(dirfd, name, AT_REMOVEDIR);
}

void
io_raise_fd_limit(void)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		(void)setrlimit(RLIMIT_NOFILE, &rl);
	}
}

/* The kernel cannot copy between these two (another file system, a
 * kernel without it): copy by hand instead. */
static bool
copy_unsupported(int e)
{
	return e == EXDEV || e == EINVAL || e == ENOSYS || e == EOPNOTSUPP ||
	    e == EBADF;
}

int
io_copy_file(int in, int out, uint64_t size, const char *what)
{
	off_t off_in = 0, off_out = 0;
	unsigned char *buf = NULL;
	bool kernel = true;
	size_t want;
	ssize_t r;
	int rc = -1;

	if (fault_hit("write") == -1)
		return err_sys("cannot write '%s'", what);
	while ((uint64_t)off_out < size) {
		want = size - (uint64_t)off_out > (1u << 30) ?
		    (1u << 30) :
		    (size_t)(size - (uint64_t)off_out);
		if (kernel) {
			r = copy_file_range(in, &off_in, out, &off_out, want,
			    0);
			if (r == -1 && copy_unsupported(errno)) {
				kernel = false;
				continue;
			}
		} else {
			if (buf == NULL && (buf = malloc(1 << 20)) == NULL) {
				err_nomem();
				goto out;
			}
			if (want > (1 << 20))
				want = 1 << 20;
			if ((r = pread(in, buf, want, off_in)) > 0) {
				if (lseek(out, off_out, SEEK_SET) == -1 ||
				    io_write_full(out, buf, (size_t)r, what) ==
					-1)
					goto out;
				off_in += r;
				off_out += r;
			}
		}
		if (r == -1 && errno == EINTR)
			continue;
		if (r == -1) {
			err_sys("cannot write '%s'", what);
			goto out;
		}
		if (r == 0) {
			err_set("cannot write '%s': its source ended at %jd of "
				"%ju bytes",
			    what, (intmax_t)off_in, (uintmax_t)size);
			goto out;
		}
	}
	rc = 0;
out:
	free(buf);
	return rc;
}

int
io_clone_range(int src, uint64_t srcoff, int out, uint64_t dstoff, uint64_t len,
    const char *what)
{
#ifdef FICLONERANGE
	struct file_clone_range fcr;

	if (fault_hit("write") == -1)
		return err_sys("cannot clone into '%s'", what);
	memset(&fcr, 0, sizeof(fcr));
	fcr.src_fd = src;
	fcr.src_offset = srcoff;
	fcr.src_length = len;
	fcr.dest_offset = dstoff;
	while (ioctl(out, FICLONERANGE, &fcr) == -1)
		if (errno != EINTR)
			return err_sys("cannot clone into '%s'", what);
	return 0;
#else
	(void)src, (void)srcoff, (void)out, (void)dstoff, (void)len;
	return err_code(EOPNOTSUPP, "cannot clone into '%s'", what);
#endif
}

bool
io_cannot_share(int errnum)
{
	return errnum == EPERM || errnum == EMLINK || errnum == ENOTSUP ||
	    errnum == EOPNOTSUPP || errnum == EXDEV || errnum == EINVAL ||
	    errnum == ENOTTY || errnum == ENOSYS;
}

int
io_open_below(int dirfd, const char *path, int flags)
{
	char comp[NAME_MAX + 1];
	const char *p = path, *slash;
	int fd = dirfd, nfd, saved;

	while ((slash = strchr(p, '/')) != NULL) {
		size_t l = (size_t)(slash - p);

		if (l == 0 || l > NAME_MAX) {
			errno = ENAMETOOLONG;
			goto fail;
		}
		memcpy(comp, p, l);
		comp[l] = '\0';
		nfd = openat(fd, comp,
		    O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (fd != dirfd)
			close(fd);
		if (nfd == -1)
			return -1;
		fd = nfd;
		p = slash + 1;
	}
	nfd = openat(fd, p, flags | O_NOFOLLOW | O_CLOEXEC);
	saved = errno;
	if (fd != dirfd)
		close(fd);
	errno = saved;
	return nfd;
fail:
	if (fd != dirfd)
		close(fd);
	return -1;
}
