/*
 * pkgretry — run, queue, list and drop retry jobs (pkgretry(1)).
 *
 * main() parses the options and calls one function per mode.  "run" is
 * the one with care in it: per job it takes the job's run lock without
 * waiting (a job another run holds is skipped), reloads the job, checks
 * that it can still succeed and is still needed, runs the pkgdist tool
 * it names from the directory pkgretry itself lives in, and records the
 * outcome under the short writer lock, only if the job file is still
 * the one it ran (a newer job queued meanwhile is left alone).  The job
 * file is removed only after success, so a crash loses no job.
 */
#include <sys/stat.h>
#include <sys/wait.h>

#include <ctype.h>
#include <grp.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <poll.h>
#include <pwd.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "atomic.h"
#include "dplist.h"
#include "err.h"
#include "exitcode.h"
#include "fault.h"
#include "io.h"
#include "lock.h"
#include "manifest.h"
#include "msg.h"
#include "num.h"
#include "retryjob.h"
#include "store.h"
#include "timefmt.h"

#define DEFAULT_MAX_ATTEMPTS 10
#define DEFAULT_BACKOFF_BASE 60
#define DEFAULT_BACKOFF_CAP  3600
/* A job's time limit: twice pkgpush's longest wait for a DP's lock (an
 * hour), so a push that waited its hour still has one to copy.  Then
 * SIGTERM to its process group, and SIGKILL after the grace period. */
#define DEFAULT_TIMEOUT	     7200
#define DEFAULT_GRACE	     30
#define LAST_LINE_MAX	     1024

enum mode { MODE_NONE, MODE_ADD, MODE_DROP, MODE_LIST, MODE_RUN };

struct run_opts {
	bool now;
	unsigned max_attempts;
	int64_t base, cap;
	int64_t timeout, grace;	   /* a job's time limit, then SIGKILL */
	bool set_max, set_backoff, set_timeout; /* given on the command line */
};

/* The store's own settings for run, overridden by the command line. */
#define CONFIG_NAME "config"
#define CONFIG_MAX  4096

/*
 * The account a job's command runs as: the store's owner, who wrote the
 * job.  A pkgretry run by that account runs it as it is (drop false); one
 * run by root drops to the owner in the child, before exec: groups, gid,
 * then uid, and HOME, USER and LOGNAME are the owner's.
 */
struct runas {
	bool drop;
	uid_t uid;
	gid_t gid;
	gid_t *groups;
	int ngroups;
	char *name, *home;
};

/* What "run" knows about the store, opened only when a job needs it. */
struct run_ctx {
	const char *storepath; /* absolute */
	struct store *store;
	bool dps_loaded;
	struct dplist dps;
	int dirfd;     /* STORE/retry */
	int faileddir; /* STORE/retry/failed */
	int locksdir;  /* STORE/retry/.locks */
	uid_t owner;
	struct runas as; /* whom the jobs run as */
	char exedir[PATH_MAX];
	const struct run_opts *o;
};

static void
usage(FILE *fp)
{
	fprintf(fp,
	    "usage: pkgretry [-s store] run [--now] [--max-attempts n] "
	    "[--backoff base[:cap]]\n"
	    "                [--timeout time[:grace]]\n"
	    "       pkgretry [-s store] add [--error text] -- command "
	    "[arg ...]\n"
	    "       pkgretry [-s store] list\n"
	    "       pkgretry [-s store] drop id\n"
	    "       pkgretry -h\n");
}

/* -h: the usage, then one line per option (pkgretry(1) says more). */
static void
help(void)
{
	usage(stdout);
	fputs("\n"
	    "  -s, --store store     the store (default $PKGDIST_STORE, else\n"
	    "                        /var/lib/pkgdist)\n"
	    "  -h, --help            print this help and exit 0\n"
	    "      --now             run: every job, due or not\n"
	    "      --max-attempts n  run: move a job to failed/ after n "
	    "attempts (10)\n"
	    "      --backoff base[:cap]  run: seconds before the next attempt, "
	    "doubled\n"
	    "                        at each failure up to cap (60:3600)\n"
	    "      --timeout time[:grace]  run: stop a job after time seconds, "
	    "killed\n"
	    "                        grace seconds after SIGTERM (7200:30)\n"
	    "      --error text      add: the job's last error\n"
	    "      --                add: the command to queue follows\n"
	    "\n"
	    "Exit 0 nothing due is left failing, 1 some job failed again, 2 "
	    "trouble.\n", stdout);
}

static noreturn void
bad_usage(void)
{
	usage(stderr);
	exit(EXIT_TROUBLE);
}

/* ---- small helpers ---- */

static void
fmt_span(int64_t s, char *buf, size_t len)
{
	if (s < 120)
		snprintf(buf, len, "%" PRId64 "s", s);
	else if (s < 7200)
		snprintf(buf, len, "%" PRId64 "m", s / 60);
	else if (s < 2 * 86400)
		snprintf(buf, len, "%" PRId64 "h", s / 3600);
	else
		snprintf(buf, len, "%" PRId64 "d", s / 86400);
}

/* A shell word that means arg, for showing a command; bytes a terminal
 * would act on are shown as \ooo (the job file's own escaping). */
static void
put_word(const char *a, FILE *fp)
{
	const unsigned char *p;
	bool plain = *a != '\0';

	for (p = (const unsigned char *)a; *p != '\0'; p++)
		if (!(isalnum(*p) || strchr("@%+=:,./_-", *p) != NULL))
			plain = false;
	if (plain) {
		fputs(a, fp);
		return;
	}
	putc('\'', fp);
	for (p = (const unsigned char *)a; *p != '\0'; p++) {
		if (*p == '\'')
			fputs("'\\''", fp);
		else if (*p < 0x20 || *p == 0x7f)
			fprintf(fp, "\\%03o", *p);
		else
			putc(*p, fp);
	}
	putc('\'', fp);
}

static void
put_command(const struct retryjob *j, FILE *fp)
{
	int i;

	for (i = 0; i < j->argc; i++) {
		if (i > 0)
			putc(' ', fp);
		put_word(j->argv[i], fp);
	}
}

