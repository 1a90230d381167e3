#!/usr/bin/env bats
# The inbox STORE/incoming/ and pkgstage import --incoming, list
# --incoming (SPEC.md "Child sites").

load lib/common
load lib/pkgpush
load lib/pkgstage

bats_require_minimum_version 1.5.0

# A parent store with versions 1..4 of office, a child store with an
# inbox, and package files: whole 1, deltas 1->2, 2->3, 3->4.
setup()
{
	common_setup
	P=$T/parent
	C=$T/child
	IN=$C/incoming
	for v in 1 2 3 4; do
		vtree "$T/src" $v
		pkgstage -s "$P" add office "$T/src" >/dev/null
	done
	pkgstage -s "$P" export office 1 -o "$T/office-1.pkg"
	for v in 2 3 4; do
		pkgstage -s "$P" export --base $((v - 1)) office $v -o "$T/office-$v.pkg"
	done
	mktree "$T/empty"
	pkgstage -s "$C" add other "$T/empty" >/dev/null
	mkdir "$IN"
}

# same_version V: the child's version V is the parent's.
same_version()
{
	[ "$(pkgstage -s "$C" show office "$1")" = "$(pkgstage -s "$P" show office "$1")" ]
}

@test "inbox: files arriving out of order all go in, lowest first, in one run; the inbox is left empty" {
	cp "$T/office-4.pkg" "$T/office-3.pkg" "$IN/"
	run pkgstage -s "$C" list --incoming
	expect_status 0
	expect_output_has "office-3.pkg office 3 waits for 2 "
	expect_output_has "office-4.pkg office 4 waits for 3 "
	run --separate-stderr pkgstage -s "$C" import --incoming
	expect_status 0
	[ -z "$output" ]
	[[ "$stderr" == *"office-3.pkg: office version 3 waits for version 2"* ]]
	[ "$(ls -A "$IN" | grep -v '^\.lock$')" = "$(printf 'office-3.pkg\noffice-4.pkg')" ]
	cp "$T/office-2.pkg" "$IN/"
	run pkgstage -s "$C" import --incoming
	expect_status 0
	expect_output_has "office-2.pkg: office version 2 waits for version 1"
	cp "$T/office-1.pkg" "$IN/"
	run --separate-stderr pkgstage -s "$C" import --incoming
	expect_status 0
	[ "$output" = "$(printf 'office 1\noffice 2\noffice 3\noffice 4')" ]
	for v in 1 2 3 4; do same_version $v; done
	[ -z "$(ls -A "$IN" | grep -v '^\.lock$')" ]
	run pkgstage -s "$C" list --incoming
	expect_status 0
	[ -z "$output" ]
	run pkgstage -s "$C" fsck
	expect_status 0
}

@test "inbox: a damaged file moves to bad/ with a .why; the others still go in; exit 1" {
	cp "$T/office-1.pkg" "$IN/"
	cp "$T/office-2.pkg" "$IN/office-2.pkg"
	size=$(stat -c %s "$IN/office-2.pkg")
	flip_byte "$IN/office-2.pkg" $((size - 40))
	cp "$T/office-1.pkg" "$IN/short.pkg"
	truncate -s 20 "$IN/short.pkg"
	run pkgstage -s "$C" import --incoming
	expect_status 1
	expect_output_has "office-2.pkg: moved to incoming/bad/:"
	expect_output_has "short.pkg: moved to incoming/bad/:"
	[ -f "$IN/bad/office-2.pkg" ] && [ -s "$IN/bad/office-2.pkg.why" ]
	[ -f "$IN/bad/short.pkg" ] && grep -q truncated "$IN/bad/short.pkg.why"
	same_version 1
	run pkgstage -s "$C" show office 2
	expect_status 2
	[ -z "$(ls -A "$IN" | grep -v '^\.lock$\|^bad$')" ]
	# The mended file goes in.
	cp "$T/office-2.pkg" "$IN/"
	run pkgstage -s "$C" import --incoming
	expect_status 0
	same_version 2
}

@test "inbox: hostile names and entries move to bad/ unopened; dot files are left alone" {
	cp "$T/office-1.pkg" "$IN/$(printf 'evil\nname.pkg')"
	cp "$T/office-1.pkg" "$IN/with space.pkg"
	cp "$T/office-1.pkg" "$IN/notes.txt"
	ln -s /etc/passwd "$IN/link.pkg"
	mkdir "$IN/dir.pkg"
	mkfifo "$IN/fifo.pkg"
	cp "$T/office-2.pkg" "$IN/.office-2.pkg.tmp-1-1"
	run pkgstage -s "$C" list --incoming
	expect_status 0
	expect_output_has "evil\\012name.pkg - - bad"
	run pkgstage -s "$C" import --incoming
	expect_status 1
	for f in "$(printf 'evil\nname.pkg')" "with space.pkg" notes.txt link.pkg dir.pkg fifo.pkg; do
		[ -e "$IN/bad/$f" ] || [ -L "$IN/bad/$f" ]
		[ -s "$IN/bad/$f.why" ]
	done
	[ -L "$IN/bad/link.pkg" ]
	grep -q 'symbolic link' "$IN/bad/link.pkg.why"
	grep -q 'not PKG-N.pkg' "$IN/bad/notes.txt.why"
	[ -f "$IN/.office-2.pkg.tmp-1-1" ]
	run pkgstage -s "$C" show office 1
	expect_status 2
}

