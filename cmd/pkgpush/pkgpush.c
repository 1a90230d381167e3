/*
 * pkgpush — bring distribution points to a version of a package.
 *
 * main() parses options and picks a mode; push() resolves the targets
 * (all checks that may end in exit 2 come before any DP is touched),
 * then pushes to each target DP in worker threads (-j), each calling
 * dp_push() (common/dppush.h) with a content source that reads the
 * store.  A DP that fails gets its holding recorded and a retry job
 * with the full original command narrowed to it (--only DP, --version N).
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "atomic.h"
#include "config.h"
#include "dp.h"
#include "dplist.h"
#include "dppush.h"
#include "err.h"
#include "exitcode.h"
#include "io.h"
#include "fault.h"
#include "manifest.h"
#include "msg.h"
#include "num.h"
#include "progress.h"
#include "ratelimit.h"
#include "remote.h"
#include "retryjob.h"
#include "scan.h"
#include "serve.h"
#include "store.h"

/* How long a push waits for another push on the same DP. */
#define DP_LOCK_WAIT 3600.0

enum mode { MODE_PUSH, MODE_SERVE, MODE_STATUS };

enum {
	OPT_ALL = 256,
	OPT_BWLIMIT,
	OPT_DP,
	OPT_GROUP,
	OPT_INPLACE,
	OPT_KEEP,
	OPT_ONLY,
	OPT_REFRESH,
	OPT_ROLLBACK,
	OPT_SERVE,
	OPT_STATUS,
	OPT_TRUST,
	OPT_VERIFY,
	OPT_VERSION
};

static const struct option longopts[] = {
	{ "all", no_argument, NULL, OPT_ALL },
	{ "bwlimit", required_argument, NULL, OPT_BWLIMIT },
	{ "dp", required_argument, NULL, OPT_DP },
	{ "dry-run", no_argument, NULL, 'n' },
	{ "group", required_argument, NULL, OPT_GROUP },
	{ "help", no_argument, NULL, 'h' },
	{ "inplace", no_argument, NULL, OPT_INPLACE },
	{ "jobs", required_argument, NULL, 'j' },
	{ "keep", required_argument, NULL, OPT_KEEP },
	{ "only", required_argument, NULL, OPT_ONLY },
	{ "refresh-existing", no_argument, NULL, OPT_REFRESH },
	{ "rollback", no_argument, NULL, OPT_ROLLBACK },
	{ "serve", required_argument, NULL, OPT_SERVE },
	{ "status", no_argument, NULL, OPT_STATUS },
	{ "store", required_argument, NULL, 's' },
	{ "trust", required_argument, NULL, OPT_TRUST },
	{ "verify", no_argument, NULL, OPT_VERIFY },
	{ "version", required_argument, NULL, OPT_VERSION },
	{ NULL, 0, NULL, 0 }
};
#define SHORTOPTS "hj:ns:"

/* What a retry job fixes itself (retryjob_pkgpush_argv()). */
static const int job_drop[] = { OPT_ONLY, OPT_VERSION, 0 };

struct names {
	const char **v;
	size_t n;
};

struct opts {
	const char *store;
	uint64_t version;	/* 0: newest */
	struct names dps, groups, only;
	bool all, refresh, inplace, verify, rollback, dry_run;
	unsigned keep;
	const char *trust;
	int jobs;		/* 0: default */
	uint64_t bwlimit;	/* --bwlimit: bytes per second, 0: none */
};

static void
usage(FILE *fp)
{
	fprintf(fp,
	    "usage: pkgpush [-n] [-j n] [-s store] [--all] [--bwlimit rate] "
	    "[--dp name]\n"
	    "               [--group g] [--inplace] [--keep k] [--only name]\n"
	    "               [--refresh-existing] [--rollback] [--trust key.pub] "
	    "[--verify]\n"
	    "               [--version n] pkg\n"
	    "       pkgpush [-s store] --status [pkg]\n"
	    "       pkgpush --serve path\n");
}

