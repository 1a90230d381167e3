#!/usr/bin/env bats
# A large file (above 1 MiB) that a version changes in part is kept in
# the store as a delta from the newest version's copy (objects/ab/....d):
# the store grows by about the changed bytes, and everything that reads
# the version (show, export, push to a local or a remote DP, fsck) gets
# the exact bytes; gc keeps the base a kept delta is made from; damage
# to a delta or its base is named; an I/O error while a delta is written
# commits nothing.  (C unit test: tests/unit/test_store_delta.c.)

load lib/common
load lib/pkgstage
load lib/sshd

bats_require_minimum_version 1.5.0

setup()
{
	common_setup
	big_tree "$T/src"
}

# delta_of FILE: the store's delta file of that file's content.
delta_of()
{
	local d
	d=$(sha256sum "$1" | cut -c1-64)
	echo "$PKGDIST_STORE/objects/${d:0:2}/${d:2}.d"
}

# whole_of FILE: the store's whole object of that file's content.
whole_of()
{
	local d
	d=$(sha256sum "$1" | cut -c1-64)
	echo "$PKGDIST_STORE/objects/${d:0:2}/${d:2}"
}

store_bytes()
{
	du -sb "$PKGDIST_STORE" | cut -f1
}

@test "pkgstage add: 1% of a 16 MiB file changed grows the store by at most 1.3 x the changed bytes" {
	pkgstage add office "$T/src" >/dev/null
	cp "$T/src/big.img" "$T/v1.img"
	before=$(store_bytes)
	changed=$((16 * MIB / 100))
	overwrite "$T/src/big.img" $((8 * MIB)) "$changed"
	run pkgstage add office "$T/src"
	expect_status 0
	after=$(store_bytes)
	grown=$((after - before))
	echo "changed $changed, store grew $grown" >&2
	[ "$grown" -le $((changed * 13 / 10)) ]
	[ -f "$(delta_of "$T/src/big.img")" ]
	[ ! -e "$(whole_of "$T/src/big.img")" ]
	# Version 1's copy is untouched: it is the base.
	cmp "$(whole_of "$T/v1.img")" "$T/v1.img"
	run pkgstage fsck
	expect_status 0
}

@test "a version kept as a delta reads back exactly: export, import, a local DP, a remote DP over ssh" {
	sshd_need
	pkgstage add office "$T/src" >/dev/null
	overwrite "$T/src/big.img" $((3 * MIB)) 100000
	overwrite "$T/src/big.img" $((12 * MIB)) 5000
	pkgstage add office "$T/src" >/dev/null
	[ -f "$(delta_of "$T/src/big.img")" ]
	# Export whole: the package file holds the bytes, and imports.
	run pkgstage export office 2 -o "$T/v2.pkg"
	expect_status 0
	PKGDIST_STORE=$T/s2 run pkgstage import "$T/v2.pkg"
	expect_status 0
	PKGDIST_STORE=$T/s2 run pkgstage fsck
	expect_status 0
	# A local DP and a remote one, first version 1 then a refresh.
	mkdir -p "$T/dp" "$T/rdp"
	printf 'dp1 g %s\nr1 g %s\n' "$T/dp" "$(sshd_url "$T/rdp")" \
	    >"$PKGDIST_STORE/dps"
	run pkgpush --all --version 1 office
	expect_status 0
	run pkgpush --all office
	expect_status 0
	cmp "$T/src/big.img" "$T/dp/office/big.img"
	cmp "$T/src/big.img" "$T/rdp/office/big.img"
	cmp "$T/src/s1" "$T/rdp/office/s1"
	# A DP that never had the package gets it whole from the delta.
	mkdir -p "$T/rdp2"
	printf 'r2 g %s\n' "$(sshd_url "$T/rdp2")" \
	    >"$PKGDIST_STORE/dps"
	run pkgpush --all office
	expect_status 0
	cmp "$T/src/big.img" "$T/rdp2/office/big.img"
}

@test "a third version is a delta from the first version's whole copy, not from the second's delta" {
	pkgstage add office "$T/src" >/dev/null
	base=$(sha256sum "$T/src/big.img" | cut -c1-64)
	overwrite "$T/src/big.img" $((2 * MIB)) 50000
	pkgstage add office "$T/src" >/dev/null
	overwrite "$T/src/big.img" $((10 * MIB)) 50000
	pkgstage add office "$T/src" >/dev/null
	d=$(delta_of "$T/src/big.img")
	[ -f "$d" ]
	# The base's digest is at bytes 48..79 of the delta.
	[ "$(od -A n -t x1 -j 48 -N 32 "$d" | tr -d ' \n')" = "$base" ]
	run pkgstage fsck
	expect_status 0
}

@test "pkgstage add: a file sharing little with its old copy, or shrunk below 1 MiB, is stored whole" {
	pkgstage add office "$T/src" >/dev/null
	head -c $((16 * MIB)) /dev/urandom >"$T/src/big.img"
	pkgstage add office "$T/src" >/dev/null
	[ ! -e "$(delta_of "$T/src/big.img")" ]
	[ -f "$(whole_of "$T/src/big.img")" ]
	head -c 500000 "$T/src/big.img" >"$T/src/small.img"
	mv "$T/src/small.img" "$T/src/big.img"
	pkgstage add office "$T/src" >/dev/null
	[ ! -e "$(delta_of "$T/src/big.img")" ]
	[ -f "$(whole_of "$T/src/big.img")" ]
}

