#!/usr/bin/env bats
# -o FILE (pkgdiff scan, pkgstage export): written atomically, but a
# device node, fifo or socket is written through, never replaced; the
# umask and a replaced file's mode are honoured.  And a message about a
# path of any length still says what went wrong.

load lib/common

setup()
{
	common_setup
	mkdir -p "$T/src/d"
	printf 'hello\n' >"$T/src/a"
	printf 'more\n' >"$T/src/d/b"
	pkgstage add office "$T/src" >/dev/null
}

@test "-o FILE: a fifo is written through and stays a fifo (pkgdiff scan, pkgstage export)" {
	mkfifo "$T/ff"
	timeout 20 cat "$T/ff" >"$T/got" &
	pkgdiff scan -o "$T/ff" "$T/src"
	wait || true
	[ -p "$T/ff" ]
	head -n 1 "$T/got" | grep -qx 'pkgdist-manifest 1'
	grep -q ' d/b$' "$T/got"
	timeout 20 cat "$T/ff" >"$T/pkg" &
	pkgstage export office 1 -o "$T/ff"
	wait || true
	[ -p "$T/ff" ]
	mkdir "$T/other"
	pkgstage -s "$T/other" import "$T/pkg"
	pkgstage -s "$T/other" show office 1 >/dev/null
	# Nothing left beside it.
	[ "$(find "$T" -maxdepth 1 -name '.ff*' | wc -l)" -eq 0 ]
}

@test "-o FILE: a link to /dev/null and /dev/null itself stay what they were" {
	ln -s /dev/null "$T/nul"
	pkgdiff scan -o "$T/nul" "$T/src"
	[ -L "$T/nul" ] && [ -c /dev/null ]
	pkgstage export office 1 -o "$T/nul"
	[ -L "$T/nul" ] && [ -c /dev/null ]
	if has_root; then
		pkgdiff scan -o /dev/null "$T/src"
		[ -c /dev/null ]
		pkgstage export office 1 -o /dev/null
		[ -c /dev/null ]
		[ "$(find /dev -maxdepth 1 -name '.null*' | wc -l)" -eq 0 ]
	fi
}

@test "-o FILE: a directory is refused, exit 2, and left alone" {
	mkdir "$T/out"
	run pkgdiff scan -o "$T/out" "$T/src"
	expect_status 2
	expect_output_has "Is a directory"
	run pkgstage export office 1 -o "$T/out"
	expect_status 2
	[ -d "$T/out" ]
}

@test "-o FILE: a new file gets 0666 less the umask; a replaced file keeps its mode" {
	(umask 077 && pkgdiff scan -o "$T/m" "$T/src" &&
	    pkgstage export office 1 -o "$T/p")
	[ "$(stat -c %a "$T/m")" = 600 ]
	[ "$(stat -c %a "$T/p")" = 600 ]
	(umask 027 && pkgdiff scan -o "$T/m2" "$T/src" &&
	    pkgstage export office 1 -o "$T/p2")
	[ "$(stat -c %a "$T/m2")" = 640 ]
	[ "$(stat -c %a "$T/p2")" = 640 ]
	chmod 0604 "$T/m" "$T/p"
	(umask 022 && pkgdiff scan -o "$T/m" "$T/src" &&
	    pkgstage export office 1 -o "$T/p")
	[ "$(stat -c %a "$T/m")" = 604 ]
	[ "$(stat -c %a "$T/p")" = 604 ]
	grep -q ' d/b$' "$T/m"
}

@test "messages: an error on a path longer than 1024 bytes still says why" {
	local long=$T i
	for ((i = 0; i < 16; i++)); do
		long=$long/$(printf 'd%.0s' {1..200})
	done
	run pkgdiff scan "$long"
	expect_status 2
	expect_output_has "No such file or directory"
	run pkgstage add office "$long"
	expect_status 2
	expect_output_has "No such file or directory"
	run pkgdiff scan -o "$long/x" "$T/src"
	expect_status 2
	expect_output_has "No such file or directory"
}
