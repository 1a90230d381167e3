#!/usr/bin/env bats
# pkgstage export and import: package files between stores.

load lib/common
load lib/pkgstage

bats_require_minimum_version 1.5.0

setup()
{
	common_setup
	mktree "$T/src"
	seq 1 30000 >"$T/src/text"
	head -c 200000 /dev/urandom >"$T/src/random"
	pkgstage add p "$T/src" >/dev/null
	echo "second version" >"$T/src/added"
	seq 5 40000 >"$T/src/text"
	pkgstage add p "$T/src" >/dev/null
	S2=$T/store2
}

@test "pkgstage export/import: a full version arrives whole in another store" {
	run pkgstage export p 2 -o "$T/p2.pkg"
	expect_status 0
	[ -z "$output" ]
	run --separate-stderr pkgstage -s "$S2" import "$T/p2.pkg"
	expect_status 0
	[ "$output" = "p 2" ]
	diff <(pkgstage show p 2) <(pkgstage -s "$S2" show p 2)
	pkgstage -s "$S2" fsck
	# The same contents: every one the version names.
	[ "$(count_objects "$S2")" -eq "$(pkgstage show p 2 | awk '$1 == "f" { print $5 }' | sort -u | wc -l)" ]
}

@test "pkgstage export: the package file is compressed where that pays" {
	pkgstage export p 2 -o "$T/p2.pkg"
	total=$(pkgstage show p 2 | awk '$1 == "f" { s += $3 } END { print s }')
	[ "$(stat -c %s "$T/p2.pkg")" -lt "$total" ]
}

@test "pkgstage export: -o - writes the package file to stdout" {
	pkgstage export p 1 -o - >"$T/p1.pkg"
	pkgstage -s "$S2" import - <"$T/p1.pkg"
	diff <(pkgstage show p 1) <(pkgstage -s "$S2" show p 1)
}

@test "pkgstage import: importing the same file twice changes nothing" {
	pkgstage export p 2 -o "$T/p2.pkg"
	pkgstage -s "$S2" import "$T/p2.pkg"
	before=$(store_listing "$S2")
	run pkgstage -s "$S2" import "$T/p2.pkg"
	expect_status 0
	expect_output_has "already in the store, nothing to do"
	[ "$(store_listing "$S2")" = "$before" ]
}

@test "pkgstage import: an older version keeps the newest as newest and says so" {
	pkgstage export p 1 -o "$T/p1.pkg"
	pkgstage export p 2 -o "$T/p2.pkg"
	pkgstage -s "$S2" import "$T/p2.pkg"
	run pkgstage -s "$S2" import "$T/p1.pkg"
	expect_status 0
	expect_output_has "version 2 stays the newest"
	[ "$(pkgstage -s "$S2" show p | sed -n 3p)" = "version 2" ]
	diff <(pkgstage show p 1) <(pkgstage -s "$S2" show p 1)
	run pkgstage -s "$S2" add p "$T/src"
	[ "$output" = 3 ]
}

@test "pkgstage export --base: a delta holds only what the base lacks and imports onto it" {
	pkgstage export p 1 -o "$T/p1.pkg"
	pkgstage export p 2 -o "$T/p2.pkg"
	pkgstage export --base 1 p 2 -o "$T/d.pkg"
	[ "$(stat -c %s "$T/d.pkg")" -lt $(($(stat -c %s "$T/p2.pkg") / 2)) ]
	pkgstage -s "$S2" import "$T/p1.pkg"
	run pkgstage -s "$S2" import "$T/d.pkg"
	expect_status 0
	diff <(pkgstage show p 2) <(pkgstage -s "$S2" show p 2)
	pkgstage -s "$S2" fsck
}

@test "pkgstage import: a delta whose base the store lacks is refused naming the version" {
	pkgstage export --base 1 p 2 -o "$T/d.pkg"
	pkgstage -s "$S2" add other "$T/src"
	before=$(store_listing "$S2")
	run pkgstage -s "$S2" import "$T/d.pkg"
	expect_status 2
	expect_output_has "a delta against p version 1, which this store lacks"
	[ "$(store_listing "$S2")" = "$before" ]
}

@test "pkgstage import: a delta onto another store's different version 1 (wrong base) is refused, nothing changed" {
	pkgstage export --base 1 p 2 -o "$T/d.pkg"
	mkdir "$T/other"
	echo "unrelated" >"$T/other/file"
	pkgstage -s "$S2" add p "$T/other"
	before=$(store_listing "$S2")
	run pkgstage -s "$S2" import "$T/d.pkg"
	expect_status 2
	expect_output_has "content not in the store"
	[ "$(store_listing "$S2")" = "$before" ]
	pkgstage -s "$S2" fsck
}

