#!/usr/bin/env bats
# Messages that say what to do: each names what is wrong, where, and the
# way out (a missing store, a missing DP list, a blank or a DOS line end
# in the DP list, a lock that cannot be opened, an unknown package).

load lib/common

bats_require_minimum_version 1.5.0

setup()
{
	common_setup
	mkdir -p "$T/src"
	echo hello >"$T/src/a"
}

@test "a missing store: says that the first pkgstage add creates it, or -s names another" {
	run --separate-stderr pkgpush -s "$T/nostore" --all office
	expect_status 2
	[[ "$stderr" == *"pkgpush: store '$T/nostore' does not exist (the first 'pkgstage add' creates it; -s STORE or \$PKGDIST_STORE names another)"* ]]
	run --separate-stderr pkgstage -s "$T/nostore" list
	expect_status 2
	[[ "$stderr" == *"store '$T/nostore' does not exist (the first 'pkgstage add' creates it"* ]]
	[ ! -e "$T/nostore" ]
	run --separate-stderr pkgpush -s "$T/nostore" --status
	expect_status 2
	[[ "$stderr" == *"does not exist (the first 'pkgstage add' creates it"* ]]
	# And the first add does create it.
	run pkgstage -s "$T/nostore" add office "$T/src"
	expect_status 0
	[ -f "$T/nostore/format" ]
}

@test "pkgpush: no DP list: the message says that STORE/dps does not exist and what it holds" {
	pkgstage add office "$T/src" >/dev/null
	run --separate-stderr pkgpush --all office
	expect_status 2
	[[ "$stderr" == *"pkgpush: office: no target DP: the DP list '$T/store/dps' does not exist (one DP a line: NAME GROUP TARGET; see pkgpush(1))"* ]]
	run --separate-stderr pkgpush --dp dp1 office
	expect_status 2
	[[ "$stderr" == *"pkgpush: --dp: unknown DP 'dp1': the DP list '$T/store/dps' does not exist"* ]]
	: >"$T/store/dps"
	run --separate-stderr pkgpush --group g office
	expect_status 2
	[[ "$stderr" == *"pkgpush: --group: unknown group 'g': the DP list '$T/store/dps' lists no DP"* ]]
}

@test "pkgpush: no target named: the message says how to name them" {
	pkgstage add office "$T/src" >/dev/null
	dps dp1
	run --separate-stderr pkgpush office
	expect_status 2
	[[ "$stderr" == *"pkgpush: office: no target DP (name them with --dp, --group, --all or --refresh-existing)"* ]]
	run --separate-stderr pkgpush --refresh-existing office
	expect_status 2
	[[ "$stderr" == *"pkgpush: office: no target DP: no DP holds it yet (place it with --dp, --group or --all)"* ]]
}

@test "the DP list: a blank in a target is a 4th field, and the message says \\040" {
	pkgstage add office "$T/src" >/dev/null
	echo "dp1 g $T/my dp" >"$T/store/dps"
	run --separate-stderr pkgpush --all office
	expect_status 2
	[[ "$stderr" == *"dps:1: expected 'NAME GROUP TARGET', found 4 fields (a space in TARGET is written \\040, a tab \\011)"* ]]
	# Written so, it works.
	mkdir "$T/my dp"
	echo "dp1 g $T/my\\040dp" >"$T/store/dps"
	run pkgpush --all office
	expect_status 0
	[ -f "$T/my dp/office/a" ]
}

@test "the DP list: a DOS line end is named as such, with the way to fix it" {
	pkgstage add office "$T/src" >/dev/null
	mkdir "$T/dp1"
	printf 'dp1 g %s\r\n' "$T/dp1" >"$T/store/dps"
	run --separate-stderr pkgpush --all office
	expect_status 2
	[[ "$stderr" == *"dps:1: line ends in '\\r' (a DOS line end; the list wants Unix line ends: dos2unix FILE, or sed -i 's/\\r\$//' FILE)"* ]]
	run --separate-stderr pkgpush --status
	[[ "$stderr" == *"a DOS line end"* ]]
}

@test "a lock that cannot be opened is named by its full path" {
	pkgstage add office "$T/src" >/dev/null
	rm -f "$T/store/packages/office/lock"
	mkdir "$T/store/packages/office/lock"
	run --separate-stderr pkgstage add office "$T/src"
	expect_status 2
	echo "$stderr"
	[[ "$stderr" == *"cannot open lock '/"*"/store/packages/office/lock': Is a directory"* ]]
}

@test "pkgpush --status: an unknown package is trouble (exit 2), and the message says where to look" {
	pkgstage add office "$T/src" >/dev/null
	dps dp1
	run --separate-stderr pkgpush --status nosuch
	expect_status 2
	[[ "$stderr" == *"pkgpush: nosuch: no such package in the store (pkgstage list shows those it has)"* ]]
	[ -z "$output" ]
	run --separate-stderr pkgpush --all nosuch
	expect_status 2
	[[ "$stderr" == *"pkgpush: nosuch: no such package in the store (pkgstage add stages it)"* ]]
}
