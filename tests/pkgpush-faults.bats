#!/usr/bin/env bats
# pkgpush under real faults: a full file system, an immutable file, a file
# held open with a lock, readers during the switch, a crash at every
# operation.  The DP is always left at its old version whole (or, in
# place, every file old or new), and the next push finishes the job.

load lib/common
load lib/pkgpush

setup()
{
	common_setup
	staged_versions 1 2
	dps dp1 dp2
}

@test "pkgpush: no space left on the DP leaves it at its old version and queues a retry" {
	mount_tmpfs "$T/dp1" 400k
	pkgpush --dp dp1 --version 1 office
	head -c 600000 /dev/urandom >"$T/v2/big"
	chmod 0444 "$T/v2/big"
	pkgstage add office "$T/v2" >/dev/null
	run pkgpush --dp dp1 --dp dp2 office
	expect_status 1
	expect_output_has "pkgpush: dp1: "
	expect_output_has "No space left on device"
	expect_output_has "dp2: office - -> 3"
	at_version "$T/dp1" 1
	at_version "$T/dp2" 3
	no_debris "$T/dp1"
	[ -f "$PKGDIST_STORE/retry/office@dp1" ]
	expect_file_has "$PKGDIST_STORE/retry/office@dp1" "arg 3"
}

@test "pkgpush: no space in place leaves every file old and nothing deleted" {
	mount_tmpfs "$T/dp1" 400k
	pkgpush --inplace --dp dp1 --version 1 office
	head -c 600000 /dev/urandom >"$T/v2/big"
	chmod 0444 "$T/v2/big"
	pkgstage add office "$T/v2" >/dev/null
	run pkgpush --inplace --dp dp1 office
	expect_status 1
	expect_output_has "No space left on device"
	at_version "$T/dp1" 1
	no_debris "$T/dp1"
	[ -f "$PKGDIST_STORE/retry/office@dp1" ]
	run pkgpush --status office
	expect_output_has "dp1 office 1 failed"
}

@test "pkgpush: an immutable file (chattr +i) is left untouched; state partial; retry finishes" {
	need_cmd chattr
	pkgpush --inplace --dp dp1 --version 1 office
	chattr +i "$T/dp1/office/f3" 2>/dev/null ||
	    skip "chattr +i not supported on this file system"
	run pkgpush --inplace --dp dp1 office
	expect_status 1
	expect_output_has "f3: file in use"
	grep -qx "version 1 file 3" "$T/dp1/office/f3"
	grep -qx "version 2 file 4" "$T/dp1/office/f4"
	# Nothing deleted while a replacement is missing.
	[ -e "$T/dp1/office/only1/x" ]
	each_old_or_new "$T/dp1"
	no_debris "$T/dp1"
	run pkgpush --status office
	expect_output_has "dp1 office 2 partial from 1"
	[ -f "$PKGDIST_STORE/retry/office@dp1" ]
	chattr -i "$T/dp1/office/f3"
	run pkgretry run --now
	expect_status 0
	at_version "$T/dp1" 2
	run pkgpush --status office
	expect_output_has "dp1 office 2 complete"
}

@test "pkgpush: a file held with flock is left untouched and the DP's push fails" {
	need_cmd flock
	pkgpush --inplace --dp dp1 --version 1 office
	flock "$T/dp1/office/f5" sh -c ': >"$1"; exec sleep 60' sh \
	    "$T/locked" >/dev/null 2>&1 3>&- &
	holder=$!
	for _ in $(seq 50); do [ -e "$T/locked" ] && break; sleep 0.1; done
	run pkgpush --inplace --dp dp1 --dp dp2 office
	pkill -P "$holder" 2>/dev/null || true	# its sleep, by parent id
	kill "$holder" 2>/dev/null || true
	wait "$holder" 2>/dev/null || true
	expect_status 1
	expect_output_has "f5: file in use, left untouched"
	expect_output_has "dp2: office - -> 2"
	grep -qx "version 1 file 5" "$T/dp1/office/f5"
	[ -e "$T/dp1/office/only1/x" ]
	each_old_or_new "$T/dp1"
	expect_file_has "$PKGDIST_STORE/retry/office@dp1" "arg --inplace"
	run pkgpush --inplace --dp dp1 office
	expect_status 0
	at_version "$T/dp1" 2
}

