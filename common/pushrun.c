/*
 * pushrun.c — a push of one package version to its target DPs
 * (pushrun.h).
 */
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "err.h"
#include "fanout.h"
#include "fault.h"
#include "manifest.h"
#include "progress.h"
#include "pushrun.h"
#include "ratelimit.h"
#include "reflink.h"
#include "remote.h"
#include "retryjob.h"
#include "scan.h"
#include "store.h"
#include "workq.h"

/* A bandwidth cap: the rate of a ratelimit.h limiter, from the bwlimit
 * lines of STORE/config (asked at every transfer, so windows switch
 * during a push) and --bwlimit. */
struct cap {
	const struct config *cfg;
	const char *name;  /* the target, or "*": the command's total */
	const char *group; /* the target's group, or NULL */
	uint64_t fixed;	   /* --bwlimit (the total only), 0: none */
};

struct run;

struct job {
	const struct dp *dp;
	struct run *run;
	struct remote_conn *conn; /* ssh started early, or NULL */
	size_t conn_upto;	  /* the last job conn's session lists */
	struct cap cap;
	struct ratelimit *rate;	     /* remote DPs under a cap, else NULL */
	struct content_source inner; /* what job_source_write() asks */
	bool taken;		     /* a thread has it (under run->mu) */
	int result;	    /* 0 done, -1 failed, -2 the store failed */
	bool store_damaged; /* a content the store could not give (under
			     * run->mu: set by writer threads) */
};

struct run {
	const struct pushrun_opts *o;
	const struct pushrun_hooks *h;
	void *arg;
	struct store *store;
	const char *pkg;
	const struct manifest *m;
	struct job *jobs;
	size_t njobs;
	pthread_mutex_t mu;
	struct progress *progress;
	int nthreads;
	bool env_warned;       /* retry_env_note() said it (under mu) */
	struct fanout *fanout; /* two local DPs or more: each content read
				* from the store once (fanout.h) */
	struct content_source fanout_src;
	/* Contents found damaged in the store (under mu; rare, so a short
	 * list): a DP that failed on one gets no retry job. */
	unsigned char (*damaged)[DIGEST_LEN];
	size_t ndamaged;
	bool *want_sites; /* o->sites->n: the sites picked */
	size_t nsites, nsites_failed;
	/* Hosts whose pkgpush takes one DP a session (an older release:
	 * remote.h), under mu: no session of several is tried again. */
	const struct dp_target **one_dp;
	size_t none_dp;
};

/*
 * A thread's own (workq_run_ops()): the ssh session it keeps after a
 * remote DP for the next DP of the same host (remote.h), and the last
 * job whose path that session was started with.
 */
struct worker {
	struct remote_conn *session;
	size_t upto;
};

void
pushrun_opts_init(struct pushrun_opts *o)
{
	memset(o, 0, sizeof(*o));
	o->keep = 2;
}

/* Tell the caller "NAME: TEXT"; called with run->mu held. */
static void note(struct run *run, const char *name, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void
note(struct run *run, const char *name, const char *fmt, ...)
{
	va_list ap;
	char *text;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0 || (text = malloc((size_t)n + 1)) == NULL) {
		run->h->note(run->arg, name, "out of memory");
		return;
	}
	va_start(ap, fmt);
	(void)vsnprintf(text, (size_t)n + 1, fmt, ap);
	va_end(ap);
	run->h->note(run->arg, name, text);
	free(text);
}

static void
note_locked(struct run *run, const char *name, const char *text)
{
	pthread_mutex_lock(&run->mu);
	run->h->note(run->arg, name, text);
	pthread_mutex_unlock(&run->mu);
}

static uint64_t
cap_rate(void *ctx, time_t now)
{
	const struct cap *c = ctx;
	const struct config_bwlimit *b;
	uint64_t rate = c->fixed;

	b = config_bwlimit_find(c->cfg, c->name, c->group, now);
	if (b != NULL && (rate == 0 || b->rate < rate))
		rate = b->rate;
	return rate;
}

/* ---- the content source: the store ---- */

/* ctx is the struct run (read only here, by every writer thread).  A
 * content the store cannot give is named by package, version and file,
 * not by its digest alone; a damaged one (missing or not what its
 * digest says: no failed system call, where a read error may pass) is
 * noted in run->damaged. */
static int
store_source_failed(struct run *run, const unsigned char d[DIGEST_LEN],
    bool fault)
{
	unsigned char(*nv)[DIGEST_LEN];
	bool damaged;

	if (!fault)
		return -1;
	damaged = err_errno() == 0;
	(void)store_err_content(run->pkg, run->m->version, run->m, d);
	if (!damaged)
		return -1;
	pthread_mutex_lock(&run->mu);
	if ((nv = realloc(run->damaged, (run->ndamaged + 1) * sizeof(*nv))) !=
	    NULL) {
		run->damaged = nv;
		memcpy(run->damaged[run->ndamaged++], d, DIGEST_LEN);
	}
	pthread_mutex_unlock(&run->mu);
	return -1;
}

