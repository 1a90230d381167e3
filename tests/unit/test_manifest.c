/*
 * test_manifest.c — unit tests of the manifest model (manifest.h):
 * round trip, escaping of every byte, sort order, and the refusal of
 * each malformed input with an error naming the file and line.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "digest.h"
#include "err.h"
#include "manifest.h"
#include "path.h"
#include "tap.h"

#define HEX_A "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"

/* Write m into a malloc'd buffer. */
static char *
to_text(const struct manifest *m, size_t *len)
{
	char *buf = NULL;
	size_t n = 0;
	FILE *fp = open_memstream(&buf, &n);

	if (fp == NULL)
		return NULL;
	if (manifest_write(m, fp) == -1) {
		fclose(fp);
		free(buf);
		return NULL;
	}
	fclose(fp);
	*len = n;
	return buf;
}

static bool
entry_equal(const struct entry *a, const struct entry *b)
{
	return a->type == b->type && a->mode == b->mode && a->size == b->size &&
	    a->mtime == b->mtime &&
	    memcmp(a->digest, b->digest, DIGEST_LEN) == 0 &&
	    strcmp(a->path, b->path) == 0 &&
	    ((a->target == NULL && b->target == NULL) ||
		(a->target != NULL && b->target != NULL &&
		    strcmp(a->target, b->target) == 0));
}

static void
add(struct manifest *m, char type, unsigned mode, uint64_t size, int64_t mtime,
    const char *path, const char *target)
{
	struct entry e;
	size_t i;

	memset(&e, 0, sizeof(e));
	e.type = type;
	e.mode = mode;
	e.size = size;
	e.mtime = mtime;
	e.path = (char *)path;
	e.target = (char *)target;
	if (type == ENTRY_LINK)
		e.size = strlen(target);
	if (type == ENTRY_FILE)
		for (i = 0; i < DIGEST_LEN; i++)
			e.digest[i] = (unsigned char)(i * 7 + size);
	if (manifest_add(m, &e) == -1)
		tap_diag("manifest_add: %s", err_get());
}

static void
test_round_trip(void)
{
	struct manifest m, back;
	char *t1 = NULL, *t2 = NULL;
	size_t l1 = 0, l2 = 0, i;
	bool same;

	manifest_init(&m);
	manifest_init(&back);
	manifest_set_header(&m, "office97", 12);
	add(&m, 'd', 0755, 0, 1700000000, "setup", NULL);
	add(&m, 'l', 0777, 9, 1700000000, "setup/current", "setup.exe");
	add(&m, 'f', 0644, 14821, 1700000000, "setup/read me.txt", NULL);
	add(&m, 'f', 04755, 0, -5, "tab\there", NULL);
	add(&m, 'f', 0600, 3, 0, "new\nline\\back\x01\x7f\xe9\xff", NULL);
	add(&m, 'l', 0777, 13, 1, "weird link", "../x y\\z\n\x80/");
	manifest_sort(&m);
	tap_ok(manifest_check(&m) == 0,
	    "a built manifest passes "
	    "manifest_check (%s)",
	    err_get());
	t1 = to_text(&m, &l1);
	tap_ok(t1 != NULL && manifest_load_buf(t1, l1, "mem", &back) == 0,
	    "written manifest parses back (%s)", err_get());
	same = back.n == m.n && back.version == 12 && back.package != NULL &&
	    strcmp(back.package, "office97") == 0;
	for (i = 0; same && i < m.n; i++)
		same = entry_equal(&m.v[i], &back.v[i]);
	tap_ok(same, "round trip keeps header and every field of every entry");
	t2 = to_text(&back, &l2);
	tap_ok(t2 != NULL && l1 == l2 && memcmp(t1, t2, l1) == 0,
	    "round trip gives the same bytes");
	tap_ok(t1 != NULL && strstr(t1, "setup/read\\040me.txt\n") != NULL &&
		strstr(t1, "new\\012line\\134back\\001\\177\xe9\xff\n") !=
		    NULL &&
		strstr(t1, " weird\\040link -> ../x\\040y\\134z\\012\x80/\n") !=
		    NULL,
	    "paths and targets are escaped as in fstab; bytes >= 0x80 "
	    "stand as they are");
	tap_ok(t1 != NULL &&
		strncmp(t1,
		    "pkgdist-manifest 1\npackage "
		    "office97\nversion 12\n",
		    47) == 0,
	    "header lines come first");
	free(t1);
	free(t2);
	manifest_free(&m);
	manifest_free(&back);
}

