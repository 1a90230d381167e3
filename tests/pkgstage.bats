#!/usr/bin/env bats
# pkgstage: the store (add, list, show, gc, fsck), usage and exit codes.
# Package files: tests/pkgstage-pack.bats; crashes and faults:
# tests/pkgstage-crash.bats.

load lib/common
load lib/pkgstage

bats_require_minimum_version 1.5.0

setup()
{
	common_setup
	mktree "$T/src"
}

# ---- usage ----

@test "pkgstage: -h prints the usage on stdout and exits 0" {
	run pkgstage -h
	expect_status 0
	expect_output_has "usage: pkgstage [-s store] add"
	expect_output_has "pkgstage keygen -o key"
}

@test "pkgstage: a bad flag prints the usage on stderr and exits 2" {
	run pkgstage add --bogus p "$T/src"
	expect_status 2
	expect_output_has "usage: pkgstage"
	run pkgstage --bogus
	expect_status 2
	run pkgstage frobnicate
	expect_status 2
	expect_output_has "'frobnicate': unknown subcommand"
	run pkgstage
	expect_status 2
}

@test "pkgstage: a flag of another subcommand is refused (exit 2)" {
	run pkgstage list --keep 3
	expect_status 2
	run pkgstage add --trust k.pub p "$T/src"
	expect_status 2
	run pkgstage gc --version 3
	expect_status 2
}

@test "pkgstage: -s is accepted before and after the subcommand" {
	run pkgstage -s "$T/s1" add p "$T/src"
	expect_status 0
	[ "$output" = 1 ]
	run pkgstage add -s "$T/s2" p "$T/src"
	expect_status 0
	[ "$output" = 1 ]
	run pkgstage add p "$T/src" --store "$T/s2"
	expect_status 0
	[ "$output" = 2 ]
	[ -d "$T/s1/objects" ] && [ -d "$T/s2/objects" ]
	[ ! -e "$T/store" ]
}

@test "pkgstage: the store comes from PKGDIST_STORE when -s is absent" {
	run pkgstage add p "$T/src"
	expect_status 0
	[ -f "$PKGDIST_STORE/format" ]
}

@test "pkgstage: a directory that is not a store is refused (exit 2)" {
	mkdir "$T/notastore"
	echo x >"$T/notastore/file"
	run pkgstage -s "$T/notastore" list
	expect_status 2
	expect_output_has "not a pkgdist store"
	run pkgstage -s "$T/missing" list
	expect_status 2
	[ ! -e "$T/missing" ]
}

# ---- add ----

@test "pkgstage add: prints only the new version number" {
	run --separate-stderr pkgstage add office "$T/src"
	expect_status 0
	[ "$output" = 1 ]
	run --separate-stderr pkgstage add office "$T/src"
	[ "$output" = 2 ]
	[ -z "$stderr" ]
}

@test "pkgstage add: the version's manifest is the tree's (awkward names, links, modes)" {
	pkgstage add office "$T/src"
	pkgdiff scan --package office --version 1 "$T/src" >"$T/scan"
	pkgstage show office 1 >"$T/show"
	diff "$T/scan" "$T/show"
}

@test "pkgstage add: contents are stored once however many versions and packages share them" {
	pkgstage add office "$T/src"
	n1=$(count_objects)
	pkgstage add office "$T/src"
	pkgstage add other "$T/src"
	[ "$(count_objects)" -eq "$n1" ]
	# hello.txt and the link target are the same content once.
	printf 'hello\n' >"$T/src/copy of hello"
	pkgstage add office "$T/src"
	[ "$(count_objects)" -eq "$n1" ]
	echo new >"$T/src/new file"
	pkgstage add office "$T/src"
	[ "$(count_objects)" -eq $((n1 + 1)) ]
}

