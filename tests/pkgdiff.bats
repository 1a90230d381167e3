#!/usr/bin/env bats
# pkgdiff: scan, diff, verify (pkgdiff(1), pkgmanifest(5)).

load lib/common

bats_require_minimum_version 1.5.0

H1=1111111111111111111111111111111111111111111111111111111111111111

# sha256 of a file, as the manifest spells it.
sha() { sha256sum <"$1" | cut -d' ' -f1; }

# fault_hook_works: the tools were built with PKGDIST_TESTING.
fault_hook_works()
{
	mkdir -p "$T/.probe"
	! PKGDIST_FAULT=read:1:EIO pkgdiff scan "$T/.probe" >/dev/null 2>&1
}

# A small valid manifest on stdout.
good_manifest()
{
	printf 'pkgdist-manifest 1\n'
	printf 'd 0755 0 1 - a\n'
	printf 'f 0644 3 1 %s a/x\n' "$H1"
}

# --- usage -----------------------------------------------------------

@test "pkgdiff: -h and --help print the usage on stdout and exit 0" {
	run pkgdiff -h
	expect_status 0
	expect_output_has "usage: pkgdiff scan [-j n] [--reuse old]"
	expect_output_has "pkgdiff diff [-j n] [--stat] a b"
	expect_output_has "pkgdiff verify [-j n] [--cache file [--deep]] manifest dir"
	expect_output_has "  -j, --jobs n "
	run pkgdiff --help
	expect_status 0
	run pkgdiff scan --help
	expect_status 0
	expect_output_has "usage:"
}

@test "pkgdiff: usage on stderr and exit 2 for a bad flag, a bad command, missing or extra operands" {
	run --separate-stderr pkgdiff scan --bogus "$T"
	expect_status 2
	[ -z "$output" ]
	[[ "$stderr" == *"usage: pkgdiff scan"* ]]
	run pkgdiff
	expect_status 2
	run pkgdiff frobnicate
	expect_status 2
	expect_output_has "unknown command 'frobnicate'"
	run pkgdiff scan
	expect_status 2
	run pkgdiff scan "$T" "$T"
	expect_status 2
	run pkgdiff diff "$T"
	expect_status 2
	run pkgdiff verify "$T"
	expect_status 2
	run pkgdiff diff -o out "$T" "$T"
	expect_status 2
	[ ! -e out ]
	run pkgdiff scan -j 0 "$T"
	expect_status 2
	run pkgdiff scan --version 0 "$T"
	expect_status 2
	run pkgdiff scan --package .bad "$T"
	expect_status 2
}

# --- scan --------------------------------------------------------------

@test "pkgdiff scan: prints the magic line, the header when asked, then sorted entries" {
	mkdir -p src/b src/a
	printf 'abc' >src/a/f
	touch -d @1700000000 src/a/f src/a src/b
	chmod 0640 src/a/f
	run pkgdiff scan --package office97 --version 12 src
	expect_status 0
	[ "${lines[0]}" = "pkgdist-manifest 1" ]
	[ "${lines[1]}" = "package office97" ]
	[ "${lines[2]}" = "version 12" ]
	[ "${lines[3]}" = "d 0755 0 1700000000 - a" ]
	[ "${lines[4]}" = "f 0640 3 1700000000 $(sha src/a/f) a/f" ]
	[ "${lines[5]}" = "d 0755 0 1700000000 - b" ]
	[ "${#lines[@]}" -eq 6 ]
}

