/*
 * child.c — a child program in its own process group, with a deadline.
 * See child.h.
 */
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "child.h"
#include "err.h"

/* The supervised child's process group, for the signal forwarder. */
static volatile sig_atomic_t fwd_pgid;
static const int fwd_sigs[] = { SIGHUP, SIGINT, SIGTERM };
#define NFWD (sizeof(fwd_sigs) / sizeof(fwd_sigs[0]))
static struct sigaction fwd_old[NFWD];

/* Pass the signal on to the child's group, then die of it as before
 * (the saved action). */
static void
fwd_signal(int sig)
{
	size_t i;

	if (fwd_pgid > 0)
		(void)kill(-(pid_t)fwd_pgid, sig);
	for (i = 0; i < NFWD; i++)
		if (fwd_sigs[i] == sig)
			(void)sigaction(sig, &fwd_old[i], NULL);
	(void)raise(sig); /* delivered once this handler returns */
}

static void
fwd_install(pid_t pgid)
{
	struct sigaction sa;
	size_t i;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = fwd_signal;
	sigemptyset(&sa.sa_mask);
	fwd_pgid = (sig_atomic_t)pgid;
	for (i = 0; i < NFWD; i++)
		(void)sigaction(fwd_sigs[i], &sa, &fwd_old[i]);
}

static void
fwd_remove(void)
{
	size_t i;

	for (i = 0; i < NFWD; i++)
		(void)sigaction(fwd_sigs[i], &fwd_old[i], NULL);
	fwd_pgid = 0;
}

