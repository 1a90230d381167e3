#!/usr/bin/env bats
# A hundred DPs in one command: 100 local DPs with --all -j 8 (first push
# and a refresh), 20 DPs over one real sshd with at most -j ssh
# connections; one report line per DP; a DP that fails (full disk, a
# connection killed mid-run) fails alone and gets its retry job.

load lib/common
load lib/sshd

setup()
{
	common_setup
	mkdir -p "$T/v1/sub"
	for i in $(seq 1 40); do
		printf 'file %s\n' "$i" >"$T/v1/sub/f$i.txt"
	done
	head -c 100000 /dev/urandom >"$T/v1/setup.bin"
	cp -a "$T/v1" "$T/v2"
	echo changed >"$T/v2/sub/f7.txt"
	pkgstage add office "$T/v1" >/dev/null
	pkgstage add office "$T/v2" >/dev/null
}

# local_dps N: DPs l1..lN (group local) under $T/l.
local_dps()
{
	local i
	for i in $(seq 1 "$1"); do
		mkdir -p "$T/l/$i"
		echo "l$i local $T/l/$i"
	done >>"$PKGDIST_STORE/dps"
}

# remote_dps N: DPs r1..rN (group far) on the sshd, under $T/r.
remote_dps()
{
	local i
	for i in $(seq 1 "$1"); do
		mkdir -p "$T/r/$i"
		printf 'r%s far %s\n' "$i" "$(sshd_url "$T/r/$i")"
	done >>"$PKGDIST_STORE/dps"
}

@test "many DPs: 100 local DPs in one --all -j 8, one line each, then a refresh writes one file on each" {
	local_dps 100
	run pkgpush -j 8 --all --version 1 office
	expect_status 0
	[ "$(grep -c '^l[0-9]*: office - -> 1: 42 added' <<<"$output")" -eq 100 ]
	[ "$(wc -l <<<"$output")" -eq 100 ]
	for i in 1 50 100; do
		diff -r "$T/v1" "$T/l/$i/office"
	done
	ino=$(stat -Lc %i "$T/l/77/office/setup.bin")
	run pkgpush -j 8 --all office
	expect_status 0
	[ "$(grep -c '^l[0-9]*: office 1 -> 2: 0 added, 1 changed, 0 deleted' <<<"$output")" -eq 100 ]
	for i in 1 50 100; do
		diff -r "$T/v2" "$T/l/$i/office"
	done
	# F1 on every DP: an unchanged file keeps its inode.
	[ "$(stat -Lc %i "$T/l/77/office/setup.bin")" = "$ino" ]
	run pkgpush --status office
	[ "$(grep -c ' office 2 complete' <<<"$output")" -eq 100 ]
}

@test "many DPs: among 100, the DPs whose disks are full fail alone and get retry jobs; the other 97 complete" {
	can_mount_tmpfs || skip "cannot mount a tmpfs here (not root)"
	local_dps 100
	for i in 13 50 99; do
		mount_tmpfs "$T/l/$i" 32k
	done
	run pkgpush -j 8 --all --version 1 office
	expect_status 1
	[ "$(grep -c '^l[0-9]*: office - -> 1: 42 added' <<<"$output")" -eq 97 ]
	for i in 13 50 99; do
		grep -q "^pkgpush: l$i: .*No space left on device" <<<"$output"
		[ ! -e "$T/l/$i/office" ]
	done
	run pkgretry list
	[ "$(grep -c 'office@l' <<<"$output")" -eq 3 ]
	for i in 12 14 49 51 98 100; do
		diff -r "$T/v1" "$T/l/$i/office"
	done
}

@test "many DPs: 20 DPs over ssh in one command hold at most -j connections, one line each" {
	sshd_need
	remote_dps 20
	pkgpush -j 4 --group far --version 1 office >"$T/out" 2>&1 &
	pid=$!
	most=0
	while kill -0 "$pid" 2>/dev/null; do
		n=$(pgrep -c -P "$pid" 2>/dev/null || true)
		[ "${n:-0}" -le "$most" ] || most=$n
		sleep 0.05
	done
	rc=0
	wait "$pid" || rc=$?
	cat "$T/out"
	[ "$rc" -eq 0 ]
	echo "most ssh children at once: $most" >&3
	[ "$most" -le 4 ]
	[ "$(grep -c '^r[0-9]*: office - -> 1: 42 added' "$T/out")" -eq 20 ]
	for i in 1 10 20; do
		diff -r "$T/v1" "$T/r/$i/office"
	done
}

