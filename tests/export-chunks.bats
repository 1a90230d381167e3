#!/usr/bin/env bats
# pkgstage export --base carries a large file that changed a little as a
# recipe (copy these ranges of the base version's content, insert these
# chunks), in a package file of format 2; import rebuilds it from the
# importing store's copy of the base content and checks it before the
# version is visible.  A file whose chunks are mostly new goes whole, and
# a package file with no recipe stays format 1.

load lib/common
load lib/pkgstage

bats_require_minimum_version 1.5.0

setup()
{
	common_setup
	big_tree "$T/src"
	S2=$T/store2
}

# format_of FILE: the package file's format number.
format_of()
{
	od -A n -t u1 -j 11 -N 1 "$1" | tr -d ' '
}

# two_versions: version 1 staged and imported into S2; the caller changes
# the source, then delta stages version 2 and exports it against 1.
two_versions()
{
	pkgstage add office "$T/src" >/dev/null
	pkgstage export office 1 -o "$T/v1.pkg"
	pkgstage -s "$S2" import "$T/v1.pkg" >/dev/null
}

delta()
{
	pkgstage add office "$T/src" >/dev/null
	run pkgstage export --base 1 office 2 -o "$T/d.pkg"
	expect_status 0
	size=$(stat -c %s "$T/d.pkg")
	echo "package file: $size bytes" >&2
}

# imported: S2 holds version 2 exactly as this store does.
imported()
{
	run pkgstage -s "$S2" import "$T/d.pkg"
	expect_status 0
	diff <(pkgstage show office 2) <(pkgstage -s "$S2" show office 2)
	run pkgstage -s "$S2" fsck
	expect_status 0
}

# big_object STORE: the path of the stored content of the big file of
# version 1.
big_object()
{
	local d
	d=$(pkgstage -s "$1" show office 1 | awk '$NF == "big.img" { print $5 }')
	ls "$1/objects/${d:0:2}/${d:2}"* | grep -v '\.k$'
}

@test "export --base: 1% of a 16 MiB file changed in one place: the package file holds about the changed bytes (format 2); import rebuilds it" {
	two_versions
	overwrite "$T/src/big.img" $((8 * MIB)) 167772
	delta
	[ "$size" -lt $((167772 * 13 / 10)) ]
	[ "$(format_of "$T/d.pkg")" -eq 2 ]
	imported
}

@test "export --base: 30 scattered 4 KiB edits: a small part of the file" {
	two_versions
	for i in $(seq 1 30); do
		overwrite "$T/src/big.img" $((i * 500000)) 4096
	done
	delta
	[ "$size" -lt $((30 * 4096 * 3)) ]
	imported
}

@test "export --base: bytes inserted at the start move only the cuts near them" {
	two_versions
	{ head -c 1000 /dev/urandom; cat "$T/src/big.img"; } >"$T/big.new"
	mv "$T/big.new" "$T/src/big.img"
	delta
	[ "$size" -lt $((200 * 1024)) ]
	imported
}

@test "export --base: a base content the store keeps compressed is inflated for the rebuild" {
	rm "$T/src/big.img"
	seq 1 2000000 >"$T/src/big.txt"
	two_versions
	ls "$PKGDIST_STORE"/objects/*/*.z >/dev/null
	sed -i '1000000s/.*/changed/' "$T/src/big.txt"
	delta
	[ "$size" -lt $((256 * 1024)) ]
	[ "$(format_of "$T/d.pkg")" -eq 2 ]
	imported
}

@test "export --base: a compressed file (chunks mostly new) goes whole, and the file stays format 1" {
	rm "$T/src/big.img"
	seq 1 3000000 >"$T/text"
	gzip -1 -c "$T/text" >"$T/src/big.gz"
	two_versions
	sed -i '1s/^1$/one/' "$T/text"
	gzip -1 -c "$T/text" >"$T/src/big.gz"
	delta
	pkgstage export office 2 -o "$T/v2.pkg"
	[ "$size" -gt $(($(stat -c %s "$T/v2.pkg") * 9 / 10)) ]
	[ "$(format_of "$T/d.pkg")" -eq 1 ]
	imported
}

