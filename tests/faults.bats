#!/usr/bin/env bats
# Injected I/O errors (fault.h) at the first and the middle operation of
# each kind a tool's main path uses, with ENOSPC, EIO and EACCES
# (tests/torture/faults.bash): a clear message naming the file, the
# tool's exit status for trouble, and nothing a client could see changed.
# Then real faults: a tiny tmpfs that fills up.  pkgpush's sweeps are in
# tests/faults-pkgpush.bats.

load lib/common
load torture/torture
load torture/faults
load torture/checks
load hostile/hostile

# ---- pkgdiff ---------------------------------------------------------

@test "faults pkgdiff scan -o: an I/O error exits 2, names the file and leaves the old output whole" {
	t_setup()
	{
		mktree src
		pkgdiff scan -j 1 src >old.manifest
		cp old.manifest out.manifest
		printf 'changed\n' >src/hello.txt
	}
	t_cmd()
	{
		pkgdiff scan -j 1 -o out.manifest src
	}
	f_check()
	{
		[ "$FAULT_RC" -eq 2 ] || torture_why "exit $FAULT_RC, not 2"
		cmp -s out.manifest old.manifest ||
		    torture_why "out.manifest changed"
		[ "$(ls -A | tr '\n' ' ')" = "old.manifest out.manifest src " ] ||
		    torture_why "debris left: $(ls -A)"
	}
	faults_run pkgdiff-scan-o pkgdiff
}

@test "faults pkgdiff verify: an I/O error reading the tree or manifest exits 2 and names the file" {
	t_setup()
	{
		mktree src
		pkgdiff scan -j 1 src >m
	}
	t_cmd()
	{
		pkgdiff verify m src
	}
	f_check()
	{
		[ "$FAULT_RC" -eq 2 ] || torture_why "exit $FAULT_RC, not 2"
	}
	faults_run pkgdiff-verify pkgdiff
}

# ---- pkgstage --------------------------------------------------------

# store_same: the store shows clients exactly what it showed before (the
# listing saved by t_setup in before.store): same versions, manifests and
# records; contents may only have been added (a commit that failed after
# moving its contents in leaves them unreferenced, for gc: removing them
# could pull a content from under a concurrent add), none removed.  It is
# fsck clean and holds no staging debris once the command has exited.
store_same()
{
	chk_fsck
	local now
	now=$(hostile_store_state)
	[ "$(grep -v ' \./objects' <<<"$now")" = "$(grep -v ' \./objects' before.store)" ] ||
	    torture_why "the store changed: $(diff before.store <(printf '%s\n' "$now") | head -8)"
	[ -z "$(comm -23 <(grep '^f .* \./objects/' before.store) <(grep '^f .* \./objects/' <<<"$now"))" ] ||
	    torture_why "contents were removed: $(comm -23 <(grep '^f .* \./objects/' before.store) <(grep '^f .* \./objects/' <<<"$now") | head -5)"
	[ -z "$(ls -A store/tmp 2>/dev/null | grep -v '\.lock$')" ] ||
	    torture_why "debris left in store/tmp: $(ls -A store/tmp)"
}

@test "faults pkgstage add: an I/O error exits 2, names the file, and the store is as before" {
	t_setup()
	{
		stage_v1_v2
		hostile_store_state >before.store
	}
	t_cmd()
	{
		pkgstage add pkg src
	}
	f_check()
	{
		[ "$FAULT_RC" -eq 2 ] || torture_why "exit $FAULT_RC, not 2"
		[ ! -s "$T/faults-out" ] ||
		    torture_why "a version number was printed: $(cat "$T/faults-out")"
		store_same
	}
	faults_run pkgstage-add pkgstage
}

@test "faults pkgstage import: an I/O error exits 2, names the file, and the store is as before" {
	t_setup()
	{
		stage_v1_v2
		pkgstage add pkg src >/dev/null
		pkgstage export pkg 2 -o v2.pack
		pkgstage export pkg 1 -o v1.pack
		rm -rf store
		pkgstage import v1.pack >/dev/null
		hostile_store_state >before.store
	}
	t_cmd()
	{
		pkgstage import v2.pack
	}
	f_check()
	{
		[ "$FAULT_RC" -eq 2 ] || torture_why "exit $FAULT_RC, not 2"
		store_same
	}
	f_done()
	{
		chk_fsck
		[ "$(chk_versions pkg)" = "1 2" ] ||
		    torture_why "versions: $(chk_versions pkg)"
	}
	faults_run pkgstage-import pkgstage
}