/* -h: the usage, then one line per option (pkgpush(1) says more). */
static void
help(void)
{
	usage(stdout);
	fputs("\n"
	    "  -n, --dry-run         say per DP what would be done, change "
	    "nothing\n"
	    "  -j, --jobs n          push to n DPs at once (default 4)\n"
	    "  -s, --store store     the store (default $PKGDIST_STORE, else\n"
	    "                        /var/lib/pkgdist)\n"
	    "  -h, --help            print this help and exit 0\n"
	    "      --all             push to every DP of the DP list "
	    "(STORE/dps)\n"
	    "      --bwlimit rate    cap what this command sends to remote DPs, "
	    "in all,\n"
	    "                        at rate bytes/s (K, M, G: powers of "
	    "1024)\n"
	    "      --dp name         push to DP name (may be repeated)\n"
	    "      --group g         push to every DP of group g (may be "
	    "repeated)\n"
	    "      --inplace         a DP new to pkg gets a plain directory, "
	    "files\n"
	    "                        renamed over their old selves (shares "
	    "without links)\n"
	    "      --keep k          atomic layout: keep k trees on each DP, "
	    "the current\n"
	    "                        one included (default 2)\n"
	    "      --only name       of the targets named, push to DP name "
	    "only\n"
	    "      --refresh-existing  also push to every DP that holds pkg\n"
	    "      --rollback        allow moving a DP to a lower --version\n"
	    "      --trust key.pub   refuse a version not signed by that key\n"
	    "      --verify          re-hash each DP first and repair any "
	    "drift\n"
	    "      --version n       push version n (default: the newest)\n"
	    "      --status          print each DP's version and state of pkg "
	    "(or of\n"
	    "                        every package)\n"
	    "      --serve path      the far side of an ssh:// DP (run by "
	    "pkgpush)\n"
	    "\n"
	    "Exit 0 every target done, 1 some failed (retries queued), 2 "
	    "trouble.\n", stdout);
}

static noreturn void
bad_usage(void)
{
	usage(stderr);
	exit(EXIT_TROUBLE);
}

static int
names_add(struct names *n, const char *s)
{
	const char **v = realloc(n->v, (n->n + 1) * sizeof(*v));

	if (v == NULL)
		return -1;
	v[n->n++] = s;
	n->v = v;
	return 0;
}

static bool
names_has(const struct names *n, const char *s)
{
	size_t i;

	for (i = 0; i < n->n; i++)
		if (strcmp(n->v[i], s) == 0)
			return true;
	return false;
}

/* ---- one DP ---- */

/* A bandwidth cap: the rate of a ratelimit.h limiter, from the bwlimit
 * lines of STORE/config (asked at every transfer, so windows switch
 * during a push) and --bwlimit. */
struct cap {
	const struct config *cfg;
	const char *name;	/* the target, or "*": the command's total */
	const char *group;	/* the target's group, or NULL */
	uint64_t fixed;		/* --bwlimit (the total only), 0: none */
};

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

struct job {
	const struct dp *dp;
	struct remote_conn *conn;	/* ssh started early, or NULL */
	struct cap cap;
	struct ratelimit *rate;	/* remote DPs under a cap, else NULL */
	int result;		/* 0 done, -1 failed */
};

struct shared {
	const struct opts *o;
	struct store *store;
	const char *pkg;
	const struct manifest *m;
	int argc;
	char **argv;
	struct job *jobs;
	size_t njobs, next;
	pthread_mutex_t mu;
	struct progress *progress;
	int jobsn;
	bool env_warned;	/* retry_env_warn() said it (under mu) */
};

/* ---- the content source: the store ---- */

/* ctx is the push's struct shared (read only here, by every writer
 * thread).  A content the store cannot give is named by package,
 * version and file, not by its digest alone. */
static int
store_source_write(void *ctx, const unsigned char d[DIGEST_LEN],
    uint64_t size, int fd, const char *what)
{
	const struct shared *sh = ctx;
	bool fault = false;

	if (store_content_copy(sh->store, d, size, fd, what, &fault) == 0)
		return 0;
	if (fault)
		(void)store_err_content(sh->pkg, sh->m->version, sh->m, d);
	return -1;
}