static bool
needs_escape(unsigned c)
{
	return c < 0x21 || c == 0x7f || c == '\\';
}

static void
test_escaping(void)
{
	char path[8], want[16], *esc, *back, line[256];
	struct entry e;
	unsigned c;
	int bad_esc = 0, bad_back = 0, bad_entry = 0;

	for (c = 1; c <= 0xff; c++) {
		if (c == '/')
			continue; /* the separator, not a name byte */
		snprintf(path, sizeof(path), "x%cy", (char)c);
		if (needs_escape(c))
			snprintf(want, sizeof(want), "x\\%03oy", c);
		else
			snprintf(want, sizeof(want), "x%cy", (char)c);
		esc = path_escape(path);
		if (esc == NULL || strcmp(esc, want) != 0) {
			bad_esc++;
			tap_diag("byte 0x%02x escaped as '%s'", c,
			    esc ? esc : "NULL");
		}
		if (esc == NULL ||
		    path_unescape(esc, strlen(esc), &back) == -1 ||
		    strcmp(back, path) != 0) {
			bad_back++;
			tap_diag("byte 0x%02x does not unescape back", c);
		} else
			free(back);
		snprintf(line, sizeof(line), "f 0644 1 2 " HEX_A " %s",
		    esc ? esc : "");
		if (entry_parse(line, strlen(line), &e) == -1 ||
		    strcmp(e.path, path) != 0) {
			bad_entry++;
			tap_diag("byte 0x%02x: entry does not parse: %s", c,
			    err_get());
		}
		entry_free(&e);
		free(esc);
	}
	tap_ok(bad_esc == 0,
	    "every byte 0x01-0xff in a path component is "
	    "escaped exactly when it is space, backslash, below 0x21 or "
	    "0x7f");
	tap_ok(bad_back == 0, "every escaped byte 0x01-0xff unescapes back");
	tap_ok(bad_entry == 0,
	    "every byte 0x01-0xff survives an entry "
	    "line round trip");

	tap_ok(path_unescape("a\\000b", 6, &back) == -1,
	    "\\000 is refused (%s)", err_get());
	tap_ok(path_unescape("a\\101", 5, &back) == -1,
	    "an escape of a byte that needs none is refused: one spelling "
	    "per path");
	tap_ok(path_unescape("a b", 3, &back) == -1,
	    "a raw space in an escaped path is refused");
	tap_ok(path_unescape("a\\09", 4, &back) == -1 &&
		path_unescape("a\\400", 5, &back) == -1 &&
		path_unescape("a\\04", 4, &back) == -1,
	    "a non-octal, out of range or truncated escape is refused");
	snprintf(line, sizeof(line), "f 0644 1 2 " HEX_A " a\\000b");
	tap_ok(entry_parse(line, strlen(line), &e) == -1,
	    "an entry with \\000 in its path is refused");
}

