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
#include "fanout.h"
#include "fault.h"
#include "json.h"
#include "manifest.h"
#include "msg.h"
#include "num.h"
#include "progress.h"
#include "ratelimit.h"
#include "remote.h"
#include "retryjob.h"
#include "scan.h"
#include "serve.h"
#include "status.h"
#include "store.h"
#include "targets.h"

/* How long a push waits for another push on the same DP. */
#define DP_LOCK_WAIT 3600.0

enum mode { MODE_FORGET, MODE_PUSH, MODE_SERVE, MODE_STATUS, MODE_WHERE };

enum {
	OPT_ALL = 256,
	OPT_BWLIMIT,
	OPT_DP,
	OPT_FORGET,
	OPT_GROUP,
	OPT_INPLACE,
	OPT_JSON,
	OPT_KEEP,
	OPT_ONLY,
	OPT_REFRESH,
	OPT_REINIT,
	OPT_ROLLBACK,
	OPT_SERVE,
	OPT_STATUS,
	OPT_TRUST,
	OPT_VERIFY,
	OPT_VERSION,
	OPT_WHERE
};

static const struct option longopts[] = {
	{ "all", no_argument, NULL, OPT_ALL },
	{ "bwlimit", required_argument, NULL, OPT_BWLIMIT },
	{ "dp", required_argument, NULL, OPT_DP },
	{ "dry-run", no_argument, NULL, 'n' },
	{ "forget", required_argument, NULL, OPT_FORGET },
	{ "group", required_argument, NULL, OPT_GROUP },
	{ "help", no_argument, NULL, 'h' },
	{ "inplace", no_argument, NULL, OPT_INPLACE },
	{ "jobs", required_argument, NULL, 'j' },
	{ "json", no_argument, NULL, OPT_JSON },
	{ "keep", required_argument, NULL, OPT_KEEP },
	{ "only", required_argument, NULL, OPT_ONLY },
	{ "refresh-existing", no_argument, NULL, OPT_REFRESH },
	{ "reinit", no_argument, NULL, OPT_REINIT },
	{ "rollback", no_argument, NULL, OPT_ROLLBACK },
	{ "serve", required_argument, NULL, OPT_SERVE },
	{ "status", no_argument, NULL, OPT_STATUS },
	{ "store", required_argument, NULL, 's' },
	{ "trust", required_argument, NULL, OPT_TRUST },
	{ "verify", no_argument, NULL, OPT_VERIFY },
	{ "version", required_argument, NULL, OPT_VERSION },
	{ "where", required_argument, NULL, OPT_WHERE },
	{ NULL, 0, NULL, 0 }
};
#define SHORTOPTS "hj:ns:"

/* What a retry job fixes itself (retryjob_pkgpush_argv()); --json is
 * for the reader of this command's output, not pkgretry's. */
static const int job_drop[] = { OPT_JSON, OPT_ONLY, OPT_VERSION, 0 };

struct names {
	const char **v;
	size_t n;
};

struct opts {
	const char *store;
	uint64_t version;	/* 0: newest */
	struct names dps, groups, only;
	bool all, refresh, inplace, verify, rollback, dry_run, reinit, json;
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
	    "               [--group g] [--inplace] [--json] [--keep k] "
	    "[--only name]\n"
	    "               [--refresh-existing] [--reinit] [--rollback]\n"
	    "               [--trust key.pub] "
	    "[--verify]\n"
	    "               [--version n] pkg\n"
	    "       pkgpush [-s store] --forget name [pkg]\n"
	    "       pkgpush [-s store] --status [--json] [pkg]\n"
	    "       pkgpush [-s store] --where name\n"
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
	    "      --json            print one JSON object a target or status "
	    "line\n"
	    "      --keep k          atomic layout: keep k trees on each DP, "
	    "the current\n"
	    "                        one included (default 2)\n"
	    "      --only name       of the targets named, push to DP name "
	    "only\n"
	    "      --refresh-existing  also push to every DP that holds pkg\n"
	    "      --reinit          place pkg afresh on a DP that shows no "
	    ".pkgdist/\n"
	    "                        although the store records it holding "
	    "a version\n"
	    "      --rollback        allow moving a DP to a lower --version\n"
	    "      --trust key.pub   refuse a version not signed by that key\n"
	    "      --verify          re-hash each DP first and repair any "
	    "drift\n"
	    "      --version n       push version n (default: the newest)\n"
	    "      --forget name     remove the store's records of what DP "
	    "or site name\n"
	    "                        holds (of pkg, or of every package)\n"
	    "      --status          print each DP's version and state of pkg "
	    "(or of\n"
	    "                        every package)\n"
	    "      --serve path      the far side of an ssh:// DP (run by "
	    "pkgpush)\n"
	    "      --where name      print DP name's TARGET from the DP list, "
	    "unescaped\n"
	    "\n"
	    "Exit 0 every target done, 1 some failed (retries queued), 2 "
	    "trouble.\n", stdout);
}

