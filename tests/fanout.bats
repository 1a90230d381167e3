#!/usr/bin/env bats
# One push to many local DPs reads, inflates and checks each content once
# (common/fanout.c): the other DPs get a kernel copy of the file the first
# one wrote.  Seen from outside: a store content damaged after the first
# DP received it still reaches the second DP intact, and a DP whose disk
# is full fails alone.

load lib/common

setup()
{
	common_setup
	mkdir -p "$T/src/sub"
	head -c 300000 /dev/urandom >"$T/src/big1.bin"
	head -c 200000 /dev/urandom >"$T/src/sub/big2.bin"
	cp "$T/src/big1.bin" "$T/src/sub/same-as-big1.bin"
	seq 1 100000 >"$T/src/text.txt"	# zlib pays: stored compressed
	echo small >"$T/src/small.txt"
	pkgstage add office "$T/src" >/dev/null
	dps dp1 dp2 dp3 dp4 dp5 dp6
}

teardown()
{
	common_teardown
}

# hold_lock DP: hold DP's lock until release_lock (a new DP gets its
# .pkgdist first, as pkgpush would make it).
hold_lock()
{
	mkdir -p "$T/$1/.pkgdist"
	flock "$T/$1/.pkgdist/.lock" sh -c ': >"$1"; exec sleep 60' sh \
	    "$T/locked" >/dev/null 2>&1 3>&- &
	holder=$!
	for _ in $(seq 50); do [ -e "$T/locked" ] && break; sleep 0.1; done
	[ -e "$T/locked" ]
}

release_lock()
{
	pkill -P "$holder" 2>/dev/null || true
	kill "$holder" 2>/dev/null || true
	wait "$holder" 2>/dev/null || true
}

# waits_for_lock PID DP: PID holds DP's lock file open (it waits for it).
waits_for_lock()
{
	for _ in $(seq 100); do
		ls -l "/proc/$1/fd" 2>/dev/null | grep -qF "$T/$2/.pkgdist/.lock" &&
		    return 0
		sleep 0.1
	done
	return 1
}

@test "fanout: six DPs, -j 3, each gets every file exactly, each its own inode" {
	run pkgpush -j 3 --all office
	expect_status 0
	for n in 1 2 3 4 5 6; do
		diff -r "$T/src" "$T/dp$n/office"
	done
	a=$(stat -Lc %i "$T/dp1/office/big1.bin")
	b=$(stat -Lc %i "$T/dp2/office/big1.bin")
	[ "$a" != "$b" ]
	run pkgstage fsck
	expect_status 0
}

@test "fanout: the store is read once: a content damaged after the first DP got it still reaches the second intact" {
	need_cmd flock
	hold_lock dp2
	pkgpush -j 1 --dp dp1 --dp dp2 office >"$T/out" 2>&1 &
	pid=$!
	waits_for_lock "$pid" dp2
	# dp1 is done; now damage every stored content of big1.bin's size.
	sum=$(sha256sum "$T/src/big1.bin" | cut -c1-64)
	obj=$(find "$PKGDIST_STORE/objects" -type f -name "*${sum:2}*" | head -n 1)
	[ -n "$obj" ] && [ -f "$obj" ]
	chmod u+w "$obj"
	printf 'XXXXXXXX' | dd of="$obj" bs=1 seek=1000 conv=notrunc 2>/dev/null
	release_lock
	rc=0
	wait "$pid" || rc=$?
	cat "$T/out"
	[ "$rc" -eq 0 ]
	cmp "$T/src/big1.bin" "$T/dp2/office/big1.bin"
	cmp "$T/src/big1.bin" "$T/dp2/office/sub/same-as-big1.bin"
	# The store is damaged indeed: a DP pushed alone now reads it, and
	# refuses what it read.
	run pkgpush --dp dp3 office
	[ "$status" -ne 0 ]
	[ ! -e "$T/dp3/office" ] || ! cmp -s "$T/src/big1.bin" "$T/dp3/office/big1.bin" || false
}

@test "fanout: a DP whose disk is full fails alone; the others get every file" {
	can_mount_tmpfs || skip "cannot mount a tmpfs here (not root)"
	mount_tmpfs "$T/dp3" 64k
	run pkgpush -j 2 --all office
	expect_status 1
	expect_output_has "dp3:"
	for n in 1 2 4 5 6; do
		diff -r "$T/src" "$T/dp$n/office"
	done
	[ ! -e "$T/dp3/office" ]
}