static int
store_source_write(void *ctx, const unsigned char d[DIGEST_LEN], uint64_t size,
    int fd, const char *what)
{
	struct run *run = ctx;
	bool fault = false;

	if (store_content_copy(run->store, d, size, fd, what, &fault) == 0)
		return 0;
	return store_source_failed(run, d, fault);
}

/* A changed large file with an old copy on the DP: the blocks they
 * have in common are shared where the DP's file system can
 * (reflink.h). */
static int
store_source_write_shared(struct run *run, const unsigned char d[DIGEST_LEN],
    uint64_t size, int oldfd, const struct entry *old, int fd, const char *what,
    uint64_t *written)
{
	bool fault = false;

	if (reflink_copy(run->store, d, size, oldfd, old, fd, what, written,
		&fault) == 0)
		return 0;
	return store_source_failed(run, d, fault);
}

/* One DP's source: the store's (or the fanout over it, which asks the
 * store on its behalf), marking the job when the content it failed on
 * is one the store has damaged. */
static int
job_source_prepare(void *ctx, const struct dp_need *v, size_t n)
{
	struct job *job = ctx;

	return job->inner.prepare(job->inner.ctx, v, n);
}

/* The job failed on content d: mark it when the store has d damaged.
 * Returns -1. */
static int
job_source_failed(struct job *job, const unsigned char d[DIGEST_LEN])
{
	struct run *run = job->run;
	size_t i;

	pthread_mutex_lock(&run->mu);
	for (i = 0; i < run->ndamaged; i++)
		if (memcmp(run->damaged[i], d, DIGEST_LEN) == 0)
			job->store_damaged = true;
	pthread_mutex_unlock(&run->mu);
	return -1;
}

static int
job_source_write(void *ctx, const unsigned char d[DIGEST_LEN], uint64_t size,
    int fd, const char *what)
{
	struct job *job = ctx;

	if (job->inner.write(job->inner.ctx, d, size, fd, what) == 0)
		return 0;
	return job_source_failed(job, d);
}

/* Past the fanout: what is shared with this DP's own old copy is read
 * from the store for this DP alone. */
static int
job_source_write_shared(void *ctx, const unsigned char d[DIGEST_LEN],
    uint64_t size, int oldfd, const struct entry *old, int fd, const char *what,
    uint64_t *written)
{
	struct job *job = ctx;

	if (store_source_write_shared(job->run, d, size, oldfd, old, fd, what,
		written) == 0)
		return 0;
	return job_source_failed(job, d);
}

/* ---- one DP ---- */

/*
 * Record the outcome in the store (holdings) and on the DP (state).  A
 * refused move (dp_push_refused()) is no failure of the DP: it still
 * holds its version as it did, and is recorded so.
 */
static void
record(struct run *run, const struct dp *dp, struct dp_handle *h,
    const struct dp_push_result *r, int rc, const char *why)
{
	struct store_holding hd, known;
	struct dp_state st;
	bool refused = rc != 0 && dp_push_refused(r, run->o->rollback);
	int k;

	memset(&hd, 0, sizeof(hd));
	snprintf(hd.dp, sizeof(hd.dp), "%s", dp->name);
	hd.time = fault_now();
	hd.wanted = r->new_version;
	if (rc == 0) {
		hd.version = r->new_version;
		hd.state = STORE_HOLD_COMPLETE;
	} else if (refused) {
		hd.version = hd.wanted = r->old_version;
		hd.state =
		    r->old_partial ? STORE_HOLD_PARTIAL : STORE_HOLD_COMPLETE;
		if (h != NULL && h->rootfd != -1 &&
		    dp_state_read(h, run->pkg, &st, NULL) == 0) {
			if (st.status == DP_ST_PARTIAL)
				hd.version = hd.wanted = st.from;
			dp_state_free(&st);
		}
	} else {
		hd.version = r->held ? r->old_version : 0;
		hd.state = STORE_HOLD_FAILED;
		if (h != NULL && h->rootfd != -1 &&
		    dp_note_failure(h, run->pkg, why, &st) == 0) {
			if (st.status == DP_ST_PARTIAL) {
				hd.state = STORE_HOLD_PARTIAL;
				hd.version = st.from;
			} else if (st.status == DP_ST_COMPLETE)
				hd.version = st.version;
			dp_state_free(&st);
		} else if (!r->held) {
			/* Unreachable: keep what the store knew. */
			if ((k = store_holding_find(run->store, run->pkg,
				 dp->name, &known)) == 1)
				hd.version = known.version;
			else if (k == -1)
				note_locked(run, dp->name, err_get());
		}
	}
	if (store_holding_record(run->store, run->pkg, &hd) == -1)
		note_locked(run, dp->name, err_get());
}

