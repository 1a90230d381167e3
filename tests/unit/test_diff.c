/*
 * test_diff.c — the change list between two sides (diff.h) on real
 * trees and manifest files: directories and manifests give the same
 * list, --stat counts it, a bad line late in a streamed manifest leaves
 * the output empty, and verify reads past a damaged --cache record.
 */
#include <sys/stat.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "diff.h"
#include "err.h"
#include "tap.h"

static char top[256];

static int
put(const char *rel, const char *text)
{
	char path[512];
	FILE *fp;

	snprintf(path, sizeof(path), "%s/%s", top, rel);
	if ((fp = fopen(path, "w")) == NULL)
		return -1;
	fputs(text, fp);
	return fclose(fp);
}

static const char *
at(const char *rel)
{
	static char path[4][512];
	static int k;

	k = (k + 1) % 4;
	snprintf(path[k], sizeof(path[k]), "%s/%s", top, rel);
	return path[k];
}

/* Scan top/dir into the manifest file top/name. */
static int
save_scan(const char *dir, const char *name)
{
	struct manifest m;
	FILE *fp;
	int rc = -1;

	manifest_init(&m);
	if (diff_scan(at(dir), 1, NULL, NULL, &m) == 0 &&
	    (fp = fopen(at(name), "w")) != NULL) {
		rc = manifest_write(&m, fp);
		if (fclose(fp) == EOF)
			rc = -1;
	}
	manifest_free(&m);
	return rc;
}

/* The bytes written to out by the last call, as a string. */
static const char *
text(FILE *out)
{
	static char buf[4096];
	size_t n;

	rewind(out);
	n = fread(buf, 1, sizeof(buf) - 1, out);
	buf[n] = '\0';
	rewind(out);
	if (ftruncate(fileno(out), 0) == -1)
		buf[0] = '\0';
	return buf;
}

static void
test_sides(FILE *out)
{
	struct change_stat st;
	long long n = -1;
	char dirs[4096];

	tap_ok(diff_sides(at("a"), at("b"), 1, out, NULL, &n) == 0 && n == 2,
	    "two directories: two changes");
	snprintf(dirs, sizeof(dirs), "%s", text(out));
	tap_ok(strstr(dirs, "x") != NULL && strstr(dirs, "y") != NULL,
	    "the list names both files");
	tap_ok(diff_sides(at("ma"), at("mb"), 1, out, NULL, &n) == 0 &&
		n == 2 && strcmp(text(out), dirs) == 0,
	    "two manifest files, streamed: the same list");
	tap_ok(diff_sides(at("a"), at("mb"), 1, out, NULL, &n) == 0 && n == 2 &&
		strcmp(text(out), dirs) == 0,
	    "a directory and a manifest: the same list");
	change_stat_init(&st);
	tap_ok(diff_sides(at("ma"), at("mb"), 1, out, &st, &n) == 0 &&
		st.added == 1 && st.modified == 1 && st.bytes == 3 &&
		text(out)[0] == '\0',
	    "--stat counts, writes no change line");
	tap_ok(diff_sides(at("ma"), at("bad"), 1, out, NULL, &n) == -1 &&
		text(out)[0] == '\0',
	    "a bad line late in a manifest: nothing "
	    "written");
	tap_ok(diff_sides("-", "-", 1, out, NULL, &n) == -1 &&
		strcmp(err_get(), "standard input can be only one side") == 0,
	    "standard input is one side at most");
}

static int noted;

static void
note(const char *why)
{
	(void)why;
	noted++;
}

static void
test_verify(FILE *out)
{
	long long n = -1;
	struct stat st;

	tap_ok(diff_verify(at("ma"), at("a"), 1, NULL, false, note, out, &n) ==
		    0 &&
		n == 0 && text(out)[0] == '\0',
	    "no drift");
	tap_ok(diff_verify(at("ma"), at("b"), 1, NULL, false, note, out, &n) ==
		    0 &&
		n == 2 && text(out)[0] != '\0',
	    "drift: two changes");
	tap_ok(diff_verify(at("ma"), at("ma"), 1, NULL, false, note, out, &n) ==
		    -1 &&
		strstr(err_get(), "not a directory") != NULL,
	    "a tree that is no directory");
	put("cache", "garbage\n");
	tap_ok(diff_verify(at("ma"), at("a"), 1, at("cache"), false, note, out,
		   &n) == 0 &&
		n == 0 && noted == 1,
	    "a damaged --cache record is noted and read past");
	tap_ok(stat(at("cache"), &st) == 0 && st.st_size > 8 &&
		diff_verify(at("ma"), at("a"), 1, at("cache"), false, note, out,
		    &n) == 0 &&
		n == 0 && noted == 1,
	    "the record is written anew and read next time");
}

int
main(void)
{
	const char *tmp = getenv("TMPDIR");
	char cmd[600];
	FILE *out, *fp;

	snprintf(top, sizeof(top), "%s/test_diff.XXXXXX", tmp ? tmp : "/tmp");
	if (mkdtemp(top) == NULL)
		return 1;
	mkdir(at("a"), 0755);
	mkdir(at("b"), 0755);
	if (put("a/x", "1") == -1 || put("b/x", "22") == -1 ||
	    put("b/y", "3") == -1 || save_scan("a", "ma") == -1 ||
	    save_scan("b", "mb") == -1) {
		tap_diag("%s", err_get());
		return 1;
	}
	/* mb with a bad line at its end. */
	snprintf(cmd, sizeof(cmd), "cp '%s' '%s'", at("mb"), at("bad"));
	if (system(cmd) != 0 || (fp = fopen(at("bad"), "a")) == NULL)
		return 1;
	if (fputs("not a manifest line\n", fp) == EOF) {
		fclose(fp);
		return 1;
	}
	if (fclose(fp) == EOF || (out = tmpfile()) == NULL)
		return 1;
	test_sides(out);
	test_verify(out);
	fclose(out);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", top);
	if (system(cmd) != 0)
		tap_diag("cannot remove %s", top);
	return tap_done();
}