static int64_t
mono_ms(void)
{
	struct timespec ts;

	(void)clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* In the child: set up and exec, or say why not and exit 127. */
static void
child_exec(const struct child_spec *s, int errw)
{
	char *const *e;
	int devnull;

	(void)setpgid(0, 0);
	if (errw != -1) {
		if (dup2(errw, STDERR_FILENO) == -1)
			_exit(127);
		close(errw);
	}
	if ((devnull = open("/dev/null", O_RDONLY)) != -1) {
		(void)dup2(devnull, STDIN_FILENO);
		close(devnull);
	}
	signal(SIGPIPE, SIG_DFL);
	for (e = s->env; e != NULL && *e != NULL; e++)
		if (putenv(*e) != 0)
			_exit(127);
	if (s->before_exec != NULL && s->before_exec(s->arg) == -1) {
		dprintf(STDERR_FILENO, "%s: %s: %s: %s\n", s->prog, s->tag,
		    s->why_before, strerror(errno));
		_exit(127);
	}
	if (s->dir != NULL && chdir(s->dir) == -1) {
		dprintf(STDERR_FILENO, "%s: %s: cannot enter '%s': %s\n",
		    s->prog, s->tag, s->dir, strerror(errno));
		_exit(127);
	}
	execv(s->path, s->argv);
	dprintf(STDERR_FILENO, "%s: %s: cannot run '%s': %s\n", s->prog, s->tag,
	    s->path, strerror(errno));
	_exit(127);
}

int
child_spawn(const struct child_spec *s, struct child *c)
{
	int pfd[2] = { -1, -1 };
	pid_t pid;

	c->pid = -1;
	c->errfd = -1;
	/* Close-on-exec: the child's stderr is a dup2() of the write end
	 * (which clears the flag), and no other program it starts holds
	 * either end. */
	if (s->capture_stderr &&
	    (pipe(pfd) == -1 || fcntl(pfd[0], F_SETFD, FD_CLOEXEC) == -1 ||
		fcntl(pfd[1], F_SETFD, FD_CLOEXEC) == -1)) {
		err_sys("cannot make a pipe");
		if (pfd[0] != -1) {
			close(pfd[0]);
			close(pfd[1]);
		}
		return -1;
	}
	fflush(stdout);
	fflush(stderr);
	if ((pid = fork()) == -1) {
		err_sys("cannot fork");
		if (pfd[0] != -1) {
			close(pfd[0]);
			close(pfd[1]);
		}
		return -1;
	}
	if (pid == 0)
		child_exec(s, pfd[1]); /* does not return */
	/* Both sides set the group, so a signal sent right after fork()
	 * finds it. */
	(void)setpgid(pid, pid);
	c->pid = pid;
	if (pfd[1] != -1) {
		close(pfd[1]);
		c->errfd = pfd[0];
	}
	return 0;
}

/* The deadline passed: the next step of TERM, grace, KILL, grace. */
static void
escalate(pid_t pid, int64_t now, int64_t grace_ms, int64_t *deadline,
    enum child_stop *stop)
{
	*stop = *stop == CHILD_EXITED ? CHILD_TERM : CHILD_KILL;
	(void)kill(-pid, *stop == CHILD_TERM ? SIGTERM : SIGKILL);
	if (*stop == CHILD_TERM)
		(void)kill(-pid, SIGCONT); /* if stopped */
	*deadline = now + grace_ms;
}

int
child_supervise(struct child *c, int64_t timeout_ms, int64_t grace_ms,
    void (*sink)(void *, const char *, size_t), void *ctx, int *status,
    enum child_stop *stop)
{
	char buf[4096];
	struct pollfd pf;
	int64_t now, deadline;
	ssize_t n;
	bool reaped = false, failed = false;
	int r;

	*stop = CHILD_EXITED;
	fwd_install(c->pid);
	pf.fd = c->errfd;
	pf.events = POLLIN;
	deadline = timeout_ms > 0 ? mono_ms() + timeout_ms : INT64_MAX;
	for (;;) {
		if (!reaped) {
			if ((r = waitpid(c->pid, status, WNOHANG)) == c->pid)
				reaped = true;
			else if (r == -1 && errno != EINTR) {
				err_sys("cannot wait for the child");
				failed = true;
				break;
			}
		}
		if (reaped && pf.fd == -1)
			break;
		now = mono_ms();
		if (!reaped && now >= deadline) {
			if (*stop == CHILD_KILL) {
				*stop = CHILD_LEFT;
				break;
			}
			escalate(c->pid, now, grace_ms, &deadline, stop);
			continue;
		}
		/* Wake at least every second to see whether the child has
		 * exited while something it started holds the pipe open;
		 * once it is reaped, take only what is already there. */
		r = reaped		  ? 0 :
		    deadline - now < 1000 ? (int)(deadline - now) :
					    1000;
		if (pf.fd == -1) {
			/* Its stderr closed (or was never ours): it is
			 * exiting, or runs on without it. */
			(void)poll(NULL, 0, r < 20 ? r : 20);
			continue;
		}
		if ((r = poll(&pf, 1, r)) == -1 && errno != EINTR) {
			err_sys("cannot read the child's output");
			failed = true;
			break;
		}
		if (r == 0 && reaped) {
			close(pf.fd);
			pf.fd = -1;
			continue;
		}
		if (r <= 0)
			continue;
		if ((n = read(pf.fd, buf, sizeof(buf))) == -1 && errno == EINTR)
			continue;
		if (n <= 0) {
			close(pf.fd);
			pf.fd = -1;
			continue;
		}
		if (sink != NULL)
			sink(ctx, buf, (size_t)n);
	}
	fwd_remove();
	if (pf.fd != -1)
		close(pf.fd);
	c->errfd = -1;
	if (failed && !reaped) {
		/* Reap what SIGKILL ends. */
		(void)kill(-c->pid, SIGKILL);
		while (waitpid(c->pid, status, 0) == -1 && errno == EINTR)
			;
	}
	return failed ? -1 : 0;
}

int
child_wait(pid_t pid, double timeout, int *status)
{
	struct timespec ts = { 0, 0 };
	double waited = 0, step = 0.0005;
	pid_t r;

	/* A child usually exits within a few ms of being asked: look often
	 * at first, then every 4 ms (after 30 ms: every 20 ms). */
	for (;;) {
		r = waitpid(pid, status, WNOHANG);
		if (r == pid)
			return 1;
		if (r == -1 && errno != EINTR)
			return 1;
		if (waited >= timeout)
			return 0;
		ts.tv_nsec = (long)(step * 1e9);
		nanosleep(&ts, NULL);
		waited += step;
		if (step < 0.004)
			step *= 2;
		else if (waited > 0.03)
			step = 0.02;
	}
}

enum child_stop
child_end(pid_t pid, double wait, double grace, double kill_wait, int *status)
{
	if (child_wait(pid, wait, status))
		return CHILD_EXITED;
	(void)kill(pid, SIGTERM);
	if (child_wait(pid, grace, status))
		return CHILD_TERM;
	(void)kill(pid, SIGKILL);
	if (child_wait(pid, kill_wait, status))
		return CHILD_KILL;
	return CHILD_LEFT;
}
