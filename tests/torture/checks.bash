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

# chk_dp_old_or_new DP [OLD NEW]: DP/pkg is exactly the tree OLD or NEW
# describes (normalised manifests; default want.1 and want.2).
chk_dp_old_or_new()
{
	local old=${2:-want.1} new=${3:-want.2}
	if chk_tree_is "$1/pkg" "$old"; then
		torture_note old
	elif chk_tree_is "$1/pkg" "$new"; then
		torture_note new
	else
		torture_why "$1/pkg is neither the old nor the new version:" \
		    "$(chk_tree_diff "$1/pkg" "$new")"
	fi
}

# chk_dp_manifest DP: the documented drift check of DP/pkg, `pkgdiff
# verify DP/.pkgdist/pkg/manifest DP/pkg`, finds no drift (the state a
# client-side check reads is right, whatever the crash).
chk_dp_manifest()
{
	local out rc=0
	out=$(pkgdiff verify -j 1 "$1/.pkgdist/pkg/manifest" "$1/pkg" 2>&1) || rc=$?
	[ "$rc" -eq 0 ] ||
	    torture_why "pkgdiff verify $1/.pkgdist/pkg/manifest $1/pkg exited $rc: $(printf '%s\n' "$out" | head -5)"
}

# chk_inplace_ok DP OLD NEW: every entry of DP/pkg is the old (OLD: a
# normalised manifest, or "none" for a DP that had nothing) or the new
# (NEW) entry for its path (files whole), no name is foreign but hidden
# temporaries (".pkgdist-tmp-*"), deletions come only after every
# replacement, and a DP whose contents are a mix of both says "partial"
# in its state.  Entries compare on type, size, digest, path and link
# target: a directory's time may move when a temporary came and went.
chk_inplace_ok()
{
	local dp=$1 old=$2 new=$3 got kind
	[ "$old" != none ] || { old=$T/none; : >"$old"; }
	got=$(pkgdiff scan -j 1 "$dp/pkg" 2>&1) ||
	    { torture_why "scan of $dp/pkg failed: $got"; return 1; }
	printf '%s\n' "$got" | chk_norm_manifest >"$T/got"
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
		# (Never read old[p] or new[p] unless p is in it: awk would
		# create the element.)
		ko = (p in old) ? old[p] : "\001"
		kn = (p in new) ? new[p] : "\001"
		if (!(p in old) && !(p in new)) { print "foreign entry " p; bad = 1 }
		else if (k != ko && k != kn) { print "entry neither old nor new: " p; bad = 1 }
		if (k != ko) notold = 1
		if (k != kn) notnew = 1
	}
	END {
		deleted = 0
		for (p in old)
			if (!(p in seen)) {
				notold = 1
				if (!(p in new))
					deleted++
				else {
					print "entry in both versions missing: " p
					bad = 1
				}
			}
		for (p in new)
			if (!(p in seen))
				notnew = 1
		if (deleted > 0)
			for (p in new)
				if (!(p in seen) || got[p] != new[p]) {
					print deleted " entries deleted before " p " was in place"
					bad = 1
				}
		if (bad)
			exit 1
		print !notold ? "old" : !notnew ? "new" : "mix"
	}
	' "$old" "$new" "$T/got" >"$T/why" ||
	    { torture_why "$dp/pkg: $(head -5 "$T/why")"; return 1; }
	kind=$(cat "$T/why")
	if [ "$kind" = mix ]; then
		torture_note partial
		grep -q '^state partial' "$dp/.pkgdist/pkg/state" 2>/dev/null ||
		    torture_why "$dp/pkg is a mix of versions but its state does not say partial: $(cat "$dp/.pkgdist/pkg/state" 2>&1)"
	else
		torture_note "$kind"
	fi
}