/* A text for one line: control bytes shown as \ooo. */
static void
put_text(const char *s, FILE *fp)
{
	const unsigned char *p;

	for (p = (const unsigned char *)s; *p != '\0'; p++)
		if (*p < 0x20 || *p == 0x7f)
			fprintf(fp, "\\%03o", *p);
		else
			putc(*p, fp);
}

/* Seconds, or a number followed by s, m or h (at most ten years). */
static int
parse_duration(const char *s, size_t len, int64_t *out)
{
	uint64_t v;
	int64_t mul = 1;

	if (len > 0 && s[len - 1] == 'h')
		mul = 3600;
	else if (len > 0 && s[len - 1] == 'm')
		mul = 60;
	if (len > 0 && (mul != 1 || s[len - 1] == 's'))
		len--;
	if (num_u64(s, len, (uint64_t)10 * 365 * 86400 / (uint64_t)mul,
	    &v) == -1 || v == 0)
		return -1;
	*out = (int64_t)v * mul;
	return 0;
}

static int
parse_backoff(const char *s, struct run_opts *o)
{
	const char *colon = strchr(s, ':');

	if (parse_duration(s, colon != NULL ? (size_t)(colon - s) : strlen(s),
		&o->base) == -1)
		return -1;
	if (colon != NULL &&
	    parse_duration(colon + 1, strlen(colon + 1), &o->cap) == -1)
		return -1;
	if (o->cap < o->base)
		o->cap = o->base;
	return 0;
}

/* TIME[:GRACE], each as parse_duration takes it. */
static int
parse_timeout(const char *s, struct run_opts *o)
{
	const char *colon = strchr(s, ':');

	if (parse_duration(s, colon != NULL ? (size_t)(colon - s) : strlen(s),
		&o->timeout) == -1)
		return -1;
	if (colon != NULL &&
	    parse_duration(colon + 1, strlen(colon + 1), &o->grace) == -1)
		return -1;
	return 0;
}

/* Open the store's retry directory and its subdirectories. */
static int
open_retry(
    const char *store, bool create, int *dirfd, int *faileddir, int *locksdir)
{
	*dirfd = *faileddir = -1;
	if (locksdir != NULL)
		*locksdir = -1;
	if (retryjob_opendir(store, create, dirfd) == -1)
		return -1;
	if ((*faileddir = openat(*dirfd, RETRYJOB_FAILED_DIR,
		 O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)) == -1) {
		if (errno == ENOENT && !create)
			return 0;
		return err_sys("cannot open '%s/%s/%s'", store, RETRYJOB_DIR,
		    RETRYJOB_FAILED_DIR);
	}
	if (locksdir != NULL &&
	    (*locksdir = openat(*dirfd, RETRYJOB_LOCKS_DIR,
		 O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)) == -1)
		return err_sys("cannot open '%s/%s/%s'", store, RETRYJOB_DIR,
		    RETRYJOB_LOCKS_DIR);
	return 0;
}

static void
close_fd(int *fd)
{
	if (*fd != -1)
		close(*fd);
	*fd = -1;
}

/* The uid that owns the store directory: job files must have it. */
static int
store_owner(const char *store, uid_t *uid)
{
	struct stat st;

	if (stat(store, &st) == -1)
		return err_sys("cannot stat store '%s'", store);
	*uid = st.st_uid;
	return 0;
}

/* Whoever can write the retry directory can plant or swap job files:
 * it must belong to the store's owner and be closed to group and
 * others, as each job file must. */
static int
dir_trusted(int dirfd, uid_t owner, const char *store)
{
	struct stat st;

	if (fstat(dirfd, &st) == -1)
		return err_sys("cannot stat '%s/%s'", store, RETRYJOB_DIR);
	if (st.st_uid != owner)
		return err_set("'%s/%s' is owned by uid %ju, not by the "
			       "store's owner (uid %ju): refused",
		    store, RETRYJOB_DIR, (uintmax_t)st.st_uid,
		    (uintmax_t)owner);
	if (st.st_mode & (S_IWGRP | S_IWOTH))
		return err_set("'%s/%s' is writable by group or others "
			       "(mode %04o): refused",
		    store, RETRYJOB_DIR, (unsigned)(st.st_mode & 07777));
	return 0;
}

/*
 * STORE/retry/config, if there: "max-attempts N", "backoff BASE[:CAP]"
 * and "timeout TIME[:GRACE]" lines, '#' comments and blank lines;
 * anything else is an error.  Held to the same owner and mode rules as
 * a job file.  What the command line gave wins.
 */
static int
load_config(int dirfd, uid_t owner, struct run_opts *o)
{
	struct run_opts c = *o;
	struct stat st;
	char *buf = NULL, *line, *next, *val;
	size_t len = 0;
	unsigned no = 0;
	uint64_t u;
	int rc = -1;

	if (fstatat(dirfd, CONFIG_NAME, &st, AT_SYMLINK_NOFOLLOW) == -1) {
		if (errno == ENOENT)
			return 0;
		return err_sys("cannot stat '%s'", CONFIG_NAME);
	}
	if (!S_ISREG(st.st_mode) || st.st_uid != owner ||
	    (st.st_mode & (S_IWGRP | S_IWOTH)))
		return err_set("'%s' is not a regular file of the store's "
			       "owner closed to group and others: refused",
		    CONFIG_NAME);
	if (io_slurp(dirfd, CONFIG_NAME, CONFIG_MAX, &buf, &len) == -1)
		return -1;
	if (strlen(buf) != len) {
		err_set("%s: NUL byte", CONFIG_NAME);
		goto out;
	}
	for (line = buf; line != NULL && *line != '\0'; line = next) {
		no++;
		if ((next = strchr(line, '\n')) != NULL)
			*next++ = '\0';
		while (*line == ' ' || *line == '\t')
			line++;
		if (*line == '\0' || *line == '#')
			continue;
		if ((val = strpbrk(line, " \t")) == NULL) {
			err_set("%s:%u: 'KEY VALUE' expected", CONFIG_NAME, no);
			goto out;
		}
		*val++ = '\0';
		val += strspn(val, " \t");
		val[strcspn(val, " \t")] = '\0';
		if (strcmp(line, "max-attempts") == 0) {
			if (num_arg(val, 1, 1000000, &u) == -1) {
				err_set("%s:%u: bad max-attempts '%s'",
				    CONFIG_NAME, no, val);
				goto out;
			}
			c.max_attempts = (unsigned)u;
		} else if (strcmp(line, "timeout") == 0) {
			c.timeout = DEFAULT_TIMEOUT;
			c.grace = DEFAULT_GRACE;
			if (parse_timeout(val, &c) == -1) {
				err_set("%s:%u: bad timeout '%s'", CONFIG_NAME,
				    no, val);
				goto out;
			}
		} else if (strcmp(line, "backoff") == 0) {
			c.base = DEFAULT_BACKOFF_BASE;
			c.cap = DEFAULT_BACKOFF_CAP;
			if (parse_backoff(val, &c) == -1) {
				err_set("%s:%u: bad backoff '%s'", CONFIG_NAME,
				    no, val);
				goto out;
			}
		} else {
			err_set("%s:%u: unknown setting '%s'", CONFIG_NAME, no,
			    line);
			goto out;
		}
	}
	if (!o->set_max)
		o->max_attempts = c.max_attempts;
	if (!o->set_backoff) {
		o->base = c.base;
		o->cap = c.cap;
	}
	if (!o->set_timeout) {
		o->timeout = c.timeout;
		o->grace = c.grace;
	}
	rc = 0;
out:
	free(buf);
	return rc;
}

