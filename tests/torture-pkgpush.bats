#!/usr/bin/env bats
# Crash consistency of pkgpush (tests/torture/torture.bash): a push is
# killed (SIGKILL through the fault hook) at every fault-injectable
# operation, or an even sample of them.  Atomic layout: every DP is
# exactly at its old or its new version, whole.  In-place layout (where a
# mix is allowed by design): every file is whole (its old or its new
# content), nothing is deleted before every replacement is done, and a
# DP that is neither old nor new says "partial" in its state.  Then the
# next push completes: every DP exactly at the new version.

load lib/common
load torture/torture
load torture/checks

setup()
{
	common_setup
	[ -x "$PKGDIST_BIN/pkgpush" ] && [ -x "$PKGDIST_BIN/pkgstage" ] ||
	    skip "pkgpush or pkgstage is not built yet"
}

# push_setup LAYOUTFLAG: versions 1 and 2 in the store (2 changes,
# adds and removes files, adds a directory and removes one), DP dp1 at
# version 1 (with LAYOUTFLAG, "" or --inplace), dp2 empty;
# want.1 and want.2 the normalised manifests (checks.bash).
push_setup()
{
	mktree src
	mkdir -p "src/gone dir"
	printf 'gone\n' >"src/gone dir/file"
	pkgstage add pkg src >/dev/null
	printf 'changed\n' >src/hello.txt
	printf 'changed too\n' >"src/sub dir/deeper/deepest/leaf.txt"
	printf 'added\n' >"src/sub dir/added"
	rm "src/read me.txt"
	rm -r "src/gone dir"
	mkdir -p src/newdir
	printf 'new dir file\n' >src/newdir/file
	pkgstage add pkg src >/dev/null
	chk_store_manifest pkg 1 want.1
	chk_store_manifest pkg 2 want.2
	mkdir -p dp1 dp2
	printf 'dp1 g %s/dp1\ndp2 g %s/dp2\n' "$PWD" "$PWD" >store/dps
	pkgpush $1 -j 1 --version 1 --dp dp1 pkg >/dev/null
}

@test "torture pkgpush atomic: a crash at any point leaves each DP exactly at its old or new version; the next push completes" {
	t_setup()
	{
		push_setup ""
	}
	t_cmd()
	{
		pkgpush -j 1 --dp dp1 --dp dp2 pkg >/dev/null
	}
	t_invariant()
	{
		chk_dp_old_or_new dp1
		# Its manifest is right too, the crash between the switch of
		# the link and the record included.
		chk_dp_manifest dp1
		# A DP without the package has it whole or not at all.
		[ ! -e dp2/pkg ] && [ ! -L dp2/pkg ] ||
		    chk_tree_is dp2/pkg want.2 ||
		    torture_why "dp2/pkg is there but not version 2"
		[ ! -L dp2/pkg ] || chk_dp_manifest dp2
	}
	t_complete()
	{
		local d
		for d in dp1 dp2; do
			chk_tree_is $d/pkg want.2 ||
			    torture_why "$d/pkg is not version 2 after the next push"
			[ -L $d/pkg ] || torture_why "$d/pkg is not a link"
			# Debris of the crash is gone.
			! ls -d $d/.pkgdist/pkg/tmp.* >/dev/null 2>&1 ||
			    torture_why "debris left in $d/.pkgdist/pkg: $(ls $d/.pkgdist/pkg)"
		done
	}
	torture_run pkgpush-atomic
}

@test "torture pkgpush --keep after a rollback: a crash at any point never removes the tree live before, nor leaves a wrong manifest; the next push keeps it" {
	t_setup()
	{
		push_setup ""
		# dp1: version 2, then back to version 1 (v1.1 live again,
		# v2.1 kept); version 3 staged.
		pkgpush -j 1 --dp dp1 pkg >/dev/null
		pkgpush -j 1 --rollback --version 1 --dp dp1 pkg >/dev/null
		printf 'third\n' >src/hello.txt
		pkgstage add pkg src >/dev/null
		chk_store_manifest pkg 3 want.3
	}
	t_cmd()
	{
		pkgpush -j 1 --dp dp1 pkg >/dev/null
	}
	t_invariant()
	{
		chk_dp_old_or_new dp1 want.1 want.3
		chk_dp_manifest dp1
		# The tree live until this push is never pruned.
		chk_tree_is dp1/.pkgdist/pkg/v1.1 want.1 ||
		    torture_why "v1.1, live before the push, is gone or not whole: $(ls dp1/.pkgdist/pkg)"
	}
	t_complete()
	{
		chk_tree_is dp1/pkg want.3 ||
		    torture_why "dp1/pkg is not version 3 after the next push"
		chk_dp_manifest dp1
		chk_tree_is dp1/.pkgdist/pkg/v1.1 want.1 ||
		    torture_why "v1.1, live before version 3, was not kept"
		[ ! -e dp1/.pkgdist/pkg/v2.1 ] ||
		    torture_why "v2.1 kept: it was live before v1.1, beyond --keep 2"
	}
	torture_run pkgpush-keep
}

