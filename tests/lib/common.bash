# tests/lib/common.bash — loaded by every bats file:
# shellcheck shell=bash disable=SC2154 # status, output: set by bats run
#
#	load lib/common
#
# It gives each test a fresh temporary directory $T (also the working
# directory), a store at $T/store ($PKGDIST_STORE), the tools of the build
# under test first on PATH ($PKGDIST_BIN, set by tests/run), no progress
# display, and no fault injection unless a test asks for it.
#
# The default setup()/teardown() below call common_setup/common_teardown.
# A file that needs more defines its own and calls them:
#
#	setup() { common_setup; mktree "$T/src"; }
#
# Helpers: mktree, dps, overwrite, hold_flock, hold_dp_lock, held,
# release_holder, waits_for_lock, expect_status, expect_output_has,
# expect_output_lacks, expect_file_has, has_root, need_root, need_cmd,
# can_mount_tmpfs, mount_tmpfs; MIB.

PKGDIST_SRC=${PKGDIST_SRC:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}
export PKGDIST_SRC

# Where the tools are: tests/run exports PKGDIST_BIN; a bats file run by
# hand falls back to the test build.
common_find_bin()
{
	if [ -z "${PKGDIST_BIN:-}" ]; then
		if [ -d "$PKGDIST_SRC/build/test/bin" ]; then
			PKGDIST_BIN=$PKGDIST_SRC/build/test/bin
		else
			echo "PKGDIST_BIN is not set and $PKGDIST_SRC/build/test/bin" \
			    "does not exist: run 'make check' or tests/run BUILDDIR" >&2
			return 1
		fi
	fi
	export PKGDIST_BIN
	case ":$PATH:" in
	*":$PKGDIST_BIN:"*) ;;
	*) PATH=$PKGDIST_BIN:$PATH ;;
	esac
	export PATH
}

common_setup()
{
	common_find_bin || return 1
	T=$(mktemp -d "${BATS_TMPDIR:-/tmp}/pkgdist-t.XXXXXX")
	export T
	export PKGDIST_STORE=$T/store
	export PKGDIST_PROGRESS=0
	unset PKGDIST_FAULT PKGDIST_FAULT_COUNT PKGDIST_FAULT_SLOW PKGDIST_NOW
	COMMON_MOUNTS=()
	cd "$T" || return 1
}

