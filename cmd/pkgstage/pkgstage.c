/*
 * pkgstage — the store: stage versions, list and show them, move them
 * between sites as package files, collect garbage, check, sign
 * (pkgstage(1)).
 *
 * main() parses the options (before the subcommand, then the
 * subcommand's own; -s is accepted in both places) and calls one static
 * function per mode, which calls the core (stage.h, store.h, pack.h,
 * sign.h) and maps the result to an exit code.
 */
#include <errno.h>
#include <fcntl.h>
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
#include "err.h"
#include "exitcode.h"
#include "fault.h"
#include "inbox.h"
#include "io.h"
#include "json.h"
#include "manifest.h"
#include "msg.h"
#include "num.h"
#include "pack.h"
#include "path.h"
#include "progress.h"
#include "sign.h"
#include "stage.h"
#include "store.h"
#include "timefmt.h"

#define GC_KEEP_DEFAULT 2

enum mode {
	MODE_NONE,
	MODE_ADD,
	MODE_EXPORT,
	MODE_FSCK,
	MODE_GC,
	MODE_IMPORT,
	MODE_KEYGEN,
	MODE_LIST,
	MODE_RM,
	MODE_SHOW
};

enum {
	OPT_BASE = 256,
	OPT_FORCE,
	OPT_INCOMING,
	OPT_JSON,
	OPT_KEEP,
	OPT_MANIFEST,
	OPT_SIGN,
	OPT_TRUST,
	OPT_VERSION,
	OPT_WAIT
};

static const struct option longopts[] = { { "base", required_argument, NULL,
					      OPT_BASE },
	{ "force", no_argument, NULL, OPT_FORCE },
	{ "help", no_argument, NULL, 'h' },
	{ "incoming", no_argument, NULL, OPT_INCOMING },
	{ "json", no_argument, NULL, OPT_JSON },
	{ "keep", required_argument, NULL, OPT_KEEP },
	{ "manifest", required_argument, NULL, OPT_MANIFEST },
	{ "output", required_argument, NULL, 'o' },
	{ "sign", required_argument, NULL, OPT_SIGN },
	{ "store", required_argument, NULL, 's' },
	{ "trust", required_argument, NULL, OPT_TRUST },
	{ "version", required_argument, NULL, OPT_VERSION },
	{ "wait", required_argument, NULL, OPT_WAIT }, { NULL, 0, NULL, 0 } };

struct opts {
	const char *store;
	const char *manifest;
	const char *output;
	const char *sign;
	const char *trust;
	uint64_t base;
	uint64_t version;
	unsigned keep;
	double wait;
	bool force;
	bool json;
	bool incoming; /* import, list: STORE/incoming/ */
};

/* The subcommands, sorted, and how many operands each takes (--incoming
 * names the inbox: none then). */
static const struct mode_def {
	const char *name;
	enum mode mode;
	int min, max;
} modes[] = {
	{ "add", MODE_ADD, 2, 2 },
	{ "export", MODE_EXPORT, 2, 2 },
	{ "fsck", MODE_FSCK, 0, 0 },
	{ "gc", MODE_GC, 0, 0 },
	{ "import", MODE_IMPORT, 1, 1 },
	{ "keygen", MODE_KEYGEN, 0, 0 },
	{ "list", MODE_LIST, 0, 1 },
	{ "rm", MODE_RM, 1, 2 },
	{ "show", MODE_SHOW, 1, 2 },
	{ NULL, MODE_NONE, 0, 0 },
};

#define IN(m) (1u << (m))

/*
 * The subcommands that take each option (-h and -s: all of them, as
 * with every tool; keygen writes no store, so has no use for -s), and
 * a number option's spelling, bounds and meaning for msg_num_opt().
 */