@test "pkgpush: in place, a file in use whose path changes type (file to directory, file to link) is left untouched; state partial; retry queued" {
	need_cmd flock
	mkdir -p "$T/t1" "$T/t2/a"
	printf 'a in version 1\n' >"$T/t1/a"
	printf 'l in version 1\n' >"$T/t1/l"
	printf 'inside a\n' >"$T/t2/a/x"
	ln -s a/x "$T/t2/l"
	pkgstage add tc "$T/t1" >/dev/null
	pkgstage add tc "$T/t2" >/dev/null
	pkgpush --inplace --dp dp1 --version 1 tc
	# One process holds both locks (its sleep is the shell exec'd).
	sh -c 'exec 8<"$1" 9<"$2"; flock 8 && flock 9 && : >"$3" &&
	    exec sleep 60' sh "$T/dp1/tc/a" "$T/dp1/tc/l" "$T/locked" \
	    >/dev/null 2>&1 3>&- &
	holder=$!
	for _ in $(seq 50); do [ -e "$T/locked" ] && break; sleep 0.1; done
	[ -e "$T/locked" ]
	run pkgpush --inplace --dp dp1 tc
	kill "$holder" 2>/dev/null || true
	wait "$holder" 2>/dev/null || true
	expect_status 1
	expect_output_has "file in use"
	[ -f "$T/dp1/tc/a" ] && [ ! -L "$T/dp1/tc/l" ] && [ -f "$T/dp1/tc/l" ]
	grep -qx "a in version 1" "$T/dp1/tc/a"
	grep -qx "l in version 1" "$T/dp1/tc/l"
	run pkgpush --status tc
	expect_output_has "dp1 tc 2 partial from 1"
	[ -f "$PKGDIST_STORE/retry/tc@dp1" ]
	run pkgretry run --now
	expect_status 0
	[ -d "$T/dp1/tc/a" ] && [ -L "$T/dp1/tc/l" ]
	grep -qx "inside a" "$T/dp1/tc/l"
	run pkgpush --status tc
	expect_output_has "dp1 tc 2 complete"
}

@test "pkgpush: a file held with an fcntl lock is left untouched" {
	need_cmd python3
	pkgpush --inplace --dp dp1 --version 1 office
	python3 -c '
import fcntl, sys, time
f = open(sys.argv[1], "rb")
fcntl.lockf(f, fcntl.LOCK_SH)
open(sys.argv[2], "w").close()
time.sleep(60)' "$T/dp1/office/f6" "$T/locked" >/dev/null 2>&1 3>&- &
	holder=$!
	for _ in $(seq 50); do [ -e "$T/locked" ] && break; sleep 0.1; done
	run pkgpush --inplace --dp dp1 office
	kill "$holder" 2>/dev/null || true
	wait "$holder" 2>/dev/null || true
	expect_status 1
	expect_output_has "f6: file in use"
	grep -qx "version 1 file 6" "$T/dp1/office/f6"
}

@test "pkgpush: a reader during atomic pushes never sees an empty, missing or mixed package" {
	staged_versions 3 4 200
	pkgpush --dp dp1 --version 1 office
	: >"$T/reads"
	(
		while [ ! -e "$T/stop" ]; do
			# One pass: resolve DP/office once, read every file.
			if ! out=$(cd "$T/dp1/office" 2>&1 && cat f*); then
				echo "FAIL cannot read: $out" >>"$T/fail"
				continue
			fi
			[ -n "$out" ] || echo "FAIL empty" >>"$T/fail"
			n=$(printf '%s\n' "$out" | awk '{ print $2 }' | sort -u | wc -l)
			[ "$n" -eq 1 ] || echo "FAIL mixed: $n versions" >>"$T/fail"
			echo x >>"$T/reads"
		done
	) &
	reader=$!
	for v in 2 3 4 3; do
		if [ "$v" = 3 ] && [ -e "$T/did4" ]; then
			pkgpush --dp dp1 --version 3 --rollback --keep 5 office
		else
			pkgpush --dp dp1 --version $v --keep 5 office
		fi
		[ "$v" = 4 ] && : >"$T/did4"
	done
	touch "$T/stop"
	wait "$reader"
	[ ! -e "$T/fail" ] || { cat "$T/fail" >&2; false; }
	[ "$(wc -l <"$T/reads")" -gt 0 ]
	at_version "$T/dp1" 3
}

@test "pkgpush: an injected I/O error leaves the DP at its old version whole" {
	pkgpush --dp dp1 --version 1 office
	PKGDIST_FAULT=write:3:EIO run pkgpush --dp dp1 office
	expect_status 1
	expect_output_has "Input/output error"
	at_version "$T/dp1" 1
	no_debris "$T/dp1"
	[ -f "$PKGDIST_STORE/retry/office@dp1" ]
	PKGDIST_FAULT=write:2:EIO run pkgpush --inplace --dp dp2 --version 1 office
	expect_status 1
	[ ! -e "$T/dp2/office" ]
}

@test "pkgpush: a content the store cannot give is named by package, version and file" {
	head -c 200000 /dev/urandom >"$T/v2/big blob"
	chmod 0444 "$T/v2/big blob"
	pkgstage add office "$T/v2" >/dev/null
	h=$(sha256sum <"$T/v2/big blob" | cut -d' ' -f1)
	o=$PKGDIST_STORE/objects/${h:0:2}/${h:2}
	[ -f "$o" ]
	chmod u+w "$o"
	printf XX | dd of="$o" bs=1 seek=1000 conv=notrunc 2>/dev/null
	# Waiting will not mend the store: no retry job, exit 2.
	run pkgpush --dp dp1 office
	expect_status 2
	expect_output_has "pkgpush: dp1: office version 3: 'big\\040blob': content $h: digest mismatch (store damaged)"
	expect_output_has "dp1: not queued for retry: the store is damaged"
	[ ! -e "$T/dp1/office" ]
	[ ! -e "$PKGDIST_STORE/retry/office@dp1" ]
	rm -f "$o"
	run pkgpush --inplace --dp dp2 office
	expect_status 2
	expect_output_has "pkgpush: dp2: office version 3: 'big\\040blob': content $h: missing"
	[ ! -e "$PKGDIST_STORE/retry/office@dp2" ]
}
