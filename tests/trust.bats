#!/usr/bin/env bats
# STORE/trust: every version reaching the store from outside must be
# signed by one of its keys (SPEC.md "Child sites", trust).

load lib/common
load lib/pkgstage

bats_require_minimum_version 1.5.0

setup()
{
	common_setup
	mktree "$T/src"
	S2=$T/child
	pkgstage keygen -o "$T/old.key"
	pkgstage keygen -o "$T/new.key"
	pkgstage keygen -o "$T/other.key"
	pkgstage add --sign "$T/old.key" p "$T/src" >/dev/null
	echo changed >"$T/src/new-file"
	pkgstage add --sign "$T/new.key" p "$T/src" >/dev/null
	echo again >"$T/src/third"
	pkgstage add p "$T/src" >/dev/null
	pkgstage export p 1 -o "$T/p-1.pkg"
	pkgstage export p 2 -o "$T/p-2.pkg"
	pkgstage export p 3 -o "$T/p-3.pkg"
	pkgstage -s "$S2" import "$T/p-1.pkg" >/dev/null
	pkgstage -s "$S2" rm --force p 1 >/dev/null
}

@test "trust: no STORE/trust, an unsigned version imports" {
	run pkgstage -s "$S2" import "$T/p-3.pkg"
	expect_status 0
	[ "$output" = "p 3" ]
}

@test "trust: with STORE/trust an unsigned version is refused, exit 2, the store unchanged" {
	cat "$T/old.key.pub" >"$S2/trust"
	before=$(store_listing "$S2")
	run pkgstage -s "$S2" import "$T/p-3.pkg"
	expect_status 2
	expect_output_has "p version 3 is not signed"
	expect_output_has "$S2/trust"
	[ "$(store_listing "$S2")" = "$before" ]
}

@test "trust: a version signed by a key the file lacks is refused, exit 2, the store unchanged" {
	cat "$T/other.key.pub" >"$S2/trust"
	before=$(store_listing "$S2")
	run pkgstage -s "$S2" import "$T/p-1.pkg"
	expect_status 2
	expect_output_has "signed by none of the 1 key in"
	[ "$(store_listing "$S2")" = "$before" ]
}

@test "trust: two keys during a change of key: versions signed by either import" {
	{ echo "# the old key, until every parent signs with the new one"
	  cat "$T/old.key.pub"
	  echo "# the new key"
	  cat "$T/new.key.pub"; } >"$S2/trust"
	run pkgstage -s "$S2" import "$T/p-1.pkg"
	expect_status 0
	run pkgstage -s "$S2" import "$T/p-2.pkg"
	expect_status 0
	run pkgstage -s "$S2" import "$T/p-3.pkg"
	expect_status 2
}

@test "trust: a malformed trust file is trouble, named, and nothing is imported" {
	cp "$T/old.key" "$S2/trust"
	before=$(store_listing "$S2")
	run pkgstage -s "$S2" import "$T/p-1.pkg"
	expect_status 2
	expect_output_has "trust: '$S2/trust': key 1: a 'PRIVATE KEY' block"
	[ "$(store_listing "$S2")" = "$before" ]
	echo "no key here" >"$S2/trust"
	run pkgstage -s "$S2" import "$T/p-1.pkg"
	expect_status 2
	expect_output_has "holds no public key"
}

@test "trust: --trust still applies besides STORE/trust" {
	{ cat "$T/old.key.pub"; cat "$T/new.key.pub"; } >"$S2/trust"
	run pkgstage -s "$S2" import --trust "$T/new.key.pub" "$T/p-1.pkg"
	expect_status 2
	run pkgstage -s "$S2" import --trust "$T/old.key.pub" "$T/p-1.pkg"
	expect_status 0
}

@test "trust: a delta signed as trusted imports; an empty file trusts nothing" {
	pkgstage export --base 1 p 2 -o "$T/d2.pkg"
	{ cat "$T/old.key.pub"; cat "$T/new.key.pub"; } >"$S2/trust"
	pkgstage -s "$S2" import "$T/p-1.pkg"
	run pkgstage -s "$S2" import "$T/d2.pkg"
	expect_status 0
	: >"$S2/trust"
	run pkgstage -s "$S2" import "$T/p-3.pkg"
	expect_status 2
	expect_output_has "holds no public key"
}
