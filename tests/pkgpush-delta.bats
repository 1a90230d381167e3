#!/usr/bin/env bats
# pkgpush: the DP's state manifests as deltas against a full base
# (mdelta.h, pkgmanifest(5) DELTA FILES): a refresh writes state in
# proportion to what changed, in both layouts; a base is written anew
# when the delta grows; kept trees stay loadable; a damaged or planted
# delta or base is refused by name and --verify rebuilds it.

load lib/common
load lib/pkgpush

# bigtree DIR TAG CHANGED [N]: 2N files (default 400) in two directories;
# files a/f1 .. a/fCHANGED say "version TAG", the others are the same in
# every version.
bigtree()
{
	local d=$1 n=$2 changed=$3 files=${4:-200} i
	rm -rf "$d"
	mkdir -p "$d/a" "$d/b"
	for ((i = 1; i <= files; i++)); do
		if ((i <= changed)); then
			printf 'version %s a%s\n' "$n" "$i" >"$d/a/f$i"
		else
			printf 'same a%s\n' "$i" >"$d/a/f$i"
		fi
		printf 'same b%s\n' "$i" >"$d/b/f$i"
	done
	touch -d @1600000000 "$d"/a/* "$d"/b/*
	find "$d" -type f -exec chmod 0444 {} +
	find "$d" -type d -exec chmod 0755 {} +
	touch -d @1600000000 "$d/a" "$d/b"
}

setup()
{
	common_setup
	mkdir -p "$PKGDIST_STORE"
	dps dp1 dp2
	M=$T/dp1/.pkgdist/office
}

# size FILE
size()
{
	stat -c %s "$1"
}

# delta_of FILE: the base a delta file names ("" for a full manifest).
delta_of()
{
	awk 'NR == 1 && $0 != "pkgdist-manifest-delta 1" { exit }
	    NR == 2 { print $2; exit }' "$1"
}

# cur FILE: the delta file of what dp1 holds: atomic, the manifest of the
# tree DP/office links to (DP/.pkgdist/office/manifest is a pointer to
# it); in place, DP/.pkgdist/office/manifest itself.
cur()
{
	if [ -L "$T/dp1/office" ]; then
		echo "$M/$(basename "$(readlink "$T/dp1/office")").manifest"
	else
		echo "$M/manifest"
	fi
}

# stage_big TAG CHANGED [N]: stage bigtree TAG CHANGED N as the next
# version.
stage_big()
{
	bigtree "$T/src" "$1" "$2" "${3:-200}"
	stage "$T/src"
}

# state_of_report: the report's "T bytes written (C content, S state)"
# adds up; prints S.
state_of_report()
{
	local line t c s
	line=$(printf '%s\n' "$output" | grep -E 'bytes written \([0-9]+ content, [0-9]+ state\)') ||
	    { echo "no bytes line in: $output" >&2; return 1; }
	t=$(printf '%s\n' "$line" | sed -E 's/.* ([0-9]+) bytes written.*/\1/')
	c=$(printf '%s\n' "$line" | sed -E 's/.*\(([0-9]+) content.*/\1/')
	s=$(printf '%s\n' "$line" | sed -E 's/.* ([0-9]+) state\).*/\1/')
	[ "$t" -eq $((c + s)) ] || { echo "$t != $c + $s" >&2; return 1; }
	echo "$s"
}

