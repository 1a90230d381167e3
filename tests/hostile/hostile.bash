# tests/hostile/hostile.bash — hostile inputs for tests/hostile.bats.
# shellcheck shell=bash
#
# hostile_manifests DIR SENTINEL writes one hostile manifest a file into
# DIR (NAME.manifest, header "package hostile" / "version 1") and lists
# their names on stdout.  Each breaks one rule of pkgmanifest(5) in a way
# that, if a tool believed it, would read or write outside the tree:
#
#	dotdot		"../escape"
#	dotdot-mid	"a/../../escape"
#	absolute	"/abs" (SENTINEL/passwd's path)
#	through-link	"a -> SENTINEL" then "a/passwd"
#	through-file	"a" a file, then "a/passwd"
#	dup-types	"a" as a directory and as a file
#	dup-same	"a" twice as a file
#	unsorted	"b" before "a"
#	nul		"a\000b" (a NUL byte in a path)
#	escaped-dots	"\056\056/escape" (".." spelled with an escape)
#	huge-size	a file claiming 2^60 bytes
#	huge-mode	mode 177777
#	bad-digest	a digest of 63 hex digits
#	neg-mtime	mtime "-1x"
#
# HOSTILE_RECORD (default BUILD/hostile.txt) gets one line per test:
# "WHAT refused=K" (the inputs that were refused as they must be).

HOSTILE_RECORD=${HOSTILE_RECORD:-${PKGDIST_BUILD:-$PKGDIST_SRC/build/test}/hostile.txt}
MKPACK=$PKGDIST_SRC/tests/hostile/mkpack

HOSTILE_DIGEST=98ea6e4f216f2fb4b69fff9b3a44842c38686ca685f3f55dc48c5d3fb1107be4	# "hi\n"

hostile_manifests()
{
	local d=$1 s=$2 h=pkgdist-manifest\ 1$'\n'package\ hostile$'\n'version\ 1 \
	    f="0644 3 1700000000 $HOSTILE_DIGEST"
	mkdir -p "$d"
	printf '%s\nf %s ../escape\n' "$h" "$f" >"$d/dotdot.manifest"
	printf '%s\nd 0755 0 1700000000 - a\nf %s a/../../escape\n' "$h" "$f" \
	    >"$d/dotdot-mid.manifest"
	printf '%s\nf %s %s/passwd\n' "$h" "$f" "$s" >"$d/absolute.manifest"
	printf '%s\nl 0777 %d 1700000000 - a -> %s\nf %s a/passwd\n' "$h" \
	    "${#s}" "$s" "$f" >"$d/through-link.manifest"
	printf '%s\nf %s a\nf %s a/passwd\n' "$h" "$f" "$f" \
	    >"$d/through-file.manifest"
	printf '%s\nd 0755 0 1700000000 - a\nf %s a\n' "$h" "$f" \
	    >"$d/dup-types.manifest"
	printf '%s\nf %s a\nf %s a\n' "$h" "$f" "$f" >"$d/dup-same.manifest"
	printf '%s\nf %s b\nf %s a\n' "$h" "$f" "$f" >"$d/unsorted.manifest"
	printf '%s\nf %s a\\000b\n' "$h" "$f" >"$d/nul.manifest"
	printf '%s\nf %s \\056\\056/escape\n' "$h" "$f" \
	    >"$d/escaped-dots.manifest"
	printf '%s\nf 0644 1152921504606846976 1700000000 %s huge\n' "$h" \
	    "$HOSTILE_DIGEST" >"$d/huge-size.manifest"
	printf '%s\nf 177777 3 1700000000 %s a\n' "$h" "$HOSTILE_DIGEST" \
	    >"$d/huge-mode.manifest"
	printf '%s\nf 0644 3 1700000000 %s a\n' "$h" "${HOSTILE_DIGEST%?}" \
	    >"$d/bad-digest.manifest"
	printf '%s\nf 0644 3 -1x %s a\n' "$h" "$HOSTILE_DIGEST" \
	    >"$d/neg-mtime.manifest"
	(cd "$d" && ls -- *.manifest | sed 's/\.manifest$//')
}

# hostile_src DIR SENTINEL: a source tree that matches what the hostile
# manifests name, so a tool that believed them would find the files: a
# file "a" ("hi"), "b", "huge" and a link "a -> SENTINEL" in a twin
# directory DIR.link; and "../escape" beside DIR.
hostile_src()
{
	mkdir -p "$1" "$1.link"
	printf 'hi\n' >"$1/a"
	printf 'hi\n' >"$1/b"
	printf 'hi\n' >"$1/huge"
	ln -s "$2" "$1.link/a"
	printf 'hi\n' >"$(dirname "$1")/escape"
}

# hostile_record WHAT K: print and record the count of refused inputs.
hostile_record()
{
	local line="$1 refused=$2"
	torture_say "hostile: $line"
	torture_put_record "$HOSTILE_RECORD" "$1" "$line"
}

# hostile_store_state: what a client of the store sees (names, sizes and
# times of its files: manifests, contents, records), to compare before
# and after a refused input or a failed command.  Left out: temporaries,
# locks, directories (an import that takes the package lock creates the
# package's empty directory, which no command lists), and the time of
# STORE/format, which every add and import rewrites with the same bytes
# (store.c store_init_layout).
hostile_store_state()
{
	(cd "$PKGDIST_STORE" && find . \( -path ./tmp -o -name '*.lock' -o \
	    -name lock -o -name use -o -name '.*.tmp-*' \) -prune -o \
	    ! -type d -printf '%y %s %T@ %p\n' |
	    awk '$4 == "./format" { $3 = "-" } { print }' | LC_ALL=C sort)
}
