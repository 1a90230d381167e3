#!/usr/bin/env bats
# Upgrades of child sites over ssh, against releases built here from this
# repository's history, through a real sshd on loopback:
#  - af1a9b9, whose site session speaks version 1 (no recipes): a child
#    of it still receives every version, its large contents whole, and a
#    parent of it still pushes to a child of this one;
#  - a5520ff, whose session speaks version 2 (recipes, the manifest
#    always whole): a child of it gets recipes and the whole manifest, a
#    parent of it still pushes to a child of this one.

load lib/common
load lib/sshd
load lib/pkgpush

bats_require_minimum_version 1.5.0

PREV=af1a9b93ee2e46a8077bb96ce14fd4af9ee9129a
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
	sshd_start
	root=$(cd "$BATS_TEST_DIRNAME/.." && pwd)
	OLD=$BATS_FILE_TMPDIR/old
	OLD2=$BATS_FILE_TMPDIR/old2
	export OLD OLD2
	build_release "$PREV" "$OLD"
	build_release "$PREV2" "$OLD2"
}

teardown_file()
{
	sshd_stop
}

setup()
{
	common_setup
	sshd_need
	[ -x "$OLD/build/bin/pkgpush" ] ||
	    skip "needs this repository's history to build the previous release"
	export PKGDIST_SSH_TIMEOUT=20
	vtree "$T/v1" 1 20
	head -c $((4 << 20)) /dev/urandom >"$T/v1/big"
	stage "$T/v1"
	vtree "$T/v2" 2 20
	cp "$T/v1/big" "$T/v2/big"
	head -c 65536 /dev/urandom | dd of="$T/v2/big" bs=65536 seek=20 \
	    conv=notrunc 2>/dev/null
	stage "$T/v2"
	C=$T/child
	mktree "$T/empty"
	pkgstage -s "$C" add other "$T/empty" >/dev/null
	printf 'kid r ssh://%s:%s%s\n' "$SSHD_HOST" "$SSHD_PORT" "$C" \
	    >"$PKGDIST_STORE/sites"
}

teardown()
{
	common_teardown
}

same()
{
	[ "$(pkgstage -s "$C" show office "$1")" = "$(pkgstage show office "$1")" ]
}

@test "upgrade sites: a child of the previous release receives every version, the large file whole, with nothing said of the older protocol" {
	export PKGDIST_REMOTE_PKGPUSH=$OLD/build/bin/pkgpush
	run --separate-stderr pkgpush --version 1 --site kid office
	expect_status 0
	[ -z "$stderr" ]
	PKGDIST_SSH="$PKGDIST_SSH -v" run --separate-stderr pkgpush --site kid office
	expect_status 0
	[[ "$output" == "kid: office 1 -> 2: imported into its store (a delta against 1; "*" contents sent)" ]]
	expect_output_lacks "recipes"
	[[ "$stderr" != *"not a request"* ]]
	# The 4 MiB file went whole.
	sent=$(printf '%s\n' "$stderr" |
	    sed -n 's/.*Transferred: sent \([0-9]*\),.*/\1/p' | tail -n 1)
	[ "$sent" -gt $((4 << 20)) ]
	same 1
	same 2
	run "$OLD/build/bin/pkgstage" -s "$C" fsck
	expect_status 0
}

@test "upgrade sites: a parent of the previous release pushes to a child of this one" {
	# Small files only: that release's parent fails a large whole file
	# (its socket was non-blocking: EAGAIN), fixed in this one.
	vtree "$T/t1" 1 30
	vtree "$T/t2" 2 30
	pkgstage add tools "$T/t1" >/dev/null
	pkgstage add tools "$T/t2" >/dev/null
	run "$OLD/build/bin/pkgpush" --version 1 --site kid tools
	expect_status 0
	run "$OLD/build/bin/pkgpush" --site kid tools
	expect_status 0
	expect_output_has "kid: tools 1 -> 2: imported into its store (a delta against 1; "
	[ "$(pkgstage -s "$C" show tools 2)" = "$(pkgstage show tools 2)" ]
	run pkgstage -s "$C" fsck
	expect_status 0
	# And this release sends the same child recipes.
	run pkgpush --version 1 --site kid office
	expect_status 0
	run pkgpush --site kid office
	expect_status 0
	expect_output_has "1 of them as recipes"
	same 2
}

