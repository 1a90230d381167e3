/*
 * retryrun.c — the retry engine: settings and trust, judging a job,
 * running it, recording the outcome.  See retryrun.h.
 */
#include <sys/stat.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <inttypes.h>
#include <limits.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "dplist.h"
#include "config.h"
#include "err.h"
#include "fault.h"
#include "io.h"
#include "num.h"
#include "retryrun.h"
#include "timefmt.h"

/* ---- settings ---- */

void
retryrun_opts_init(struct retryrun_opts *o)
{
	memset(o, 0, sizeof(*o));
	o->max_attempts = RETRYRUN_MAX_ATTEMPTS;
	o->base = RETRYRUN_BACKOFF_BASE;
	o->cap = RETRYRUN_BACKOFF_CAP;
	o->timeout = RETRYRUN_TIMEOUT;
	o->grace = RETRYRUN_GRACE;
}

int
retryrun_parse_duration(const char *s, size_t len, int64_t *out)
{
	uint64_t v;
	int64_t mul = 1;

	if (len > 0 && s[len - 1] == 'h')
		mul = 3600;
	else if (len > 0 && s[len - 1] == 'm')
		mul = 60;
	if (len > 0 && (mul != 1 || s[len - 1] == 's'))
		len--;
	if (num_u64(s, len, (uint64_t)10 * 365 * 86400 / (uint64_t)mul, &v) ==
		-1 ||
	    v == 0)
		return err_set("'%.*s' is not a time (seconds, or a number "
			       "with s, m or h)",
		    (int)len, s);
	*out = (int64_t)v * mul;
	return 0;
}

/* A[:B] as two durations; no B: *b unchanged. */
static int
parse_pair(const char *s, int64_t *a, int64_t *b)
{
	const char *colon = strchr(s, ':');

	if (retryrun_parse_duration(s,
		colon != NULL ? (size_t)(colon - s) : strlen(s), a) == -1)
		return -1;
	if (colon != NULL &&
	    retryrun_parse_duration(colon + 1, strlen(colon + 1), b) == -1)
		return -1;
	return 0;
}

int
retryrun_parse_backoff(const char *s, int64_t *base, int64_t *cap)
{
	if (parse_pair(s, base, cap) == -1)
		return -1;
	if (*cap < *base)
		*cap = *base;
	return 0;
}

int
retryrun_parse_timeout(const char *s, int64_t *timeout, int64_t *grace)
{
	return parse_pair(s, timeout, grace);
}

/* One "KEY VALUE" line of the config into c. */
static int
config_line(char *line, unsigned no, struct retryrun_opts *c)
{
	char *val;
	uint64_t u;

	if ((val = strpbrk(line, " \t")) == NULL)
		return err_set("%s:%u: 'KEY VALUE' expected", RETRYRUN_CONFIG,
		    no);
	*val++ = '\0';
	val += strspn(val, " \t");
	val[strcspn(val, " \t")] = '\0';
	if (strcmp(line, "max-attempts") == 0) {
		if (num_arg(val, 1, 1000000, &u) == -1)
			return err_set("%s:%u: bad max-attempts '%s'",
			    RETRYRUN_CONFIG, no, val);
		c->max_attempts = (unsigned)u;
	} else if (strcmp(line, "timeout") == 0) {
		c->timeout = RETRYRUN_TIMEOUT;
		c->grace = RETRYRUN_GRACE;
		if (retryrun_parse_timeout(val, &c->timeout, &c->grace) == -1)
			return err_set("%s:%u: bad timeout '%s'",
			    RETRYRUN_CONFIG, no, val);
	} else if (strcmp(line, "backoff") == 0) {
		c->base = RETRYRUN_BACKOFF_BASE;
		c->cap = RETRYRUN_BACKOFF_CAP;
		if (retryrun_parse_backoff(val, &c->base, &c->cap) == -1)
			return err_set("%s:%u: bad backoff '%s'",
			    RETRYRUN_CONFIG, no, val);
	} else
		return err_set("%s:%u: unknown setting '%s'", RETRYRUN_CONFIG,
		    no, line);
	return 0;
}