@test "pkgpush delta: an atomic refresh of a big package writes a small delta, not a full manifest; pkgdiff verify reads it" {
	stage_big 1 0
	stage_big 2 3
	pkgpush --dp dp1 --version 1 office >/dev/null
	base=$(delta_of "$M/v1.1.manifest")
	[[ "$base" == base.1.* ]]
	[ "$(size "$M/$base")" -gt 20000 ]
	run pkgpush --dp dp1 office
	expect_status 0
	state=$(state_of_report)
	# The delta: 3 change lines and a header, beside a base of 400.
	[ "$(delta_of "$M/v2.1.manifest")" = "$base" ]
	[ "$(size "$M/v2.1.manifest")" -lt 1000 ]
	grep -qx 'changes 3' "$M/v2.1.manifest"
	[ "$(ls "$M" | grep -c '^base\.')" -eq 1 ]
	# Every byte of state counted: the delta and the state record.
	[ "$state" -eq $(($(size "$M/v2.1.manifest") + $(size "$M/state"))) ]
	# DP/.pkgdist/office/manifest stands for the manifest of the tree
	# DP/office links to (one rename switches both).
	[ "$(head -1 "$M/manifest")" = "pkgdist-manifest-link 1" ]
	[ "$(cur)" = "$M/v2.1.manifest" ]
	# The documented drift check reads the delta with its base.
	run pkgdiff verify "$M/v2.1.manifest" "$T/dp1/office"
	expect_status 0
	run pkgdiff verify "$M/manifest" "$T/dp1/office"
	expect_status 0
	# Someone edits a file on the share (DP files are 0444: an
	# unprivileged owner must make it writable first; root need not).
	chmod u+w "$T/dp1/office/b/f9"
	printf 'drift\n' >"$T/dp1/office/b/f9"
	run pkgdiff verify "$M/v2.1.manifest" "$T/dp1/office"
	expect_status 1
	expect_output_has "b/f9"
	# And the delta reads as the version's own manifest.
	pkgstage show office 2 >"$T/want"
	run pkgdiff diff "$M/v2.1.manifest" "$T/want"
	expect_status 0
	[ -z "$output" ]
}

@test "pkgpush delta: an in-place refresh of a big package writes a small delta as its manifest" {
	stage_big 1 0
	stage_big 2 3
	pkgpush --inplace --dp dp1 --version 1 office >/dev/null
	base=$(delta_of "$M/manifest")
	[[ "$base" == base.1.* ]]
	run pkgpush --inplace --dp dp1 office
	expect_status 0
	state=$(state_of_report)
	[ "$(delta_of "$M/manifest")" = "$base" ]
	[ "$(size "$M/manifest")" -lt 1000 ]
	grep -qx 'changes 3' "$M/manifest"
	# Two state records (partial, then complete) and the delta.
	[ "$state" -lt 1500 ]
	[ "$state" -lt "$(size "$M/$base")" ]
	at_version "$T/dp1" 2
	run pkgdiff verify "$M/manifest" "$T/dp1/office"
	expect_status 0
	run pkgpush --status office
	expect_output_has "dp1 office 2"
}

@test "pkgpush delta: a new base is written when the delta grows past a quarter of the base; unused bases go once no kept tree names them" {
	stage_big 1 0
	stage_big 2 20
	stage_big 3 150
	stage_big 3 152
	pkgpush --dp dp1 --keep 2 --version 1 office >/dev/null
	b1=$(delta_of "$M/v1.1.manifest")
	pkgpush --dp dp1 --keep 2 --version 2 office >/dev/null
	[ "$(delta_of "$M/v2.1.manifest")" = "$b1" ]
	# 150 of 404 entries changed: more than a quarter, a new base.
	run pkgpush --dp dp1 --keep 2 --version 3 office
	expect_status 0
	b3=$(delta_of "$M/v3.1.manifest")
	[[ "$b3" == base.3.* ]]
	grep -qx 'changes 0' "$M/v3.1.manifest"
	# v2 is kept and names the old base: both bases stay.
	[ -f "$M/$b1" ] && [ -f "$M/$b3" ]
	# Version 4 is a small delta against base 3; v2 is pruned, and with
	# it the last name of the old base.
	pkgpush --dp dp1 --keep 2 --version 4 office >/dev/null
	[ "$(delta_of "$M/v4.1.manifest")" = "$b3" ]
	[ ! -e "$M/v2.1" ] && [ ! -e "$M/$b1" ]
	[ "$(ls "$M" | grep '^base\.')" = "$b3" ]
	at_version "$T/dp1" 4
	no_debris "$T/dp1"
}

@test "pkgpush delta: rollback to kept trees after several deltas and a rebase" {
	stage_big 1 0
	stage_big 2 2
	stage_big 3 4
	stage_big 4 150
	stage_big 4 151
	for v in 1 2 3 4 5; do
		pkgpush --dp dp1 --keep 5 --version $v office >/dev/null
	done
	[ "$(ls "$M" | grep -c '^base\.')" -eq 2 ]
	run pkgpush --dp dp1 --rollback --version 3 office
	expect_status 0
	expect_output_has "switched back to the kept tree"
	at_version "$T/dp1" 3
	run pkgdiff verify "$M/manifest" "$T/dp1/office"
	expect_status 0
	run pkgpush --dp dp1 --rollback --version 1 office
	expect_status 0
	expect_output_has "switched back to the kept tree"
	at_version "$T/dp1" 1
	# Forward again from version 1: a delta against the base it read.
	run pkgpush --dp dp1 office
	expect_status 0
	at_version "$T/dp1" 5
	run pkgpush --status office
	expect_output_has "dp1 office 5"
}

