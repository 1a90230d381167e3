#!/usr/bin/env bats
# The shared test helpers (tests/lib/common.bash) every other file uses.

load lib/common

@test "harness: each test runs in its own fresh directory \$T with the store inside it" {
	[ -d "$T" ]
	[ "$PWD" = "$T" ]
	[ "$PKGDIST_STORE" = "$T/store" ]
	[ -z "$(ls -A "$T")" ]
	[ "$PKGDIST_PROGRESS" = 0 ]
	[ -z "${PKGDIST_FAULT:-}" ]
}

@test "harness: the build's tool directory is on PATH before the system's" {
	[ -n "$PKGDIST_BIN" ]
	local before=${PATH%%:/usr/bin:*}
	[[ ":$before:" == *":$PKGDIST_BIN:"* ]]
}

@test "harness: mktree makes names with space, tab, newline, backslash and byte 0xff" {
	mktree "$T/src"
	[ -f "$T/src/read me.txt" ]
	[ -f "$T/src/tab"$'\t'"name" ]
	[ -f "$T/src/new"$'\n'"line" ]
	[ -f "$T/src/back\\slash" ]
	[ -f "$T/src/latin"$'\xff'"byte" ]
	[ -f "$T/src/empty" ] && [ ! -s "$T/src/empty" ]
	[ -L "$T/src/link to hello" ]
	[ "$(readlink "$T/src/link to hello")" = hello.txt ]
	[ -f "$T/src/sub dir/deeper/deepest/leaf.txt" ]
	[ -x "$T/src/sub dir/run.sh" ]
}

@test "harness: mktree gives the same contents every time" {
	mktree "$T/a"
	mktree "$T/b"
	diff -r --no-dereference "$T/a" "$T/b"
}

@test "harness: expect_status and expect_output_has fail on a mismatch" {
	run sh -c 'echo some words; exit 4'
	expect_status 4
	expect_output_has "some words"
	expect_output_lacks "other"
	! expect_status 0 2>/dev/null || false
	! expect_output_has "absent" 2>/dev/null || false
}

@test "harness: a tmpfs mounted by mount_tmpfs is full at its size" {
	can_mount_tmpfs || skip "cannot mount a tmpfs here (needs root)"
	mount_tmpfs "$T/small" 64k
	run dd if=/dev/zero of="$T/small/fill" bs=1k count=200
	[ "$status" -ne 0 ]
	expect_output_has "No space left on device"
}

@test "harness: no negated command in the suite is one that cannot fail" {
	# Under bats a '! cmd' that is not the last command of its test or
	# function never fails it (set -e ignores a negated command): such
	# a check must read '! cmd || false' (or be the last line).
	run awk '
		function flush() {
			if (pend != "" && $0 !~ /^[ \t]*}[ \t]*$/)
				print pend
			pend = ""
		}
		FNR == 1 { if (pend != "") print pend; pend = ""; prev = "" }
		/^[ \t]*$/ || /^[ \t]*#/ { next }
		{ flush() }
		/^[ \t]*! / && prev !~ /(\\|\|\||&&|\|)[ \t]*$/ && $0 !~ /\|\|/ {
			pend = FILENAME ":" FNR ": " $0
		}
		{ prev = $0 }
		END { if (pend != "") print pend }
	' "$PKGDIST_SRC"/tests/*.bats "$PKGDIST_SRC"/tests/lib/*.bash \
	    "$PKGDIST_SRC"/tests/torture/*.bash
	expect_status 0
	[ -z "$output" ] || { echo "$output"; false; }
}