@test "faults pkgstage export: an I/O error exits 2, names the file, and leaves no package file" {
	t_setup()
	{
		stage_v1_v2
		pkgstage add pkg src >/dev/null
	}
	t_cmd()
	{
		pkgstage export --base 1 pkg 2 -o out.pack
	}
	f_check()
	{
		[ "$FAULT_RC" -eq 2 ] || torture_why "exit $FAULT_RC, not 2"
		[ -z "$(ls -A | grep out.pack)" ] ||
		    torture_why "a package file or its temporary was left: $(ls -A)"
	}
	faults_run pkgstage-export pkgstage
}

@test "faults pkgstage gc: an I/O error exits 2, names the file, and every version left is whole" {
	t_setup()
	{
		stage_v1_v2
		pkgstage add pkg src >/dev/null
		printf 'third\n' >src/hello.txt
		pkgstage add pkg src >/dev/null
		pkgstage show pkg 3 >want.3
	}
	t_cmd()
	{
		pkgstage gc --keep 1
	}
	f_check()
	{
		[ "$FAULT_RC" -eq 2 ] || torture_why "exit $FAULT_RC, not 2"
		chk_fsck
		cmp -s <(pkgstage show pkg 3) want.3 ||
		    torture_why "the newest version changed"
	}
	faults_run pkgstage-gc pkgstage
}

# ---- pkgretry ----------------------------------------------------------

# retry_setup: one job that fails (pkgdiff verify of a drifted tree) and
# one that succeeds; saved as jobs.before.
retry_setup()
{
	mkdir -p src store
	printf 'one\n' >src/a
	pkgdiff scan -o m.ok src
	printf 'pkgdist-manifest 1\n' >m.bad
	pkgretry add -- pkgdiff verify "$PWD/m.bad" "$PWD/src" >/dev/null
	ls store/retry | grep '^cmd-' >job.bad
	pkgretry add -- pkgdiff verify "$PWD/m.ok" "$PWD/src" >/dev/null
	ls store/retry | grep '^cmd-' | grep -vxf job.bad >job.ok
	[ -s job.bad ] && [ -s job.ok ]
}

@test "faults pkgretry run: an I/O error never loses or corrupts a job; the next run finishes the due work" {
	t_setup()
	{
		retry_setup
	}
	t_cmd()
	{
		pkgretry run --now
	}
	f_check()
	{
		[ "$FAULT_RC" -eq 1 ] || [ "$FAULT_RC" -eq 2 ] ||
		    torture_why "exit $FAULT_RC, not 1 or 2"
		# Every job is still there and parses (pkgretry list reads
		# them all), or was finished (the one that succeeds).
		local out
		out=$(pkgretry list 2>&1) || torture_why "pkgretry list: $out"
		[ -f "store/retry/$(cat job.bad)" ] ||
		    torture_why "the failing job was lost: $(ls store/retry)"
		# The next run leaves exactly the failing job, its attempts
		# counted.
		pkgretry run --now >/dev/null 2>&1
		[ "$(ls store/retry | grep -c '^cmd-')" -eq 1 ] ||
		    torture_why "after the next run: $(ls store/retry)"
		grep -q '^arg .*m\.bad$' store/retry/cmd-* ||
		    torture_why "the job left is not the failing one"
	}
	# The job's pkgdiff inherits the fault: its messages count too.
	# One job fails by design: the run without faults exits 1.
	FAULTS_REF_RC=1
	faults_run pkgretry-run 'pkg\(retry\|diff\)'
}

# ---- real faults: a tiny tmpfs that fills up ---------------------------

