/*
 * pkgdiff — manifests of trees and the differences between them
 * (pkgdiff(1)).
 *
 * main() parses the options, picks one mode and maps its result to an
 * exit code: 0 no difference (or scan done), 1 differences found, 2
 * trouble.  The work is in common/scan.c and common/changes.c.
 */
#include <sys/types.h>
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "atomic.h"
#include "changes.h"
#include "err.h"
#include "exitcode.h"
#include "io.h"
#include "manifest.h"
#include "mdelta.h"
#include "msg.h"
#include "num.h"
#include "path.h"
#include "progress.h"
#include "scan.h"
#include "statcache.h"

enum mode {
	MODE_NONE,
	MODE_DIFF,
	MODE_SCAN,
	MODE_VERIFY
};

struct options {
	const char *cache;	/* verify --cache */
	bool deep;		/* verify --deep */
	int jobs;		/* 0: all cores */
	const char *output;	/* scan -o */
	const char *package;	/* scan --package */
	const char *reuse;	/* scan --reuse */
	uint64_t version;	/* scan --version, 0: none */
	bool stat;		/* diff --stat */
};

static void
usage(FILE *fp)
{
	fprintf(fp,
	    "usage: pkgdiff scan [-j n] [--reuse old] "
	    "[--package name --version n] [-o file]\n"
	    "                    dir\n"
	    "       pkgdiff diff [-j n] [--stat] a b\n"
	    "       pkgdiff verify [-j n] [--cache file [--deep]] manifest dir\n"
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
	    "Exit 0 no difference, 1 differences, 2 trouble.\n", stdout);
}

