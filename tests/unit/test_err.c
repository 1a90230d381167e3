/*
 * test_err.c — the core's error messages (err.h) have no length limit:
 * the cause of an error on a path of PATH_MAX bytes, which comes last,
 * survives err_set, err_sys and err_prefix; each thread has its own
 * message, and a thread's buffer is released when it ends (make asan
 * checks that nothing leaks); err_save/err_restore keep a failure aside
 * across clean-up and hand it from one thread to another.
 */
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "tap.h"

static char longpath[PATH_MAX + 1];

static int
ends_with(const char *s, const char *tail)
{
	size_t n = strlen(s), t = strlen(tail);

	if (n < t || strcmp(s + n - t, tail) != 0) {
		tap_diag("message of %zu bytes ends '%s'", n,
		    n > 60 ? s + n - 60 : s);
		return 0;
	}
	return 1;
}

static void *
thread_main(void *arg)
{
	(void)arg;
	err_set("thread: %s: %s", longpath, "its own reason");
	return strdup(err_get());
}

/* A worker's failure, handed to main through err_save(). */
static void *
saver_main(void *arg)
{
	errno = EIO;
	err_sys("worker: %s", longpath);
	err_save(arg);
	return NULL;
}

int
main(void)
{
	char *got;
	pthread_t th;
	size_t n;

	memset(longpath, 'a', PATH_MAX);
	longpath[0] = '/';
	errno = ENOENT;
	err_sys("cannot open '%s'", longpath);
	tap_ok(ends_with(err_get(),
		   "'" /* path end */ ": No such file or "
		   "directory") &&
		strlen(err_get()) > PATH_MAX,
	    "err_sys keeps the whole path and the errno text after it");
	tap_ok(err_errno() == ENOENT, "err_sys saves errno");
	err_prefix("dp1: %s: ", longpath);
	n = strlen(err_get());
	tap_ok(strncmp(err_get(), "dp1: /aaa", 9) == 0 &&
		ends_with(err_get(), ": No such file or directory") &&
		n > 2 * PATH_MAX,
	    "err_prefix puts a long prefix in front, "
	    "the cause stays at the end (%zu bytes)",
	    n);
	err_set("%s: %s", err_get(), "and more");
	tap_ok(ends_with(err_get(), "directory: and more") &&
		strncmp(err_get(), "dp1: ", 5) == 0,
	    "err_set may format the current message itself");
	err_code(EBUSY, "short");
	tap_ok(strcmp(err_get(), "short") == 0 && err_errno() == EBUSY,
	    "a short message after a long one");
	err_set("main's");
	if (pthread_create(&th, NULL, thread_main, NULL) == 0 &&
	    pthread_join(th, (void **)&got) == 0 && got != NULL) {
		tap_ok(ends_with(got, "its own reason") &&
			strcmp(err_get(), "main's") == 0,
		    "each thread has its own message");
		free(got);
	} else
		tap_ok(0, "thread");

	struct err_saved sv = ERR_SAVED_INIT;

	errno = ENOSPC;
	err_sys("first");
	err_save(&sv);
	err_set("the clean-up's own failure");
	tap_ok(err_restore(&sv) == -1 &&
		strcmp(err_get(),
		    "first: No space "
		    "left on device") == 0 &&
		err_errno() == ENOSPC && sv.msg == NULL,
	    "err_restore puts back the saved message and errno, and empties");
	err_set("current");
	tap_ok(err_restore(&sv) == -1 && strcmp(err_get(), "current") == 0,
	    "an empty err_saved leaves the current error");
	err_save(&sv);
	err_drop(&sv);
	tap_ok(sv.msg == NULL && strcmp(err_get(), "current") == 0,
	    "err_drop empties without restoring");
	if (pthread_create(&th, NULL, saver_main, &sv) == 0 &&
	    pthread_join(th, NULL) == 0) {
		err_restore(&sv);
		tap_ok(ends_with(err_get(), ": Input/output error") &&
			strncmp(err_get(), "worker: /aaa", 12) == 0 &&
			err_errno() == EIO,
		    "a worker's failure crosses threads "
		    "whole, errno included");
	} else
		tap_ok(0, "thread");
	return tap_done();
}
