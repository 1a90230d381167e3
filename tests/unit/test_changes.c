/*
 * test_changes.c — unit tests of change lists (changes.h): the
 * classification rule, in-memory and streamed comparison, the written
 * form, the change-list file parser and the --stat totals.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "changes.h"
#include "err.h"
#include "manifest.h"
#include "tap.h"

#define H1 "1111111111111111111111111111111111111111111111111111111111111111"
#define H2 "2222222222222222222222222222222222222222222222222222222222222222"

static struct entry
parse(const char *line)
{
	struct entry e;

	if (entry_parse(line, strlen(line), &e) == -1)
		tap_diag("entry_parse '%s': %s", line, err_get());
	return e;
}

static void
test_classify(void)
{
	struct {
		const char *a, *b;
		int want;
		const char *title;
	} cases[] = {
		{ "f 0644 3 10 " H1 " x", "f 0644 3 10 " H1 " x", CHANGE_NONE,
		    "identical entries are no change" },
		{ "f 0644 3 10 " H1 " x", "f 0644 3 10 " H2 " x", CHANGE_MOD,
		    "a different digest is M" },
		{ "f 0644 3 10 " H1 " x", "f 0755 4 11 " H2 " x", CHANGE_MOD,
		    "content and mode changed together is M, not P" },
		{ "f 0644 3 10 " H1 " x", "f 0600 3 10 " H1 " x", CHANGE_PERM,
		    "only the mode changed is P" },
		{ "f 0644 3 10 " H1 " x", "f 0644 3 11 " H1 " x", CHANGE_PERM,
		    "only the mtime changed is P" },
		{ "f 0644 3 10 " H1 " x", "d 0644 0 10 - x", CHANGE_MOD,
		    "a file become a directory is M" },
		{ "l 0777 1 10 - x -> a", "f 0777 1 10 " H1 " x", CHANGE_MOD,
		    "a link become a file is M" },
		{ "l 0777 1 10 - x -> a", "l 0777 1 10 - x -> b", CHANGE_MOD,
		    "a different link target is M" },
		{ "l 0777 1 10 - x -> a", "l 0777 1 12 - x -> a", CHANGE_PERM,
		    "a link with only a new mtime is P" },
		{ "d 0755 0 10 - x", "d 0700 0 10 - x", CHANGE_PERM,
		    "a directory with a new mode is P" },
		{ "d 0755 0 10 - x", "d 0755 0 10 - x", CHANGE_NONE,
		    "an unchanged directory is no change" },
	};
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct entry a = parse(cases[i].a), b = parse(cases[i].b);

		tap_ok(changes_classify(&a, &b) == cases[i].want, "%s",
		    cases[i].title);
		entry_free(&a);
		entry_free(&b);
	}
}

static const char *old_text = "pkgdist-manifest 1\n"
			      "package p\n"
			      "version 1\n"
			      "d 0755 0 1 - a\n"
			      "f 0644 3 1 " H1 " a/gone\n"
			      "f 0644 3 1 " H1 " a/same\n"
			      "f 0644 3 1 " H1 " b\n"
			      "l 0777 1 1 - c -> x\n"
			      "f 0644 3 1 " H1 " d\n";

static const char *new_text = "pkgdist-manifest 1\n"
			      "package p\n"
			      "version 2\n"
			      "d 0755 0 1 - a\n"
			      "f 0644 3 1 " H1 " a\\040new\n"
			      "f 0644 3 1 " H1 " a/same\n"
			      "f 0644 5 1 " H2 " b\n"
			      "d 0755 0 1 - c\n"
			      "f 0600 3 1 " H1 " d\n"
			      "f 0644 7 1 " H2 " e\n";

static const char *want_list = "A f 0644 3 1 " H1 " a\\040new\n"
			       "D f 0644 3 1 " H1 " a/gone\n"
			       "M f 0644 5 1 " H2 " b\n"
			       "M d 0755 0 1 - c\n"
			       "P f 0600 3 1 " H1 " d\n"
			       "A f 0644 7 1 " H2 " e\n";

static int
write_change(const struct change *c, void *arg)
{
	return change_write(c, arg);
}

static int
stop_at_second(const struct change *c, void *arg)
{
	int *n = arg;

	(void)c;
	if (++*n == 2)
		return err_set("stop here");
	return 0;
}

static void
test_compute(void)
{
	struct manifest a, b;
	struct change_list l;
	struct manifest_reader *ra = NULL, *rb = NULL;
	FILE *fa, *fb, *out;
	char *buf = NULL;
	size_t len = 0;
	long long n;
	int calls = 0;

	manifest_load_buf(old_text, strlen(old_text), "old", &a);
	manifest_load_buf(new_text, strlen(new_text), "new", &b);

	out = open_memstream(&buf, &len);
	n = changes_compute(&a, &b, write_change, out);
	fclose(out);
	tap_ok(n == 6 && buf != NULL && strcmp(buf, want_list) == 0,
	    "changes_compute gives A, D, M, P lines sorted by path, "
	    "showing the old entry only for D");
	if (buf == NULL || strcmp(buf, want_list) != 0)
		tap_diag("got:\n%s", buf ? buf : "(null)");
	free(buf);
	buf = NULL;

	tap_ok(changes_compute(&a, &a, NULL, NULL) == 0,
	    "a manifest has no change against itself");
	tap_ok(changes_compute(&a, &b, stop_at_second, &calls) == -1 &&
		calls == 2 && strcmp(err_get(), "stop here") == 0,
	    "a callback returning -1 stops the walk with its error");

	change_list_init(&l);
	tap_ok(changes_list(&a, &b, &l) == 0 && l.n == 6 &&
		l.v[0].kind == CHANGE_ADD && l.v[0].from == NULL &&
		l.v[1].kind == CHANGE_DEL && l.v[1].to == NULL &&
		l.v[2].from == &a.v[3] && l.v[2].to == &b.v[3],
	    "changes_list borrows the manifests' entries");
	change_list_free(&l);

	fa = fmemopen((void *)(uintptr_t)old_text, strlen(old_text), "r");
	fb = fmemopen((void *)(uintptr_t)new_text, strlen(new_text), "r");
	out = open_memstream(&buf, &len);
	n = -1;
	if (manifest_reader_open(fa, "old", &ra) == 0 &&
	    manifest_reader_open(fb, "new", &rb) == 0)
		n = changes_stream(ra, rb, write_change, out);
	fclose(out);
	tap_ok(n == 6 && buf != NULL && strcmp(buf, want_list) == 0,
	    "changes_stream gives the same list as changes_compute");
	free(buf);
	buf = NULL;
	manifest_reader_close(ra);
	manifest_reader_close(rb);
	fclose(fa);
	fclose(fb);

	/* A broken second input stops the stream with file and line. */
	{
		const char *broken = "pkgdist-manifest 1\nd 0755 0 1 - a\n"
				     "d 0755 0 1 - a\n";

		fa = fmemopen((void *)(uintptr_t)old_text, strlen(old_text),
		    "r");
		fb = fmemopen((void *)(uintptr_t)broken, strlen(broken), "r");
		ra = rb = NULL;
		n = 0;
		if (manifest_reader_open(fa, "old", &ra) == 0 &&
		    manifest_reader_open(fb, "broken", &rb) == 0)
			n = changes_stream(ra, rb, NULL, NULL);
		tap_ok(n == -1 && strncmp(err_get(), "broken:3:", 9) == 0,
		    "a duplicate in a streamed input is an error naming "
		    "file and line (%s)",
		    err_get());
		manifest_reader_close(ra);
		manifest_reader_close(rb);
		fclose(fa);
		fclose(fb);
	}
	manifest_free(&a);
	manifest_free(&b);
}

