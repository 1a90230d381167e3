/*
 * pkgpush — bring distribution points to a version of a package.
 *
 * main() parses options and picks a mode; the modes print.  A push is
 * pushrun() (common/pushrun.h: the targets, the workers, the records
 * and the retry jobs); this file prints what it reports.
 */
#include <getopt.h>
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
#include "err.h"
#include "exitcode.h"
#include "io.h"
#include "manifest.h"
#include "msg.h"
#include "path.h"
#include "pushreport.h"
#include "pushrun.h"
#include "serve.h"
#include "sites.h"
#include "sitessh.h"
#include "status.h"
#include "statusfmt.h"
#include "store.h"
#include "targets.h"

enum mode {
	MODE_PUSH, /* first: 0, no option picks it */
	MODE_FORGET,
	MODE_RECEIVE,
	MODE_SERVE,
	MODE_STATUS,
	MODE_WHERE
};

enum {
	OPT_ALL = 256,
	OPT_ALL_SITES,
	OPT_BWLIMIT,
	OPT_CASCADE,
	OPT_DP,
	OPT_FORGET,
	OPT_GROUP,
	OPT_INPLACE,
	OPT_JSON,
	OPT_KEEP,
	OPT_ONLY,
	OPT_RECEIVE,
	OPT_REFRESH,
	OPT_REINIT,
	OPT_ROLLBACK,
	OPT_SERVE,
	OPT_SITE,
	OPT_SITE_GROUP,
	OPT_STATUS,
	OPT_TRUST,
	OPT_VERIFY,
	OPT_VERSION,
	OPT_WHERE
};

static const struct option longopts[] = { { "all", no_argument, NULL, OPT_ALL },
	{ "all-sites", no_argument, NULL, OPT_ALL_SITES },
	{ "bwlimit", required_argument, NULL, OPT_BWLIMIT },
	{ "cascade", no_argument, NULL, OPT_CASCADE },
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
	{ "receive", required_argument, NULL, OPT_RECEIVE },
	{ "refresh-existing", no_argument, NULL, OPT_REFRESH },
	{ "reinit", no_argument, NULL, OPT_REINIT },
	{ "rollback", no_argument, NULL, OPT_ROLLBACK },
	{ "serve", required_argument, NULL, OPT_SERVE },
	{ "site", required_argument, NULL, OPT_SITE },
	{ "site-group", required_argument, NULL, OPT_SITE_GROUP },
	{ "status", no_argument, NULL, OPT_STATUS },
	{ "store", required_argument, NULL, 's' },
	{ "trust", required_argument, NULL, OPT_TRUST },
	{ "verify", no_argument, NULL, OPT_VERIFY },
	{ "version", required_argument, NULL, OPT_VERSION },
	{ "where", required_argument, NULL, OPT_WHERE }, { NULL, 0, NULL, 0 } };
#define SHORTOPTS "hj:ns:"

/* What a retry job fixes itself (retryjob_pkgpush_argv()); --json is
 * for the reader of this command's output, not pkgretry's. */
static const int job_drop[] = { OPT_JSON, OPT_ONLY, OPT_VERSION, 0 };

#define IN(m) (1u << (m))
#define STORE_MODES \
	(IN(MODE_PUSH) | IN(MODE_FORGET) | IN(MODE_STATUS) | IN(MODE_WHERE))

/*
 * The modes that take each option: a push every option but the other
 * modes'; --status, --where and --forget the store only (--status also
 * --json and --cascade); --serve and --receive nothing (the far side
 * passes everything in the protocol).  A mode's own option picks it;
 * a number option has its bounds and meaning for msg_num_opt().
 */
