/*
 * pkgretry — run, queue, list and drop retry jobs (pkgretry(1)).
 *
 * main() parses the options and calls one function per mode.  The retry
 * engine ("run": trust, judging a job, running it, recording the outcome)
 * is in the core (retryrun.h); this tool says what it did, one line a
 * job, and passes the jobs' own messages through.
 */
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "atomic.h"
#include "exitcode.h"
#include "fault.h"
#include "io.h"
#include "json.h"
#include "msg.h"
#include "retryjob.h"
#include "retryrun.h"
#include "store.h"
#include "timefmt.h"

enum mode { MODE_NONE, MODE_ADD, MODE_DROP, MODE_LIST, MODE_RUN };

/* The subcommands, sorted, and how many operands each takes. */
static const struct mode_def {
	const char *name;
	enum mode mode;
	int min, max;
} modes[] = {
	{ "add", MODE_ADD, 1, INT_MAX },
	{ "drop", MODE_DROP, 1, 1 },
	{ "list", MODE_LIST, 0, 0 },
	{ "run", MODE_RUN, 0, 0 },
	{ NULL, MODE_NONE, 0, 0 },
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
	    "       pkgretry [-s store] list [--json]\n"
	    "       pkgretry [-s store] drop id\n"
	    "       pkgretry -h\n");
}

/* -h: the usage, then one line per option (pkgretry(1) says more). */
static void
help(void)
{
	usage(stdout);
	fputs(
	    "\n"
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
	    "      --json            list: one JSON object per job instead "
	    "of text\n"
	    "\n"
	    "Exit 0 nothing due is left failing, 1 some job failed again, 2 "
	    "trouble.\n",
	    stdout);
}

static noreturn void
bad_usage(void)
{
	usage(stderr);
	exit(EXIT_TROUBLE);
}

/* ---- showing a job ---- */

/* ---- run: what the engine did, one line a job ---- */

static void
on_start(void *arg, const struct retryjob *j)
{
	(void)arg;
	printf("%s: running: ", j->id);
	retryjob_show_command(j->argc, j->argv, stdout);
	putchar('\n');
	fflush(stdout);
}

/* The job's stderr, passed through as it comes. */
static void
on_output(void *arg, const char *buf, size_t n)
{
	(void)arg;
	(void)io_write_full(STDERR_FILENO, buf, n, "stderr");
}

static void
on_end(void *arg, const char *name, const struct retryjob *j,
    const struct retryrun_result *r)
{
	char when[TIMEFMT_LEN], in[32];

	(void)arg;
	switch (r->event) {
	case RETRYRUN_SKIPPED:
		if (r->replaced)
			printf("%s: replaced by a newer job meanwhile: left "
			       "alone\n",
			    name);
		break;
	case RETRYRUN_DROPPED:
		if (!r->replaced)
			printf("%s: superseded (%s, the job was for version "
			       "%" PRIu64 "): dropped\n",
			    name, r->why, j->version);
		break;
	case RETRYRUN_DONE:
		printf("%s: done (exit 0)%s\n", name,
		    r->replaced ? "; a newer job for it was queued meanwhile" :
				  "");
		break;
	case RETRYRUN_AGAIN:
		if (r->replaced) {
			printf("%s: failed (%s); a newer job for it was queued "
			       "meanwhile\n",
			    name, j->error);
			break;
		}
		timefmt(j->next, when, sizeof(when));
		timefmt_span(j->next - r->now, in, sizeof(in));
		printf(
		    "%s: failed (%s): attempt %u of %u, next at %s (in %s)\n",
		    name, j->error, j->attempts, r->max_attempts, when, in);
		break;
	case RETRYRUN_FAILED:
		printf("%s: failed for good: %s: moved to failed/\n", name,
		    j->reason);
		break;
	case RETRYRUN_TROUBLE:
		fflush(stdout);
		msg_warn("%s", r->why);
		break;
	}
	fflush(stdout);
}

