#!/usr/bin/env bats
# Crash consistency of pkgdiff's one write: scan -o replaces the output
# file atomically, so a crash at any operation leaves the old file or the
# new one, whole (tests/torture/torture.bash).

load lib/common
load torture/torture

@test "torture pkgdiff scan -o: a crash at any operation leaves the old manifest or the new one, whole" {
	t_setup()
	{
		mktree src
		pkgdiff scan -j 1 src >old.manifest
		cp old.manifest out.manifest
		printf 'changed\n' >src/hello.txt
		printf 'added\n' >"src/sub dir/added"
		pkgdiff scan -j 1 src >new.manifest
	}
	t_cmd()
	{
		pkgdiff scan -j 1 -o out.manifest src
	}
	t_invariant()
	{
		cmp -s out.manifest old.manifest ||
		    cmp -s out.manifest new.manifest ||
		    torture_why "out.manifest is neither the old nor the new manifest"
	}
	t_complete()
	{
		cmp -s out.manifest new.manifest ||
		    torture_why "out.manifest is not the new manifest"
		# Nothing visible beside it: a crash may leave only a hidden
		# temporary (atomic.h: ".NAME.tmp-PID-N"), never a file a
		# reader could take for the output.
		[ "$(ls | tr '\n' ' ')" = "new.manifest old.manifest out.manifest src " ] ||
		    torture_why "debris beside the output: $(ls)"
		local f
		for f in .[!.]*; do
			[ -e "$f" ] || continue
			case $f in
			.out.manifest.tmp-*) ;;
			*) torture_why "unexpected file beside the output: $f" ;;
			esac
		done
	}
	torture_run pkgdiff-scan-o
}