static void
test_sorting(void)
{
	struct manifest m;
	const char *want[] = { "a", "a b", "a/b", "a0", "b", "\xe9" };
	size_t i;
	bool ok;

	manifest_init(&m);
	add(&m, 'f', 0644, 1, 1, "\xe9", NULL);
	add(&m, 'f', 0644, 1, 1, "a0", NULL);
	add(&m, 'f', 0644, 1, 1, "a/b", NULL);
	add(&m, 'f', 0644, 1, 1, "b", NULL);
	add(&m, 'f', 0644, 1, 1, "a b", NULL);
	add(&m, 'd', 0755, 0, 1, "a", NULL);
	manifest_sort(&m);
	ok = m.n == 6;
	for (i = 0; ok && i < 6; i++)
		ok = strcmp(m.v[i].path, want[i]) == 0;
	tap_ok(ok, "sort is byte order: a, a b, a/b, a0, b, 0xe9");
	tap_ok(manifest_check(&m) == 0, "that order passes manifest_check");
	tap_ok(manifest_find(&m, "a/b") == &m.v[2] &&
		manifest_find(&m, "a/c") == NULL,
	    "manifest_find finds by path");
	manifest_free(&m);

	manifest_init(&m);
	add(&m, 'f', 0644, 1, 1, "b", NULL);
	add(&m, 'f', 0644, 1, 1, "a", NULL);
	tap_ok(manifest_check(&m) == -1,
	    "manifest_check refuses an unsorted "
	    "manifest (%s)",
	    err_get());
	manifest_free(&m);
}

struct bad {
	const char *title;
	const char *text;
	const char *where; /* expected "NAME:LINE:" prefix */
};