common_teardown()
{
	[ -n "${T:-}" ] && [ -d "$T" ] || return 0
	cd / || true
	local m i
	# Unmount in reverse order of mounting.
	for ((i = ${#COMMON_MOUNTS[@]} - 1; i >= 0; i--)); do
		m=${COMMON_MOUNTS[i]}
		umount "$m" 2>/dev/null || umount -l "$m" 2>/dev/null || true
	done
	# Tests may leave immutable files (chattr +i) or unreadable dirs.
	if command -v chattr >/dev/null 2>&1; then
		chattr -R -i -a "$T" 2>/dev/null || true
	fi
	chmod -R u+rwX "$T" 2>/dev/null || true
	rm -rf "$T"
}

setup()
{
	common_setup
}

teardown()
{
	common_teardown
}

# mktree DIR: a small tree with every kind of awkward name: spaces, a tab,
# a newline, a backslash, a byte that is not UTF-8 (0xff), a symbolic
# link, nested directories and an empty file.  Contents are fixed, so two
# calls give trees with the same digests.
mktree()
{
	local d=$1
	mkdir -p "$d/sub dir/deeper/deepest" "$d/empty dir" || return 1
	printf 'hello\n' >"$d/hello.txt"
	printf 'a file with spaces\n' >"$d/read me.txt"
	printf 'tab\n' >"$d/tab"$'\t'"name"
	printf 'newline\n' >"$d/new"$'\n'"line"
	printf 'backslash\n' >"$d/back\\slash"
	printf 'not utf-8\n' >"$d/latin"$'\xff'"byte"
	: >"$d/empty"
	printf 'nested\n' >"$d/sub dir/deeper/deepest/leaf.txt"
	head -c 70000 /dev/zero | tr '\0' 'x' >"$d/sub dir/big.bin"
	printf '#!/bin/sh\necho hi\n' >"$d/sub dir/run.sh"
	chmod 0755 "$d/sub dir/run.sh"
	ln -s "hello.txt" "$d/link to hello"
	ln -s "../hello.txt" "$d/sub dir/uplink"
}

# dps NAME...: the store's DP list (STORE/dps) with one local DP per
# name, the directory $T/NAME (made), group g.
dps()
{
	local n
	for n in "$@"; do
		mkdir -p "$T/$n"
		printf '%s g %s\n' "$n" "$T/$n"
	done >"$PKGDIST_STORE/dps"
}

# Bytes in a mebibyte, for the sizes of test files.
MIB=1048576

# big_tree DIR: a package tree with one large file, DIR/big.img (16 MiB
# of random bytes: above the chunking threshold, incompressible), and
# three small ones, s1 to s3.
big_tree()
{
	local i
	mkdir -p "$1" &&
	    head -c $((16 * MIB)) /dev/urandom >"$1/big.img" &&
	    for i in 1 2 3; do echo "small $i" >"$1/s$i" || return 1; done
}

# flip_byte FILE OFFSET: the byte at OFFSET of FILE inverted (made
# writable first): a damage that always changes it, which writing a
# fixed byte over random data does not (1 time in 256).
flip_byte()
{
	local b
	chmod u+w "$1" &&
	    b=$(od -An -tu1 -j "$2" -N1 "$1" | tr -d ' ') &&
	    [ -n "$b" ] &&
	    printf "\\$(printf '%03o' $((b ^ 255)))" |
	    dd of="$1" bs=1 seek="$2" conv=notrunc status=none
}

# overwrite FILE OFFSET LEN: LEN random bytes at OFFSET of FILE, made
# writable by its owner first (staged trees are often read-only).
overwrite()
{
	chmod u+w "$1"
	head -c "$3" /dev/urandom | dd of="$1" bs=4096 seek="$2" \
	    oflag=seek_bytes conv=notrunc status=none
}

# hold_flock FILE: hold FILE's lock (flock(1) in the background, holder
# its pid, under it a sleep of 60 s) until release_holder; returns once
# it is held.
hold_flock()
{
	flock "$1" sh -c ': >"$1"; exec sleep 60' sh "$T/locked" \
	    >/dev/null 2>&1 3>&- &
	holder=$!
	held
}

# hold_dp_lock DIR: hold the lock of the DP at DIR as a push would
# (DIR/.pkgdist/.lock, the directory made for a DP new to pushes).
hold_dp_lock()
{
	mkdir -p "$1/.pkgdist" && hold_flock "$1/.pkgdist/.lock"
}

# held: true once the holder started in the background has made
# $T/locked, which it does holding its locks (within 5 s).
held()
{
	local _
	for _ in $(seq 50); do [ -e "$T/locked" ] && break; sleep 0.1; done
	[ -e "$T/locked" ]
}

# release_holder: end the holder and the sleep it runs.
release_holder()
{
	pkill -P "$holder" 2>/dev/null || true	# its sleep, by parent id
	kill "$holder" 2>/dev/null || true
	wait "$holder" 2>/dev/null || true
}

# waits_for_lock PID DIR: PID has the lock file of the DP at DIR open (it
# is in its lock wait, the lock being held), within 10 s.
waits_for_lock()
{
	local _
	for _ in $(seq 100); do
		ls -l "/proc/$1/fd" 2>/dev/null |
		    grep -qF "$2/.pkgdist/.lock" && return 0
		sleep 0.1
	done
	return 1
}

# expect_status N: $status (from bats run) is N; else show the output.
expect_status()
{
	if [ "$status" -ne "$1" ]; then
		printf 'expected exit status %s, got %s; output:\n%s\n' \
		    "$1" "$status" "$output" >&2
		return 1
	fi
}

# expect_output_has STRING: $output contains STRING (literally).
expect_output_has()
{
	if [[ "$output" != *"$1"* ]]; then
		printf 'expected output to contain: %s\nactual output:\n%s\n' \
		    "$1" "$output" >&2
		return 1
	fi
}

# expect_output_lacks STRING: $output does not contain STRING.
expect_output_lacks()
{
	if [[ "$output" == *"$1"* ]]; then
		printf 'expected output not to contain: %s\nactual output:\n%s\n' \
		    "$1" "$output" >&2
		return 1
	fi
}

# expect_file_has FILE STRING: FILE contains STRING (literally).
expect_file_has()
{
	if ! grep -qF -- "$2" "$1"; then
		printf 'expected %s to contain: %s\n' "$1" "$2" >&2
		[ ! -f "$1" ] || cat "$1" >&2
		return 1
	fi
}

has_root()
{
	[ "$(id -u)" -eq 0 ]
}

# need_root: skip the test unless running as root.
need_root()
{
	has_root || skip "needs root"
}

# need_cmd NAME...: skip the test unless each command exists.
need_cmd()
{
	local c
	for c in "$@"; do
		command -v "$c" >/dev/null 2>&1 || skip "needs $c (make bootstrap)"
	done
}

# can_mount_tmpfs: true if a tmpfs can be mounted here (root, and not a
# container that forbids it).
can_mount_tmpfs()
{
	local p=$T/.tmpfs-probe
	has_root || return 1
	mkdir -p "$p" || return 1
	if mount -t tmpfs -o size=64k tmpfs "$p" 2>/dev/null; then
		umount "$p"
		rmdir "$p"
		return 0
	fi
	rmdir "$p"
	return 1
}

# mount_tmpfs DIR SIZE: mount a tmpfs of SIZE (e.g. 512k) on DIR (created),
# unmounted by teardown; skips the test when tmpfs cannot be mounted.
mount_tmpfs()
{
	can_mount_tmpfs || skip "cannot mount a tmpfs here (needs root)"
	mkdir -p "$1" || return 1
	mount -t tmpfs -o "size=$2" tmpfs "$1" || return 1
	COMMON_MOUNTS+=("$1")
}
