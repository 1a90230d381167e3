/*
 * test_mdelta.c — unit tests of delta manifests (mdelta.h): a save writes
 * a delta while it is small and a new base past a quarter of the base,
 * a load gives back exactly the manifest saved, and a hostile delta or
 * base (wrong hash, wrong count, lines that do not apply, a bad base
 * name, a link) is refused with a message naming the file.
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "atomic.h"
#include "changes.h"
#include "err.h"
#include "io.h"
#include "manifest.h"
#include "mdelta.h"
#include "tap.h"

#define H1 "1111111111111111111111111111111111111111111111111111111111111111"
#define H2 "2222222222222222222222222222222222222222222222222222222222222222"

static int dirfd_;
static char dir[64];

/* A manifest of n files f0000 .. f(n-1); file i has digest H2 when
 * i < changed, H1 otherwise; plus "extra" when extra is set. */
static void
make(struct manifest *m, int n, int changed, bool extra, uint64_t version)
{
	char line[256];
	struct entry e;
	int i;

	manifest_init(m);
	manifest_set_header(m, "pkg", version);
	for (i = 0; i < n; i++) {
		snprintf(line, sizeof(line), "f 0444 3 10 %s f%04d",
		    i < changed ? H2 : H1, i);
		entry_parse(line, strlen(line), &e);
		manifest_add(m, &e);
		entry_free(&e);
	}
	if (extra) {
		snprintf(line, sizeof(line), "d 0755 0 10 - zdir");
		entry_parse(line, strlen(line), &e);
		manifest_add(m, &e);
		entry_free(&e);
	}
	manifest_sort(m);
}

/* Same entries and header? */
static bool
same(const struct manifest *a, const struct manifest *b)
{
	size_t i;

	if (a->n != b->n || a->version != b->version ||
	    (a->package == NULL) != (b->package == NULL) ||
	    (a->package != NULL && strcmp(a->package, b->package) != 0))
		return false;
	for (i = 0; i < a->n; i++)
		if (strcmp(a->v[i].path, b->v[i].path) != 0 ||
		    changes_classify(&a->v[i], &b->v[i]) != CHANGE_NONE)
			return false;
	return true;
}

static off_t
fsize(const char *name)
{
	struct stat st;

	return fstatat(dirfd_, name, &st, AT_SYMLINK_NOFOLLOW) == 0 ?
	    st.st_size :
	    -1;
}

static void
put(const char *name, const char *text)
{
	(void)unlinkat(dirfd_, name, 0);
	atomic_write_file(dirfd_, name, text, strlen(text), 0644);
}

static char *
get(const char *name)
{
	char *buf = NULL;
	size_t len;

	if (io_slurp(dirfd_, name, 1 << 24, &buf, &len) == -1)
		return NULL;
	return buf;
}

/* Loading name fails with a message containing want. */
static void
refused(const char *name, const char *want, const char *title)
{
	struct manifest m;
	int rc = mdelta_load_at(dirfd_, name, "DP", &m, NULL);

	if (!tap_ok(rc == -1 && strstr(err_get(), want) != NULL, "%s", title))
		tap_diag("rc %d, error '%s', wanted '%s'", rc, err_get(), want);
	manifest_free(&m);
}

