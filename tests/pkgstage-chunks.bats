#!/usr/bin/env bats
# The chunk index the store keeps beside each large content (above 1 MiB):
# written by add, one file per content (not one per chunk), checked by
# fsck (damage named, a missing one is no damage: an earlier release's
# store), removed by gc with its content.

load lib/common
load lib/pkgstage

bats_require_minimum_version 1.5.0

setup()
{
	common_setup
	mkdir -p "$T/src"
	head -c 3000000 /dev/urandom >"$T/src/big"
	head -c 1048576 /dev/urandom >"$T/src/at-threshold"
	echo small >"$T/src/small"
}

# index_of FILE: the store's chunk index of that file's content.
index_of()
{
	local d
	d=$(sha256sum "$1" | cut -c1-64)
	echo "$PKGDIST_STORE/objects/${d:0:2}/${d:2}.k"
}

@test "pkgstage add: a content above 1 MiB gets one chunk index file beside it, smaller ones none" {
	run pkgstage add office "$T/src"
	expect_status 0
	[ -f "$(index_of "$T/src/big")" ]
	[ ! -e "$(index_of "$T/src/at-threshold")" ]
	[ ! -e "$(index_of "$T/src/small")" ]
	[ "$(find "$PKGDIST_STORE/objects" -name '*.k' | wc -l)" -eq 1 ]
	[ "$(count_objects)" -eq 3 ]
	run pkgstage fsck
	expect_status 0
}

@test "pkgstage fsck: a damaged chunk index is named; a missing one (an earlier release's store) is no damage" {
	pkgstage add office "$T/src" >/dev/null
	k=$(index_of "$T/src/big")
	chmod u+w "$k"
	flip_byte "$k" 300
	run pkgstage fsck
	expect_status 1
	expect_output_has "office version 1: 'big': $k: chunk index: checksum mismatch"
	rm "$k"
	run pkgstage fsck
	expect_status 0
}

@test "pkgstage fsck: an index that decodes but does not match its content is damage" {
	pkgstage add office "$T/src" >/dev/null
	k=$(index_of "$T/src/big")
	# The index of other bytes, renamed to this content's: its own
	# checksum holds, the content it names does not.
	head -c 3000000 /dev/urandom >"$T/src/big"
	pkgstage add office "$T/src" >/dev/null
	k2=$(index_of "$T/src/big")
	chmod u+w "$k"
	cp "$k2" "$k"
	run pkgstage fsck
	expect_status 1
	expect_output_has "chunk index"
}

@test "pkgstage gc: removes the index with its content, and counts only the content" {
	pkgstage add office "$T/src" >/dev/null
	k=$(index_of "$T/src/big")
	head -c 2000000 /dev/urandom >"$T/src/big"
	pkgstage add office "$T/src" >/dev/null
	pkgstage add office "$T/src" >/dev/null
	[ -f "$k" ]
	run pkgstage gc --keep 1
	expect_status 0
	expect_output_has "removed 2 versions, 1 contents"
	[ ! -e "$k" ]
	[ -f "$(index_of "$T/src/big")" ]
	run pkgstage fsck
	expect_status 0
}
