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

@test "hostile manifests: pkgstage add --manifest refuses every one, exit 2, store unchanged, nothing read or written outside" {
	need_tool pkgstage
	chk_sentinel "$T/sentinel"
	hostile_src "$T/src" "$T/sentinel"
	mkdir -p "$T/ok"
	printf 'ok\n' >"$T/ok/f"
	pkgstage add hostile "$T/ok" >/dev/null
	local before n=0 name src
	before=$(hostile_store_state)
	for name in $(hostile_manifests "$T/m" "$T/sentinel"); do
		src=$T/src
		[ "$name" != through-link ] || src=$T/src.link
		run pkgstage add --manifest "$T/m/$name.manifest" hostile "$src"
		[ "$status" -eq 2 ] || { echo "$name: exit $status: $output" >&2; return 1; }
		expect_output_has "pkgstage: "
		[ "$(hostile_store_state)" = "$before" ] ||
		    { echo "$name: the store changed" >&2; return 1; }
		n=$((n + 1))
	done
	chk_fsck
	[ "$(chk_versions hostile)" = 1 ]
	chk_outside_same "$T/sentinel"
	hostile_record pkgstage-add-manifests "$n"
}

@test "hostile manifests: a package file carrying any of them is refused by import, exit 2, store unchanged" {
	need_tool pkgstage
	chk_sentinel "$T/sentinel"
	printf 'hi\n' >"$T/hi"
	mkdir -p "$T/ok"
	printf 'ok\n' >"$T/ok/f"
	pkgstage add hostile "$T/ok" >/dev/null
	local before n=0 name
	before=$(hostile_store_state)
	for name in $(hostile_manifests "$T/m" "$T/sentinel"); do
		# version 2, so a refusal is not "already present"
		sed 's/^version 1$/version 2/' "$T/m/$name.manifest" >"$T/m2"
		"$MKPACK" "$T/m2" "$T/hi" >"$T/$name.pack"
		run pkgstage import "$T/$name.pack"
		[ "$status" -eq 2 ] || { echo "$name: exit $status: $output" >&2; return 1; }
		expect_output_has "pkgstage: "
		[ "$(hostile_store_state)" = "$before" ] ||
		    { echo "$name: the store changed" >&2; return 1; }
		n=$((n + 1))
	done
	chk_fsck
	[ "$(chk_versions hostile)" = 1 ]
	chk_outside_same "$T/sentinel"
	hostile_record pkgstage-import-manifests "$n"
}

@test "hostile package files: lying lengths, counts, sizes, names and checksums are refused before anything is allocated or stored" {
	need_tool pkgstage
	chk_sentinel "$T/sentinel"
	printf 'hi\n' >"$T/hi"
	printf 'pkgdist-manifest 1\npackage pkg\nversion 1\nf 0644 3 1700000000 %s a\n' \
	    "$HOSTILE_DIGEST" >"$T/m"
	# The honest file is accepted (into another store): the cases
	# below differ from it only where they lie.
	"$MKPACK" "$T/m" "$T/hi" >"$T/ok.pack"
	PKGDIST_STORE=$T/other pkgstage import "$T/ok.pack" >/dev/null
	mkdir -p "$T/ok"
	printf 'ok\n' >"$T/ok/f"
	pkgstage add other "$T/ok" >/dev/null
	local before n=0 c opts
	before=$(hostile_store_state)
	while IFS='|' read -r c opts; do
		[ -n "$c" ] || continue
		# shellcheck disable=SC2086 # options split on purpose
		"$MKPACK" $opts "$T/m" "$T/hi" >"$T/$c.pack"
		run pkgstage import "$T/$c.pack"
		[ "$status" -eq 2 ] || { echo "$c: exit $status: $output" >&2; return 1; }
		expect_output_has "pkgstage: "
		[ "$(hostile_store_state)" = "$before" ] ||
		    { echo "$c: the store changed" >&2; return 1; }
		n=$((n + 1))
	done <<'CASES'
manifest-len-2^60|--manifest-len 1152921504606846976
manifest-stored-2^60|--manifest-stored 1152921504606846976
manifest-len-short|--manifest-len 10
count-2^40|--count 1099511627776
count-2^64-1|--count 18446744073709551615
count-0|--count 0
content-size-2^60|--size 1152921504606846976
content-size-off-by-one|--size 4
stored-2^60|--stored 1152921504606846976
stored-short|--stored 2
siglen-2^31|--siglen 2147483648
bad-trailer|--bad-trailer
no-trailer|--no-trailer
name-dotdot|--package ../../sentinel
name-slash|--package a/b
name-dot|--package .hidden
name-mismatch|--package other
version-0|--version 0
version-mismatch|--version 7
format-2|--format 2
flags-1|--flags 1
base-missing|--base 5
CASES
	# Truncated anywhere: every prefix of a few lengths.
	local len size
	size=$(stat -c %s "$T/ok.pack")
	for len in 0 7 8 20 40 60 $((size / 2)) $((size - 33)) $((size - 1)); do
		head -c "$len" "$T/ok.pack" >"$T/trunc.pack"
		run pkgstage import "$T/trunc.pack"
		[ "$status" -eq 2 ] || { echo "truncated at $len: exit $status: $output" >&2; return 1; }
		n=$((n + 1))
	done
	# Garbage after the trailer.
	{ cat "$T/ok.pack"; printf 'x'; } >"$T/tail.pack"
	run pkgstage import "$T/tail.pack"
	expect_status 2
	n=$((n + 1))
	chk_fsck
	[ "$(chk_versions pkg)" = "" ]
	[ ! -e "$PKGDIST_STORE/packages/pkg/v" ] || [ -z "$(ls "$PKGDIST_STORE/packages/pkg/v")" ]
	chk_outside_same "$T/sentinel"
	hostile_record pkgstage-import-packfiles "$n"
}