/*
 * A retry job runs later, often from cron, without this command's
 * environment: where a variable overrides a setting of STORE/config,
 * say once that the retry will use the file, and which line to add.
 * Called with run->mu held.
 */
static void
retry_env_note(struct run *run, const struct dp *dp)
{
	const struct config *cfg = store_config(run->store);
	struct config_env_override ov[CONFIG_ENV_MAX];
	int n, i;

	if (run->env_warned || dp->target.kind != DP_SSH)
		return;
	run->env_warned = true;
	if ((n = config_env_overrides(cfg, ov)) == -1) {
		run->h->note(run->arg, NULL, err_get());
		return;
	}
	for (i = 0; i < n; i++)
		note(run, dp->name,
		    "the retry will not see $%s but the "
		    "settings of '%s': add the line '%s' there",
		    ov[i].var, cfg->path, ov[i].line);
	config_env_overrides_free(ov, (size_t)n);
}

/* The DP is done: tell the caller, and record it. */
static void
job_done(struct run *run, const struct dp *dp, struct dp_handle *h,
    const struct dp_push_result *r)
{
	pthread_mutex_lock(&run->mu);
	progress_hold();
	run->h->done(run->arg, dp, r);
	progress_release();
	pthread_mutex_unlock(&run->mu);
	if (!run->o->dry_run)
		record(run, dp, h, r, 0, NULL);
}

/* Queue the retry job of target dp (a DP or a site), the command as
 * parsed narrowed to it; its id goes to id (*queued). */
static void
queue_retry(struct run *run, const struct dp *dp, const char *why, char *id,
    bool *queued)
{
	const struct pushrun_opts *o = run->o;
	char **nv = NULL;
	int nc = 0;

	/* The job is built from the options as parsed (an abbreviated
	 * --onl is --only), never from the words typed. */
	if (retryjob_pkgpush_argv(o->argc, o->argv, o->shortopts, o->longopts,
		o->drop, dp->name, run->m->version, &nc, &nv) == -1 ||
	    retryjob_queue(store_dir(run->store), run->pkg, dp->name,
		run->m->version, nc, nv, why, id, queued) == -1)
		note_locked(run, dp->name, err_get());
	else if (*queued) {
		/* Not when pkgretry runs this very job: it records the
		 * cause, the note above, as the job's last error. */
		pthread_mutex_lock(&run->mu);
		note(run, dp->name, "retry queued as '%s'", id);
		retry_env_note(run, dp);
		pthread_mutex_unlock(&run->mu);
	}
	if (nv != NULL)
		retryjob_argv_free(nc, nv);
}

/*
 * After a failed push to the DP: record it, and queue a retry job
 * unless waiting cannot help.  The retry's id goes to id (*queued).
 * -2 when the store failed the DP, else -1.
 */
static int
job_failed(struct run *run, struct job *job, struct dp_handle *h,
    const struct dp_push_result *r, const char *why, char *id, bool *queued)
{
	const struct pushrun_opts *o = run->o;
	const struct dp *dp = job->dp;
	bool damaged, running;

	note_locked(run, dp->name, why);
	if (o->dry_run)
		return -1;
	record(run, dp, h, r, -1, why);
	/* Run by pkgretry as this DP's job, say nothing about a retry:
	 * the cause, the note above, is what it records. */
	running = retryjob_running(run->pkg, dp->name);
	pthread_mutex_lock(&run->mu);
	damaged = job->store_damaged;
	if (!running) {
		if (damaged)
			run->h->note(run->arg, dp->name,
			    "not queued for "
			    "retry: the store is damaged and waiting will not "
			    "mend it (see pkgstage fsck)");
		else if (dp_push_refused(r, o->rollback))
			note(run, dp->name,
			    "not queued for retry: it still "
			    "holds %s %" PRIu64 " as it did",
			    run->pkg, r->old_version);
		else if (r->permanent)
			run->h->note(run->arg, dp->name,
			    "not queued for "
			    "retry (waiting will not help)");
	}
	pthread_mutex_unlock(&run->mu);
	if (damaged)
		return -2;
	if (dp_push_refused(r, o->rollback) || r->permanent)
		return -1;
	queue_retry(run, dp, why, id, queued);
	return -1;
}

