/*
 * test_changes_apply.c — changes_apply() (changes.h): a change list
 * applied to the manifest it was computed from gives the new manifest
 * exactly (what pkgpush --serve rebuilds from a change list), and a list
 * that does not fit the manifest is refused naming the path.
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

static int
load(const char *text, struct manifest *m)
{
	return manifest_load_buf(text, strlen(text), "test", m);
}

static char *
render(const struct manifest *m)
{
	char *buf;
	size_t len;

	if (manifest_write_mem(m, &buf, &len) == -1)
		abort();
	return buf;
}

static const char *OLD = "pkgdist-manifest 1\n"
			 "d 0755 0 10 - a\n"
			 "f 0644 3 10 " H1 " a/keep\n"
			 "f 0644 3 10 " H1 " a/mod\n"
			 "f 0644 3 10 " H1 " a/perm\n"
			 "d 0755 0 10 - gone\n"
			 "f 0644 3 10 " H1 " gone/x\n"
			 "l 0777 6 10 - link -> a/keep\n";

static const char *NEW = "pkgdist-manifest 1\n"
			 "d 0755 0 10 - a\n"
			 "f 0644 3 10 " H1 " a/keep\n"
			 "f 0644 5 11 " H2 " a/mod\n"
			 "f 0600 3 12 " H1 " a/perm\n"
			 "f 0644 3 10 " H2 " added\n"
			 "l 0777 5 10 - link -> a/mod\n";

/* The change list from a to b, rendered and parsed back. */
static int
changes_of(const struct manifest *a, const struct manifest *b,
    struct change_file *cf)
{
	struct change_list cl;
	char *buf = NULL;
	size_t len = 0, i;
	FILE *fp;
	int rc;

	change_list_init(&cl);
	if (changes_list(a, b, &cl) == -1 ||
	    (fp = open_memstream(&buf, &len)) == NULL)
		abort();
	for (i = 0; i < cl.n; i++)
		change_write(&cl.v[i], fp);
	fclose(fp);
	change_list_free(&cl);
	rc = change_file_load_buf(buf, len, "changes", cf);
	free(buf);
	return rc;
}

/* The one-line list refused against the manifest text from (applying
 * uses up its base, so each case loads its own). */
static void
refused(const char *from, const char *list, const char *want, const char *title)
{
	struct change_file cf;
	struct manifest base, out;
	size_t bad = 99;

	change_file_init(&cf);
	if (load(from, &base) == -1 ||
	    change_file_load_buf(list, strlen(list), "changes", &cf) == -1) {
		tap_ok(0, "%s: the inputs parse: %s", title, err_get());
		return;
	}
	tap_ok(changes_apply(&base, &cf, &out, "v1", &bad) == -1 &&
		strstr(err_get(), want) != NULL && out.n == 0 && bad == 0,
	    "%s: %s", title, err_get());
	manifest_free(&base);
	change_file_free(&cf);
}

int
main(void)
{
	struct manifest a, b, out;
	struct change_file cf;
	char *ra, *rb;
	int k;

	manifest_init(&a);
	manifest_init(&b);
	change_file_init(&cf);
	if (load(OLD, &a) == -1 || load(NEW, &b) == -1)
		tap_diag("load: %s", err_get());
	k = changes_of(&a, &b, &cf);
	tap_ok(k == 0 && cf.n == 6, "the change list parses back (%zu lines)",
	    cf.n);
	tap_ok(changes_apply(&a, &cf, &out, "v1", NULL) == 0, "it applies: %s",
	    err_get());
	ra = render(&out);
	rb = render(&b);
	tap_ok(strcmp(ra, rb) == 0,
	    "the result renders to the new manifest's bytes");
	free(ra);
	free(rb);
	manifest_free(&out);
	change_file_free(&cf);

	refused(OLD, "A f 0644 3 10 " H1 " a/keep\n", "already",
	    "an addition of a path that is there is refused");
	refused(OLD, "M f 0644 3 10 " H1 " nothere\n",
	    "'M nothere' does "
	    "not apply to 'v1': the base lacks the path",
	    "a change of a path that is not there is refused");
	refused(OLD, "A f 0644 3 10 " H1 " a/keep/under\n", "a/keep",
	    "a result with a path through a file is refused");
	manifest_free(&a);
	manifest_free(&b);
	return tap_done();
}
