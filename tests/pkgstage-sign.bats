#!/usr/bin/env bats
# pkgstage keygen, add --sign, import --trust: signed versions.

load lib/common
load lib/pkgstage

bats_require_minimum_version 1.5.0

setup()
{
	common_setup
	mktree "$T/src"
	S2=$T/store2
}

@test "pkgstage keygen: writes the secret key (0600) and KEY.pub, PEM Ed25519" {
	run pkgstage keygen -o "$T/site.key"
	expect_status 0
	[ "$(stat -c %a "$T/site.key")" = 600 ]
	[ -f "$T/site.key.pub" ]
	grep -q "BEGIN PRIVATE KEY" "$T/site.key"
	grep -q "BEGIN PUBLIC KEY" "$T/site.key.pub"
	if command -v openssl >/dev/null; then
		openssl pkey -in "$T/site.key" -noout -text | grep -q ED25519
	fi
}

@test "pkgstage keygen: an existing key is not overwritten (exit 2)" {
	pkgstage keygen -o "$T/k"
	cp "$T/k" "$T/k.orig"
	run pkgstage keygen -o "$T/k"
	expect_status 2
	expect_output_has "not overwritten"
	cmp "$T/k" "$T/k.orig"
}

@test "pkgstage keygen: -o is required; -s is accepted (as with every subcommand) and no store is made" {
	run pkgstage keygen
	expect_status 2
	expect_output_has "usage:"
	run pkgstage -s "$T/x" keygen -o "$T/k"
	expect_status 0
	[ -f "$T/k" ] && [ -f "$T/k.pub" ]
	[ ! -e "$T/x" ]
}

@test "pkgstage add --sign: the version is signed over its exact manifest bytes" {
	pkgstage keygen -o "$T/k"
	run pkgstage add --sign "$T/k" p "$T/src"
	expect_status 0
	[ "$output" = 1 ]
	run pkgstage list p
	expect_output_has " signed"
	sig=$PKGDIST_STORE/packages/p/v/1/sig
	[ "$(stat -c %s "$sig")" -eq 64 ]
	pkgstage show p 1 >"$T/m"
	cmp "$T/m" "$PKGDIST_STORE/packages/p/v/1/manifest"
	if command -v openssl >/dev/null; then
		openssl pkeyutl -verify -pubin -inkey "$T/k.pub" -rawin \
		    -in "$T/m" -sigfile "$sig"
	fi
}

@test "pkgstage add --sign: an unreadable or wrong key commits nothing (exit 2)" {
	pkgstage keygen -o "$T/k"
	run pkgstage add --sign "$T/nokey" p "$T/src"
	expect_status 2
	expect_output_has "nokey"
	run pkgstage add --sign "$T/k.pub" p "$T/src"
	expect_status 2
	expect_output_has "not a PEM private key"
	command -v openssl >/dev/null || skip "no openssl to make an RSA key"
	openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:1024 \
	    -out "$T/rsa" 2>/dev/null
	run pkgstage add --sign "$T/rsa" p "$T/src"
	expect_status 2
	expect_output_has "not an Ed25519 key"
	run pkgstage list
	[ -z "$output" ]
}

@test "pkgstage import --trust: a version signed by that key is imported, signature kept" {
	pkgstage keygen -o "$T/k"
	pkgstage add --sign "$T/k" p "$T/src"
	pkgstage export p 1 -o "$T/p1.pkg"
	run pkgstage -s "$S2" import --trust "$T/k.pub" "$T/p1.pkg"
	expect_status 0
	run pkgstage -s "$S2" list p
	expect_output_has " signed"
	cmp "$PKGDIST_STORE/packages/p/v/1/sig" "$S2/packages/p/v/1/sig"
}

@test "pkgstage import --trust: an unsigned version is refused, nothing changed" {
	pkgstage keygen -o "$T/k"
	pkgstage add p "$T/src"
	pkgstage export p 1 -o "$T/p1.pkg"
	pkgstage -s "$S2" add other "$T/src"
	before=$(store_listing "$S2")
	run pkgstage -s "$S2" import --trust "$T/k.pub" "$T/p1.pkg"
	expect_status 2
	expect_output_has "p version 1 is not signed"
	[ "$(store_listing "$S2")" = "$before" ]
}

@test "pkgstage import --trust: a version signed by another key is refused, nothing changed" {
	pkgstage keygen -o "$T/k"
	pkgstage keygen -o "$T/other"
	pkgstage add --sign "$T/other" p "$T/src"
	pkgstage export p 1 -o "$T/p1.pkg"
	run pkgstage -s "$S2" import --trust "$T/k.pub" "$T/p1.pkg"
	expect_status 2
	expect_output_has "bad signature"
	run pkgstage -s "$S2" list
	[ -z "$output" ]
}

@test "pkgstage import --trust: a tampered manifest under a valid signature is refused" {
	pkgstage keygen -o "$T/k"
	pkgstage add --sign "$T/k" p "$T/src"
	m=$PKGDIST_STORE/packages/p/v/1/manifest
	chmod u+w "$m"
	sed -i 's/^f 0755 /f 0777 /' "$m"
	grep -q '^f 0777 ' "$m"
	pkgstage export p 1 -o "$T/p1.pkg"
	run pkgstage -s "$S2" import --trust "$T/k.pub" "$T/p1.pkg"
	expect_status 2
	expect_output_has "bad signature"
	run pkgstage -s "$S2" list
	[ -z "$output" ]
}

@test "pkgstage import --trust: a key file that is not a public key is refused (exit 2)" {
	pkgstage keygen -o "$T/k"
	pkgstage add --sign "$T/k" p "$T/src"
	pkgstage export p 1 -o "$T/p1.pkg"
	echo junk >"$T/junk.pub"
	run pkgstage -s "$S2" import --trust "$T/junk.pub" "$T/p1.pkg"
	expect_status 2
	expect_output_has "not a PEM public key"
	run pkgstage -s "$S2" import --trust "$T/missing.pub" "$T/p1.pkg"
	expect_status 2
}

@test "pkgstage export/import: a delta carries the version's signature" {
	pkgstage keygen -o "$T/k"
	pkgstage add --sign "$T/k" p "$T/src"
	echo new >"$T/src/new"
	pkgstage add --sign "$T/k" p "$T/src"
	pkgstage export p 1 -o "$T/p1.pkg"
	pkgstage export --base 1 p 2 -o "$T/d.pkg"
	pkgstage -s "$S2" import --trust "$T/k.pub" "$T/p1.pkg"
	run pkgstage -s "$S2" import --trust "$T/k.pub" "$T/d.pkg"
	expect_status 0
	[ "$(pkgstage -s "$S2" list p | grep -c signed)" -eq 2 ]
}