@test "pkgstage add: compressible contents are stored compressed, random ones as they are" {
	mkdir "$T/t"
	seq 1 200000 >"$T/t/text"
	head -c 300000 /dev/urandom >"$T/t/random"
	pkgstage add p "$T/t"
	text=$(sha256sum <"$T/t/text" | cut -c1-64)
	rnd=$(sha256sum <"$T/t/random" | cut -c1-64)
	z=$(stat -c %s "$PKGDIST_STORE/objects/${text:0:2}/${text:2}.z")
	[ "$z" -lt $(($(stat -c %s "$T/t/text") / 2)) ]
	[ -f "$PKGDIST_STORE/objects/${rnd:0:2}/${rnd:2}" ]
	[ "$(stat -c %s "$PKGDIST_STORE/objects/${rnd:0:2}/${rnd:2}")" -eq 300000 ]
	pkgstage fsck
}

@test "pkgstage add: --version N above every existing version is taken" {
	pkgstage add p "$T/src"
	run pkgstage add --version 10 p "$T/src"
	expect_status 0
	[ "$output" = 10 ]
	run pkgstage add p "$T/src"
	[ "$output" = 11 ]
}

@test "pkgstage add: --version N not above the newest is refused, nothing changed" {
	pkgstage add --version 5 p "$T/src"
	before=$(store_listing)
	run pkgstage add --version 5 p "$T/src"
	expect_status 2
	expect_output_has "not above the newest"
	run pkgstage add --version 3 p "$T/src"
	expect_status 2
	[ "$(store_listing)" = "$before" ]
}

@test "pkgstage add: a file whose bytes no longer match --manifest aborts, nothing committed, file named" {
	pkgdiff scan "$T/src" >"$T/m"
	# The tree changes after the scan: same size, same mtime, other
	# bytes; only the hash made while copying can tell.
	cp -p "$T/src/hello.txt" "$T/ref"
	printf 'HELLO\n' >"$T/src/hello.txt"
	touch -r "$T/ref" "$T/src/hello.txt"
	pkgstage add other "$T/src"
	before=$(store_listing)
	run pkgstage add --manifest "$T/m" p "$T/src"
	expect_status 2
	expect_output_has "'hello.txt': changed while being staged"
	[ "$(store_listing)" = "$before" ]
	run pkgstage list p
	[ -z "$output" ]
}

@test "pkgstage add: a known content's file that changed size or mtime since --manifest aborts" {
	pkgstage add p "$T/src"
	pkgdiff scan "$T/src" >"$T/m"
	printf 'HELLO\n' >"$T/src/hello.txt"
	touch -d @1000000000 "$T/src/hello.txt"
	before=$(store_listing)
	run pkgstage add --manifest "$T/m" p "$T/src"
	expect_status 2
	expect_output_has "'hello.txt': changed while being staged (mtime differs)"
	[ "$(store_listing)" = "$before" ]
}

@test "pkgstage add: a file whose size no longer matches --manifest aborts (exit 2)" {
	pkgdiff scan "$T/src" >"$T/m"
	printf 'longer than before\n' >>"$T/src/read me.txt"
	run pkgstage add --manifest "$T/m" p "$T/src"
	expect_status 2
	expect_output_has "'read me.txt': changed while being staged"
	run pkgstage list
	[ -z "$output" ]
}

@test "pkgstage add: a file of --manifest missing from the tree aborts (exit 2)" {
	pkgdiff scan "$T/src" >"$T/m"
	rm "$T/src/hello.txt"
	run pkgstage add --manifest "$T/m" p "$T/src"
	expect_status 2
	expect_output_has "hello.txt"
	run pkgstage list
	[ -z "$output" ]
}

@test "pkgstage add: a file replaced by a link after the scan is not followed (exit 2)" {
	pkgdiff scan "$T/src" >"$T/m"
	echo secret >"$T/secret"
	rm "$T/src/hello.txt"
	ln -s "$T/secret" "$T/src/hello.txt"
	run pkgstage add --manifest "$T/m" p "$T/src"
	expect_status 2
	expect_output_has "hello.txt"
	[ -z "$(grep -rl secret "$PKGDIST_STORE/objects" || true)" ]
}

