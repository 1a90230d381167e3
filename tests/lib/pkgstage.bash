# tests/lib/pkgstage.bash — helpers of the pkgstage tests.
# shellcheck shell=bash

# store_listing [STORE]: every file of the store that is data (not a lock)
# with its size and digest, sorted: equal listings mean nothing changed.
store_listing()
{
	local s=${1:-$PKGDIST_STORE}
	[ -d "$s" ] || return 0
	(cd "$s" && find . -type f ! -name lock ! -name use \
	    ! -name '*.lock' -print0 | sort -z |
	    xargs -0 -r sha256sum)
}

# versions [PKG [STORE]]: the version numbers of PKG (default office) in
# STORE (default the test's), on one line: "1 3 ".
versions()
{
	pkgstage -s "${2:-$PKGDIST_STORE}" list "${1:-office}" |
	    awk '{ printf "%s ", $2 }'
}

# count_objects [STORE]: contents in the store.
count_objects()
{
	local s=${1:-$PKGDIST_STORE}
	find "$s/objects" -type f ! -name '*.k' | wc -l
}

# fault_ops COUNTFILE: the "any" count written by PKGDIST_FAULT_COUNT.
fault_ops()
{
	awk '$1 == "any" { print $2 }' "$1"
}