# big_v2 DIR: version 1 (small) and version 2 (adds 600 KiB of random
# bytes, which no compression shrinks) staged from DIR.
big_v2()
{
	mkdir -p "$1/sub"
	printf 'one\n' >"$1/a"
	printf 'two\n' >"$1/sub/b"
	pkgstage add pkg "$1" >/dev/null
	head -c 614400 /dev/urandom >"$1/sub/big.bin"
	printf 'one changed\n' >"$1/a"
	pkgstage add pkg "$1" >/dev/null
	chk_store_manifest pkg 1 "$T/want.1"
	chk_store_manifest pkg 2 "$T/want.2"
}

@test "faults tmpfs: a DP that fills up mid-push stays at its old version, whole, exit 1, retry queued; the retry completes once there is room" {
	mount_tmpfs "$T/dp1" 256k
	mount_tmpfs "$T/dp2" 256k
	big_v2 "$T/src"
	dps dp1 dp2
	pkgpush --version 1 --dp dp1 pkg >/dev/null
	pkgpush --inplace --version 1 --dp dp2 pkg >/dev/null
	run pkgpush --dp dp1 pkg
	expect_status 1
	expect_output_has "pkgpush: dp1: "
	expect_output_has "No space left on device"
	chk_tree_is "$T/dp1/pkg" "$T/want.1"
	[ -z "$(ls -d "$T"/dp1/.pkgdist/pkg/tmp.* 2>/dev/null)" ]
	[ -f "$PKGDIST_STORE/retry/pkg@dp1" ]
	run pkgpush --inplace --dp dp2 pkg
	expect_status 1
	expect_output_has "pkgpush: dp2: "
	expect_output_has "No space left on device"
	# Exactly as it was: files, and the times of the directories that
	# held the temporaries.
	chk_tree_is "$T/dp2/pkg" "$T/want.1"
	[ -z "$(find "$T/dp2/pkg" -name '.pkgdist-tmp-*')" ]
	[ -f "$PKGDIST_STORE/retry/pkg@dp2" ]
	# Room again: the queued retries complete both DPs.
	mount -o remount,size=4m "$T/dp1"
	mount -o remount,size=4m "$T/dp2"
	run pkgretry run --now
	expect_status 0
	chk_tree_is "$T/dp1/pkg" "$T/want.2"
	chk_tree_is "$T/dp2/pkg" "$T/want.2"
	[ -z "$(ls "$PKGDIST_STORE/retry" | grep @)" ]
}

@test "faults tmpfs: a store that fills up refuses add and import with exit 2 and stays fsck clean with its old versions" {
	mount_tmpfs "$T/small" 512k
	export PKGDIST_STORE=$T/small/store
	mkdir -p "$T/src/sub"
	printf 'one\n' >"$T/src/a"
	pkgstage add pkg "$T/src" >/dev/null
	local before
	before=$(hostile_store_state)
	head -c 819200 /dev/urandom >"$T/src/sub/big.bin"
	run pkgstage add pkg "$T/src"
	expect_status 2
	expect_output_has "pkgstage: "
	expect_output_has "No space left on device"
	chk_fsck
	[ "$(chk_versions pkg)" = 1 ]
	[ "$(hostile_store_state)" = "$before" ]
	[ -z "$(ls -A "$PKGDIST_STORE/tmp" | grep -v '\.lock$')" ]
	# The same version as a package file, imported: the same refusal.
	PKGDIST_STORE=$T/big pkgstage add pkg "$T/src" >/dev/null
	PKGDIST_STORE=$T/big pkgstage add pkg "$T/src" >/dev/null
	PKGDIST_STORE=$T/big pkgstage export pkg 2 -o "$T/v2.pack"
	run pkgstage import "$T/v2.pack"
	expect_status 2
	expect_output_has "No space left on device"
	chk_fsck
	[ "$(chk_versions pkg)" = 1 ]
	[ "$(hostile_store_state)" = "$before" ]
	# An export to a full file system leaves no partial package file.
	run pkgstage -s "$T/big" export pkg 2 -o "$T/small/out.pack"
	expect_status 2
	expect_output_has "No space left on device"
	[ -z "$(ls -A "$T/small" | grep out.pack)" ]
}