static void
test_roundtrip(void)
{
	struct manifest m1, m2, m3, got;
	struct mdelta_base b, b2;
	uint64_t bytes = 0;
	off_t bsz;

	mdelta_base_init(&b);
	make(&m1, 400, 0, false, 1);
	if (!tap_ok(mdelta_save_at(dirfd_, "t.manifest", NULL, &m1, &b,
			&bytes) == 0,
		"a first save writes"))
		tap_diag("%s", err_get());
	tap_ok(strcmp(b.name, "base.1.1") == 0 && fsize("base.1.1") > 20000,
	    "a first save writes a full base (base.1.1)");
	bsz = fsize("base.1.1");
	tap_ok(fsize("t.manifest") < 200 &&
		bytes == (uint64_t)(bsz + fsize("t.manifest")),
	    "and an empty delta; the bytes counted are both files");
	mdelta_base_free(&b);

	tap_ok(mdelta_load_at(dirfd_, "t.manifest", "DP", &got, &b) == 0 &&
		same(&got, &m1) && strcmp(b.name, "base.1.1") == 0 &&
		b.nbase == 400,
	    "the empty delta loads as the base");
	/* 10 changed, one added: a delta. */
	make(&m2, 400, 10, true, 2);
	bytes = 0;
	tap_ok(mdelta_save_at(dirfd_, "t2.manifest", &got, &m2, &b, &bytes) ==
		    0 &&
		strcmp(b.name, "base.1.1") == 0 && fsize("base.2.1") == -1,
	    "a small change is saved as a delta against the same base");
	tap_ok(bytes == (uint64_t)fsize("t2.manifest") && bytes < 2000,
	    "the delta is small (%llu bytes for 11 changes)",
	    (unsigned long long)bytes);
	manifest_free(&got);
	mdelta_base_free(&b);
	tap_ok(mdelta_load_at(dirfd_, "t2.manifest", "DP", &got, &b) == 0 &&
		same(&got, &m2) && b.touched.n == 11,
	    "the delta loads as the manifest saved");
	/* From the delta: 20 changed (the 10 again, 10 more), extra gone:
	 * still against base.1.1, 20 lines. */
	make(&m3, 400, 20, false, 3);
	mdelta_base_init(&b2);
	tap_ok(mdelta_save_at(dirfd_, "t3.manifest", &got, &m3, &b, NULL) ==
		    0 &&
		strcmp(b.name, "base.1.1") == 0,
	    "a delta from a delta stays against the base");
	manifest_free(&got);
	tap_ok(mdelta_load_at(dirfd_, "t3.manifest", "DP", &got, &b2) == 0 &&
		same(&got, &m3) && b2.touched.n == 20,
	    "it is cumulative: the base with 20 changes");
	manifest_free(&m3);
	/* 101 changed: over a quarter of 400, a new base. */
	make(&m3, 400, 101, false, 4);
	tap_ok(mdelta_save_at(dirfd_, "t4.manifest", &got, &m3, &b2, NULL) ==
		    0 &&
		strcmp(b2.name, "base.4.1") == 0 && fsize("base.4.1") > 0,
	    "a delta past a quarter of the base writes a new base");
	manifest_free(&got);
	tap_ok(mdelta_load_at(dirfd_, "t4.manifest", "DP", &got, NULL) == 0 &&
		same(&got, &m3),
	    "and loads as the manifest saved");
	manifest_free(&got);
	tap_ok(mdelta_load_at(dirfd_, "t2.manifest", "DP", &got, NULL) == 0 &&
		same(&got, &m2),
	    "older deltas still load against the old base");
	manifest_free(&got);
	/* mdelta_load_path() reads a delta with its base, a manifest as
	 * manifest_load() does. */
	{
		char path[128];

		snprintf(path, sizeof(path), "%s/t2.manifest", dir);
		tap_ok(mdelta_load_path(path, &got) == 0 && same(&got, &m2),
		    "mdelta_load_path() reads a delta file with its base");
		manifest_free(&got);
		tap_ok(mdelta_path_is_delta(path) &&
			manifest_load(path, &got) == -1,
		    "manifest_load() reads full manifests only");
		manifest_free(&got);
	}
	/* Collection: t.manifest .. t3 name base.1.1, t4 base.4.1. */
	put("base.9.9", "stale\n");
	tap_ok(mdelta_gc(dirfd_) == 0 && fsize("base.9.9") == -1 &&
		fsize("base.1.1") > 0 && fsize("base.4.1") > 0,
	    "gc removes only the bases no delta names");
	unlinkat(dirfd_, "t.manifest", 0);
	unlinkat(dirfd_, "t2.manifest", 0);
	unlinkat(dirfd_, "t3.manifest", 0);
	tap_ok(mdelta_gc(dirfd_) == 0 && fsize("base.1.1") == -1 &&
		fsize("base.4.1") > 0,
	    "a base goes once the last delta naming it "
	    "is gone");
	manifest_free(&m1);
	manifest_free(&m2);
	manifest_free(&m3);
	mdelta_base_free(&b);
	mdelta_base_free(&b2);
}

/* Write a delta named "h.manifest" against base "base.7.1" (written from
 * base text), with the given header and change lines. */
static void
hostile(const char *base, const char *head, const char *lines)
{
	unsigned char d[DIGEST_LEN];
	struct digest dg = { NULL };
	char hex[DIGEST_HEXLEN + 1], *text;
	size_t n;

	put("base.7.1", base);
	digest_init(&dg);
	digest_update(&dg, base, strlen(base));
	digest_final(&dg, d);
	digest_hex(d, hex);
	n = strlen(head) + strlen(lines) + 200;
	text = malloc(n);
	snprintf(text, n, "%s\nbase base.7.1 %s\n%s%s", MDELTA_MAGIC, hex, head,
	    lines);
	put("h.manifest", text);
	free(text);
}

