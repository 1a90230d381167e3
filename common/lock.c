/*
 * lock.c — flock(2) with a timeout (see lock.h).
 *
 * flock has no timeout of its own; polling with a growing sleep (1 ms up
 * to 100 ms) keeps the helper free of signals and alarms, which would
 * not mix with the tools' threads.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "err.h"
#include "lock.h"

static double
lock_clock(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/*
 * The lock's full path for a message ("cannot open lock
 * '/var/lib/pkgdist/packages/office97/lock'"): the directory's path as
 * the system knows it, else the name alone.
 */
static const char *
lock_where(int dirfd, const char *name, char *buf, size_t len)
{
	char link[64], dir[PATH_MAX];
	ssize_t n;

	if (dirfd == AT_FDCWD || name[0] == '/')
		return name;
	snprintf(link, sizeof(link), "/proc/self/fd/%d", dirfd);
	if ((n = readlink(link, dir, sizeof(dir) - 1)) <= 0 || dir[0] != '/')
		return name;
	dir[n] = '\0';
	snprintf(buf, len, "%s/%s", strcmp(dir, "/") == 0 ? "" : dir, name);
	return buf;
}

int
lock_acquire(int dirfd, const char *name, bool shared, double timeout)
{
	char where[PATH_MAX + NAME_MAX + 2];

	struct timespec pause = { 0, 1000000 };
	double start = lock_clock();
	int fd, op = (shared ? LOCK_SH : LOCK_EX) | LOCK_NB;

	fd = openat(dirfd, name, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC,
	    0644);
	if (fd == -1)
		return err_sys("cannot open lock '%s'",
		    lock_where(dirfd, name, where, sizeof(where)));
	for (;;) {
		if (flock(fd, op) == 0)
			return fd;
		if (errno != EWOULDBLOCK && errno != EINTR) {
			err_sys("cannot lock '%s'",
			    lock_where(dirfd, name, where, sizeof(where)));
			close(fd);
			return -1;
		}
		if (timeout >= 0 && lock_clock() - start >= timeout) {
			close(fd);
			return err_code(EWOULDBLOCK,
			    "'%s' is locked by "
			    "another process (waited %.0f s)",
			    lock_where(dirfd, name, where, sizeof(where)),
			    timeout);
		}
		nanosleep(&pause, NULL);
		if (pause.tv_nsec < 100000000)
			pause.tv_nsec *= 2;
	}
}

void
lock_release(int fd)
{
	if (fd >= 0)
		close(fd);
}
