/*
 * test_pushrun.c — a push across targets (pushrun.h) on a real store and
 * real DP directories: the checks that fail the command before any DP
 * is touched, a push to the DPs named and no other (F4), the records it
 * leaves, a failed DP's notes and retry job, --refresh-existing, and a
 * dry run that changes nothing; and the records' --forget.
 */
#include <sys/stat.h>

#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "dplist.h"
#include "err.h"
#include "pushrun.h"
#include "stage.h"
#include "store.h"
#include "tap.h"
#include "targets.h"

static char top[256];

/* What the hooks were told. */
struct seen {
	int done, failed;
	char names[512];  /* the names of the done DPs, "a,b" */
	char notes[4096]; /* every note, "NAME: TEXT\n" */
	char retry[64];	  /* the last failed DP's retry id */
};

static void
on_done(void *arg, const struct dp *dp, const struct dp_push_result *r)
{
	struct seen *v = arg;
	size_t n = strlen(v->names);

	(void)r;
	v->done++;
	snprintf(v->names + n, sizeof(v->names) - n, "%s%s", n ? "," : "",
	    dp->name);
}

static void
on_failed(void *arg, const struct dp *dp, const struct dp_push_result *r,
    const char *why, const char *retry)
{
	struct seen *v = arg;

	(void)dp;
	(void)r;
	(void)why;
	v->failed++;
	snprintf(v->retry, sizeof(v->retry), "%s", retry ? retry : "");
}

static void
on_note(void *arg, const char *name, const char *text)
{
	struct seen *v = arg;
	size_t n = strlen(v->notes);

	snprintf(v->notes + n, sizeof(v->notes) - n, "%s: %s\n",
	    name ? name : "-", text);
}

static const struct pushrun_hooks hooks = { on_done, on_failed, on_note, NULL,
	NULL, NULL };

static const struct option longopts[] = {
	{ "dp", required_argument, NULL, 300 }, { NULL, 0, NULL, 0 }
};
static const int drop[] = { 0 };
static char *cmd[] = { "pkgpush", "--dp", "dp3", "office", NULL };

static void
opts(struct pushrun_opts *o, const char *const *dps, size_t n)
{
	pushrun_opts_init(o);
	o->sel.dps = dps;
	o->sel.ndps = n;
	o->jobs = 2;
	o->argc = 4;
	o->argv = cmd;
	o->shortopts = "";
	o->longopts = longopts;
	o->drop = drop;
}

/* The bytes of top/REL, or "". */
static const char *
slurp(const char *rel)
{
	static char buf[256];
	char path[512];
	ssize_t n = -1;
	int fd;

	snprintf(path, sizeof(path), "%s/%s", top, rel);
	if ((fd = open(path, O_RDONLY)) != -1) {
		n = read(fd, buf, sizeof(buf) - 1);
		close(fd);
	}
	buf[n > 0 ? n : 0] = '\0';
	return buf;
}

static void
test_refused(struct store *s, const struct dplist *l)
{
	static const char *const nosuch[] = { "nosuch" },
				 *const dp1[] = { "dp1" };
	struct pushrun_opts o;
	struct pushrun_result res;
	struct dplist empty;
	struct seen v;

	memset(&v, 0, sizeof(v));
	opts(&o, nosuch, 1);
	tap_ok(pushrun(s, l, "office", &o, &hooks, &v, &res) == -1 &&
		strcmp(err_get(), "--dp: unknown DP 'nosuch'") == 0,
	    "an unknown DP fails the push");
	dplist_init(&empty);
	tap_ok(pushrun(s, &empty, "office", &o, &hooks, &v, &res) == -1 &&
		strstr(err_get(), "unknown DP 'nosuch': the DP list '") !=
		    NULL &&
		strstr(err_get(), "' does not exist (one DP a line") != NULL,
	    "with no DP list, the failure says so");
	opts(&o, NULL, 0);
	tap_ok(pushrun(s, l, "office", &o, &hooks, &v, &res) == -1 &&
		strcmp(err_get(),
		    "office: no target DP (name them with --dp, "
		    "--group, --all or --refresh-existing)") == 0,
	    "no target fails the push");
	opts(&o, dp1, 1);
	tap_ok(pushrun(s, l, "word", &o, &hooks, &v, &res) == -1 &&
		strstr(err_get(), "word: no such package in the store") != NULL,
	    "a package not in the store fails the push");
	o.version = 9;
	tap_ok(pushrun(s, l, "office", &o, &hooks, &v, &res) == -1,
	    "a version not in the store fails the push");
	tap_ok(v.done == 0 && v.failed == 0 && v.notes[0] == '\0',
	    "nothing was pushed and nothing said");
}