static void
report_ok(struct shared *sh, const struct dp *dp,
    const struct dp_push_result *r)
{
	char old[32], bytes[128];

	if (r->held)
		snprintf(old, sizeof(old), "%" PRIu64 "%s", r->old_version,
		    r->old_partial ? " (partial)" : "");
	else
		snprintf(old, sizeof(old), "-");
	if (r->up_to_date) {
		printf("%s: %s %s: up to date%s\n", dp->name, sh->pkg, old,
		    r->state_rebuilt ? " (its unreadable state manifest was "
		    "rebuilt)" : "");
		if (r->warning[0] != '\0')
			msg_warn("%s: %s", dp->name, r->warning);
		return;
	}
	if (r->reused_tree) {
		if (sh->o->dry_run)
			printf("%s: %s %s -> %" PRIu64 ": would switch back to "
			    "the kept tree, 0 bytes to write\n", dp->name,
			    sh->pkg, old, r->new_version);
		else
			printf("%s: %s %s -> %" PRIu64 ": switched back to the "
			    "kept tree, %" PRIu64 " bytes written (0 content, %"
			    PRIu64 " state)\n", dp->name, sh->pkg, old,
			    r->new_version, r->state_bytes, r->state_bytes);
		return;
	}
	/* "N bytes written" is every byte written on the DP: contents,
	 * and the state (record, manifest delta, base) in brackets.  A dry
	 * run can only say the contents. */
	if (sh->o->dry_run)
		snprintf(bytes, sizeof(bytes), "%" PRIu64 " bytes to write",
		    r->bytes);
	else
		snprintf(bytes, sizeof(bytes), "%" PRIu64 " bytes written (%"
		    PRIu64 " content, %" PRIu64 " state)", r->bytes +
		    r->state_bytes, r->bytes, r->state_bytes);
	printf("%s: %s %s -> %" PRIu64 ": %s%" PRIu64 " added, %" PRIu64
	    " changed, %" PRIu64 " deleted, %" PRIu64 " metadata, %s%s%s\n",
	    dp->name, sh->pkg, old, r->new_version,
	    sh->o->dry_run ? "would be " : "", r->added, r->changed,
	    r->deleted, r->meta, bytes, !r->kept_layout ? "" :
	    r->inplace ? " (kept its in-place layout)" :
	    " (kept its atomic layout)", r->state_rebuilt ?
	    " (its unreadable state manifest was rebuilt)" : "");
	if (r->warning[0] != '\0')
		msg_warn("%s: %s", dp->name, r->warning);
}

/* Record the outcome in the store (holdings) and on the DP (state). */
static void
record(struct shared *sh, const struct dp *dp, struct dp_handle *h,
    const struct dp_push_result *r, int rc, const char *why)
{
	struct store_holding hd;
	struct dp_state st;

	memset(&hd, 0, sizeof(hd));
	snprintf(hd.dp, sizeof(hd.dp), "%s", dp->name);
	hd.time = fault_now();
	hd.wanted = r->new_version;
	if (rc == 0) {
		hd.version = r->new_version;
		hd.state = STORE_HOLD_COMPLETE;
	} else {
		hd.version = r->held ? r->old_version : 0;
		hd.state = STORE_HOLD_FAILED;
		if (h != NULL && h->rootfd != -1 &&
		    dp_note_failure(h, sh->pkg, why, &st) == 0) {
			if (st.status == DP_ST_PARTIAL) {
				hd.state = STORE_HOLD_PARTIAL;
				hd.version = st.from;
			} else if (st.status == DP_ST_COMPLETE)
				hd.version = st.version;
			dp_state_free(&st);
		} else if (!r->held) {
			/* Unreachable: keep what the store knew. */
			struct store_holding *v = NULL;
			size_t n = 0, i;

			if (store_holdings(sh->store, sh->pkg, &v, &n) == 0)
				for (i = 0; i < n; i++)
					if (strcmp(v[i].dp, dp->name) == 0)
						hd.version = v[i].version;
			free(v);
		}
	}
	if (store_holding_record(sh->store, sh->pkg, &hd) == -1)
		msg_warn("%s: cannot record the holding: %s", dp->name,
		    err_get());
}

/*
 * A retry job runs later, often from cron, without this command's
 * environment: where a variable overrides a setting of STORE/config,
 * say once that the retry will use the file, and which line to add.
 * Called with sh->mu held.
 */
static void
retry_env_warn(struct shared *sh, const struct dp *dp)
{
	const struct config *cfg = store_config(sh->store);
	struct config_env_override ov[CONFIG_ENV_MAX];
	int n, i;

	if (sh->env_warned || dp->target.kind != DP_SSH)
		return;
	sh->env_warned = true;
	if ((n = config_env_overrides(cfg, ov)) == -1) {
		msg_liberr();
		return;
	}
	for (i = 0; i < n; i++)
		msg_warn("%s: the retry will not see $%s but the settings "
		    "of '%s': add the line '%s' there", dp->name, ov[i].var,
		    cfg->path, ov[i].line);
	config_env_overrides_free(ov, (size_t)n);
}

