/*
 * fault.c — the test-only fault-injection hook (see fault.h).
 *
 * Compiled to nothing unless PKGDIST_TESTING is defined.  The counters
 * are process-wide because "the Nth write of this process" is what a
 * torture test enumerates; they are atomic because the tools hash and
 * copy in threads.
 */
#ifdef PKGDIST_TESTING

#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fault.h"
#include "num.h"

static const char *const fault_ops[] = { "read", "write", "fsync", "rename",
	"link", "symlink", "mkdir", "unlink" };
#define FAULT_NOPS (sizeof(fault_ops) / sizeof(fault_ops[0]))

static const struct {
	const char *name;
	int value;
} fault_errnos[] = { { "EACCES", EACCES }, { "EDQUOT", EDQUOT }, { "EIO", EIO },
	{ "ENOSPC", ENOSPC }, { "EPERM", EPERM }, { "EROFS", EROFS } };

static pthread_once_t fault_once = PTHREAD_ONCE_INIT;
static char fault_op[16]; /* "" when no fault is armed */
static unsigned long fault_n;
static int fault_errno; /* 0 means crash or hang */
static int fault_hang;	/* hang instead of crashing */
static const char *fault_countfile;
static char slow_op[16]; /* "" when nothing is slowed */
static unsigned long slow_ms;
static atomic_ulong fault_count[FAULT_NOPS];
static atomic_ulong fault_any;

static void
fault_write_counts(void)
{
	FILE *fp;
	size_t i;

	if ((fp = fopen(fault_countfile, "w")) == NULL)
		return;
	for (i = 0; i < FAULT_NOPS; i++)
		fprintf(fp, "%s %lu\n", fault_ops[i],
		    atomic_load(&fault_count[i]));
	fprintf(fp, "any %lu\n", atomic_load(&fault_any));
	fclose(fp);
}

static void
fault_setup(void)
{
	const char *spec = getenv("PKGDIST_FAULT"), *slow;
	const char *c1, *c2;
	uint64_t v;
	size_t i;

	slow = getenv("PKGDIST_FAULT_SLOW");
	if (slow != NULL && *slow != '\0') {
		c1 = strchr(slow, ':');
		if (c1 == NULL || (size_t)(c1 - slow) >= sizeof(slow_op))
			goto badslow;
		if (num_arg(c1 + 1, 0, 60000, &v) == -1)
			goto badslow;
		slow_ms = (unsigned long)v;
		memcpy(slow_op, slow, c1 - slow);
		slow_op[c1 - slow] = '\0';
	}
	fault_countfile = getenv("PKGDIST_FAULT_COUNT");
	if (fault_countfile != NULL && *fault_countfile != '\0')
		atexit(fault_write_counts);
	if (spec == NULL || *spec == '\0')
		return;
	c1 = strchr(spec, ':');
	c2 = c1 != NULL ? strchr(c1 + 1, ':') : NULL;
	if (c2 == NULL || (size_t)(c1 - spec) >= sizeof(fault_op))
		goto bad;
	memcpy(fault_op, spec, c1 - spec);
	fault_op[c1 - spec] = '\0';
	if (num_u64(c1 + 1, (size_t)(c2 - c1 - 1), ULONG_MAX, &v) == -1 ||
	    v == 0)
		goto bad;
	fault_n = (unsigned long)v;
	if (strcmp(c2 + 1, "crash") == 0 || strcmp(c2 + 1, "hang") == 0) {
		fault_errno = 0;
		fault_hang = strcmp(c2 + 1, "hang") == 0;
		return;
	}
	for (i = 0; i < sizeof(fault_errnos) / sizeof(fault_errnos[0]); i++)
		if (strcmp(c2 + 1, fault_errnos[i].name) == 0) {
			fault_errno = fault_errnos[i].value;
			return;
		}
bad:
	/* A malformed spec in a test is a test bug: stop loudly. */
	fprintf(stderr, "PKGDIST_FAULT: malformed '%s'\n", spec);
	abort();
badslow:
	fprintf(stderr, "PKGDIST_FAULT_SLOW: malformed '%s'\n", slow);
	abort();
}

int
fault_hit(const char *op)
{
	unsigned long nth_op = 0, nth_any;
	size_t i;

	pthread_once(&fault_once, fault_setup);
	for (i = 0; i < FAULT_NOPS; i++)
		if (strcmp(op, fault_ops[i]) == 0) {
			nth_op = atomic_fetch_add(&fault_count[i], 1) + 1;
			break;
		}
	nth_any = atomic_fetch_add(&fault_any, 1) + 1;
	if (slow_op[0] != '\0' &&
	    (strcmp(slow_op, "any") == 0 || strcmp(slow_op, op) == 0))
		(void)usleep((useconds_t)(slow_ms * 1000));
	if (fault_op[0] == '\0')
		return 0;
	if (strcmp(fault_op, "any") == 0) {
		if (nth_any != fault_n)
			return 0;
	} else if (strcmp(fault_op, op) != 0 || nth_op != fault_n)
		return 0;
	if (fault_hang) {
		/* As a call stuck on a dead NFS server: deaf to every
		 * signal (in every thread) but SIGKILL, forever. */
		sigset_t all;
		int sig;

		for (sig = 1; sig < NSIG; sig++)
			if (sig != SIGKILL && sig != SIGSTOP)
				(void)signal(sig, SIG_IGN);
		sigfillset(&all);
		(void)pthread_sigmask(SIG_BLOCK, &all, NULL);
		for (;;)
			pause();
	}
	if (fault_errno == 0) {
		/* As a power cut: no atexit handlers, no cleanup. */
		kill(getpid(), SIGKILL);
		pause();
	}
	errno = fault_errno;
	return -1;
}

time_t
fault_now(void)
{
	const char *s = getenv("PKGDIST_NOW");
	uint64_t v;

	if (s == NULL || num_arg(s, 0, INT64_MAX, &v) == -1)
		return time(NULL);
	return (time_t)v;
}

bool
fault_session_cut(unsigned served)
{
	const char *s = getenv("PKGDIST_FAULT_SESSION");
	uint64_t v;

	return s != NULL && num_arg(s, 1, UINT32_MAX, &v) == 0 && served >= v;
}

#else
/* ISO C forbids an empty translation unit. */
typedef int fault_unused;
#endif
