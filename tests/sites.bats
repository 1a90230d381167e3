#!/usr/bin/env bats
# Child sites: the site list STORE/sites (SPEC.md "Child sites").

load lib/common
load lib/pkgpush

bats_require_minimum_version 1.5.0

setup()
{
	common_setup
	vtree "$T/src" 1
	stage "$T/src"
	dps dp1 dp2
}

@test "sites: a site with the name of a DP is refused, naming both files and lines" {
	mkdir -p "$T/inbox"
	printf '# child sites\nregion1 r %s\ndp2 r %s\n' "$T/inbox" "$T/inbox" \
	    >"$PKGDIST_STORE/sites"
	run pkgpush --dp dp1 office
	expect_status 2
	expect_output_has "$PKGDIST_STORE/sites:3: site 'dp2' has the name of the DP on $PKGDIST_STORE/dps:2"
	[ ! -e "$T/dp1/office" ]
	run pkgpush --status
	expect_status 2
	expect_output_has "sites:3"
}

@test "sites: the site list is the DP list's format: a broken line is refused with file and line" {
	printf 'region1 r relative/path\n' >"$PKGDIST_STORE/sites"
	run pkgpush --dp dp1 office
	expect_status 2
	expect_output_has "$PKGDIST_STORE/sites:1: target must be an absolute directory"
	printf 'a r /x\na r /y\n' >"$PKGDIST_STORE/sites"
	run pkgpush --dp dp1 office
	expect_status 2
	expect_output_has "sites:2: site 'a' already defined on line 1"
	printf '.bad r /x\n' >"$PKGDIST_STORE/sites"
	run pkgpush --dp dp1 office
	expect_status 2
	expect_output_has "sites:1: bad site name"
}