static void
test_change_file(void)
{
	struct change_file cf;
	struct change_stat st;
	char *buf = NULL;
	size_t len = 0, i;
	FILE *out;
	struct {
		const char *text, *where, *title;
	} bads[] = {
		{ "X f 0644 3 1 " H1 " a\n", "cl:1:", "an unknown kind" },
		{ "A\n", "cl:1:", "a kind without an entry" },
		{ "Af 0644 3 1 " H1 " a\n",
		    "cl:1:", "no space after the kind" },
		{ "A f 0644 3 1 " H1 " b\nD f 0644 3 1 " H1 " a\n",
		    "cl:2:", "paths out of order" },
		{ "A f 0644 3 1 " H1 " b\nD f 0644 3 1 " H1 " b\n",
		    "cl:2:", "a duplicate path" },
		{ "A f 0644 3 1 " H1 " a\nM f 0644 3 1 " H1 " ../b\n",
		    "cl:2:", "a '..' path" },
		{ "A f 0644 3 1 " H1 " a\nM f 0644 3 1 ZZ b\n",
		    "cl:2:", "a bad digest" },
		{ "A f 0644 3 1 " H1 " a", "cl:1:", "a truncated last line" },
	};

	change_file_init(&cf);
	tap_ok(change_file_load_buf(want_list, strlen(want_list), "cl", &cf) ==
		    0 &&
		cf.n == 6 && cf.v[0].kind == 'A' &&
		strcmp(cf.v[0].e.path, "a new") == 0 && cf.v[4].kind == 'P' &&
		cf.v[4].e.mode == 0600,
	    "a written change list parses back "
	    "(%s)",
	    err_get());
	out = open_memstream(&buf, &len);
	for (i = 0; i < cf.n; i++) {
		struct change c = { cf.v[i].kind, NULL, NULL };

		if (c.kind == CHANGE_DEL)
			c.from = &cf.v[i].e;
		else
			c.to = &cf.v[i].e;
		change_write(&c, out);
	}
	fclose(out);
	tap_ok(buf != NULL && strcmp(buf, want_list) == 0,
	    "a parsed change list writes back to the same bytes");
	free(buf);

	change_stat_init(&st);
	for (i = 0; i < cf.n; i++)
		change_stat_add_line(&st, &cf.v[i]);
	tap_ok(st.added == 2 && st.deleted == 1 && st.modified == 2 &&
		st.perms == 1 && st.bytes == 3 + 5 + 7,
	    "--stat counts each kind; bytes are the sizes of added and "
	    "changed files only");
	change_file_free(&cf);

	tap_ok(change_file_load_buf("", 0, "cl", &cf) == 0 && cf.n == 0,
	    "an empty change list is valid (no difference)");

	for (i = 0; i < sizeof(bads) / sizeof(bads[0]); i++) {
		int rc = change_file_load_buf(bads[i].text,
		    strlen(bads[i].text), "cl", &cf);

		tap_ok(rc == -1 && cf.n == 0 &&
			strncmp(err_get(), bads[i].where,
			    strlen(bads[i].where)) == 0,
		    "change list with %s is refused naming %s (%s)",
		    bads[i].title, bads[i].where, err_get());
	}
}

static void
test_stat(void)
{
	struct manifest a, b;
	struct change_stat st;
	struct change_list l;
	char *buf = NULL;
	size_t len = 0, i;
	FILE *out;

	manifest_load_buf(old_text, strlen(old_text), "old", &a);
	manifest_load_buf(new_text, strlen(new_text), "new", &b);
	change_list_init(&l);
	changes_list(&a, &b, &l);
	change_stat_init(&st);
	for (i = 0; i < l.n; i++)
		change_stat_add(&st, &l.v[i]);
	out = open_memstream(&buf, &len);
	change_stat_write(&st, out);
	fclose(out);
	tap_ok(buf != NULL &&
		strcmp(buf,
		    "added 2\ndeleted 1\nmodified 2\n"
		    "metadata 1\nbytes 15\n") == 0,
	    "--stat prints added, deleted, "
	    "modified, metadata and bytes lines (a directory that replaced a "
	    "link transfers no bytes)");
	free(buf);
	change_list_free(&l);
	manifest_free(&a);
	manifest_free(&b);
}

int
main(void)
{
	test_classify();
	test_compute();
	test_change_file();
	test_stat();
	return tap_done();
}