int
retryrun_config_parse(const char *buf, size_t len, struct retryrun_opts *o)
{
	struct retryrun_opts c = *o;
	char *copy, *line, *next;
	unsigned no = 0;
	int rc = -1;

	if (memchr(buf, '\0', len) != NULL)
		return err_set("%s: NUL byte", RETRYRUN_CONFIG);
	if ((copy = strndup(buf, len)) == NULL)
		return err_nomem();
	for (line = copy; line != NULL && *line != '\0'; line = next) {
		no++;
		if ((next = strchr(line, '\n')) != NULL)
			*next++ = '\0';
		while (*line == ' ' || *line == '\t')
			line++;
		if (*line == '\0' || *line == '#')
			continue;
		if (config_line(line, no, &c) == -1)
			goto out;
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
	free(copy);
	return rc;
}

/* ---- trust ---- */

int
retryrun_store_owner(const char *store, uid_t *uid)
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

/* STORE/retry/config, if there, held to the rules of a job file. */
static int
load_config(int dirfd, uid_t owner, struct retryrun_opts *o)
{
	struct stat st;
	char *buf = NULL;
	size_t len = 0;
	int rc;

	if (fstatat(dirfd, RETRYRUN_CONFIG, &st, AT_SYMLINK_NOFOLLOW) == -1) {
		if (errno == ENOENT)
			return 0;
		return err_sys("cannot stat '%s'", RETRYRUN_CONFIG);
	}
	if (!S_ISREG(st.st_mode) || st.st_uid != owner ||
	    (st.st_mode & (S_IWGRP | S_IWOTH)))
		return err_set("'%s' is not a regular file of the store's "
			       "owner closed to group and others: refused",
		    RETRYRUN_CONFIG);
	if (io_slurp(dirfd, RETRYRUN_CONFIG, RETRYRUN_CONFIG_MAX, &buf, &len) ==
	    -1)
		return -1;
	rc = retryrun_config_parse(buf, len, o);
	free(buf);
	return rc;
}

/*
 * The account a job's command runs as: the store's owner, who wrote the
 * job.  A pkgretry run by that account runs it as it is (drop false);
 * one run by root drops to the owner in the child, before exec: groups,
 * gid, then uid, and HOME, USER and LOGNAME are the owner's.
 */
struct runas {
	bool drop;
	uid_t uid;
	gid_t gid;
	gid_t *groups;
	int ngroups;
	char *name, *home;
	char *env[4]; /* "HOME=...", "USER=...", "LOGNAME=...", NULL */
};

/* "NAME=VALUE", malloc'd (NULL: out of memory). */
static char *
env_word(const char *name, const char *value)
{
	size_t n = strlen(name) + strlen(value) + 2;
	char *s;

	if ((s = malloc(n)) != NULL)
		snprintf(s, n, "%s=%s", name, value);
	return s;
}

static void
runas_free(struct runas *as)
{
	size_t i;

	free(as->groups);
	free(as->name);
	free(as->home);
	for (i = 0; i < 3; i++)
		free(as->env[i]);
	memset(as, 0, sizeof(*as));
}

static int
runas_groups(struct runas *as)
{
	gid_t *g;
	int n = 16;

	for (;;) {
		if ((g = realloc(as->groups, (size_t)n * sizeof(*g))) == NULL)
			return err_nomem();
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

/* A job must never make the account running it do more than the job's
 * owner could: root drops to the owner; any other account refuses. */
static int
runas_init(struct runas *as, uid_t owner)
{
	struct passwd pwd, *pw = NULL;
	char *buf = NULL, *nb;
	size_t blen = 4096;
	int r, rc = -1;

	memset(as, 0, sizeof(*as));
	as->uid = owner;
	if (geteuid() == owner)
		return 0;
	if (geteuid() != 0)
		return err_set("the store's jobs are its owner's (uid %ju): "
			       "they are run by that account or by root, not "
			       "by uid %ju",
		    (uintmax_t)owner, (uintmax_t)geteuid());
	for (;;) {
		if ((nb = realloc(buf, blen)) == NULL) {
			err_nomem();
			goto out;
		}
		buf = nb;
		if ((r = getpwuid_r(owner, &pwd, buf, blen, &pw)) != ERANGE ||
		    blen > 1 << 20)
			break;
		blen *= 2;
	}
	if (pw == NULL) {
		err_set("the store's owner, uid %ju, has no account to run its "
			"jobs as%s%s",
		    (uintmax_t)owner, r != 0 ? ": " : "",
		    r != 0 ? strerror(r) : "");
		goto out;
	}
	as->drop = true;
	as->gid = pw->pw_gid;
	if ((as->name = strdup(pw->pw_name)) == NULL ||
	    (as->home = strdup(pw->pw_dir)) == NULL ||
	    (as->env[0] = env_word("HOME", as->home)) == NULL ||
	    (as->env[1] = env_word("USER", as->name)) == NULL ||
	    (as->env[2] = env_word("LOGNAME", as->name)) == NULL) {
		err_nomem();
		goto out;
	}
	rc = runas_groups(as);
out:
	free(buf);
	return rc;
}

/* In the child, before exec: become the job's owner for good. */
static int
runas_become(const void *arg)
{
	const struct runas *as = arg;
	char *const *e;

	if (!as->drop)
		return 0;
	if (setgroups((size_t)as->ngroups, as->groups) == -1 ||
	    setgid(as->gid) == -1 || setuid(as->uid) == -1)
		return -1;
	/* Not to be undone. */
	if (setuid(0) != -1 || geteuid() != as->uid || getegid() != as->gid) {
		errno = EPERM;
		return -1;
	}
	for (e = as->env; *e != NULL; e++)
		if (putenv(*e) != 0)
			return -1;
	return 0;
}

/* ---- judging a job ---- */

static bool
job_has_arg(const struct retryjob *j, const char *arg)
{
	int i;

	for (i = 1; i < j->argc; i++)
		if (strcmp(j->argv[i], arg) == 0)
			return true;
	return false;
}

enum retryrun_verdict
retryrun_judge(const struct retryjob *j, const struct retryrun_facts *f,
    char *why, size_t len)
{
	bool verify;
	size_t i;

	if (j->package == NULL || strcmp(j->argv[0], "pkgpush") != 0)
		return RETRYRUN_RUN;
	if (j->dp != NULL && !f->dp_listed) {
		snprintf(why, len, "DP '%s' is no longer in the DP list",
		    j->dp);
		return RETRYRUN_IMPOSSIBLE;
	}
	if (j->version == 0)
		return RETRYRUN_RUN;
	if (!f->version_present) {
		snprintf(why, len,
		    "version %" PRIu64 " of '%s' is no longer in the store",
		    j->version, j->package);
		return RETRYRUN_IMPOSSIBLE;
	}
	/* A rollback goes down on purpose; a --verify repair is for a DP
	 * that holds the version but drifted from it: only a DP past its
	 * version makes it needless. */
	if (j->dp == NULL || job_has_arg(j, "--rollback"))
		return RETRYRUN_RUN;
	verify = job_has_arg(j, "--verify");
	for (i = 0; i < f->nholdings; i++)
		if (strcmp(f->holdings[i].dp, j->dp) == 0 &&
		    (f->holdings[i].version > j->version ||
			(f->holdings[i].version == j->version && !verify))) {
			snprintf(why, len, "%s already holds version %" PRIu64,
			    j->dp, f->holdings[i].version);
			return RETRYRUN_SUPERSEDED;
		}
	return RETRYRUN_RUN;
}

/* ---- the transitions after a run ---- */

int
retryrun_give_up(struct retryjob *j, const char *reason, int64_t now)
{
	free(j->reason);
	if ((j->reason = strdup(reason)) == NULL)
		return err_nomem();
	j->failed = now;
	return 0;
}

/* What ended the run, after the cause (its last line) when there is one. */
static void
exit_text(const struct retryrun_opts *o, const struct retryrun_exit *e,
    char *buf, size_t len)
{
	char limit[32], grace[32], how[128];

	timefmt_span(o->timeout, limit, sizeof(limit));
	timefmt_span(o->grace, grace, sizeof(grace));
	if (e->stop == CHILD_TERM)
		snprintf(how, sizeof(how),
		    "timed out after %s: stopped by SIGTERM", limit);
	else if (e->stop == CHILD_KILL)
		snprintf(how, sizeof(how),
		    "timed out after %s: killed by SIGKILL, %s after SIGTERM",
		    limit, grace);
	else if (e->stop == CHILD_LEFT)
		snprintf(how, sizeof(how),
		    "timed out after %s: still there %s after SIGKILL, left "
		    "behind",
		    limit, grace);
	else if (WIFEXITED(e->status))
		snprintf(how, sizeof(how), "exit %d", WEXITSTATUS(e->status));
	else
		snprintf(how, sizeof(how), "killed by signal %d",
		    WTERMSIG(e->status));
	if (e->last[0] != '\0')
		snprintf(buf, len, "%s (%s)", e->last, how);
	else
		snprintf(buf, len, "%s", how);
}

int
retryrun_after_failure(const struct retryrun_opts *o, struct retryjob *j,
    const struct retryrun_exit *e, int64_t now)
{
	char text[RETRYRUN_WHY_MAX], reason[RETRYRUN_WHY_MAX + 64];

	exit_text(o, e, text, sizeof(text));
	free(j->error);
	if ((j->error = strdup(text)) == NULL)
		return err_nomem();
	j->attempts++;
	if (j->attempts >= o->max_attempts) {
		snprintf(reason, sizeof(reason),
		    "gave up after %u attempts; last error: %s", j->attempts,
		    j->error);
		if (retryrun_give_up(j, reason, now) == -1)
			return -1;
		return 1;
	}
	j->next = now + retryjob_backoff(o->base, o->cap, j->attempts);
	return 0;
}

/* ---- running the queue ---- */

/* What "run" knows about the store, opened only when a job needs it. */
struct run_ctx {
	const char *storepath; /* absolute */
	const char *exedir;
	struct store *store;
	bool dps_loaded;
	struct dplist dps, sites; /* a job's target is in one */
	int dirfd, faileddir, locksdir;
	uid_t owner;
	struct runas as;
	struct retryrun_opts o;
	const struct retryrun_hooks *h;
	void *arg;
	char last[RETRYRUN_LAST_MAX]; /* the running job's last line */
	char line[RETRYRUN_LAST_MAX]; /* the line being read */
	size_t linelen;
};

static int
ctx_dps(struct run_ctx *c)
{
	char path[PATH_MAX], sites[PATH_MAX];

	if (c->dps_loaded)
		return 0;
	if (snprintf(path, sizeof(path), "%s/%s", c->storepath, STORE_DPS) >=
		(int)sizeof(path) ||
	    snprintf(sites, sizeof(sites), "%s/%s", c->storepath,
		STORE_SITES) >= (int)sizeof(sites))
		return err_set("store path too long");
	/* No list: no DP, no site. */
	if (dplist_load_pair(path, sites, &c->dps, &c->sites) == -1)
		return -1;
	c->dps_loaded = true;
	return 0;
}

/* Gather the facts retryrun_judge() needs and judge. */
static int
judge(struct run_ctx *c, const struct retryjob *j, char *why, size_t len,
    enum retryrun_verdict *v)
{
	struct retryrun_facts f = { true, true, NULL, 0 };
	struct store_holding *h = NULL;
	int r;

	*v = RETRYRUN_RUN;
	if (retryjob_command_check(j, c->storepath) == -1) {
		snprintf(why, len, "%s", err_get());
		*v = RETRYRUN_IMPOSSIBLE;
		return 0;
	}
	if (j->package == NULL || strcmp(j->argv[0], "pkgpush") != 0)
		return 0;
	if (j->dp != NULL) {
		if (ctx_dps(c) == -1)
			return -1;
		f.dp_listed = dplist_find(&c->dps, j->dp) != NULL ||
		    dplist_find(&c->sites, j->dp) != NULL;
	}
	if (f.dp_listed && j->version != 0) {
		if (c->store == NULL &&
		    store_open(c->storepath, 0, &c->store) == -1)
			return -1;
		if ((r = store_has_version(c->store, j->package, j->version)) ==
		    -1)
			return -1;
		f.version_present = r == 1;
		if (f.version_present && j->dp != NULL &&
		    store_holdings(c->store, j->package, &h, &f.nholdings) ==
			-1)
			return -1;
		f.holdings = h;
	}
	*v = retryrun_judge(j, &f, why, len);
	free(h);
	return 0;
}

/* Is the job file still the bytes we ran?  Caller holds the writer
 * lock.  1 yes, 0 no (replaced, dropped), -1 error. */
static int
job_unchanged(struct run_ctx *c, const char *name, const char *orig,
    size_t origlen)
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

/* The child's stderr: passed on, and its last complete line kept. */
static void
sink(void *arg, const char *buf, size_t n)
{
	struct run_ctx *c = arg;
	size_t i;

	if (c->h->output != NULL)
		c->h->output(c->arg, buf, n);
	for (i = 0; i < n; i++) {
		if (buf[i] == '\n') {
			if (c->linelen > 0) {
				memcpy(c->last, c->line, c->linelen);
				c->last[c->linelen] = '\0';
			}
			c->linelen = 0;
		} else if (c->linelen < sizeof(c->line) - 1)
			c->line[c->linelen++] = buf[i];
	}
}

/* Run the job's tool; e gets how it ended. */
static int
run_child(struct run_ctx *c, const struct retryjob *j, struct retryrun_exit *e)
{
	char path[PATH_MAX];
	char *env[3] = { NULL, NULL, NULL };
	struct child_spec spec;
	struct child ch;
	struct stat st;
	char why[128];
	int rc = -1;

	c->last[0] = '\0';
	c->linelen = 0;
	e->last = c->last;
	if (snprintf(path, sizeof(path), "%s/%s", c->exedir, j->argv[0]) >=
	    (int)sizeof(path))
		return err_set("path of '%s' too long", j->argv[0]);
	if (stat(path, &st) == -1 || !S_ISREG(st.st_mode) ||
	    access(path, X_OK) == -1)
		return err_sys("'%s' is not installed beside pkgretry ('%s')",
		    j->argv[0], path);
	if ((env[0] = env_word(RETRYJOB_ENV, j->id)) == NULL ||
	    (env[1] = env_word(STORE_ENV, c->storepath)) == NULL) {
		err_nomem();
		goto out;
	}
	snprintf(why, sizeof(why),
	    "cannot become the store's owner '%s' "
	    "(uid %ju)",
	    c->as.name != NULL ? c->as.name : "?", (uintmax_t)c->as.uid);
	memset(&spec, 0, sizeof(spec));
	spec.path = path;
	spec.argv = j->argv;
	spec.dir = j->dir;
	spec.prog = "pkgretry";
	spec.tag = j->id;
	spec.env = env;
	spec.before_exec = runas_become;
	spec.arg = &c->as;
	spec.why_before = why;
	spec.capture_stderr = true;
	if (child_spawn(&spec, &ch) == -1 ||
	    child_supervise(&ch, c->o.timeout * 1000, c->o.grace * 1000, sink,
		c, &e->status, &e->stop) == -1)
		goto out;
	if (c->linelen > 0) {
		memcpy(c->last, c->line, c->linelen);
		c->last[c->linelen] = '\0';
	}
	rc = 0;
out:
	free(env[0]);
	free(env[1]);
	return rc;
}

/* Record j (its reason set) in failed/; the event for it. */
static enum retryrun_event
fail_job(struct run_ctx *c, const char *name, const char *orig, size_t origlen,
    struct retryjob *j, struct retryrun_result *r)
{
	if (record(c, name, orig, origlen, j, &r->replaced) == -1) {
		snprintf(r->why, sizeof(r->why),
		    "%s: cannot move the job to failed/: %s", name, err_get());
		return RETRYRUN_TROUBLE;
	}
	return r->replaced ? RETRYRUN_SKIPPED : RETRYRUN_FAILED;
}

/* The job has been judged worth running: run it and record how. */
static enum retryrun_event
run_judged(struct run_ctx *c, const char *name, const char *orig,
    size_t origlen, struct retryjob *j, struct retryrun_result *r)
{
	struct retryrun_exit e;
	int g;

	if (c->h->start != NULL)
		c->h->start(c->arg, j);
	if (run_child(c, j, &e) == -1)
		goto trouble;
	r->now = (int64_t)fault_now();
	if (e.stop == CHILD_EXITED && WIFEXITED(e.status) &&
	    WEXITSTATUS(e.status) == 0) {
		if (record(c, name, orig, origlen, NULL, &r->replaced) == -1)
			goto trouble;
		return RETRYRUN_DONE;
	}
	if ((g = retryrun_after_failure(&c->o, j, &e, r->now)) == -1)
		goto trouble;
	if (g == 1)
		return fail_job(c, name, orig, origlen, j, r);
	if (record(c, name, orig, origlen, j, &r->replaced) == -1)
		goto trouble;
	return RETRYRUN_AGAIN;
trouble:
	snprintf(r->why, sizeof(r->why), "%s: %s", name, err_get());
	return RETRYRUN_TROUBLE;
}

/* The job is loaded and locked: give it up, drop it, or run it. */
static enum retryrun_event
deal(struct run_ctx *c, const char *name, const char *orig, size_t origlen,
    struct retryjob *j, struct retryrun_result *r)
{
	char why[RETRYRUN_WHY_MAX], reason[RETRYRUN_WHY_MAX + 64];
	enum retryrun_verdict v;

	r->now = (int64_t)fault_now();
	if (!c->o.now && j->next > r->now)
		return RETRYRUN_SKIPPED;
	if (j->attempts >= c->o.max_attempts) {
		snprintf(reason, sizeof(reason),
		    "gave up after %u attempts; last error: %s", j->attempts,
		    j->error != NULL ? j->error : "none");
		goto give_up;
	}
	if (judge(c, j, why, sizeof(why), &v) == -1) {
		snprintf(r->why, sizeof(r->why), "%s: %s", name, err_get());
		return RETRYRUN_TROUBLE;
	}
	if (v == RETRYRUN_IMPOSSIBLE) {
		snprintf(reason, sizeof(reason), "cannot succeed: %s", why);
		goto give_up;
	}
	if (v == RETRYRUN_SUPERSEDED) {
		snprintf(r->why, sizeof(r->why), "%s", why);
		if (record(c, name, orig, origlen, NULL, &r->replaced) == -1) {
			snprintf(r->why, sizeof(r->why), "%s: %s", name,
			    err_get());
			return RETRYRUN_TROUBLE;
		}
		return RETRYRUN_DROPPED;
	}
	return run_judged(c, name, orig, origlen, j, r);
give_up:
	if (retryrun_give_up(j, reason, r->now) == -1) {
		snprintf(r->why, sizeof(r->why), "%s: %s", name, err_get());
		return RETRYRUN_TROUBLE;
	}
	return fail_job(c, name, orig, origlen, j, r);
}

/* One job: lock, load, deal with it, tell the caller. */
static void
run_one(struct run_ctx *c, const char *name, bool *failed, bool *trouble)
{
	struct retryrun_result r;
	struct retryjob j;
	char *orig = NULL;
	size_t origlen = 0;
	int lfd;

	memset(&r, 0, sizeof(r));
	r.max_attempts = c->o.max_attempts;
	retryjob_init(&j);
	if ((lfd = retryjob_run_lock(c->locksdir, name)) == -1) {
		if (err_errno() == EWOULDBLOCK)
			r.event = RETRYRUN_SKIPPED; /* another run has it */
		else {
			snprintf(r.why, sizeof(r.why), "%s: %s", name,
			    err_get());
			r.event = RETRYRUN_TROUBLE;
		}
	} else if (retryjob_load(c->dirfd, name, c->owner, false, &j, &orig,
		       &origlen) == -1) {
		/* Gone: done by another run meanwhile. */
		r.event =
		    err_errno() == ENOENT ? RETRYRUN_SKIPPED : RETRYRUN_TROUBLE;
		snprintf(r.why, sizeof(r.why), "%s", err_get());
	} else
		r.event = deal(c, name, orig, origlen, &j, &r);
	if (r.event == RETRYRUN_AGAIN || r.event == RETRYRUN_FAILED)
		*failed = true;
	if (r.event == RETRYRUN_TROUBLE)
		*trouble = true;
	if (c->h->end != NULL)
		c->h->end(c->arg, name, &j, &r);
	retryjob_free(&j);
	free(orig);
	retryjob_unlock(lfd);
}

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

/* The queue's jobs in creation order (each is read again, under its
 * lock, before it runs); a job that cannot be read is trouble, told. */
static int
pending_list(struct run_ctx *c, char **names, size_t n, struct pending *pv,
    size_t *np, bool *trouble)
{
	struct retryrun_result r;
	struct retryjob j;
	size_t i;

	*np = 0;
	for (i = 0; i < n; i++) {
		if (retryjob_load(c->dirfd, names[i], c->owner, false, &j, NULL,
			NULL) == -1) {
			if (err_errno() == ENOENT)
				continue;
			memset(&r, 0, sizeof(r));
			r.event = RETRYRUN_TROUBLE;
			snprintf(r.why, sizeof(r.why), "%s", err_get());
			*trouble = true;
			if (c->h->end != NULL)
				c->h->end(c->arg, names[i], &j, &r);
			continue;
		}
		pv[*np].name = names[i];
		pv[*np].created = j.created;
		(*np)++;
		retryjob_free(&j);
	}
	if (*np > 0)
		qsort(pv, *np, sizeof(*pv), cmp_pending);
	return 0;
}

static void
ctx_free(struct run_ctx *c)
{
	if (c->store != NULL)
		store_close(c->store);
	if (c->dps_loaded) {
		dplist_free(&c->dps);
		dplist_free(&c->sites);
	}
	runas_free(&c->as);
	if (c->dirfd != -1)
		close(c->dirfd);
	if (c->faileddir != -1)
		close(c->faileddir);
	if (c->locksdir != -1)
		close(c->locksdir);
}

int
retryrun_run(const char *store, const char *exedir,
    const struct retryrun_opts *o, const struct retryrun_hooks *h, void *arg,
    bool *failed, bool *trouble)
{
	static const struct retryrun_hooks none = { NULL, NULL, NULL };
	struct run_ctx c;
	struct pending *pv = NULL;
	char **names = NULL;
	size_t n = 0, np = 0, i;
	int rc = -1;

	*failed = *trouble = false;
	memset(&c, 0, sizeof(c));
	c.storepath = store;
	c.exedir = exedir;
	c.o = *o;
	c.h = h != NULL ? h : &none;
	c.arg = arg;
	c.dirfd = c.faileddir = c.locksdir = -1;
	if (retryrun_store_owner(store, &c.owner) == -1 ||
	    runas_init(&c.as, c.owner) == -1 ||
	    retryrun_open_queue(store, true, &c.dirfd, &c.faileddir,
		&c.locksdir) == -1 ||
	    dir_trusted(c.dirfd, c.owner, store) == -1 ||
	    load_config(c.dirfd, c.owner, &c.o) == -1 ||
	    retryjob_names(c.dirfd, &names, &n) == -1)
		goto out;
	if (n == 0) {
		rc = 0; /* nothing queued */
		goto out;
	}
	/* With jobs to look at, STORE/config first: a malformed setting is
	 * trouble to mend, not an attempt of every job that would fail on
	 * it. */
	if (config_check(store) == -1)
		goto out;
	if ((pv = calloc(n, sizeof(*pv))) == NULL) {
		err_nomem();
		goto out;
	}
	if (pending_list(&c, names, n, pv, &np, trouble) == -1)
		goto out;
	for (i = 0; i < np; i++)
		run_one(&c, pv[i].name, failed, trouble);
	rc = 0;
out:
	free(pv);
	retryjob_names_free(names, n);
	ctx_free(&c);
	return rc;
}

/* ---- the queue's directories, the program's own ---- */

int
retryrun_exedir(char *buf, size_t len)
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

int
retryrun_open_queue(const char *store, bool create, int *dirfd, int *faileddir,
    int *locksdir)
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
list_dir(int dirfd, uid_t owner, bool failed,
    void (*each)(void *, const struct retryjob *, bool),
    void (*bad)(void *, const char *), void *arg, bool *trouble)
{
	struct retryjob j;
	char **names = NULL;
	size_t n = 0, i;

	if (dirfd == -1)
		return;
	if (retryjob_names(dirfd, &names, &n) == -1) {
		bad(arg, err_get());
		*trouble = true;
		return;
	}
	for (i = 0; i < n; i++) {
		if (retryjob_load(dirfd, names[i], owner, failed, &j, NULL,
			NULL) == -1) {
			if (err_errno() != ENOENT) {
				bad(arg, err_get());
				*trouble = true;
			}
			continue;
		}
		each(arg, &j, failed);
		retryjob_free(&j);
	}
	retryjob_names_free(names, n);
}

int
retryrun_list(const char *store,
    void (*each)(void *, const struct retryjob *, bool),
    void (*bad)(void *, const char *), void *arg, bool *trouble)
{
	int dirfd = -1, faileddir = -1, rc = -1;
	uid_t owner = 0;

	*trouble = false;
	if (retryrun_store_owner(store, &owner) == -1)
		return -1;
	if (retryrun_open_queue(store, false, &dirfd, &faileddir, NULL) == -1) {
		if (err_errno() == ENOENT && dirfd == -1)
			rc = 0; /* no job was ever queued */
		goto out;
	}
	list_dir(dirfd, owner, false, each, bad, arg, trouble);
	list_dir(faileddir, owner, true, each, bad, arg, trouble);
	rc = 0;
out:
	if (dirfd != -1)
		close(dirfd);
	if (faileddir != -1)
		close(faileddir);
	return rc;
}

/* Remove name from dir, if it is there: 1 removed, 0 not there. */
static int
drop_from(int dir, const char *name, const char *what)
{
	struct stat st;

	if (dir == -1 || fstatat(dir, name, &st, AT_SYMLINK_NOFOLLOW) == -1)
		return 0;
	if (io_unlink(dir, name, 0) == -1 || io_fsync_dir(dir, what) == -1)
		return -1;
	return 1;
}

int
retryrun_drop(const char *store, const char *arg, bool *from_failed)
{
	const char *id = arg;
	int dirfd = -1, faileddir = -1, lfd = -1, r = 0, rc = -1;
	bool infailed = false;

	*from_failed = false;
	if (strncmp(id, RETRYJOB_FAILED_DIR "/",
		strlen(RETRYJOB_FAILED_DIR) + 1) == 0) {
		id += strlen(RETRYJOB_FAILED_DIR) + 1;
		infailed = true;
	}
	if (!retryjob_id_valid(id))
		return err_set("'%s' is not a job id", arg);
	if (retryrun_open_queue(store, false, &dirfd, &faileddir, NULL) == -1 ||
	    (lfd = retryjob_lock(dirfd)) == -1)
		goto out;
	if (!infailed && (r = drop_from(dirfd, id, "retry directory")) == -1)
		goto out;
	if (r == 0) {
		if ((r = drop_from(faileddir, id, "failed directory")) == -1)
			goto out;
		*from_failed = r == 1;
	}
	if (r == 0) {
		err_code(ENOENT, "no job '%s'", arg);
		goto out;
	}
	rc = 0;
out:
	retryjob_unlock(lfd);
	if (dirfd != -1)
		close(dirfd);
	if (faileddir != -1)
		close(faileddir);
	return rc;
}
