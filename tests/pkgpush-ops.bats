#!/usr/bin/env bats
# Operating pkgpush day to day: never writing to an unmounted share
# (a DP that lost its .pkgdist/, the "mount" rule of STORE/config with a
# real tmpfs when root), --reinit, no DP left behind (--status with the
# newest version and its exit status, an interrupted push), a refused
# downgrade that is not a failure of the DP, and a stale failure cleared.

load lib/common
load lib/pkgpush

setup()
{
	common_setup
	staged_versions 1 2
	dps dp1 dp2 dp3
}

teardown()
{
	common_teardown
}

# unmount DP: what an unmounted share leaves: its empty mount point.
unmount()
{
	chmod -R u+w "$1"
	rm -rf "$1"
	mkdir "$1"
}

@test "pkgpush: a DP the store records holding a version but showing no .pkgdist/ is unreachable: nothing written, retry queued" {
	pkgpush --dp dp1 --dp dp2 --version 1 office
	unmount "$T/dp1"
	run pkgpush --refresh-existing office
	expect_status 1
	expect_output_has "dp1: $T/dp1: no .pkgdist/ there, but the store records dp1 holding office 1: the share looks unmounted; nothing is written there (mount it, or place the package afresh: pkgpush --dp dp1 --reinit office)"
	expect_output_has "retry queued as 'office@dp1'"
	expect_output_has "dp2: office 1 -> 2"
	[ -z "$(ls -A "$T/dp1")" ]
	[ -f "$PKGDIST_STORE/retry/office@dp1" ]
	# A new package for it is refused too: the share is the same.
	mkdir -p "$T/w1"
	echo w >"$T/w1/w"
	pkgstage add word "$T/w1" >/dev/null
	run pkgpush --dp dp1 word
	expect_status 1
	expect_output_has "holding office 1: the share looks unmounted"
	[ -z "$(ls -A "$T/dp1")" ]
	# --status says so, and counts it.
	run pkgpush --status office
	expect_status 1
	expect_output_has "dp1 office 1 unreachable: $T/dp1: no .pkgdist/ there"
	expect_output_has "newest 2"
	expect_output_has "dp2 office 2 complete newest 2"
	# -n says the same and writes nothing.
	run pkgpush -n --dp dp1 office
	expect_status 1
	expect_output_has "the share looks unmounted"
	[ -z "$(ls -A "$T/dp1")" ]
}

@test "pkgpush: --reinit places the package afresh on a DP that lost its .pkgdist/" {
	pkgpush --dp dp1 --version 1 office
	unmount "$T/dp1"
	run pkgpush --dp dp1 --reinit office
	expect_status 0
	expect_output_has "dp1: office - -> 2:"
	at_version "$T/dp1" 2
	run pkgpush --status office
	expect_output_has "dp1 office 2 complete newest 2"
	# Once placed, plain pushes work again.
	run pkgpush --dp dp1 office
	expect_status 0
	expect_output_has "up to date"
}

@test "pkgpush: a new DP with no records is placed as always; the unmounted rule needs a record" {
	run pkgpush --dp dp3 office
	expect_status 0
	at_version "$T/dp3" 2
}

@test "pkgpush: 'mount NAME' in STORE/config: a directory that is not a mount point is unreachable, nothing written, even for a new DP" {
	printf 'mount dp3\n' >"$PKGDIST_STORE/config"
	run pkgpush --dp dp3 --dp dp2 office
	expect_status 1
	expect_output_has "dp3: $T/dp3: not a mount point, and '$PKGDIST_STORE/config' says 'mount' for dp3: the share looks unmounted; nothing is written there"
	expect_output_has "retry queued as 'office@dp3'"
	[ -z "$(ls -A "$T/dp3")" ]
	at_version "$T/dp2" 2
	run pkgpush --status office
	expect_status 1
	expect_output_has "dp3 office - unreachable: $T/dp3: not a mount point"
	# A group name works the same.
	printf 'mount g\n' >"$PKGDIST_STORE/config"
	run pkgpush --dp dp1 office
	expect_status 1
	[ -z "$(ls -A "$T/dp1")" ]
}

