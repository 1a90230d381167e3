#!/usr/bin/env bats
# Upgrades: a store, package files and a local DP written by an earlier
# release (61e7c17, the release before chunks, and a5520ff, the one
# before this one; built here from this repository's history)
# keep working with this release's tools and no step by the
# administrator: every version stays readable, pushable and exportable,
# its large contents get their chunk index on first use and are the
# bases of this release's deltas, and its package files (whole and
# delta) import.

load lib/common

bats_require_minimum_version 1.5.0

PREV=61e7c174e6e94f41eda9576074c7f6afc7dcc0c5
# The release before this one's site protocol change (the store,
# package files and DPs are as this release writes them).
PREV2=a5520ff7b0f8cc053558a74d1652db30363d4477

# build_release COMMIT DIR: that commit's tools in DIR/build/bin, or no
# DIR (the tests that need it skip).
build_release()
{
	command -v git >/dev/null && git -C "$root" rev-parse -q --verify \
	    "$1^{commit}" >/dev/null 2>&1 || return 0
	mkdir -p "$2"
	git -C "$root" archive "$1" | tar -x -C "$2"
	make -s -j2 -C "$2" all >/dev/null 2>&1 || rm -rf "$2"
}

setup_file()
{
	local root
	root=$(cd "$BATS_TEST_DIRNAME/.." && pwd)
	OLD=$BATS_FILE_TMPDIR/old
	OLD2=$BATS_FILE_TMPDIR/old2
	export OLD OLD2
	build_release "$PREV" "$OLD"
	build_release "$PREV2" "$OLD2"
}

old()
{
	[ -x "$OLD/build/bin/pkgstage" ] ||
	    skip "needs this repository's history to build the previous release"
}

# store_package_dp_of DIR: a store, package files (whole and delta) and
# a DP written by the release built in DIR work with this release.
store_package_dp_of()
{
	local rel=$1
	mkdir -p src dp
	head -c $((3 * 1048576)) /dev/urandom >src/big.img
	echo one >src/a
	run "$rel/build/bin/pkgstage" add office src
	expect_status 0
	printf 'x%.0s' $(seq 1 4096) | dd of=src/big.img bs=1 seek=1000000 \
	    conv=notrunc 2>/dev/null
	echo two >src/a
	run "$rel/build/bin/pkgstage" add office src
	expect_status 0
	"$rel/build/bin/pkgstage" export office 1 -o whole.pkg
	"$rel/build/bin/pkgstage" export --base 1 office 2 -o delta.pkg
	printf 'dp1 g %s\n' "$T/dp" >"$PKGDIST_STORE/dps"
	run "$rel/build/bin/pkgpush" --dp dp1 --version 1 office
	expect_status 0

	# This release on the old store: fsck clean, push, add, export.
	run pkgstage fsck
	expect_status 0
	run pkgpush --dp dp1 office
	expect_status 0
	cmp src/big.img dp/office/big.img
	run pkgpush --status office
	expect_status 0
	expect_output_has "dp1 office 2 complete"
	echo three >src/a
	run pkgstage add office src
	expect_status 0
	[ "$output" = 3 ]
	run pkgstage export --base 2 office 3 -o new.pkg
	expect_status 0
	# A large file changed in a version this release adds is kept as a
	# delta from the whole copy the previous release stored.
	cp src/big.img big.v3
	printf 'y%.0s' $(seq 1 4096) | dd of=src/big.img bs=1 seek=2000000 \
	    conv=notrunc 2>/dev/null
	run pkgstage add office src
	expect_status 0
	[ "$output" = 4 ]
	[ -n "$(find "$PKGDIST_STORE/objects" -name '*.d')" ]
	run pkgpush --dp dp1 office
	expect_status 0
	cmp src/big.img dp/office/big.img
	run pkgstage fsck
	expect_status 0
	cp big.v3 src/big.img

	# The old package files import into a new store, whole then delta.
	export PKGDIST_STORE=$T/store2
	run pkgstage import whole.pkg
	expect_status 0
	run pkgstage import delta.pkg
	expect_status 0
	run pkgstage import new.pkg
	expect_status 0
	run pkgstage fsck
	expect_status 0
	mkdir -p dp2
	printf 'dp2 g %s\n' "$T/dp2" >"$PKGDIST_STORE/dps"
	run pkgpush --dp dp2 office
	expect_status 0
	cmp src/big.img dp2/office/big.img
	cmp src/a dp2/office/a
}