static void
job_push_opts(struct run *run, struct job *job, struct dp_push_opts *po)
{
	const struct pushrun_opts *o = run->o;

	dp_push_opts_init(po);
	po->inplace = o->inplace;
	po->verify = o->verify;
	po->rollback = o->rollback;
	po->dry_run = o->dry_run;
	po->keep = o->keep;
	po->jobs = run->nthreads > 1 ? 2 : 0;
	/* The store may be read by several threads at once: share the
	 * CPUs between the DPs pushed at once. */
	po->write_threads =
	    scan_ncpu() / (run->nthreads > 0 ? run->nthreads : 1);
	if (po->write_threads > 4)
		po->write_threads = 4;
	/* The DPs pushed at once begin at different points of the list:
	 * the first copy of each content (read, inflated and checked)
	 * is then made by all of them at once, not by the first while the
	 * others wait for it. */
	if (run->fanout != NULL && run->nthreads > 1) {
		po->staggers = (unsigned)run->nthreads;
		po->stagger = (unsigned)((size_t)(job - run->jobs) %
		    (size_t)run->nthreads);
	}
	po->progress = run->progress;
	po->rate = job->rate;
}

/* ---- sessions: several remote DPs of one host over one ssh login ---- */

/* Most bytes of paths one session's remote command carries. */
#define SESSION_PATH_BYTES 16384

/* Called with run->mu held. */
static bool
one_dp_host(const struct run *run, const struct dp_target *t)
{
	size_t i;

	for (i = 0; i < run->none_dp; i++)
		if (remote_same_login(run->one_dp[i], t))
			return true;
	return false;
}

static void
note_one_dp_host(struct run *run, const struct dp_target *t)
{
	const struct dp_target **v;

	pthread_mutex_lock(&run->mu);
	if (!one_dp_host(run, t) &&
	    (v = realloc(run->one_dp,
		 (run->none_dp + 1) * sizeof(const struct dp_target *))) !=
		NULL) {
		v[run->none_dp++] = t;
		run->one_dp = v;
	}
	pthread_mutex_unlock(&run->mu);
}

/*
 * Start the session for job i: ssh to its host, the remote given i's
 * path and those of the jobs from `from` on, on the same login, host and
 * port, that no thread has yet and that have no connection of their own,
 * so that the thread that takes them next pushes them over it.  *upto:
 * the last such job.  A host noted as taking one DP a session gets one.
 */
static int
session_open(struct run *run, size_t i, size_t from, struct remote_conn **c,
    size_t *upto)
{
	const struct dp_target *t = &run->jobs[i].dp->target, *u;
	const char **more = NULL;
	size_t n = 0, bytes = 0, j;
	int rc;

	*upto = i;
	pthread_mutex_lock(&run->mu);
	if (!one_dp_host(run, t) &&
	    (more = malloc((PROTO_PATHS_MAX - 1) * sizeof(*more))) != NULL)
		for (j = from; j < run->njobs && n < PROTO_PATHS_MAX - 1; j++) {
			u = &run->jobs[j].dp->target;
			if (j == i || run->jobs[j].taken ||
			    run->jobs[j].conn != NULL ||
			    !remote_same_login(u, t))
				continue;
			if ((bytes += strlen(u->path)) > SESSION_PATH_BYTES)
				break;
			more[n++] = u->path;
			*upto = j;
		}
	pthread_mutex_unlock(&run->mu);
	rc = remote_connect_many(t, store_config(run->store), more, n, c);
	free(more);
	return rc;
}

/* Is a job after i that no thread has yet one the session may push? */
static bool
session_has_work(struct run *run, const struct worker *w, size_t i)
{
	size_t j;
	bool yes = false;

	pthread_mutex_lock(&run->mu);
	for (j = i + 1; j <= w->upto && j < run->njobs && !yes; j++)
		yes = !run->jobs[j].taken && run->jobs[j].conn == NULL &&
		    remote_session_serves(w->session, &run->jobs[j].dp->target);
	pthread_mutex_unlock(&run->mu);
	return yes;
}

/*
 * The remote runs dp_push() itself (remote.h), from what the DP holds
 * whole by the store's record: it is sent the changes from that.  Over
 * the connection started for the job, else over the thread's session
 * when it serves the DP, else a new session.  A session is kept past
 * the push only while a job it may push is still waiting: the remote
 * ends a session that waits too long for its next request.
 */
