/*
 * lock.c — flock(2) with a timeout (see lock.h).
 *
 * flock has no timeout of its own; polling with a growing sleep (1 ms up
 * to 100 ms) keeps the helper free of signals and alarms, which would
 * not mix with the tools' threads.
 */
#include <errno.h>
#include <fcntl.h>
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

int
lock_acquire(int dirfd, const char *name, bool shared, double timeout)
{
	struct timespec pause = { 0, 1000000 };
	double start = lock_clock();
	int fd, op = (shared ? LOCK_SH : LOCK_EX) | LOCK_NB;

	fd = openat(dirfd, name,
	    O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0644);
	if (fd == -1)
		return err_sys("cannot open lock '%s'", name);
	for (;;) {
		if (flock(fd, op) == 0)
			return fd;
		if (errno != EWOULDBLOCK && errno != EINTR) {
			err_sys("cannot lock '%s'", name);
			close(fd);
			return -1;
		}
		if (timeout >= 0 && lock_clock() - start >= timeout) {
			close(fd);
			return err_code(EWOULDBLOCK, "'%s' is locked by "
			    "another process (waited %.0f s)", name, timeout);
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