@test "torture pkgpush spare: a crash at any point while the tree beyond --keep becomes the spare leaves the DP at its old or new version; the next push completes, from a spare that mirrors the tree" {
	t_setup()
	{
		push_setup ""
		# dp1 at version 2, version 1 kept; versions 3 and 4 have the
		# contents of 1 and 2 again, so the spare made of v1.1 must hold
		# version 3's inodes, not its own.
		rm -rf src1 && mkdir src1
		cp -a dp1/pkg/. src1/
		pkgpush -j 1 --dp dp1 pkg >/dev/null
		pkgstage add pkg src1 >/dev/null
		pkgstage add pkg src >/dev/null
		chk_store_manifest pkg 3 want.3
		chk_store_manifest pkg 4 want.4
		rm -rf src1
	}
	t_cmd()
	{
		pkgpush -j 1 --version 3 --dp dp1 pkg >/dev/null
	}
	t_invariant()
	{
		chk_dp_old_or_new dp1 want.2 want.3
		chk_dp_manifest dp1
	}
	t_complete()
	{
		local m=dp1/.pkgdist/pkg s
		chk_tree_is dp1/pkg want.3 ||
		    torture_why "dp1/pkg is not version 3 after the next push"
		! ls -d $m/tmp.* >/dev/null 2>&1 ||
		    torture_why "debris left in $m: $(ls $m)"
		for s in $m/spare.*; do
			[ -e "$s" ] || continue
			[ "$s" = "$m/spare.$(readlink dp1/pkg | sed 's|.*/||')" ] ||
			    torture_why "$s is not the current tree's spare"
			[ "$(cd "$s" && find . -type f -printf '%i %p\n' | sort -k2)" = \
			    "$(cd dp1/pkg/ && find . -type f -printf '%i %p\n' | sort -k2)" ] ||
			    torture_why "$s does not mirror the current tree"
		done
		pkgpush -j 1 --version 4 --dp dp1 pkg >/dev/null 2>&1 ||
		    torture_why "the push after it failed"
		chk_tree_is dp1/pkg want.4 ||
		    torture_why "dp1/pkg is not version 4 after a push from the spare"
	}
	torture_run pkgpush-spare
}

@test "torture pkgpush --inplace: a crash at any point leaves every file whole, deletes nothing early, says partial; the next push completes" {
	t_setup()
	{
		push_setup --inplace
	}
	t_cmd()
	{
		pkgpush --inplace -j 1 --dp dp1 --dp dp2 pkg >/dev/null
	}
	t_invariant()
	{
		chk_inplace_ok dp1 want.1 want.2
		[ ! -e dp2/pkg ] || chk_inplace_ok dp2 none want.2
	}
	t_complete()
	{
		local d
		for d in dp1 dp2; do
			chk_tree_is $d/pkg want.2 ||
			    torture_why "$d/pkg is not version 2 after the next push: $(chk_tree_diff $d/pkg want.2)"
			[ -d $d/pkg ] && [ ! -L $d/pkg ] ||
			    torture_why "$d/pkg is not a plain directory"
			grep -q '^state complete' $d/.pkgdist/pkg/state ||
			    torture_why "$d state is not complete: $(cat $d/.pkgdist/pkg/state)"
		done
	}
	torture_run pkgpush-inplace
}

@test "torture pkgpush --rollback: a crash at any point leaves the DP exactly at version 2 or 1; the next rollback completes" {
	t_setup()
	{
		push_setup ""
		pkgpush -j 1 --dp dp1 pkg >/dev/null
		# dp2 has no kept tree of version 1: its rollback rebuilds it.
		pkgpush -j 1 --keep 1 --dp dp2 pkg >/dev/null
	}
	t_cmd()
	{
		pkgpush -j 1 --rollback --version 1 --dp dp1 --dp dp2 pkg >/dev/null
	}
	t_invariant()
	{
		chk_dp_old_or_new dp1 want.2 want.1
		chk_dp_old_or_new dp2 want.2 want.1
	}
	t_complete()
	{
		local d
		for d in dp1 dp2; do
			chk_tree_is $d/pkg want.1 ||
			    torture_why "$d/pkg is not version 1 after the next rollback"
			[ -L $d/pkg ] || torture_why "$d/pkg is not a link"
		done
	}
	torture_run pkgpush-rollback
}