static const struct opt_def {
	int opt;
	unsigned modes;
	const char *num;
	uint64_t min, max;
	const char *what;
} opt_defs[] = {
	{ 'o', IN(MODE_EXPORT) | IN(MODE_KEYGEN), NULL, 0, 0, NULL },
	{ OPT_BASE, IN(MODE_EXPORT), "--base", 1, UINT64_MAX,
	    "a version number" },
	{ OPT_FORCE, IN(MODE_RM), NULL, 0, 0, NULL },
	{ OPT_INCOMING, IN(MODE_IMPORT) | IN(MODE_LIST), NULL, 0, 0, NULL },
	{ OPT_JSON, IN(MODE_LIST), NULL, 0, 0, NULL },
	{ OPT_KEEP, IN(MODE_GC), "--keep", 0, 1000000,
	    "how many of the newest versions to keep" },
	{ OPT_MANIFEST, IN(MODE_ADD), NULL, 0, 0, NULL },
	{ OPT_SIGN, IN(MODE_ADD), NULL, 0, 0, NULL },
	{ OPT_TRUST, IN(MODE_IMPORT), NULL, 0, 0, NULL },
	{ OPT_VERSION, IN(MODE_ADD), "--version", 1, UINT64_MAX,
	    "versions are numbered from 1" },
	{ OPT_WAIT, IN(MODE_ADD) | IN(MODE_IMPORT) | IN(MODE_GC) | IN(MODE_RM),
	    "--wait", 0, UINT64_MAX, "seconds to wait for the lock" },
	{ 0, 0, NULL, 0, 0, NULL },
};

static void
usage(FILE *fp)
{
	fprintf(fp,
	    "usage: pkgstage [-s store] add [--manifest file] [--sign key] "
	    "[--version n]\n"
	    "                [--wait seconds] package srcdir\n"
	    "       pkgstage [-s store] list [--json] [package]\n"
	    "       pkgstage [-s store] list --incoming\n"
	    "       pkgstage [-s store] show package [version]\n"
	    "       pkgstage [-s store] export [--base m] package version "
	    "-o file\n"
	    "       pkgstage [-s store] import [--trust key.pub] "
	    "[--wait seconds] file\n"
	    "       pkgstage [-s store] import --incoming [--trust key.pub] "
	    "[--wait seconds]\n"
	    "       pkgstage [-s store] gc [--keep k] [--wait seconds]\n"
	    "       pkgstage [-s store] rm [--force] [--wait seconds] package "
	    "[version]\n"
	    "       pkgstage [-s store] fsck\n"
	    "       pkgstage keygen -o key\n"
	    "       pkgstage -h\n");
}

/* -h: the usage, then one line per option (pkgstage(1) says more). */
static void
help(void)
{
	usage(stdout);
	fputs(
	    "\n"
	    "  -s, --store store     the store (default $PKGDIST_STORE, else\n"
	    "                        /var/lib/pkgdist; the first add creates "
	    "it)\n"
	    "  -h, --help            print this help and exit 0\n"
	    "      --manifest file   add: stage what manifest file says, "
	    "checked\n"
	    "                        against srcdir, instead of scanning it\n"
	    "      --sign key        add: sign the version with secret key\n"
	    "      --version n       add: stage as version n (above every "
	    "one given so\n"
	    "                        far, at most 2^52)\n"
	    "      --wait seconds    add, import, gc, rm: wait that long for "
	    "the package's\n"
	    "                        lock (default 3600)\n"
	    "      --base m          export: hold only contents version m "
	    "lacks\n"
	    "  -o, --output file     export: the package file; keygen: the "
	    "secret key\n"
	    "                        (the public key goes to file.pub)\n"
	    "      --trust key.pub   import: refuse a version not signed by "
	    "that key\n"
	    "      --incoming        import: every package file of the inbox "
	    "STORE/incoming/;\n"
	    "                        list: the files waiting there\n"
	    "      --keep k          gc: keep the newest k versions of each "
	    "package\n"
	    "                        (default 2) besides those a DP holds\n"
	    "      --force           rm: also remove the records of the DPs "
	    "holding it\n"
	    "      --json            list: one JSON object per version "
	    "instead of text\n"
	    "\n"
	    "Exit 0 done, 1 damage found (fsck), 2 trouble (nothing "
	    "changed).\n",
	    stdout);
}

