#!/usr/bin/env bats
# pkgstage gc against pushes (a version a DP has just received is kept,
# also after a push killed right after its switch), version numbers never
# given twice (gc --keep 0, the highest numbers), and what a full store
# says (the staged file and the store, not a file of its own).

load lib/common
load lib/pkgpush
load lib/pkgstage

bats_require_minimum_version 1.5.0

setup()
{
	common_setup
	vtree "$T/v1" 1
	vtree "$T/v2" 2
	vtree "$T/v3" 3
	stage "$T/v1"
	dps dp1
}

# wait_use_shared: until a push holds office's use lock (shared), so an
# exclusive lock on it cannot be had.
wait_use_shared()
{
	local i
	for ((i = 0; i < 200; i++)); do
		flock -n -x "$PKGDIST_STORE/packages/office/use" true || return 0
		sleep 0.05
	done
	echo "no push took the use lock" >&2
	return 1
}

@test "pkgstage gc: a version a waiting push brings a DP to is kept (holdings read under the lock)" {
	need_cmd flock
	pkgpush --dp dp1 office >/dev/null
	stage "$T/v2"
	# dp1 is locked by another push for 3 s; a push of version 2 waits
	# for it, reading the store meanwhile.
	flock "$T/dp1/.pkgdist/.lock" sh -c ': >"$1"; exec sleep 3' sh \
	    "$T/locked" &
	while [ ! -e "$T/locked" ]; do sleep 0.05; done
	pkgpush --dp dp1 office >"$T/push.out" 2>"$T/push.err" &
	push=$!
	wait_use_shared
	stage "$T/v3"
	run pkgstage gc --keep 1
	expect_status 0
	wait "$push" || { cat "$T/push.err" >&2; false; }
	at_version "$T/dp1" 2
	# The version dp1 holds stays, and so does the newest.
	[ "$(versions)" = "2 3 " ]
	pkgstage show office 2 >/dev/null
	pkgstage fsck
}

@test "pkgstage gc: a push killed at any rename keeps the version its DP may hold" {
	pkgpush --dp dp1 office >/dev/null
	stage "$T/v2"
	stage "$T/v3"
	pkgstage show office 1 >"$T/m.1"
	pkgstage show office 2 >"$T/m.2"
	cp -a "$T/store" "$T/store.0"
	cp -a "$T/dp1" "$T/dp1.0"
	PKGDIST_FAULT_COUNT=$T/count pkgpush --dp dp1 --version 2 office \
	    >/dev/null
	n=$(awk '$1 == "rename" { print $2 }' "$T/count")
	[ "$n" -gt 2 ]
	switched=0
	for ((i = 1; i <= n; i++)); do
		rm -rf "$T/store" "$T/dp1"
		cp -a "$T/store.0" "$T/store"
		cp -a "$T/dp1.0" "$T/dp1"
		run env PKGDIST_FAULT="rename:$i:crash" \
		    pkgpush --dp dp1 --version 2 office
		if at_version "$T/dp1" 2 2>/dev/null; then
			held=2
			switched=$((switched + 1))
		else
			at_version "$T/dp1" 1
			held=1
		fi
		run pkgstage gc --keep 1
		expect_status 0
		pkgstage show office "$held" >/dev/null || {
			echo "rename $i: dp1 holds version $held, gc removed it" >&2
			false
		}
	done
	# Some crash point fell after the switch (the case that broke).
	[ "$switched" -gt 0 ]
}

@test "pkgstage gc --keep 0 keeps the newest version, and the next add gives a new number" {
	stage "$T/v2"
	run pkgstage gc --keep 0
	expect_status 0
	expect_output_has "removed 1 versions"
	[ "$(versions)" = "2 " ]
	run pkgstage add office "$T/v3"
	expect_status 0
	[ "$output" = 3 ]
}

@test "pkgstage: a version number is never given twice (the last one kept when the newest is removed)" {
	stage "$T/v2"
	pkgstage show office 2 >"$T/m.old2"
	run pkgstage rm office 2
	expect_status 0
	[ "$(versions)" = "1 " ]
	grep -qx 2 "$PKGDIST_STORE/packages/office/last-version"
	run pkgstage add office "$T/v3"
	expect_status 0
	[ "$output" = 3 ]
	run pkgstage add --version 3 office "$T/v2"
	expect_status 2
	run pkgstage rm office 3
	expect_status 0
	run pkgstage add --version 3 office "$T/v2"
	expect_status 2
	expect_output_has "not above the last version number given, 3"
	run pkgstage add office "$T/v2"
	expect_status 0
	[ "$output" = 4 ]
	# A store of the previous release (no mark) goes on from its newest.
	rm "$PKGDIST_STORE/packages/office/last-version"
	run pkgstage add office "$T/v3"
	expect_status 0
	[ "$output" = 5 ]
}

