/*
 * test_dptree.c — an atomic DP's tree names ("vN.K", "vN.K.manifest"):
 * one parser, strict; the order in which trees were live.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "dp.h"
#include "tap.h"

int
main(void)
{
	char t[DP_TREE_MAX], m[DP_TREE_MAX + sizeof(DP_TREE_MANIFEST)];
	struct dp_state s;
	uint64_t v = 0;
	unsigned k = 0;

	tap_ok(dp_tree_parse("v12.3", &v, &k) == 0 && v == 12 && k == 3,
	    "v12.3 is version 12, tree 3");
	tap_ok(dp_tree_parse("v18446744073709551615.1", &v, &k) == 0 &&
		v == UINT64_MAX,
	    "the largest version is a tree name");
	tap_ok(dp_tree_parse("v18446744073709551616.1", &v, &k) == -1,
	    "a version past 2^64-1 is refused, not wrapped");
	tap_ok(dp_tree_parse("v1.4294967296", &v, &k) == -1,
	    "a K past UINT_MAX is refused");
	tap_ok(dp_tree_parse("v1.0", NULL, NULL) == -1, "K 0 is refused");
	tap_ok(dp_tree_parse("v01.1", NULL, NULL) == -1 &&
		dp_tree_parse("v1.01", NULL, NULL) == -1,
	    "a leading zero is refused");
	tap_ok(dp_tree_parse("v1.2.3", NULL, NULL) == -1 &&
		dp_tree_parse("v1..2", NULL, NULL) == -1 &&
		dp_tree_parse("v.1", NULL, NULL) == -1 &&
		dp_tree_parse("v1.", NULL, NULL) == -1 &&
		dp_tree_parse("v1", NULL, NULL) == -1 &&
		dp_tree_parse("1.1", NULL, NULL) == -1 &&
		dp_tree_parse("v1.1/", NULL, NULL) == -1 &&
		dp_tree_parse("v-1.1", NULL, NULL) == -1 &&
		dp_tree_parse("", NULL, NULL) == -1,
	    "anything else is refused");
	tap_ok(dp_tree_manifest("v3.2.manifest", t) == 0 &&
		strcmp(t, "v3.2") == 0,
	    "v3.2.manifest is the manifest of v3.2");
	tap_ok(dp_tree_manifest(".manifest", t) == -1 &&
		dp_tree_manifest("v3.2.manifestx", t) == -1 &&
		dp_tree_manifest("base.3.2.manifest", t) == -1 &&
		dp_tree_manifest("manifest", t) == -1,
	    "other names are not tree manifests");
	dp_tree_manifest_name("v7.1", m);
	tap_ok(strcmp(m, "v7.1.manifest") == 0, "the manifest's name is built");

	dp_state_init(&s);
	snprintf(s.tree, sizeof(s.tree), "v1.1");
	tap_ok(dp_state_lived(&s, 0, t) == 0, "no record: no tree known live");
	tap_ok(dp_state_make_live(&s, "v2.1") == 0 &&
		strcmp(s.tree, "v2.1") == 0 && strcmp(s.lived, "v1.1") == 0,
	    "the tree live until now goes first");
	tap_ok(dp_state_make_live(&s, "v3.1") == 0 &&
		strcmp(s.lived, "v2.1 v1.1") == 0,
	    "most recently live first");
	tap_ok(dp_state_make_live(&s, "v1.1") == 0 &&
		strcmp(s.tree, "v1.1") == 0 &&
		strcmp(s.lived, "v3.1 v2.1") == 0,
	    "a rollback moves the tree from the list to current");
	tap_ok(dp_state_lived(&s, 1, t) == 1 && strcmp(t, "v2.1") == 0 &&
		dp_state_lived(&s, 2, t) == 0,
	    "the list is read in order");
	tap_ok(dp_state_make_live(&s, "v1.1") == 0 &&
		strcmp(s.lived, "v3.1 v2.1") == 0,
	    "making the current tree live changes nothing");
	dp_state_free(&s);
	return tap_done();
}