@test "pkgpush: 'mount NAME' with a real tmpfs mounted there: written; unmounted again: unreachable, the mount point's disk untouched" {
	# The share: a tmpfs, mounted on dp3 (a bind mount, so that it can
	# be unmounted from dp3 and mounted again with its contents).
	mount_tmpfs "$T/share" 16m
	mount --bind "$T/share" "$T/dp3"
	COMMON_MOUNTS+=("$T/dp3")
	printf '# dp3 is a share\nmount dp3\n' >"$PKGDIST_STORE/config"
	run pkgpush --dp dp3 --version 1 office
	expect_status 0
	at_version "$T/dp3" 1
	umount "$T/dp3"
	[ -z "$(ls -A "$T/dp3")" ]
	run pkgpush --refresh-existing office
	expect_status 1
	expect_output_has "not a mount point"
	expect_output_has "retry queued as 'office@dp3'"
	[ -z "$(ls -A "$T/dp3")" ]
	run pkgpush --status office
	expect_status 1
	expect_output_has "dp3 office 1 unreachable"
	# Mounted again: the retry brings it to 2.
	mount --bind "$T/share" "$T/dp3"
	run pkgretry run --now
	expect_status 0
	at_version "$T/dp3" 2
	at_version "$T/share" 2
}

@test "pkgpush: 'mount NAME': a bind mount of a directory of the same file system counts as a mount point" {
	need_root
	mkdir -p "$T/d2src"
	mount --bind "$T/d2src" "$T/dp2" || skip "cannot bind-mount here"
	COMMON_MOUNTS+=("$T/dp2")
	printf 'mount dp2\n' >"$PKGDIST_STORE/config"
	[ "$(stat -c %d "$T/dp2")" = "$(stat -c %d "$T")" ]
	run pkgpush --dp dp2 office
	expect_status 0
	at_version "$T/d2src" 2
}

@test "pkgpush: --status names the newest version on every line and exits 1 while a DP is behind, 0 when all are complete at the newest" {
	pkgpush --dp dp1 --version 1 office
	pkgpush --dp dp2 office
	run pkgpush --status
	expect_status 1
	expect_output_has "dp1 office 1 complete newest 2"
	expect_output_has "dp2 office 2 complete newest 2"
	# Without PKG, a DP that holds nothing is not listed.
	expect_output_lacks "dp3"
	run pkgpush --status office
	expect_status 1
	expect_output_has "dp3 office - none newest 2"
	pkgpush --dp dp1 office
	run pkgpush --status office
	expect_status 0
	run pkgpush --status
	expect_status 0
	# Every package when none is named.
	mkdir -p "$T/w1"
	echo w >"$T/w1/w"
	pkgstage add word "$T/w1" >/dev/null
	pkgpush --dp dp3 word
	run pkgpush --status
	expect_status 0
	expect_output_has "dp3 word 1 complete newest 1"
	expect_output_has "dp1 office 2 complete newest 2"
	# A new version makes every DP that holds it behind.
	staged_versions 3 3
	run pkgpush --status
	expect_status 1
	expect_output_has "dp1 office 2 complete newest 3"
	run pkgpush --status word
	expect_status 0
	# An unknown package is trouble.
	run pkgpush --status nosuch
	expect_status 2
	expect_output_has "nosuch: no such package in the store"
}

@test "pkgpush: a push interrupted by SIGTERM leaves the DP whole and --status finds it behind" {
	need_cmd flock
	pkgpush --dp dp1 --version 1 office
	flock "$T/dp1/.pkgdist/.lock" sh -c ': >"$1"; exec sleep 60' sh \
	    "$T/locked" >/dev/null 2>&1 3>&- &
	holder=$!
	for _ in $(seq 50); do [ -e "$T/locked" ] && break; sleep 0.1; done
	[ -e "$T/locked" ]
	pkgpush --dp dp1 office >"$T/out" 2>&1 &
	p=$!
	for _ in $(seq 100); do
		ls -l "/proc/$p/fd" 2>/dev/null | grep -qF "$T/dp1/.pkgdist/.lock" &&
		    break
		sleep 0.1
	done
	kill -TERM "$p"
	rc=0
	wait "$p" || rc=$?
	pkill -P "$holder" 2>/dev/null || true
	kill "$holder" 2>/dev/null || true
	wait "$holder" 2>/dev/null || true
	[ "$rc" -eq 143 ]
	at_version "$T/dp1" 1
	run pkgpush --status
	expect_status 1
	expect_output_has "dp1 office 1 complete newest 2"
	# --refresh-existing brings it up.
	run pkgpush --refresh-existing office
	expect_status 0
	at_version "$T/dp1" 2
}