@test "pkgstage add: --manifest with unchanged contents reads no known file" {
	pkgstage add p "$T/src"
	pkgdiff scan "$T/src" >"$T/m"
	# Change a known file's bytes behind the manifest's back, keeping
	# its size and mtime: if add read it, the digest would not match
	# and it would refuse; it trusts the quick check instead, as
	# documented, and stores the manifest's (known) content.
	f=$T/src/hello.txt
	[ "$(head -c 1 "$f")" != X ]
	mt=$(stat -c %Y "$f")
	printf X | dd of="$f" bs=1 seek=0 conv=notrunc 2>/dev/null
	touch -d "@$mt" "$f"
	run pkgstage add --manifest "$T/m" p "$T/src"
	expect_status 0
	[ "$output" = 2 ]
	[ "$(pkgstage show p 2 | grep ' hello\.txt$')" = \
	    "$(grep ' hello\.txt$' "$T/m")" ]
}

@test "pkgstage add: a broken --manifest is refused naming file and line" {
	printf 'pkgdist-manifest 1\nf 0644 1 0 zz ../x\n' >"$T/bad"
	run pkgstage add --manifest "$T/bad" p "$T/src"
	expect_status 2
	expect_output_has "$T/bad:2"
	run pkgstage list
	[ -z "$output" ]
}

@test "pkgstage add: a --manifest naming another package is refused" {
	pkgdiff scan --package other --version 1 "$T/src" >"$T/m"
	run pkgstage add --manifest "$T/m" p "$T/src"
	expect_status 2
	expect_output_has "describes package 'other'"
}

@test "pkgstage add: an invalid package name is refused (exit 2)" {
	run pkgstage add .hidden "$T/src"
	expect_status 2
	run pkgstage add "a/b" "$T/src"
	expect_status 2
	run pkgstage add "$(printf 'x%.0s' {1..65})" "$T/src"
	expect_status 2
	[ ! -d "$PKGDIST_STORE/packages" ] || [ -z "$(ls "$PKGDIST_STORE/packages")" ]
}

@test "pkgstage add: a missing source directory is refused (exit 2)" {
	run pkgstage add p "$T/nope"
	expect_status 2
	expect_output_has "$T/nope"
}

@test "pkgstage add: a special file in the tree is refused (exit 2), nothing committed" {
	mkfifo "$T/src/fifo"
	run pkgstage add p "$T/src"
	expect_status 2
	expect_output_has "fifo"
	run pkgstage list
	[ -z "$output" ]
}

@test "pkgstage add: two adds started together, 20 times, give consecutive versions and intact manifests" {
	pkgdiff scan "$T/src" >"$T/m"
	for i in $(seq 1 20); do
		pkgstage add p "$T/src" >"$T/a.$i" 2>&1 &
		pkgstage add --manifest "$T/m" p "$T/src" >"$T/b.$i" 2>&1 &
		wait
	done
	cat "$T"/a.* "$T"/b.* | sort -n >"$T/got"
	seq 1 40 >"$T/want"
	diff "$T/want" "$T/got"
	pkgstage list p | awk '{ print $2 }' >"$T/listed"
	diff "$T/want" "$T/listed"
	for v in 1 17 40; do
		pkgstage show p "$v" | sed 1,3d >"$T/shown"
		sed 1d "$T/m" | diff - "$T/shown"
	done
	pkgstage fsck
}

@test "pkgstage add: waits for the package lock, and --wait 0 gives up with exit 2" {
	pkgstage add p "$T/src"
	exec 9>>"$PKGDIST_STORE/packages/p/lock"
	flock 9
	run pkgstage add --wait 0 p "$T/src"
	exec 9>&-
	expect_status 2
	expect_output_has "locked by another process"
	run pkgstage add --wait 0 p "$T/src"
	expect_status 0
	[ "$output" = 2 ]
	# A holder that lets go: the add waits for it, then goes on.
	(exec 9>>"$PKGDIST_STORE/packages/p/lock"; flock 9; : >"$T/held"
	    sleep 1) &
	while [ ! -e "$T/held" ]; do sleep 0.05; done
	run pkgstage add p "$T/src"
	wait
	expect_status 0
	[ "$output" = 3 ]
}