static void
test_hostile(void)
{
	const char *base = "pkgdist-manifest 1\n"
			   "f 0444 3 10 " H1 " a\n"
			   "f 0444 3 10 " H1 " b\n";
	struct manifest m;
	char *t;

	hostile(base, "changes 1\n", "M f 0444 3 10 " H2 " b\n");
	tap_ok(mdelta_load_at(dirfd_, "h.manifest", "DP", &m, NULL) == 0 &&
		m.n == 2 && m.v[1].digest[0] == 0x22,
	    "a well-formed delta loads");
	manifest_free(&m);
	hostile(base, "changes 2\n", "M f 0444 3 10 " H2 " b\n");
	refused("h.manifest",
	    "DP/h.manifest: 1 change lines, its header says 2 "
	    "(truncated?)",
	    "a delta with fewer lines than its count is refused");
	hostile(base, "changes 1\n", "A f 0444 3 10 " H2 " b\n");
	refused("h.manifest",
	    "DP/h.manifest:4: 'A b' does not apply to "
	    "'base.7.1': the base already has the path",
	    "adding a path the base has is refused (file and line named)");
	hostile(base, "changes 1\n", "D f 0444 3 10 " H1 " c\n");
	refused("h.manifest", "the base lacks the path",
	    "deleting a path the base lacks is refused");
	hostile(base, "changes 1\n", "D f 0444 3 10 " H2 " b\n");
	refused("h.manifest", "the deleted entry is not the base's",
	    "a deletion naming another entry is refused");
	hostile(base, "changes 1\n", "P f 0444 3 10 " H2 " b\n");
	refused("h.manifest", "not what the base and the entry differ by",
	    "a P line changing the content is refused");
	hostile(base, "changes 1\n", "A f 0444 3 10 " H2 " a/x\n");
	refused("h.manifest", "DP/h.manifest:4: entry 'a/x' runs through 'a'",
	    "a result with a path through a file is refused");
	hostile(base, "changes 2\n",
	    "M f 0444 3 10 " H2 " b\n"
	    "M f 0444 3 10 " H2 " a\n");
	refused("h.manifest", "out of order", "unsorted lines are refused");
	/* The base altered after the delta was written. */
	hostile(base, "changes 0\n", "");
	put("base.7.1", "pkgdist-manifest 1\n");
	refused("h.manifest",
	    "its base 'base.7.1' is not the file it was "
	    "written against (SHA-256 differs",
	    "a changed base is refused");
	/* A base name that is not one. */
	put("h.manifest",
	    MDELTA_MAGIC "\nbase ../etc/passwd " H1 "\n"
			 "changes 0\n");
	refused("h.manifest", "DP/h.manifest:2: malformed delta header line",
	    "a base name with a slash is refused");
	put("h.manifest", MDELTA_MAGIC "\nbase manifest " H1 "\nchanges 0\n");
	refused("h.manifest", "malformed delta header line",
	    "a base name that is not base.N.K is refused");
	put("h.manifest", MDELTA_MAGIC "\nbase base.7.1 ");
	refused("h.manifest", "truncated delta header",
	    "a header cut short is refused");
	put("h.manifest", MDELTA_MAGIC "\n");
	refused("h.manifest", "DP/h.manifest:2: truncated delta header",
	    "a header of the magic line alone is refused");
	put("h.manifest", MDELTA_MAGIC "\nbase base.7.1 " H1 "\n");
	refused("h.manifest", "DP/h.manifest:3: truncated delta header",
	    "a header without its line count is refused");
	/* A link planted as the base. */
	hostile(base, "changes 0\n", "");
	t = get("base.7.1");
	put("elsewhere", t != NULL ? t : "");
	free(t);
	unlinkat(dirfd_, "base.7.1", 0);
	symlinkat("elsewhere", dirfd_, "base.7.1");
	refused("h.manifest", "DP/base.7.1: a symbolic link: not followed",
	    "a link planted as the base is not followed");
	tap_ok(mdelta_gc(dirfd_) == 0 && fsize("base.7.1") != -1,
	    "gc keeps a named base, even a link");
	unlinkat(dirfd_, "h.manifest", 0);
	tap_ok(mdelta_gc(dirfd_) == 0 && fsize("base.7.1") == -1 &&
		fsize("elsewhere") > 0,
	    "gc removes an unnamed link as a base, not what it points to");
	tap_ok(mdelta_name_valid("base.1.2") && !mdelta_name_valid("base.1") &&
		!mdelta_name_valid("base..1") &&
		!mdelta_name_valid("base.1.") &&
		!mdelta_name_valid("base.1.2.3") && !mdelta_name_valid("v1.1"),
	    "base names are exactly base.N.K");
}

int
main(void)
{
	snprintf(dir, sizeof(dir), "/tmp/test_mdelta.XXXXXX");
	if (mkdtemp(dir) == NULL ||
	    (dirfd_ = open(dir, O_RDONLY | O_DIRECTORY)) == -1) {
		perror("mkdtemp");
		return 2;
	}
	test_roundtrip();
	test_hostile();
	io_remove_tree(AT_FDCWD, dir);
	return tap_done();
}
