#!/usr/bin/env bats
# Injected I/O errors (fault.h) in pkgpush, both layouts: ENOSPC, EIO and
# EACCES at the first and the middle operation of each kind
# (tests/torture/faults.bash).  A DP whose push fails is left at its old
# version (atomic) or with every file whole and a mix marked partial (in
# place), a retry is queued and completes; exit 1.  (tests/faults.bats
# has the other tools and the real faults; split to keep each file short.)

load lib/common
load torture/torture
load torture/faults
load torture/checks
load hostile/hostile

# ---- pkgpush ---------------------------------------------------------

# push_v1_v2 [--inplace]: versions 1 and 2 in the store, dp1 and dp2 at
# version 1 (in that layout), want.1 and want.2 their normalised
# manifests.
push_v1_v2()
{
	stage_v1_v2
	mkdir -p "src/new dir"
	printf 'new\n' >"src/new dir/file"
	pkgstage add pkg src >/dev/null
	chk_store_manifest pkg 1 want.1
	chk_store_manifest pkg 2 want.2
	mkdir -p dp1 dp2
	printf 'dp1 g %s/dp1\ndp2 g %s/dp2\n' "$PWD" "$PWD" >store/dps
	pkgpush $1 -j 1 --version 1 --dp dp1 --dp dp2 pkg >/dev/null
}

# push_failed_ok CHECK: after a failed push: exit 2 leaves both DPs at
# version 1 with no job queued; exit 1 leaves each DP as CHECK accepts
# (dp OLD NEW), a DP not at version 2 has its retry job, and running the
# jobs brings every DP to version 2.
push_failed_ok()
{
	local d
	case $FAULT_RC in
	2)
		for d in dp1 dp2; do
			chk_tree_is $d/pkg want.1 ||
			    torture_why "exit 2, yet $d/pkg is not at version 1"
		done
		[ -z "$(ls store/retry 2>/dev/null | grep @)" ] ||
		    torture_why "exit 2, yet jobs were queued: $(ls store/retry)"
		;;
	1)
		for d in dp1 dp2; do
			"$1" $d want.1 want.2
			chk_tree_is $d/pkg want.2 || [ -f store/retry/pkg@$d ] ||
			    torture_why "$d failed but no retry job was queued: $(ls store/retry)"
		done
		pkgretry run --now >/dev/null 2>"$T/retry.err" ||
		    torture_why "pkgretry run failed: $(cat "$T/retry.err")"
		for d in dp1 dp2; do
			chk_tree_is $d/pkg want.2 ||
			    torture_why "$d/pkg is not at version 2 after the retry"
		done
		;;
	*)
		torture_why "exit $FAULT_RC, not 1 (a DP failed) or 2 (trouble)"
		;;
	esac
}

# push_done: exit 0 although an operation failed is accepted only when
# every DP is at version 2 and the error was reported as a warning (the
# store's holdings record, written after the DP is complete).
push_done()
{
	local d
	for d in dp1 dp2; do
		chk_tree_is $d/pkg want.2 ||
		    torture_why "exit 0, yet $d/pkg is not at version 2"
	done
	faults_message_ok pkgpush "${FAULT##*:}" "$FAULT_ERR" ||
	    torture_why "exit 0 and no warning on stderr"
}

@test "faults pkgpush atomic: an I/O error leaves the DP at its old version whole, names the file, exits 1 with a retry that completes" {
	t_setup()
	{
		push_v1_v2 ""
	}
	t_cmd()
	{
		pkgpush -j 1 --dp dp1 --dp dp2 pkg
	}
	dp_whole()
	{
		chk_dp_old_or_new "$@"
		! ls -d "$1"/.pkgdist/pkg/tmp.* >/dev/null 2>&1 ||
		    torture_why "debris left: $(ls "$1"/.pkgdist/pkg)"
	}
	f_check()
	{
		push_failed_ok dp_whole
	}
	f_done()
	{
		push_done
	}
	faults_run pkgpush-atomic pkgpush
}

@test "faults pkgpush --inplace: an I/O error leaves every file whole, no temporary, nothing deleted, exits 1 with a retry that completes" {
	t_setup()
	{
		push_v1_v2 --inplace
	}
	t_cmd()
	{
		pkgpush --inplace -j 1 --dp dp1 --dp dp2 pkg
	}
	dp_whole()
	{
		chk_inplace_ok "$@"
		[ -z "$(find "$1/pkg" -name '.pkgdist-tmp-*')" ] ||
		    torture_why "temporaries left visible: $(find "$1/pkg" -name '.pkgdist-tmp-*')"
	}
	f_check()
	{
		push_failed_ok dp_whole
	}
	f_done()
	{
		push_done
	}
	faults_run pkgpush-inplace pkgpush
}

@test "faults pkgpush --inplace: a push that fails before any replacement leaves the DP's directory times as they were" {
	mkdir -p "$T/src/sub" "$T/dp"
	printf 'one\n' >"$T/src/sub/a"
	touch -d @1600000000 "$T/src/sub"
	pkgstage add pkg "$T/src" >/dev/null
	printf 'two\n' >"$T/src/sub/a"
	touch -d @1600000000 "$T/src/sub"
	pkgstage add pkg "$T/src" >/dev/null
	dps dp
	pkgpush --inplace --version 1 --dp dp pkg >/dev/null
	pkgdiff verify "$T/dp/.pkgdist/pkg/manifest" "$T/dp/pkg"
	# The write of the temporary for sub/a fails: nothing is replaced,
	# the push fails.
	local n
	for n in 1 2 3 4 5 6; do
		run env PKGDIST_FAULT=write:$n:ENOSPC pkgpush --inplace --dp dp pkg
		[[ "$output" != *"cannot write '$T/dp/pkg/sub/a'"* ]] || break
	done
	expect_status 1
	expect_output_has "cannot write '$T/dp/pkg/sub/a'"
	run pkgdiff verify "$T/dp/.pkgdist/pkg/manifest" "$T/dp/pkg"
	expect_status 0
}
