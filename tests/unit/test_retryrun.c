/*
 * Unit tests of the retry policy (retryrun.c) and of running a child
 * (child.c): settings and the store's config, the backoff a failure
 * puts a job back by, whether a job can still succeed, the transitions
 * after a failed run (attempts, last error, failed/), and a real child
 * in its own process group: exit status, stderr, the time limit with
 * SIGTERM then SIGKILL, a hook that refuses, child_end().
 */
#include <sys/wait.h>

#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "child.h"
#include "err.h"
#include "retryjob.h"
#include "retryrun.h"
#include "tap.h"

static void
test_settings(void)
{
	struct retryrun_opts o;
	int64_t v = 0, a = 0, b = 0;
	static const char cfg[] = "# site\n"
				  "max-attempts 3\n"
				  "  backoff 2m:1h\n"
				  "\n"
				  "timeout 90\n";

	tap_ok(retryrun_parse_duration("90", 2, &v) == 0 && v == 90,
	    "a bare number is seconds");
	tap_ok(retryrun_parse_duration("5m", 2, &v) == 0 && v == 300, "5m");
	tap_ok(retryrun_parse_duration("2h", 2, &v) == 0 && v == 7200, "2h");
	tap_ok(retryrun_parse_duration("10s", 3, &v) == 0 && v == 10, "10s");
	tap_ok(retryrun_parse_duration("0", 1, &v) == -1, "0 is refused");
	tap_ok(retryrun_parse_duration("x", 1, &v) == -1, "x is refused");
	tap_ok(retryrun_parse_duration("99999999h", 9, &v) == -1,
	    "beyond ten years is refused");
	a = 0;
	b = 3600;
	tap_ok(retryrun_parse_backoff("600", &a, &b) == 0 && a == 600 &&
		b == 3600,
	    "backoff without a cap keeps the cap");
	tap_ok(retryrun_parse_backoff("2h:1m", &a, &b) == 0 && a == 7200 &&
		b == 7200,
	    "a cap below the base is raised to it");

	retryrun_opts_init(&o);
	tap_ok(o.max_attempts == RETRYRUN_MAX_ATTEMPTS &&
		o.base == RETRYRUN_BACKOFF_BASE &&
		o.timeout == RETRYRUN_TIMEOUT,
	    "defaults");
	tap_ok(retryrun_config_parse(cfg, strlen(cfg), &o) == 0 &&
		o.max_attempts == 3 && o.base == 120 && o.cap == 3600 &&
		o.timeout == 90 && o.grace == RETRYRUN_GRACE,
	    "the store's config applies");
	retryrun_opts_init(&o);
	o.max_attempts = 7;
	o.set_max = true;
	tap_ok(retryrun_config_parse(cfg, strlen(cfg), &o) == 0 &&
		o.max_attempts == 7 && o.base == 120,
	    "what the command line gave wins, the rest applies");
	retryrun_opts_init(&o);
	tap_ok(retryrun_config_parse("colour blue\n", 12, &o) == -1 &&
		strstr(err_get(), "config:1: unknown setting 'colour'") != NULL,
	    "an unknown setting is refused with its line");
	tap_ok(retryrun_config_parse("#\nmax-attempts 0\n", 17, &o) == -1 &&
		strstr(err_get(), "config:2: bad max-attempts") != NULL,
	    "a bad value is refused with its line");
	tap_ok(retryrun_config_parse("timeout\n", 8, &o) == -1 &&
		o.max_attempts == RETRYRUN_MAX_ATTEMPTS,
	    "a refused file changes nothing");
	tap_ok(retryrun_config_parse("max-attempts 2\0", 15, &o) == -1,
	    "a NUL byte is refused");
}

/* A pkgpush job for office97 on dp2 at version 5, with extra options. */
static int
push_job(struct retryjob *j, const char *opt)
{
	char *argv[] = { "pkgpush", "--version", "5", "--only", "dp2", NULL,
		NULL, NULL };
	int n = 5;

	if (opt != NULL)
		argv[n++] = (char *)(uintptr_t)opt;
	argv[n++] = "office97";
	return retryjob_make(j, "office97", "dp2", 5, n, argv, NULL);
}

