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

# ---- hostile package files (written by tests/hostile/mkpack) ----

# hostile_setup: a manifest m.good of two contents c1 c2, valid.
hostile_setup()
{
	command -v perl >/dev/null || skip "perl is needed by mkpack"
	MKPACK=$PKGDIST_SRC/tests/hostile/mkpack
	printf 'one\n' >"$T/c1"
	printf 'two two\n' >"$T/c2"
	d1=$(sha256sum <"$T/c1" | cut -c1-64)
	d2=$(sha256sum <"$T/c2" | cut -c1-64)
	{
		printf 'pkgdist-manifest 1\npackage h\nversion 1\n'
		printf 'f 0644 4 1700000000 %s a\n' "$d1"
		printf 'f 0644 8 1700000000 %s b\n' "$d2"
	} >"$T/m.good"
	pkgstage -s "$S2" add other "$T/src" >/dev/null
}

# refused FILE WHAT: import of FILE exits 2 saying WHAT; nothing changed.
refused()
{
	local before
	before=$(store_listing "$S2")
	run pkgstage -s "$S2" import "$1"
	if [ "$status" -ne 2 ] || [[ "$output" != *"$2"* ]]; then
		echo "$1: exit $status, want 2 and '$2': $output" >&2
		return 1
	fi
	[ "$(store_listing "$S2")" = "$before" ]
}

@test "pkgstage import: a package file written by the independent mkpack is accepted" {
	hostile_setup
	"$MKPACK" "$T/m.good" "$T/c1" "$T/c2" >"$T/good.pkg"
	run pkgstage -s "$S2" import "$T/good.pkg"
	expect_status 0
	pkgstage -s "$S2" show h 1 | cmp - "$T/m.good"
	pkgstage -s "$S2" fsck
}

@test "pkgstage import: hostile headers and lengths are refused before anything is allocated or written" {
	hostile_setup
	m=$T/m.good
	"$MKPACK" --format 3 "$m" "$T/c1" "$T/c2" >"$T/x" && refused "$T/x" "unknown format"
	# A recipe (method 2) only in format 2, and only in a delta.
	"$MKPACK" --method 2 "$m" "$T/c1" "$T/c2" >"$T/x" && refused "$T/x" "unknown method"
	"$MKPACK" --format 2 --method 2 "$m" "$T/c1" "$T/c2" >"$T/x" && refused "$T/x" "a recipe in a full package"
	"$MKPACK" --flags 1 "$m" "$T/c1" "$T/c2" >"$T/x" && refused "$T/x" "unknown flags"
	"$MKPACK" --version 0 "$m" "$T/c1" "$T/c2" >"$T/x" && refused "$T/x" "bad version"
	"$MKPACK" --base 1 "$m" "$T/c1" "$T/c2" >"$T/x" && refused "$T/x" "bad version"
	"$MKPACK" --package ../etc "$m" "$T/c1" "$T/c2" >"$T/x" && refused "$T/x" "invalid package name"
	"$MKPACK" --package other "$m" "$T/c1" "$T/c2" >"$T/x" && refused "$T/x" "does not name"
	"$MKPACK" --manifest-len 1099511627776 "$m" "$T/c1" "$T/c2" >"$T/x" && refused "$T/x" "too large"
	"$MKPACK" --manifest-stored 1000000000 "$m" "$T/c1" "$T/c2" >"$T/x" && refused "$T/x" "$T/x"
	"$MKPACK" --siglen 4000000000 "$m" "$T/c1" "$T/c2" >"$T/x" && refused "$T/x" "signature too long"
	"$MKPACK" --count 1152921504606846976 "$m" "$T/c1" "$T/c2" >"$T/x" && refused "$T/x" "contents for"
	"$MKPACK" --size 1152921504606846976 "$m" "$T/c1" "$T/c2" >"$T/x" && refused "$T/x" "size differs"
	"$MKPACK" --stored 1000000 "$m" "$T/c1" "$T/c2" >"$T/x" && refused "$T/x" "inconsistent lengths"
	"$MKPACK" --bad-trailer "$m" "$T/c1" "$T/c2" >"$T/x" && refused "$T/x" "checksum mismatch"
	"$MKPACK" --no-trailer "$m" "$T/c1" "$T/c2" >"$T/x" && refused "$T/x" "truncated"
}