static void
test_push(struct store *s, const struct dplist *l)
{
	static const char *const two[] = { "dp2", "dp1" },
				 *const dp3[] = { "dp3" };
	struct pushrun_opts o;
	struct pushrun_result res;
	struct store_holding h;
	struct seen v;
	struct stat st;
	char path[512];

	memset(&v, 0, sizeof(v));
	opts(&o, two, 2);
	o.dry_run = true;
	tap_ok(pushrun(s, l, "office", &o, &hooks, &v, &res) == 0 &&
		res.ntargets == 2 && res.nfailed == 0 && v.done == 2,
	    "a dry run reports both targets done");
	snprintf(path, sizeof(path), "%s/dp1/office", top);
	tap_ok(lstat(path, &st) == -1 &&
		store_holding_find(s, "office", "dp1", &h) == 0,
	    "a dry run writes nothing, records nothing");

	memset(&v, 0, sizeof(v));
	opts(&o, two, 2);
	o.jobs = 1;
	tap_ok(pushrun(s, l, "office", &o, &hooks, &v, &res) == 0 &&
		res.ntargets == 2 && res.nfailed == 0 && !res.store_failed,
	    "a push to two DPs");
	tap_ok(strcmp(v.names, "dp1,dp2") == 0,
	    "the targets are pushed in DP list order: %s", v.names);
	tap_ok(strcmp(slurp("dp1/office/a"), "alpha\n") == 0 &&
		strcmp(slurp("dp2/office/a"), "alpha\n") == 0,
	    "both DPs hold the version");
	tap_ok(store_holding_find(s, "office", "dp2", &h) == 1 &&
		h.version == 1 && h.state == STORE_HOLD_COMPLETE,
	    "the store records what a DP holds");
	snprintf(path, sizeof(path), "%s/dp4/office", top);
	tap_ok(lstat(path, &st) == -1, "a DP not named is not touched (F4)");

	memset(&v, 0, sizeof(v));
	opts(&o, dp3, 1);
	tap_ok(pushrun(s, l, "office", &o, &hooks, &v, &res) == 0 &&
		res.ntargets == 1 && res.nfailed == 1 && v.done == 0 &&
		v.failed == 1,
	    "a DP whose directory is missing fails");
	tap_ok(strncmp(v.notes, "dp3: ", 5) == 0 &&
		strstr(v.notes, "dp3: retry queued as '") != NULL &&
		v.retry[0] != '\0',
	    "its failure and its retry job are noted");
	tap_ok(store_holding_find(s, "office", "dp3", &h) == 1 &&
		h.state == STORE_HOLD_FAILED && h.wanted == 1,
	    "the store records the failed first push");

	memset(&v, 0, sizeof(v));
	opts(&o, NULL, 0);
	o.sel.refresh = true;
	o.dry_run = true;
	tap_ok(pushrun(s, l, "office", &o, &hooks, &v, &res) == 0 &&
		res.ntargets == 3 && v.done == 2 && v.failed == 1,
	    "--refresh-existing: the DPs that hold it or were being brought "
	    "to it (%s)",
	    v.names);
}

static void
count_forgot(void *arg, const char *pkg, const struct store_holding *had)
{
	int *n = arg;

	if (strcmp(pkg, "office") == 0 && strcmp(had->dp, "dp3") == 0)
		(*n)++;
}

/* pkgpush --forget's lookup across packages (store.h). */
static void
test_forget(struct store *s)
{
	struct store_holding h;
	size_t n = 9;
	int seen = 0;

	tap_ok(store_holding_forget_every(s, NULL, "dp3", count_forgot, &seen,
		   &n) == 0 &&
		n == 1 && seen == 1 &&
		store_holding_find(s, "office", "dp3", &h) == 0,
	    "forget: the record of dp3 goes, and is told");
	tap_ok(store_holding_forget_every(s, "office", "dp3", NULL, NULL, &n) ==
		    0 &&
		n == 0,
	    "forget again: nothing to remove");
	tap_ok(store_holding_forget_every(s, "word", "dp1", NULL, NULL, &n) ==
		    -1 &&
		strcmp(err_get(),
		    "package 'word': not in the "
		    "store") == 0 &&
		store_holding_find(s, "office", "dp1", &h) == 1,
	    "forget of a package the store lacks fails, removes nothing");
}

int
main(void)
{
	struct store *s = NULL;
	struct stage_opts so;
	struct dplist l;
	char text[2048], d[400];
	const char *tmp = getenv("TMPDIR");
	uint64_t version;
	FILE *fp;
	int i;

	snprintf(top, sizeof(top), "%s/test_pushrun.XXXXXX",
	    tmp ? tmp : "/tmp");
	if (mkdtemp(top) == NULL)
		return 1;
	for (i = 1; i <= 4; i++) {
		if (i == 3)
			continue; /* dp3's directory is missing */
		snprintf(d, sizeof(d), "%s/dp%d", top, i);
		mkdir(d, 0755);
	}
	snprintf(d, sizeof(d), "%s/src", top);
	mkdir(d, 0755);
	snprintf(d, sizeof(d), "%s/src/a", top);
	if ((fp = fopen(d, "w")) == NULL || fputs("alpha\n", fp) == EOF ||
	    fclose(fp) == EOF)
		return 1;
	snprintf(d, sizeof(d), "%s/store", top);
	snprintf(text, sizeof(text),
	    "dp1 g1 %s/dp1\ndp2 g2 %s/dp2\n"
	    "dp3 g2 %s/dp3\ndp4 g2 %s/dp4\n",
	    top, top, top, top);
	stage_opts_init(&so);
	if (dplist_load_buf(text, strlen(text), "dps", &l) == -1 ||
	    store_open(d, STORE_CREATE, &s) == -1) {
		tap_diag("%s", err_get());
		return 1;
	}
	snprintf(d, sizeof(d), "%s/src", top);
	if (stage_add(s, "office", d, &so, &version) == -1) {
		tap_diag("%s", err_get());
		return 1;
	}
	test_refused(s, &l);
	test_push(s, &l);
	test_forget(s);
	store_close(s);
	dplist_free(&l);
	snprintf(text, sizeof(text), "rm -rf '%s'", top);
	if (system(text) != 0)
		tap_diag("cannot remove %s", top);
	return tap_done();
}