static void
test_judge(void)
{
	struct store_holding h[2];
	struct retryrun_facts f = { true, true, h, 2 };
	struct retryjob j;
	char why[256];
	char *stage[] = { "pkgstage", "add", "--version", "5", "office97",
		"/src", NULL };

	memset(h, 0, sizeof(h));
	snprintf(h[0].dp, sizeof(h[0].dp), "dp1");
	h[0].version = 9;
	snprintf(h[1].dp, sizeof(h[1].dp), "dp2");
	h[1].version = 4;

	push_job(&j, NULL);
	tap_ok(retryrun_judge(&j, &f, why, sizeof(why)) == RETRYRUN_RUN,
	    "a DP below the job's version: run it");
	h[1].version = 5;
	tap_ok(retryrun_judge(&j, &f, why, sizeof(why)) ==
		    RETRYRUN_SUPERSEDED &&
		strcmp(why, "dp2 already holds version 5") == 0,
	    "a DP at the job's version: superseded");
	f.version_present = false;
	tap_ok(retryrun_judge(&j, &f, why, sizeof(why)) ==
		    RETRYRUN_IMPOSSIBLE &&
		strstr(why,
		    "version 5 of 'office97' is no longer in the "
		    "store") != NULL,
	    "its version gone from the store: cannot succeed");
	f.version_present = true;
	f.dp_listed = false;
	tap_ok(retryrun_judge(&j, &f, why, sizeof(why)) ==
		    RETRYRUN_IMPOSSIBLE &&
		strstr(why, "DP 'dp2' is no longer in the DP list") != NULL,
	    "its DP gone from the list: cannot succeed");
	f.dp_listed = true;
	retryjob_free(&j);

	push_job(&j, "--verify");
	tap_ok(retryrun_judge(&j, &f, why, sizeof(why)) == RETRYRUN_RUN,
	    "a --verify repair of a DP at its version runs");
	h[1].version = 6;
	tap_ok(retryrun_judge(&j, &f, why, sizeof(why)) == RETRYRUN_SUPERSEDED,
	    "a --verify job for a DP past its version is superseded");
	retryjob_free(&j);

	push_job(&j, "--rollback");
	tap_ok(retryrun_judge(&j, &f, why, sizeof(why)) == RETRYRUN_RUN,
	    "a --rollback job is never superseded");
	retryjob_free(&j);

	retryjob_make(&j, NULL, NULL, 0, 6, stage, NULL);
	f.version_present = false;
	tap_ok(retryrun_judge(&j, &f, why, sizeof(why)) == RETRYRUN_RUN,
	    "a pkgstage job that makes its version is not judged");
	retryjob_free(&j);
}

static void
test_after_failure(void)
{
	struct retryrun_opts o;
	struct retryrun_exit e = { 0, CHILD_EXITED, "" };
	struct retryjob j;
	int64_t now = 1700000000;
	int r, i;

	retryrun_opts_init(&o);
	o.max_attempts = 4;
	push_job(&j, NULL);
	e.status = 1 << 8; /* exit 1 */
	e.last = "pkgpush: dp2: /mnt/branch: No such file or directory";
	r = retryrun_after_failure(&o, &j, &e, now);
	tap_ok(r == 0 && j.attempts == 1 && j.next == now + 60 &&
		strcmp(j.error,
		    "pkgpush: dp2: /mnt/branch: No such file or "
		    "directory (exit 1)") == 0,
	    "first failure: the cause and its exit recorded, back by the "
	    "base (%s)",
	    j.error);
	r = retryrun_after_failure(&o, &j, &e, now);
	tap_ok(r == 0 && j.attempts == 2 && j.next == now + 120,
	    "second failure: the wait doubles");
	r = retryrun_after_failure(&o, &j, &e, now);
	tap_ok(r == 0 && j.attempts == 3 && j.next == now + 240 &&
		j.reason == NULL,
	    "third: doubled again, still queued");
	r = retryrun_after_failure(&o, &j, &e, now + 5);
	tap_ok(r == 1 && j.attempts == 4 && j.failed == now + 5 &&
		j.reason != NULL &&
		strcmp(j.reason,
		    "gave up after 4 attempts; last error: "
		    "pkgpush: dp2: /mnt/branch: No such file or "
		    "directory (exit 1)") == 0,
	    "past its attempts: to failed/, the reason names the cause");
	retryjob_free(&j);

	retryrun_opts_init(&o);
	o.base = 60;
	o.cap = 300;
	push_job(&j, NULL);
	for (i = 0; i < 8; i++)
		(void)retryrun_after_failure(&o, &j, &e, now);
	tap_ok(j.next == now + 300, "the wait is capped");
	retryjob_free(&j);

	retryrun_opts_init(&o);
	push_job(&j, NULL);
	e.stop = CHILD_TERM;
	e.last = "";
	(void)retryrun_after_failure(&o, &j, &e, now);
	tap_ok(strcmp(j.error, "timed out after 2h: stopped by SIGTERM") == 0,
	    "a time limit: '%s'", j.error);
	e.stop = CHILD_KILL;
	e.last = "pkgpush: waiting for the lock";
	(void)retryrun_after_failure(&o, &j, &e, now);
	tap_ok(strcmp(j.error,
		   "pkgpush: waiting for the lock (timed out "
		   "after 2h: killed by SIGKILL, 30s after "
		   "SIGTERM)") == 0,
	    "SIGKILL after the grace: '%s'", j.error);
	e.stop = CHILD_EXITED;
	e.status = SIGSEGV; /* killed by a signal */
	e.last = "";
	(void)retryrun_after_failure(&o, &j, &e, now);
	tap_ok(strcmp(j.error, "killed by signal 11") == 0,
	    "killed by a signal: '%s'", j.error);
	retryjob_free(&j);
}

struct grab {
	char buf[4096];
	size_t len;
};