@test "export: a whole version, and a delta with no large file changed, stay format 1" {
	two_versions
	[ "$(format_of "$T/v1.pkg")" -eq 1 ]
	echo changed >"$T/src/s1"
	delta
	[ "$(format_of "$T/d.pkg")" -eq 1 ]
	imported
}

@test "import: a damaged recipe is refused wherever the byte is, the store unchanged" {
	two_versions
	overwrite "$T/src/big.img" $((8 * MIB)) 65536
	delta
	before=$(store_listing "$S2")
	for at in 100 $((size / 3)) $((size / 2)) $((size - 100)) $((size - 36)) $((size - 5)); do
		cp "$T/d.pkg" "$T/bad.pkg"
		printf '\377' | dd of="$T/bad.pkg" bs=1 seek="$at" conv=notrunc status=none
		cmp -s "$T/d.pkg" "$T/bad.pkg" &&
		    printf '\001' | dd of="$T/bad.pkg" bs=1 seek="$at" conv=notrunc status=none
		run pkgstage -s "$S2" import "$T/bad.pkg"
		echo "byte $at: $output" >&2
		expect_status 2
		[ "$(store_listing "$S2")" = "$before" ]
		run pkgstage -s "$S2" show office 2
		[ "$status" -ne 0 ]
	done
}

@test "import: a recipe whose operations do not make its content (file's checksum made to match) is refused, the store unchanged" {
	two_versions
	overwrite "$T/src/big.img" $((8 * MIB)) 65536
	delta
	# Change one inserted byte and fix the trailer's checksum: only the
	# rebuilt content's SHA-256 can tell.
	at=$((size - 40 - 4 - 30000))
	cp "$T/d.pkg" "$T/bad.pkg"
	printf '\125' | dd of="$T/bad.pkg" bs=1 seek="$at" conv=notrunc status=none
	cmp -s "$T/d.pkg" "$T/bad.pkg" &&
	    printf '\252' | dd of="$T/bad.pkg" bs=1 seek="$at" conv=notrunc status=none
	head -c $((size - 32)) "$T/bad.pkg" >"$T/fixed.pkg"
	head -c $((size - 40)) "$T/bad.pkg" | openssl dgst -sha256 -binary >>"$T/fixed.pkg"
	before=$(store_listing "$S2")
	run pkgstage -s "$S2" import "$T/fixed.pkg"
	expect_status 2
	expect_output_has "its recipe does not rebuild it"
	[ "$(store_listing "$S2")" = "$before" ]
}

@test "import: the base content drifted in the importing store is refused naming it, the store unchanged" {
	two_versions
	overwrite "$T/src/big.img" $((8 * MIB)) 65536
	delta
	o=$(big_object "$S2")
	chmod u+w "$o"
	overwrite "$o" $((2 * MIB)) 4096
	before=$(store_listing "$S2")
	run pkgstage -s "$S2" import "$T/d.pkg"
	expect_status 2
	expect_output_has "is rebuilt from this store's copy of office version 1: 'big.img': content"
	expect_output_has "digest mismatch"
	[ "$(store_listing "$S2")" = "$before" ]
}

@test "import: the base content missing from the importing store is refused naming it, the store unchanged" {
	two_versions
	overwrite "$T/src/big.img" $((8 * MIB)) 65536
	delta
	rm -f "$(big_object "$S2")"
	before=$(store_listing "$S2")
	run pkgstage -s "$S2" import "$T/d.pkg"
	expect_status 2
	expect_output_has "office version 1: 'big.img': content"
	expect_output_has "missing"
	[ "$(store_listing "$S2")" = "$before" ]
}

@test "import: a recipe onto another store's version 1 (not the base it was made from) is refused, the store unchanged" {
	pkgstage add office "$T/src" >/dev/null
	overwrite "$T/src/big.img" $((8 * MIB)) 65536
	delta_base=$T/other
	mkdir "$delta_base"
	head -c $((2 * MIB)) /dev/urandom >"$delta_base/big.img"
	pkgstage -s "$S2" add office "$delta_base" >/dev/null
	delta
	before=$(store_listing "$S2")
	run pkgstage -s "$S2" import "$T/d.pkg"
	expect_status 2
	expect_output_has "which office version 1 lacks"
	[ "$(store_listing "$S2")" = "$before" ]
}
