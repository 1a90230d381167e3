#!/usr/bin/env bats
# The demo (make demo) runs end to end without a terminal, as in CI.

load lib/common

# run_demo: the demo of the build under test, in $T, no terminal.
run_demo()
{
	need_cmd flock
	b=${PKGDIST_BUILD:-$(dirname "$PKGDIST_BIN")}
	TMPDIR=$T run sh "$PKGDIST_SRC/scripts/demo" "$b" </dev/null
	expect_status 0
}

@test "demo: the main job runs end to end and every check in it holds" {
	run_demo
	expect_output_has "pkgretry list"
	expect_output_has "--refresh-existing"
	expect_output_has "ok: data7.cab was not rewritten"
	expect_output_has "ok: the client's open file still held version 1, whole"
	expect_output_has "demo done"
	# It cleaned up after itself, and said so.
	[ -z "$(ls "$T" | grep pkgdist-demo)" ]
	expect_output_has "demo: removed $T/pkgdist-demo."
}

@test "demo: it says where its store and DPs are, and DEMO_KEEP=1 keeps them" {
	need_cmd flock
	b=${PKGDIST_BUILD:-$(dirname "$PKGDIST_BIN")}
	DEMO_KEEP=1 TMPDIR=$T run sh "$PKGDIST_SRC/scripts/demo" "$b" </dev/null
	expect_status 0
	w=$(ls -d "$T"/pkgdist-demo.*)
	expect_output_has "the store (PKGDIST_STORE): $w/store, created by the first pkgstage add"
	expect_output_has "the DPs: $w/dp1, $w/dp2, $w/dp3"
	expect_output_has "demo: kept $w (the store is $w/store"
	[ -f "$w/store/format" ]
	PKGDIST_STORE=$w/store run pkgpush --status office97
	expect_status 0
	expect_output_has "dp3 office97 3 complete newest 3"
}

@test "demo: pkgdist-cron finds a DP edited by hand and the repair it names clears it" {
	run_demo
	expect_output_has "pkgpush --verify --dp dp2 --version 2 office97"
	expect_output_has "ok: pkgdist-cron exited 1 and named dp2's edited file"
	expect_output_has "dp2: office97 2 -> 2: 0 added, 1 changed"
}

@test "demo: pkgdist-cron finds the DPs a push to one DP left behind" {
	run_demo
	expect_output_has "ok: pkgdist-cron exited 1 and named dp2 and dp3 as behind"
	expect_output_has "dp3: office97 2 -> 3: 0 added, 1 changed"
}

@test "make demo: one line says what is built, no compiler line (V=1 shows them)" {
	need_cmd flock make cc
	mkdir "$T/src"
	cp -a "$PKGDIST_SRC/Makefile" "$PKGDIST_SRC/common" "$PKGDIST_SRC/cmd" \
	    "$PKGDIST_SRC/scripts" "$PKGDIST_SRC/man" "$T/src/"
	TMPDIR=$T run make --no-print-directory -C "$T/src" demo </dev/null
	expect_status 0
	[ "${lines[0]}" = "make demo: building pkgdiff, pkgstage, pkgpush and pkgretry in build/ (make V=1 demo shows the compiler lines)" ] ||
	    [[ "${lines[0]}" == "bootstrap: "* ]]
	expect_output_has "make demo: building pkgdiff, pkgstage, pkgpush and pkgretry in build/"
	expect_output_lacks " -c -o build/"
	expect_output_lacks "ar rcs"
	expect_output_has "demo done"
	# V=1: the compiler lines of a plain make.
	run make --no-print-directory -n -C "$T/src" V=1 demo
	expect_output_has " B=build all"
	expect_output_lacks "-s B=build all"
	run make --no-print-directory -n -C "$T/src" demo
	expect_output_has "make -s B=build all"
}