/*
 * Whom jobs of a store owned by owner run as (struct runas).  A job must
 * never make the account running it do more than the job's owner could:
 * root drops to the owner; any other account than the owner refuses.
 */
static int
runas_init(struct runas *as, uid_t owner)
{
	struct passwd *pw;
	gid_t *g;
	int n = 16;

	memset(as, 0, sizeof(*as));
	as->uid = owner;
	if (geteuid() == owner)
		return 0;
	if (geteuid() != 0)
		return err_set("the store's jobs are its owner's (uid %ju): "
			       "they are run by that account or by root, not "
			       "by uid %ju",
		    (uintmax_t)owner, (uintmax_t)geteuid());
	errno = 0;
	if ((pw = getpwuid(owner)) == NULL)
		return err_set("the store's owner, uid %ju, has no account to "
			       "run its jobs as%s%s",
		    (uintmax_t)owner, errno != 0 ? ": " : "",
		    errno != 0 ? strerror(errno) : "");
	as->drop = true;
	as->gid = pw->pw_gid;
	if ((as->name = strdup(pw->pw_name)) == NULL ||
	    (as->home = strdup(pw->pw_dir)) == NULL)
		return err_sys("cannot allocate");
	for (;;) {
		if ((g = realloc(as->groups, (size_t)n * sizeof(*g))) == NULL)
			return err_sys("cannot allocate");
		as->groups = g;
		if (getgrouplist(as->name, as->gid, g, &n) != -1)
			break;
		if (n > 65536)
			return err_set("'%s' is in too many groups", as->name);
		n *= 2;
	}
	as->ngroups = n;
	return 0;
}

static void
runas_free(struct runas *as)
{
	free(as->groups);
	free(as->name);
	free(as->home);
	memset(as, 0, sizeof(*as));
}

/* In the child, before exec: become the job's owner for good. */
static int
runas_become(const struct runas *as)
{
	if (!as->drop)
		return 0;
	if (setgroups((size_t)as->ngroups, as->groups) == -1 ||
	    setgid(as->gid) == -1 || setuid(as->uid) == -1)
		return -1;
	/* Not to be undone. */
	if (setuid(0) != -1 || geteuid() != as->uid || getegid() != as->gid)
		return -1;
	if (setenv("HOME", as->home, 1) == -1 ||
	    setenv("USER", as->name, 1) == -1 ||
	    setenv("LOGNAME", as->name, 1) == -1)
		return -1;
	return 0;
}

/* ---- run ---- */

enum outcome {
	OUT_SKIP,   /* not due, locked, gone: nothing done */
	OUT_DONE,   /* ran and succeeded, or superseded */
	OUT_FAILED, /* ran and failed, or moved to failed/ */
	OUT_TROUBLE /* could not deal with the job */
};

struct pending {
	char *name;
	int64_t created;
};

static int
cmp_pending(const void *a, const void *b)
{
	const struct pending *x = a, *y = b;

	if (x->created != y->created)
		return x->created < y->created ? -1 : 1;
	return strcmp(x->name, y->name);
}

static int
ctx_store(struct run_ctx *c)
{
	if (c->store == NULL && store_open(c->storepath, 0, &c->store) == -1)
		return -1;
	return 0;
}

static int
ctx_dps(struct run_ctx *c)
{
	char path[PATH_MAX];

	if (c->dps_loaded)
		return 0;
	if (snprintf(path, sizeof(path), "%s/%s", c->storepath, STORE_DPS) >=
	    (int)sizeof(path))
		return err_set("store path too long");
	if (dplist_load(path, &c->dps) == -1) {
		if (err_errno() != ENOENT)
			return -1;
		dplist_init(&c->dps); /* no list: no DP */
	}
	c->dps_loaded = true;
	return 0;
}

static bool
job_has_arg(const struct retryjob *j, const char *arg)
{
	int i;

	for (i = 1; i < j->argc; i++)
		if (strcmp(j->argv[i], arg) == 0)
			return true;
	return false;
}

/*
 * Is the job still possible and still needed?  0 with neither
 * *impossible nor *superseded set: run it; otherwise why says why.
 */