/*
 * Does mode take option opt?  A push takes every option but the other
 * modes'; --status, --where and --forget use the store only (--status
 * also --json); --serve takes nothing (its far side passes everything
 * in the protocol).
 */
static bool
mode_takes(enum mode mode, int opt)
{
	switch (mode) {
	case MODE_PUSH:
		return opt != OPT_SERVE && opt != OPT_STATUS &&
		    opt != OPT_WHERE && opt != OPT_FORGET;
	case MODE_FORGET:
		return opt == 's' || opt == OPT_FORGET;
	case MODE_STATUS:
		return opt == 's' || opt == OPT_STATUS || opt == OPT_JSON;
	case MODE_WHERE:
		return opt == 's' || opt == OPT_WHERE;
	case MODE_SERVE:
		return opt == OPT_SERVE;
	}
	return false;
}

/* How an option is spelt in messages: "-j", "--keep". */
static void
opt_name(int opt, char *buf, size_t len)
{
	size_t i;

	if (opt < 256) {
		snprintf(buf, len, "-%c", opt);
		return;
	}
	for (i = 0; longopts[i].name != NULL; i++)
		if (longopts[i].val == opt) {
			snprintf(buf, len, "--%s", longopts[i].name);
			return;
		}
	snprintf(buf, len, "?");
}