@test "pkgdiff scan: awkward names (space, tab, newline, backslash, non-UTF-8) are escaped and round-trip through diff" {
	mktree src
	pkgdiff scan -o m src
	grep -qF ' read\040me.txt' m
	grep -qF ' tab\011name' m
	grep -qF ' new\012line' m
	grep -qF ' back\134slash' m
	grep -qF " latin"$'\xff'"byte" m
	grep -qF ' link\040to\040hello -> hello.txt' m
	grep -qF "$(sha "src/new"$'\n'"line") new\\012line" m
	# Every entry is one line: the magic line and one per name.
	n=$(find src -mindepth 1 -print0 | tr -cd '\0' | wc -c)
	[ "$(wc -l <m)" -eq $((n + 1)) ]
	# manifest -> dir, dir -> manifest and manifest -> manifest agree.
	run pkgdiff diff m src
	expect_status 0
	[ -z "$output" ]
	run pkgdiff diff src m
	expect_status 0
	pkgdiff scan src >m2
	cmp m m2
	# A change to an awkward name shows that exact escaped name.
	printf 'changed\n' >"src/new"$'\n'"line"
	run pkgdiff diff m src
	expect_status 1
	[ "${#lines[@]}" -eq 1 ]
	[[ "${lines[0]}" == "M f "*" new\\012line" ]]
}

@test "pkgdiff scan: the same tree gives the same bytes, with 1 or 4 hashing threads" {
	mktree src
	for i in 1 2 3 4 5 6 7 8; do head -c $((i * 30000)) /dev/urandom >"src/r$i"; done
	pkgdiff scan src >m1
	pkgdiff scan src >m2
	pkgdiff scan -j1 src >m3
	pkgdiff scan -j 4 src >m4
	cmp m1 m2
	cmp m1 m3
	cmp m1 m4
	grep -qF "$(sha src/r8) r8" m1
}

@test "pkgdiff scan: symbolic links are recorded with their target, never followed" {
	mkdir -p src/realdir
	printf 'inside\n' >src/realdir/file
	ln -s realdir src/dirlink
	ln -s "no such target" src/dangling
	ln -s /etc/passwd src/abs
	run pkgdiff scan src
	expect_status 0
	expect_output_has "l 0777 7 "
	[[ "$output" == *" - dirlink -> realdir"* ]]
	[[ "$output" == *"l 0777 14 "*" - dangling -> no\\040such\\040target"* ]]
	[[ "$output" == *"l 0777 11 "*" - abs -> /etc/passwd"* ]]
	expect_output_lacks "dirlink/file"
	expect_output_lacks "$(sha /etc/passwd)"
}

@test "pkgdiff scan: the root may be given as a link to a directory; links below it are still not followed" {
	mkdir -p real/sub
	printf 'x\n' >real/sub/f
	ln -s real root
	ln -s sub real/l
	run pkgdiff scan root
	expect_status 0
	expect_output_has " sub/f"
	expect_output_has " l -> sub"
	expect_output_lacks " l/f"
}

@test "pkgdiff scan: a fifo is refused with its name, exit 2 (never silently skipped)" {
	mkdir -p src/d
	printf 'x\n' >src/ok
	mkfifo "src/d/my fifo"
	run pkgdiff scan -o m src
	expect_status 2
	expect_output_has "pkgdiff: 'src/d/my\\040fifo': unsupported file type (fifo)"
	[ ! -e m ]
}

@test "pkgdiff scan: a directory that cannot be read is named in the error, exit 2, no output file" {
	fault_hook_works || skip "tools built without the fault hook (PKGDIST_TESTING)"
	mkdir -p "src/only dir"
	printf 'x\n' >"src/only dir/f"
	# Read 1 is the root, read 2 its only subdirectory.
	PKGDIST_FAULT=read:2:EIO run pkgdiff scan -o m src
	expect_status 2
	expect_output_has "pkgdiff: cannot read directory 'src/only\\040dir': Input/output error"
	[ ! -e m ]
	PKGDIST_FAULT=read:1:EIO run pkgdiff scan src
	expect_status 2
	expect_output_has "cannot read directory 'src'"
}

@test "pkgdiff scan: a mode-000 directory is an error naming it when not root" {
	has_root && skip "root reads mode-000 directories (the fault hook test covers this)"
	mkdir -p src/locked
	chmod 000 src/locked
	run pkgdiff scan src
	expect_status 2
	expect_output_has "src/locked"
}