static noreturn void
bad_usage(void)
{
	usage(stderr);
	exit(EXIT_TROUBLE);
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

/* Scan dir with a progress line on a terminal; cache (may be NULL)
 * answers for files whose stat it knows (statcache.h). */
static int
scan_with_progress(const char *dir, int jobs, const struct manifest *reuse,
    struct statcache *cache, struct manifest *m)
{
	struct scan_opts so;
	int rc;

	scan_opts_init(&so);
	so.jobs = jobs;
	so.reuse = reuse;
	if (cache != NULL) {
		so.known = statcache_known;
		so.known_arg = cache;
	}
	so.progress = progress_start("scanning", 0, 0);
	rc = scan_path(dir, &so, m);
	progress_end(so.progress);
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
	if (scan_with_progress(dir, o->jobs, o->reuse != NULL ? &old : NULL,
	    NULL, &m) == -1) {
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

/* A side of diff is a directory when it names one (links followed,
 * as the user typed it); anything else is a manifest ("-": stdin). */
static bool
is_dir(const char *path)
{
	struct stat st;

	return strcmp(path, "-") != 0 && stat(path, &st) == 0 &&
	    S_ISDIR(st.st_mode);
}

struct out_ctx {
	FILE *fp;
	struct change_stat st;
	bool stat;
};

static int
out_change(const struct change *c, void *arg)
{
	struct out_ctx *x = arg;

	if (x->stat) {
		change_stat_add(&x->st, c);
		return 0;
	}
	return change_write(c, x->fp);
}

/* Load a side: scan a directory, or parse a manifest. */
static int
load_side(const char *path, int jobs, struct manifest *m)
{
	if (is_dir(path))
		return scan_with_progress(path, jobs, NULL, NULL, m);
	return mdelta_load_path(path, m);
}

/* Copy the spilled change list to stdout. */
static int
copy_out(FILE *spill)
{
	char buf[65536];
	size_t n;

	if (fflush(spill) == EOF || fseeko(spill, 0, SEEK_SET) == -1)
		return err_sys("cannot read back the change list");
	while ((n = fread(buf, 1, sizeof(buf), spill)) > 0)
		if (fwrite(buf, 1, n, stdout) != n)
			return err_sys("cannot write standard output");
	if (ferror(spill))
		return err_sys("cannot read back the change list");
	return 0;
}

/*
 * Two manifest files: streamed, in constant memory.  A bad line late in
 * either file must leave stdout empty, so the change list is kept in a
 * temporary file (in memory while it fits stdio's buffer) and copied out
 * only when both inputs were read to their end.
 */
static int
diff_stream(const char *a, const char *b, struct out_ctx *x,
    long long *count)
{
	FILE *fa = NULL, *fb = NULL, *spill = NULL;
	struct manifest_reader *ra = NULL, *rb = NULL;
	char *spillbuf = NULL, shown[PATH_SHOW_LEN];
	int rc = -1;

	if (strcmp(a, "-") == 0 && strcmp(b, "-") == 0) {
		err_set("standard input can be only one side");
		goto out;
	}
	fa = strcmp(a, "-") == 0 ? stdin : fopen(a, "r");
	if (fa == NULL) {
		err_sys("cannot open '%s'", path_show(a, shown, sizeof(shown)));
		goto out;
	}
	fb = strcmp(b, "-") == 0 ? stdin : fopen(b, "r");
	if (fb == NULL) {
		err_sys("cannot open '%s'", path_show(b, shown, sizeof(shown)));
		goto out;
	}
	if (manifest_reader_open(fa, a, &ra) == -1 ||
	    manifest_reader_open(fb, b, &rb) == -1)
		goto out;
	/* Without a temporary file (no writable /tmp), write as we go. */
	if (!x->stat && (spill = tmpfile()) != NULL) {
		if ((spillbuf = malloc(1 << 20)) != NULL)
			setvbuf(spill, spillbuf, _IOFBF, 1 << 20);
		x->fp = spill;
	}
	if ((*count = changes_stream(ra, rb, out_change, x)) == -1)
		goto out;
	if (spill != NULL && copy_out(spill) == -1)
		goto out;
	rc = 0;
out:
	manifest_reader_close(ra);
	manifest_reader_close(rb);
	if (spill != NULL)
		fclose(spill);
	free(spillbuf);
	if (fa != NULL && fa != stdin)
		fclose(fa);
	if (fb != NULL && fb != stdin)
		fclose(fb);
	return rc;
}

static int
do_diff(const char *a, const char *b, const struct options *o)
{
	struct manifest ma, mb;
	struct out_ctx x;
	long long n = 0;
	int rc = EXIT_TROUBLE;

	manifest_init(&ma);
	manifest_init(&mb);
	memset(&x, 0, sizeof(x));
	x.fp = stdout;
	x.stat = o->stat;
	change_stat_init(&x.st);
	/* A delta file (a DP's state manifest) is read whole, with its
	 * base, instead of streamed. */
	if (!is_dir(a) && !is_dir(b) && !mdelta_path_is_delta(a) &&
	    !mdelta_path_is_delta(b)) {
		if (diff_stream(a, b, &x, &n) == -1) {
			msg_liberr();
			goto out;
		}
	} else {
		if (load_side(a, o->jobs, &ma) == -1 ||
		    load_side(b, o->jobs, &mb) == -1) {
			msg_liberr();
			goto out;
		}
		if ((n = changes_compute(&ma, &mb, out_change, &x)) == -1) {
			msg_liberr();
			goto out;
		}
	}
	if (o->stat && change_stat_write(&x.st, stdout) == -1) {
		msg_liberr();
		goto out;
	}
	rc = n > 0 ? EXIT_PARTIAL : EXIT_DONE;
out:
	manifest_free(&ma);
	manifest_free(&mb);
	return rc;
}

/*
 * verify: scan dir and print its drift from manifest.  With o->cache, a
 * file whose stat the last check's record vouches for is not read (all
 * are with o->deep), and the record is written anew for the next check;
 * a damaged record is said and read past (every file is then read).
 */
static int
do_verify(const char *manifest, const char *dir, const struct options *o)
{
	struct manifest want, have;
	struct statcache cache;
	struct out_ctx x;
	char shown[PATH_SHOW_LEN], base[NAME_MAX + 1];
	long long n;
	int cfd = -1, rc = EXIT_TROUBLE;

	manifest_init(&want);
	manifest_init(&have);
	statcache_init(&cache, &want, o->deep);
	memset(&x, 0, sizeof(x));
	x.fp = stdout;
	if (mdelta_load_path(manifest, &want) == -1) {
		msg_liberr();
		goto out;
	}
	if (!is_dir(dir)) {
		msg_warn("'%s': not a directory", path_show(dir, shown,
		    sizeof(shown)));
		goto out;
	}
	if (o->cache != NULL) {
		if ((cfd = atomic_open_parent(o->cache, base,
		    sizeof(base))) == -1) {
			msg_liberr();
			goto out;
		}
		path_show(o->cache, shown, sizeof(shown));
		if (!o->deep &&
		    statcache_load(&cache, cfd, base, shown) == -1)
			msg_warn("%s (every file is read)", err_get());
	}
	if (scan_with_progress(dir, o->jobs, NULL, o->cache != NULL ?
	    &cache : NULL, &have) == -1) {
		msg_liberr();
		goto out;
	}
	if ((n = changes_compute(&want, &have, out_change, &x)) == -1) {
		msg_liberr();
		goto out;
	}
	if (o->cache != NULL &&
	    statcache_save(&cache, &have, cfd, base) == -1) {
		msg_liberr();
		goto out;
	}
	rc = n > 0 ? EXIT_PARTIAL : EXIT_DONE;
out:
	statcache_free(&cache);
	if (cfd != -1)
		close(cfd);
	manifest_free(&want);
	manifest_free(&have);
	return rc;
}

int
main(int argc, char *argv[])
{
	static const struct option longopts[] = {
		{ "cache", required_argument, NULL, 'C' },
		{ "deep", no_argument, NULL, 'D' },
		{ "help", no_argument, NULL, 'h' },
		{ "jobs", required_argument, NULL, 'j' },
		{ "output", required_argument, NULL, 'o' },
		{ "package", required_argument, NULL, 'P' },
		{ "reuse", required_argument, NULL, 'R' },
		{ "stat", no_argument, NULL, 'S' },
		{ "version", required_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 }
	};
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
		msg_warn("unknown command '%s'", path_show(cmd, shown,
		    sizeof(shown)));
		bad_usage();
	}
	argc--;
	argv++;
	/* getopt names argv[0] in its messages: the tool, not the mode. */
	argv[0] = (char *)(uintptr_t)msg_progname();

	while ((ch = getopt_long(argc, argv, "hj:o:", longopts,
	    NULL)) != -1) {
		switch (ch) {
		case 'C':
			if (mode != MODE_VERIFY)
				bad_usage();
			o.cache = optarg;
			break;
		case 'D':
			if (mode != MODE_VERIFY)
				bad_usage();
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
			if (mode != MODE_SCAN)
				bad_usage();
			o.output = optarg;
			break;
		case 'P':
			if (mode != MODE_SCAN)
				bad_usage();
			if (!name_valid(optarg)) {
				msg_warn("--package: '%s': invalid package "
				    "name", path_show(optarg, shown,
				    sizeof(shown)));
				bad_usage();
			}
			o.package = optarg;
			break;
		case 'R':
			if (mode != MODE_SCAN)
				bad_usage();
			o.reuse = optarg;
			break;
		case 'S':
			if (mode != MODE_DIFF)
				bad_usage();
			o.stat = true;
			break;
		case 'V':
			if (mode != MODE_SCAN)
				bad_usage();
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