static const struct bad bads[] = {
	{ "an empty file", "", "bad:1:" },
	{ "a truncated manifest (last line without newline)",
	    "pkgdist-manifest 1\nd 0755 0 1 - a\nf 0644 1 1 " HEX_A " a/b",
	    "bad:3:" },
	{ "a manifest cut inside its first line", "pkgdist-mani", "bad:1:" },
	{ "a wrong first line", "pkgdist-manifest 2\n", "bad:1:" },
	{ "a first line with trailing space", "pkgdist-manifest 1 \n",
	    "bad:1:" },
	{ "unsorted paths",
	    "pkgdist-manifest 1\nd 0755 0 1 - b\nd 0755 0 1 - a\n", "bad:3:" },
	{ "'a/b' before 'a b'",
	    "pkgdist-manifest 1\nd 0755 0 1 - a\nd 0755 0 1 - a/b\n"
	    "d 0755 0 1 - a\\040b\n",
	    "bad:4:" },
	{ "a duplicate path",
	    "pkgdist-manifest 1\nd 0755 0 1 - a\nd 0755 0 1 - a\n", "bad:3:" },
	{ "a '..' component", "pkgdist-manifest 1\nd 0755 0 1 - a/../b\n",
	    "bad:2:" },
	{ "a '..' path", "pkgdist-manifest 1\nd 0755 0 1 - ..\n", "bad:2:" },
	{ "a '.' component", "pkgdist-manifest 1\nd 0755 0 1 - a/./b\n",
	    "bad:2:" },
	{ "a leading '/'", "pkgdist-manifest 1\nd 0755 0 1 - /etc\n",
	    "bad:2:" },
	{ "an empty component", "pkgdist-manifest 1\nd 0755 0 1 - a//b\n",
	    "bad:2:" },
	{ "a trailing '/'", "pkgdist-manifest 1\nd 0755 0 1 - a/\n", "bad:2:" },
	{ "an invalid escape", "pkgdist-manifest 1\nd 0755 0 1 - a\\08b\n",
	    "bad:2:" },
	{ "an escaped \\000", "pkgdist-manifest 1\nd 0755 0 1 - a\\000b\n",
	    "bad:2:" },
	{ "a truncated escape", "pkgdist-manifest 1\nd 0755 0 1 - a\\04\n",
	    "bad:2:" },
	{ "a digest of the wrong length",
	    "pkgdist-manifest 1\nf 0644 1 1 9f86d081 a\n", "bad:2:" },
	{ "a digest one digit too long",
	    "pkgdist-manifest 1\nf 0644 1 1 " HEX_A "0 a\n", "bad:2:" },
	{ "a digest that is not hex",
	    "pkgdist-manifest 1\nf 0644 1 1 "
	    "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00axx"
	    " a\n",
	    "bad:2:" },
	{ "an uppercase digest",
	    "pkgdist-manifest 1\nf 0644 1 1 "
	    "9F86D081884C7D659A2FEAA0C55AD015A3BF4F1B2B0B822CD15D6C15B0F00A08"
	    " a\n",
	    "bad:2:" },
	{ "a file with digest '-'", "pkgdist-manifest 1\nf 0644 1 1 - a\n",
	    "bad:2:" },
	{ "a size that is not a number",
	    "pkgdist-manifest 1\nf 0644 1x 1 " HEX_A " a\n", "bad:2:" },
	{ "a negative size", "pkgdist-manifest 1\nf 0644 -1 1 " HEX_A " a\n",
	    "bad:2:" },
	{ "a size that overflows 64 bits",
	    "pkgdist-manifest 1\nf 0644 18446744073709551616 1 " HEX_A " a\n",
	    "bad:2:" },
	{ "an mtime that is not a number",
	    "pkgdist-manifest 1\nf 0644 1 yesterday " HEX_A " a\n", "bad:2:" },
	{ "a mode that is not 4 octal digits",
	    "pkgdist-manifest 1\nf 0648 1 1 " HEX_A " a\n", "bad:2:" },
	{ "an unknown type", "pkgdist-manifest 1\np 0644 1 1 - a\n", "bad:2:" },
	{ "a missing path", "pkgdist-manifest 1\nd 0755 0 1 -\n", "bad:2:" },
	{ "a path through a file entry",
	    "pkgdist-manifest 1\nf 0644 1 1 " HEX_A " a\nd 0755 0 1 - a/b\n",
	    "bad:3:" },
	{ "a path through a link entry",
	    "pkgdist-manifest 1\nl 0777 1 1 - a -> b\nd 0755 0 1 - a\\040b\n"
	    "f 0644 1 1 " HEX_A " a/c\n",
	    "bad:4:" },
	{ "a link size that is not its target length",
	    "pkgdist-manifest 1\nl 0777 5 1 - a -> b\n", "bad:2:" },
	{ "a link without a target", "pkgdist-manifest 1\nl 0777 1 1 - a\n",
	    "bad:2:" },
	{ "a directory with a size", "pkgdist-manifest 1\nd 0755 4096 1 - a\n",
	    "bad:2:" },
	{ "text after a file path",
	    "pkgdist-manifest 1\nf 0644 1 1 " HEX_A " a -> b\n", "bad:2:" },
	{ "a NUL byte in a line", "pkgdist-manifest 1\nd 0755 0 1 - a\0b\n",
	    "bad:2:" },
	{ "two spaces between fields", "pkgdist-manifest 1\nd  0755 0 1 - a\n",
	    "bad:2:" },
	{ "a header line after an entry",
	    "pkgdist-manifest 1\nd 0755 0 1 - a\nversion 3\n", "bad:3:" },
	{ "version 0", "pkgdist-manifest 1\nversion 0\n", "bad:2:" },
	{ "an invalid package name", "pkgdist-manifest 1\npackage .hidden\n",
	    "bad:2:" },
	{ "a CRLF line end", "pkgdist-manifest 1\r\nd 0755 0 1 - a\n",
	    "bad:1:" },
};

/* Length of a test text: they may hold a NUL, so count to the end of
 * the literal by hand for that one case. */
static size_t
bad_len(const struct bad *b)
{
	size_t n = strlen(b->text);

	if (strstr(b->title, "NUL") != NULL)
		n += 1 + strlen(b->text + n + 1);
	return n;
}

