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
# adds and removes files, adds a directory and removes one), DPs dp1 and
# dp2 at version 1 (with LAYOUTFLAG, "" or --inplace), dp3 empty;
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
	mkdir -p dp1 dp2 dp3
	printf 'dp1 g %s/dp1\ndp2 g %s/dp2\ndp3 g %s/dp3\n' "$PWD" "$PWD" \
	    "$PWD" >store/dps
	pkgpush $1 -j 1 --version 1 --dp dp1 --dp dp2 pkg >/dev/null
}

# at_old_or_new DP: DP/pkg is exactly version 1 or exactly version 2.
at_old_or_new()
{
	if chk_tree_is "$1/pkg" want.1; then
		torture_note old
	elif chk_tree_is "$1/pkg" want.2; then
		torture_note new
	else
		torture_why "$1/pkg is neither version 1 nor version 2:" \
		    "$(chk_tree_diff "$1/pkg" want.2)"
	fi
}

@test "torture pkgpush atomic: a crash at any point leaves each DP exactly at its old or new version; the next push completes" {
	t_setup()
	{
		push_setup ""
	}
	t_cmd()
	{
		pkgpush -j 1 --dp dp1 --dp dp2 --dp dp3 pkg >/dev/null
	}
	t_invariant()
	{
		at_old_or_new dp1
		at_old_or_new dp2
		# A DP without the package has it whole or not at all.
		[ ! -e dp3/pkg ] && [ ! -L dp3/pkg ] ||
		    chk_tree_is dp3/pkg want.2 ||
		    torture_why "dp3/pkg is there but not version 2"
	}
	t_complete()
	{
		local d
		for d in dp1 dp2 dp3; do
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

# inplace_ok DP OLD: every entry of DP/pkg is the old (OLD: want.1, or
# "none" for a DP that had nothing) or the new entry for its path (files
# whole), no name is foreign but hidden temporaries, deletions come only
# after every replacement, and a DP that is a mix says "partial".
inplace_ok()
{
	local dp=$1 old=$2 got
	[ "$old" != none ] || { old=$T/none; : >"$old"; }
	got=$(pkgdiff scan -j 1 "$dp/pkg" 2>&1) ||
	    { torture_why "scan of $dp/pkg failed: $got"; return 1; }
	printf '%s\n' "$got" | chk_norm_manifest >"$T/got"
	if cmp -s "$T/got" "$old"; then
		torture_note old
		return 0
	fi
	if cmp -s "$T/got" want.2; then
		torture_note new
		return 0
	fi
	# Neither: entry by entry, on type, size, digest, path and link
	# target (mtimes are set last and may lag).
	awk '
	function rest(line,   i, s) { s = line; for (i = 0; i < 5; i++) sub(/^[^ ]+ /, "", s); return s }
	function key(line,   f) { split(line, f, " "); return f[1] " " f[3] " " f[5] " " rest(line) }
	function path(line,   s) { s = rest(line); sub(/ -> .*/, "", s); return s }
	FILENAME == ARGV[1] { old[path($0)] = key($0); next }
	FILENAME == ARGV[2] { new[path($0)] = key($0); next }
	{
		p = path($0)
		if (p ~ /(^|\/)\.pkgdist-tmp-/) next	# debris, hidden
		seen[p] = 1
		k = key($0)
		got[p] = k
		if (!(p in old) && !(p in new)) { print "foreign entry " p; bad = 1 }
		else if (k != old[p] && k != new[p]) { print "entry neither old nor new: " p; bad = 1 }
	}
	END {
		deleted = 0
		for (p in old)
			if (!(p in new) && !(p in seen))
				deleted++
			else if ((p in new) && !(p in seen)) {
				print "entry in both versions missing: " p
				bad = 1
			}
		if (deleted > 0)
			for (p in new)
				if (!(p in seen) || got[p] != new[p]) {
					print deleted " entries deleted before " p " was in place"
					bad = 1
				}
		exit bad
	}
	' "$old" want.2 "$T/got" >"$T/why" ||
	    { torture_why "$dp/pkg: $(head -5 "$T/why")"; return 1; }
	torture_note partial
	grep -q '^state partial' "$dp/.pkgdist/pkg/state" 2>/dev/null ||
	    torture_why "$dp/pkg is a mix of versions but its state does not say partial: $(cat "$dp/.pkgdist/pkg/state" 2>&1)"
}

@test "torture pkgpush --inplace: a crash at any point leaves every file whole, deletes nothing early, says partial; the next push completes" {
	t_setup()
	{
		push_setup --inplace
	}
	t_cmd()
	{
		pkgpush --inplace -j 1 --dp dp1 --dp dp2 --dp dp3 pkg >/dev/null
	}
	t_invariant()
	{
		inplace_ok dp1 want.1
		inplace_ok dp2 want.1
		[ ! -e dp3/pkg ] || inplace_ok dp3 none
	}
	t_complete()
	{
		local d
		for d in dp1 dp2 dp3; do
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