@test "upgrade: a store, package files and a DP of the release before chunks (61e7c17) work with this one" {
	old
	store_package_dp_of "$OLD"
}

@test "upgrade: a store, package files and a DP of release a5520ff work with this one" {
	[ -x "$OLD2/build/bin/pkgstage" ] ||
	    skip "needs this repository's history to build release a5520ff"
	store_package_dp_of "$OLD2"
}

@test "upgrade: the previous release imports this one's package files without a recipe, and refuses one with a recipe as an unknown format" {
	old
	mkdir -p src
	head -c $((3 * 1048576)) /dev/urandom >src/big.img
	echo one >src/a
	pkgstage add office src >/dev/null
	pkgstage export office 1 -o whole.pkg
	echo two >src/a
	pkgstage add office src >/dev/null
	pkgstage export --base 1 office 2 -o small.pkg
	printf 'x%.0s' $(seq 1 4096) | dd of=src/big.img bs=1 seek=1000000 \
	    conv=notrunc 2>/dev/null
	pkgstage add office src >/dev/null
	pkgstage export --base 2 office 3 -o recipe.pkg
	[ "$(stat -c %s recipe.pkg)" -lt 16384 ]

	export PKGDIST_STORE=$T/store2
	run "$OLD/build/bin/pkgstage" import whole.pkg
	expect_status 0
	run "$OLD/build/bin/pkgstage" import small.pkg
	expect_status 0
	run "$OLD/build/bin/pkgstage" import recipe.pkg
	expect_status 2
	expect_output_has "unknown format 2"
	run "$OLD/build/bin/pkgstage" fsck
	expect_status 0
	# This release imports it onto the store the previous one wrote.
	run pkgstage import recipe.pkg
	expect_status 0
	run pkgstage fsck
	expect_status 0
	diff <(PKGDIST_STORE=$T/store pkgstage show office 3) <(pkgstage show office 3)
}

@test "upgrade: the trees of a DP that release a5520ff pushed become this release's spare, and that release pushes from the spare this one made" {
	[ -x "$OLD2/build/bin/pkgstage" ] ||
	    skip "needs this repository's history to build release a5520ff"
	local old=$OLD2/build/bin m=$T/dp/.pkgdist/office n
	mkdir -p src dp
	for n in 1 2 3 4 5; do
		mkdir -p "src/d$n"
		echo "same $n" >"src/d$n/same"
	done
	for n in 1 2 3 4; do
		rm -f src/d1/changes
		echo "version $n" >src/d1/changes
		# Modes a DP keeps as they are (pkgpush(1)), for the check
		# against the store's manifest below.
		find src -type f -exec chmod 0444 {} +
		"$old/pkgstage" add office src >/dev/null
	done
	printf 'dp1 g %s\n' "$T/dp" >"$PKGDIST_STORE/dps"
	"$old/pkgpush" --dp dp1 --version 1 office >/dev/null
	"$old/pkgpush" --dp dp1 --version 2 office >/dev/null
	[ ! -e "$m/spare.v2.1" ]
	# This release: the tree of version 1 becomes the spare of version 3's.
	run pkgpush --dp dp1 --version 3 office
	expect_status 0
	expect_output_has "dp1: office 2 -> 3:"
	[ -d "$m/spare.v3.1" ] && [ ! -e "$m/v1.1" ]
	[ "$(stat -c %i "$m/spare.v3.1/d3/same")" = \
	    "$(stat -c %i "$m/v3.1/d3/same")" ]
	# The previous release takes that spare as its own (its check asks
	# for an exact mirror) and ends exactly at version 4.
	spare=$(stat -c %i "$m/spare.v3.1")
	same=$(stat -c %i "$T/dp/office/d2/same")
	run "$old/pkgpush" --dp dp1 --version 4 office
	expect_status 0
	[ "$(stat -c %i "$m/v4.1")" = "$spare" ]
	[ "$(stat -c %i "$T/dp/office/d2/same")" = "$same" ]
	pkgstage show office 4 >m4
	pkgdiff verify m4 "$T/dp/office"
}