static noreturn void
bad_usage(void)
{
	usage(stderr);
	exit(EXIT_TROUBLE);
}

static int
parse_version(const char *s, uint64_t *v)
{
	if (num_arg(s, 1, UINT64_MAX, v) == -1) {
		msg_warn("'%s': not a version number", s);
		return -1;
	}
	return 0;
}

static int
open_store(const struct opts *o, int flags, struct store **s)
{
	if (store_open(store_path(o->store), flags, s) == -1) {
		msg_liberr();
		return -1;
	}
	return 0;
}

static int
check_name(const char *pkg)
{
	if (package_name_check(pkg) == -1) {
		msg_liberr();
		return -1;
	}
	return 0;
}

/* ---- modes ---- */

static int
do_add(const struct opts *o, const char *pkg, const char *src)
{
	struct store *s = NULL;
	struct stage_opts so;
	char label[128];
	uint64_t v;
	int rc = EXIT_TROUBLE;

	if (check_name(pkg) == -1 || open_store(o, STORE_CREATE, &s) == -1)
		return EXIT_TROUBLE;
	stage_opts_init(&so);
	so.version = o->version;
	so.manifest = o->manifest;
	so.wait = o->wait;
	so.sign_key = o->sign;
	snprintf(label, sizeof(label), "%s: staging", pkg);
	so.progress = progress_start(label, 0, 0);
	if (stage_add(s, pkg, src, &so, &v) == -1) {
		progress_end(so.progress);
		msg_liberr();
		goto out;
	}
	progress_end(so.progress);
	printf("%" PRIu64 "\n", v);
	rc = EXIT_DONE;
out:
	store_close(s);
	return rc;
}

/* list --json: one version as one JSON line (pkgstage(1), OUTPUT). */
static int
list_json(const char *pkg, uint64_t version,
    const struct store_version_info *in)
{
	struct json j;
	char when[TIMEFMT_LEN];
	int r;

	json_init(&j);
	json_object_begin(&j);
	json_key_int(&j, "schema", 1);
	json_key_string(&j, "package", pkg);
	json_key_uint(&j, "version", version);
	json_key_string(&j, "created",
	    timefmt_utc(in->created, when, sizeof(when)) == 0 ? when : NULL);
	json_key_uint(&j, "files", in->files);
	json_key_uint(&j, "bytes", in->bytes);
	json_key_bool(&j, "signed", in->is_signed);
	json_object_end(&j);
	r = json_line_write(&j, stdout);
	json_free(&j);
	return r;
}

static int
list_package(struct store *s, const char *pkg, bool json)
{
	struct store_version_info in;
	uint64_t *v;
	size_t n, i;
	char when[TIMEFMT_LEN];

	if (store_versions(s, pkg, &v, &n) == -1) {
		msg_liberr();
		return -1;
	}
	for (i = 0; i < n; i++) {
		if (store_version_info(s, pkg, v[i], &in) == -1) {
			msg_liberr();
			free(v);
			return -1;
		}
		if (json) {
			if (list_json(pkg, v[i], &in) == -1) {
				msg_liberr();
				free(v);
				return -1;
			}
			continue;
		}
		timefmt(in.created, when, sizeof(when));
		printf("%s %" PRIu64 " %" PRIu64 " %" PRIu64 " %s%s\n", pkg,
		    v[i], in.files, in.bytes, when,
		    in.is_signed ? " signed" : "");
	}
	free(v);
	return 0;
}

static int
do_list(const struct opts *o, const char *pkg)
{
	struct store *s = NULL;
	char **pk = NULL;
	size_t n = 0, i;
	int rc = EXIT_TROUBLE;

	if (pkg != NULL && check_name(pkg) == -1)
		return EXIT_TROUBLE;
	if (open_store(o, 0, &s) == -1)
		return EXIT_TROUBLE;
	if (store_packages(s, &pk, &n) == -1) {
		msg_liberr();
		goto out;
	}
	if (pkg != NULL) {
		for (i = 0; i < n; i++)
			if (strcmp(pk[i], pkg) == 0)
				break;
		if (i == n) {
			msg_warn("package '%s': not in the store", pkg);
			goto out;
		}
		if (list_package(s, pkg, o->json) == -1)
			goto out;
	} else {
		for (i = 0; i < n; i++)
			if (list_package(s, pk[i], o->json) == -1)
				goto out;
	}
	rc = EXIT_DONE;
out:
	store_strings_free(pk, n);
	store_close(s);
	return rc;
}