@test "pkgstage add: the lock of one package does not block another" {
	pkgstage add p "$T/src"
	exec 9>>"$PKGDIST_STORE/packages/p/lock"
	flock 9
	run pkgstage add --wait 0 q "$T/src"
	exec 9>&-
	expect_status 0
}

@test "pkgstage add: an empty tree is a version with an empty manifest" {
	mkdir "$T/empty"
	run pkgstage add e "$T/empty"
	expect_status 0
	run pkgstage show e
	[ "$output" = "$(printf 'pkgdist-manifest 1\npackage e\nversion 1')" ]
}

# ---- list and show ----

@test "pkgstage list: one line per version: package, version, files, bytes, date" {
	pkgstage add b "$T/src"
	pkgstage add a "$T/src"
	pkgstage add a "$T/src"
	run pkgstage list
	expect_status 0
	[ "${#lines[@]}" -eq 3 ]
	[[ "${lines[0]}" == "a 1 "* ]]
	[[ "${lines[1]}" == "a 2 "* ]]
	[[ "${lines[2]}" == "b 1 "* ]]
	files=$(pkgdiff scan "$T/src" | grep -c '^f ')
	bytes=$(pkgdiff scan "$T/src" | awk '$1 == "f" { s += $3 } END { print s }')
	read -r _ _ f b d <<<"${lines[0]}"
	[ "$f" -eq "$files" ]
	[ "$b" -eq "$bytes" ]
	[[ "$d" =~ ^[0-9]{4}-[0-9]{2}-[0-9]{2}T ]]
	run pkgstage list b
	[ "${#lines[@]}" -eq 1 ]
}

@test "pkgstage list: an unknown package is an error (exit 2)" {
	pkgstage add a "$T/src"
	run pkgstage list nope
	expect_status 2
	expect_output_has "package 'nope': not in the store"
}

@test "pkgstage show: default is the newest version, with package and version header" {
	pkgstage add p "$T/src"
	echo more >"$T/src/more"
	pkgstage add p "$T/src"
	run pkgstage show p
	expect_status 0
	[ "${lines[0]}" = "pkgdist-manifest 1" ]
	[ "${lines[1]}" = "package p" ]
	[ "${lines[2]}" = "version 2" ]
	expect_output_has " more"
	run pkgstage show p 1
	expect_output_lacks " more"
}

@test "pkgstage show: unknown package or version, or a bad version number, exit 2" {
	pkgstage add p "$T/src"
	run pkgstage show p 7
	expect_status 2
	expect_output_has "p version 7: no such version"
	run pkgstage show nope
	expect_status 2
	run pkgstage show p 0
	expect_status 2
	run pkgstage show p x1
	expect_status 2
}

# ---- gc ----

@test "pkgstage gc: keeps the newest K versions and removes unused contents" {
	for i in 1 2 3 4; do
		echo "content $i" >"$T/src/changing"
		pkgstage add p "$T/src"
	done
	n=$(count_objects)
	run pkgstage gc --keep 2
	expect_status 0
	expect_output_has "removed 2 versions, 2 contents"
	pkgstage list p | awk '{ print $2 }' | tr '\n' ' ' >"$T/v"
	[ "$(cat "$T/v")" = "3 4 " ]
	[ "$(count_objects)" -eq $((n - 2)) ]
	pkgstage fsck
	pkgstage show p 3 >/dev/null
}

