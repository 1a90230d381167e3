#!/usr/bin/env bats
# pkgpush: a file name or DP path holding a newline (or bytes that are
# not UTF-8) never puts a raw newline into a message, the DP's recorded
# error or a --status line: it is shown escaped (\012), so no line can
# be forged.

load lib/common
load lib/pkgpush

FORGED=$'x\ndp9 office 7 partial from 6: forged'

setup()
{
	common_setup
	need_cmd flock
	vtree "$T/v1" 1
	vtree "$T/v2" 2
	printf 'one\n' >"$T/v1/$FORGED"
	printf 'two\n' >"$T/v2/$FORGED"
	chmod 0444 "$T/v1/$FORGED" "$T/v2/$FORGED"
	stage "$T/v1"
	stage "$T/v2"
	dps dp1
}

@test "pkgpush: a file in use whose name holds a newline: the message, the state and --status stay one line each" {
	pkgpush --inplace --dp dp1 --version 1 office
	hold_flock "$T/dp1/office/$FORGED"
	pkgpush --inplace --dp dp1 office >"$T/out" 2>"$T/err" && rc=0 || rc=$?
	release_holder
	[ "$rc" -eq 1 ]
	cat "$T/err"
	# Every line of stderr is a message of pkgpush's.
	! grep -v '^pkgpush: ' "$T/err" || false
	grep -q 'x\\012dp9\\040office\\0407\\040partial.*forged: file in use' "$T/err"
	pkgpush --status office >"$T/status" || true
	cat "$T/status"
	[ "$(wc -l <"$T/status")" -eq 1 ]
	grep -q '^dp1 office 2 partial from 1: .*x\\012dp9' "$T/status"
	! grep -q '^dp9' "$T/status" || false
	# The retry job's last error, too.
	pkgretry list >"$T/jobs"
	! grep -q '^dp9' "$T/jobs" || false
}

@test "pkgpush: a DP path with a newline is shown escaped in its messages and --status" {
	mkdir -p "$T/a"$'\n'"dp9 office 1 complete"
	printf 'dp1 g %s\n' "$T/a\\012dp9\\040office\\0401\\040complete/gone" \
	    >"$PKGDIST_STORE/dps"
	run pkgpush --dp dp1 office
	expect_status 1
	[ "${#lines[@]}" -eq 2 ]	# the failure, the retry queued
	expect_output_has 'a\012dp9\040office\0401\040complete/gone: No such file'
	pkgpush --status office >"$T/status" || true
	cat "$T/status"
	[ "$(wc -l <"$T/status")" -eq 1 ]
	! grep -q '^dp9' "$T/status" || false
}