static int
push_remote(struct run *run, struct job *job, struct worker *w,
    const struct dp_push_opts *po, struct dp_push_result *r)
{
	struct remote_conn *c;
	struct store_holding known;
	size_t i = (size_t)(job - run->jobs);
	uint64_t base = 0;
	int rc;

	/* Under mu: session_open() looks at which jobs have their own. */
	pthread_mutex_lock(&run->mu);
	c = job->conn;
	job->conn = NULL;
	pthread_mutex_unlock(&run->mu);
	if (c != NULL)
		w->upto = job->conn_upto;
	if (c == NULL && remote_session_serves(w->session, &job->dp->target)) {
		c = w->session;
		w->session = NULL;
	}
	remote_session_end(w->session);
	w->session = NULL;
	if (c == NULL && session_open(run, i, i + 1, &c, &w->upto) == -1)
		c = NULL; /* remote_push() connects, and reports why not */
	if (store_holding_find(run->store, run->pkg, job->dp->name, &known) ==
		1 &&
	    known.state != STORE_HOLD_PARTIAL)
		base = known.version;
	rc = remote_push(&job->dp->target, run->store, run->pkg, run->m, base,
	    po, &c, r);
	if (r->one_dp_sessions)
		note_one_dp_host(run, &job->dp->target);
	w->session = c;
	if (w->session != NULL && !session_has_work(run, w, i)) {
		remote_session_end(w->session);
		w->session = NULL;
	}
	return rc;
}

static int
push_one(struct run *run, struct job *job, struct worker *w)
{
	const struct pushrun_opts *o = run->o;
	const struct dp *dp = job->dp;
	struct dp_push_result r;
	struct dp_push_opts po;
	struct dp_handle h = { -1, -1, -1, NULL };
	struct content_source src;
	struct err_saved why = ERR_SAVED_INIT;
	char id[RETRYJOB_ID_MAX + 1];
	int rc = -1;
	bool opened = false, queued = false;

	progress_target_start(run->progress);
	memset(&r, 0, sizeof(r));
	r.new_version = run->m->version;
	job_push_opts(run, job, &po);
	job->inner.ctx = run;
	job->inner.prepare = NULL;
	job->inner.write = store_source_write;
	job->inner.write_shared = NULL; /* asked past it */
	if (run->fanout != NULL)
		job->inner = run->fanout_src;
	src.ctx = job;
	src.prepare = job->inner.prepare != NULL ? job_source_prepare : NULL;
	src.write = job_source_write;
	src.write_shared = job_source_write_shared;

	if (dp->target.kind == DP_SSH) {
		if (push_remote(run, job, w, &po, &r) == -1)
			goto fail;
		rc = 0;
		job_done(run, dp, NULL, &r);
		goto out;
	}
	/* A session waits for nothing while a local DP is pushed. */
	remote_session_end(w->session);
	w->session = NULL;
	if (targets_open(run->store, dp, run->pkg, !o->dry_run, o->reinit,
		&h) == -1)
		goto fail;
	opened = true;
	if (!o->dry_run && dp_lock(&h, PUSHRUN_DP_LOCK_WAIT) == -1)
		goto fail;
	if (dp_push(&h, run->pkg, run->m, &src, &po, &r) == -1)
		goto fail;
	rc = 0;
	job_done(run, dp, &h, &r);
	goto out;
fail:
	err_save(&why);
	rc = job_failed(run, job, opened ? &h : NULL, &r, why.msg, id, &queued);
out:
	if (rc == -1 && run->h->failed != NULL) {
		pthread_mutex_lock(&run->mu);
		run->h->failed(run->arg, dp, &r,
		    why.msg != NULL ? why.msg : "failed", queued ? id : NULL);
		pthread_mutex_unlock(&run->mu);
	}
	progress_target_done(run->progress, rc != 0);
	err_drop(&why);
	dp_close(&h);
	return rc;
}

/* A workq item: the push to job i.  A DP that fails fails alone: its
 * result is kept, and the others go on. */
static int
push_item(void *ctx, void *local, size_t i)
{
	struct run *run = ctx;

	pthread_mutex_lock(&run->mu);
	run->jobs[i].taken = true;
	pthread_mutex_unlock(&run->mu);
	run->jobs[i].result = push_one(run, &run->jobs[i], local);
	return 0;
}

static int
worker_begin(void *ctx, void **local)
{
	(void)ctx;
	if ((*local = calloc(1, sizeof(struct worker))) == NULL)
		return err_nomem();
	return 0;
}

static void
worker_end(void *ctx, void *local)
{
	struct worker *w = local;

	(void)ctx;
	remote_session_end(w->session);
	free(w);
}

/* ---- before the first DP ---- */

/* What to add to a message that a DP is not found, when the DP list is
 * empty: that it does not exist, or lists no DP, and where it is. */
static const char *
dplist_note(const struct store *s, const struct dplist *l, char *buf,
    size_t len)
{
	char path[PATH_MAX], shown[PATH_SHOW_LEN];

	if (l->n > 0)
		return "";
	snprintf(path, sizeof(path), "%s/%s", store_dir(s), STORE_DPS);
	path_show(path, shown, sizeof(shown));
	if (access(path, F_OK) == -1 && errno == ENOENT)
		snprintf(buf, len,
		    ": the DP list '%s' does not exist (one DP "
		    "a line: NAME GROUP TARGET; see pkgpush(1))",
		    shown);
	else
		snprintf(buf, len, ": the DP list '%s' lists no DP", shown);
	return buf;
}