@test "upgrade sites: a child of release a5520ff (session 2) gets recipes and the manifest whole, with nothing said of the older protocol" {
	[ -x "$OLD2/build/bin/pkgpush" ] ||
	    skip "needs this repository's history to build release a5520ff"
	export PKGDIST_REMOTE_PKGPUSH=$OLD2/build/bin/pkgpush
	run --separate-stderr pkgpush --version 1 --site kid office
	expect_status 0
	[ -z "$stderr" ]
	run --separate-stderr pkgpush --site kid office
	expect_status 0
	expect_output_has "kid: office 1 -> 2: imported into its store (a delta against 1; "
	expect_output_has "1 of them as recipes"
	[[ "$stderr" != *"not a request"* ]]
	same 1
	same 2
	run "$OLD2/build/bin/pkgstage" -s "$C" fsck
	expect_status 0
}

@test "upgrade sites: a parent of release a5520ff (session 2) pushes to a child of this one, recipes included" {
	[ -x "$OLD2/build/bin/pkgpush" ] ||
	    skip "needs this repository's history to build release a5520ff"
	run "$OLD2/build/bin/pkgpush" --version 1 --site kid office
	expect_status 0
	run "$OLD2/build/bin/pkgpush" --site kid office
	expect_status 0
	expect_output_has "1 of them as recipes"
	same 1
	same 2
	run pkgstage -s "$C" fsck
	expect_status 0
}

# same_files V: the remote DP's tree holds version V's files (its modes
# are the DP's own: this file's big file is not read-only in the source).
same_files()
{
	cmp "$T/v$1/big" "$T/rdp/office/big" && cmp "$T/v$1/f1" "$T/rdp/office/f1" &&
	    run pkgpush --status office && expect_output_has "r1 office $1 complete"
}

@test "upgrade: a remote DP served by release a5520ff gets a refresh by a recipe, and that release's pkgpush refreshes and rolls back a DP served by this one" {
	[ -x "$OLD2/build/bin/pkgpush" ] ||
	    skip "needs this repository's history to build release a5520ff"
	mkdir -p "$T/rdp"
	printf 'r1 far %s\n' "$(sshd_url "$T/rdp")" >"$PKGDIST_STORE/dps"
	export PKGDIST_REMOTE_STATS=$T/stats
	PKGDIST_REMOTE_PKGPUSH=$OLD2/build/bin/pkgpush \
	    run pkgpush --dp r1 --version 1 office
	expect_status 0
	flock "$T/rdp/.pkgdist/.lock" true
	PKGDIST_REMOTE_PKGPUSH=$OLD2/build/bin/pkgpush run pkgpush --dp r1 office
	expect_status 0
	expect_output_has "r1: office 1 -> 2: "
	# Most of vtree's entries change, so the whole manifest goes; the
	# large file still goes as a recipe, which that release rebuilds.
	[ "$(stat_of manifest)" = whole ]
	[ "$(stat_of recipes)" = 1 ]
	same_files 2
	flock "$T/rdp/.pkgdist/.lock" true
	# And the other way: that release's client, this release's --serve.
	run "$OLD2/build/bin/pkgpush" --dp r1 --rollback --version 1 office
	expect_status 0
	same_files 1
	flock "$T/rdp/.pkgdist/.lock" true
	run "$OLD2/build/bin/pkgpush" --dp r1 office
	expect_status 0
	same_files 2
}

@test "upgrade: DPs of one host served by the two releases before, which take one DP a session: each arrives, their usage message unseen, one login more in all" {
	[ -x "$OLD2/build/bin/pkgpush" ] && [ -x "$OLD/build/bin/pkgpush" ] ||
	    skip "needs this repository's history to build the releases"
	sshd_count_logins
	for rel in "$OLD2" "$OLD"; do
		rm -rf "$T/h1" "$T/h2" "$T/h3"
		for i in 1 2 3; do
			mkdir -p "$T/h$i"
			printf 'h%s far %s\n' "$i" "$(sshd_url "$T/h$i")"
		done >"$PKGDIST_STORE/dps"
		: >"$T/logins"
		PKGDIST_REMOTE_PKGPUSH=$rel/build/bin/pkgpush \
		    run pkgpush -j 1 --group far --version 1 office
		expect_status 0
		[ "$(grep -c '^h[123]: office - -> 1: ' <<<"$output")" -eq 3 ]
		expect_output_lacks "usage"
		# The session for all three refused, then one login a DP.
		[ "$(wc -l <"$T/logins")" -eq 4 ]
		for i in 1 2 3; do
			cmp "$T/v1/big" "$T/h$i/office/big"
			# The next release's turn starts from empty DPs.
			pkgpush --forget "h$i" >/dev/null
		done
	done
}