static int
mode_run(const char *store, const struct retryrun_opts *o)
{
	static const struct retryrun_hooks hooks = { on_start, on_output,
		on_end };
	char exedir[PATH_MAX];
	bool failed, trouble;

	if (retryrun_exedir(exedir, sizeof(exedir)) == -1 ||
	    retryrun_run(store, exedir, o, &hooks, NULL, &failed, &trouble) ==
		-1) {
		msg_liberr();
		return EXIT_TROUBLE;
	}
	return trouble ? EXIT_TROUBLE : failed ? EXIT_PARTIAL : EXIT_DONE;
}

/* ---- add, list, drop ---- */

static int
mode_add(const char *store, int argc, char *const argv[], const char *error)
{
	char id[RETRYJOB_ID_MAX + 1];
	bool queued;

	if (retryjob_queue(store, NULL, NULL, 0, argc, argv, error, id,
		&queued) == -1) {
		msg_liberr();
		return EXIT_TROUBLE;
	}
	if (!queued) {
		printf("%s: being run by pkgretry: not queued again\n", id);
		return EXIT_DONE;
	}
	printf("%s: queued: ", id);
	retryjob_show_command(argc, argv, stdout);
	putchar('\n');
	return EXIT_DONE;
}

/* list --json: one job as one JSON line (pkgretry(1), OUTPUT). */
static int
list_json(const struct retryjob *j, bool failed)
{
	struct json jw;
	int i;

	json_record_begin(&jw);
	json_key_string(&jw, "id", j->id);
	json_key_string(&jw, "package", j->package);
	json_key_string(&jw, "target", j->dp);
	if (j->version != 0)
		json_key_uint(&jw, "version", j->version);
	else
		json_key_null(&jw, "version");
	json_key_uint(&jw, "attempts", j->attempts);
	if (failed)
		json_key_null(&jw, "next");
	else
		json_key_time(&jw, "next", j->next);
	json_key(&jw, "command");
	json_array_begin(&jw);
	for (i = 0; i < j->argc; i++)
		json_string(&jw, j->argv[i]);
	json_array_end(&jw);
	json_key_string(&jw, "last_error", j->error);
	json_key_bool(&jw, "failed", failed);
	json_key_time(&jw, "created", j->created);
	json_key_string(&jw, "dir", j->dir);
	if (failed)
		json_key_time(&jw, "failed_at", j->failed);
	else
		json_key_null(&jw, "failed_at");
	json_key_string(&jw, "reason", j->reason);
	return json_record_end(&jw, stdout);
}

/* "list": one paragraph a job, a blank line between two; with --json,
 * one JSON line a job. */
struct lister {
	int64_t now;
	bool first;
	bool json;
};

static void
list_bad(void *arg, const char *msg)
{
	(void)arg;
	fflush(stdout);
	msg_warn("%s", msg);
}

static void
list_job(void *arg, const struct retryjob *j, bool failed)
{
	struct lister *l = arg;
	char when[TIMEFMT_LEN], in[32], span[24];

	if (l->json) {
		if (list_json(j, failed) == -1)
			msg_liberr();
		return;
	}
	if (!l->first)
		putchar('\n');
	l->first = false;
	if (failed) {
		timefmt(j->failed, when, sizeof(when));
		printf("%s  FAILED at %s, after %u attempts\n", j->id, when,
		    j->attempts);
	} else {
		timefmt(j->next, when, sizeof(when));
		timefmt_span(j->next - l->now, span, sizeof(span));
		snprintf(in, sizeof(in), "%s%s",
		    j->next <= l->now ? "due" : "in ",
		    j->next <= l->now ? "" : span);
		printf("%s  attempts %u, next at %s (%s)\n", j->id, j->attempts,
		    when, in);
	}
	printf("  package %s, dp %s, version ",
	    j->package != NULL ? j->package : "-", j->dp != NULL ? j->dp : "-");
	if (j->version != 0)
		printf("%" PRIu64 "\n", j->version);
	else
		printf("-\n");
	timefmt(j->created, when, sizeof(when));
	printf("  queued %s in ", when);
	msg_put_text(j->dir, stdout);
	printf("\n  command: ");
	retryjob_show_command(j->argc, j->argv, stdout);
	putchar('\n');
	if (j->error != NULL) {
		printf("  last error: ");
		msg_put_text(j->error, stdout);
		putchar('\n');
	}
	if (j->reason != NULL) {
		printf("  reason: ");
		msg_put_text(j->reason, stdout);
		putchar('\n');
	}
}

