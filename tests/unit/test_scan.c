/*
 * test_scan.c — unit tests of the parts of scan.h that pkgdiff itself
 * does not reach from the command line: metadata-only scans, the skip
 * callback, scan_hash_file() and scan_rehash().
 */
#include <sys/stat.h>

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "digest.h"
#include "err.h"
#include "io.h"
#include "manifest.h"
#include "scan.h"
#include "tap.h"

/* SHA-256 of "hello\n" and of "" */
#define HELLO "5891b5b522d5df086d0ff0b110fbd9d21bb4fc7163af34d08286a2e846f6be03"
#define EMPTY "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

static char tmpdir[] = "/tmp/pkgdist-scan-XXXXXX";

static void
put(int dfd, const char *name, const char *text)
{
	int fd = openat(dfd, name, O_WRONLY | O_CREAT | O_TRUNC, 0644);

	if (fd == -1 || write(fd, text, strlen(text)) != (ssize_t)strlen(text))
		tap_diag("cannot write %s", name);
	if (fd != -1)
		close(fd);
}

static bool
hex_is(const unsigned char d[DIGEST_LEN], const char *hex)
{
	char h[DIGEST_HEXLEN + 1];

	digest_hex(d, h);
	return strcmp(h, hex) == 0;
}

static bool
skip_named_skip(const char *path, void *arg)
{
	(void)arg;
	return strcmp(path, "skip") == 0;
}

int
main(void)
{
	struct scan_opts o;
	struct manifest m;
	const struct entry *e;
	struct entry v[3];
	unsigned char d[DIGEST_LEN];
	uint64_t size = 0;
	int dfd;
	bool zero;
	size_t i;

	if (mkdtemp(tmpdir) == NULL ||
	    (dfd = open(tmpdir, O_RDONLY | O_DIRECTORY)) == -1) {
		tap_ok(0, "cannot make a temporary directory");
		return tap_done();
	}
	mkdirat(dfd, "sub", 0755);
	mkdirat(dfd, "skip", 0755);
	put(dfd, "sub/hello", "hello\n");
	put(dfd, "skip/hidden", "x");
	put(dfd, "empty", "");
	symlinkat("sub", dfd, "link");

	scan_opts_init(&o);
	manifest_init(&m);
	tap_ok(scan_tree(dfd, tmpdir, &o, &m) == 0 && m.n == 6,
	    "scan_tree records every name below the root");
	e = manifest_find(&m, "sub/hello");
	tap_ok(e != NULL && e->type == ENTRY_FILE && e->size == 6 &&
		hex_is(e->digest, HELLO),
	    "a file entry has its size and SHA-256");
	e = manifest_find(&m, "link");
	tap_ok(e != NULL && e->type == ENTRY_LINK && e->size == 3 &&
		strcmp(e->target, "sub") == 0 &&
		manifest_find(&m, "link/hello") == NULL,
	    "a link is an entry with its target, not followed");
	tap_ok(manifest_check(&m) == 0, "the result is sorted and valid");
	manifest_free(&m);

	o.no_hash = true;
	o.skip = skip_named_skip;
	manifest_init(&m);
	tap_ok(scan_tree(dfd, tmpdir, &o, &m) == 0 && m.n == 4 &&
		manifest_find(&m, "skip") == NULL &&
		manifest_find(&m, "skip/hidden") == NULL,
	    "the skip callback leaves out a directory and all below it");
	zero = true;
	for (i = 0; i < m.n; i++)
		for (size_t k = 0; k < DIGEST_LEN; k++)
			if (m.v[i].digest[k] != 0)
				zero = false;
	e = manifest_find(&m, "sub/hello");
	tap_ok(zero && e != NULL && e->size == 6,
	    "no_hash gives sizes and "
	    "zero digests");

	/* scan_rehash fills the digests of the file entries in place. */
	if (!tap_ok(scan_rehash(dfd, m.v, m.n, NULL) == 0,
		"scan_rehash on "
		"the metadata-only manifest succeeds"))
		tap_diag("%s", err_get());
	e = manifest_find(&m, "sub/hello");
	tap_ok(e != NULL && hex_is(e->digest, HELLO) &&
		hex_is(manifest_find(&m, "empty")->digest, EMPTY),
	    "scan_rehash stores each file's digest");
	manifest_free(&m);

	memset(v, 0, sizeof(v));
	v[0].type = ENTRY_FILE;
	v[0].path = "sub/hello";
	v[1].type = ENTRY_DIR;
	v[1].path = "sub";
	v[2].type = ENTRY_FILE;
	v[2].path = "gone";
	tap_ok(scan_rehash(dfd, v, 3, NULL) == -1 &&
		strstr(err_get(), "gone") != NULL,
	    "scan_rehash fails naming a "
	    "missing file (%s)",
	    err_get());
	v[2].path = "link";
	tap_ok(scan_rehash(dfd, v, 3, NULL) == -1 &&
		strstr(err_get(), "link") != NULL,
	    "scan_rehash refuses to "
	    "follow a link where a file was (%s)",
	    err_get());

	tap_ok(scan_hash_file(dfd, "sub/hello", d, &size, NULL) == 0 &&
		size == 6 && hex_is(d, HELLO),
	    "scan_hash_file hashes one file");
	tap_ok(scan_hash_file(dfd, "link/hello", d, &size, "dp1") == -1 &&
		strncmp(err_get(), "dp1: ", 5) == 0,
	    "scan_hash_file does not go "
	    "through a link on the way, and names the file as asked (%s)",
	    err_get());
	tap_ok(scan_hash_file(dfd, "sub", d, &size, NULL) == -1,
	    "scan_hash_file refuses a directory");

	mkfifoat(dfd, "fifo", 0644);
	manifest_init(&m);
	scan_opts_init(&o);
	tap_ok(scan_tree(dfd, "ROOT", &o, &m) == -1 && m.n == 0 &&
		strcmp(err_get(),
		    "'ROOT/fifo': unsupported file type (fifo)") == 0,
	    "a fifo fails the scan naming it, output left empty (%s)",
	    err_get());
	tap_ok(scan_hash_file(dfd, "fifo", d, &size, NULL) == -1,
	    "scan_hash_file refuses a fifo without blocking");
	manifest_free(&m);

	close(dfd);
	io_remove_tree(AT_FDCWD, tmpdir);
	return tap_done();
}