static void
grab(void *ctx, const char *buf, size_t n)
{
	struct grab *g = ctx;

	if (n > sizeof(g->buf) - 1 - g->len)
		n = sizeof(g->buf) - 1 - g->len;
	memcpy(g->buf + g->len, buf, n);
	g->len += n;
	g->buf[g->len] = '\0';
}

static int
refuse(const void *arg)
{
	(void)arg;
	errno = EPERM;
	return -1;
}

/* Run sh -c script; 0 and *status, *stop, g->buf, or -1. */
static int
run_sh(const char *script, int64_t timeout_ms, int64_t grace_ms,
    int (*before)(const void *), struct grab *g, int *status,
    enum child_stop *stop)
{
	char *argv[] = { "sh", "-c", (char *)(uintptr_t)script, NULL };
	char *env[] = { "PKGDIST_UNIT_CHILD=yes", NULL };
	struct child_spec s;
	struct child c;

	memset(&s, 0, sizeof(s));
	memset(g, 0, sizeof(*g));
	s.path = "/bin/sh";
	s.argv = argv;
	s.dir = "/";
	s.prog = "test_retryrun";
	s.tag = "job";
	s.env = env;
	s.before_exec = before;
	s.why_before = "cannot become nobody";
	s.capture_stderr = true;
	if (child_spawn(&s, &c) == -1)
		return -1;
	return child_supervise(&c, timeout_ms, grace_ms, grab, g, status, stop);
}

static void
test_child(void)
{
	struct grab g;
	enum child_stop stop;
	struct timespec t0, t1;
	int status = 0, i;
	double took;
	pid_t pid;

	tap_ok(run_sh("echo to stderr >&2; test \"$PKGDIST_UNIT_CHILD\" = yes"
		      " && test \"$(pwd)\" = / && exit 3",
		   0, 0, NULL, &g, &status, &stop) == 0 &&
		stop == CHILD_EXITED && WIFEXITED(status) &&
		WEXITSTATUS(status) == 3 && strcmp(g.buf, "to stderr\n") == 0,
	    "a child's exit status, stderr, environment and directory");
	tap_ok(run_sh("test \"$(cut -d' ' -f5 /proc/$$/stat)\" = $$", 0, 0,
		   NULL, &g, &status, &stop) == 0 &&
		WIFEXITED(status) && WEXITSTATUS(status) == 0,
	    "it leads a process group of its own");
	tap_ok(run_sh("test \"$(readlink /proc/$$/fd/0)\" = /dev/null", 0, 0,
		   NULL, &g, &status, &stop) == 0 &&
		WIFEXITED(status) && WEXITSTATUS(status) == 0,
	    "its standard input is /dev/null");
	tap_ok(run_sh("exit 0", 0, 0, refuse, &g, &status, &stop) == 0 &&
		WIFEXITED(status) && WEXITSTATUS(status) == 127 &&
		strstr(g.buf,
		    "test_retryrun: job: cannot become nobody: "
		    "Operation not permitted") != NULL,
	    "a hook that refuses ends it with 127 and says why: '%s'", g.buf);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	tap_ok(run_sh("sleep 30 & echo $! >&2; wait", 300, 2000, NULL, &g,
		   &status, &stop) == 0 &&
		stop == CHILD_TERM,
	    "past its time: its group ends on SIGTERM");
	clock_gettime(CLOCK_MONOTONIC, &t1);
	took = (double)(t1.tv_sec - t0.tv_sec) +
	    (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
	/* The sleep it started, in its group, is gone too (reparented and
	 * reaped by init: give that a moment). */
	pid = (pid_t)atoi(g.buf);
	for (i = 0; pid > 0 && kill(pid, 0) == 0 && i < 200; i++)
		usleep(10000);
	tap_ok(took < 5 && pid > 0 && kill(pid, 0) == -1,
	    "at once (%.2fs), and the sleep in its group is gone too", took);
	tap_ok(run_sh("trap '' TERM; echo ready >&2; while :; do sleep 1; "
		      "done",
		   300, 300, NULL, &g, &status, &stop) == 0 &&
		stop == CHILD_KILL && WIFSIGNALED(status) &&
		WTERMSIG(status) == SIGKILL,
	    "one that ignores SIGTERM is killed after the grace");

	if ((pid = fork()) == 0) {
		execl("/bin/sleep", "sleep", "30", (char *)NULL);
		_exit(127);
	}
	tap_ok(child_wait(pid, 0, &status) == 0, "child_wait: still running");
	tap_ok(child_end(pid, 0.05, 5, 5, &status) == CHILD_TERM &&
		WIFSIGNALED(status) && WTERMSIG(status) == SIGTERM,
	    "child_end: a child that does not exit in time ends on SIGTERM");
	if ((pid = fork()) == 0)
		_exit(4);
	tap_ok(child_end(pid, 5, 5, 5, &status) == CHILD_EXITED &&
		WIFEXITED(status) && WEXITSTATUS(status) == 4,
	    "child_end: one that exits by itself is only reaped");
}

int
main(void)
{
	test_settings();
	test_judge();
	test_after_failure();
	test_child();
	return tap_done();
}