@test "pkgstage gc: a version a DP holds (holdings record) is kept" {
	for i in 1 2 3 4; do
		echo "content $i" >"$T/src/changing"
		pkgstage add p "$T/src"
	done
	printf 'pkgdist-holdings 1\ndp1 1 1 complete 1700000000\ndp2 2 3 failed 1700000000\n' \
	    >"$PKGDIST_STORE/packages/p/holdings"
	run pkgstage gc --keep 1
	expect_status 0
	pkgstage list p | awk '{ print $2 }' | tr '\n' ' ' >"$T/v"
	[ "$(cat "$T/v")" = "1 2 3 4 " ]
	printf 'pkgdist-holdings 1\ndp1 4 4 complete 1700000000\n' \
	    >"$PKGDIST_STORE/packages/p/holdings"
	pkgstage gc --keep 1
	pkgstage list p | awk '{ print $2 }' | tr '\n' ' ' >"$T/v"
	[ "$(cat "$T/v")" = "4 " ]
	pkgstage fsck
}

@test "pkgstage gc: contents shared with another package stay" {
	pkgstage add p "$T/src"
	pkgstage add q "$T/src"
	echo x >"$T/src/x"
	pkgstage add p "$T/src"
	n=$(count_objects)
	pkgstage gc --keep 1
	[ "$(count_objects)" -eq "$n" ]
	pkgstage fsck
}

@test "pkgstage gc: removes leftovers of a crashed add" {
	pkgstage add p "$T/src"
	mkdir -p "$PKGDIST_STORE/tmp/txn-999999-dead" "$PKGDIST_STORE/packages/p/v/.build-2"
	: >"$PKGDIST_STORE/tmp/txn-999999-dead.lock"
	echo junk >"$PKGDIST_STORE/tmp/txn-999999-dead/p1"
	pkgstage gc
	[ ! -e "$PKGDIST_STORE/tmp/txn-999999-dead" ]
	[ ! -e "$PKGDIST_STORE/tmp/txn-999999-dead.lock" ]
	[ ! -e "$PKGDIST_STORE/packages/p/v/.build-2" ]
	run pkgstage list p
	[ "${#lines[@]}" -eq 1 ]
}

@test "pkgstage gc: running beside adds of another package loses nothing" {
	mkdir "$T/big"
	for i in $(seq 1 60); do
		seq "$i" 20000 >"$T/big/f$i"
	done
	for i in 1 2 3; do
		echo "v$i" >"$T/src/changing"
		pkgstage add p "$T/src"
	done
	pkgstage add q "$T/big" >"$T/q1" &
	pkgstage gc --keep 1 >"$T/gc1" &
	pkgstage add q "$T/big" >"$T/q2" &
	pkgstage gc --keep 1 >"$T/gc2" &
	wait
	[ "$(cat "$T/q1" "$T/q2" | sort -n | tr '\n' ' ')" = "1 2 " ]
	pkgstage fsck
	pkgstage show q 2 >/dev/null
}

@test "pkgstage gc: a bad --keep is a usage error" {
	run pkgstage gc --keep x
	expect_status 2
	run pkgstage gc --keep -1
	expect_status 2
}

# ---- fsck ----

@test "pkgstage fsck: a clean store exits 0 and prints nothing" {
	pkgstage add p "$T/src"
	run pkgstage fsck
	expect_status 0
	[ -z "$output" ]
}

@test "pkgstage fsck: a missing content is damage (exit 1) naming version and file" {
	pkgstage add p "$T/src"
	d=$(printf 'hello\n' | sha256sum | cut -c1-64)
	rm -f "$PKGDIST_STORE/objects/${d:0:2}/${d:2}"*
	run pkgstage fsck
	expect_status 1
	expect_output_has "p version 1: 'hello.txt'"
	expect_output_has "missing"
}

@test "pkgstage fsck: a corrupted content is damage (exit 1)" {
	mkdir "$T/t"
	head -c 100000 /dev/urandom >"$T/t/r"
	seq 1 50000 >"$T/t/s"
	pkgstage add p "$T/t"
	for f in r s; do
		d=$(sha256sum <"$T/t/$f" | cut -c1-64)
		o=$(ls "$PKGDIST_STORE/objects/${d:0:2}/${d:2}"*)
		chmod u+w "$o"
		printf 'XX' | dd of="$o" bs=1 seek=200 conv=notrunc 2>/dev/null
	done
	run pkgstage fsck
	expect_status 1
	expect_output_has "p version 1: 'r'"
	expect_output_has "p version 1: 's'"
}

