/*
 * pkgdiff — manifests of trees and the differences between them
 * (pkgdiff(1)).
 *
 * main() parses the options, picks one mode and maps its result to an
 * exit code: 0 no difference (or scan done), 1 differences found, 2
 * trouble.  The work is in common/diff.c (over scan.c and changes.c).
 */

#include <getopt.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "atomic.h"
#include "changes.h"
#include "diff.h"
#include "err.h"
#include "exitcode.h"
#include "io.h"
#include "manifest.h"
#include "mdelta.h"
#include "msg.h"
#include "path.h"

enum mode { MODE_NONE, MODE_DIFF, MODE_SCAN, MODE_VERIFY };

struct options {
	const char *cache;   /* verify --cache */
	bool deep;	     /* verify --deep */
	int jobs;	     /* 0: all cores */
	const char *output;  /* scan -o */
	const char *package; /* scan --package */
	const char *reuse;   /* scan --reuse */
	uint64_t version;    /* scan --version, 0: none */
	bool stat;	     /* diff --stat */
};

static void
usage(FILE *fp)
{
	fprintf(fp,
	    "usage: pkgdiff scan [-j n] [--reuse old] "
	    "[--package name --version n] [-o file]\n"
	    "                    dir\n"
	    "       pkgdiff diff [-j n] [--stat] a b\n"
	    "       pkgdiff verify [-j n] [--cache file [--deep]] manifest "
	    "dir\n"
	    "       pkgdiff -h | --help\n");
}

/* -h: the usage, then one line per option (pkgdiff(1) says more). */
static void
help(void)
{
	usage(stdout);
	fputs("\n"
	      "  -h, --help            print this help and exit 0\n"
	      "  -j, --jobs n          hash with n threads (default: one per "
	      "processor)\n"
	      "  -o, --output file     scan: write the manifest to file, "
	      "atomically\n"
	      "      --package name    scan: write the header line package "
	      "name\n"
	      "      --version n       scan: write the header line version n\n"
	      "      --reuse old       scan: take digests from manifest old "
	      "where path,\n"
	      "                        size and mtime are unchanged\n"
	      "      --stat            diff: print counts and bytes to "
	      "transfer\n"
	      "      --cache file      verify: read only files whose stat "
	      "differs from\n"
	      "                        the manifest or from what file "
	      "recorded; rewrite it\n"
	      "      --deep            verify --cache: read every file all the "
	      "same\n"
	      "\n"
	      "Exit 0 no difference, 1 differences, 2 trouble.\n",
	    stdout);
}

static noreturn void
bad_usage(void)
{
	usage(stderr);
	exit(EXIT_TROUBLE);
}

/* The one mode an option belongs to; MODE_NONE: every mode's. */
static enum mode
opt_mode(int ch)
{
	switch (ch) {
	case 'C':
	case 'D':
		return MODE_VERIFY;
	case 'o':
	case 'P':
	case 'R':
	case 'V':
		return MODE_SCAN;
	case 'S':
		return MODE_DIFF;
	default:
		return MODE_NONE;
	}
}

/* Write m to path through the atomic helper. */
static int
save_to_path(const struct manifest *m, const char *path)
{
	char base[NAME_MAX + 1], shown[PATH_SHOW_LEN];
	int dirfd, rc = -1;

	if ((dirfd = atomic_open_parent(path, base, sizeof(base))) == -1)
		return -1;
	if (manifest_save(m, dirfd, base, ATOMIC_MODE_USER) == -1) {
		err_prefix("'%s': ", path_show(path, shown, sizeof(shown)));
		goto out;
	}
	rc = 0;
out:
	close(dirfd);
	return rc;
}

static int
do_scan(const char *dir, const struct options *o)
{
	struct manifest old, m;
	int rc = EXIT_TROUBLE;

	manifest_init(&old);
	manifest_init(&m);
	if (o->reuse != NULL && mdelta_load_path(o->reuse, &old) == -1) {
		msg_liberr();
		goto out;
	}
	if (diff_scan(dir, o->jobs, o->reuse != NULL ? &old : NULL, NULL, &m) ==
	    -1) {
		msg_liberr();
		goto out;
	}
	if ((o->package != NULL || o->version != 0) &&
	    manifest_set_header(&m, o->package, o->version) == -1) {
		msg_liberr();
		goto out;
	}
	if (o->output != NULL) {
		if (save_to_path(&m, o->output) == -1) {
			msg_liberr();
			goto out;
		}
	} else if (manifest_write(&m, stdout) == -1) {
		msg_liberr();
		goto out;
	}
	rc = EXIT_DONE;
out:
	manifest_free(&old);
	manifest_free(&m);
	return rc;
}