static int
do_show(const struct opts *o, const char *pkg, const char *ver)
{
	struct store *s = NULL;
	struct manifest m;
	uint64_t v = 0;
	int rc = EXIT_TROUBLE;

	manifest_init(&m);
	if (check_name(pkg) == -1 ||
	    (ver != NULL && parse_version(ver, &v) == -1))
		return EXIT_TROUBLE;
	if (open_store(o, 0, &s) == -1)
		return EXIT_TROUBLE;
	if (v == 0) {
		if (store_newest(s, pkg, &v) == -1) {
			msg_liberr();
			goto out;
		}
		if (v == 0) {
			msg_warn("package '%s': no version in the store", pkg);
			goto out;
		}
	}
	/* Through the parser, so a damaged manifest is reported, not
	 * printed. */
	if (store_load_manifest(s, pkg, v, &m) == -1) {
		msg_liberr();
		goto out;
	}
	if (manifest_write(&m, stdout) == -1) {
		msg_liberr();
		goto out;
	}
	rc = EXIT_DONE;
out:
	manifest_free(&m);
	store_close(s);
	return rc;
}

static int
do_export(const struct opts *o, const char *pkg, const char *ver)
{
	struct store *s = NULL;
	struct atomic_file af;
	struct progress *p = NULL;
	char base[NAME_MAX + 1], label[128];
	uint64_t v;
	int dfd = -1, rc = EXIT_TROUBLE, fd;
	bool to_stdout = strcmp(o->output, "-") == 0;

	memset(&af, 0, sizeof(af));
	af.fd = -1;
	af.slot = -1;
	if (check_name(pkg) == -1 || parse_version(ver, &v) == -1)
		return EXIT_TROUBLE;
	if (open_store(o, 0, &s) == -1)
		return EXIT_TROUBLE;
	if (to_stdout) {
		fd = STDOUT_FILENO;
	} else {
		if ((dfd = atomic_open_parent(o->output, base, sizeof(base))) ==
		    -1) {
			msg_liberr();
			goto out;
		}
		if (atomic_open(&af, dfd, base, ATOMIC_MODE_USER) == -1) {
			msg_liberr();
			goto out;
		}
		fd = atomic_fd(&af);
	}
	snprintf(label, sizeof(label), "%s %" PRIu64 ": exporting", pkg, v);
	p = progress_start(label, 0, 0);
	if (pack_export(s, pkg, v, o->base, PACK_EXPORT_RECIPES, fd, p) == -1) {
		progress_end(p);
		msg_liberr();
		goto out;
	}
	progress_end(p);
	if (!to_stdout && atomic_commit(&af) == -1) {
		msg_liberr();
		goto out;
	}
	rc = EXIT_DONE;
out:
	if (!to_stdout)
		atomic_abort(&af);
	if (dfd != -1)
		close(dfd);
	store_close(s);
	return rc;
}