@test "pkgdiff scan: a file that cannot be read fails the scan naming the file" {
	fault_hook_works || skip "tools built without the fault hook (PKGDIST_TESTING)"
	mkdir src
	printf 'x\n' >src/file
	# Read 1 is the directory, read 2 the file.
	PKGDIST_FAULT=read:2:EIO run pkgdiff scan -o m src
	expect_status 2
	expect_output_has "cannot read 'src/file': Input/output error"
	[ ! -e m ]
}

@test "pkgdiff scan: a missing directory is an error, exit 2" {
	run pkgdiff scan nowhere
	expect_status 2
	expect_output_has "pkgdiff: cannot read directory 'nowhere': No such file or directory"
}

@test "pkgdiff scan -o: writes the file whole and leaves no temporary file" {
	mktree src
	printf 'old content\n' >m
	pkgdiff scan -o m src
	pkgdiff scan src | cmp - m
	[ "$(ls -A | grep -c tmp)" -eq 0 ]
}

@test "pkgdiff scan: a full standard output is an error, exit 2" {
	[ -w /dev/full ] || skip "no /dev/full"
	mktree src
	run sh -c 'pkgdiff scan src >/dev/full'
	expect_status 2
}

# --- reuse -------------------------------------------------------------

@test "pkgdiff scan --reuse: takes the digest of a file whose path, size and mtime are unchanged (the quick check)" {
	mkdir src
	printf 'aaaa\n' >src/same
	printf 'bbbb\n' >src/touched
	touch -d @1700000000 src/same src/touched
	pkgdiff scan -o old src
	old_same=$(sha src/same)
	# Same size, same mtime, other bytes: --reuse cannot see it.
	printf 'AAAA\n' >src/same
	touch -d @1700000000 src/same
	# Same size, other bytes and mtime: --reuse must hash it.
	printf 'BBBB\n' >src/touched
	touch -d @1700000001 src/touched
	pkgdiff scan --reuse old src >new
	grep -qF "f 0644 5 1700000000 $old_same same" new
	grep -qF "f 0644 5 1700000001 $(sha src/touched) touched" new
	# Without --reuse every file is hashed.
	pkgdiff scan src >full
	grep -qF "$(sha src/same) same" full
	! grep -qF "$old_same" full || false
}

@test "pkgdiff scan --reuse: an unchanged file is not read at all (only directories are)" {
	fault_hook_works || skip "tools built without the fault hook (PKGDIST_TESTING)"
	mkdir -p src/sub
	for i in 1 2 3 4 5; do printf 'file %s\n' "$i" >"src/sub/f$i"; done
	pkgdiff scan -o old src
	PKGDIST_FAULT_COUNT=$T/count pkgdiff scan --reuse old src >new
	cmp old new
	# Two directories read, no file.
	grep -qx 'read 2' count
	PKGDIST_FAULT_COUNT=$T/count2 pkgdiff scan src >/dev/null
	grep -qx 'read 7' count2
}

@test "pkgdiff scan --reuse: on an unchanged tree gives the same bytes as a full scan" {
	mktree src
	pkgdiff scan src >full
	pkgdiff scan --reuse full src >again
	cmp full again
}

@test "pkgdiff scan --reuse: a broken OLD manifest is refused with file and line, and -o is not created" {
	mktree src
	printf 'pkgdist-manifest 1\nf 0644 x 1 %s a\n' "$H1" >old
	run pkgdiff scan --reuse old -o m src
	expect_status 2
	expect_output_has "pkgdiff: old:2: size 'x' is not a number"
	[ ! -e m ]
}

# --- diff --------------------------------------------------------------