@test "pkgstage import: hostile manifests and contents in package files are refused, nothing written anywhere" {
	hostile_setup
	printf 'pkgdist-manifest 1\npackage h\nversion 1\nf 0644 4 0 %s ../evil\n' "$d1" >"$T/m1"
	"$MKPACK" "$T/m1" "$T/c1" >"$T/x" && refused "$T/x" "$T/x"
	printf 'pkgdist-manifest 1\npackage h\nversion 1\nf 0644 4 0 %s /etc/evil\n' "$d1" >"$T/m2"
	"$MKPACK" "$T/m2" "$T/c1" >"$T/x" && refused "$T/x" "$T/x"
	printf 'pkgdist-manifest 1\npackage h\nversion 1\nl 0777 4 0 - a -> /etc\nf 0644 4 0 %s a/passwd\n' "$d1" >"$T/m3"
	"$MKPACK" "$T/m3" "$T/c1" >"$T/x" && refused "$T/x" "$T/x"
	printf 'pkgdist-manifest 1\npackage h\nversion 1\nd 0755 0 0 - a\nf 0644 4 0 %s a\n' "$d1" >"$T/m4"
	"$MKPACK" "$T/m4" "$T/c1" >"$T/x" && refused "$T/x" "$T/x"
	# A content the manifest does not name; a content missing.
	"$MKPACK" "$T/m.good" "$T/c1" "$T/c2" "$T/m1" >"$T/x" && refused "$T/x" "contents for"
	printf 'pkgdist-manifest 1\npackage h\nversion 1\nf 0644 4 0 %s a\nf 0644 4 0 %s b\n' "$d1" "$d1" >"$T/m5"
	printf 'zzz\n' >"$T/c3"
	"$MKPACK" "$T/m5" "$T/c3" >"$T/x" && refused "$T/x" "not in the manifest"
	"$MKPACK" "$T/m.good" "$T/c1" >"$T/x" && refused "$T/x" "content not in the store"
	# The manifest in another spelling than the canonical one.
	sed 's/^f 0644 4 1700000000 /f 0644 4 01700000000 /' "$T/m.good" >"$T/m6"
	"$MKPACK" "$T/m6" "$T/c1" "$T/c2" >"$T/x"
	run pkgstage -s "$S2" import "$T/x"
	expect_status 2
	[ ! -e "$T/evil" ] && [ ! -e /etc/evil ]
}

@test "pkgstage export: a content missing from the store is named by package, version and file" {
	h=$(sha256sum <"$T/src/random" | cut -d' ' -f1)
	rm -f "$PKGDIST_STORE/objects/${h:0:2}/${h:2}"
	run pkgstage export p 2 -o "$T/p2.pkg"
	expect_status 2
	expect_output_has "pkgstage: p version 2: 'random': content $h: missing"
	[ ! -e "$T/p2.pkg" ]
}

@test "pkgstage export: a damaged content is refused by package, version and file, and no file is left" {
	h=$(sha256sum <"$T/src/random" | cut -d' ' -f1)
	o=$PKGDIST_STORE/objects/${h:0:2}/${h:2}
	[ -f "$o" ]
	chmod u+w "$o"
	flip_byte "$o" 1000
	run pkgstage export p 2 -o "$T/p2.pkg"
	expect_status 2
	expect_output_has "pkgstage: p version 2: 'random': content $h: digest mismatch"
	[ ! -e "$T/p2.pkg" ]
	# The same for a content stored compressed: its bytes are checked
	# after inflating, not only as stored.
	h=$(sha256sum <"$T/src/text" | cut -d' ' -f1)
	o=$PKGDIST_STORE/objects/${h:0:2}/${h:2}.z
	[ -f "$o" ]
	chmod u+w "$o"
	printf 'XXXX' | dd of="$o" bs=1 seek=200 conv=notrunc 2>/dev/null
	run pkgstage export --base 1 p 2 -o "$T/p2.pkg"
	expect_status 2
	expect_output_has "pkgstage: p version 2: 'text': content $h:"
	[ ! -e "$T/p2.pkg" ]
	[ -z "$(ls "$T" | grep tmp || true)" ]
}