static int
do_import(const struct opts *o, const char *file)
{
	struct store *s = NULL;
	struct pack_import_opts io;
	enum pack_import_result res;
	char pkg[NAME_MAX_LEN + 1];
	uint64_t v, newest;
	int fd, rc = EXIT_TROUBLE;

	if (strcmp(file, "-") == 0)
		fd = STDIN_FILENO;
	else if ((fd = open(file, O_RDONLY | O_CLOEXEC)) == -1) {
		msg_warn("cannot open '%s':", file);
		return EXIT_TROUBLE;
	}
	if (open_store(o, STORE_CREATE, &s) == -1)
		goto out;
	memset(&io, 0, sizeof(io));
	io.wait = o->wait;
	io.trust = o->trust;
	io.progress = progress_start("importing", 0, 0);
	if (pack_import(s, fd, file, &io, &res, pkg, &v) == -1) {
		progress_end(io.progress);
		msg_liberr();
		goto out;
	}
	progress_end(io.progress);
	switch (res) {
	case PACK_ALREADY_PRESENT:
		msg_warn("%s version %" PRIu64 ": already in the store, "
			 "nothing to do",
		    pkg, v);
		break;
	case PACK_IMPORTED_OLDER:
		if (store_newest(s, pkg, &newest) == -1)
			newest = 0;
		msg_warn("%s version %" PRIu64 ": imported; version %" PRIu64
			 " stays the newest",
		    pkg, v, newest);
		break;
	default:
		break;
	}
	printf("%s %" PRIu64 "\n", pkg, v);
	rc = EXIT_DONE;
out:
	if (fd != STDIN_FILENO)
		close(fd);
	store_close(s);
	return rc;
}

/* ---- the inbox ---- */

/* What import --incoming did with one file: the versions in on stdout
 * ("PKG V", as import prints them; pkgdist-cron pushes them), the rest
 * on stderr. */
static void
incoming_report(void *arg, const struct inbox_event *ev)
{
	char name[PATH_SHOW_LEN];

	(void)arg;
	path_show(ev->f->name, name, sizeof(name));
	switch (ev->kind) {
	case INBOX_WAS_PRESENT:
		msg_warn("%s: %s version %" PRIu64 ": already in the store, "
			 "removed",
		    name, ev->f->package, ev->f->version);
		/* FALLTHROUGH */
	case INBOX_IMPORTED:
		printf("%s %" PRIu64 "\n", ev->f->package, ev->f->version);
		fflush(stdout);
		break;
	case INBOX_WAITING:
		msg_warn("%s: %s version %" PRIu64
			 " waits for version %" PRIu64,
		    name, ev->f->package, ev->f->version, ev->f->base);
		break;
	case INBOX_MOVED_BAD:
		msg_warn("%s: moved to incoming/bad/: %s", name, ev->why);
		break;
	case INBOX_TROUBLE:
		msg_warn("%s: left for the next run: %s", name, ev->why);
		break;
	}
}

static int
do_import_incoming(const struct opts *o)
{
	struct store *s = NULL;
	struct inbox_opts io;
	struct inbox_result r;
	int rc = EXIT_TROUBLE;

	if (open_store(o, 0, &s) == -1)
		return EXIT_TROUBLE;
	memset(&io, 0, sizeof(io));
	io.wait = o->wait;
	io.trust = o->trust;
	io.report = incoming_report;
	if (inbox_import(s, &io, &r) == -1) {
		msg_liberr();
		goto out;
	}
	rc = r.trouble > 0 ? EXIT_TROUBLE :
	    r.bad > 0	   ? EXIT_PARTIAL :
			     EXIT_DONE;
out:
	store_close(s);
	return rc;
}

/* list --incoming: "FILE PKG VERSION STATE AGE" a file, STATE "ready",
 * "waits for M" or "bad" (why on stderr). */
static int
do_list_incoming(const struct opts *o)
{
	struct store *s = NULL;
	struct inbox_file *v = NULL;
	char name[PATH_SHOW_LEN], ver[24], age[32], state[48];
	size_t n = 0, i;
	int64_t now = (int64_t)fault_now();
	int rc = EXIT_TROUBLE;

	if (open_store(o, 0, &s) == -1)
		return EXIT_TROUBLE;
	if (inbox_list(s, &v, &n) == -1) {
		msg_liberr();
		goto out;
	}
	for (i = 0; i < n; i++) {
		path_show(v[i].name, name, sizeof(name));
		timefmt_age(now - v[i].mtime, age, sizeof(age));
		snprintf(ver, sizeof(ver), "%" PRIu64, v[i].version);
		if (v[i].state == INBOX_BAD) {
			msg_warn("%s: will move to incoming/bad/: %s", name,
			    v[i].why);
			snprintf(state, sizeof(state), "bad");
		} else if (v[i].state == INBOX_WAITS)
			snprintf(state, sizeof(state), "waits for %" PRIu64,
			    v[i].base);
		else
			snprintf(state, sizeof(state), "ready");
		printf("%s %s %s %s %s\n", name,
		    v[i].package[0] != '\0' ? v[i].package : "-",
		    v[i].version != 0 ? ver : "-", state, age);
	}
	rc = EXIT_DONE;
out:
	inbox_files_free(v, n);
	store_close(s);
	return rc;
}