@test "pkgdiff diff: A, D, M and P lines sorted by path; exit 0 same, 1 different" {
	mkdir old
	printf 'keep\n' >old/keep
	printf 'gone\n' >old/gone
	printf 'v1\n' >old/changed
	printf 'mode\n' >old/mode
	ln -s keep old/link
	touch -d @1700000000 old/*
	touch -h -d @1700000000 old/link
	cp -a old new
	rm new/gone
	printf 'v2 longer\n' >new/changed
	touch -d @1700000000 new/changed
	chmod 0600 new/mode
	printf 'added\n' >new/added
	touch -d @1700000000 new/added
	rm new/link
	ln -s changed new/link
	touch -h -d @1700000000 new/link
	pkgdiff scan -o a.m old
	pkgdiff scan -o b.m new
	run pkgdiff diff a.m a.m
	expect_status 0
	[ -z "$output" ]
	run pkgdiff diff a.m b.m
	expect_status 1
	[ "${#lines[@]}" -eq 5 ]
	[ "${lines[0]}" = "A f 0644 6 1700000000 $(sha new/added) added" ]
	[ "${lines[1]}" = "M f 0644 10 1700000000 $(sha new/changed) changed" ]
	[ "${lines[2]}" = "D f 0644 5 1700000000 $(sha old/gone) gone" ]
	[ "${lines[3]}" = "M l 0777 7 1700000000 - link -> changed" ]
	[ "${lines[4]}" = "P f 0600 5 1700000000 $(sha new/mode) mode" ]
	# Every combination of manifest and directory gives the same list.
	pkgdiff diff a.m b.m >mm || true
	pkgdiff diff old new >dd || true
	pkgdiff diff a.m new >md || true
	pkgdiff diff old b.m >dm || true
	cmp mm dd
	cmp mm md
	cmp mm dm
	# Standard input may be one side.
	pkgdiff diff - b.m <a.m >sm || true
	cmp mm sm
}

@test "pkgdiff diff: a directory side is hashed, so content changed behind an unchanged size and mtime is found" {
	mkdir d
	printf 'aaaa\n' >d/f
	touch -d @1700000000 d/f
	pkgdiff scan -o m d
	printf 'AAAA\n' >d/f
	touch -d @1700000000 d/f
	run pkgdiff diff m d
	expect_status 1
	[ "$output" = "M f 0644 5 1700000000 $(sha d/f) f" ]
}

@test "pkgdiff diff --stat: counts of each kind and the bytes a refresh transfers (added and changed files)" {
	mkdir old
	printf '12345\n' >old/changed
	printf 'x\n' >old/gone
	printf 'y\n' >old/perm
	cp -a old new
	rm new/gone
	printf '1234567890\n' >new/changed
	chmod 0700 new/perm
	printf 'abc\n' >new/added
	mkdir new/newdir
	run pkgdiff diff --stat old new
	expect_status 1
	[ "$output" = "added 2
deleted 1
modified 1
metadata 1
bytes 15" ]
	run pkgdiff diff --stat old old
	expect_status 0
	[ "$output" = "added 0
deleted 0
modified 0
metadata 0
bytes 0" ]
}

@test "pkgdiff diff: headers (package, version) are not differences" {
	good_manifest >a.m
	{ printf 'pkgdist-manifest 1\npackage p\nversion 7\n'; good_manifest | tail -n +2; } >b.m
	run pkgdiff diff a.m b.m
	expect_status 0
	[ -z "$output" ]
}

@test "pkgdiff diff: a missing side is trouble, exit 2" {
	good_manifest >a.m
	run pkgdiff diff a.m nowhere.m
	expect_status 2
	expect_output_has "cannot open 'nowhere.m'"
}

# --- verify ------------------------------------------------------------

@test "pkgdiff verify: a tree that matches its manifest is exit 0 with no output" {
	mktree dp
	pkgdiff scan -o m dp
	run pkgdiff verify m dp
	expect_status 0
	[ -z "$output" ]
}

@test "pkgdiff verify: drift is printed as the changes from MANIFEST to the tree, exit 1" {
	mktree dp
	pkgdiff scan -o m dp
	printf 'corrupt\n' >dp/hello.txt
	rm "dp/read me.txt"
	printf 'planted\n' >dp/extra
	chmod 0700 "dp/sub dir/run.sh"
	run pkgdiff verify m dp
	expect_status 1
	[ "${#lines[@]}" -eq 4 ]
	[[ "${lines[0]}" == "A f "*" $(sha dp/extra) extra" ]]
	[[ "${lines[1]}" == "M f "*" $(sha dp/hello.txt) hello.txt" ]]
	[[ "${lines[2]}" == "D f "*" read\\040me.txt" ]]
	[[ "${lines[3]}" == "P f 0700 "*" sub\\040dir/run.sh" ]]
}

@test "pkgdiff verify: a link planted in place of a directory is drift, and is not followed" {
	mkdir -p dp/d outside
	printf 'x\n' >dp/d/f
	printf 'x\n' >outside/f
	pkgdiff scan -o m dp
	rm -r dp/d
	ln -s ../outside dp/d
	run pkgdiff verify m dp
	expect_status 1
	expect_output_has "M l 0777 10 "
	expect_output_has "D f "
}

# --- verify --cache (the stat check) ----------------------------------

# poison CACHE PATH: the digest CACHE records for PATH (escaped) set to
# one no file has, so a check that trusts the record says the file
# drifted, and one that reads the file does not.
poison()
{
	sed -i "s/ [0-9a-f]\{64\} $2\$/ $(printf '0%.0s' $(seq 64)) $2/" "$1"
	grep -q " 0\{64\} $2\$" "$1"
}

@test "pkgdiff verify --cache: a file whose stat is unchanged is not read again; --deep reads it" {
	mktree dp
	pkgdiff scan -o m dp
	# Older than the racy second: recorded.
	sleep 1.2
	run pkgdiff verify --cache c m dp
	expect_status 0
	[ -z "$output" ]
	head -1 c | grep -qx 'pkgdist-statcache 1'
	grep -q ' hello.txt$' c
	grep -q ' new\\012line$' c
	poison c hello.txt
	# The record is trusted: the file was not read.
	run pkgdiff verify --cache c m dp
	expect_status 1
	expect_output_has "M f 0644 6 "
	# --deep reads every file and writes the record anew.
	run pkgdiff verify --cache c --deep m dp
	expect_status 0
	[ -z "$output" ]
	run pkgdiff verify --cache c m dp
	expect_status 0
	! ls -a | grep -q 'tmp-' || false
}

@test "pkgdiff verify --cache: a change stat shows is read: contents under the same size and mtime (ctime), mode, a new inode" {
	mkdir dp
	printf 'one\n' >dp/a
	printf 'two\n' >dp/b
	printf 'six\n' >dp/c
	touch -d @1700000000 dp/a dp/b dp/c
	pkgdiff scan -o m dp
	sleep 1.2
	pkgdiff verify --cache c m dp
	# Same size, mtime put back: only ctime shows it.
	printf 'ONE\n' >dp/a
	touch -d @1700000000 dp/a
	# The same bytes under a new inode, and the record poisoned: a new
	# inode is read (no drift), the record is not trusted for it.
	poison c b
	cp -p dp/b dp/b.new && mv dp/b.new dp/b
	# A mode change: read, and reported.
	chmod 0600 dp/c
	run pkgdiff verify --cache c m dp
	expect_status 1
	[ "${#lines[@]}" -eq 2 ]
	[[ "${lines[0]}" == "M f 0644 4 1700000000 $(sha dp/a) a" ]]
	[[ "${lines[1]}" == "P f 0600 4 1700000000 $(sha dp/c) c" ]]
}

@test "pkgdiff verify --cache: a file changed within the racy second is not recorded" {
	mkdir dp
	printf 'fresh\n' >dp/a
	pkgdiff scan -o m dp
	run pkgdiff verify --cache c m dp
	expect_status 0
	[ "$(cat c)" = "pkgdist-statcache 1" ]
}

@test "pkgdiff verify --cache: a missing record is empty; a damaged one is said and every file is read" {
	mktree dp
	pkgdiff scan -o m dp
	run pkgdiff verify --cache none/c m dp
	expect_status 2
	expect_output_has "none"
	printf 'pkgdist-statcache 1\n1 2 3 4 nothex hello.txt\n' >c
	run pkgdiff verify --cache c m dp
	expect_status 0
	expect_output_has "pkgdiff: c:2: bad digest (every file is read)"
	head -1 c | grep -qx 'pkgdist-statcache 1'
	printf 'something else\n' >c
	run pkgdiff verify --cache c m dp
	expect_status 0
	expect_output_has "c:1: not a stat cache"
	run pkgdiff verify --deep m dp
	expect_status 2
	run pkgdiff scan --cache c dp
	expect_status 2
}

@test "pkgdiff verify: a broken manifest or a missing directory is exit 2" {
	mktree dp
	printf 'pkgdist-manifest 1\nd 0755 0 1 - b\nd 0755 0 1 - a\n' >m
	run pkgdiff verify m dp
	expect_status 2
	expect_output_has "pkgdiff: m:3: path 'a' is out of order"
	pkgdiff scan -o good dp
	run pkgdiff verify good nowhere
	expect_status 2
	expect_output_has "nowhere"
}

# --- bad input ---------------------------------------------------------

# bad_case TITLE LINE TEXT: TEXT (printf format, no arguments) is refused
# by diff (either side), verify and scan --reuse with "bad.m:LINE:",
# exit 2, and nothing written.
bad_case()
{
	local title=$1 line=$2
	printf -- "$3" >bad.m
	good_manifest >good.m
	printf 'keep me\n' >out
	mkdir -p tree
	for args in "diff bad.m good.m" "diff good.m bad.m" "diff --stat bad.m good.m" \
	    "diff bad.m tree" "verify bad.m tree"; do
		# shellcheck disable=SC2086
		run --separate-stderr pkgdiff $args
		if [ "$status" -ne 2 ] || [[ "$stderr" != "pkgdiff: bad.m:$line: "* ]] ||
		    [ -n "$output" ] || [ "$(printf '%s' "$stderr" | wc -l)" -ne 0 ]; then
			echo "$title: pkgdiff $args: status $status, stdout '$output', stderr '$stderr'" >&2
			return 1
		fi
	done
	run pkgdiff scan --reuse bad.m -o out tree
	if [ "$status" -ne 2 ] || [ "$(cat out)" != "keep me" ]; then
		echo "$title: scan --reuse touched -o or did not fail" >&2
		return 1
	fi
	[ -z "$(ls -A | grep tmp)" ]
}

@test "pkgdiff: a truncated manifest is refused naming file and line, exit 2, nothing written" {
	bad_case truncated 3 'pkgdist-manifest 1\nd 0755 0 1 - a\nd 0755 0 1 - b'
	bad_case empty 1 ''
}

@test "pkgdiff: a wrong first line is refused naming file and line" {
	bad_case magic 1 'pkgdist-manifest 2\nd 0755 0 1 - a\n'
	bad_case nomagic 1 'd 0755 0 1 - a\n'
}

@test "pkgdiff: unsorted and duplicate paths are refused naming file and line" {
	bad_case unsorted 3 'pkgdist-manifest 1\nd 0755 0 1 - b\nd 0755 0 1 - a\n'
	bad_case slash-order 3 'pkgdist-manifest 1\nd 0755 0 1 - a/b\nd 0755 0 1 - a\\040b\n'
	bad_case duplicate 3 'pkgdist-manifest 1\nd 0755 0 1 - a\nd 0755 0 1 - a\n'
}

@test "pkgdiff: '..', a leading '/', an empty component and an invalid escape are refused naming file and line" {
	bad_case dotdot 2 'pkgdist-manifest 1\nd 0755 0 1 - a/../b\n'
	bad_case absolute 2 'pkgdist-manifest 1\nd 0755 0 1 - /etc\n'
	bad_case empty-component 2 'pkgdist-manifest 1\nd 0755 0 1 - a//b\n'
	bad_case bad-escape 2 'pkgdist-manifest 1\nd 0755 0 1 - a\\09\n'
	bad_case nul-escape 2 'pkgdist-manifest 1\nd 0755 0 1 - a\\000\n'
}

@test "pkgdiff: a digest of the wrong length, not hex, or uppercase is refused naming file and line" {
	bad_case short 2 'pkgdist-manifest 1\nf 0644 1 1 abcdef a\n'
	bad_case nothex 2 "pkgdist-manifest 1\nf 0644 1 1 ${H1%1}g a\n"
	bad_case upper 2 "pkgdist-manifest 1\nf 0644 1 1 ${H1//1/A} a\n"
}

@test "pkgdiff: a size that is not a number or overflows is refused naming file and line" {
	bad_case nan 2 "pkgdist-manifest 1\nf 0644 12k 1 $H1 a\n"
	bad_case overflow 2 "pkgdist-manifest 1\nf 0644 18446744073709551616 1 $H1 a\n"
}

@test "pkgdiff: a path through a file or link, and a wrong link size, are refused naming file and line" {
	bad_case through-file 3 "pkgdist-manifest 1\nf 0644 1 1 $H1 a\nf 0644 1 1 $H1 a/b\n"
	bad_case through-link 3 'pkgdist-manifest 1\nl 0777 1 1 - a -> b\nd 0755 0 1 - a/c\n'
	bad_case link-size 2 'pkgdist-manifest 1\nl 0777 9 1 - a -> b\n'
}

@test "pkgdiff diff: an error late in a long manifest leaves standard output empty" {
	{
		printf 'pkgdist-manifest 1\n'
		for i in $(seq 10000 30000); do
			printf 'f 0644 1 1 %s f%s\n' "$H1" "$i"
		done
		printf 'f 0644 1 1 %s a\n' "$H1"
	} >late.m
	printf 'pkgdist-manifest 1\n' >empty.m
	run --separate-stderr pkgdiff diff empty.m late.m
	expect_status 2
	[ -z "$output" ]
	[[ "$stderr" == "pkgdiff: late.m:20003: path 'a' is out of order"* ]]
}

@test "pkgdiff: a bad option is reported as 'pkgdiff: ...', usage on stderr, exit 2" {
	run pkgdiff scan --bogus "$T"
	expect_status 2
	[ "${lines[0]}" = "pkgdiff: unrecognized option '--bogus'" ]
}

@test "pkgdiff: paths in messages are escaped as in manifests, bytes that are not UTF-8 too" {
	d=$'a\377b\nc'
	mkdir -p "$T/$d/sub" "$T/é"
	printf 'x\n' >"$T/$d/sub/f"
	printf 'pkgdist-manifest 1\nbad\n' >"$T/$d/m"
	printf 'pkgdist-manifest 1\nf 0644 1 1 %s \377\nf 0644 1 1 %s z\n' \
	    "$H1" "$H1" >"$T/order.m"
	run pkgdiff scan "$T/$d/nope"
	expect_status 2
	expect_output_has "cannot read directory '$T/a\\377b\\012c/nope'"
	[[ $output != *$'\377'* && ${#lines[@]} -eq 1 ]]
	run pkgdiff verify "$T/$d/m" "$T/$d"
	expect_status 2
	expect_output_has "$T/a\\377b\\012c/m:2: unknown entry type 'bad'"
	run pkgdiff diff "$T/$d/nope.m" "$T/$d/m"
	expect_status 2
	expect_output_has "cannot open '$T/a\\377b\\012c/nope.m'"
	run pkgdiff scan -o "$T/$d/nodir/out" "$T/$d"
	expect_status 2
	expect_output_has "cannot open directory '$T/a\\377b\\012c/nodir'"
	run pkgdiff scan "$T/$d/sub/f"
	expect_status 2
	expect_output_has "'$T/a\\377b\\012c/sub/f': Not a directory"
	# A path from inside a manifest: the same.
	run pkgdiff verify "$T/order.m" "$T/$d"
	expect_status 2
	expect_output_has "path 'z' is out of order: it sorts before '\\377'"
	[[ $output != *$'\377'* ]]
	# Valid UTF-8 stands as it is.
	run pkgdiff scan "$T/é/nope"
	expect_status 2
	expect_output_has "cannot read directory '$T/é/nope'"
}
