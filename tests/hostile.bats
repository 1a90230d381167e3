#!/usr/bin/env bats
# Hostile input: manifests, package files, DPs with planted links, DP
# lists and retry jobs crafted to break out of the store or a DP.  Each
# is refused with a message, and a sentinel directory outside (what an
# attacker would aim at) keeps every name, inode, link count, mode, size
# and time (tests/torture/checks.bash chk_outside_same).

load lib/common
load torture/torture
load torture/checks
load hostile/hostile

need_tool()
{
	local t
	for t in "$@"; do
		[ -x "$PKGDIST_BIN/$t" ] || skip "$t is not built yet"
	done
}

@test "hostile manifests: pkgdiff verify and diff refuse every broken rule with FILE:LINE, exit 2" {
	chk_sentinel "$T/sentinel"
	hostile_src "$T/src" "$T/sentinel"
	local n=0 name
	for name in $(hostile_manifests "$T/m" "$T/sentinel"); do
		[ "$name" != huge-size ] || continue	# a size is no rule
		run pkgdiff verify "$T/m/$name.manifest" "$T/src"
		expect_status 2
		expect_output_has "pkgdiff: $T/m/$name.manifest:"
		run pkgdiff diff "$T/m/$name.manifest" "$T/src"
		expect_status 2
		expect_output_has "$name.manifest:"
		run pkgdiff scan --reuse "$T/m/$name.manifest" "$T/src"
		expect_status 2
		expect_output_has "$name.manifest:"
		n=$((n + 3))
	done
	chk_outside_same "$T/sentinel"
	hostile_record pkgdiff-manifests "$n"
}