/* The names of o->sel are DPs and groups of l; else -1 with err saying
 * which, and what the DP list lacks when it lists none. */
static int
check_names(struct store *s, const struct dplist *l,
    const struct pushrun_opts *o)
{
	char note[PATH_MAX + PATH_SHOW_LEN];
	struct err_saved e = ERR_SAVED_INIT;

	if (o->sites != NULL && sites_check(o->sites, &o->ssel) == -1)
		return -1;
	if (targets_check(l, &o->sel) == 0)
		return 0;
	if (l->n > 0)
		return -1;
	err_save(&e);
	err_set("%s%s", e.msg, dplist_note(s, l, note, sizeof(note)));
	err_drop(&e);
	return -1;
}

/* Why a push has no target: err, -1. */
static int
no_target(struct store *s, const struct dplist *l, const char *pkg,
    const struct pushrun_opts *o)
{
	const struct targets_sel *sel = &o->sel;
	char note[PATH_MAX + PATH_SHOW_LEN];

	if (l->n == 0)
		return err_set("%s: no target DP%s", pkg,
		    dplist_note(s, l, note, sizeof(note)));
	if (sel->nonly > 0)
		return err_set("%s: no target DP: --only leaves none of the "
			       "DPs named",
		    pkg);
	if (sel->refresh && sel->ndps + sel->ngroups == 0 && !sel->all)
		return err_set("%s: no target DP: no DP holds it yet (place "
			       "it with --dp, --group or --all)",
		    pkg);
	return err_set("%s: no target DP (name them with --dp, --group, "
		       "--all or --refresh-existing)",
	    pkg);
}

/* One job per target, each with its DP, in DP list order; the DPs the
 * store records as holding pkg that l lacks are noted. */
static int
pick_targets(struct run *run, const struct dplist *l)
{
	char **stray = NULL;
	size_t nstray = 0, i, j, n;
	bool *want = NULL;
	int rc = -1;

	if (l->n && (want = calloc(l->n, sizeof(*want))) == NULL) {
		err_nomem();
		goto out;
	}
	if (targets_select(run->store, run->pkg, l, &run->o->sel, want, &n,
		&stray, &nstray) == -1)
		goto out;
	for (j = 0; j < nstray; j++)
		note(run, stray[j],
		    "holds %s but is not in the DP list: "
		    "skipped",
		    run->pkg);
	if ((run->jobs = calloc(l->n > 0 ? l->n : 1, sizeof(*run->jobs))) ==
	    NULL) {
		err_nomem();
		goto out;
	}
	for (i = 0, j = 0; i < l->n; i++)
		if (want[i]) {
			run->jobs[j].run = run;
			run->jobs[j++].dp = &l->v[i];
		}
	run->njobs = j;
	if (run->o->sites != NULL && run->o->sites->n > 0 &&
	    ((run->want_sites = calloc(run->o->sites->n,
		  sizeof(*run->want_sites))) == NULL ||
		sites_select(run->store, run->pkg, run->o->sites, &run->o->ssel,
		    run->want_sites, &run->nsites) == -1)) {
		if (run->want_sites == NULL)
			err_nomem();
		goto out;
	}
	if (run->njobs == 0 && run->nsites == 0) {
		no_target(run->store, l, run->pkg, run->o);
		goto out;
	}
	rc = 0;
out:
	free(want);
	store_strings_free(stray, nstray);
	return rc;
}

/* Record that every target is being brought to version before any is
 * touched (store_holdings_begin): gc then keeps it for a DP whose push
 * is killed after its switch. */
static int
begin_holdings(struct run *run, uint64_t version)
{
	const char **names;
	size_t i, n = 0;
	int rc;

	if ((names = calloc(run->njobs + 1, sizeof(*names))) == NULL)
		return err_nomem();
	for (i = 0; i < run->njobs; i++)
		if (run->jobs[i].dp != NULL)
			names[n++] = run->jobs[i].dp->name;
	rc = store_holdings_begin(run->store, run->pkg, names, n, version);
	free(names);
	return rc;
}

/*
 * The limiters of a push's remote targets, when STORE/config has bwlimit
 * lines or --bwlimit is given: one per remote target (its most specific
 * line), each chained to the command's total (the "*" line and
 * --bwlimit), which all -j workers share.  Local DPs are not capped.
 */