static void
test_bad_inputs(void)
{
	struct manifest m;
	struct manifest_reader *r;
	const struct entry *e;
	size_t i;
	FILE *fp;
	int got;

	for (i = 0; i < sizeof(bads) / sizeof(bads[0]); i++) {
		const struct bad *b = &bads[i];
		size_t len = bad_len(b);
		int rc;

		rc = manifest_load_buf(b->text, len, "bad", &m);
		tap_ok(rc == -1 && m.n == 0 &&
			strncmp(err_get(), b->where, strlen(b->where)) == 0 &&
			strchr(err_get(), '\n') == NULL,
		    "refused: %s, with '%s' in front of a one-line error "
		    "(got '%s')",
		    b->title, b->where, err_get());
		manifest_free(&m);

		/* The streaming reader says the same. */
		if (len == 0)
			continue; /* fmemopen cannot open 0 bytes */
		if ((fp = fmemopen((void *)(uintptr_t)b->text, len, "r")) ==
		    NULL)
			continue;
		got = manifest_reader_open(fp, "bad", &r);
		if (got == 0)
			while ((got = manifest_reader_next(r, &e)) == 1)
				;
		tap_ok(got == -1 &&
			strncmp(err_get(), b->where, strlen(b->where)) == 0,
		    "streaming reader refuses it too: "
		    "%s",
		    b->title);
		manifest_reader_close(r);
		r = NULL;
		fclose(fp);
	}
}

static void
test_good_edge_cases(void)
{
	struct manifest m;
	const char *t;

	t = "pkgdist-manifest 1\n";
	tap_ok(manifest_load_buf(t, strlen(t), "x", &m) == 0 && m.n == 0,
	    "a manifest with no entry is valid (an empty tree)");
	manifest_free(&m);
	t = "pkgdist-manifest 1\nl 0777 1 1 - a -> b\nf 0644 1 1 " HEX_A
	    " a0\nf 0644 1 1 " HEX_A " a\\040b\n";
	tap_ok(manifest_load_buf(t, strlen(t), "x", &m) == -1,
	    "out of order 'a0' before 'a b' is refused");
	manifest_free(&m);
	t = "pkgdist-manifest 1\nl 0777 1 1 - a -> b\nf 0644 1 1 " HEX_A
	    " a\\040b\nf 0644 1 1 " HEX_A " a0\n";
	tap_ok(manifest_load_buf(t, strlen(t), "x", &m) == 0 && m.n == 3,
	    "'a b' and 'a0' beside a link 'a' are not under it (%s)",
	    err_get());
	manifest_free(&m);
	t = "pkgdist-manifest 1\nf 0644 18446744073709551615 "
	    "-9223372036854775808 " HEX_A " big\n";
	tap_ok(manifest_load_buf(t, strlen(t), "x", &m) == 0 && m.n == 1 &&
		m.v[0].size == UINT64_MAX && m.v[0].mtime == INT64_MIN,
	    "the largest size and the smallest mtime parse (%s)", err_get());
	manifest_free(&m);
	t = "pkgdist-manifest 1\nl 0777 4 1 - a -> /etc\nl 0777 2 1 - b -> "
	    "..\n";
	tap_ok(manifest_load_buf(t, strlen(t), "x", &m) == 0 && m.n == 2,
	    "link targets may be absolute or '..' (they are data, not "
	    "paths the tools follow)");
	manifest_free(&m);
}

static void
test_same_content(void)
{
	struct entry a, b;
	const char *la = "f 0644 5 1 " HEX_A " x";
	const char *lb = "f 0600 5 9 " HEX_A " x";

	entry_parse(la, strlen(la), &a);
	entry_parse(lb, strlen(lb), &b);
	tap_ok(entry_same_content(&a, &b),
	    "entry_same_content ignores mode "
	    "and mtime");
	b.digest[0] ^= 1;
	tap_ok(!entry_same_content(&a, &b),
	    "entry_same_content sees the "
	    "digest");
	entry_free(&a);
	entry_free(&b);
	tap_ok(name_valid("office97") && name_valid("a.b_c-9") &&
		!name_valid(".x") && !name_valid("a/b") && !name_valid("") &&
		!name_valid("a b"),
	    "package names follow [A-Za-z0-9._-], not "
	    "starting with '.'");
}

int
main(void)
{
	test_round_trip();
	test_escaping();
	test_sorting();
	test_bad_inputs();
	test_good_edge_cases();
	test_same_content();
	return tap_done();
}
