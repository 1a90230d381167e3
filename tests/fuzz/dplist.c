/*
 * Harness: the DP list parser (dplist_load_buf) on arbitrary bytes.
 * fuzz-needs: common/dplist.c common/manifest.c
 *
 * Promises checked: every DP of an accepted list has valid, distinct
 * names and a valid group, dplist_find() finds it, its TARGET text
 * unescapes and parses again to the same target, and it can be named
 * in a message; a refused list is left empty and says why.
 */
#include <stdlib.h>
#include <string.h>

#include "dplist.h"
#include "manifest.h"
#include "fuzz.h"
#include "path.h"

static int
streq(const char *a, const char *b)
{
	if (a == NULL || b == NULL)
		return a == b;
	return strcmp(a, b) == 0;
}

static void
check_dp(const struct dplist *l, const struct dp *dp)
{
	struct dp_target t;
	char *text, *s;

	if (!name_valid(dp->name) || !name_valid(dp->group))
		fuzz_fail("accepted DP with an invalid name or group");
	if (dplist_find(l, dp->name) != dp)
		fuzz_fail("dplist_find does not find an accepted DP");
	if (!dplist_has_group(l, dp->group))
		fuzz_fail("dplist_has_group misses an accepted group");
	if (dp->target.path == NULL || dp->target.path[0] != '/')
		fuzz_fail("accepted target path is not absolute");
	if (dp->target.kind == DP_SSH &&
	    (dp->target.host == NULL || dp->target.host[0] == '-' ||
		dp->target.host[0] == '\0' ||
		(dp->target.user != NULL && dp->target.user[0] == '-') ||
		dp->target.port > 65535))
		fuzz_fail("accepted ssh target could be taken for an option");
	if (path_unescape(dp->target_text, strlen(dp->target_text), &text) ==
	    -1)
		fuzz_fail("accepted TARGET text does not unescape");
	if (dplist_target_parse(text, &t) == -1)
		fuzz_fail("accepted TARGET does not parse again");
	if (t.kind != dp->target.kind || t.port != dp->target.port ||
	    !streq(t.path, dp->target.path) ||
	    !streq(t.host, dp->target.host) || !streq(t.user, dp->target.user))
		fuzz_fail("TARGET parses to another target the second time");
	if ((s = dplist_target_string(&t)) == NULL)
		fuzz_fail("no description for an accepted target");
	free(s);
	dplist_target_free(&t);
	free(text);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct dplist l;
	size_t i, k;

	dplist_init(&l);
	if (dplist_load_buf((const char *)data, size, "dps", &l) == -1) {
		fuzz_check_err();
		if (l.n != 0)
			fuzz_fail("refused list not left empty");
		dplist_free(&l);
		return 0;
	}
	for (i = 0; i < l.n; i++) {
		check_dp(&l, &l.v[i]);
		for (k = 0; k < i; k++)
			if (strcmp(l.v[k].name, l.v[i].name) == 0)
				fuzz_fail("accepted list names a DP twice");
	}
	dplist_free(&l);
	return 0;
}