# damage HOW FILE: truncate (drop the last line), flip (change a byte).
damage()
{
	chmod u+w "$2"
	case $1 in
	truncate) sed -i '$d' "$2" ;;
	flip) sed -i '$s/a/b/' "$2" ;;
	esac
}

@test "pkgpush delta: a truncated delta or a changed base is refused by name; --verify rebuilds the state" {
	stage_big 1 0
	stage_big 2 3
	stage_big 3 5
	pkgpush --dp dp1 --version 1 office >/dev/null
	pkgpush --dp dp1 --version 2 office >/dev/null
	base=$(delta_of "$M/v2.1.manifest")
	# A delta cut short at a line end.
	damage truncate "$M/v2.1.manifest"
	run pkgpush --dp dp1 office
	expect_status 1
	expect_output_has "v2.1.manifest: 2 change lines, its header says 3 (truncated?)"
	at_version "$T/dp1" 2
	run pkgpush --verify --dp dp1 --version 2 office
	expect_status 0
	expect_output_has "its unreadable state manifest was rebuilt"
	run pkgpush --dp dp1 office
	expect_status 0
	at_version "$T/dp1" 3
	run pkgdiff verify "$M/manifest" "$T/dp1/office"
	expect_status 0
	# A base changed behind the deltas' back.
	base=$(delta_of "$(cur)")
	damage flip "$M/$base"
	run pkgpush --dp dp1 --version 2 --rollback office
	expect_status 1
	expect_output_has "SHA-256 differs"
	at_version "$T/dp1" 3
	run pkgdiff verify "$M/manifest" "$T/dp1/office"
	expect_status 2
	expect_output_has "its base '$base' is not the file it was written against (SHA-256 differs"
	run pkgpush --verify --dp dp1 office
	expect_status 0
	expect_output_has "rebuilt"
	at_version "$T/dp1" 3
	run pkgdiff verify "$M/manifest" "$T/dp1/office"
	expect_status 0
}

@test "pkgpush delta: in place, a damaged base is refused and --verify rebuilds it" {
	stage_big 1 0
	stage_big 2 3
	pkgpush --inplace --dp dp1 --version 1 office >/dev/null
	base=$(delta_of "$(cur)")
	damage truncate "$M/$base"
	run pkgpush --inplace --dp dp1 office
	expect_status 1
	expect_output_has "SHA-256 differs"
	at_version "$T/dp1" 1
	run pkgpush --inplace --verify --dp dp1 office
	expect_status 0
	expect_output_has "rebuilt"
	at_version "$T/dp1" 2
	# The damaged base, no longer named, is gone.
	[ ! -e "$M/$base" ]
	run pkgdiff verify "$M/manifest" "$T/dp1/office"
	expect_status 0
}

@test "pkgpush delta: a symbolic link planted as a base is not followed: refused, --verify rebuilds, a rollback does not use it, it goes when unnamed" {
	stage_big 1 0
	stage_big 2 3
	pkgpush --dp dp1 --version 1 office >/dev/null
	base=$(delta_of "$(cur)")
	# The same bytes elsewhere: only following the link would load it.
	cp "$M/$base" "$T/outside"
	chmod 0644 "$T/outside"
	cksum "$T/outside" >"$T/outside.sum"
	rm -f "$M/$base"
	ln -s "$T/outside" "$M/$base"
	run pkgpush --dp dp1 office
	expect_status 1
	expect_output_has "$base: a symbolic link: not followed"
	run pkgdiff verify "$M/manifest" "$T/dp1/office"
	expect_status 2
	expect_output_has "not followed"
	run pkgpush --verify --dp dp1 office
	expect_status 0
	expect_output_has "rebuilt"
	at_version "$T/dp1" 2
	[ "$(delta_of "$(cur)")" != "$base" ]
	run pkgdiff verify "$M/manifest" "$T/dp1/office"
	expect_status 0
	# The kept tree of version 1 still names the link: a rollback does
	# not trust it, and builds version 1 afresh.
	run pkgpush --dp dp1 --rollback --version 1 office
	expect_status 0
	expect_output_lacks "switched back"
	at_version "$T/dp1" 1
	# Once no kept manifest names it, the link goes; its target stays.
	pkgpush --dp dp1 --keep 1 office >/dev/null
	at_version "$T/dp1" 2
	[ ! -L "$M/$base" ] && [ ! -e "$M/$base" ]
	cksum "$T/outside" | cmp -s - "$T/outside.sum"
}