@test "many DPs: an ssh connection killed mid-run fails that DP alone, with a retry job; the other 19 complete" {
	sshd_need
	remote_dps 20
	# Slow enough (100 KB to each DP at 300 KiB/s for all) that the
	# connections can be seen and one killed.
	echo 'bwlimit * 300K' >"$PKGDIST_STORE/config"
	pkgpush -j 4 --group far --version 1 office >"$T/out" 2>&1 &
	pid=$!
	victim=
	for _ in $(seq 200); do
		victim=$(pgrep -P "$pid" 2>/dev/null | head -n 1 || true)
		[ -n "$victim" ] && break
		sleep 0.05
	done
	[ -n "$victim" ]
	kill -9 "$victim"
	rc=0
	wait "$pid" || rc=$?
	cat "$T/out"
	[ "$rc" -eq 1 ]
	[ "$(grep -c '^r[0-9]*: office - -> 1: 42 added' "$T/out")" -eq 19 ]
	failed=$(grep -c '^pkgpush: r[0-9]*: ' "$T/out" | head -n 1)
	[ "$failed" -ge 1 ]
	run pkgretry list
	[ "$(grep -c 'office@r' <<<"$output")" -eq 1 ]
	run pkgpush --status office
	[ "$(grep -c ' office 1 complete' <<<"$output")" -eq 19 ]
}

@test "many DPs: the DPs of one host share ssh sessions (6 DPs, -j 2: two logins), each with its own line and result" {
	sshd_need
	remote_dps 6
	sshd_count_logins
	run pkgpush -j 2 --group far --version 1 office
	expect_status 0
	[ "$(grep -c '^r[0-9]: office - -> 1: 42 added' <<<"$output")" -eq 6 ]
	[ "$(wc -l <"$T/logins")" -eq 2 ]
	for i in 1 2 3 4 5 6; do
		diff -r "$T/v1" "$T/r/$i/office"
	done
	# The refresh too, each DP from its own version.
	: >"$T/logins"
	run pkgpush -j 2 --group far office
	expect_status 0
	[ "$(grep -c '^r[0-9]: office 1 -> 2: 0 added, 1 changed' <<<"$output")" -eq 6 ]
	[ "$(wc -l <"$T/logins")" -eq 2 ]
	diff -r "$T/v2" "$T/r/6/office"
	run pkgpush --status office
	[ "$(grep -c ' office 2 complete' <<<"$output")" -eq 6 ]
}

@test "many DPs: a DP that fails inside a shared session fails alone, with a retry job; the session goes on to the next" {
	sshd_need
	remote_dps 4
	# r2's path is a file: the remote cannot open that DP.
	rm -rf "$T/r/2"
	echo 'not a directory' >"$T/r/2"
	sshd_count_logins
	run pkgpush -j 1 --group far --version 1 office
	expect_status 1
	expect_output_has "r2: "
	[ "$(grep -c '^r[134]: office - -> 1: 42 added' <<<"$output")" -eq 3 ]
	[ "$(wc -l <"$T/logins")" -eq 1 ]
	run pkgretry list
	[ "$(grep -c 'office@r2' <<<"$output")" -eq 1 ]
	diff -r "$T/v1" "$T/r/4/office"
}

@test "many DPs: a shared session cut between two DPs is replaced for the next DP, which arrives; no DP is lost" {
	sshd_need
	remote_dps 3
	sshd_count_logins
	# The session's remote is killed once it has served r1 (-j 1).
	PKGDIST_REMOTE_PKGPUSH="env PKGDIST_FAULT_SESSION=1 $PKGDIST_REMOTE_PKGPUSH" \
	    run pkgpush -j 1 --group far --version 1 office
	expect_status 0
	[ "$(grep -c '^r[123]: office - -> 1: 42 added' <<<"$output")" -eq 3 ]
	# r1's session, a new one for r2 (cut too, after r2), one for r3.
	[ "$(wc -l <"$T/logins")" -eq 3 ]
	for i in 1 2 3; do
		diff -r "$T/v1" "$T/r/$i/office"
	done
}

@test "many DPs: a remote command that refuses several paths its own way is asked again for one DP; ssh's own failure is not tried again" {
	sshd_need
	remote_dps 3
	sshd_count_logins
	# What an administrator's forced-command check might do.
	printf '#!/bin/sh\n[ "$#" -eq 2 ] || { echo "one DP a login, please" >&2; exit 1; }\nexec %s "$@"\n' \
	    "$PKGDIST_REMOTE_PKGPUSH" >"$T/checked-pkgpush"
	chmod +x "$T/checked-pkgpush"
	PKGDIST_REMOTE_PKGPUSH=$T/checked-pkgpush \
	    run pkgpush -j 1 --group far --version 1 office
	expect_status 0
	[ "$(grep -c '^r[123]: office - -> 1: 42 added' <<<"$output")" -eq 3 ]
	expect_output_lacks "one DP a login"
	[ "$(wc -l <"$T/logins")" -eq 4 ]
	# No sshd on that address: each DP fails once, with ssh's reason.
	printf 'u%s far ssh://127.0.0.2%s\n' 1 "$T/u1" 2 "$T/u2" \
	    >"$PKGDIST_STORE/dps"
	: >"$T/logins"
	run pkgpush -j 1 --group far --version 1 office
	expect_status 1
	[ "$(grep -c '^pkgpush: u[12]: ssh://127.0.0.2/.*refused' <<<"$output")" -eq 2 ]
	[ "$(wc -l <"$T/logins")" -eq 2 ]
}
