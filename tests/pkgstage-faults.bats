#!/usr/bin/env bats
# pkgstage under I/O errors: injected (the fault hook, PKGDIST_FAULT) and
# real (a full tmpfs).  Crashes at every point are in
# tests/torture-pkgstage.bats.

load lib/common
load lib/pkgstage

bats_require_minimum_version 1.5.0

setup()
{
	common_setup
	mktree "$T/src"
	seq 1 20000 >"$T/src/text"
	head -c 100000 /dev/urandom >"$T/src/random"
}

# check_fault SPEC CMD...: run CMD with the fault; it either succeeds or
# exits 2 with a message, and leaves the store clean (fsck).  Its exit
# status is left in $fst.
check_fault()
{
	local spec=$1
	shift
	PKGDIST_FAULT=$spec run "$@"
	fst=$status
	if [ "$status" -ne 0 ] && [ "$status" -ne 2 ]; then
		echo "$spec: exit $status: $output" >&2
		return 1
	fi
	if [ "$status" -eq 2 ] && [[ "$output" != pkgstage:\ * ]]; then
		echo "$spec: exit 2 without a message: $output" >&2
		return 1
	fi
	run pkgstage fsck
	if [ "$status" -ne 0 ]; then
		echo "$spec: fsck after the fault: $output" >&2
		return 1
	fi
}

@test "pkgstage add: an I/O error at any operation fails with a message (exit 2) and commits nothing" {
	pkgstage add p "$T/src"
	echo changed >"$T/src/hello.txt"
	cp -a "$PKGDIST_STORE" "$T/probe"
	PKGDIST_FAULT_COUNT=$T/count pkgstage -s "$T/probe" add p "$T/src"
	n=$(fault_ops "$T/count")
	[ "$n" -gt 10 ]
	failed=0
	for ((i = 1; i <= n; i++)); do
		# Every point with EIO, every third also with ENOSPC.
		errs=EIO
		[ $((i % 3)) -ne 0 ] || errs="EIO ENOSPC"
		for e in $errs; do
			check_fault "any:$i:$e" pkgstage add p "$T/src"
			if [ "$fst" -eq 2 ]; then
				failed=$((failed + 1))
				[ "$(versions p)" = "1 " ] || {
					echo "any:$i:$e: versions $(versions p)" >&2
					return 1
				}
			else
				# The fault hit a best-effort step: the
				# version is there, whole; start again.
				[ "$(versions p)" = "1 2 " ] || {
					echo "any:$i:$e: exit 0, versions $(versions p)" >&2
					return 1
				}
				rm -rf "$PKGDIST_STORE/packages/p/v/2"
			fi
		done
	done
	[ "$failed" -gt 0 ]
	run pkgstage add p "$T/src"
	expect_status 0
	[ "$output" = 2 ]
	# Contents a failed add had already moved in are garbage: gc takes
	# them, and then the store holds just what its versions use.
	pkgstage gc --keep 5
	want=$( (pkgstage show p 1; pkgstage show p 2) |
	    awk '$1 == "f" { print $5 }' | sort -u | wc -l)
	[ "$(count_objects)" -eq "$want" ]
}

@test "pkgstage import: an I/O error at any operation fails with a message (exit 2) and imports nothing" {
	pkgstage add p "$T/src"
	pkgstage export p 1 -o "$T/p1.pkg"
	export PKGDIST_STORE=$T/s2
	pkgstage add other "$T/src"
	cp -a "$PKGDIST_STORE" "$T/probe"
	PKGDIST_FAULT_COUNT=$T/count pkgstage -s "$T/probe" import "$T/p1.pkg"
	n=$(fault_ops "$T/count")
	for ((i = 1; i <= n; i++)); do
		check_fault "any:$i:EIO" pkgstage import "$T/p1.pkg"
		if [ "$fst" -eq 0 ]; then
			rm -rf "$PKGDIST_STORE/packages/p/v/1"
		else
			[ -z "$(versions p)" ]
		fi
	done
	run pkgstage import "$T/p1.pkg"
	expect_status 0
	pkgstage fsck
}

@test "pkgstage gc: an I/O error at any operation fails with a message and loses no kept version" {
	for i in 1 2 3 4; do
		echo "v$i" >"$T/src/changing"
		pkgstage add p "$T/src" >/dev/null
	done
	cp -a "$PKGDIST_STORE" "$T/orig"
	cp -a "$T/orig" "$T/probe"
	PKGDIST_FAULT_COUNT=$T/count pkgstage -s "$T/probe" gc --keep 2
	n=$(fault_ops "$T/count")
	[ "$n" -gt 0 ]
	for ((i = 1; i <= n; i++)); do
		rm -rf "$PKGDIST_STORE"
		cp -a "$T/orig" "$PKGDIST_STORE"
		check_fault "any:$i:EIO" pkgstage gc --keep 2
		v=$(versions p)
		[[ "$v" == *"3 4 " ]] || { echo "any:$i: versions '$v'" >&2; return 1; }
		run pkgstage gc --keep 2
		expect_status 0
		[ "$(versions p)" = "3 4 " ]
		pkgstage fsck
	done
}

@test "pkgstage add: a full disk (small tmpfs) fails with ENOSPC named, nothing committed" {
	mount_tmpfs "$T/small" 600k
	pkgstage -s "$T/small/st" add p "$T/src"
	mkdir "$T/big"
	head -c 2000000 /dev/urandom >"$T/big/huge"
	before=$(store_listing "$T/small/st")
	run pkgstage -s "$T/small/st" add p "$T/big"
	expect_status 2
	expect_output_has "No space left on device"
	[ "$(versions p "$T/small/st")" = "1 " ]
	[ "$(store_listing "$T/small/st")" = "$before" ]
	pkgstage -s "$T/small/st" fsck
	run pkgstage -s "$T/small/st" add p "$T/src"
	expect_status 0
	[ "$output" = 2 ]
}

@test "pkgstage import: a full disk (small tmpfs) fails, nothing imported" {
	mkdir "$T/big"
	head -c 2000000 /dev/urandom >"$T/big/huge"
	pkgstage add p "$T/big"
	pkgstage export p 1 -o "$T/p1.pkg"
	mount_tmpfs "$T/small" 600k
	pkgstage -s "$T/small/st" add q "$T/src"
	before=$(store_listing "$T/small/st")
	run pkgstage -s "$T/small/st" import "$T/p1.pkg"
	expect_status 2
	expect_output_has "No space left on device"
	[ "$(store_listing "$T/small/st")" = "$before" ]
	pkgstage -s "$T/small/st" fsck
}