/* The mode option itself, for messages. */
static int
mode_opt(enum mode mode)
{
	return mode == MODE_SERVE ? OPT_SERVE : mode == MODE_STATUS ?
	    OPT_STATUS : mode == MODE_WHERE ? OPT_WHERE : mode == MODE_FORGET ?
	    OPT_FORGET : 0;
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

struct shared;

struct job {
	const struct dp *dp;
	struct shared *sh;
	struct remote_conn *conn;	/* ssh started early, or NULL */
	struct cap cap;
	struct ratelimit *rate;	/* remote DPs under a cap, else NULL */
	struct content_source inner;	/* what job_source_write() asks */
	int result;		/* 0 done, -1 failed, -2 the store failed */
	bool store_damaged;	/* a content the store could not give (under
				 * sh->mu: set by writer threads) */
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
	struct fanout *fanout;	/* two local DPs or more: each content read
				 * from the store once (fanout.h) */
	struct content_source fanout_src;
	/* Contents found damaged in the store (under mu; rare, so a short
	 * list): a DP that failed on one gets no retry job. */
	unsigned char (*damaged)[DIGEST_LEN];
	size_t ndamaged;
};

/* ---- the content source: the store ---- */

/* ctx is the push's struct shared (read only here, by every writer
 * thread).  A content the store cannot give is named by package,
 * version and file, not by its digest alone; a damaged one (missing or
 * not what its digest says: no failed system call, where a read error
 * may pass) is noted in sh->damaged. */
static int
store_source_write(void *ctx, const unsigned char d[DIGEST_LEN],
    uint64_t size, int fd, const char *what)
{
	struct shared *sh = ctx;
	unsigned char (*nv)[DIGEST_LEN];
	bool fault = false, damaged;

	if (store_content_copy(sh->store, d, size, fd, what, &fault) == 0)
		return 0;
	if (!fault)
		return -1;
	damaged = err_errno() == 0;
	(void)store_err_content(sh->pkg, sh->m->version, sh->m, d);
	if (!damaged)
		return -1;
	pthread_mutex_lock(&sh->mu);
	if ((nv = realloc(sh->damaged, (sh->ndamaged + 1) *
	    sizeof(*nv))) != NULL) {
		sh->damaged = nv;
		memcpy(sh->damaged[sh->ndamaged++], d, DIGEST_LEN);
	}
	pthread_mutex_unlock(&sh->mu);
	return -1;
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

static int
job_source_write(void *ctx, const unsigned char d[DIGEST_LEN],
    uint64_t size, int fd, const char *what)
{
	struct job *job = ctx;
	struct shared *sh = job->sh;
	size_t i;

	if (job->inner.write(job->inner.ctx, d, size, fd, what) == 0)
		return 0;
	pthread_mutex_lock(&sh->mu);
	for (i = 0; i < sh->ndamaged; i++)
		if (memcmp(sh->damaged[i], d, DIGEST_LEN) == 0)
			job->store_damaged = true;
	pthread_mutex_unlock(&sh->mu);
	return -1;
}

static void report_json(struct shared *sh, const struct dp *dp,
    const struct dp_push_result *r, bool ok, const char *why,
    const char *retry);

static void
report_ok(struct shared *sh, const struct dp *dp,
    const struct dp_push_result *r)
{
	char old[32], bytes[192], saved[64];

	if (sh->o->json) {
		report_json(sh, dp, r, true, NULL, NULL);
		if (r->warning[0] != '\0')
			msg_warn("%s: %s", dp->name, r->warning);
		return;
	}
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
	saved[0] = '\0';
	if (r->bytes_saved > 0)
		snprintf(saved, sizeof(saved), ", %" PRIu64 " bytes not sent "
		    "(chunks the DP had)", r->bytes_saved);
	if (sh->o->dry_run)
		snprintf(bytes, sizeof(bytes), "%" PRIu64 " bytes to write",
		    r->bytes);
	else
		snprintf(bytes, sizeof(bytes), "%" PRIu64 " bytes written (%"
		    PRIu64 " content, %" PRIu64 " state)%s", r->bytes +
		    r->state_bytes, r->bytes, r->state_bytes, saved);
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

/*
 * --json: the report of one target as one JSON line (pkgpush(1),
 * OUTPUT).  ok false: why is the message, retry the job's id or NULL.
 * Called with sh->mu held.
 */
static void
report_json(struct shared *sh, const struct dp *dp,
    const struct dp_push_result *r, bool ok, const char *why,
    const char *retry)
{
	struct json j;

	json_init(&j);
	json_object_begin(&j);
	json_key_int(&j, "schema", 1);
	json_key_string(&j, "target", dp->name);
	json_key_string(&j, "package", sh->pkg);
	if (r->held)
		json_key_uint(&j, "from", r->old_version);
	else
		json_key_null(&j, "from");
	json_key_uint(&j, "to", r->new_version);
	json_key_bool(&j, "ok", ok);
	json_key_uint(&j, "added", r->added);
	json_key_uint(&j, "changed", r->changed);
	json_key_uint(&j, "deleted", r->deleted);
	/* As the text report: a dry run knows the contents only. */
	json_key_uint(&j, "bytes_written", sh->o->dry_run ? r->bytes :
	    r->bytes + r->state_bytes);
	if (dp->target.kind == DP_SSH)
		json_key_uint(&j, "bytes_sent", r->bytes_sent);
	else
		json_key_null(&j, "bytes_sent");
	json_key_string(&j, "error", ok ? NULL : why);
	json_key_string(&j, "retry", retry);
	json_key_bool(&j, "dry_run", sh->o->dry_run);
	json_key_bool(&j, "up_to_date", r->up_to_date);
	json_object_end(&j);
	if (json_line_write(&j, stdout) == -1)
		msg_liberr();
	fflush(stdout);
	json_free(&j);
}

/*
 * Record the outcome in the store (holdings) and on the DP (state).  A
 * refused move (dp_push_refused()) is no failure of the DP: it still
 * holds its version as it did, and is recorded so.
 */
static void
record(struct shared *sh, const struct dp *dp, struct dp_handle *h,
    const struct dp_push_result *r, int rc, const char *why)
{
	struct store_holding hd, known;
	struct dp_state st;
	bool refused = rc != 0 && dp_push_refused(r, sh->o->rollback);
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
		hd.state = r->old_partial ? STORE_HOLD_PARTIAL :
		    STORE_HOLD_COMPLETE;
		if (h != NULL && h->rootfd != -1 &&
		    dp_state_read(h, sh->pkg, &st, NULL) == 0) {
			if (st.status == DP_ST_PARTIAL)
				hd.version = hd.wanted = st.from;
			dp_state_free(&st);
		}
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
			if ((k = store_holding_find(sh->store, sh->pkg,
			    dp->name, &known)) == 1)
				hd.version = known.version;
			else if (k == -1)
				msg_warn("%s: %s", dp->name, err_get());
		}
	}
	if (store_holding_record(sh->store, sh->pkg, &hd) == -1)
		msg_warn("%s: %s", dp->name, err_get());
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
	struct err_saved why = ERR_SAVED_INIT;
	char id[RETRYJOB_ID_MAX + 1], **nv = NULL;
	int rc = -1, nc = 0;
	bool opened = false, queued = false, damaged, running;

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
	job->inner.ctx = sh;
	job->inner.prepare = NULL;
	job->inner.write = store_source_write;
	if (sh->fanout != NULL)
		job->inner = sh->fanout_src;
	src.ctx = job;
	src.prepare = job->inner.prepare != NULL ? job_source_prepare : NULL;
	src.write = job_source_write;

	if (dp->target.kind == DP_SSH) {
		/* The remote runs dp_push() itself (remote.h). */
		struct remote_conn *pre = job->conn;
		struct store_holding known;
		uint64_t base = 0;

		job->conn = NULL;
		/* What the DP holds whole, by the store's record: the
		 * remote is sent the changes from it (remote.h). */
		if (store_holding_find(sh->store, sh->pkg, dp->name,
		    &known) == 1 && known.state != STORE_HOLD_PARTIAL)
			base = known.version;
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
	if (targets_open(sh->store, dp, sh->pkg, !sh->o->dry_run,
	    sh->o->reinit, &h) == -1)
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
	err_save(&why);
	pthread_mutex_lock(&sh->mu);
	msg_warn("%s: %s", dp->name, why.msg);
	pthread_mutex_unlock(&sh->mu);
	if (sh->o->dry_run)
		goto out;
	record(sh, dp, opened ? &h : NULL, &r, -1, why.msg);
	/* Run by pkgretry as this DP's job, say nothing about a retry:
	 * the cause, the line above, is what it records. */
	running = retryjob_running(sh->pkg, dp->name);
	pthread_mutex_lock(&sh->mu);
	damaged = job->store_damaged;
	pthread_mutex_unlock(&sh->mu);
	if (damaged) {
		pthread_mutex_lock(&sh->mu);
		if (!running)
			msg_warn("%s: not queued for retry: the store is "
			    "damaged and waiting will not mend it (see "
			    "pkgstage fsck)", dp->name);
		pthread_mutex_unlock(&sh->mu);
		rc = -2;
		goto out;
	}
	if (dp_push_refused(&r, sh->o->rollback)) {
		pthread_mutex_lock(&sh->mu);
		if (!running)
			msg_warn("%s: not queued for retry: it still holds %s %"
			    PRIu64 " as it did", dp->name, sh->pkg,
			    r.old_version);
		pthread_mutex_unlock(&sh->mu);
		goto out;
	}
	if (r.permanent) {
		pthread_mutex_lock(&sh->mu);
		if (!running)
			msg_warn("%s: not queued for retry (waiting will not "
			    "help)", dp->name);
		pthread_mutex_unlock(&sh->mu);
		goto out;
	}
	/* The job is built from the options as parsed (an abbreviated
	 * --onl is --only), never from the words typed. */
	if (retryjob_pkgpush_argv(sh->argc, sh->argv, SHORTOPTS, longopts,
	    job_drop, dp->name, sh->m->version, &nc, &nv) == -1 ||
	    retryjob_queue(store_dir(sh->store), sh->pkg, dp->name,
	    sh->m->version, nc, nv, why.msg, id, &queued) == -1) {
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
	if (rc == -1 && sh->o->json) {
		pthread_mutex_lock(&sh->mu);
		report_json(sh, dp, &r, false, why.msg ? why.msg : "failed",
		    queued ? id : NULL);
		pthread_mutex_unlock(&sh->mu);
	}
	progress_target_done(sh->progress, rc != 0);
	if (nv != NULL)
		retryjob_argv_free(nc, nv);
	err_drop(&why);
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

/* Record that every target is being brought to version before any is
 * touched (store_holdings_begin): gc then keeps it for a DP whose push
 * is killed after its switch. */
static int
begin_holdings(struct store *s, const char *pkg, const struct shared *sh,
    uint64_t version)
{
	const char **names;
	size_t i, n = 0;
	int rc;

	if ((names = calloc(sh->njobs + 1, sizeof(*names))) == NULL) {
		msg_warn("out of memory");
		return -1;
	}
	for (i = 0; i < sh->njobs; i++)
		if (sh->jobs[i].dp != NULL)
			names[n++] = sh->jobs[i].dp->name;
	if ((rc = store_holdings_begin(s, pkg, names, n, version)) == -1)
		msg_liberr();
	free(names);
	return rc;
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

/* A fanout over the store for a push to two local DPs or more. */
static int
fanout_start(struct shared *sh)
{
	struct content_source store_src = { sh, NULL, store_source_write };
	size_t i, local = 0;

	for (i = 0; i < sh->njobs; i++)
		if (sh->jobs[i].dp->target.kind != DP_SSH)
			local++;
	if (local < 2)
		return 0;
	if ((sh->fanout = fanout_new(&store_src, &sh->fanout_src)) == NULL)
		return -1;
	return 0;
}

static int
push(const struct opts *o, const char *pkg, int argc, char **argv)
{
	struct store *s = NULL;
	struct dplist l;
	struct manifest m;
	struct shared sh;
	struct targets_sel sel;
	char **stray = NULL;
	size_t nstray = 0, i, j;
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
	memset(&sel, 0, sizeof(sel));
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
	sel.dps = o->dps.v;
	sel.ndps = o->dps.n;
	sel.groups = o->groups.v;
	sel.ngroups = o->groups.n;
	sel.only = o->only.v;
	sel.nonly = o->only.n;
	sel.all = o->all;
	sel.refresh = o->refresh;
	if (targets_check(&l, &sel) == -1) {
		msg_warn("%s%s", err_get(), dplist_note(s, &l, note,
		    sizeof(note)));
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
	if (targets_select(s, pkg, &l, &sel, want, &sh.njobs, &stray,
	    &nstray) == -1) {
		msg_liberr();
		goto out;
	}
	for (j = 0; j < nstray; j++)
		msg_warn("%s: holds %s but is not in the DP list: skipped",
		    stray[j], pkg);
	/* One job per target, each with its DP, in DP list order. */
	if ((sh.jobs = calloc(l.n > 0 ? l.n : 1, sizeof(*sh.jobs))) == NULL) {
		msg_warn("out of memory");
		goto out;
	}
	for (i = 0, j = 0; i < l.n; i++)
		if (want[i]) {
			sh.jobs[j].sh = &sh;
			sh.jobs[j++].dp = &l.v[i];
		}
	sh.njobs = j;
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
	nth = o->jobs > 0 ? o->jobs : 4;
	if ((size_t)nth > sh.njobs)
		nth = (int)sh.njobs;
	/* The remote DPs pushed first: ssh connects while the manifest is
	 * loaded (a failure to start ssh is reported by the push). */
	for (i = 0; i < (size_t)nth; i++)
		if (sh.jobs[i].dp->target.kind == DP_SSH)
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
	if (!o->dry_run && begin_holdings(s, pkg, &sh, version) == -1)
		goto out;
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
	/* The cap shown: the command's total, else the first target's. */
	if (total != NULL && ratelimit_rate_now(total) == 0)
		for (i = 0; i < sh.njobs; i++)
			if (sh.jobs[i].rate != NULL &&
			    ratelimit_rate_now(sh.jobs[i].rate) != 0) {
				progress_cap(sh.progress, sh.jobs[i].rate);
				break;
			}
	if (total != NULL && ratelimit_rate_now(total) != 0)
		progress_cap(sh.progress, total);
	if (!o->dry_run && fanout_start(&sh) == -1) {
		msg_liberr();
		goto out;
	}
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
		if (sh.jobs[i].result != 0 && rc == EXIT_DONE)
			rc = EXIT_PARTIAL;
	/* The store failed a DP: trouble that no retry cures. */
	for (i = 0; i < sh.njobs; i++)
		if (sh.jobs[i].result == -2)
			rc = EXIT_TROUBLE;
out:
	(void)items;
	(void)bytes;
	free(th);
	free(want);
	store_strings_free(stray, nstray);
	for (i = 0; sh.jobs != NULL && i < sh.njobs; i++) {
		remote_conn_free(sh.jobs[i].conn);
		ratelimit_free(sh.jobs[i].rate);
	}
	ratelimit_free(total);
	fanout_free(sh.fanout);
	free(sh.damaged);
	free(sh.jobs);
	pthread_mutex_destroy(&sh.mu);
	if (ulock != -1)
		store_unlock(ulock);
	manifest_free(&m);
	dplist_free(&l);
	store_close(s);
	return rc;
}

/* --forget NAME [PKG]: the store's records of what NAME holds (of PKG,
 * else of every package) go; each one removed is said. */
static int
forget(const char *storeopt, const char *name, const char *pkg)
{
	struct store *s = NULL;
	struct store_holding had;
	char **pk = NULL, text[STORE_HOLDING_TEXT];
	size_t np = 0, i, n = 0;
	int rc = EXIT_TROUBLE, k;

	if (!name_valid(name)) {
		msg_warn("'%s': not a valid DP or site name", name);
		return EXIT_TROUBLE;
	}
	if (pkg != NULL && !name_valid(pkg)) {
		msg_warn("'%s': not a valid package name", pkg);
		return EXIT_TROUBLE;
	}
	if (store_open(store_path(storeopt), 0, &s) == -1 ||
	    store_packages(s, &pk, &np) == -1) {
		msg_liberr();
		goto out;
	}
	for (i = 0; pkg != NULL && i < np && strcmp(pk[i], pkg) != 0; i++)
		;
	if (pkg != NULL && i == np) {
		msg_warn("package '%s': not in the store", pkg);
		goto out;
	}
	for (i = 0; i < np; i++) {
		if (pkg != NULL && strcmp(pk[i], pkg) != 0)
			continue;
		if ((k = store_holding_forget(s, pk[i], name, &had)) == -1) {
			msg_liberr();
			goto out;
		}
		if (k == 1) {
			printf("forgot: %s\n", store_holding_text(pk[i], &had,
			    text));
			n++;
		}
	}
	if (n == 0) {
		msg_warn("%s: the store has no record of what it holds%s%s",
		    name, pkg != NULL ? " of " : "", pkg != NULL ? pkg : "");
		goto out;
	}
	rc = EXIT_DONE;
out:
	store_strings_free(pk, np);
	store_close(s);
	return rc;
}

/*
 * One --status line: "NAME PKG VERSION STATE[: why] newest N" (VERSION
 * and N "-" when there is none; a partial row says "partial from M").
 */
static void
status_print(const struct status_row *r)
{
	char ver[24] = "-", newest[24] = "-", from[40] = "";

	if (r->version != 0)
		snprintf(ver, sizeof(ver), "%" PRIu64, r->version);
	if (r->newest != 0)
		snprintf(newest, sizeof(newest), "%" PRIu64, r->newest);
	if (r->state == STATUS_PARTIAL)
		snprintf(from, sizeof(from), " from %" PRIu64, r->from);
	/* A recorded error is shown on its line whatever it holds (one
	 * written by an earlier release may hold a raw newline). */
	printf("%s %s %s %s%s%s", r->target, r->package, ver,
	    status_state_name(r->state), from, r->error != NULL ? ": " : "");
	if (r->error != NULL)
		msg_put_text(r->error, stdout);
	printf(" newest %s\n", newest);
}

/* --status --json: one row as one JSON line (pkgpush(1), OUTPUT). */
static void
status_json(const struct status_row *r)
{
	struct json j;
	/* The SPEC's five states: a DP whose state cannot be read has
	 * failed (its error says why). */
	const char *state = r->state == STATUS_DAMAGED ? "failed" :
	    status_state_name(r->state);

	json_init(&j);
	json_object_begin(&j);
	json_key_int(&j, "schema", 1);
	json_key_string(&j, "target", r->target);
	json_key_string(&j, "package", strcmp(r->package, "-") == 0 ? NULL :
	    r->package);
	if (r->version != 0)
		json_key_uint(&j, "version", r->version);
	else
		json_key_null(&j, "version");
	if (r->newest != 0)
		json_key_uint(&j, "newest", r->newest);
	else
		json_key_null(&j, "newest");
	json_key_string(&j, "state", state);
	json_key_string(&j, "layout", r->layout == DP_LAYOUT_ATOMIC ?
	    "atomic" : r->layout == DP_LAYOUT_INPLACE ? "inplace" : NULL);
	if (r->state == STATUS_PARTIAL)
		json_key_uint(&j, "from", r->from);
	else
		json_key_null(&j, "from");
	json_key_string(&j, "error", r->error);
	json_object_end(&j);
	if (json_line_write(&j, stdout) == -1)
		msg_liberr();
	json_free(&j);
}

/* What one DP is, for the summary line on a terminal: its worst row. */
enum status_kind { SK_NEWEST, SK_BEHIND, SK_PARTIAL, SK_FAILED,
	SK_UNREACHABLE, SK_NONE, SK_N };

static enum status_kind
status_kind(const struct status_row *r)
{
	switch (r->state) {
	case STATUS_COMPLETE:
		return r->version < r->newest ? SK_BEHIND : SK_NEWEST;
	case STATUS_PARTIAL:
		return SK_PARTIAL;
	case STATUS_UNREACHABLE:
		return SK_UNREACHABLE;
	case STATUS_NONE:
		return SK_NONE;
	default:
		return SK_FAILED;
	}
}

/*
 * --status on a terminal: the same fields in aligned columns under a
 * header, and a closing line that counts the DPs by their worst row
 * ("12 DPs: 10 complete at newest, 1 behind, 1 unreachable").
 */
static void
status_table(const struct status_row *v, size_t n)
{
	static const char *const kname[SK_N] = { "complete at newest",
	    "behind", "partial", "failed", "unreachable", "without it" };
	static const int rank[SK_N] = { 0, 1, 2, 3, 4, -1 };
	char ver[24], newest[24], state[48];
	size_t i, k, w[4] = { 2, 7, 7, 5 }, ndp = 0, count[SK_N] = { 0 };
	enum status_kind worst;
	bool first;

	for (i = 0; i < n; i++) {
		snprintf(state, sizeof(state), "%s", status_state_name(
		    v[i].state));
		if (v[i].state == STATUS_PARTIAL)
			snprintf(state, sizeof(state), "partial from %" PRIu64,
			    v[i].from);
		snprintf(ver, sizeof(ver), "%" PRIu64, v[i].version);
		if (strlen(v[i].target) > w[0])
			w[0] = strlen(v[i].target);
		if (strlen(v[i].package) > w[1])
			w[1] = strlen(v[i].package);
		if (strlen(ver) > w[2])
			w[2] = strlen(ver);
		if (strlen(state) > w[3])
			w[3] = strlen(state);
	}
	printf("%-*s  %-*s  %-*s  %-*s  %s\n", (int)w[0], "DP", (int)w[1],
	    "PACKAGE", (int)w[2], "VERSION", (int)w[3], "STATE", "NEWEST");
	for (i = 0; i < n; i++) {
		const struct status_row *r = &v[i];

		snprintf(ver, sizeof(ver), "-");
		snprintf(newest, sizeof(newest), "-");
		if (r->version != 0)
			snprintf(ver, sizeof(ver), "%" PRIu64, r->version);
		if (r->newest != 0)
			snprintf(newest, sizeof(newest), "%" PRIu64,
			    r->newest);
		snprintf(state, sizeof(state), "%s", status_state_name(
		    r->state));
		if (r->state == STATUS_PARTIAL)
			snprintf(state, sizeof(state), "partial from %" PRIu64,
			    r->from);
		printf("%-*s  %-*s  %-*s  %-*s  %-6s", (int)w[0], r->target,
		    (int)w[1], r->package, (int)w[2], ver, (int)w[3], state,
		    newest);
		if (r->error != NULL) {
			fputs("  ", stdout);
			msg_put_text(r->error, stdout);
		}
		putchar('\n');
		/* Rows of one DP come together. */
		if (i + 1 < n && strcmp(v[i + 1].target, r->target) == 0)
			continue;
		for (k = i, worst = SK_NONE; ; k--) {
			enum status_kind sk = status_kind(&v[k]);

			if (rank[sk] > rank[worst])
				worst = sk;
			if (k == 0 || strcmp(v[k - 1].target, r->target) != 0)
				break;
		}
		count[worst]++;
		ndp++;
	}
	printf("%zu DP%s:", ndp, ndp == 1 ? "" : "s");
	first = true;
	for (k = 0; k < SK_N; k++) {
		if (count[k] == 0 && k != SK_NEWEST)
			continue;
		printf("%s %zu %s", first ? "" : ",", count[k], kname[k]);
		first = false;
	}
	putchar('\n');
}

static int
status(const char *storeopt, const char *pkg, bool json)
{
	struct store *s = NULL;
	struct dplist l;
	struct status_row *v = NULL;
	size_t n = 0, i;
	int rc = EXIT_TROUBLE;

	dplist_init(&l);
	if (pkg != NULL && !name_valid(pkg)) {
		msg_warn("'%s': not a valid package name", pkg);
		return EXIT_TROUBLE;
	}
	if (store_open(store_path(storeopt), 0, &s) == -1 ||
	    load_dplist(s, &l) == -1 ||
	    status_collect(s, &l, pkg, &v, &n) == -1) {
		msg_liberr();
		goto out;
	}
	rc = EXIT_DONE;
	/* A person at a terminal gets a table; a script, the fields. */
	if (!json && isatty(STDOUT_FILENO))
		status_table(v, n);
	for (i = 0; i < n; i++) {
		if (json)
			status_json(&v[i]);
		else if (!isatty(STDOUT_FILENO))
			status_print(&v[i]);
		if (!status_row_ok(&v[i]))
			rc = EXIT_PARTIAL;
	}
out:
	status_rows_free(v, n);
	dplist_free(&l);
	store_close(s);
	return rc;
}

/*
 * pkgpush --where NAME: DP NAME's TARGET as the DP list gives it, with
 * its escapes undone (any byte but NUL may follow), and a newline: what
 * pkgdist-cron needs to find a local DP, from the one DP list parser.
 */
static int
where(const char *storeopt, const char *name)
{
	struct store *s = NULL;
	struct dplist l;
	const struct dp *dp;
	char *t = NULL, shown[PATH_SHOW_LEN];
	int rc = EXIT_TROUBLE;

	dplist_init(&l);
	if (store_open(store_path(storeopt), 0, &s) == -1 ||
	    load_dplist(s, &l) == -1) {
		msg_liberr();
		goto out;
	}
	if ((dp = dplist_find(&l, name)) == NULL) {
		msg_warn("'%s': no such DP in '%s/%s'", path_show(name,
		    shown, sizeof(shown)), store_dir(s), STORE_DPS);
		goto out;
	}
	if (path_unescape(dp->target_text, strlen(dp->target_text),
	    &t) == -1) {
		msg_liberr();
		goto out;
	}
	if (fwrite(t, 1, strlen(t), stdout) != strlen(t) ||
	    putchar('\n') == EOF)
		goto out;
	rc = EXIT_DONE;
out:
	free(t);
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
	const char *serve_path = NULL, *forget_name = NULL, *where_name = NULL;
	char n1[32], n2[32];
	uint64_t u;
	int ch, rc, *given;
	size_t ngiven = 0, i;

	msg_init(argv[0]);
	/* getopt names argv[0] in its messages: the tool, not a path. */
	argv[0] = (char *)(uintptr_t)msg_progname();
	atomic_install_cleanup();
	io_raise_fd_limit();
	memset(&o, 0, sizeof(o));
	o.keep = 2;
	/* The options given, in order, for the check of the mode. */
	if ((given = calloc((size_t)argc + 1, sizeof(*given))) == NULL)
		msg_die(EXIT_TROUBLE, "out of memory");
	while ((ch = getopt_long(argc, argv, SHORTOPTS, longopts, NULL)) !=
	    -1) {
		if (ch != '?' && ch != ':')
			given[ngiven++] = ch;
		switch (ch) {
		case 'h':
			help();
			free(given);
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
		case OPT_JSON:
			o.json = true;
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
		case OPT_REINIT:
			o.reinit = true;
			break;
		case OPT_ROLLBACK:
			o.rollback = true;
			break;
		case OPT_FORGET:
			mode = MODE_FORGET;
			forget_name = optarg;
			break;
		case OPT_SERVE:
			mode = MODE_SERVE;
			serve_path = optarg;
			break;
		case OPT_STATUS:
			mode = MODE_STATUS;
			break;
		case OPT_WHERE:
			mode = MODE_WHERE;
			where_name = optarg;
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
	/* An option that means nothing in the mode is refused, not
	 * ignored: "--status --keep 5" is a mistake to point out. */
	for (i = 0; i < ngiven; i++)
		if (!mode_takes(mode, given[i])) {
			opt_name(given[i], n1, sizeof(n1));
			opt_name(mode_opt(mode), n2, sizeof(n2));
			msg_warn("%s means nothing with %s", n1, n2);
			free(given);
			bad_usage();
		}
	free(given);
	if (mode == MODE_SERVE) {
		if (argc != optind)
			bad_usage();
		rc = serve(serve_path);
	} else if (mode == MODE_WHERE) {
		if (argc != optind)
			bad_usage();
		rc = where(o.store, where_name);
	} else if (mode == MODE_STATUS) {
		if (argc - optind > 1)
			bad_usage();
		rc = status(o.store, optind < argc ? argv[optind] : NULL,
		    o.json);
	} else if (mode == MODE_FORGET) {
		if (argc - optind > 1)
			bad_usage();
		rc = forget(o.store, forget_name,
		    optind < argc ? argv[optind] : NULL);
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