@test "pkgstage fsck: a damaged manifest is damage (exit 1); show refuses it (exit 2)" {
	pkgstage add p "$T/src"
	m=$PKGDIST_STORE/packages/p/v/1/manifest
	chmod u+w "$m"
	echo "f 0644 1 0 nothex ../../etc/passwd" >>"$m"
	run pkgstage fsck
	expect_status 1
	expect_output_has "p version 1"
	run pkgstage show p 1
	expect_status 2
}

@test "pkgstage fsck: a manifest naming another version is damage" {
	pkgstage add p "$T/src"
	pkgstage add p "$T/src"
	chmod -R u+w "$PKGDIST_STORE/packages/p/v"
	cp "$PKGDIST_STORE/packages/p/v/1/manifest" "$PKGDIST_STORE/packages/p/v/2/manifest"
	run pkgstage fsck
	expect_status 1
	expect_output_has "does not name p version 2"
}

@test "pkgstage add: after the largest version number there is no next one (exit 2)" {
	pkgstage add --version 4503599627370496 p "$T/src"
	run pkgstage add --version 18446744073709551615 p "$T/src"
	expect_status 2
	run pkgstage add --version 18446744073709551616 p "$T/src"
	expect_status 2
	# A store that got one (a release without the limit) goes no higher.
	mv "$PKGDIST_STORE/packages/p/v/4503599627370496" \
	    "$PKGDIST_STORE/packages/p/v/9007199254740991"
	run pkgstage add p "$T/src"
	expect_status 2
	expect_output_has "no version number is above 9007199254740991"
}

@test "pkgstage add: a file that starts as text and goes on random is compressed where it pays, and reads back whole" {
	mkdir "$T/t"
	{ seq 1 400000; head -c 3000000 /dev/urandom; seq 1 400000; } >"$T/t/mixed"
	pkgstage add p "$T/t"
	d=$(sha256sum <"$T/t/mixed" | cut -c1-64)
	o=$PKGDIST_STORE/objects/${d:0:2}/${d:2}.z
	[ -f "$o" ]
	size=$(stat -c %s "$T/t/mixed")
	# The random middle is stored as it is (about 3 MB), the text shrinks.
	[ "$(stat -c %s "$o")" -lt $((size - 3000000)) ]
	[ "$(stat -c %s "$o")" -gt 3000000 ]
	run pkgstage fsck
	expect_status 0
	pkgstage export p 1 -o "$T/p.pkg"
	pkgstage -s "$T/s2" import "$T/p.pkg"
	pkgstage -s "$T/s2" fsck
}

@test "pkgstage fsck: waits while gc sweeps contents, and checks beside a running add" {
	pkgstage add p "$T/src"
	exec 9>>"$PKGDIST_STORE/objects.lock"
	flock 9
	# An exclusive holder (a sweeping gc) makes fsck wait; an add
	# (shared) does not stop it.
	pkgstage fsck >"$T/out" 2>&1 9>&- &
	f=$!
	sleep 0.3
	kill -0 "$f"
	exec 9>&-
	wait "$f"
	exec 9>>"$PKGDIST_STORE/objects.lock"
	flock -s 9
	run pkgstage fsck
	exec 9>&-
	expect_status 0
}

@test "pkgstage: a bad option is reported as 'pkgstage: ...' (not the subcommand), exit 2" {
	run "$PKGDIST_BIN/pkgstage" add --bogus office97 "$T"
	expect_status 2
	[ "${lines[0]}" = "pkgstage: unrecognized option '--bogus'" ]
	run pkgstage gc --keep 01
	expect_status 2
}