static const struct opt_def {
	int opt;
	unsigned modes;
	enum mode picks; /* MODE_PUSH: none */
	uint64_t min, max;
	const char *what; /* a number: what it means */
} opt_defs[] = {
	{ 'j', IN(MODE_PUSH), MODE_PUSH, 1, 1024,
	    "how many DPs to push to at once" },
	{ 'n', IN(MODE_PUSH), MODE_PUSH, 0, 0, NULL },
	{ 's', STORE_MODES, MODE_PUSH, 0, 0, NULL },
	{ OPT_ALL, IN(MODE_PUSH), MODE_PUSH, 0, 0, NULL },
	{ OPT_ALL_SITES, IN(MODE_PUSH), MODE_PUSH, 0, 0, NULL },
	{ OPT_BWLIMIT, IN(MODE_PUSH), MODE_PUSH, 0, 0, NULL },
	{ OPT_CASCADE, IN(MODE_PUSH) | IN(MODE_STATUS), MODE_PUSH, 0, 0, NULL },
	{ OPT_DP, IN(MODE_PUSH), MODE_PUSH, 0, 0, NULL },
	{ OPT_FORGET, IN(MODE_FORGET), MODE_FORGET, 0, 0, NULL },
	{ OPT_GROUP, IN(MODE_PUSH), MODE_PUSH, 0, 0, NULL },
	{ OPT_INPLACE, IN(MODE_PUSH), MODE_PUSH, 0, 0, NULL },
	{ OPT_JSON, IN(MODE_PUSH) | IN(MODE_STATUS), MODE_PUSH, 0, 0, NULL },
	{ OPT_KEEP, IN(MODE_PUSH), MODE_PUSH, 1, 1000,
	    "version trees kept on a DP, the current one included" },
	{ OPT_ONLY, IN(MODE_PUSH), MODE_PUSH, 0, 0, NULL },
	{ OPT_RECEIVE, IN(MODE_RECEIVE), MODE_RECEIVE, 0, 0, NULL },
	{ OPT_REFRESH, IN(MODE_PUSH), MODE_PUSH, 0, 0, NULL },
	{ OPT_REINIT, IN(MODE_PUSH), MODE_PUSH, 0, 0, NULL },
	{ OPT_ROLLBACK, IN(MODE_PUSH), MODE_PUSH, 0, 0, NULL },
	{ OPT_SERVE, IN(MODE_SERVE), MODE_SERVE, 0, 0, NULL },
	{ OPT_SITE, IN(MODE_PUSH), MODE_PUSH, 0, 0, NULL },
	{ OPT_SITE_GROUP, IN(MODE_PUSH), MODE_PUSH, 0, 0, NULL },
	{ OPT_STATUS, IN(MODE_STATUS), MODE_STATUS, 0, 0, NULL },
	{ OPT_TRUST, IN(MODE_PUSH), MODE_PUSH, 0, 0, NULL },
	{ OPT_VERIFY, IN(MODE_PUSH), MODE_PUSH, 0, 0, NULL },
	{ OPT_VERSION, IN(MODE_PUSH), MODE_PUSH, 1, UINT64_MAX,
	    "versions are numbered from 1" },
	{ OPT_WHERE, IN(MODE_WHERE), MODE_WHERE, 0, 0, NULL },
	{ 0, 0, MODE_PUSH, 0, 0, NULL },
};

struct names {
	const char **v;
	size_t n;
};

struct opts {
	enum mode mode;
	const char *mode_arg; /* --forget, --receive, --serve, --where */
	const char *store;
	struct names dps, groups, only;	 /* into push.sel */
	struct names sites, site_groups; /* into push.ssel */
	bool json;
	struct pushrun_opts push;
};

static void
usage(FILE *fp)
{
	fprintf(fp,
	    "usage: pkgpush [-n] [-j n] [-s store] [--all] [--all-sites] "
	    "[--bwlimit rate]\n"
	    "               [--cascade] [--dp name] [--group g] [--inplace] "
	    "[--json]\n"
	    "               [--keep k] [--only name] [--refresh-existing] "
	    "[--reinit]\n"
	    "               [--rollback] [--site name] [--site-group g] "
	    "[--trust key.pub]\n"
	    "               [--verify] [--version n] pkg\n"
	    "       pkgpush [-s store] --forget name [pkg]\n"
	    "       pkgpush [-s store] --status [--cascade] [--json] [pkg]\n"
	    "       pkgpush [-s store] --where name\n"
	    "       pkgpush --serve path [path ...]\n"
	    "       pkgpush --receive path\n");
}

