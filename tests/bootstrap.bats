#!/usr/bin/env bats
# scripts/bootstrap: make check, demo, asan and torture run it with
# --needed, which never starts apt-get while the build and the tests can
# run, names the optional tools it would add, and installs only what is
# required; make bootstrap installs everything missing.  The tools it
# looks for are hidden by a PATH of a few links, apt-get and id are
# stand-ins that record what they were asked.

load lib/common

bats_require_minimum_version 1.5.0

BOOT=$PKGDIST_SRC/scripts/bootstrap

# fakebin [TOOL...]: $T/bin with links to those real tools only, an
# apt-get that logs its arguments to $T/apt.log, and an id that says root.
fakebin()
{
	local t
	mkdir -p "$T/bin"
	for t in "$@"; do
		ln -s "$(command -v "$t")" "$T/bin/$t"
	done
	printf '#!/bin/sh\necho "apt-get $*" >>"%s/apt.log"\n' "$T" \
	    >"$T/bin/apt-get"
	printf '#!/bin/sh\necho 0\n' >"$T/bin/id"
	chmod +x "$T/bin/apt-get" "$T/bin/id"
}

@test "bootstrap --needed: the required tools present, optional ones missing: no apt-get, and says what it would install" {
	need_cmd cc make bats
	fakebin cc make bats
	run --separate-stderr /usr/bin/env PATH="$T/bin" /bin/sh "$BOOT" --needed
	expect_status 0
	[ ! -e "$T/apt.log" ]
	[[ "$stderr" == *"bootstrap: optional tools missing (some tests skip):"*"mandoc"* ]]
	[[ "$stderr" == *"'make bootstrap' would install them: apt-get install -y --no-install-recommends"*"valgrind"* ]]
}

@test "bootstrap --needed: everything present: silent, no apt-get" {
	local t
	need_cmd cc make bats
	# Every tool the list checks by command (files and headers are the
	# machine's own), as links; those this machine lacks are skipped.
	for t in mandoc rsync ssh-keygen chattr mkfs.xfs flock pkill perl \
	    python3 openssl clang cppcheck clang-tidy valgrind; do
		command -v "$t" >/dev/null || skip "needs $t installed"
	done
	[ -e /usr/sbin/sshd ] || skip "needs sshd installed"
	fakebin cc make bats mandoc rsync ssh-keygen chattr mkfs.xfs flock \
	    pkill perl python3 openssl clang cppcheck clang-tidy valgrind cut
	run --separate-stderr /usr/bin/env PATH="$T/bin" /bin/sh "$BOOT" --needed
	expect_status 0
	[ -z "$stderr" ] && [ -z "$output" ]
	[ ! -e "$T/apt.log" ]
}

@test "bootstrap --needed: a required tool missing, as root: installs that one, not the optional ones" {
	need_cmd cc make
	fakebin cc make
	run --separate-stderr /usr/bin/env PATH="$T/bin" /bin/sh "$BOOT" --needed
	# The stand-in installs nothing: bats is still missing.
	expect_status 2
	grep -qx 'apt-get install -y -q --no-install-recommends bats' "$T/apt.log"
	! grep -q 'valgrind\|mandoc' "$T/apt.log" || false
	[[ "$output" == *"bootstrap: installing with apt-get: bats"* ]]
	[[ "$stderr" == *"still missing (required): bats"* ]]
}

@test "bootstrap -n: names the command and installs nothing" {
	need_cmd cc make
	fakebin cc make
	run --separate-stderr /usr/bin/env PATH="$T/bin" /bin/sh "$BOOT" -n
	expect_status 2
	[ ! -e "$T/apt.log" ]
	[[ "$stderr" == *"bootstrap: run: sudo apt-get install -y --no-install-recommends bats"*"mandoc"* ]]
}

@test "make check, demo, asan and torture bootstrap with --needed; only make bootstrap installs everything" {
	need_cmd make
	local t
	for t in check demo asan torture; do
		make -n --no-print-directory -C "$PKGDIST_SRC" "$t" 2>/dev/null | head -n 1 >"$T/first"
		grep -qx 'sh scripts/bootstrap --needed' "$T/first" || {
			echo "make $t starts with: $(cat "$T/first")"
			return 1
		}
	done
	make -n --no-print-directory -C "$PKGDIST_SRC" bootstrap | grep -qx 'sh scripts/bootstrap'
}
