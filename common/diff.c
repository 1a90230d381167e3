/*
 * diff.c — the change list between two sides (diff.h).
 */
#include <sys/types.h>
#include <sys/stat.h>

#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "atomic.h"
#include "diff.h"
#include "err.h"
#include "mdelta.h"
#include "progress.h"
#include "scan.h"
#include "statcache.h"

int
diff_scan(const char *dir, int jobs, const struct manifest *reuse,
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

/* A side is a directory when it names one (links followed, as the user
 * typed it); anything else is a manifest ("-": stdin). */
static bool
is_dir(const char *path)
{
	struct stat st;

	return strcmp(path, "-") != 0 && stat(path, &st) == 0 &&
	    S_ISDIR(st.st_mode);
}

struct out_ctx {
	FILE *fp;
	struct change_stat *st; /* NULL: write the changes */
};

static int
out_change(const struct change *c, void *arg)
{
	struct out_ctx *x = arg;

	if (x->st != NULL) {
		change_stat_add(x->st, c);
		return 0;
	}
	return change_write(c, x->fp);
}

/* Load a side: scan a directory, or parse a manifest. */
static int
load_side(const char *path, int jobs, struct manifest *m)
{
	if (is_dir(path))
		return diff_scan(path, jobs, NULL, NULL, m);
	return mdelta_load_path(path, m);
}

/* Copy the spilled change list to out. */
static int
copy_out(FILE *spill, FILE *out)
{
	char buf[65536];
	size_t n;

	if (fflush(spill) == EOF || fseeko(spill, 0, SEEK_SET) == -1)
		return err_sys("cannot read back the change list");
	while ((n = fread(buf, 1, sizeof(buf), spill)) > 0)
		if (fwrite(buf, 1, n, out) != n)
			return err_sys("cannot write standard output");
	if (ferror(spill))
		return err_sys("cannot read back the change list");
	return 0;
}

/* Two manifest files: streamed, the change list spilled (diff.h). */
static int
diff_stream(const char *a, const char *b, struct out_ctx *x, long long *count)
{
	FILE *fa = NULL, *fb = NULL, *spill = NULL, *out = x->fp;
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
	if (x->st == NULL && (spill = tmpfile()) != NULL) {
		if ((spillbuf = malloc(1 << 20)) != NULL)
			setvbuf(spill, spillbuf, _IOFBF, 1 << 20);
		x->fp = spill;
	}
	if ((*count = changes_stream(ra, rb, out_change, x)) == -1)
		goto out;
	if (spill != NULL && copy_out(spill, out) == -1)
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

int
diff_sides(const char *a, const char *b, int jobs, FILE *out,
    struct change_stat *st, long long *n)
{
	struct manifest ma, mb;
	struct out_ctx x = { out, st };
	int rc = -1;

	*n = 0;
	/* A delta file (a DP's state manifest) is read whole, with its
	 * base, instead of streamed. */
	if (!is_dir(a) && !is_dir(b) && !mdelta_path_is_delta(a) &&
	    !mdelta_path_is_delta(b))
		return diff_stream(a, b, &x, n);
	manifest_init(&ma);
	manifest_init(&mb);
	if (load_side(a, jobs, &ma) == -1 || load_side(b, jobs, &mb) == -1 ||
	    (*n = changes_compute(&ma, &mb, out_change, &x)) == -1)
		goto out;
	rc = 0;
out:
	manifest_free(&ma);
	manifest_free(&mb);
	return rc;
}

int
diff_verify(const char *manifest, const char *dir, int jobs, const char *cache,
    bool deep, void (*cache_note)(const char *why), FILE *out, long long *n)
{
	struct manifest want, have;
	struct statcache sc;
	struct out_ctx x = { out, NULL };
	char shown[PATH_SHOW_LEN], base[NAME_MAX + 1];
	int cfd = -1, rc = -1;

	manifest_init(&want);
	manifest_init(&have);
	statcache_init(&sc, &want, deep);
	if (mdelta_load_path(manifest, &want) == -1)
		goto out;
	if (!is_dir(dir)) {
		err_set("'%s': not a directory",
		    path_show(dir, shown, sizeof(shown)));
		goto out;
	}
	if (cache != NULL) {
		if ((cfd = atomic_open_parent(cache, base, sizeof(base))) == -1)
			goto out;
		path_show(cache, shown, sizeof(shown));
		if (!deep && statcache_load(&sc, cfd, base, shown) == -1 &&
		    cache_note != NULL)
			cache_note(err_get());
	}
	if (diff_scan(dir, jobs, NULL, cache != NULL ? &sc : NULL, &have) ==
		-1 ||
	    (*n = changes_compute(&want, &have, out_change, &x)) == -1)
		goto out;
	if (cache != NULL && statcache_save(&sc, &have, cfd, base) == -1)
		goto out;
	rc = 0;
out:
	statcache_free(&sc);
	if (cfd != -1)
		close(cfd);
	manifest_free(&want);
	manifest_free(&have);
	return rc;
}