static int
push_one(struct shared *sh, struct job *job)
{
	const struct dp *dp = job->dp;
	struct dp_push_result r;
	struct dp_push_opts po;
	struct dp_handle h = { -1, -1, -1, NULL };
	struct content_source src;
	char *why = NULL, id[RETRYJOB_ID_MAX + 1], **nv = NULL;
	int rc = -1, nc = 0;
	bool opened = false, queued = false;

	progress_target_start(sh->progress);
	memset(&r, 0, sizeof(r));
	r.new_version = sh->m->version;
	dp_push_opts_init(&po);
	po.inplace = sh->o->inplace;
	po.verify = sh->o->verify;
	po.rollback = sh->o->rollback;
	po.dry_run = sh->o->dry_run;
	po.keep = sh->o->keep;
	po.jobs = sh->jobsn > 1 ? 2 : 0;
	/* The store may be read by several threads at once: share the
	 * CPUs between the DPs pushed at once. */
	po.write_threads = scan_ncpu() / (sh->jobsn > 0 ? sh->jobsn : 1);
	if (po.write_threads > 4)
		po.write_threads = 4;
	po.progress = sh->progress;
	po.rate = job->rate;
	src.ctx = sh;
	src.prepare = NULL;
	src.write = store_source_write;

	if (dp->target.kind == DP_SSH) {
		/* The remote runs dp_push() itself (remote.h). */
		struct remote_conn *pre = job->conn;
		struct store_holding *hv = NULL;
		uint64_t base = 0;
		size_t nh = 0, i;

		job->conn = NULL;
		/* What the DP holds whole, by the store's record: the
		 * remote is sent the changes from it (remote.h). */
		if (store_holdings(sh->store, sh->pkg, &hv, &nh) == 0)
			for (i = 0; i < nh; i++)
				if (strcmp(hv[i].dp, dp->name) == 0 &&
				    hv[i].state != STORE_HOLD_PARTIAL)
					base = hv[i].version;
		free(hv);
		if (remote_push(&dp->target, sh->store, sh->pkg, sh->m, base,
		    &po, pre, &r) == -1)
			goto fail;
		rc = 0;
		pthread_mutex_lock(&sh->mu);
		progress_hold();
		report_ok(sh, dp, &r);
		fflush(stdout);
		progress_release();
		pthread_mutex_unlock(&sh->mu);
		if (!sh->o->dry_run)
			record(sh, dp, NULL, &r, 0, NULL);
		goto out;
	}
	if (dp_open(dp->target.path, !sh->o->dry_run, &h) == -1)
		goto fail;
	opened = true;
	if (!sh->o->dry_run && dp_lock(&h, DP_LOCK_WAIT) == -1)
		goto fail;
	if (dp_push(&h, sh->pkg, sh->m, &src, &po, &r) == -1)
		goto fail;
	rc = 0;
	pthread_mutex_lock(&sh->mu);
	progress_hold();
	report_ok(sh, dp, &r);
	fflush(stdout);
	progress_release();
	pthread_mutex_unlock(&sh->mu);
	if (!sh->o->dry_run)
		record(sh, dp, &h, &r, 0, NULL);
	goto out;
fail:
	why = strdup(err_get());
	pthread_mutex_lock(&sh->mu);
	msg_warn("%s: %s", dp->name, why ? why : "failed");
	pthread_mutex_unlock(&sh->mu);
	if (sh->o->dry_run)
		goto out;
	record(sh, dp, opened ? &h : NULL, &r, -1, why ? why : "");
	if (r.permanent) {
		pthread_mutex_lock(&sh->mu);
		msg_warn("%s: not queued for retry (waiting will not help)",
		    dp->name);
		pthread_mutex_unlock(&sh->mu);
		goto out;
	}
	/* The job is built from the options as parsed (an abbreviated
	 * --onl is --only), never from the words typed. */
	if (retryjob_pkgpush_argv(sh->argc, sh->argv, SHORTOPTS, longopts,
	    job_drop, dp->name, sh->m->version, &nc, &nv) == -1 ||
	    retryjob_queue(store_dir(sh->store), sh->pkg, dp->name,
	    sh->m->version, nc, nv, why ? why : "", id, &queued) == -1) {
		pthread_mutex_lock(&sh->mu);
		msg_warn("%s: %s", dp->name, err_get());
		pthread_mutex_unlock(&sh->mu);
	} else if (queued) {
		/* Not when pkgretry runs this very job: it records the
		 * cause, the line above, as the job's last error. */
		pthread_mutex_lock(&sh->mu);
		msg_warn("%s: retry queued as '%s'", dp->name, id);
		retry_env_warn(sh, dp);
		pthread_mutex_unlock(&sh->mu);
	}
out:
	progress_target_done(sh->progress, rc != 0);
	if (nv != NULL)
		retryjob_argv_free(nc, nv);
	free(why);
	dp_close(&h);
	return rc;
}

