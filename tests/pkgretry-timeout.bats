#!/usr/bin/env bats
# pkgretry run --timeout: a job's command that hangs (a push waiting on a
# DP whose lock is never freed, a call stuck on a dead NFS server) is
# stopped, its attempt counts as failed, the backoff applies, the job
# stays queued.  Real hanging children: a DP lock held by this test, and
# the fault hook's "hang" (deaf to every signal but SIGKILL).  The job
# times come from the injected clock (PKGDIST_NOW); the limits are real
# seconds, kept at 1 s.

load lib/common

NOW=2000000000

setup()
{
	common_setup
	mkdir -p "$T/src"
	printf 'one\n' >"$T/src/a"
	pkgstage add office "$T/src" >/dev/null
	dps dp1
	pkgpush --dp dp1 office >/dev/null
	printf 'two\n' >"$T/src/a"
	pkgstage add office "$T/src" >/dev/null
	PKGDIST_NOW=$NOW pkgretry add -- pkgpush --version 2 --only dp1 \
	    --dp dp1 office >/dev/null
	JOB=$PKGDIST_STORE/retry/office@dp1
	[ -f "$JOB" ]
}

teardown()
{
	exec 9>&- || true
	common_teardown
}

field()
{
	sed -n "s/^$1 //p" "$JOB"
}

# hold_dp_lock: this shell holds dp1's lock (fd 9) until teardown.
hold_dp_lock()
{
	exec 9>"$T/dp1/.pkgdist/.lock"
	flock -x 9
}

@test "pkgretry: --timeout values are checked; usage shows it" {
	run pkgretry -h
	expect_output_has "[--timeout time[:grace]]"
	for bad in 0 x 1x 1s: :1s 1s:0 -1; do
		run pkgretry run --timeout "$bad"
		expect_status 2
		expect_output_has "usage:"
	done
	run pkgretry list --timeout 1s
	expect_status 2
	printf 'timeout soon\n' >"$PKGDIST_STORE/retry/config"
	run pkgretry run
	expect_status 2
	expect_output_has "config:1: bad timeout 'soon'"
	[ "$(field attempts)" -eq 0 ]
}

@test "pkgretry: a job past its time limit gets SIGTERM, fails this attempt, keeps its job with the backoff" {
	hold_dp_lock
	PKGDIST_NOW=$NOW run pkgretry run --timeout 1s:1s
	expect_status 1
	expect_output_has "office@dp1: failed (timed out after 1s: stopped by SIGTERM): attempt 1 of 10"
	expect_output_has "(in 60s)"
	[ "$(field attempts)" -eq 1 ]
	[ "$(field next)" -eq $((NOW + 60)) ]
	[[ $(field error) == *timed\\040out\\040after\\0401s* ]]
	# The DP was left at its old version.
	grep -qx one "$T/dp1/office/a"
	# Once the lock is free, the next attempt (at its time) succeeds.
	exec 9>&-
	PKGDIST_NOW=$((NOW + 59)) run pkgretry run --timeout 1s:1s
	expect_status 0
	[ -z "$output" ]
	PKGDIST_NOW=$((NOW + 60)) run pkgretry run --timeout 1s:1s
	expect_status 0
	expect_output_has "office@dp1: done (exit 0)"
	[ ! -e "$JOB" ]
	grep -qx two "$T/dp1/office/a"
}

@test "pkgretry: a job deaf to SIGTERM is killed with SIGKILL after the grace; the job is kept" {
	# The fault hook hangs pkgpush as it would switch the DP's link
	# (pkgretry itself makes no symbolic link).
	PKGDIST_FAULT=symlink:1:hang PKGDIST_NOW=$NOW run pkgretry run \
	    --timeout 1s:1s
	expect_status 1
	expect_output_has "failed (timed out after 1s: killed by SIGKILL, 1s after SIGTERM): attempt 1 of 10"
	[ "$(field attempts)" -eq 1 ]
	[ "$(field next)" -eq $((NOW + 60)) ]
	grep -qx one "$T/dp1/office/a"
	PKGDIST_NOW=$((NOW + 60)) run pkgretry run
	expect_status 0
	expect_output_has "done (exit 0)"
	grep -qx two "$T/dp1/office/a"
}

@test "pkgretry: the time limit comes from STORE/retry/config; the command line wins" {
	hold_dp_lock
	printf 'timeout 1s:1s\n' >"$PKGDIST_STORE/retry/config"
	PKGDIST_NOW=$NOW run pkgretry run
	expect_status 1
	expect_output_has "timed out after 1s: stopped by SIGTERM"
	printf 'timeout 1h\n' >"$PKGDIST_STORE/retry/config"
	PKGDIST_NOW=$((NOW + 60)) run pkgretry run --timeout 2s:1s
	expect_status 1
	expect_output_has "timed out after 2s: stopped by SIGTERM): attempt 2 of 10"
	[ "$(field attempts)" -eq 2 ]
}

@test "pkgretry: SIGTERM to pkgretry run reaches the job's command in its own process group" {
	hold_dp_lock
	PKGDIST_NOW=$NOW pkgretry run --timeout 1h >"$T/out" 2>&1 &
	pid=$!
	# Wait (bounded) for the job's pkgpush to be started.
	for i in $(seq 1 100); do
		child=$(cat "/proc/$pid/task/$pid/children" 2>/dev/null | tr -d ' ')
		[ -n "$child" ] && grep -q pkgpush "/proc/$child/cmdline" 2>/dev/null && break
		sleep 0.1
	done
	[ -n "$child" ]
	# Its own group: pkgretry's signals do not reach it by themselves.
	[ "$(ps -o pgid= -p "$child" | tr -d ' ')" = "$child" ]
	kill -TERM "$pid"
	wait "$pid" || true
	for i in $(seq 1 100); do
		kill -0 "$child" 2>/dev/null || break
		sleep 0.1
	done
	! kill -0 "$child" 2>/dev/null || false
	# pkgretry died of the signal before recording anything: the job
	# is as it was, whole.
	[ "$(field attempts)" -eq 0 ]
}
