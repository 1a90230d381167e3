/*
 * test_targets.c — the target rule and the reach rule (targets.h) and
 * the holdings lookup, on a real store and real DP directories: the
 * union of --dp, --group, --all and --refresh-existing narrowed by
 * --only, records of a failed first push, DPs recorded but not listed;
 * a DP that lost its .pkgdist/, --reinit, and the mount rule.
 */
#include <sys/stat.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "dp.h"
#include "dplist.h"
#include "err.h"
#include "store.h"
#include "tap.h"
#include "targets.h"

static char top[256], sdir[300];

static int
record(struct store *s, const char *pkg, const char *dp, uint64_t version,
    uint64_t wanted, enum store_hold_state st)
{
	struct store_holding h;

	memset(&h, 0, sizeof(h));
	snprintf(h.dp, sizeof(h.dp), "%s", dp);
	h.version = version;
	h.wanted = wanted;
	h.state = st;
	return store_holding_record(s, pkg, &h);
}

/* The names of the targets want[] picks from l, as "a,b,c". */
static const char *
picked(const struct dplist *l, const bool *want)
{
	static char buf[256];
	size_t i;

	buf[0] = '\0';
	for (i = 0; i < l->n; i++)
		if (want[i]) {
			if (buf[0] != '\0')
				strcat(buf, ",");
			strcat(buf, l->v[i].name);
		}
	return buf;
}

static void
test_select(struct store *s, const struct dplist *l)
{
	static const char *const dp2[] = { "dp2" }, *const g2[] = { "g2" },
				 *const only[] = { "dp1", "dp4" },
				 *const nosuch[] = { "nope" };
	struct targets_sel sel;
	struct store_holding h;
	bool want[8];
	char **stray;
	size_t n, ns;

	memset(&sel, 0, sizeof(sel));
	sel.dps = nosuch;
	sel.ndps = 1;
	tap_ok(targets_check(l, &sel) == -1 &&
		strcmp(err_get(), "--dp: unknown DP 'nope'") == 0,
	    "an unknown --dp is refused: %s", err_get());
	memset(&sel, 0, sizeof(sel));
	sel.groups = nosuch;
	sel.ngroups = 1;
	tap_ok(targets_check(l, &sel) == -1 &&
		strcmp(err_get(), "--group: unknown group 'nope'") == 0,
	    "an unknown --group is refused");
	memset(&sel, 0, sizeof(sel));
	sel.only = nosuch;
	sel.nonly = 1;
	tap_ok(targets_check(l, &sel) == -1 &&
		strcmp(err_get(), "--only: unknown DP 'nope'") == 0,
	    "an unknown --only is refused");

	memset(&sel, 0, sizeof(sel));
	tap_ok(targets_select(s, "pkg", l, &sel, want, &n, NULL, NULL) == 0 &&
		n == 0,
	    "nothing named: no target");
	sel.dps = dp2;
	sel.ndps = 1;
	tap_ok(targets_select(s, "pkg", l, &sel, want, &n, NULL, NULL) == 0 &&
		n == 1 && strcmp(picked(l, want), "dp2") == 0,
	    "--dp dp2: only dp2 (F4)");
	sel.groups = g2;
	sel.ngroups = 1;
	tap_ok(targets_select(s, "pkg", l, &sel, want, &n, NULL, NULL) == 0 &&
		n == 3 && strcmp(picked(l, want), "dp2,dp3,dp4") == 0,
	    "--dp and --group: the union, in DP list order: %s",
	    picked(l, want));

	/* dp1 holds 1; dp3's first push failed; dp5 is not listed. */
	record(s, "pkg", "dp1", 1, 1, STORE_HOLD_COMPLETE);
	record(s, "pkg", "dp3", 0, 2, STORE_HOLD_FAILED);
	record(s, "pkg", "dp5", 1, 1, STORE_HOLD_COMPLETE);
	record(s, "pkg", "dp4", 0, 0, STORE_HOLD_FAILED);
	memset(&sel, 0, sizeof(sel));
	sel.refresh = true;
	tap_ok(targets_select(s, "pkg", l, &sel, want, &n, &stray, &ns) == 0 &&
		n == 2 && strcmp(picked(l, want), "dp1,dp3") == 0 && ns == 1 &&
		strcmp(stray[0], "dp5") == 0,
	    "--refresh-existing: held, and being brought to (a failed first "
	    "push); a recorded DP not in the list is named: %s",
	    picked(l, want));
	store_strings_free(stray, ns);
	sel.only = only;
	sel.nonly = 2;
	sel.all = true;
	tap_ok(targets_select(s, "pkg", l, &sel, want, &n, &stray, &ns) == 0 &&
		n == 2 && strcmp(picked(l, want), "dp1,dp4") == 0 && ns == 0,
	    "--only narrows the union (and the stray DPs)");
	store_strings_free(stray, ns);

	tap_ok(store_holding_find(s, "pkg", "dp3", &h) == 1 && h.version == 0 &&
		h.wanted == 2 && h.state == STORE_HOLD_FAILED,
	    "store_holding_find: the record of dp3");
	tap_ok(store_holding_find(s, "pkg", "dp2", &h) == 0 && h.dp[0] == '\0',
	    "store_holding_find: none for dp2");
	tap_ok(store_holding_find(s, "other", "dp1", &h) == 0,
	    "store_holding_find: none for a package without records");
}

