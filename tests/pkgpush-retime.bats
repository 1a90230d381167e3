#!/usr/bin/env bats
# pkgpush, atomic layout: a file whose only change is its mtime or a mode
# the DP shows is not written again (no content byte), and every
# manifest the DP keeps stays right about it.

load lib/common
load lib/pkgpush

setup()
{
	common_setup
	mkdir -p "$T/src/sub"
	head -c 20971520 /dev/urandom >"$T/src/big"
	printf 'a script\n' >"$T/src/sub/run"
	printf 'same\n' >"$T/src/same"
	chmod 0444 "$T/src/big" "$T/src/sub/run" "$T/src/same"
	touch -d @1600000000 "$T/src/big" "$T/src/sub/run" "$T/src/same"
	stage "$T/src"
	dps dp1
	M=$T/dp1/.pkgdist/office
}

@test "pkgpush: an atomic refresh of files only touched or made executable writes no content byte; the DP and its kept tree stay right" {
	pkgpush --dp dp1 office >/dev/null
	touch -d @1700000000 "$T/src/big"
	chmod 0555 "$T/src/sub/run"
	stage "$T/src"
	run pkgpush --dp dp1 office
	expect_status 0
	expect_output_has "0 added, 0 changed, 0 deleted, 2 metadata"
	expect_output_has "(0 content, "
	at_version "$T/dp1" 2
	[ "$(stat -c %Y "$T/dp1/office/big")" = 1700000000 ]
	[ "$(stat -c %a "$T/dp1/office/sub/run")" = 555 ]
	# The documented drift check, and that of the kept tree.
	pkgdiff verify "$M/manifest" "$T/dp1/office"
	pkgdiff verify "$M/v1.1.manifest" "$M/v1.1"
	run pkgpush --status office
	expect_output_has "dp1 office 2 complete"
	# A rollback to the kept tree: its manifest says what it holds.
	run pkgpush --dp dp1 --version 1 --rollback office
	expect_status 0
	pkgdiff verify "$M/manifest" "$T/dp1/office"
	cmp "$T/dp1/office/big" "$T/src/big"
}

@test "pkgpush: a push that fails after an only-touched file was shared puts the old tree's time back" {
	pkgpush --dp dp1 office >/dev/null
	touch -d @1700000000 "$T/src/big"
	rm -f "$T/src/same"
	printf 'changed\n' >"$T/src/same"
	chmod 0444 "$T/src/same"
	stage "$T/src"
	# The sync of the new tree fails: the push fails before its switch
	# (the first fsyncs may be the store's).
	local n
	for n in 1 2 3 4 5 6 7 8; do
		run env PKGDIST_FAULT=fsync:$n:EIO pkgpush --dp dp1 office
		[[ "$output" != *"cannot sync '$M/tmp."* ]] || break
	done
	expect_status 1
	expect_output_has "cannot sync '$M/tmp."
	at_version "$T/dp1" 1
	pkgdiff verify "$M/manifest" "$T/dp1/office"
	[ "$(stat -c %Y "$T/dp1/office/big")" = 1600000000 ]
	run pkgpush --dp dp1 office
	expect_status 0
	at_version "$T/dp1" 2
}