static int
mode_list(const char *store, bool json)
{
	struct lister l = { (int64_t)fault_now(), true, json };
	bool trouble;

	if (retryrun_list(store, list_job, list_bad, &l, &trouble) == -1) {
		msg_liberr();
		return EXIT_TROUBLE;
	}
	return trouble ? EXIT_TROUBLE : EXIT_DONE;
}

static int
mode_drop(const char *store, const char *id)
{
	bool from_failed;

	if (retryrun_drop(store, id, &from_failed) == -1) {
		msg_liberr();
		return EXIT_TROUBLE;
	}
	if (strncmp(id, RETRYJOB_FAILED_DIR "/",
		strlen(RETRYJOB_FAILED_DIR) + 1) == 0)
		id += strlen(RETRYJOB_FAILED_DIR) + 1;
	printf("%s: dropped%s\n", id, from_failed ? " from failed/" : "");
	return EXIT_DONE;
}

/* ---- main ---- */

enum {
	OPT_BACKOFF = 256,
	OPT_ERROR,
	OPT_JSON,
	OPT_MAX_ATTEMPTS,
	OPT_NOW,
	OPT_TIMEOUT
};

static const struct option longopts[] = { { "backoff", required_argument, NULL,
					      OPT_BACKOFF },
	{ "error", required_argument, NULL, OPT_ERROR },
	{ "json", no_argument, NULL, OPT_JSON },
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
	struct retryrun_opts o;
	enum mode mode = MODE_NONE;
	const char *storeopt = NULL, *store, *error = NULL, *sub;
	const struct mode_def *m = modes;
	char absbuf[PATH_MAX];
	uint64_t u;
	int ch, rc, pass;
	bool json = false;

	msg_init(argv[0]);
	retryrun_opts_init(&o);
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
				    retryrun_parse_backoff(optarg, &o.base,
					&o.cap) == -1)
					bad_usage();
				o.set_backoff = true;
				break;
			case OPT_ERROR:
				if (mode != MODE_ADD)
					bad_usage();
				error = optarg;
				break;
			case OPT_JSON:
				if (mode != MODE_LIST)
					bad_usage();
				json = true;
				break;
			case OPT_MAX_ATTEMPTS:
				if (mode != MODE_RUN ||
				    msg_num_opt("--max-attempts", optarg, 1,
					1000000,
					"attempts before a job moves to "
					"failed/",
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
				    retryrun_parse_timeout(optarg, &o.timeout,
					&o.grace) == -1)
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
		for (m = modes; m->name != NULL; m++)
			if (strcmp(sub, m->name) == 0)
				break;
		if (m->name == NULL) {
			msg_warn("'%s': unknown subcommand", sub);
			bad_usage();
		}
		mode = m->mode;
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

	if (argc < m->min || argc > m->max)
		bad_usage();
	switch (mode) {
	case MODE_ADD:
		rc = mode_add(store, argc, argv, error);
		break;
	case MODE_DROP:
		rc = mode_drop(store, argv[0]);
		break;
	case MODE_LIST:
		rc = mode_list(store, json);
		break;
	default:
		rc = mode_run(store, &o);
		break;
	}
	if (msg_close_stdout() == -1 && rc == EXIT_DONE)
		rc = EXIT_TROUBLE;
	return rc;
}