@test "pkgpush: a refused downgrade fails the command for that DP (exit 1, no retry) but leaves it complete, not failed" {
	pkgpush --dp dp1 --dp dp2 office
	run pkgpush --dp dp1 --dp dp2 --version 1 office
	expect_status 1
	expect_output_has "refusing to go down"
	expect_output_has "dp1: not queued for retry: it still holds office 2 as it did"
	[ ! -e "$PKGDIST_STORE/retry/office@dp1" ]
	[ ! -e "$PKGDIST_STORE/retry/office@dp2" ]
	run pkgpush --status office
	expect_status 0
	expect_output_has "dp1 office 2 complete newest 2"
	expect_output_has "dp2 office 2 complete newest 2"
	expect_output_lacks "failed"
	at_version "$T/dp1" 2
	grep -q '^dp1 2 2 complete ' "$PKGDIST_STORE/packages/office/holdings"
}

@test "pkgpush: an up-to-date push and --verify clear a stale failed mark" {
	pkgpush --dp dp1 --dp dp2 office
	# A failure noted on the DPs, as an older pkgpush left after a
	# refused downgrade.
	for d in dp1 dp2; do
		sed -i 's/^error .*/error stale\\040refusal/' \
		    "$T/$d/.pkgdist/office/state"
		grep -q '^error stale' "$T/$d/.pkgdist/office/state" ||
		    echo 'error stale\040refusal' >>"$T/$d/.pkgdist/office/state"
	done
	run pkgpush --status office
	expect_status 1
	expect_output_has "dp1 office 2 failed: stale refusal newest 2"
	run pkgpush --dp dp1 office
	expect_status 0
	expect_output_has "up to date"
	run pkgpush --dp dp2 --verify office
	expect_status 0
	run pkgpush --status office
	expect_status 0
	expect_output_has "dp1 office 2 complete newest 2"
	expect_output_has "dp2 office 2 complete newest 2"
}

@test "pkgpush: an option that means nothing in a mode is refused, naming it (exit 2)" {
	run pkgpush --status --inplace --rollback --dp nosuch --keep 5
	expect_status 2
	expect_output_has "pkgpush: --inplace means nothing with --status"
	expect_output_has "usage: pkgpush"
	run pkgpush --status -j 2 office
	expect_status 2
	expect_output_has "-j means nothing with --status"
	run pkgpush -n --status
	expect_status 2
	expect_output_has "-n means nothing with --status"
	run pkgpush --status --version 1 office
	expect_status 2
	expect_output_has "--version means nothing with --status"
	run pkgpush --where dp1 --all
	expect_status 2
	expect_output_has "--all means nothing with --where"
	run pkgpush --serve /x -s "$PKGDIST_STORE"
	expect_status 2
	expect_output_has "-s means nothing with --serve"
	run pkgpush --status --serve /x
	expect_status 2
	expect_output_has "--status means nothing with --serve"
	# What a mode does take still works.
	run pkgpush -s "$PKGDIST_STORE" --status office
	expect_status 0
	expect_output_has "dp1 office - none newest 2"
}

@test "pkgpush: --refresh-existing names a recorded DP that left the DP list, and goes on with the others" {
	pkgpush --dp dp1 --dp dp2 --version 1 office
	dps dp1 dp3
	run pkgpush --refresh-existing office
	expect_status 0
	expect_output_has "dp2: holds office but is not in the DP list: skipped"
	expect_output_has "dp1: office 1 -> 2"
	expect_output_lacks "dp3:"
}

@test "pkgpush: a first push to a new DP interrupted by SIGTERM: --status shows it failed, --refresh-existing names it" {
	need_cmd flock
	mkdir -p "$T/dp3/.pkgdist"
	flock "$T/dp3/.pkgdist/.lock" sh -c ': >"$1"; exec sleep 60' sh \
	    "$T/locked" >/dev/null 2>&1 3>&- &
	holder=$!
	for _ in $(seq 50); do [ -e "$T/locked" ] && break; sleep 0.1; done
	[ -e "$T/locked" ]
	pkgpush --dp dp3 office >"$T/out" 2>&1 &
	p=$!
	for _ in $(seq 100); do
		ls -l "/proc/$p/fd" 2>/dev/null | grep -qF "$T/dp3/.pkgdist/.lock" &&
		    break
		sleep 0.1
	done
	kill -TERM "$p"
	rc=0
	wait "$p" || rc=$?
	pkill -P "$holder" 2>/dev/null || true
	kill "$holder" 2>/dev/null || true
	wait "$holder" 2>/dev/null || true
	[ "$rc" -eq 143 ]
	[ ! -e "$T/dp3/office" ]
	run pkgpush --status
	expect_status 1
	expect_output_has "dp3 office - failed: a push of version 2 did not finish: nothing of it is there newest 2"
	run pkgpush --refresh-existing office
	expect_status 0
	expect_output_has "dp3: office - -> 2"
	at_version "$T/dp3" 2
	run pkgpush --status
	expect_status 0
}
