#!/usr/bin/env bats
# Forgetting and removing: pkgpush --forget NAME [PKG] drops the store's
# records of what a DP holds; pkgstage rm PKG [VERSION] removes what no
# DP is recorded as holding (--force drops the records with it); both
# say what they removed.

load lib/common
load lib/pkgpush
load lib/pkgstage

bats_require_minimum_version 1.5.0

setup()
{
	common_setup
	staged_versions 1 3
	dps dp1 dp2
}

versions()
{
	pkgstage list "${1:-office}" | awk '{ printf "%s ", $2 }'
}

holdings()
{
	cat "$PKGDIST_STORE/packages/${1:-office}/holdings"
}

@test "pkgstage rm: a version no DP holds is removed and said; its contents go at the next gc" {
	pkgpush --dp dp1 --version 3 office >/dev/null
	n=$(count_objects)
	run pkgstage rm office 2
	expect_status 0
	[ "$output" = "removed office version 2" ]
	[ "$(versions)" = "1 3 " ]
	[ "$(count_objects)" -eq "$n" ]
	run pkgstage gc --keep 5
	expect_status 0
	[ "$(count_objects)" -lt "$n" ]
	pkgstage fsck
	pkgpush --dp dp2 --version 1 office >/dev/null
}

@test "pkgstage rm: a version a DP is recorded as holding is refused, naming it; --force removes the record too" {
	pkgpush --dp dp1 --dp dp2 --version 2 office >/dev/null
	pkgstage show office 2 >"$T/m.2"
	store_listing >"$T/before"
	run pkgstage rm office 2
	expect_status 2
	expect_output_has "office version 2: recorded as held by dp1, dp2"
	expect_output_has "--force"
	store_listing >"$T/after"
	cmp "$T/before" "$T/after"
	run pkgstage rm --force office 2
	expect_status 0
	expect_output_has "forgot: dp1 held office version 2 (complete, last pushed 2)"
	expect_output_has "forgot: dp2 held office version 2 (complete, last pushed 2)"
	expect_output_has "removed office version 2"
	[ "$(versions)" = "1 3 " ]
	[ ! -e "$PKGDIST_STORE/packages/office/holdings" ]
	# The DPs are untouched; a push brings them on.
	at_version "$T/dp1" 2
	pkgpush --dp dp1 office >/dev/null
	at_version "$T/dp1" 3
}

@test "pkgstage rm: a version being brought to a DP (a failed push) is held too" {
	printf 'pkgdist-holdings 1\ndp1 1 2 failed 1700000000\n' \
	    >"$PKGDIST_STORE/packages/office/holdings"
	run pkgstage rm office 2
	expect_status 2
	expect_output_has "recorded as held by dp1"
	run pkgstage rm office 1
	expect_status 2
	run pkgstage rm office 3
	expect_status 0
}

@test "pkgstage rm: a whole package (a mistyped one) is removed; a held one needs --force" {
	pkgstage add Docs "$T/v1" >/dev/null
	pkgstage add Docs "$T/v2" >/dev/null
	run pkgstage rm Docs
	expect_status 0
	expect_output_has "removed Docs version 1"
	expect_output_has "removed Docs version 2"
	expect_output_has "removed package Docs"
	run pkgstage list Docs
	[ -z "$output" ]
	run pkgstage show Docs
	expect_status 2
	run pkgpush --dp dp1 Docs
	expect_status 2
	# Its numbers are not given again.
	run pkgstage add Docs "$T/v3"
	[ "$output" = 3 ]
	pkgpush --dp dp1 Docs >/dev/null
	run pkgstage rm Docs
	expect_status 2
	expect_output_has "package 'Docs': recorded as held by dp1"
	[ "$(versions Docs)" = "3 " ]
	run pkgstage rm --force Docs
	expect_status 0
	expect_output_has "forgot: dp1 held Docs version 3"
	[ -z "$(versions Docs)" ]
	[ ! -e "$PKGDIST_STORE/packages/Docs/holdings" ]
	pkgstage gc >/dev/null
	pkgstage fsck
}

@test "pkgstage rm: an unknown package or version, a bad name or version: exit 2, nothing changed" {
	store_listing >"$T/before"
	run pkgstage rm nosuch
	expect_status 2
	expect_output_has "package 'nosuch': not in the store"
	[ ! -e "$PKGDIST_STORE/packages/nosuch" ]
	run pkgstage rm office 9
	expect_status 2
	expect_output_has "office version 9: no such version"
	run pkgstage rm 'bad name'
	expect_status 2
	run pkgstage rm office abc
	expect_status 2
	run pkgstage rm
	expect_status 2
	expect_output_has "usage: pkgstage"
	run pkgstage rm --force
	expect_status 2
	run pkgstage gc --force
	expect_status 2
	store_listing >"$T/after"
	cmp "$T/before" "$T/after"
}

@test "pkgpush --forget: the records of a DP go (one package or all), said one a line; gc and rm are then free" {
	pkgstage add other "$T/v1" >/dev/null
	pkgpush --dp dp1 --dp dp2 --version 1 office >/dev/null
	pkgpush --dp dp1 other >/dev/null
	# dp1 leaves the DP list: its records pin version 1 still.
	dps dp2
	run pkgpush --forget dp1 office
	expect_status 0
	[ "$output" = "forgot: dp1 held office version 1 (complete, last pushed 1)" ]
	! grep -q '^dp1 ' "$PKGDIST_STORE/packages/office/holdings" || false
	grep -q '^dp2 ' "$PKGDIST_STORE/packages/office/holdings"
	grep -q '^dp1 ' "$PKGDIST_STORE/packages/other/holdings"
	run pkgpush --forget dp1
	expect_status 0
	[ "$output" = "forgot: dp1 held other version 1 (complete, last pushed 1)" ]
	run pkgpush --forget dp1
	expect_status 2
	expect_output_has "dp1: the store has no record of what it holds"
	run pkgpush --refresh-existing office
	expect_output_lacks "dp1"
	pkgpush --forget dp2 office >/dev/null
	run pkgstage rm office 1
	expect_status 0
}

@test "pkgpush --forget: bad usage, a bad name, an unknown package: exit 2, nothing changed" {
	pkgpush --dp dp1 office >/dev/null
	store_listing >"$T/before"
	run pkgpush --forget
	expect_status 2
	expect_output_has "usage: pkgpush"
	run pkgpush --forget dp1 office extra
	expect_status 2
	run pkgpush --forget dp1 --keep 3 office
	expect_status 2
	expect_output_has "--keep means nothing with --forget"
	run pkgpush --forget dp1 --status
	expect_status 2
	run pkgpush --forget 'bad name'
	expect_status 2
	run pkgpush --forget dp1 Nosuch
	expect_status 2
	expect_output_has "package 'Nosuch': not in the store"
	[ ! -e "$PKGDIST_STORE/packages/Nosuch" ]
	store_listing >"$T/after"
	cmp "$T/before" "$T/after"
}

@test "pkgstage rm waits for a push reading the version (its use lock)" {
	need_cmd flock
	flock -s "$PKGDIST_STORE/packages/office/use" sleep 2 &
	sleep 0.3
	start=$(date +%s)
	run pkgstage rm office 1
	expect_status 0
	[ $(($(date +%s) - start)) -ge 1 ]
	wait
	flock -s "$PKGDIST_STORE/packages/office/use" sleep 2 &
	sleep 0.3
	run pkgstage rm --wait 0 office 2
	expect_status 2
	expect_output_has "locked"
	wait
	[ "$(versions)" = "2 3 " ]
}