static int
caps_start(struct cap *total_cap, struct ratelimit **total,
    const struct config *cfg, const struct pushrun_opts *o, struct job *jobs,
    size_t n)
{
	size_t i;

	*total = NULL;
	if (cfg->nbwlimit == 0 && o->bwlimit == 0)
		return 0;
	total_cap->cfg = cfg;
	total_cap->name = "*";
	total_cap->group = NULL;
	total_cap->fixed = o->bwlimit;
	if ((*total = ratelimit_new(cap_rate, total_cap, NULL, NULL)) == NULL)
		return -1;
	for (i = 0; i < n; i++) {
		if (jobs[i].dp->target.kind != DP_SSH)
			continue;
		jobs[i].cap.cfg = cfg;
		jobs[i].cap.name = jobs[i].dp->name;
		jobs[i].cap.group = jobs[i].dp->group;
		jobs[i].cap.fixed = 0;
		if ((jobs[i].rate = ratelimit_new(cap_rate, &jobs[i].cap,
			 *total, NULL)) == NULL)
			return -1;
	}
	return 0;
}

/* The progress display, with the cap shown: the command's total, else
 * the first capped target's. */
static void
progress_begin(struct run *run, struct ratelimit *total)
{
	size_t i;

	if (!run->o->dry_run)
		run->progress = progress_start(run->pkg, 0, 0);
	progress_targets(run->progress, run->njobs, "DPs");
	if (total != NULL && ratelimit_rate_now(total) == 0)
		for (i = 0; i < run->njobs; i++)
			if (run->jobs[i].rate != NULL &&
			    ratelimit_rate_now(run->jobs[i].rate) != 0) {
				progress_cap(run->progress, run->jobs[i].rate);
				break;
			}
	if (total != NULL && ratelimit_rate_now(total) != 0)
		progress_cap(run->progress, total);
}

/* A fanout over the store for a push to two local DPs or more. */
static int
fanout_start(struct run *run)
{
	struct content_source store_src = { run, NULL, store_source_write,
		NULL };
	size_t i, local = 0;

	for (i = 0; i < run->njobs; i++)
		if (run->jobs[i].dp->target.kind != DP_SSH)
			local++;
	if (local < 2)
		return 0;
	if ((run->fanout = fanout_new(&store_src, &run->fanout_src)) == NULL)
		return -1;
	return 0;
}

/* One site that failed: noted, and its retry job queued unless waiting
 * cannot help.  Takes run->mu as it needs it (queue_retry() does). */
static void
site_failed(struct run *run, const struct dp *site,
    const struct site_push_result *r, const char *why)
{
	char id[RETRYJOB_ID_MAX + 1];
	bool queued = false;

	note_locked(run, site->name, why);
	if (!run->o->dry_run && !r->permanent)
		queue_retry(run, site, why, id, &queued);
	else if (r->permanent && !retryjob_running(run->pkg, site->name))
		note_locked(run, site->name,
		    "not queued for retry "
		    "(waiting will not help)");
	pthread_mutex_lock(&run->mu);
	run->nsites_failed++;
	run->h->site_failed(run->arg, site, r, why, queued ? id : NULL);
	pthread_mutex_unlock(&run->mu);
}

/* The sites picked, pushed -j at a time (workq.h). */
struct site_run {
	struct run *run;
	struct site_push_opts po;
	size_t *pick; /* indices into o->sites */
};

/* A line of a child's cascade: one at a time, whole. */
static void
site_line(void *arg, bool err, const char *text)
{
	struct run *run = arg;

	pthread_mutex_lock(&run->mu);
	run->h->site_line(run->arg, err, text);
	pthread_mutex_unlock(&run->mu);
}

/* workq item: one site (sites.h, site_push()).  Never fails the queue:
 * a site's failure is its own. */
static int
push_site_item(void *ctx, size_t i)
{
	struct site_run *sr = ctx;
	struct run *run = sr->run;
	const struct dp *site = &run->o->sites->v[sr->pick[i]];
	struct site_push_result r;
	struct err_saved why = ERR_SAVED_INIT;

	if (site_push(run->store, site, run->pkg, run->m, &sr->po, &r) == 0) {
		pthread_mutex_lock(&run->mu);
		run->h->site_done(run->arg, site, &r);
		/* Its own targets failed: it queued their retries. */
		if (r.cascade_rc == 1)
			run->nsites_failed++;
		pthread_mutex_unlock(&run->mu);
		return 0;
	}
	err_save(&why);
	site_failed(run, site, &r, why.msg);
	err_drop(&why);
	return 0;
}

/* After the DPs, the sites picked, as many at once as DPs (-j). */
static void
push_sites(struct run *run)
{
	const struct dplist *l = run->o->sites;
	struct site_run sr;
	size_t i, n = 0;
	int threads = run->o->jobs > 0 ? run->o->jobs : PUSHRUN_JOBS;

	memset(&sr, 0, sizeof(sr));
	sr.run = run;
	sr.po.dry_run = run->o->dry_run;
	sr.po.cascade = run->o->cascade;
	sr.po.json = run->o->json;
	sr.po.line = site_line;
	sr.po.arg = run;
	if ((sr.pick = calloc(l->n, sizeof(*sr.pick))) == NULL) {
		note_locked(run, NULL, "out of memory");
		run->nsites_failed += run->nsites;
		return;
	}
	for (i = 0; i < l->n; i++)
		if (run->want_sites[i])
			sr.pick[n++] = i;
	(void)workq_run(n, threads, push_site_item, &sr);
	free(sr.pick);
}

