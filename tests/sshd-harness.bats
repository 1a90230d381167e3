#!/usr/bin/env bats
# The test sshd (tests/lib/sshd.bash) that the remote DP tests rely on.

load lib/common
load lib/sshd

@test "sshd harness: a command runs on the test sshd through \$PKGDIST_SSH" {
	run $PKGDIST_SSH "$SSHD_HOST" echo hello from sshd
	expect_status 0
	[ "$output" = "hello from sshd" ]
}

@test "sshd harness: the remote command's exit status comes back unchanged" {
	run $PKGDIST_SSH "$SSHD_HOST" 'exit 3'
	expect_status 3
}

@test "sshd harness: stdin and stdout carry binary data both ways intact" {
	head -c 300000 /dev/urandom >"$T/in"
	$PKGDIST_SSH "$SSHD_HOST" cat <"$T/in" >"$T/out"
	cmp "$T/in" "$T/out"
}

@test "sshd harness: PKGDIST_REMOTE_PKGPUSH names the pkgpush of the build under test" {
	[ "$PKGDIST_REMOTE_PKGPUSH" = "$PKGDIST_BIN/pkgpush" ]
}
