#!/usr/bin/env bats
# Bandwidth caps on remote DPs, through a real sshd on loopback: the
# bwlimit lines of STORE/config (a target's own, its group's, "*" for the
# command's total) and pkgpush --bwlimit.  A cap is a steady rate: N bytes
# under a cap C take at least N / C - 1 seconds, and not much more.

load lib/common
load lib/sshd

setup()
{
	common_setup
	sshd_need
	export PKGDIST_REMOTE_STATS=$T/stats
	export PKGDIST_SSH_TIMEOUT=30
	# 6 MiB that zlib cannot shrink, so 6 MiB cross the connection.
	mkdir -p "$T/src"
	head -c $((6 * 1024 * 1024)) /dev/urandom >"$T/src/big.bin"
	echo small >"$T/src/readme.txt"
	pkgstage add office "$T/src" >/dev/null
	for n in 1 2 3 4; do
		mkdir -p "$T/r$n"
	done
}

# dps_remote N...: DPs rN (group far) on the sshd, one a line.
dps_remote()
{
	local n
	for n in "$@"; do
		printf 'r%s far %s\n' "$n" "$(sshd_url "$T/r$n")"
	done >"$PKGDIST_STORE/dps"
}

# timed CMD...: run CMD, leaving its exit status in $status, its output in
# $output and the wall time in whole milliseconds in $ms.
timed()
{
	local t0 t1
	t0=$(date +%s%N)
	run "$@"
	t1=$(date +%s%N)
	ms=$(((t1 - t0) / 1000000))
}

# sent: the bytes the last remote session sent.
sent()
{
	tail -n 1 "$T/stats" | awk '{ for (i = 2; i < NF; i++) if ($i == "sent") print $(i + 1) }'
}

# hhmm OFFSET_MINUTES: the local time OFFSET minutes from now, as HH:MM.
hhmm()
{
	date -d "@$(($(date +%s) + $1 * 60))" +%H:%M
}

@test "bwlimit: a 6 MiB push under --bwlimit 1M takes 5 to 7 s, and far less without it" {
	dps_remote 1 2
	timed pkgpush --dp r1 office
	expect_status 0
	free_ms=$ms
	timed pkgpush --bwlimit 1M --dp r2 office
	expect_status 0
	echo "uncapped ${free_ms} ms, capped ${ms} ms, sent $(sent)" >&3
	[ "$(sent)" -ge $((6 * 1024 * 1024)) ]
	# At most 7 s of transfer, plus what the uncapped push took (the
	# ssh handshake and the work on both sides, which a loaded machine
	# slows).
	[ "$ms" -ge 5000 ] && [ "$ms" -le $((7000 + free_ms)) ]
	[ "$free_ms" -lt 5000 ]
	cmp "$T/src/big.bin" "$T/r2/office/big.bin"
}

@test "bwlimit: a target's own line in STORE/config caps it; another target is not held back" {
	dps_remote 1 2
	echo 'bwlimit r1 1M' >"$PKGDIST_STORE/config"
	timed pkgpush --dp r2 office
	expect_status 0
	[ "$ms" -lt 5000 ]
	timed pkgpush --dp r1 office
	expect_status 0
	[ "$ms" -ge 5000 ] && [ "$ms" -le 12000 ]
	expect_output_lacks "not enforced"
}

@test "bwlimit: the group's line caps its members; the name's line wins over it" {
	dps_remote 1 2
	printf 'bwlimit far 1M\nbwlimit r2 64M\n' >"$PKGDIST_STORE/config"
	timed pkgpush --dp r1 office
	expect_status 0
	[ "$ms" -ge 5000 ] && [ "$ms" -le 12000 ]
	timed pkgpush --dp r2 office
	expect_status 0
	[ "$ms" -lt 5000 ]
}

@test "bwlimit: a line whose window does not hold now does not throttle; one that holds does" {
	dps_remote 1 2
	# A window that closed a minute ago and opens again in two hours.
	echo "bwlimit r1 1M $(hhmm 120)-$(hhmm -1)" >"$PKGDIST_STORE/config"
	timed pkgpush --dp r1 office
	expect_status 0
	[ "$ms" -lt 5000 ]
	# A window around now (it may run past midnight).
	echo "bwlimit r2 1M $(hhmm -10)-$(hhmm 30)" >"$PKGDIST_STORE/config"
	timed pkgpush --dp r2 office
	expect_status 0
	[ "$ms" -ge 5000 ] && [ "$ms" -le 12000 ]
}

@test "bwlimit: a '*' line caps the command's total across -j 4" {
	dps_remote 1 2 3 4
	mkdir -p "$T/src2"
	head -c $((3 * 1024 * 1024 / 2)) /dev/urandom >"$T/src2/part.bin"
	pkgstage add tools "$T/src2" >/dev/null
	echo 'bwlimit * 1M' >"$PKGDIST_STORE/config"
	# 4 x 1.5 MiB = 6 MiB through one 1 MiB/s cap, four at a time.
	timed pkgpush -j 4 --all tools
	expect_status 0
	echo "4 DPs at once under '*' 1M: ${ms} ms" >&3
	[ "$ms" -ge 5000 ] && [ "$ms" -le 15000 ]
	for n in 1 2 3 4; do
		cmp "$T/src2/part.bin" "$T/r$n/tools/part.bin"
	done
}

@test "bwlimit: --bwlimit survives into the retry job of a remote DP that failed" {
	printf 'r1 far %s\n' "$(sshd_url "$T/missing/dp")" >"$PKGDIST_STORE/dps"
	export PKGDIST_REMOTE_PKGPUSH=/nonexistent/pkgpush
	run pkgpush --bwlimit 512K --dp r1 office
	expect_status 1
	run pkgretry list
	expect_status 0
	expect_output_has "--bwlimit 512K"
}

@test "bwlimit: a bad rate is refused, naming the value (exit 2)" {
	dps_remote 1
	run pkgpush --bwlimit 4X --dp r1 office
	expect_status 2
	expect_output_has "'4X' is not a rate"
	[ ! -e "$T/r1/office" ]
	echo 'bwlimit r1 fast' >"$PKGDIST_STORE/config"
	run pkgpush --dp r1 office
	expect_status 2
	expect_output_has "config:1"
	[ ! -e "$T/r1/office" ]
}

@test "bwlimit: the progress line on a terminal shows the cap in effect" {
	command -v python3 >/dev/null || skip "python3 not installed"
	dps_remote 1
	echo 'bwlimit * 2M' >"$PKGDIST_STORE/config"
	PKGDIST_PROGRESS=1 run python3 "$PKGDIST_SRC/tests/lib/onpty.py" \
	    "$T/tty" pkgpush --dp r1 office
	expect_status 0
	grep -aq 'cap 2 MiB/s' "$T/tty"
	# Not on a terminal: no progress line, no cap shown.
	run pkgpush --dp r1 --version 1 office
	expect_output_lacks "cap 2"
}
