#!/usr/bin/env bats
# pkgpush --keep: the trees an atomic DP keeps are the current one and
# the K-1 most recently live before it, whatever their versions; a tree
# that was never live (a switch that failed or was cut short) never
# counts, and never costs a live tree its place.

load lib/common
load lib/pkgpush

setup()
{
	common_setup
	staged_versions 1 3
	dps dp1
	M=$T/dp1/.pkgdist/office
}

# trees: the trees under DP/.pkgdist/office, one line.
trees()
{
	(cd "$M" && ls -d v*.* 2>/dev/null | grep -v manifest | sort | tr '\n' ' ')
}

# link_rename_point: the rename operation (fault.h count) that switches
# DP/office in a refresh of dp1 to version 2, found by failing each in
# turn (the DP is put back after each try).
link_rename_point()
{
	local n out
	for n in 1 2 3 4 5 6 7 8; do
		rm -rf "$T/try"
		cp -a "$T/dp1" "$T/try"
		out=$(PKGDIST_FAULT=rename:$n:EIO pkgpush --dp dp1 --version 2 \
		    office 2>&1) || true
		case $out in
		*"cannot switch '$T/dp1/office'"*) echo "$n"; return 0 ;;
		esac
		rm -rf "$T/dp1"
		cp -a "$T/try" "$T/dp1"
	done
	return 1
}

@test "pkgpush --keep: after a rollback, the next push keeps the tree that was live just before (not the higher version)" {
	pkgpush --dp dp1 --version 1 office >/dev/null
	pkgpush --dp dp1 --version 2 office >/dev/null
	run pkgpush --dp dp1 --version 1 --rollback office
	expect_status 0
	expect_output_has "switched back"
	[ "$(readlink "$T/dp1/office")" = .pkgdist/office/v1.1 ]
	run pkgpush --dp dp1 --version 3 office
	expect_status 0
	at_version "$T/dp1" 3
	# Kept: v3.1 (current) and v1.1, live a moment before; v2.1 goes.
	[ "$(trees)" = "v1.1 v3.1 " ]
	pkgdiff verify "$M/v1.1.manifest" "$M/v1.1"
	grep -qx 'lived v1.1' "$M/state"
}

@test "pkgpush --keep: a push whose switch fails leaves no never-live tree, and the next push keeps the live one" {
	pkgpush --dp dp1 --version 1 office >/dev/null
	n=$(link_rename_point)
	run env PKGDIST_FAULT=rename:$n:EACCES pkgpush --dp dp1 --version 2 office
	expect_status 1
	# The message names the DP's link and what it needs, not the
	# temporary link's name.
	expect_output_has "cannot switch '$T/dp1/office' to its new tree: Permission denied (the DP's directory must be writable)"
	expect_output_lacks "tmp.link"
	at_version "$T/dp1" 1
	[ "$(trees)" = "v1.1 " ]
	no_debris "$T/dp1"
	run pkgpush --dp dp1 --version 2 office
	expect_status 0
	[ "$(trees)" = "v1.1 v2.1 " ]
}

@test "pkgpush --keep: a never-live tree left by a crash before the switch never makes the next push remove the live tree" {
	pkgpush --dp dp1 --version 1 office >/dev/null
	n=$(link_rename_point)
	# Killed at the link's rename: a complete v2.1 that was never live.
	run env PKGDIST_FAULT=rename:$n:crash pkgpush --dp dp1 --version 2 office
	[ "$status" -eq 137 ]
	[ "$(readlink "$T/dp1/office")" = .pkgdist/office/v1.1 ]
	[ -d "$M/v2.1" ]
	run pkgpush --dp dp1 --version 2 office
	expect_status 0
	at_version "$T/dp1" 2
	# Kept: the new tree (v2.2: v2.1 was there) and v1.1, live until
	# this push; the never-live v2.1 goes.
	[ "$(readlink "$T/dp1/office")" = .pkgdist/office/v2.2 ]
	[ "$(trees)" = "v1.1 v2.2 " ]
	pkgdiff verify "$M/v1.1.manifest" "$M/v1.1"
	grep -qx 'lived v1.1' "$M/state"
}

@test "pkgpush --keep: the state of an earlier release (no lived line) is read, the tree live before is kept, the line written" {
	pkgpush --dp dp1 --version 1 office >/dev/null
	pkgpush --dp dp1 --version 2 office >/dev/null
	pkgpush --dp dp1 --version 1 --rollback office >/dev/null
	# What an earlier release wrote: no "lived" line.
	sed -i '/^lived /d' "$M/state"
	! grep -q '^lived' "$M/state" || false
	run pkgpush --dp dp1 --version 3 office
	expect_status 0
	at_version "$T/dp1" 3
	# v1.1 was live until this push: it stays.
	[ -d "$M/v1.1" ]
	[ "$(trees)" = "v1.1 v3.1 " ]
	grep -qx 'lived v1.1' "$M/state"
}

@test "pkgpush --keep 3: the trees kept are the three most recently live, in the order they were live" {
	pkgpush --dp dp1 --version 1 office >/dev/null
	pkgpush --keep 3 --dp dp1 --version 2 office >/dev/null
	pkgpush --keep 3 --dp dp1 --version 3 office >/dev/null
	pkgpush --keep 3 --dp dp1 --version 1 --rollback office >/dev/null
	[ "$(readlink "$T/dp1/office")" = .pkgdist/office/v1.1 ]
	grep -qx 'lived v3.1 v2.1' "$M/state"
	staged_versions 4 4
	run pkgpush --keep 3 --dp dp1 office
	expect_status 0
	at_version "$T/dp1" 4
	# Live before v4, most recent first: v1.1, v3.1 (v2.1 goes).
	[ "$(trees)" = "v1.1 v3.1 v4.1 " ]
	grep -qx 'lived v1.1 v3.1' "$M/state"
}

@test "pkgpush --keep: a malformed lived line in a DP's state is refused, naming the record" {
	pkgpush --dp dp1 --version 1 office >/dev/null
	pkgpush --dp dp1 --version 2 office >/dev/null
	chmod u+w "$M/state"
	for bad in "lived ../../etc" "lived v1.1 " "lived v1.1  v2.1" "lived " "lived v01.1"; do
		sed -i "s|^lived .*|$bad|" "$M/state"
		run pkgpush --dp dp1 --version 3 office
		expect_status 1
		expect_output_has "state:"
		expect_output_has "malformed state record"
		at_version "$T/dp1" 2
	done
}