@test "pkgstage gc: keeps the base of a kept delta when its version goes, and removes it with the last delta" {
	pkgstage add office "$T/src" >/dev/null
	b=$(whole_of "$T/src/big.img")
	overwrite "$T/src/big.img" $((5 * MIB)) 70000
	pkgstage add office "$T/src" >/dev/null
	d=$(delta_of "$T/src/big.img")
	cp "$T/src/big.img" "$T/v2.img"
	run pkgstage gc --keep 1
	expect_status 0
	expect_output_has "removed 1 versions, 0 contents"
	[ -f "$b" ] && [ -f "$d" ]
	run pkgstage fsck
	expect_status 0
	mkdir -p "$T/dp"
	printf 'dp1 g %s\n' "$T/dp" >"$PKGDIST_STORE/dps"
	run pkgpush --all office
	expect_status 0
	cmp "$T/v2.img" "$T/dp/office/big.img"
	pkgpush --forget dp1 office >/dev/null
	# A third version sharing nothing: versions 2 and the base go.
	head -c $((2 * MIB)) /dev/urandom >"$T/src/big.img"
	pkgstage add office "$T/src" >/dev/null
	run pkgstage gc --keep 1
	expect_status 0
	[ ! -e "$b" ] && [ ! -e "$d" ]
	run pkgstage fsck
	expect_status 0
}

@test "pkgstage fsck: a damaged delta and a missing base are named with the version and file" {
	pkgstage add office "$T/src" >/dev/null
	b=$(whole_of "$T/src/big.img")
	overwrite "$T/src/big.img" $((5 * MIB)) 70000
	pkgstage add office "$T/src" >/dev/null
	d=$(delta_of "$T/src/big.img")
	cp -p "$d" "$T/d.saved"
	chmod u+w "$d"
	flip_byte "$d" 120
	run pkgstage fsck
	expect_status 1
	expect_output_has "office version 2: 'big.img': content "
	expect_output_has "damaged delta"
	expect_output_lacks "office version 1"
	cp -p "$T/d.saved" "$d"
	run pkgstage fsck
	expect_status 0
	mv "$b" "$T/base.saved"
	run pkgstage fsck
	expect_status 1
	expect_output_has "office version 1: 'big.img': content "
	expect_output_has "office version 2: 'big.img': content "
	expect_output_has "its base, content "
	mv "$T/base.saved" "$b"
	run pkgstage fsck
	expect_status 0
}

@test "pkgstage add: an I/O error at any operation while a delta is written fails with a message and commits nothing" {
	head -c $((3 * MIB)) /dev/urandom >"$T/src/big.img"
	pkgstage add p "$T/src" >/dev/null
	overwrite "$T/src/big.img" $((1 * MIB)) 20000
	cp -a "$PKGDIST_STORE" "$T/probe"
	PKGDIST_FAULT_COUNT=$T/count pkgstage -s "$T/probe" add p "$T/src"
	[ -n "$(find "$T/probe/objects" -name '*.d')" ]
	n=$(fault_ops "$T/count")
	[ "$n" -gt 5 ]
	failed=0
	for ((i = 1; i <= n; i++)); do
		PKGDIST_FAULT="any:$i:EIO" run pkgstage add p "$T/src"
		if [ "$status" -ne 0 ]; then
			[ "$status" -eq 2 ] || { echo "any:$i: exit $status: $output" >&2; return 1; }
			failed=$((failed + 1))
			[ "$(pkgstage list p | wc -l)" -eq 1 ] || { echo "any:$i: a version was committed" >&2; return 1; }
		else
			# (The numbers go on: version 2 and up.)
			pkgstage rm p "$output" >/dev/null
		fi
		run pkgstage fsck
		[ "$status" -eq 0 ] || { echo "any:$i: fsck: $output" >&2; return 1; }
	done
	[ "$failed" -gt 0 ]
	# A failed add may leave the content it moved in (whole, when the
	# error hit the delta's planning): garbage gc takes.  Then the add
	# makes the delta.
	pkgstage gc --keep 5 >/dev/null
	run pkgstage add p "$T/src"
	expect_status 0
	want=$(sha256sum "$T/src/big.img" | cut -c1-64)
	pkgstage show p "$output" | grep -q "$want"
	[ -f "$(delta_of "$T/src/big.img")" ]
	run pkgstage fsck
	expect_status 0
}

@test "pkgstage import: a large file changed in part becomes a delta in the importing store too, from a whole record or a recipe" {
	pkgstage add office "$T/src" >/dev/null
	pkgstage export office 1 -o "$T/v1.pkg"
	overwrite "$T/src/big.img" $((6 * MIB)) 100000
	pkgstage add office "$T/src" >/dev/null
	pkgstage export office 2 -o "$T/v2.pkg"
	pkgstage export --base 1 office 2 -o "$T/d2.pkg"
	for f in v2 d2; do
		export PKGDIST_STORE=$T/s-$f
		pkgstage import "$T/v1.pkg" >/dev/null
		before=$(store_bytes)
		run pkgstage import "$T/$f.pkg"
		expect_status 0
		grown=$(($(store_bytes) - before))
		echo "$f: store grew $grown" >&2
		[ -f "$(delta_of "$T/src/big.img")" ]
		[ "$grown" -le $((100000 * 13 / 10 + 40000)) ]
		run pkgstage fsck
		expect_status 0
		mkdir -p "$T/dp-$f"
		printf 'dp1 g %s\n' "$T/dp-$f" >"$PKGDIST_STORE/dps"
		run pkgpush --all office
		expect_status 0
		cmp "$T/src/big.img" "$T/dp-$f/office/big.img"
	done
}
