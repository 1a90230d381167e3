#!/usr/bin/env bats
# The demo (make demo) runs end to end without a terminal, as in CI.

load lib/common

@test "demo: the main job runs end to end and every check in it holds" {
	need_cmd flock
	b=${PKGDIST_BUILD:-$(dirname "$PKGDIST_BIN")}
	TMPDIR=$T run sh "$PKGDIST_SRC/scripts/demo" "$b" </dev/null
	expect_status 0
	expect_output_has "pkgretry list"
	expect_output_has "--refresh-existing"
	expect_output_has "ok: data7.cab was not rewritten"
	expect_output_has "ok: the client's open file still held version 1, whole"
	expect_output_has "demo done"
	# It cleaned up after itself.
	[ -z "$(ls "$T" | grep pkgdist-demo)" ]
}