/* -h: the usage, then one line per option (pkgpush(1) says more). */
static void
help(void)
{
	usage(stdout);
	fputs(
	    "\n"
	    "  -n, --dry-run         say per DP what would be done, change "
	    "nothing\n"
	    "  -j, --jobs n          push to n DPs, then n sites, at once\n"
	    "                        (default 4; more than 64: 64)\n"
	    "  -s, --store store     the store (default $PKGDIST_STORE, else\n"
	    "                        /var/lib/pkgdist)\n"
	    "  -h, --help            print this help and exit 0\n"
	    "      --all             push to every DP of the DP list "
	    "(STORE/dps)\n"
	    "      --all-sites       push to every child site of the site "
	    "list (STORE/sites)\n"
	    "      --bwlimit rate    cap what this command sends to remote "
	    "DPs, "
	    "in all,\n"
	    "                        at rate bytes/s (K, M, G: powers of "
	    "1024)\n"
	    "      --cascade         an ssh:// child site then pushes on to "
	    "its "
	    "own DPs\n"
	    "                        and sites that hold pkg\n"
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
	    "      --only name       of the targets named, push to DP or site "
	    "name only\n"
	    "      --refresh-existing  also push to every DP and site that "
	    "holds pkg\n"
	    "      --reinit          place pkg afresh on a DP that shows no "
	    ".pkgdist/\n"
	    "                        although the store records it holding "
	    "a version\n"
	    "      --rollback        allow moving a DP to a lower --version\n"
	    "      --site name       push to child site name (may be "
	    "repeated)\n"
	    "      --site-group g    push to every child site of group g "
	    "(may be repeated)\n"
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
	    "      --serve path...   the far side of ssh:// DPs of one host "
	    "(run "
	    "by pkgpush)\n"
	    "      --receive path    the far side of an ssh:// child site: "
	    "the store path\n"
	    "                        (run by pkgpush)\n"
	    "      --where name      print DP or site name's TARGET from its "
	    "list, unescaped\n"
	    "\n"
	    "Exit 0 every target done, 1 some failed (retries queued), 2 "
	    "trouble.\n",
	    stdout);
}