static int
check_job(struct run_ctx *c, const struct retryjob *j, char *why, size_t len,
    bool *impossible, bool *superseded)
{
	struct store_holding *h = NULL;
	size_t n = 0, i;
	bool verify;
	int r;

	*impossible = *superseded = false;
	if (retryjob_command_check(j, c->storepath) == -1) {
		snprintf(why, len, "%s", err_get());
		*impossible = true;
		return 0;
	}
	/* Only a pkgpush job consumes a version and names a DP; a pkgstage
	 * job with --version N is there to make version N. */
	if (j->package == NULL || strcmp(j->argv[0], "pkgpush") != 0)
		return 0;
	if (j->dp != NULL) {
		if (ctx_dps(c) == -1)
			return -1;
		if (dplist_find(&c->dps, j->dp) == NULL) {
			snprintf(why, len,
			    "DP '%s' is no longer in the DP list", j->dp);
			*impossible = true;
			return 0;
		}
	}
	if (j->version == 0)
		return 0;
	if (ctx_store(c) == -1)
		return -1;
	if ((r = store_has_version(c->store, j->package, j->version)) == -1)
		return -1;
	if (r == 0) {
		snprintf(why, len,
		    "version %" PRIu64 " of '%s' is no longer "
		    "in the store",
		    j->version, j->package);
		*impossible = true;
		return 0;
	}
	/* A rollback goes down on purpose; a --verify repair is for a DP
	 * that holds the version but drifted from it: only a DP past its
	 * version makes it needless. */
	if (j->dp == NULL || job_has_arg(j, "--rollback"))
		return 0;
	verify = job_has_arg(j, "--verify");
	if (store_holdings(c->store, j->package, &h, &n) == -1)
		return -1;
	for (i = 0; i < n; i++)
		if (strcmp(h[i].dp, j->dp) == 0 &&
		    (h[i].version > j->version ||
			(h[i].version == j->version && !verify))) {
			snprintf(why, len, "%s already holds version %" PRIu64,
			    j->dp, h[i].version);
			*superseded = true;
			break;
		}
	free(h);
	return 0;
}

/* Is the job file still the bytes we ran?  Caller holds the writer
 * lock.  1 yes, 0 no (replaced, dropped), -1 error. */
static int
job_unchanged(
    struct run_ctx *c, const char *name, const char *orig, size_t origlen)
{
	char *buf = NULL;
	size_t len = 0;
	int r;

	if (io_slurp(c->dirfd, name, RETRYJOB_MAX_BYTES + 1, &buf, &len) ==
	    -1) {
		if (err_errno() == ENOENT)
			return 0;
		return -1;
	}
	r = len == origlen && memcmp(buf, orig, len) == 0;
	free(buf);
	return r;
}

/* Under the writer lock, if the job is still the one we ran: remove it
 * (j == NULL), move it to failed/ (j->reason set) or save it. */
static int
record(struct run_ctx *c, const char *name, const char *orig, size_t origlen,
    struct retryjob *j, bool *replaced)
{
	int lfd, r, rc = -1;

	*replaced = false;
	if ((lfd = retryjob_lock(c->dirfd)) == -1)
		return -1;
	if ((r = job_unchanged(c, name, orig, origlen)) == -1)
		goto out;
	if (r == 0) {
		*replaced = true;
		rc = 0;
		goto out;
	}
	if (j != NULL && j->reason != NULL) {
		if (retryjob_save(c->faileddir, j) == -1)
			goto out;
		j = NULL; /* then remove it from the queue */
	}
	if (j == NULL) {
		if (io_unlink(c->dirfd, name, 0) == -1)
			goto out;
		if (io_fsync_dir(c->dirfd, "retry directory") == -1)
			goto out;
	} else if (retryjob_save(c->dirfd, j) == -1)
		goto out;
	rc = 0;
out:
	retryjob_unlock(lfd);
	return rc;
}

/* How a job's command ended against its time limit. */
enum stop {
	STOP_NONE,	/* exited (or was killed) by itself */
	STOP_TERM,	/* past its time: ended on SIGTERM */
	STOP_KILL,	/* still there after the grace: ended on SIGKILL */
	STOP_LEFT	/* not even SIGKILL ended it: left behind */
};

/* The running job's process group, for the signal forwarder. */
static volatile sig_atomic_t child_pgid;
static const int fwd_sigs[] = { SIGHUP, SIGINT, SIGTERM };
static struct sigaction fwd_old[3];

/*
 * The job's command runs in a process group of its own (so that on its
 * time limit the whole group, ssh included, is stopped), out of reach of
 * the terminal's and cron's signals to pkgretry's group: pass them on,
 * then die of them as before (the saved action: atomic.h's cleanup).
 */
static void
fwd_signal(int sig)
{
	size_t i;

	if (child_pgid > 0)
		(void)kill(-(pid_t)child_pgid, sig);
	for (i = 0; i < 3; i++)
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
	child_pgid = (sig_atomic_t)pgid;
	for (i = 0; i < 3; i++)
		(void)sigaction(fwd_sigs[i], &sa, &fwd_old[i]);
}

static void
fwd_remove(void)
{
	size_t i;

	for (i = 0; i < 3; i++)
		(void)sigaction(fwd_sigs[i], &fwd_old[i], NULL);
	child_pgid = 0;
}