static void
test_open(struct store *s, const struct dplist *l)
{
	struct dp_handle h = { -1, -1, -1, NULL };
	const struct dp *dp1 = dplist_find(l, "dp1"),
			*dp2 = dplist_find(l, "dp2");
	char meta[400];
	struct stat st;

	/* dp1 is recorded holding pkg 1 (above) and has no .pkgdist. */
	tap_ok(targets_open(s, dp1, "pkg", true, false, &h) == -1 &&
		strstr(err_get(),
		    "no .pkgdist/ there, but the store records "
		    "dp1 holding pkg 1: the share looks unmounted") != NULL &&
		h.rootfd == -1,
	    "a recorded DP without .pkgdist/: unreachable: %s", err_get());
	snprintf(meta, sizeof(meta), "%s/dp1/.pkgdist", top);
	tap_ok(stat(meta, &st) == -1, "... and nothing was created there");
	tap_ok(targets_open(s, dp1, "new", true, false, &h) == -1 &&
		strstr(err_get(), "holding pkg 1") != NULL,
	    "a package new to it too: the share is the same");
	tap_ok(targets_open(s, dp1, "pkg", true, true, &h) == 0 &&
		h.metafd != -1 && stat(meta, &st) == 0,
	    "--reinit: opened, .pkgdist/ made");
	dp_close(&h);
	tap_ok(targets_open(s, dp1, "pkg", true, false, &h) == 0,
	    "then it opens as any DP");
	dp_close(&h);
	tap_ok(targets_open(s, dp2, "pkg", false, false, &h) == 0 &&
		h.metafd == -1,
	    "a DP with no record and no .pkgdist/: a new DP");
	tap_ok(targets_mount_point(&h) == 0,
	    "a plain directory is not a mount point");
	dp_close(&h);
	if (dp_open("/", false, &h) == 0) {
		tap_ok(targets_mount_point(&h) == 1, "/ is a mount point");
		dp_close(&h);
	}
}

static void
test_mount_rule(const struct dplist *l)
{
	struct store *s = NULL;
	struct dp_handle h = { -1, -1, -1, NULL };
	char path[400];
	FILE *fp;

	snprintf(path, sizeof(path), "%s/config", sdir);
	if ((fp = fopen(path, "w")) == NULL)
		return;
	fputs("mount g2\n", fp);
	fclose(fp);
	if (store_open(sdir, 0, &s) == -1) {
		tap_diag("%s", err_get());
		return;
	}
	tap_ok(targets_open(s, dplist_find(l, "dp3"), "pkg", true, false, &h) ==
		    -1 &&
		strstr(err_get(), "not a mount point, and") != NULL &&
		strstr(err_get(), "says 'mount' for dp3") != NULL,
	    "'mount GROUP': a member that is not a mount point is "
	    "unreachable: %s",
	    err_get());
	snprintf(path, sizeof(path), "%s/dp3/.pkgdist", top);
	tap_ok(access(path, F_OK) == -1, "... nothing made there");
	tap_ok(targets_open(s, dplist_find(l, "dp1"), "pkg", true, false, &h) ==
		0,
	    "a DP of another group is not concerned");
	dp_close(&h);
	store_close(s);
}

int
main(void)
{
	struct store *s = NULL;
	struct dplist l;
	char text[2048], d[400];
	const char *tmp = getenv("TMPDIR");
	int i;

	snprintf(top, sizeof(top), "%s/test_targets.XXXXXX",
	    tmp ? tmp : "/tmp");
	if (mkdtemp(top) == NULL)
		return 1;
	snprintf(sdir, sizeof(sdir), "%s/store", top);
	for (i = 1; i <= 4; i++) {
		snprintf(d, sizeof(d), "%s/dp%d", top, i);
		mkdir(d, 0755);
	}
	snprintf(text, sizeof(text),
	    "dp1 g1 %s/dp1\ndp2 g2 %s/dp2\n"
	    "dp3 g2 %s/dp3\ndp4 g2 %s/dp4\n",
	    top, top, top, top);
	if (dplist_load_buf(text, strlen(text), "dps", &l) == -1 ||
	    store_open(sdir, STORE_CREATE, &s) == -1) {
		tap_diag("%s", err_get());
		return 1;
	}
	test_select(s, &l);
	test_open(s, &l);
	store_close(s);
	test_mount_rule(&l);
	dplist_free(&l);
	snprintf(text, sizeof(text), "rm -rf '%s'", top);
	if (system(text) != 0)
		tap_diag("cannot remove %s", top);
	return tap_done();
}