static int
do_diff(const char *a, const char *b, const struct options *o)
{
	struct change_stat st;
	long long n;

	change_stat_init(&st);
	if (diff_sides(a, b, o->jobs, stdout, o->stat ? &st : NULL, &n) == -1 ||
	    (o->stat && change_stat_write(&st, stdout) == -1)) {
		msg_liberr();
		return EXIT_TROUBLE;
	}
	return n > 0 ? EXIT_PARTIAL : EXIT_DONE;
}

/* A damaged --cache record is said and read past. */
static void
cache_note(const char *why)
{
	msg_warn("%s (every file is read)", why);
}

static int
do_verify(const char *manifest, const char *dir, const struct options *o)
{
	long long n;

	if (diff_verify(manifest, dir, o->jobs, o->cache, o->deep, cache_note,
		stdout, &n) == -1) {
		msg_liberr();
		return EXIT_TROUBLE;
	}
	return n > 0 ? EXIT_PARTIAL : EXIT_DONE;
}

int
main(int argc, char *argv[])
{
	static const struct option longopts[] = { { "cache", required_argument,
						      NULL, 'C' },
		{ "deep", no_argument, NULL, 'D' },
		{ "help", no_argument, NULL, 'h' },
		{ "jobs", required_argument, NULL, 'j' },
		{ "output", required_argument, NULL, 'o' },
		{ "package", required_argument, NULL, 'P' },
		{ "reuse", required_argument, NULL, 'R' },
		{ "stat", no_argument, NULL, 'S' },
		{ "version", required_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 } };
	struct options o;
	enum mode mode = MODE_NONE;
	const char *cmd;
	char shown[PATH_SHOW_LEN];
	uint64_t v;
	int ch, rc;

	msg_init(argv[0]);
	atomic_install_cleanup();
	io_raise_fd_limit();
	memset(&o, 0, sizeof(o));

	if (argc < 2)
		bad_usage();
	cmd = argv[1];
	if (strcmp(cmd, "-h") == 0 || strcmp(cmd, "--help") == 0) {
		help();
		return msg_close_stdout() == -1 ? EXIT_TROUBLE : EXIT_DONE;
	} else if (strcmp(cmd, "diff") == 0)
		mode = MODE_DIFF;
	else if (strcmp(cmd, "scan") == 0)
		mode = MODE_SCAN;
	else if (strcmp(cmd, "verify") == 0)
		mode = MODE_VERIFY;
	else {
		msg_warn("unknown command '%s'",
		    path_show(cmd, shown, sizeof(shown)));
		bad_usage();
	}
	argc--;
	argv++;
	/* getopt names argv[0] in its messages: the tool, not the mode. */
	argv[0] = (char *)(uintptr_t)msg_progname();

	while ((ch = getopt_long(argc, argv, "hj:o:", longopts, NULL)) != -1) {
		if (opt_mode(ch) != MODE_NONE && opt_mode(ch) != mode)
			bad_usage();
		switch (ch) {
		case 'C':
			o.cache = optarg;
			break;
		case 'D':
			o.deep = true;
			break;
		case 'h':
			help();
			return msg_close_stdout() == -1 ? EXIT_TROUBLE :
							  EXIT_DONE;
		case 'j':
			if (msg_num_opt("-j", optarg, 1, 256,
				"threads that hash at once", &v) == -1)
				bad_usage();
			o.jobs = (int)v;
			break;
		case 'o':
			o.output = optarg;
			break;
		case 'P':
			if (!name_valid(optarg)) {
				msg_warn("--package: '%s': invalid package "
					 "name",
				    path_show(optarg, shown, sizeof(shown)));
				bad_usage();
			}
			o.package = optarg;
			break;
		case 'R':
			o.reuse = optarg;
			break;
		case 'S':
			o.stat = true;
			break;
		case 'V':
			if (msg_num_opt("--version", optarg, 1, UINT64_MAX,
				"versions are numbered from 1", &v) == -1)
				bad_usage();
			o.version = v;
			break;
		default:
			bad_usage();
		}
	}
	argc -= optind;
	argv += optind;

	switch (mode) {
	case MODE_SCAN:
		if (argc != 1)
			bad_usage();
		rc = do_scan(argv[0], &o);
		break;
	case MODE_DIFF:
		if (argc != 2)
			bad_usage();
		rc = do_diff(argv[0], argv[1], &o);
		break;
	case MODE_VERIFY:
		if (argc != 2 || (o.deep && o.cache == NULL))
			bad_usage();
		rc = do_verify(argv[0], argv[1], &o);
		break;
	default:
		bad_usage();
	}
	if (msg_close_stdout() == -1)
		rc = EXIT_TROUBLE;
	return rc;
}