@test "pkgpush delta: a full manifest left by an older pkgpush is read, and the next push writes a base" {
	stage_big 1 0
	stage_big 2 3
	pkgpush --dp dp1 --version 1 office >/dev/null
	# What an older pkgpush wrote: full manifests, no base.
	base=$(delta_of "$M/v1.1.manifest")
	cp "$M/$base" "$T/full"
	rm -f "$M/v1.1.manifest" "$M/manifest" "$M/$base"
	cp "$T/full" "$M/v1.1.manifest"
	ln "$M/v1.1.manifest" "$M/manifest"
	run pkgpush --dp dp1 office
	expect_status 0
	at_version "$T/dp1" 2
	b=$(delta_of "$M/v2.1.manifest")
	[[ "$b" == base.2.* ]]
	[ -f "$M/$b" ]
	run pkgpush --dp dp1 --rollback --version 1 office
	expect_status 0
	expect_output_has "switched back"
	at_version "$T/dp1" 1
}

# crash_delta FLAGS: crash a refresh that writes a delta at each of its
# operations; after each, the DP's files are old or new and the manifest
# of the tree DP/office shows and DP/.pkgdist/office/manifest are
# readable and right (atomic), and the next push completes.
crash_delta()
{
	local flags=$1 n total tree
	# 42 entries, 3 changed: a delta (the other crash tests rebase).
	stage_big 1 0 20
	stage_big 2 3 20
	pkgpush $flags --dp dp1 --version 1 office >/dev/null
	cp -a "$T/dp1" "$T/dp1.v1"
	PKGDIST_FAULT_COUNT=$T/count pkgpush $flags --dp dp1 office >/dev/null
	grep -qx 'changes 3' "$(cur)"
	total=$(awk '$1 == "any" { print $2 }' "$T/count")
	[ -n "$total" ] || total=$(awk '{ s += $2 } END { print s }' "$T/count")
	[ "$total" -gt 5 ]
	for ((n = 1; n <= total; n++)); do
		rm -rf "$T/dp1"
		cp -a "$T/dp1.v1" "$T/dp1"
		PKGDIST_FAULT=any:$n:crash pkgpush $flags --dp dp1 office \
		    >/dev/null 2>&1 || true
		if [ -z "$flags" ]; then
			{ at_version "$T/dp1" 1 2>/dev/null ||
			    at_version "$T/dp1" 2; } ||
			    { echo "after a crash at operation $n" >&2; return 1; }
			tree=$(readlink "$T/dp1/office")
			pkgdiff verify "$T/dp1/$tree.manifest" "$T/dp1/office" \
			    >/dev/null ||
			    { echo "tree manifest, crash at $n" >&2; return 1; }
			# The documented drift check is right at once, the
			# crash between the switch and the record included.
			pkgdiff verify "$M/manifest" "$T/dp1/office" \
			    >/dev/null ||
			    { echo "DP/.pkgdist/office/manifest, crash at $n" >&2
			      return 1; }
		fi
		pkgpush $flags --dp dp1 office >/dev/null ||
		    { echo "recovery after crash $n failed" >&2; return 1; }
		at_version "$T/dp1" 2 &&
		    pkgdiff verify "$M/manifest" "$T/dp1/office" >/dev/null ||
		    { echo "after recovery from crash $n" >&2; return 1; }
		no_debris "$T/dp1" || return 1
	done
	echo "# crashed at $total operations" >&3
}

@test "pkgpush delta: a crash at any operation of an atomic refresh that writes a delta leaves a readable state, old or new" {
	crash_delta ""
}

@test "pkgpush delta: a crash at any operation of an in-place refresh that writes a delta is finished by the next push" {
	crash_delta --inplace
}