static void *
worker(void *arg)
{
	struct shared *sh = arg;
	size_t i;

	for (;;) {
		pthread_mutex_lock(&sh->mu);
		i = sh->next++;
		pthread_mutex_unlock(&sh->mu);
		if (i >= sh->njobs)
			break;
		sh->jobs[i].result = push_one(sh, &sh->jobs[i]);
	}
	return NULL;
}

/* ---- modes ---- */

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
		snprintf(buf, len, ": the DP list '%s' does not exist (one DP "
		    "a line: NAME GROUP TARGET; see pkgpush(1))", shown);
	else
		snprintf(buf, len, ": the DP list '%s' lists no DP", shown);
	return buf;
}

static int
load_dplist(struct store *s, struct dplist *l)
{
	char path[PATH_MAX];

	snprintf(path, sizeof(path), "%s/%s", store_dir(s), STORE_DPS);
	if (dplist_load(path, l) == -1) {
		if (err_errno() == ENOENT) {
			dplist_init(l);
			return 0;
		}
		return -1;
	}
	return 0;
}

/*
 * The limiters of a push's remote targets, when STORE/config has bwlimit
 * lines or --bwlimit is given: one per remote target (its most specific
 * line), each chained to the command's total (the "*" line and
 * --bwlimit), which all -j workers share.  Local DPs are not capped.
 */
