# tests/lib/pkgpush.bash — helpers shared by tests/pkgpush*.bats.
# shellcheck shell=bash
#
# vtree DIR N [FILES]: a tree whose every file says "version N" (so a
# reader can tell versions apart), with modes already read-only (0444,
# 0755 for directories), so the DP's copy has exactly the store's modes and
# `pkgdiff verify` of the store's manifest against DP/PKG is clean.
# A few files are the same in every version ("same*"), to check F1.
vtree()
{
	local d=$1 n=$2 files=${3:-20} i
	rm -rf "$d"
	mkdir -p "$d/sub/deeper" "$d/only$n"
	for ((i = 1; i <= files; i++)); do
		printf 'version %s file %s\n' "$n" "$i" >"$d/f$i"
	done
	printf 'version %s deep\n' "$n" >"$d/sub/deeper/leaf"
	printf 'version %s only\n' "$n" >"$d/only$n/x"
	printf 'same in every version\n' >"$d/same.txt"
	head -c 100000 /dev/zero >"$d/sub/same.bin"
	ln -s f1 "$d/link"
	touch -d @1600000000 "$d/same.txt" "$d/sub/same.bin"
	find "$d" -type f -exec chmod 0444 {} +
	find "$d" -type d -exec chmod 0755 {} +
	touch -d @1600000000 "$d/sub"
}

# stage DIR: stage DIR as the next version of "office".
stage()
{
	pkgstage add office "$1" >/dev/null
}

# staged_versions FROM TO [FILES]: for each N from FROM to TO, the tree
# $T/vN (vtree, FILES files) staged as the next version of "office": FROM
# is the store's next version number.  The trees stay for the test.
staged_versions()
{
	local n
	for ((n = $1; n <= $2; n++)); do
		vtree "$T/v$n" "$n" "${3:-20}" && stage "$T/v$n" || return 1
	done
}

# at_version DP N: DP/office holds exactly version N of the store.
at_version()
{
	{ [ -s "$T/m.$2" ] || pkgstage show office "$2" >"$T/m.$2"; } &&
	    pkgdiff verify "$T/m.$2" "$1/office" >"$T/drift" 2>&1 || {
		echo "$1/office is not exactly version $2:" >&2
		cat "$T/drift" >&2
		return 1
	}
}

# listing DIR: inode, ctime, mode and name of everything under DIR.
listing()
{
	find "$1" -printf '%i %C@ %m %s %p\n' | sort -k5
}

# no_debris DP: no temporary left where clients look, nor in .pkgdist.
no_debris()
{
	local left
	left=$(find "$1" \( -name '.pkgdist-tmp-*' -o -name 'tmp.*' \
	    -o -name '*.tmp-*' \) -print)
	if [ -n "$left" ]; then
		echo "debris left: $left" >&2
		return 1
	fi
}

# each_old_or_new DP: every file of DP/office says version 1 or 2 whole.
each_old_or_new()
{
	local f
	for f in "$1"/office/f*; do
		grep -qx "version [12] file ${f##*/f}" "$f" || {
			echo "$f: $(cat "$f")" >&2
			return 1
		}
	done
}