@test "pkgstage import: a truncated package file is refused at every length tried, nothing changed" {
	pkgstage export p 2 -o "$T/p2.pkg"
	size=$(stat -c %s "$T/p2.pkg")
	pkgstage -s "$S2" add other "$T/src"
	before=$(store_listing "$S2")
	for cut in 0 1 7 8 20 40 60 100 500 1000 5000 $((size / 2)) \
	    $((size - 41)) $((size - 40)) $((size - 33)) $((size - 1)); do
		head -c "$cut" "$T/p2.pkg" >"$T/cut.pkg"
		run pkgstage -s "$S2" import "$T/cut.pkg"
		expect_status 2
		expect_output_has "cut.pkg"
		[ "$(store_listing "$S2")" = "$before" ]
	done
}

@test "pkgstage import: a corrupted package file is refused wherever the byte is, nothing changed" {
	pkgstage export p 2 -o "$T/p2.pkg"
	size=$(stat -c %s "$T/p2.pkg")
	pkgstage -s "$S2" add other "$T/src"
	before=$(store_listing "$S2")
	for off in 0 9 17 33 50 200 1000 3000 $((size / 3)) $((size / 2)) \
	    $((size - 100)) $((size - 35)) $((size - 20)) $((size - 1)); do
		cp "$T/p2.pkg" "$T/bad.pkg"
		b=$(od -An -tu1 -j "$off" -N1 "$T/bad.pkg" | tr -d ' ')
		printf "\\$(printf '%03o' $(((b + 1) % 256)))" |
		    dd of="$T/bad.pkg" bs=1 seek="$off" conv=notrunc 2>/dev/null
		run pkgstage -s "$S2" import "$T/bad.pkg"
		if [ "$status" -ne 2 ]; then
			echo "offset $off: exit $status: $output" >&2
			return 1
		fi
		[ "$(store_listing "$S2")" = "$before" ]
	done
	pkgstage -s "$S2" fsck
}

@test "pkgstage import: bytes after the end of a package file are refused" {
	pkgstage export p 1 -o "$T/p1.pkg"
	cat "$T/p1.pkg" >"$T/long.pkg"
	echo garbage >>"$T/long.pkg"
	run pkgstage -s "$S2" import "$T/long.pkg"
	expect_status 2
	expect_output_has "data after the end"
	run pkgstage -s "$S2" list
	[ -z "$output" ]
}

@test "pkgstage import: a file that is not a package file is refused (exit 2)" {
	echo "hello" >"$T/junk"
	run pkgstage -s "$S2" import "$T/junk"
	expect_status 2
	expect_output_has "junk"
	run pkgstage -s "$S2" import "$T/nonexistent"
	expect_status 2
}

@test "pkgstage import: the same version with another content is refused" {
	pkgstage export p 1 -o "$T/p1.pkg"
	mkdir "$T/other"
	echo x >"$T/other/x"
	pkgstage -s "$S2" add p "$T/other"
	before=$(store_listing "$S2")
	run pkgstage -s "$S2" import "$T/p1.pkg"
	expect_status 2
	expect_output_has "already in the store with another content"
	[ "$(store_listing "$S2")" = "$before" ]
}

@test "pkgstage import: takes the package lock (--wait 0 gives up while it is held)" {
	pkgstage export p 1 -o "$T/p1.pkg"
	pkgstage -s "$S2" add p "$T/src"
	exec 9>>"$S2/packages/p/lock"
	flock 9
	run pkgstage -s "$S2" import --wait 0 "$T/p1.pkg"
	exec 9>&-
	expect_status 2
	expect_output_has "locked by another process"
}

@test "pkgstage export: an unknown version or base is refused and no file is left" {
	run pkgstage export p 9 -o "$T/x.pkg"
	expect_status 2
	expect_output_has "p version 9: no such version"
	[ ! -e "$T/x.pkg" ]
	run pkgstage export --base 7 p 2 -o "$T/x.pkg"
	expect_status 2
	[ ! -e "$T/x.pkg" ]
	run pkgstage export p 2
	expect_status 2
	expect_output_has "usage:"
	[ -z "$(ls "$T" | grep tmp || true)" ]
}

@test "pkgstage export/import: package files are the same bytes every time" {
	pkgstage export p 2 -o "$T/a.pkg"
	pkgstage export p 2 -o "$T/b.pkg"
	cmp "$T/a.pkg" "$T/b.pkg"
	pkgstage -s "$S2" import "$T/a.pkg"
	pkgstage -s "$S2" export p 2 -o "$T/c.pkg"
	cmp "$T/a.pkg" "$T/c.pkg"
}