static int
caps_start(struct cap *total_cap, struct ratelimit **total,
    const struct config *cfg, const struct opts *o, struct job *jobs,
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

static int
push(const struct opts *o, const char *pkg, int argc, char **argv)
{
	struct store *s = NULL;
	struct dplist l;
	struct manifest m;
	struct shared sh;
	struct store_holding *hv = NULL;
	size_t nh = 0, i, j;
	pthread_t *th = NULL;
	int rc = EXIT_TROUBLE, ulock = -1, nth;
	uint64_t version = o->version, items = 0, bytes = 0;
	bool *want = NULL;
	char note[PATH_MAX + PATH_SHOW_LEN];
	struct cap total_cap;
	struct ratelimit *total = NULL;

	dplist_init(&l);
	manifest_init(&m);
	memset(&sh, 0, sizeof(sh));
	pthread_mutex_init(&sh.mu, NULL);
	if (!name_valid(pkg)) {
		msg_warn("'%s': not a valid package name", pkg);
		goto out;
	}
	if (store_open(store_path(o->store), 0, &s) == -1 ||
	    load_dplist(s, &l) == -1) {
		msg_liberr();
		goto out;
	}
	for (i = 0; i < o->dps.n; i++)
		if (dplist_find(&l, o->dps.v[i]) == NULL) {
			msg_warn("--dp: unknown DP '%s'%s", o->dps.v[i],
			    dplist_note(s, &l, note, sizeof(note)));
			goto out;
		}
	for (i = 0; i < o->only.n; i++)
		if (dplist_find(&l, o->only.v[i]) == NULL) {
			msg_warn("--only: unknown DP '%s'%s", o->only.v[i],
			    dplist_note(s, &l, note, sizeof(note)));
			goto out;
		}
	for (i = 0; i < o->groups.n; i++)
		if (!dplist_has_group(&l, o->groups.v[i])) {
			msg_warn("--group: unknown group '%s'%s",
			    o->groups.v[i],
			    dplist_note(s, &l, note, sizeof(note)));
			goto out;
		}
	if (version == 0) {
		if (store_newest(s, pkg, &version) == -1) {
			msg_liberr();
			goto out;
		}
		if (version == 0) {
			msg_warn("%s: no such package in the store (pkgstage "
			    "add stages it)", pkg);
			goto out;
		}
	}
	/* Targets, in DP list order. */
	if (l.n && (want = calloc(l.n, sizeof(*want))) == NULL) {
		msg_warn("out of memory");
		goto out;
	}
	if (o->refresh && store_holdings(s, pkg, &hv, &nh) == -1) {
		msg_liberr();
		goto out;
	}
	for (i = 0; i < l.n; i++) {
		const struct dp *dp = &l.v[i];

		want[i] = o->all || names_has(&o->dps, dp->name) ||
		    names_has(&o->groups, dp->group);
		for (j = 0; o->refresh && j < nh; j++)
			if (strcmp(hv[j].dp, dp->name) == 0 &&
			    hv[j].version != 0)
				want[i] = true;
		if (o->only.n && !names_has(&o->only, dp->name))
			want[i] = false;
	}
	for (j = 0; o->refresh && j < nh; j++)
		if (dplist_find(&l, hv[j].dp) == NULL)
			msg_warn("%s: holds %s but is not in the DP list: "
			    "skipped", hv[j].dp, pkg);
	for (i = 0; i < l.n; i++)
		if (want[i])
			sh.njobs++;
	if (sh.njobs == 0) {
		if (l.n == 0)
			msg_warn("%s: no target DP%s", pkg,
			    dplist_note(s, &l, note, sizeof(note)));
		else if (o->only.n > 0)
			msg_warn("%s: no target DP: --only leaves none of the "
			    "DPs named", pkg);
		else if (o->refresh && o->dps.n + o->groups.n == 0 && !o->all)
			msg_warn("%s: no target DP: no DP holds it yet (place "
			    "it with --dp, --group or --all)", pkg);
		else
			msg_warn("%s: no target DP (name them with --dp, "
			    "--group, --all or --refresh-existing)", pkg);
		goto out;
	}
	if ((sh.jobs = calloc(sh.njobs, sizeof(*sh.jobs))) == NULL) {
		msg_warn("out of memory");
		goto out;
	}
	for (i = 0, j = 0; i < l.n; i++)
		if (want[i])
			sh.jobs[j++].dp = &l.v[i];
	nth = o->jobs > 0 ? o->jobs : 4;
	if ((size_t)nth > sh.njobs)
		nth = (int)sh.njobs;
	/* The remote DPs pushed first: ssh connects while the manifest is
	 * loaded (a failure to start ssh is reported by the push). */
	for (i = 0; i < (size_t)nth; i++)
		if (sh.jobs[i].dp != NULL &&
		    sh.jobs[i].dp->target.kind == DP_SSH)
			(void)remote_connect(&sh.jobs[i].dp->target,
			    store_config(s), &sh.jobs[i].conn);
	/* Keep gc away from the version while it is read. */
	if ((ulock = store_lock(s, pkg, STORE_LOCK_USE, true,
	    STORE_WAIT_DEFAULT)) == -1 ||
	    store_load_manifest(s, pkg, version, &m) == -1) {
		msg_liberr();
		goto out;
	}
	if (o->trust != NULL &&
	    store_verify_version(s, pkg, version, o->trust) == -1) {
		msg_warn("--trust: %s", err_get());
		goto out;
	}
	if (caps_start(&total_cap, &total, store_config(s), o, sh.jobs,
	    sh.njobs) == -1) {
		msg_liberr();
		goto out;
	}
	for (i = 0; i < m.n; i++)
		if (m.v[i].type == ENTRY_FILE) {
			items++;
			bytes += m.v[i].size;
		}

	sh.o = o;
	sh.store = s;
	sh.pkg = pkg;
	sh.m = &m;
	sh.argc = argc;
	sh.argv = argv;
	sh.jobsn = nth;
	if (!o->dry_run)
		sh.progress = progress_start(pkg, 0, 0);
	progress_targets(sh.progress, sh.njobs, "DPs");
	if ((th = calloc((size_t)nth, sizeof(*th))) == NULL) {
		msg_warn("out of memory");
		goto out;
	}
	for (i = 0; i < (size_t)nth; i++)
		if (pthread_create(&th[i], NULL, worker, &sh) != 0) {
			/* Fewer threads will do. */
			nth = (int)i;
			break;
		}
	if (nth == 0)
		worker(&sh);
	for (i = 0; i < (size_t)nth; i++)
		pthread_join(th[i], NULL);
	progress_end(sh.progress);
	rc = EXIT_DONE;
	for (i = 0; i < sh.njobs; i++)
		if (sh.jobs[i].result != 0)
			rc = EXIT_PARTIAL;
out:
	(void)items;
	(void)bytes;
	free(th);
	free(want);
	free(hv);
	for (i = 0; sh.jobs != NULL && i < sh.njobs; i++) {
		remote_conn_free(sh.jobs[i].conn);
		ratelimit_free(sh.jobs[i].rate);
	}
	ratelimit_free(total);
	free(sh.jobs);
	pthread_mutex_destroy(&sh.mu);
	if (ulock != -1)
		store_unlock(ulock);
	manifest_free(&m);
	dplist_free(&l);
	store_close(s);
	return rc;
}

static void
status_line(const char *dp, const char *pkg, const struct dp_state *st)
{
	if (st->status == DP_ST_NONE)
		printf("%s %s - none\n", dp, pkg);
	else if (st->status == DP_ST_PARTIAL)
		printf("%s %s %" PRIu64 " partial from %" PRIu64 "%s%s\n", dp,
		    pkg, st->version, st->from, st->error ? ": " : "",
		    st->error ? st->error : "");
	else if (st->error != NULL)
		printf("%s %s %" PRIu64 " failed: %s\n", dp, pkg,
		    st->version, st->error);
	else
		printf("%s %s %" PRIu64 " complete\n", dp, pkg, st->version);
}

/* The lines of one DP's states (dp_states(), remote_status()). */
static void
status_lines(const char *dp, const struct dp_pkg_state *v, size_t n, int *rc)
{
	size_t i;

	for (i = 0; i < n; i++) {
		if (v[i].damaged != NULL) {
			printf("%s %s - damaged: %s\n", dp, v[i].package,
			    v[i].damaged);
			*rc = EXIT_PARTIAL;
		} else
			status_line(dp, v[i].package, &v[i].st);
	}
}

static int
status(const char *storeopt, const char *pkg)
{
	struct store *s = NULL;
	struct dplist l;
	struct dp_handle h;
	struct dp_pkg_state *v;
	size_t n, i;
	uint64_t newest = 0;
	int rc = EXIT_TROUBLE;

	dplist_init(&l);
	if (pkg != NULL && !name_valid(pkg)) {
		msg_warn("'%s': not a valid package name", pkg);
		return EXIT_TROUBLE;
	}
	if (store_open(store_path(storeopt), 0, &s) == -1 ||
	    load_dplist(s, &l) == -1 ||
	    (pkg != NULL && store_newest(s, pkg, &newest) == -1)) {
		msg_liberr();
		goto out;
	}
	if (pkg != NULL && newest == 0) {
		msg_warn("%s: no such package in the store (pkgstage list "
		    "shows those it has)", pkg);
		goto out;
	}
	rc = EXIT_DONE;
	for (i = 0; i < l.n; i++) {
		const struct dp *dp = &l.v[i];

		if (dp->target.kind == DP_SSH &&
		    remote_status(&dp->target, store_config(s), pkg, &v,
		    &n) == 0) {
			status_lines(dp->name, v, n, &rc);
			dp_pkg_states_free(v, n);
			continue;
		}
		/* An ssh DP that failed falls to "unreachable" (err set). */
		if (dp->target.kind != DP_LOCAL ||
		    dp_open(dp->target.path, false, &h) == -1) {
			/* What the store last knew of it. */
			struct store_holding *hv = NULL;
			char **pk = NULL;
			size_t np = 0, nh, p, q;
			char *why = strdup(err_get());
			bool any = false;

			if (pkg == NULL)
				(void)store_packages(s, &pk, &np);
			for (p = 0; p < (pkg ? 1 : np); p++) {
				const char *pn = pkg ? pkg : pk[p];

				nh = 0;
				if (store_holdings(s, pn, &hv, &nh) == -1)
					continue;
				for (q = 0; q < nh; q++)
					if (strcmp(hv[q].dp, dp->name) == 0) {
						char vb[24] = "-";

						if (hv[q].version)
							snprintf(vb, sizeof(vb),
							    "%" PRIu64,
							    hv[q].version);
						printf("%s %s %s unreachable: "
						    "%s\n", dp->name, pn, vb,
						    why);
						any = true;
					}
				free(hv);
				hv = NULL;
			}
			if (!any)
				printf("%s %s - unreachable: %s\n", dp->name,
				    pkg ? pkg : "-", why);
			free(why);
			store_strings_free(pk, np);
			rc = EXIT_PARTIAL;
			continue;
		}
		if (dp_states(&h, pkg, &v, &n) == -1) {
			msg_warn("%s: %s", dp->name, err_get());
			rc = EXIT_PARTIAL;
		} else {
			status_lines(dp->name, v, n, &rc);
			dp_pkg_states_free(v, n);
		}
		dp_close(&h);
	}
out:
	dplist_free(&l);
	store_close(s);
	return rc;
}

/* pkgpush --serve PATH: the remote end of a remote DP (serve.h), on
 * stdin and stdout; messages go to stderr, which ssh carries back. */
static int
serve(const char *path)
{
	char note[1024];
	int r;

	signal(SIGPIPE, SIG_IGN);
	r = serve_session(STDIN_FILENO, STDOUT_FILENO, path, note,
	    sizeof(note));
	if (note[0] != '\0')
		msg_warn("--serve: %s", note);
	if (r == -1) {
		msg_warn("--serve: %s", err_get());
		return EXIT_TROUBLE;
	}
	return r == 0 ? EXIT_DONE : EXIT_PARTIAL;
}

int
main(int argc, char *argv[])
{
	struct opts o;
	enum mode mode = MODE_PUSH;
	const char *serve_path = NULL;
	uint64_t u;
	int ch, rc;

	msg_init(argv[0]);
	/* getopt names argv[0] in its messages: the tool, not a path. */
	argv[0] = (char *)(uintptr_t)msg_progname();
	atomic_install_cleanup();
	io_raise_fd_limit();
	memset(&o, 0, sizeof(o));
	o.keep = 2;
	while ((ch = getopt_long(argc, argv, SHORTOPTS, longopts, NULL)) !=
	    -1) {
		switch (ch) {
		case 'h':
			help();
			free(o.dps.v);
			free(o.groups.v);
			free(o.only.v);
			return msg_close_stdout() == -1 ? EXIT_TROUBLE :
			    EXIT_DONE;
		case 'j':
			if (msg_num_opt("-j", optarg, 1, 1024,
			    "how many DPs to push to at once", &u) == -1)
				bad_usage();
			o.jobs = (int)u;
			break;
		case 'n':
			o.dry_run = true;
			break;
		case 's':
			o.store = optarg;
			break;
		case OPT_ALL:
			o.all = true;
			break;
		case OPT_BWLIMIT:
			if (config_parse_rate(optarg, &o.bwlimit) == -1) {
				msg_warn("--bwlimit: %s", err_get());
				bad_usage();
			}
			break;
		case OPT_DP:
			if (names_add(&o.dps, optarg) == -1)
				msg_die(EXIT_TROUBLE, "out of memory");
			break;
		case OPT_GROUP:
			if (names_add(&o.groups, optarg) == -1)
				msg_die(EXIT_TROUBLE, "out of memory");
			break;
		case OPT_INPLACE:
			o.inplace = true;
			break;
		case OPT_KEEP:
			if (msg_num_opt("--keep", optarg, 1, 1000,
			    "version trees kept on a DP, the current one included",
			    &u) == -1)
				bad_usage();
			o.keep = (unsigned)u;
			break;
		case OPT_ONLY:
			if (names_add(&o.only, optarg) == -1)
				msg_die(EXIT_TROUBLE, "out of memory");
			break;
		case OPT_REFRESH:
			o.refresh = true;
			break;
		case OPT_ROLLBACK:
			o.rollback = true;
			break;
		case OPT_SERVE:
			mode = MODE_SERVE;
			serve_path = optarg;
			break;
		case OPT_STATUS:
			mode = MODE_STATUS;
			break;
		case OPT_TRUST:
			o.trust = optarg;
			break;
		case OPT_VERIFY:
			o.verify = true;
			break;
		case OPT_VERSION:
			if (msg_num_opt("--version", optarg, 1, UINT64_MAX,
			    "versions are numbered from 1", &u) == -1)
				bad_usage();
			o.version = u;
			break;
		default:
			bad_usage();
		}
	}
	if (mode == MODE_SERVE) {
		if (argc != optind)
			bad_usage();
		rc = serve(serve_path);
	} else if (mode == MODE_STATUS) {
		if (argc - optind > 1)
			bad_usage();
		rc = status(o.store, optind < argc ? argv[optind] : NULL);
	} else {
		if (argc - optind != 1)
			bad_usage();
		if (o.rollback && o.version == 0) {
			msg_warn("--rollback needs --version n");
			bad_usage();
		}
		rc = push(&o, argv[optind], argc, argv);
	}
	free(o.dps.v);
	free(o.groups.v);
	free(o.only.v);
	if (msg_close_stdout() == -1 && rc == EXIT_DONE)
		rc = EXIT_TROUBLE;
	return rc;
}
