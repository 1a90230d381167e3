# tests/torture/checks.bash — checks shared by the torture, fault and
# hostile-input tests: is the store consistent, which versions does it
# list, is a DP exactly at a version, has a directory outside been
# touched.
# shellcheck shell=bash
#
# Each check returns 0 when it holds; else it says why on stderr
# (torture_why) and returns 1.

# chk_fsck: `pkgstage fsck` finds the store clean.
chk_fsck()
{
	local out rc=0
	out=$(pkgstage fsck 2>&1) || rc=$?
	[ "$rc" -eq 0 ] || torture_why "pkgstage fsck exited $rc: $out"
}

# chk_versions PKG: the versions the store lists for PKG, one line,
# blank-separated, ascending ("" when none).
chk_versions()
{
	local out
	out=$(pkgstage list "$1" 2>/dev/null) || { echo "?"; return 0; }
	# "PKG VERSION ..." or "VERSION ..." lines: take the first number.
	printf '%s\n' "$out" | awk '{ for (i = 1; i <= NF; i++)
	    if ($i ~ /^[0-9]+$/) { print $i; break } }' | sort -n | tr '\n' ' ' |
	    sed 's/ $//'
}

# chk_norm_manifest: a manifest on stdin without header lines and with
# the mode field blanked (DPs apply the read-only rule to modes), so two
# trees compare on types, sizes, mtimes, digests, link targets and paths.
chk_norm_manifest()
{
	awk '/^(pkgdist-manifest|package|version) / { next }
	    { $2 = "-"; print }'
}

# chk_store_manifest PKG VERSION FILE: save the version's manifest,
# normalised, to FILE.
chk_store_manifest()
{
	pkgstage show "$1" "$2" | chk_norm_manifest >"$3"
}

# chk_tree_is DIR NORMFILE: the tree DIR is exactly what NORMFILE
# (chk_store_manifest) describes; no more, no less.
chk_tree_is()
{
	local got
	got=$(pkgdiff scan -j 1 "$1" 2>&1) || { echo "scan of $1 failed: $got" >&2; return 1; }
	[ "$(printf '%s\n' "$got" | chk_norm_manifest)" = "$(cat "$2")" ]
}

# chk_tree_diff DIR NORMFILE: print how DIR differs from NORMFILE.
chk_tree_diff()
{
	diff <(pkgdiff scan -j 1 "$1" 2>&1 | chk_norm_manifest) "$2" | head -20
}

# chk_outside_save DIR / chk_outside_same DIR: a directory outside the
# store and the DPs (a sentinel) is not touched at all: same names,
# types, inodes, link counts, modes, sizes, times and link targets.
chk_outside_list()
{
	find "$1" -printf '%y %i %n %m %s %T@ %C@ %P -> %l\n' | LC_ALL=C sort
}

chk_outside_save()
{
	chk_outside_list "$1" >"$T/outside.$(basename "$1")"
}

chk_outside_same()
{
	local now
	now=$(chk_outside_list "$1")
	[ "$now" = "$(cat "$T/outside.$(basename "$1")")" ] ||
	    torture_why "$1 was touched: $(diff "$T/outside.$(basename "$1")" <(printf '%s\n' "$now") | head -10)"
}

# chk_sentinel DIR: make a sentinel directory (a file named passwd, a
# subdirectory, a file in it) and save its state.
chk_sentinel()
{
	mkdir -p "$1/sub"
	printf 'root:x:0:0::/root:/bin/sh\n' >"$1/passwd"
	printf 'keep\n' >"$1/sub/file"
	chk_outside_save "$1"
}