static int
do_gc(const struct opts *o)
{
	struct store *s = NULL;
	struct store_gc_result r;
	int rc = EXIT_TROUBLE;

	if (open_store(o, 0, &s) == -1)
		return EXIT_TROUBLE;
	if (store_gc(s, o->keep, o->wait, &r) == -1) {
		msg_liberr();
		goto out;
	}
	printf("removed %" PRIu64 " versions, %" PRIu64 " contents, %" PRIu64
	       " bytes\n",
	    r.versions_removed, r.contents_removed, r.bytes_freed);
	rc = EXIT_DONE;
out:
	store_close(s);
	return rc;
}

static int
do_rm(const struct opts *o, const char *pkg, const char *ver)
{
	struct store *s = NULL;
	struct store_rm_result r;
	char text[STORE_HOLDING_TEXT];
	uint64_t v = 0;
	size_t i;
	int rc = EXIT_TROUBLE;

	memset(&r, 0, sizeof(r));
	if (check_name(pkg) == -1 ||
	    (ver != NULL && parse_version(ver, &v) == -1))
		return EXIT_TROUBLE;
	if (open_store(o, 0, &s) == -1)
		return EXIT_TROUBLE;
	if (store_rm(s, pkg, v, o->force, o->wait, &r) == -1) {
		msg_liberr();
		goto out;
	}
	for (i = 0; i < r.nforgot; i++)
		printf("forgot: %s\n",
		    store_holding_text(pkg, &r.forgot[i], text));
	for (i = 0; i < r.nversions; i++)
		printf("removed %s version %" PRIu64 "\n", pkg, r.versions[i]);
	if (v == 0)
		printf("removed package %s\n", pkg);
	rc = EXIT_DONE;
out:
	store_rm_result_free(&r);
	store_close(s);
	return rc;
}

static void
fsck_line(const char *line, void *arg)
{
	(void)arg;
	printf("%s\n", line);
}

static int
do_fsck(const struct opts *o)
{
	struct store *s = NULL;
	struct progress *p;
	int n;

	if (open_store(o, 0, &s) == -1)
		return EXIT_TROUBLE;
	p = progress_start("checking", 0, 0);
	n = store_fsck(s, p, fsck_line, NULL);
	progress_end(p);
	store_close(s);
	if (n == -1) {
		msg_liberr();
		return EXIT_TROUBLE;
	}
	if (n > 0) {
		msg_warn("store '%s': %d damage%s found", store_path(o->store),
		    n, n == 1 ? "" : "s");
		return EXIT_PARTIAL;
	}
	return EXIT_DONE;
}

static int
do_keygen(const struct opts *o)
{
	if (sign_keygen(o->output) == -1) {
		msg_liberr();
		return EXIT_TROUBLE;
	}
	return EXIT_DONE;
}

/* The mode, its operands checked. */
static int
run(enum mode mode, const struct opts *o, char **args, int nargs)
{
	const char *second = nargs == 2 ? args[1] : NULL;

	switch (mode) {
	case MODE_ADD:
		return do_add(o, args[0], args[1]);
	case MODE_EXPORT:
		return do_export(o, args[0], args[1]);
	case MODE_FSCK:
		return do_fsck(o);
	case MODE_GC:
		return do_gc(o);
	case MODE_IMPORT:
		return o->incoming ? do_import_incoming(o) :
				     do_import(o, args[0]);
	case MODE_KEYGEN:
		return do_keygen(o);
	case MODE_LIST:
		return o->incoming ? do_list_incoming(o) :
				     do_list(o, nargs == 1 ? args[0] : NULL);
	case MODE_RM:
		return do_rm(o, args[0], second);
	case MODE_SHOW:
		return do_show(o, args[0], second);
	default:
		bad_usage();
	}
}

