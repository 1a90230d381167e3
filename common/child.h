/*
 * child.h — running another program as a child: in a process group of
 * its own, with a deadline, and ending it with SIGTERM, then SIGKILL.
 *
 * Two callers: pkgretry runs a job's tool (child_spawn(), then
 * child_supervise() until it exits or its time is up), and remote.c ends
 * the ssh it started (child_end()).  A child started here has standard
 * input from /dev/null and, when asked, its standard error on a pipe
 * that child_supervise() reads and hands to a callback as it comes.
 *
 * Its own process group keeps the terminal's and cron's signals to the
 * parent's group away from it, and lets a deadline stop the whole group
 * (ssh and whatever else the tool started); child_supervise() passes
 * SIGHUP, SIGINT and SIGTERM sent to the parent on to that group, then
 * lets the parent die of them as it would have (the action that was
 * installed before, e.g. atomic.h's cleanup).
 *
 * Functions return 0 on success, -1 with err.h set; nothing prints
 * (except the child, which writes "PROG: what: why" to its stderr when
 * it cannot start: that is the message the caller reads).
 */
#ifndef PKGDIST_CHILD_H
#define PKGDIST_CHILD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* How a child ended against its deadline. */
enum child_stop {
	CHILD_EXITED, /* exited (or was killed) by itself */
	CHILD_TERM,   /* past its time: ended on SIGTERM */
	CHILD_KILL,   /* still there after the grace: ended on SIGKILL */
	CHILD_LEFT    /* not even SIGKILL ended it in time: left behind */
};

struct child_spec {
	const char *path;  /* the program, run as is (no PATH search) */
	char *const *argv; /* NULL-terminated */
	const char *dir;   /* working directory, or NULL */
	const char *prog;  /* the parent's name, for the child's messages */
	const char *tag;   /* what is run ("office97@dp2"), for the same */
	/* "NAME=VALUE" strings to set in its environment, NULL-terminated,
	 * or NULL. */
	char *const *env;
	/* Called in the child before it enters dir and execs (after fork:
	 * only what a forked child of a one-threaded program may do); -1
	 * with errno set ends the child with 127 and says why_before. */
	int (*before_exec)(const void *arg);
	const void *arg;
	const char *why_before; /* "cannot become 'x' (uid 5)" */
	bool capture_stderr;	/* stderr to a pipe, read by supervise */
};

struct child {
	pid_t pid; /* also the process group */
	int errfd; /* read end of its stderr, or -1 */
};

/*
 * Start spec's program in a process group of its own.  *c gets its pid
 * and, with capture_stderr, the pipe.  Standard output is the parent's.
 */
int child_spawn(const struct child_spec *spec, struct child *c);

/*
 * Wait for c to exit, passing what it writes to stderr to sink (if c
 * has a pipe; sink may be NULL) and the parent's SIGHUP, SIGINT and
 * SIGTERM to its group.  Past timeout_ms (0: none) its group gets
 * SIGTERM (and SIGCONT, if it was stopped), grace_ms later SIGKILL; if
 * even that does not end it within grace_ms (a process stuck in the
 * kernel) it is left behind: *stop says which (*status is unset for
 * CHILD_LEFT).  -1 only when waiting or reading fails: the group is
 * then killed and reaped.  c's pipe is closed in every case.
 */
int child_supervise(struct child *c, int64_t timeout_ms, int64_t grace_ms,
    void (*sink)(void *ctx, const char *buf, size_t n), void *ctx, int *status,
    enum child_stop *stop);

/* Wait up to timeout seconds (0: only look) for pid; 1 if it was reaped
 * (or cannot be waited for), 0 if it still runs. */
int child_wait(pid_t pid, double timeout, int *status);

/*
 * End pid (a child that was not given its own group: the signals go to
 * pid alone): give it wait seconds to exit, then SIGTERM and grace
 * seconds, then SIGKILL and up to kill_wait seconds.  What ended it.
 */
enum child_stop child_end(pid_t pid, double wait, double grace,
    double kill_wait, int *status);

#endif