@test "inbox: with STORE/trust an unsigned or wrongly signed file moves to bad/; a signed one goes in" {
	pkgstage keygen -o "$T/parent.key"
	pkgstage keygen -o "$T/other.key"
	vtree "$T/src" 5
	pkgstage -s "$P" add --sign "$T/parent.key" office "$T/src" >/dev/null
	vtree "$T/src" 6
	pkgstage -s "$P" add --sign "$T/other.key" office "$T/src" >/dev/null
	pkgstage -s "$P" export office 5 -o "$IN/office-5.pkg"
	pkgstage -s "$P" export office 6 -o "$IN/office-6.pkg"
	cp "$T/office-1.pkg" "$IN/"
	cp "$T/parent.key.pub" "$C/trust"
	run --separate-stderr pkgstage -s "$C" import --incoming
	expect_status 1
	[ "$output" = "office 5" ]
	grep -q 'is not signed' "$IN/bad/office-1.pkg.why"
	grep -q 'signed by none of the 1 key' "$IN/bad/office-6.pkg.why"
	run pkgstage -s "$C" list office
	[ "$(echo "$output" | wc -l)" -eq 1 ]
}

@test "inbox: a broken trust file is trouble: exit 2, every file left where it is" {
	cp "$T/office-1.pkg" "$IN/"
	echo junk >"$C/trust"
	run pkgstage -s "$C" import --incoming
	expect_status 2
	expect_output_has "holds no public key"
	[ -f "$IN/office-1.pkg" ] && [ ! -e "$IN/bad" ]
}

@test "inbox: an older version and one already present go in or out quietly; no inbox is nothing to do" {
	rmdir "$IN"
	run pkgstage -s "$C" import --incoming
	expect_status 0
	mkdir "$IN"
	pkgstage -s "$P" export office 4 -o "$IN/office-4.pkg"
	pkgstage -s "$C" import --incoming >/dev/null
	cp "$T/office-1.pkg" "$IN/"
	pkgstage -s "$P" export office 4 -o "$IN/office-4.pkg"
	run --separate-stderr pkgstage -s "$C" import --incoming
	expect_status 0
	[ "$output" = "$(printf 'office 1\noffice 4')" ]
	[[ "$stderr" == *"office-4.pkg: office version 4: already in the store, removed"* ]]
	run pkgstage -s "$C" show office
	same_version 4
	[ -z "$(ls -A "$IN" | grep -v '^\.lock$')" ]
}

@test "inbox: two runs at once, many rounds, never import one file twice and leave nothing" {
	for round in 1 2 3 4 5 6 7 8; do
		rm -rf "$C"
		pkgstage -s "$C" add other "$T/empty" >/dev/null
		mkdir "$IN"
		cp "$T/office-4.pkg" "$T/office-3.pkg" "$T/office-2.pkg" "$T/office-1.pkg" "$IN/"
		pkgstage -s "$C" import --incoming >"$T/a.out" 2>"$T/a.err" &
		a=$!
		pkgstage -s "$C" import --incoming >"$T/b.out" 2>"$T/b.err" &
		b=$!
		wait $a || { cat "$T/a.err"; false; }
		wait $b || { cat "$T/b.err"; false; }
		cat "$T/a.out" "$T/b.out" | sort >"$T/both"
		[ "$(cat "$T/both")" = "$(printf 'office 1\noffice 2\noffice 3\noffice 4')" ]
		[ -z "$(ls -A "$IN" | grep -v '^\.lock$')" ]
		for v in 1 2 3 4; do same_version $v; done
	done
}

@test "inbox: parent -> directory site -> child, with a delta, and the child's DP gets it" {
	dpdir=$T/branch-dp
	mkdir "$dpdir"
	printf 'kid r %s\n' "$IN" >"$P/sites"
	run pkgpush -s "$P" --site kid --version 2 office
	expect_status 0
	expect_output_has "kid: office - -> 2: wrote office-2.pkg (whole)"
	pkgstage -s "$C" import --incoming
	same_version 2
	printf 'bdp b %s\n' "$dpdir" >"$C/dps"
	pkgpush -s "$C" --dp bdp office >/dev/null
	run pkgpush -s "$P" --refresh-existing office
	expect_status 0
	expect_output_has "kid: office 2 -> 4: wrote office-4.pkg (a delta against 2)"
	run sh "$PKGDIST_SRC/scripts/pkgdist-cron" -s "$C"
	same_version 4
	[ -z "$(ls -A "$IN" | grep -v '^\.lock$')" ]
	m4=$T/m4
	pkgstage -s "$C" show office 4 >"$m4"
	pkgdiff verify "$m4" "$dpdir/office"
}