/* ---- main ---- */

/* Option ch of mode into o; -1 when the mode does not take it or its
 * value is wrong (said; the usage follows). */
static int
set_opt(struct opts *o, enum mode mode, int ch, const char *arg)
{
	const struct opt_def *d;
	uint64_t u = 0;

	if (ch == 's') {
		o->store = arg;
		return 0;
	}
	for (d = opt_defs; d->opt != 0 && d->opt != ch; d++)
		;
	if (d->opt == 0 || (d->modes & IN(mode)) == 0 ||
	    (d->num != NULL &&
		msg_num_opt(d->num, arg, d->min, d->max, d->what, &u) == -1))
		return -1;
	switch (ch) {
	case 'o':
		o->output = arg;
		break;
	case OPT_BASE:
		o->base = u;
		break;
	case OPT_FORCE:
		o->force = true;
		break;
	case OPT_INCOMING:
		o->incoming = true;
		break;
	case OPT_JSON:
		o->json = true;
		break;
	case OPT_KEEP:
		o->keep = (unsigned)u;
		break;
	case OPT_MANIFEST:
		o->manifest = arg;
		break;
	case OPT_SIGN:
		o->sign = arg;
		break;
	case OPT_TRUST:
		o->trust = arg;
		break;
	case OPT_VERSION:
		o->version = u;
		break;
	case OPT_WAIT:
		o->wait = (double)u;
		break;
	}
	return 0;
}

int
main(int argc, char *argv[])
{
	struct opts o;
	const struct mode_def *m = NULL;
	enum mode mode = MODE_NONE;
	int ch, rc, pass, min, max;

	msg_init(argv[0]);
	/* getopt names argv[0] in its messages: the tool, not a path. */
	argv[0] = (char *)(uintptr_t)msg_progname();
	atomic_install_cleanup();
	io_raise_fd_limit();
	signal(SIGPIPE, SIG_IGN);
	memset(&o, 0, sizeof(o));
	o.wait = STORE_WAIT_DEFAULT;
	o.keep = GC_KEEP_DEFAULT;
	/* Options before the subcommand, then the subcommand's own and its
	 * operands, in any order. */
	for (pass = 0; pass < 2; pass++) {
		while (
		    (ch = getopt_long(argc, argv,
			 pass == 0 ? "+hs:" : "ho:s:", longopts, NULL)) != -1) {
			if (ch == 'h') {
				help();
				return msg_close_stdout() == -1 ? EXIT_TROUBLE :
								  EXIT_DONE;
			}
			if (set_opt(&o, mode, ch, optarg) == -1)
				bad_usage();
		}
		if (pass == 1)
			break;
		if (optind >= argc)
			bad_usage();
		for (m = modes; m->name != NULL; m++)
			if (strcmp(argv[optind], m->name) == 0)
				break;
		if (m->name == NULL) {
			msg_warn("'%s': unknown subcommand", argv[optind]);
			bad_usage();
		}
		mode = m->mode;
		/* The tool, not the subcommand, in getopt's messages. */
		argc -= optind;
		argv += optind;
		argv[0] = (char *)(uintptr_t)msg_progname();
		optind = 0;
	}
	argc -= optind;
	argv += optind;
	min = o.incoming ? 0 : m->min;
	max = o.incoming ? 0 : m->max;
	/* export and keygen write -o's file, which has no default. */
	if (argc < min || argc > max || (o.incoming && o.json) ||
	    ((mode == MODE_EXPORT || mode == MODE_KEYGEN) && o.output == NULL))
		bad_usage();
	rc = run(mode, &o, argv, argc);
	if (msg_close_stdout() == -1 && rc == EXIT_DONE)
		rc = EXIT_TROUBLE;
	return rc;
}