@test "pkgstage: versions near the top are refused (import, --version), so adds can follow" {
	run pkgstage add --version 18446744073709551615 office "$T/v2"
	expect_status 2
	expect_output_has "the largest that may be given"
	run pkgstage add --version 4503599627370496 office "$T/v2"
	expect_status 0
	[ "$output" = 4503599627370496 ]
	run pkgstage add office "$T/v3"
	expect_status 0
	[ "$output" = 4503599627370497 ]
	# A package file carrying a version above the limit is refused by
	# import (this store made one by counting up to it).
	pkgstage export office 4503599627370497 -o "$T/top.pkg"
	run pkgstage -s "$T/other" import "$T/top.pkg"
	expect_status 2
	expect_output_has "4503599627370497 is above 4503599627370496"
	[ ! -d "$T/other/packages/office/v/4503599627370497" ]
}

@test "pkgstage add: a full store names the file being staged and the store, not a part file" {
	dd if=/dev/urandom of="$T/v2/big" bs=1k count=300 status=none
	for op in write:1 write:3 fsync:1 rename:1; do
		run env PKGDIST_FAULT="$op:ENOSPC" pkgstage add office "$T/v2"
		expect_status 2
		expect_output_has "No space left on device"
		expect_output_has "in store '$PKGDIST_STORE'"
		expect_output_lacks "'p1'"
		expect_output_lacks "'p2'"
		expect_output_lacks "txn-"
		[ "$(versions)" = "1 " ]
	done
	run env PKGDIST_FAULT=write:3:ENOSPC pkgstage add office "$T/v2"
	[[ "$output" =~ "cannot stage '"[^\']+"' in store" ]]
}

@test "pkgstage add: a real full store (tiny tmpfs) names the file being staged and the store" {
	mount_tmpfs "$T/small" 256k
	export PKGDIST_STORE=$T/small/store
	dd if=/dev/urandom of="$T/v1/big.bin" bs=1k count=400 status=none
	run pkgstage add office "$T/v1"
	expect_status 2
	[[ "$output" =~ "cannot stage '"[^\']+"' in store '$T/small/store': No space left on device" ]]
	expect_output_lacks "'p1'"
}

@test "pkgpush: a full store names the package and the store, not 'holdings'" {
	stage "$T/v2"
	pkgpush --dp dp1 --version 1 office >/dev/null
	# The record before the push: nothing touched, exit 2.
	run env PKGDIST_FAULT=write:1:ENOSPC pkgpush --dp dp1 office
	expect_status 2
	expect_output_has "cannot record the holdings of office in store '$PKGDIST_STORE': No space left on device"
	expect_output_lacks "'holdings'"
	at_version "$T/dp1" 1
}

@test "pkgpush: store damage found during a push queues no retry, says so, exits 2" {
	stage "$T/v2"
	dps dp1 dp2
	pkgpush --dp dp1 --dp dp2 --version 1 office >/dev/null
	# Damage a content only version 2 has.
	d=$(pkgstage show office 2 | awk '$1 == "f" && $NF == "f1" { print $5 }')
	o=$(ls "$PKGDIST_STORE/objects/${d:0:2}/${d:2}"*)
	chmod u+w "$o"
	printf 'garbage' >"$o"
	# Both DPs (the second asks through the fanout of the first).
	run pkgpush -j 1 --dp dp1 --dp dp2 office
	expect_status 2
	expect_output_has "office version 2: 'f1'"
	expect_output_has "dp1: not queued for retry: the store is damaged"
	expect_output_has "dp2: not queued for retry: the store is damaged"
	[ -z "$(ls "$PKGDIST_STORE/retry" | grep @)" ]
	at_version "$T/dp1" 1
	at_version "$T/dp2" 1
}

@test "pkgpush: a store too full for a retry job names the package, the DP and the store, not the job's file" {
	# dp2's share is missing: it fails and its job is written.
	printf 'dp2 g %s/nosuch\n' "$T" >"$PKGDIST_STORE/dps"
	PKGDIST_FAULT_COUNT=$T/count pkgpush --dp dp2 office 2>/dev/null || true
	rm -f "$PKGDIST_STORE"/retry/office@dp2
	n=$(awk '$1 == "write" { print $2 }' "$T/count")
	hit=0
	for ((i = 1; i <= n; i++)); do
		run env PKGDIST_FAULT="write:$i:ENOSPC" pkgpush --dp dp2 office
		rm -f "$PKGDIST_STORE"/retry/office@dp2
		expect_output_lacks "write 'office@dp2"
		expect_output_lacks "write 'holdings"
		if [[ "$output" == *"cannot queue the retry"* ]]; then
			expect_output_has "cannot queue the retry of office for dp2 in store '$PKGDIST_STORE': No space left on device"
			hit=1
		fi
	done
	[ "$hit" -eq 1 ]
}