static const struct opt_def *
opt_def(int opt)
{
	const struct opt_def *d;

	for (d = opt_defs; d->opt != 0 && d->opt != opt; d++)
		;
	return d;
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

/* ---- the reports of a push ---- */

struct report {
	const struct opts *o;
	const char *pkg;
};

/* pushrun_hooks.done: one line on stdout, and the push's warning. */
static void
report_done(void *arg, const struct dp *dp, const struct dp_push_result *r)
{
	const struct report *rp = arg;
	bool warn = true;

	if (rp->o->json) {
		if (pushreport_dp_json(dp, rp->pkg, r, rp->o->push.dry_run,
			NULL, NULL, stdout) == -1)
			msg_liberr();
		fflush(stdout);
	} else
		warn = pushreport_dp_line(dp, rp->pkg, r, rp->o->push.dry_run,
		    stdout);
	if (warn && r->warning[0] != '\0')
		msg_warn("%s: %s", dp->name, r->warning);
	fflush(stdout);
}

/* pushrun_hooks.failed: the JSON line of a failed target (the text
 * report is the notes). */
static void
report_failed(void *arg, const struct dp *dp, const struct dp_push_result *r,
    const char *why, const char *retry)
{
	const struct report *rp = arg;

	if (!rp->o->json)
		return;
	if (pushreport_dp_json(dp, rp->pkg, r, rp->o->push.dry_run, why, retry,
		stdout) == -1)
		msg_liberr();
	fflush(stdout);
}

static void
report_note(void *arg, const char *name, const char *text)
{
	(void)arg;
	if (name != NULL)
		msg_warn("%s: %s", name, text);
	else
		msg_warn("%s", text);
}

/* pushrun_hooks.site_done */
static void
report_site_done(void *arg, const struct dp *site,
    const struct site_push_result *r)
{
	const struct report *rp = arg;

	if (rp->o->json) {
		if (pushreport_site_json(site, rp->pkg, r, rp->o->push.dry_run,
			NULL, NULL, stdout) == -1)
			msg_liberr();
	} else
		pushreport_site_line(site, rp->pkg, r, rp->o->push.dry_run,
		    stdout);
	fflush(stdout);
}

/* pushrun_hooks.site_failed: the JSON line (the text is the notes). */
static void
report_site_failed(void *arg, const struct dp *site,
    const struct site_push_result *r, const char *why, const char *retry)
{
	const struct report *rp = arg;

	if (!rp->o->json)
		return;
	if (pushreport_site_json(site, rp->pkg, r, rp->o->push.dry_run, why,
		retry, stdout) == -1)
		msg_liberr();
	fflush(stdout);
}

/* A line of a child's cascade (sites.h), its target named SITE/DP. */
static void
cascade_line(void *arg, bool err, const char *text)
{
	(void)arg;
	if (err)
		msg_warn("%s", text);
	else {
		fputs(text, stdout);
		putchar('\n');
		fflush(stdout);
	}
}

/* ---- modes ---- */

static int
push(struct opts *o, const char *pkg, int argc, char **argv)
{
	static const struct pushrun_hooks hooks = { report_done, report_failed,
		report_note, report_site_done, report_site_failed,
		cascade_line };
	struct report rp = { o, pkg };
	struct store *s = NULL;
	struct dplist l, sites;
	struct pushrun_result res;
	int rc = EXIT_TROUBLE;

	dplist_init(&l);
	dplist_init(&sites);
	if (package_name_check(pkg) == -1) {
		msg_liberr();
		return EXIT_TROUBLE;
	}
	o->push.ssel.sites = o->sites.v;
	o->push.ssel.nsites = o->sites.n;
	o->push.ssel.groups = o->site_groups.v;
	o->push.ssel.ngroups = o->site_groups.n;
	o->push.ssel.only = o->only.v;
	o->push.ssel.nonly = o->only.n;
	o->push.ssel.refresh = o->push.sel.refresh;
	o->push.sites = &sites;
	o->push.sel.sites = &sites;
	o->push.json = o->json;
	o->push.sel.dps = o->dps.v;
	o->push.sel.ndps = o->dps.n;
	o->push.sel.groups = o->groups.v;
	o->push.sel.ngroups = o->groups.n;
	o->push.sel.only = o->only.v;
	o->push.sel.nonly = o->only.n;
	o->push.argc = argc;
	o->push.argv = argv;
	o->push.shortopts = SHORTOPTS;
	o->push.longopts = longopts;
	o->push.drop = job_drop;
	if (store_open(store_path(o->store), 0, &s) == -1 ||
	    sites_lists_load(s, &l, &sites) == -1 ||
	    pushrun(s, &l, pkg, &o->push, &hooks, &rp, &res) == -1) {
		msg_liberr();
		goto out;
	}
	/* A DP the store failed: trouble that no retry cures. */
	rc = res.store_failed ? EXIT_TROUBLE :
	    res.nfailed > 0   ? EXIT_PARTIAL :
				EXIT_DONE;
out:
	/* The list is this function's. */
	o->push.sites = o->push.sel.sites = NULL;
	dplist_free(&l);
	dplist_free(&sites);
	store_close(s);
	return rc;
}

static void
forgot(void *arg, const char *pkg, const struct store_holding *had)
{
	char text[STORE_HOLDING_TEXT];

	(void)arg;
	printf("forgot: %s\n", store_holding_text(pkg, had, text));
}

/* --forget NAME [PKG]: the store's records of what NAME holds (of PKG,
 * else of every package) go; each one removed is said. */
static int
forget(const char *storeopt, const char *name, const char *pkg)
{
	struct store *s = NULL;
	size_t n;
	int rc = EXIT_TROUBLE;

	if (!name_valid(name)) {
		msg_warn("'%s': invalid DP or site name", name);
		return EXIT_TROUBLE;
	}
	if (pkg != NULL && package_name_check(pkg) == -1) {
		msg_liberr();
		return EXIT_TROUBLE;
	}
	if (store_open(store_path(storeopt), 0, &s) == -1 ||
	    store_holding_forget_every(s, pkg, name, forgot, NULL, &n) == -1) {
		msg_liberr();
		goto out;
	}
	if (n == 0) {
		msg_warn("%s: the store has no record of what it holds%s%s",
		    name, pkg != NULL ? " of " : "", pkg != NULL ? pkg : "");
		goto out;
	}
	rc = EXIT_DONE;
out:
	store_close(s);
	return rc;
}

/* --status --cascade: the children's lines, kept to follow ours. */
struct kept_lines {
	char **v;
	size_t n;
	bool failed; /* out of memory: some are missing */
};

static void
keep_line(void *arg, bool err, const char *text)
{
	struct kept_lines *k = arg;
	char **nv;

	if (err) {
		msg_warn("%s", text);
		return;
	}
	if ((nv = realloc(k->v, (k->n + 1) * sizeof(*nv))) == NULL ||
	    (nv[k->n] = strdup(text)) == NULL) {
		if (nv != NULL)
			k->v = nv;
		k->failed = true;
		return;
	}
	k->v = nv;
	k->n++;
}

static int
status(const char *storeopt, const char *pkg, bool json, bool cascade)
{
	struct store *s = NULL;
	struct dplist l, sites;
	struct site_push_opts so;
	struct kept_lines kept = { NULL, 0, false };
	struct status_row *v = NULL;
	size_t n = 0, i;
	int rc = EXIT_TROUBLE, crc = -1;

	dplist_init(&l);
	dplist_init(&sites);
	memset(&so, 0, sizeof(so));
	so.cascade = cascade;
	so.json = json;
	so.line = keep_line;
	so.arg = &kept;
	if (pkg != NULL && package_name_check(pkg) == -1) {
		msg_liberr();
		return EXIT_TROUBLE;
	}
	if (store_open(store_path(storeopt), 0, &s) == -1 ||
	    sites_lists_load(s, &l, &sites) == -1 ||
	    status_collect(s, &l, pkg, &v, &n) == -1 ||
	    sites_status(s, &sites, pkg, &so, &v, &n, &crc) == -1) {
		msg_liberr();
		goto out;
	}
	rc = EXIT_DONE;
	/* A person at a terminal gets a table; a script, the fields. */
	if (!json && isatty(STDOUT_FILENO))
		statusfmt_table(v, n, stdout);
	for (i = 0; i < n; i++) {
		if (json) {
			if (statusfmt_json(&v[i], stdout) == -1)
				msg_liberr();
		} else if (!isatty(STDOUT_FILENO))
			statusfmt_line(&v[i], stdout);
		if (!status_row_ok(&v[i]))
			rc = EXIT_PARTIAL;
	}
	/* The children's own lines, each target SITE/DP. */
	for (i = 0; i < kept.n; i++)
		puts(kept.v[i]);
	if (kept.failed)
		msg_warn("--cascade: out of memory: some lines are missing");
	if (crc >= 1 || kept.failed)
		rc = EXIT_PARTIAL;
out:
	for (i = 0; i < kept.n; i++)
		free(kept.v[i]);
	free(kept.v);
	status_rows_free(v, n);
	dplist_free(&l);
	dplist_free(&sites);
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
	struct dplist l, sites;
	const struct dp *dp;
	char *t = NULL, shown[PATH_SHOW_LEN];
	int rc = EXIT_TROUBLE;

	dplist_init(&l);
	dplist_init(&sites);
	if (store_open(store_path(storeopt), 0, &s) == -1 ||
	    sites_lists_load(s, &l, &sites) == -1) {
		msg_liberr();
		goto out;
	}
	/* A site's too: a name is one target. */
	if ((dp = dplist_find(&l, name)) == NULL &&
	    (dp = dplist_find(&sites, name)) == NULL) {
		msg_warn("'%s': no such DP in '%s/%s'",
		    path_show(name, shown, sizeof(shown)), store_dir(s),
		    STORE_DPS);
		goto out;
	}
	if (path_unescape(dp->target_text, strlen(dp->target_text), &t) == -1) {
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
	dplist_free(&sites);
	store_close(s);
	return rc;
}

/* pkgpush --receive PATH: the far side of a child site over ssh
 * (sitessh.h), PATH its store. */
static int
receive(const char *path)
{
	if (sitessh_serve(STDIN_FILENO, STDOUT_FILENO, path) == -1) {
		msg_warn("--receive: %s", err_get());
		return EXIT_TROUBLE;
	}
	return EXIT_DONE;
}

/* pkgpush --serve PATH [PATH...]: the remote end of remote DPs of this
 * host (serve.h), on stdin and stdout; messages go to stderr, which ssh
 * carries back. */
static int
serve(const char *first, char **more, int nmore)
{
	const char **paths;
	char note[1024];
	int r, i;

	/* One session takes at most PROTO_PATHS_MAX (serve_session()). */
	if ((paths = calloc((size_t)nmore + 1, sizeof(*paths))) == NULL) {
		msg_warn("--serve: out of memory");
		return EXIT_TROUBLE;
	}
	paths[0] = first;
	for (i = 0; i < nmore; i++)
		paths[i + 1] = more[i];
	r = serve_session(STDIN_FILENO, STDOUT_FILENO, paths, (size_t)nmore + 1,
	    note, sizeof(note));
	free(paths);
	if (note[0] != '\0')
		msg_warn("--serve: %s", note);
	if (r == -1) {
		msg_warn("--serve: %s", err_get());
		return EXIT_TROUBLE;
	}
	return r == 0 ? EXIT_DONE : EXIT_PARTIAL;
}

/* The list a repeatable option adds to, or NULL. */
static struct names *
names_of(struct opts *o, int ch)
{
	return ch == OPT_DP	 ? &o->dps :
	    ch == OPT_GROUP	 ? &o->groups :
	    ch == OPT_ONLY	 ? &o->only :
	    ch == OPT_SITE	 ? &o->sites :
	    ch == OPT_SITE_GROUP ? &o->site_groups :
				   NULL;
}

/* One option into o; -1 after saying what is wrong with its value
 * (the usage follows). */
static int
set_opt(struct opts *o, int ch, const char *arg)
{
	const struct opt_def *d = opt_def(ch);
	struct names *n = names_of(o, ch);
	char name[32];
	uint64_t u = 0;

	if (d->opt == 0)
		return -1;
	if (d->what != NULL) {
		opt_name(ch, name, sizeof(name));
		if (msg_num_opt(name, arg, d->min, d->max, d->what, &u) == -1)
			return -1;
	}
	if (d->picks != MODE_PUSH) {
		o->mode = d->picks;
		o->mode_arg = arg;
	}
	if (n != NULL && names_add(n, arg) == -1)
		msg_die(EXIT_TROUBLE, "out of memory");
	switch (ch) {
	case 'j':
		o->push.jobs = (int)u;
		break;
	case 'n':
		o->push.dry_run = true;
		break;
	case 's':
		o->store = arg;
		break;
	case OPT_ALL:
		o->push.sel.all = true;
		break;
	case OPT_ALL_SITES:
		o->push.ssel.all = true;
		break;
	case OPT_BWLIMIT:
		if (config_parse_rate(arg, &o->push.bwlimit) == -1) {
			msg_warn("--bwlimit: %s", err_get());
			return -1;
		}
		break;
	case OPT_CASCADE:
		o->push.cascade = true;
		break;
	case OPT_INPLACE:
		o->push.inplace = true;
		break;
	case OPT_JSON:
		o->json = true;
		break;
	case OPT_KEEP:
		o->push.keep = (unsigned)u;
		break;
	case OPT_REFRESH:
		o->push.sel.refresh = true;
		break;
	case OPT_REINIT:
		o->push.reinit = true;
		break;
	case OPT_ROLLBACK:
		o->push.rollback = true;
		break;
	case OPT_TRUST:
		o->push.trust = arg;
		break;
	case OPT_VERIFY:
		o->push.verify = true;
		break;
	case OPT_VERSION:
		o->push.version = u;
		break;
	}
	return 0;
}

static void
opts_free(struct opts *o)
{
	free(o->dps.v);
	free(o->groups.v);
	free(o->only.v);
	free(o->sites.v);
	free(o->site_groups.v);
}

/* An option that means nothing in the mode is refused, not ignored:
 * "--status --keep 5" is a mistake to point out. */
static void
check_mode(enum mode mode, int *given, size_t ngiven)
{
	const struct opt_def *own;
	char n1[32], n2[32];
	size_t i;

	/* The mode's own option, to name it (a push has none, and takes
	 * every option it is given). */
	for (own = opt_defs; own->opt != 0 && own->picks != mode; own++)
		;
	for (i = 0; i < ngiven; i++)
		if ((opt_def(given[i])->modes & IN(mode)) == 0) {
			opt_name(given[i], n1, sizeof(n1));
			opt_name(own->opt, n2, sizeof(n2));
			msg_warn("%s means nothing with %s", n1, n2);
			free(given);
			bad_usage();
		}
}

/* The mode, with its operands. */
static int
run_mode(struct opts *o, int argc, char **argv)
{
	const char *operand = optind < argc ? argv[optind] : NULL;

	switch (o->mode) {
	case MODE_SERVE:
		return serve(o->mode_arg, argv + optind, argc - optind);
	case MODE_RECEIVE:
		if (argc != optind)
			bad_usage();
		return receive(o->mode_arg);
	case MODE_WHERE:
		if (argc != optind)
			bad_usage();
		return where(o->store, o->mode_arg);
	case MODE_STATUS:
		if (argc - optind > 1)
			bad_usage();
		return status(o->store, operand, o->json, o->push.cascade);
	case MODE_FORGET:
		if (argc - optind > 1)
			bad_usage();
		return forget(o->store, o->mode_arg, operand);
	case MODE_PUSH:
		break;
	}
	if (argc - optind != 1)
		bad_usage();
	if (o->push.rollback && o->push.version == 0) {
		msg_warn("--rollback needs --version n");
		bad_usage();
	}
	return push(o, operand, argc, argv);
}

int
main(int argc, char *argv[])
{
	struct opts o;
	int ch, rc, *given;
	size_t ngiven = 0;

	msg_init(argv[0]);
	/* getopt names argv[0] in its messages: the tool, not a path. */
	argv[0] = (char *)(uintptr_t)msg_progname();
	atomic_install_cleanup();
	io_raise_fd_limit();
	/* A far side gone mid-write (ssh, a child site's stream, a closed
	 * stdout) is a failed write to report, not a silent death. */
	signal(SIGPIPE, SIG_IGN);
	memset(&o, 0, sizeof(o));
	o.mode = MODE_PUSH;
	pushrun_opts_init(&o.push);
	/* The options given, in order, for the check of the mode. */
	if ((given = calloc((size_t)argc + 1, sizeof(*given))) == NULL)
		msg_die(EXIT_TROUBLE, "out of memory");
	while (
	    (ch = getopt_long(argc, argv, SHORTOPTS, longopts, NULL)) != -1) {
		if (ch == 'h') {
			help();
			free(given);
			opts_free(&o);
			return msg_close_stdout() == -1 ? EXIT_TROUBLE :
							  EXIT_DONE;
		}
		if (ch != '?' && ch != ':')
			given[ngiven++] = ch;
		if (set_opt(&o, ch, optarg) == -1)
			bad_usage();
	}
	check_mode(o.mode, given, ngiven);
	free(given);
	rc = run_mode(&o, argc, argv);
	opts_free(&o);
	if (msg_close_stdout() == -1 && rc == EXIT_DONE)
		rc = EXIT_TROUBLE;
	return rc;
}
