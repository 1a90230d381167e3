/*
 * test_statcache.c — the stat check's record (statcache.h): what a line
 * must be to be read, and when a record answers for a file.
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "err.h"
#include "manifest.h"
#include "statcache.h"
#include "tap.h"

#define D64 "0000000000000000000000000000000000000000000000000000000000000001"

static char dir[] = "/tmp/test_statcache.XXXXXX";

/* Load text as a record; returns statcache_load's result, c filled. */
static int
load(struct statcache *c, const char *text)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY);
	FILE *fp;
	int rc;

	fp = fopen("c", "w");
	fputs(text, fp);
	fclose(fp);
	rc = statcache_load(c, fd, "c", "c");
	if (rc == -1)
		tap_diag("%s", err_get());
	close(fd);
	return rc;
}

static int
refused(const char *text, const char *why)
{
	struct statcache c;
	int rc;

	statcache_init(&c, NULL, false);
	rc = load(&c, text);
	rc = rc == -1 && strstr(err_get(), why) != NULL && c.n == 0;
	statcache_free(&c);
	return rc;
}

int
main(void)
{
	struct statcache c;
	struct manifest want;
	struct entry e;
	struct scan_stat st;
	unsigned char dg[DIGEST_LEN];
	int fd;

	if (mkdtemp(dir) == NULL || chdir(dir) == -1)
		return 1;

	statcache_init(&c, NULL, false);
	fd = open(dir, O_RDONLY | O_DIRECTORY);
	tap_ok(statcache_load(&c, fd, "none", "none") == 0 && c.n == 0,
	    "a missing record is an empty one");
	close(fd);
	tap_ok(load(&c,
		   "pkgdist-statcache 1\n"
		   "7 100 90 5 " D64 " a\\040b\n"
		   "8 100 90 5 " D64 " z\n") == 0 &&
		c.n == 2 && strcmp(c.v[0].path, "a b") == 0 && c.v[1].ino == 8,
	    "lines are read, paths unescaped");
	statcache_free(&c);

	tap_ok(refused("", "not a stat cache"), "an empty file is refused");
	tap_ok(refused("pkgdist-statcache 2\n", "not a stat cache"),
	    "another format is refused");
	tap_ok(refused("pkgdist-statcache 1\n7 100 90 5 " D64 " a", "c:2:"),
	    "a last line with no newline is refused, naming the line");
	tap_ok(refused("pkgdist-statcache 1\n7 100 90 5 " D64 " b\n"
		       "7 100 90 5 " D64 " a\n",
		   "not sorted"),
	    "lines out of order are refused");
	tap_ok(refused("pkgdist-statcache 1\n7 100 90 5 " D64 " a\n"
		       "7 100 90 5 " D64 " a\n",
		   "not sorted"),
	    "a path twice is refused");
	tap_ok(
	    refused("pkgdist-statcache 1\nx 100 90 5 " D64 " a\n", "bad inode"),
	    "a bad inode is refused");
	tap_ok(
	    refused("pkgdist-statcache 1\n7 100 90 5 " D64 " ../a\n", "c:2:"),
	    "a path with '..' is refused");
	tap_ok(
	    refused("pkgdist-statcache 1\n7 100 90 5 " D64 " a\\999\n", "c:2:"),
	    "a bad escape is refused");
	tap_ok(refused("pkgdist-statcache 1\n7 100 90 5 " D64 "\n", "c:2:"),
	    "a line with no path is refused");
	tap_ok(refused("pkgdist-statcache 1\n7 100 90 5 " D64 " \n", "c:2:"),
	    "an empty path is refused");

	/* When a record answers. */
	manifest_init(&want);
	memset(&e, 0, sizeof(e));
	e.type = ENTRY_FILE;
	e.mode = 0444;
	e.size = 5;
	e.mtime = 90;
	e.path = "a";
	manifest_add(&want, &e);
	statcache_init(&c, &want, false);
	load(&c,
	    "pkgdist-statcache 1\n7 100000000000 90000000000 5 " D64 " a\n");
	memset(&st, 0, sizeof(st));
	st.ino = 7;
	st.size = 5;
	st.mtime = 90;
	st.mtime_ns = 90000000000;
	st.ctime_ns = 100000000000;
	st.mode = 0444;
	tap_ok(statcache_known("a", &st, dg, &c) && dg[DIGEST_LEN - 1] == 1,
	    "unchanged stat: the recorded digest, the file not read");
	st.ctime_ns++;
	tap_ok(!statcache_known("a", &st, dg, &c), "a new ctime is read");
	st.ctime_ns--;
	st.ino = 8;
	tap_ok(!statcache_known("a", &st, dg, &c), "a new inode is read");
	st.ino = 7;
	st.mode = 0644;
	tap_ok(!statcache_known("a", &st, dg, &c),
	    "a mode other than the manifest's is read");
	st.mode = 0444;
	tap_ok(!statcache_known("b", &st, dg, &c),
	    "a file the manifest lacks is read");
	tap_ok(c.nseen == 5, "every file the walk saw long ago is recorded");
	statcache_free(&c);
	statcache_init(&c, &want, true);
	load(&c,
	    "pkgdist-statcache 1\n7 100000000000 90000000000 5 " D64 " a\n");
	tap_ok(!statcache_known("a", &st, dg, &c), "--deep reads every file");
	statcache_free(&c);
	statcache_init(&c, &want, false);
	st.ctime_ns = c.start_ns;
	tap_ok(!statcache_known("a", &st, dg, &c) && c.nseen == 0,
	    "a file changed in the racy second is not recorded");
	statcache_free(&c);
	manifest_free(&want);

	unlink("c");
	if (chdir("/") == -1)
		return 1;
	rmdir(dir);
	return tap_done();
}
