#!/usr/bin/env bats
# Crash consistency of the store (tests/torture/torture.bash): pkgstage
# add, import and gc are killed (SIGKILL through the fault hook) at every
# fault-injectable operation, or an even sample of them; after each crash
# `pkgstage fsck` is clean and the store lists exactly the old versions
# or the old and the new (never half a version); the next run completes.

load lib/common
load torture/torture
load torture/checks

setup()
{
	common_setup
	[ -x "$PKGDIST_BIN/pkgstage" ] || skip "pkgstage is not built yet"
}

# A source tree for version 1, and its change for version 2: a changed
# file, an added one, a removed one, a new directory, and 8 KiB changed
# in a large file (kept as a delta from version 1's copy: crashes while
# it is written, and gc removing version 1 while the delta needs its
# base).
stage_trees()
{
	mktree src
	head -c 1600000 /dev/urandom >src/big.bin
	pkgstage add pkg src >/dev/null
	head -c 8192 /dev/urandom | dd of=src/big.bin bs=4096 seek=100 \
	    conv=notrunc status=none
	printf 'changed\n' >src/hello.txt
	printf 'added\n' >"src/sub dir/added"
	rm "src/read me.txt"
	mkdir -p src/newdir
	printf 'new dir file\n' >src/newdir/file
}

@test "torture pkgstage add: a crash at any point leaves version 1 alone or versions 1 and 2, whole; the next add completes" {
	t_setup()
	{
		stage_trees
		pkgdiff scan -j 1 src | chk_norm_manifest >want
	}
	t_cmd()
	{
		pkgstage add pkg src >/dev/null
	}
	t_invariant()
	{
		chk_fsck || return 1
		local v
		v=$(chk_versions pkg)
		[ "$v" = 1 ] || [ "$v" = "1 2" ] ||
		    torture_why "versions after the crash: '$v' (want '1' or '1 2')"
		if [ "$v" = "1 2" ]; then
			[ "$(pkgstage show pkg 2 | chk_norm_manifest)" = "$(cat want)" ] ||
			    torture_why "version 2 is not the source tree"
		fi
	}
	t_complete()
	{
		chk_fsck || return 1
		local v
		v=$(chk_versions pkg)
		# The next add adds the tree again (as 2, or as 3 when the
		# crashed add had committed): the newest is the source tree.
		[ "$v" = "1 2" ] || [ "$v" = "1 2 3" ] ||
		    torture_why "versions after the next add: '$v'"
		[ "$(pkgstage show pkg | chk_norm_manifest)" = "$(cat want)" ] ||
		    torture_why "the newest version is not the source tree"
	}
	torture_run pkgstage-add
}

@test "torture pkgstage import: a crash at any point leaves the old versions or the old and the imported one; importing again completes" {
	t_setup()
	{
		stage_trees
		pkgstage add pkg src >/dev/null
		pkgstage show pkg 2 >want.full
		chk_norm_manifest <want.full >want
		pkgstage export pkg 2 -o v2.pack
		# The importing store holds version 1 only.
		mv store store.src
		PKGDIST_STORE=$PWD/store.src pkgstage export pkg 1 -o v1.pack
		pkgstage import v1.pack >/dev/null
	}
	t_cmd()
	{
		pkgstage import v2.pack >/dev/null
	}
	t_invariant()
	{
		chk_fsck || return 1
		local v
		v=$(chk_versions pkg)
		[ "$v" = 1 ] || [ "$v" = "1 2" ] ||
		    torture_why "versions after the crash: '$v' (want '1' or '1 2')"
		if [ "$v" = "1 2" ]; then
			[ "$(pkgstage show pkg 2 | chk_norm_manifest)" = "$(cat want)" ] ||
			    torture_why "version 2 is not the exported one"
		fi
	}
	t_complete()
	{
		chk_fsck || return 1
		[ "$(chk_versions pkg)" = "1 2" ] ||
		    torture_why "versions after importing again: '$(chk_versions pkg)'"
		cmp -s <(pkgstage show pkg 2) want.full ||
		    torture_why "version 2's manifest differs from the exported one"
	}
	torture_run pkgstage-import
}

@test "torture pkgstage gc: a crash at any point leaves a clean store with the kept versions whole; the next gc completes" {
	t_setup()
	{
		stage_trees
		pkgstage add pkg src >/dev/null
		printf 'third\n' >src/hello.txt
		printf 'only in 3\n' >src/three
		pkgstage add pkg src >/dev/null
		printf 'fourth\n' >src/hello.txt
		rm src/three
		pkgstage add pkg src >/dev/null
		local v
		for v in 1 2 3 4; do
			pkgstage show pkg $v | chk_norm_manifest >want.$v
		done
	}
	t_cmd()
	{
		pkgstage gc --keep 1 >/dev/null
	}
	t_invariant()
	{
		chk_fsck || return 1
		local v x
		v=$(chk_versions pkg)
		# Versions go, newest never: 4 is there, and whatever is
		# left is whole.
		case " $v " in
		*" 4 "*) ;;
		*) torture_why "the newest version is gone: '$v'" ;;
		esac
		for x in $v; do
			[ "$(pkgstage show pkg "$x" | chk_norm_manifest)" = "$(cat want."$x")" ] ||
			    torture_why "version $x changed"
		done
	}
	t_complete()
	{
		chk_fsck || return 1
		[ "$(chk_versions pkg)" = 4 ] ||
		    torture_why "versions after the next gc: '$(chk_versions pkg)'"
		# Every content no version uses is gone: the objects are
		# exactly those of the reference run.
		local objs
		objs=$(cd store && find objects -type f | LC_ALL=C sort)
		if [ -f ../gc.objects ]; then
			[ "$objs" = "$(cat ../gc.objects)" ] ||
			    torture_why "objects differ from a clean gc: $(diff ../gc.objects <(printf '%s\n' "$objs") | head -5)"
		else
			printf '%s\n' "$objs" >../gc.objects
		fi
	}
	torture_run pkgstage-gc
}
