#!/usr/bin/env bats
# Injected I/O errors (fault.h) at the first and the middle operation of
# each kind a tool's main path uses, with ENOSPC, EIO and EACCES
# (tests/torture/faults.bash): a clear message naming the file, the
# tool's exit status for trouble, and nothing a client could see changed.
# Then real faults: a tiny tmpfs that fills up.

load lib/common
load torture/torture
load torture/faults

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