static int64_t
mono_ms(void)
{
	struct timespec ts;

	(void)clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Keep the last complete line of what the child wrote to stderr. */
struct lastline {
	char line[LAST_LINE_MAX];
	size_t len;
};

static void
last_feed(struct lastline *l, const char *buf, size_t n, char *last,
    size_t lastlen)
{
	size_t i;

	for (i = 0; i < n; i++) {
		if (buf[i] == '\n') {
			if (l->len > 0) {
				memcpy(last, l->line, l->len);
				last[l->len] = '\0';
			}
			l->len = 0;
		} else if (l->len < lastlen - 1 && l->len < sizeof(l->line))
			l->line[l->len++] = buf[i];
	}
}

/*
 * Run the job's tool; *status gets the wait status, last the last line
 * it wrote to stderr (which is passed through as it comes).  Past
 * c->o->timeout seconds its process group gets SIGTERM, c->o->grace
 * seconds later SIGKILL; *stop says which ended it.  If even SIGKILL
 * does not end it within the grace (a process stuck in the kernel),
 * it is left behind (*stop STOP_LEFT, *status unset): the run goes on.
 */
static int
run_child(struct run_ctx *c, const struct retryjob *j, int *status,
    enum stop *stop, char *last, size_t lastlen)
{
	char path[PATH_MAX], buf[4096];
	struct lastline ll = { .len = 0 };
	struct pollfd pf;
	struct stat st;
	int pfd[2] = { -1, -1 }, devnull, r;
	int64_t now, deadline;
	ssize_t n;
	pid_t pid;
	bool reaped = false;

	last[0] = '\0';
	*stop = STOP_NONE;
	if (snprintf(path, sizeof(path), "%s/%s", c->exedir, j->argv[0]) >=
	    (int)sizeof(path))
		return err_set("path of '%s' too long", j->argv[0]);
	if (stat(path, &st) == -1 || !S_ISREG(st.st_mode) ||
	    access(path, X_OK) == -1)
		return err_sys("'%s' is not installed beside pkgretry "
			       "('%s')",
		    j->argv[0], path);
	if (pipe(pfd) == -1)
		return err_sys("cannot make a pipe");
	fflush(stdout);
	fflush(stderr);
	if ((pid = fork()) == -1) {
		err_sys("cannot fork");
		close(pfd[0]);
		close(pfd[1]);
		return -1;
	}
	if (pid == 0) {
		(void)setpgid(0, 0);
		close(pfd[0]);
		if (dup2(pfd[1], STDERR_FILENO) == -1)
			_exit(127);
		close(pfd[1]);
		if ((devnull = open("/dev/null", O_RDONLY)) != -1) {
			dup2(devnull, STDIN_FILENO);
			close(devnull);
		}
		signal(SIGPIPE, SIG_DFL);
		if (runas_become(&c->as) == -1) {
			dprintf(STDERR_FILENO,
			    "pkgretry: %s: cannot become the store's owner "
			    "'%s' (uid %ju): %s\n",
			    j->id, c->as.name, (uintmax_t)c->as.uid,
			    strerror(errno));
			_exit(127);
		}
		if (setenv(RETRYJOB_ENV, j->id, 1) == -1 ||
		    setenv(STORE_ENV, c->storepath, 1) == -1)
			_exit(127);
		if (chdir(j->dir) == -1) {
			dprintf(STDERR_FILENO,
			    "pkgretry: %s: cannot enter "
			    "'%s': %s\n",
			    j->id, j->dir, strerror(errno));
			_exit(127);
		}
		execv(path, j->argv);
		dprintf(STDERR_FILENO, "pkgretry: %s: cannot run '%s': %s\n",
		    j->id, path, strerror(errno));
		_exit(127);
	}
	/* Both sides set the group, so a signal sent right after fork()
	 * finds it. */
	(void)setpgid(pid, pid);
	fwd_install(pid);
	close(pfd[1]);
	pf.fd = pfd[0];
	pf.events = POLLIN;
	deadline = mono_ms() + c->o->timeout * 1000;
	for (;;) {
		if (!reaped) {
			if ((r = waitpid(pid, status, WNOHANG)) == pid)
				reaped = true;
			else if (r == -1 && errno != EINTR) {
				err_sys("cannot wait for '%s'", j->argv[0]);
				(void)kill(-pid, SIGKILL);
				break;
			}
		}
		if (reaped && pf.fd == -1)
			break;
		now = mono_ms();
		if (!reaped && now >= deadline) {
			if (*stop == STOP_KILL) {
				*stop = STOP_LEFT;
				break;
			}
			*stop = *stop == STOP_NONE ? STOP_TERM : STOP_KILL;
			(void)kill(-pid, *stop == STOP_TERM ? SIGTERM :
			    SIGKILL);
			if (*stop == STOP_TERM)
				(void)kill(-pid, SIGCONT); /* if stopped */
			deadline = now + c->o->grace * 1000;
			continue;
		}
		/* Wake at least every second to see whether the child has
		 * exited while something it started holds the pipe open;
		 * once it is reaped, take only what is already there. */
		r = reaped ? 0 : deadline - now < 1000 ? (int)(deadline - now) :
		    1000;
		if (pf.fd == -1) {
			/* Its stderr closed: it is exiting (or, rarely,
			 * runs on without it). */
			(void)poll(NULL, 0, r < 20 ? r : 20);
			continue;
		}
		if ((r = poll(&pf, 1, r)) == -1 && errno != EINTR) {
			err_sys("cannot read the output of '%s'", j->argv[0]);
			(void)kill(-pid, SIGKILL);
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
		(void)io_write_full(STDERR_FILENO, buf, (size_t)n, "stderr");
		last_feed(&ll, buf, (size_t)n, last, lastlen);
	}
	fwd_remove();
	if (pf.fd != -1)
		close(pf.fd);
	if (ll.len > 0) {
		memcpy(last, ll.line, ll.len);
		last[ll.len] = '\0';
	}
	if (!reaped && *stop != STOP_LEFT) {
		/* An error above: reap what SIGKILL ended. */
		while (waitpid(pid, status, 0) == -1 && errno == EINTR)
			;
		return -1;
	}
	return 0;
}

static enum outcome
fail_job(struct run_ctx *c, const char *name, const char *orig, size_t origlen,
    struct retryjob *j, const char *reason)
{
	bool replaced;

	free(j->reason);
	if ((j->reason = strdup(reason)) == NULL) {
		msg_warn("%s: cannot allocate:", name);
		return OUT_TROUBLE;
	}
	j->failed = (int64_t)fault_now();
	if (record(c, name, orig, origlen, j, &replaced) == -1) {
		msg_warn(
		    "%s: cannot move the job to failed/: %s", name, err_get());
		return OUT_TROUBLE;
	}
	if (replaced) {
		printf("%s: replaced by a newer job meanwhile: left alone\n",
		    name);
		return OUT_SKIP;
	}
	printf("%s: failed for good: %s: moved to failed/\n", name, reason);
	return OUT_FAILED;
}

static enum outcome
run_one(struct run_ctx *c, const char *name)
{
	struct retryjob j;
	char *orig = NULL, why[512], last[LAST_LINE_MAX], when[TIMEFMT_LEN];
	char in[32];
	char reason[LAST_LINE_MAX + 128], limit[32], grace[32];
	size_t origlen = 0;
	bool impossible, superseded, replaced;
	enum outcome res = OUT_TROUBLE;
	enum stop stop;
	int lfd = -1, status = 0;
	int64_t now;

	retryjob_init(&j);
	if ((lfd = retryjob_run_lock(c->locksdir, name)) == -1) {
		if (err_errno() == EWOULDBLOCK) {
			res = OUT_SKIP; /* another run has it */
			goto out;
		}
		msg_warn("%s: %s", name, err_get());
		goto out;
	}
	if (retryjob_load(
		c->dirfd, name, c->owner, false, &j, &orig, &origlen) == -1) {
		if (err_errno() == ENOENT) {
			res = OUT_SKIP; /* done by another run meanwhile */
			goto out;
		}
		msg_liberr();
		goto out;
	}
	now = (int64_t)fault_now();
	if (!c->o->now && j.next > now) {
		res = OUT_SKIP;
		goto out;
	}
	if (j.attempts >= c->o->max_attempts) {
		snprintf(reason, sizeof(reason),
		    "gave up after %u attempts; "
		    "last error: %s",
		    j.attempts, j.error != NULL ? j.error : "none");
		res = fail_job(c, name, orig, origlen, &j, reason);
		goto out;
	}
	if (check_job(c, &j, why, sizeof(why), &impossible, &superseded) ==
	    -1) {
		msg_warn("%s: %s", name, err_get());
		goto out;
	}
	if (impossible) {
		snprintf(reason, sizeof(reason), "cannot succeed: %s", why);
		res = fail_job(c, name, orig, origlen, &j, reason);
		goto out;
	}
	if (superseded) {
		if (record(c, name, orig, origlen, NULL, &replaced) == -1) {
			msg_warn("%s: %s", name, err_get());
			goto out;
		}
		if (!replaced)
			printf("%s: superseded (%s, the job was for version "
			       "%" PRIu64 "): dropped\n",
			    name, why, j.version);
		res = OUT_DONE;
		goto out;
	}
	printf("%s: running: ", name);
	put_command(&j, stdout);
	putchar('\n');
	if (run_child(c, &j, &status, &stop, last, sizeof(last)) == -1) {
		msg_warn("%s: %s", name, err_get());
		goto out;
	}
	if (stop == STOP_NONE && WIFEXITED(status) &&
	    WEXITSTATUS(status) == 0) {
		if (record(c, name, orig, origlen, NULL, &replaced) == -1) {
			msg_warn("%s: %s", name, err_get());
			goto out;
		}
		printf("%s: done (exit 0)%s\n", name,
		    replaced ? "; a newer job for it was queued meanwhile" :
			       "");
		res = OUT_DONE;
		goto out;
	}
	free(j.error);
	j.error = NULL;
	fmt_span(c->o->timeout, limit, sizeof(limit));
	fmt_span(c->o->grace, grace, sizeof(grace));
	if (stop == STOP_TERM)
		snprintf(reason, sizeof(reason), "%s%stimed out after %s: "
		    "stopped by SIGTERM", last, last[0] != '\0' ? " (" : "",
		    limit);
	else if (stop == STOP_KILL)
		snprintf(reason, sizeof(reason), "%s%stimed out after %s: "
		    "killed by SIGKILL, %s after SIGTERM", last,
		    last[0] != '\0' ? " (" : "", limit, grace);
	else if (stop == STOP_LEFT)
		snprintf(reason, sizeof(reason), "%s%stimed out after %s: "
		    "still there %s after SIGKILL, left behind", last,
		    last[0] != '\0' ? " (" : "", limit, grace);
	else if (WIFEXITED(status))
		snprintf(reason, sizeof(reason), "%s%sexit %d", last,
		    last[0] != '\0' ? " (" : "", WEXITSTATUS(status));
	else
		snprintf(reason, sizeof(reason), "%s%skilled by signal %d",
		    last, last[0] != '\0' ? " (" : "", WTERMSIG(status));
	if (last[0] != '\0')
		strcat(reason, ")");
	if ((j.error = strdup(reason)) == NULL) {
		msg_warn("%s: cannot allocate:", name);
		goto out;
	}
	j.attempts++;
	now = (int64_t)fault_now();
	if (j.attempts >= c->o->max_attempts) {
		snprintf(reason, sizeof(reason),
		    "gave up after %u attempts; "
		    "last error: %s",
		    j.attempts, j.error);
		res = fail_job(c, name, orig, origlen, &j, reason);
		goto out;
	}
	j.next = now + retryjob_backoff(c->o->base, c->o->cap, j.attempts);
	if (record(c, name, orig, origlen, &j, &replaced) == -1) {
		msg_warn("%s: %s", name, err_get());
		goto out;
	}
	timefmt(j.next, when, sizeof(when));
	fmt_span(j.next - now, in, sizeof(in));
	if (replaced)
		printf("%s: failed (%s); a newer job for it was queued "
		       "meanwhile\n",
		    name, j.error);
	else
		printf("%s: failed (%s): attempt %u of %u, next at %s "
		       "(in %s)\n",
		    name, j.error, j.attempts, c->o->max_attempts, when, in);
	res = OUT_FAILED;
out:
	fflush(stdout);
	retryjob_free(&j);
	free(orig);
	if (lfd != -1)
		lock_release(lfd);
	return res;
}

static int
exe_dir(char *buf, size_t len)
{
	ssize_t n;
	char *slash;

	if ((n = readlink("/proc/self/exe", buf, len - 1)) == -1)
		return err_sys("cannot find pkgretry's own directory "
			       "(/proc/self/exe)");
	buf[n] = '\0';
	if ((slash = strrchr(buf, '/')) == NULL)
		return err_set("cannot find pkgretry's own directory");
	*slash = '\0';
	if (buf[0] == '\0')
		strcpy(buf, "/");
	return 0;
}

static int
mode_run(const char *store, const struct run_opts *o)
{
	struct run_ctx c;
	struct run_opts ro = *o;
	struct pending *pv = NULL;
	char **names = NULL;
	size_t n = 0, np = 0, i;
	int rc = EXIT_TROUBLE, trouble = 0, failed = 0;

	memset(&c, 0, sizeof(c));
	c.storepath = store;
	c.o = &ro;
	c.dirfd = c.faileddir = c.locksdir = -1;
	if (exe_dir(c.exedir, sizeof(c.exedir)) == -1 ||
	    store_owner(store, &c.owner) == -1 ||
	    runas_init(&c.as, c.owner) == -1 ||
	    open_retry(store, true, &c.dirfd, &c.faileddir, &c.locksdir) ==
		-1 ||
	    dir_trusted(c.dirfd, c.owner, store) == -1 ||
	    load_config(c.dirfd, c.owner, &ro) == -1) {
		msg_liberr();
		goto out;
	}
	if (retryjob_names(c.dirfd, &names, &n) == -1) {
		msg_liberr();
		goto out;
	}
	if (n > 0 && (pv = calloc(n, sizeof(*pv))) == NULL) {
		msg_warn("cannot allocate:");
		goto out;
	}
	/* Creation order: read each job's time (the job is read again,
	 * under its lock, before it runs). */
	for (i = 0; i < n; i++) {
		struct retryjob j;

		if (retryjob_load(c.dirfd, names[i], c.owner, false, &j, NULL,
			NULL) == -1) {
			if (err_errno() != ENOENT) {
				msg_liberr();
				trouble = 1;
			}
			continue;
		}
		pv[np].name = names[i];
		pv[np].created = j.created;
		np++;
		retryjob_free(&j);
	}
	if (np > 0)
		qsort(pv, np, sizeof(*pv), cmp_pending);
	for (i = 0; i < np; i++) {
		switch (run_one(&c, pv[i].name)) {
		case OUT_FAILED:
			failed = 1;
			break;
		case OUT_TROUBLE:
			trouble = 1;
			break;
		default:
			break;
		}
	}
	rc = trouble ? EXIT_TROUBLE : failed ? EXIT_PARTIAL : EXIT_DONE;
out:
	free(pv);
	retryjob_names_free(names, n);
	if (c.store != NULL)
		store_close(c.store);
	if (c.dps_loaded)
		dplist_free(&c.dps);
	runas_free(&c.as);
	close_fd(&c.dirfd);
	close_fd(&c.faileddir);
	close_fd(&c.locksdir);
	return rc;
}

/* ---- add, list, drop ---- */

static int
mode_add(const char *store, int argc, char *const argv[], const char *error)
{
	struct retryjob j;
	char id[RETRYJOB_ID_MAX + 1];
	int rc = EXIT_TROUBLE, dirfd = -1, lfd = -1;
	const char *running;

	retryjob_init(&j);
	if (retryjob_make(&j, NULL, NULL, 0, argc, argv, error) == -1) {
		msg_liberr();
		goto out;
	}
	if (retryjob_command_check(&j, store) == -1) {
		msg_liberr();
		goto out;
	}
	memcpy(id, j.id, sizeof(id));
	running = getenv(RETRYJOB_ENV);
	if (running != NULL && strcmp(running, id) == 0) {
		printf("%s: being run by pkgretry: not queued again\n", id);
		rc = EXIT_DONE;
		goto out;
	}
	if (retryjob_opendir(store, true, &dirfd) == -1 ||
	    (lfd = retryjob_lock(dirfd)) == -1 ||
	    retryjob_save(dirfd, &j) == -1) {
		msg_liberr();
		goto out;
	}
	printf("%s: queued: ", id);
	put_command(&j, stdout);
	putchar('\n');
	rc = EXIT_DONE;
out:
	retryjob_unlock(lfd);
	if (dirfd != -1)
		close(dirfd);
	retryjob_free(&j);
	return rc;
}

static int
list_dir(int dirfd, uid_t owner, bool failed, int64_t now, bool *first)
{
	char **names = NULL, when[TIMEFMT_LEN], in[32];
	size_t n = 0, i;
	int trouble = 0;

	if (dirfd == -1)
		return 0;
	if (retryjob_names(dirfd, &names, &n) == -1) {
		msg_liberr();
		return -1;
	}
	for (i = 0; i < n; i++) {
		struct retryjob j;

		if (retryjob_load(
			dirfd, names[i], owner, failed, &j, NULL, NULL) == -1) {
			if (err_errno() != ENOENT) {
				msg_liberr();
				trouble = 1;
			}
			continue;
		}
		if (!*first)
			putchar('\n');
		*first = false;
		if (failed) {
			timefmt(j.failed, when, sizeof(when));
			printf("%s  FAILED at %s, after %u attempts\n", j.id,
			    when, j.attempts);
		} else {
			timefmt(j.next, when, sizeof(when));
			if (j.next <= now)
				snprintf(in, sizeof(in), "due");
			else {
				char span[24];

				fmt_span(j.next - now, span, sizeof(span));
				snprintf(in, sizeof(in), "in %s", span);
			}
			printf("%s  attempts %u, next at %s (%s)\n", j.id,
			    j.attempts, when, in);
		}
		printf("  package %s, dp %s, version ",
		    j.package != NULL ? j.package : "-",
		    j.dp != NULL ? j.dp : "-");
		if (j.version != 0)
			printf("%" PRIu64 "\n", j.version);
		else
			printf("-\n");
		timefmt(j.created, when, sizeof(when));
		printf("  queued %s in ", when);
		put_text(j.dir, stdout);
		printf("\n  command: ");
		put_command(&j, stdout);
		putchar('\n');
		if (j.error != NULL) {
			printf("  last error: ");
			put_text(j.error, stdout);
			putchar('\n');
		}
		if (j.reason != NULL) {
			printf("  reason: ");
			put_text(j.reason, stdout);
			putchar('\n');
		}
		retryjob_free(&j);
	}
	retryjob_names_free(names, n);
	return trouble ? -1 : 0;
}

static int
mode_list(const char *store)
{
	int dirfd = -1, faileddir = -1, rc = EXIT_TROUBLE;
	bool first = true;
	int64_t now = (int64_t)fault_now();
	uid_t owner = 0;

	if (store_owner(store, &owner) == -1) {
		msg_liberr();
		goto out;
	}
	if (open_retry(store, false, &dirfd, &faileddir, NULL) == -1) {
		if (err_errno() == ENOENT && dirfd == -1) {
			rc = EXIT_DONE; /* no job was ever queued */
			goto out;
		}
		msg_liberr();
		goto out;
	}
	rc = EXIT_DONE;
	if (list_dir(dirfd, owner, false, now, &first) == -1)
		rc = EXIT_TROUBLE;
	if (list_dir(faileddir, owner, true, now, &first) == -1)
		rc = EXIT_TROUBLE;
out:
	close_fd(&dirfd);
	close_fd(&faileddir);
	return rc;
}

static int
mode_drop(const char *store, const char *arg)
{
	const char *id = arg;
	int dirfd = -1, faileddir = -1, lfd = -1, rc = EXIT_TROUBLE;
	bool infailed = false;
	struct stat st;

	if (strncmp(id, RETRYJOB_FAILED_DIR "/",
		strlen(RETRYJOB_FAILED_DIR) + 1) == 0) {
		id += strlen(RETRYJOB_FAILED_DIR) + 1;
		infailed = true;
	}
	if (!retryjob_id_valid(id)) {
		msg_warn("'%s' is not a job id", arg);
		goto out;
	}
	if (open_retry(store, false, &dirfd, &faileddir, NULL) == -1 ||
	    (lfd = retryjob_lock(dirfd)) == -1) {
		msg_liberr();
		goto out;
	}
	if (!infailed && fstatat(dirfd, id, &st, AT_SYMLINK_NOFOLLOW) == 0) {
		if (io_unlink(dirfd, id, 0) == -1 ||
		    io_fsync_dir(dirfd, "retry directory") == -1) {
			msg_liberr();
			goto out;
		}
		printf("%s: dropped\n", id);
	} else if (faileddir != -1 &&
	    fstatat(faileddir, id, &st, AT_SYMLINK_NOFOLLOW) == 0) {
		if (io_unlink(faileddir, id, 0) == -1 ||
		    io_fsync_dir(faileddir, "failed directory") == -1) {
			msg_liberr();
			goto out;
		}
		printf("%s: dropped from failed/\n", id);
	} else {
		msg_warn("no job '%s'", arg);
		goto out;
	}
	rc = EXIT_DONE;
out:
	retryjob_unlock(lfd);
	close_fd(&dirfd);
	close_fd(&faileddir);
	return rc;
}

/* ---- main ---- */

enum {
	OPT_BACKOFF = 256,
	OPT_ERROR,
	OPT_MAX_ATTEMPTS,
	OPT_NOW,
	OPT_TIMEOUT
};

static const struct option longopts[] = { { "backoff", required_argument, NULL,
					      OPT_BACKOFF },
	{ "error", required_argument, NULL, OPT_ERROR },
	{ "help", no_argument, NULL, 'h' },
	{ "max-attempts", required_argument, NULL, OPT_MAX_ATTEMPTS },
	{ "now", no_argument, NULL, OPT_NOW },
	{ "store", required_argument, NULL, 's' },
	{ "timeout", required_argument, NULL, OPT_TIMEOUT },
	{ NULL, 0, NULL, 0 } };

/* An absolute store path, so a job run in another directory (its own)
 * sees the same store. */
static const char *
abs_store(const char *s, char *buf, size_t len)
{
	char cwd[PATH_MAX];

	if (s[0] == '/')
		return s;
	if (getcwd(cwd, sizeof(cwd)) == NULL ||
	    snprintf(buf, len, "%s/%s", cwd, s) >= (int)len)
		return s;
	return buf;
}

int
main(int argc, char *argv[])
{
	struct run_opts o = { .max_attempts = DEFAULT_MAX_ATTEMPTS,
		.base = DEFAULT_BACKOFF_BASE,
		.cap = DEFAULT_BACKOFF_CAP, .timeout = DEFAULT_TIMEOUT,
		.grace = DEFAULT_GRACE };
	enum mode mode = MODE_NONE;
	const char *storeopt = NULL, *store, *error = NULL, *sub;
	char absbuf[PATH_MAX];
	uint64_t u;
	int ch, rc, pass;

	msg_init(argv[0]);
	argv[0] = (char *)(uintptr_t)msg_progname();
	atomic_install_cleanup();
	signal(SIGPIPE, SIG_IGN);
	/* Options before the subcommand, then the subcommand's own (-s is
	 * accepted in both places). */
	for (pass = 0; pass < 2; pass++) {
		while ((ch = getopt_long(argc, argv, "+hs:", longopts, NULL)) !=
		    -1) {
			switch (ch) {
			case 'h':
				help();
				return msg_close_stdout() == -1 ? EXIT_TROUBLE :
								  EXIT_DONE;
			case 's':
				storeopt = optarg;
				break;
			case OPT_BACKOFF:
				if (mode != MODE_RUN ||
				    parse_backoff(optarg, &o) == -1)
					bad_usage();
				o.set_backoff = true;
				break;
			case OPT_ERROR:
				if (mode != MODE_ADD)
					bad_usage();
				error = optarg;
				break;
			case OPT_MAX_ATTEMPTS:
				if (mode != MODE_RUN ||
				    msg_num_opt("--max-attempts", optarg, 1,
				    1000000, "attempts before a job moves to failed/",
				    &u) == -1)
					bad_usage();
				o.max_attempts = (unsigned)u;
				o.set_max = true;
				break;
			case OPT_NOW:
				if (mode != MODE_RUN)
					bad_usage();
				o.now = true;
				break;
			case OPT_TIMEOUT:
				if (mode != MODE_RUN ||
				    parse_timeout(optarg, &o) == -1)
					bad_usage();
				o.set_timeout = true;
				break;
			default:
				bad_usage();
			}
		}
		if (pass == 1)
			break;
		if (optind >= argc)
			bad_usage();
		sub = argv[optind];
		if (strcmp(sub, "add") == 0)
			mode = MODE_ADD;
		else if (strcmp(sub, "drop") == 0)
			mode = MODE_DROP;
		else if (strcmp(sub, "list") == 0)
			mode = MODE_LIST;
		else if (strcmp(sub, "run") == 0)
			mode = MODE_RUN;
		else {
			msg_warn("'%s': unknown subcommand", sub);
			bad_usage();
		}
		/* Restart getopt on the subcommand's arguments; getopt names
		 * argv[0] in its messages, which must be the tool's. */
		argc -= optind;
		argv += optind;
		argv[0] = (char *)(uintptr_t)msg_progname();
		optind = 0;
	}
	argc -= optind;
	argv += optind;
	store = abs_store(store_path(storeopt), absbuf, sizeof(absbuf));

	switch (mode) {
	case MODE_ADD:
		if (argc < 1)
			bad_usage();
		rc = mode_add(store, argc, argv, error);
		break;
	case MODE_DROP:
		if (argc != 1)
			bad_usage();
		rc = mode_drop(store, argv[0]);
		break;
	case MODE_LIST:
		if (argc != 0)
			bad_usage();
		rc = mode_list(store);
		break;
	case MODE_RUN:
		if (argc != 0)
			bad_usage();
		rc = mode_run(store, &o);
		break;
	default:
		bad_usage();
	}
	if (msg_close_stdout() == -1 && rc == EXIT_DONE)
		rc = EXIT_TROUBLE;
	return rc;
}