/* The version to push: o's, else the newest in the store. */
static int
pick_version(struct store *s, const char *pkg, uint64_t *version)
{
	if (*version != 0)
		return 0;
	if (store_newest(s, pkg, version) == -1)
		return -1;
	if (*version == 0)
		return err_set("%s: no such package in the store (pkgstage "
			       "add stages it)",
		    pkg);
	return 0;
}

/* Before the first DP is touched: ssh started for the first remote
 * targets, the version locked and loaded, its signature checked. */
static int
prepare(struct run *run, uint64_t version, struct manifest *m, int *ulock)
{
	struct store *s = run->store;
	size_t i;

	/* The remote DPs pushed first: ssh connects while the manifest is
	 * loaded (a failure to start ssh is reported by the push). */
	for (i = 0; i < (size_t)run->nthreads && i < run->njobs; i++)
		if (run->jobs[i].dp->target.kind == DP_SSH)
			(void)session_open(run, i, (size_t)run->nthreads,
			    &run->jobs[i].conn, &run->jobs[i].conn_upto);
	/* Keep gc away from the version while it is read. */
	if ((*ulock = store_lock(s, run->pkg, STORE_LOCK_USE, true,
		 STORE_WAIT_DEFAULT)) == -1 ||
	    store_load_manifest(s, run->pkg, version, m) == -1)
		return -1;
	if (run->o->trust != NULL &&
	    store_verify_version(s, run->pkg, version, run->o->trust) == -1)
		return err_prefix("--trust: ");
	return 0;
}

int
pushrun(struct store *s, const struct dplist *l, const char *pkg,
    const struct pushrun_opts *o, const struct pushrun_hooks *h, void *arg,
    struct pushrun_result *res)
{
	struct manifest m;
	struct run run;
	struct cap total_cap;
	struct ratelimit *total = NULL;
	uint64_t version = o->version;
	int rc = -1, ulock = -1;
	size_t i;

	memset(res, 0, sizeof(*res));
	manifest_init(&m);
	memset(&run, 0, sizeof(run));
	pthread_mutex_init(&run.mu, NULL);
	run.o = o;
	run.h = h;
	run.arg = arg;
	run.store = s;
	run.pkg = pkg;
	run.m = &m;
	if (check_names(s, l, o) == -1 ||
	    pick_version(s, pkg, &version) == -1 || pick_targets(&run, l) == -1)
		goto out;
	run.nthreads = o->jobs > 0 ? o->jobs : PUSHRUN_JOBS;
	if (run.nthreads > WORKQ_MAX_THREADS)
		run.nthreads = WORKQ_MAX_THREADS;
	if ((size_t)run.nthreads > run.njobs)
		run.nthreads = (int)run.njobs;
	if (prepare(&run, version, &m, &ulock) == -1 ||
	    caps_start(&total_cap, &total, store_config(s), o, run.jobs,
		run.njobs) == -1 ||
	    (!o->dry_run && begin_holdings(&run, version) == -1))
		goto out;
	progress_begin(&run, total);
	if (!o->dry_run && fanout_start(&run) == -1)
		goto out;
	/* The calling thread pushes too; no item fails (push_item). */
	{
		static const struct workq_ops ops = { worker_begin, push_item,
			worker_end };

		(void)workq_run_ops(run.njobs, run.nthreads, &ops, &run);
	}
	progress_end(run.progress);
	if (run.nsites > 0 && run.o->sites != NULL)
		push_sites(&run);
	res->ntargets = run.njobs + run.nsites;
	res->nfailed = run.nsites_failed;
	for (i = 0; i < run.njobs; i++) {
		if (run.jobs[i].result != 0)
			res->nfailed++;
		if (run.jobs[i].result == -2)
			res->store_failed = true;
	}
	rc = 0;
out:
	for (i = 0; run.jobs != NULL && i < run.njobs; i++) {
		remote_conn_free(run.jobs[i].conn);
		ratelimit_free(run.jobs[i].rate);
	}
	ratelimit_free(total);
	fanout_free(run.fanout);
	free(run.damaged);
	free(run.one_dp);
	free(run.jobs);
	free(run.want_sites);
	pthread_mutex_destroy(&run.mu);
	if (ulock != -1)
		store_unlock(ulock);
	manifest_free(&m);
	return rc;
}
