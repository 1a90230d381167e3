#!/usr/bin/env bats
# pkgretry: the retry queue (pkgretry(1); F3 in pkgdist(7)).
#
# The job mechanics are tested with pkgdiff jobs: "pkgdiff verify M DIR"
# fails while DIR differs from M and succeeds once it matches, so a test
# controls whether a job fails without any program of its own.  The F3
# end-to-end tests use real pkgstage and pkgpush.

load lib/common

setup()
{
	common_setup
	mkdir -p "$T/store"
	mkdir -p "$T/src"
	printf 'one\n' >"$T/src/a"
	printf 'two\n' >"$T/src/b"
	pkgdiff scan -o "$T/m" "$T/src"
}

# A pkgdiff job that fails until fix_tree runs.
break_tree()
{
	printf 'drift\n' >"$T/src/a"
}

fix_tree()
{
	printf 'one\n' >"$T/src/a"
	touch -r "$T/src/b" "$T/src/a"
	pkgdiff scan -o "$T/m" "$T/src"
}

job_file()
{
	ls "$T/store/retry" | grep -v '^failed$' | head -1
}

field()
{
	sed -n "s/^$1 //p" "$T/store/retry/$2"
}

@test "pkgretry: -h prints usage on stdout and exits 0" {
	run pkgretry -h
	expect_status 0
	expect_output_has "usage: pkgretry [-s store] run"
}

@test "pkgretry: a bad flag or subcommand prints usage and exits 2" {
	run pkgretry --bogus run
	expect_status 2
	expect_output_has "usage:"
	run pkgretry frobnicate
	expect_status 2
	run pkgretry list --now
	expect_status 2
	run pkgretry run --max-attempts 0
	expect_status 2
	run pkgretry run --backoff x
	expect_status 2
}

@test "pkgretry: -s is accepted before and after the subcommand" {
	mkdir "$T/other"
	run pkgretry -s "$T/other" add -- pkgdiff verify m src
	expect_status 0
	run pkgretry list -s "$T/other"
	expect_status 0
	expect_output_has "command: pkgdiff verify m src"
	[ -z "$(ls "$T/store")" ]
}

@test "pkgretry: add queues the whole command, every argument intact" {
	run pkgretry add -- pkgdiff verify "$T/m" "$T/src" "a b" $'new\nline' ""
	expect_status 0
	expect_output_has "queued"
	id=$(job_file)
	[[ $id == cmd-* ]]
	run cat "$T/store/retry/$id"
	expect_output_has "pkgdist-retry 1"
	expect_output_has "arg a\\040b"
	expect_output_has "arg new\\012line"
	[ "$(grep -c '^arg' "$T/store/retry/$id")" -eq 7 ]
	run pkgretry list
	expect_status 0
	expect_output_has "$id"
	expect_output_has "'a b'"
	expect_output_has "attempts 0"
}

@test "pkgretry: a due job that succeeds is run once and removed" {
	pkgretry add -- pkgdiff verify "$T/m" "$T/src"
	run pkgretry run
	expect_status 0
	expect_output_has "done (exit 0)"
	[ -z "$(job_file)" ]
	run pkgretry run
	expect_status 0
	[ -z "$output" ]
}

@test "pkgretry: a job runs in the directory it was queued from" {
	mkdir "$T/elsewhere"
	pkgretry add -- pkgdiff verify m src
	cd "$T/elsewhere"
	run pkgretry run
	expect_status 0
	[ -z "$(job_file)" ]
}

@test "pkgretry: a failed job keeps attempts and error; backoff doubles up to the cap" {
	break_tree
	PKGDIST_NOW=1000 pkgretry add -- pkgdiff verify "$T/m" "$T/src"
	id=$(job_file)
	[ "$(field next "$id")" -eq 1000 ]

	PKGDIST_NOW=1000 run pkgretry run
	expect_status 1
	[ "$(field attempts "$id")" -eq 1 ]
	[ "$(field next "$id")" -eq 1060 ]
	[[ $(field error "$id") == *exit\\0401* ]]

	# Not due yet: nothing runs, and nothing due is failing.
	PKGDIST_NOW=1059 run pkgretry run
	expect_status 0
	[ -z "$output" ]
	[ "$(field attempts "$id")" -eq 1 ]

	PKGDIST_NOW=1060 run pkgretry run
	expect_status 1
	[ "$(field attempts "$id")" -eq 2 ]
	[ "$(field next "$id")" -eq 1180 ]

	# --backoff BASE:CAP: 10, 20, then capped at 25.
	PKGDIST_NOW=2000 pkgretry run --backoff 10:25 || true
	[ "$(field next "$id")" -eq $((2000 + 25)) ]
	pkgretry drop "$id"
	PKGDIST_NOW=3000 pkgretry add -- pkgdiff verify "$T/m" "$T/src"
	PKGDIST_NOW=3000 pkgretry run --backoff 10:25 || true
	[ "$(field next "$id")" -eq 3010 ]
	PKGDIST_NOW=3010 pkgretry run --backoff 10:25 || true
	[ "$(field next "$id")" -eq 3030 ]
	PKGDIST_NOW=3030 pkgretry run --backoff 10:25 || true
	[ "$(field next "$id")" -eq 3055 ]

	# --now runs a job that is not due.
	PKGDIST_NOW=3031 run pkgretry run --now --backoff 10:25
	expect_status 1
	[ "$(field attempts "$id")" -eq 4 ]

	# Once the cause is gone the job succeeds and leaves the queue.
	fix_tree
	PKGDIST_NOW=9999 run pkgretry run
	expect_status 0
	[ -z "$(job_file)" ]
}

@test "pkgretry: a job past --max-attempts moves to failed/ with the reason" {
	break_tree
	pkgretry add -- pkgdiff verify "$T/m" "$T/src"
	id=$(job_file)
	pkgretry run --now --max-attempts 3 || true
	pkgretry run --now --max-attempts 3 || true
	[ -f "$T/store/retry/$id" ]
	run pkgretry run --now --max-attempts 3
	expect_status 1
	expect_output_has "moved to failed/"
	[ ! -e "$T/store/retry/$id" ]
	[ -f "$T/store/retry/failed/$id" ]
	expect_file_has "$T/store/retry/failed/$id" "reason gave\\040up\\040after\\0403\\040attempts"
	run pkgretry list
	expect_output_has "FAILED"
	expect_output_has "gave up after 3 attempts"
	# A failed job is never run again.
	fix_tree
	run pkgretry run --now
	expect_status 0
	[ -f "$T/store/retry/failed/$id" ]
	run pkgretry drop "failed/$id"
	expect_status 0
	[ ! -e "$T/store/retry/failed/$id" ]
}

@test "pkgretry: a newer job for the same package and DP replaces the older one" {
	pkgretry add -- pkgpush --inplace --version 1 --only dp1 office97
	pkgretry add -- pkgpush --inplace --version 2 --only dp1 office97
	[ "$(ls "$T/store/retry" | grep -vc '^failed$')" -eq 1 ]
	[ "$(field version office97@dp1)" -eq 2 ]
	expect_file_has "$T/store/retry/office97@dp1" "arg 2"
}

@test "pkgretry: a job whose DP left the DP list moves to failed/ at once, never run" {
	printf 'dp1 g /nonexistent/dp1\n' >"$T/store/dps"
	pkgretry add -- pkgpush --version 1 --only gone office97
	run pkgretry run
	expect_status 1
	expect_output_has "DP 'gone' is no longer in the DP list"
	expect_output_lacks "running"
	[ -f "$T/store/retry/failed/office97@gone" ]
}

@test "pkgretry: a job file owned by another user is refused, not run" {
	need_root
	pkgretry add -- pkgdiff verify "$T/m" "$T/src"
	id=$(job_file)
	chown nobody "$T/store/retry/$id"
	run pkgretry run
	expect_status 2
	expect_output_has "not by the store's owner"
	expect_output_lacks "running"
	[ -f "$T/store/retry/$id" ]
}

# The unprivileged account of the root tests: CI's (.ci/unprivileged
# creates it), else nobody.
unpriv_user()
{
	local u
	for u in "${PKGDIST_CI_USER:-pkgdist-ci}" nobody; do
		if id -u "$u" >/dev/null 2>&1 && [ "$(id -u "$u")" -ne 0 ]; then
			printf '%s\n' "$u"
			return 0
		fi
	done
	return 1
}

# As root: the store and the source belong to account $U.
owned_store()
{
	need_root
	command -v setpriv >/dev/null || skip "setpriv not installed"
	U=$(unpriv_user) || skip "no unprivileged account"
	chmod 0755 "$T"
	chown -R "$U" "$T/store" "$T/src" "$T/m"
}

as_user()
{
	setpriv --reuid="$U" --regid="$(id -g "$U")" --init-groups \
	    env HOME=/ PKGDIST_STORE="$PKGDIST_STORE" "$@"
}

# hand_job ID PACKAGE ARG...: a job file as the store's owner can write
# one, by hand (ids PKG+TOOL do not depend on the arguments).
hand_job()
{
	local id=$1 pkg=$2 a f=$T/store/retry/$1
	shift 2
	{
		printf 'pkgdist-retry 1\nid %s\ncreated 1\nattempts 0\nnext 1\n' "$id"
		printf 'package %s\ndp -\nversion 0\ndir %s\nerror -\n' "$pkg" "$T"
		for a in "$@"; do
			printf 'arg %s\n' "$a"
		done
	} >"$f"
	chown "$U" "$f"
	chmod 0644 "$f"
}

@test "pkgretry: run as root, a job of a store owned by another account carries no option that writes where it chooses (-o, -s elsewhere, export): refused, moved to failed/" {
	owned_store
	as_user pkgretry add -- pkgdiff verify "$T/m" "$T/src" >/dev/null
	rm -f "$T/store/retry/cmd-"*
	mkdir -m 0700 "$T/rootonly" "$T/rootonly/store"
	hand_job a+pkgdiff a pkgdiff scan -o "$T/rootonly/scan" "$T/src"
	hand_job b+pkgstage b pkgstage export b 1 -o "$T/rootonly/pack"
	hand_job c+pkgstage c pkgstage -s "$T/rootonly/store" add c "$T/src"
	hand_job d+pkgstage d pkgstage add --store=/ d "$T/src"
	hand_job e+pkgdiff e pkgdiff scan --out "$T/rootonly/scan" "$T/src"
	hand_job f+pkgpush f pkgpush --serve "$T/rootonly/serve"
	run pkgretry run --now
	expect_status 1
	expect_output_lacks "running"
	expect_output_has "a+pkgdiff: failed for good: cannot succeed: option '-o' is not one a retry job of pkgdiff may carry: refused"
	expect_output_has "b+pkgstage: failed for good: cannot succeed: 'pkgstage export' is not a command a retry job may carry"
	expect_output_has "c+pkgstage: failed for good: cannot succeed: its store '$T/rootonly/store' is not the job's own"
	expect_output_has "d+pkgstage: failed for good: cannot succeed: its store '/' is not the job's own"
	expect_output_has "option '--out' is not one"
	expect_output_has "option '--serve' is not one"
	[ -z "$(ls -A "$T/rootonly/store")" ]
	[ "$(ls -A "$T/rootonly")" = store ]
	for id in a+pkgdiff b+pkgstage c+pkgstage d+pkgstage e+pkgdiff f+pkgpush; do
		[ -f "$T/store/retry/failed/$id" ]
	done
}

@test "pkgretry: run as root, a job of a store owned by another account runs as that account, never as root" {
	owned_store
	mkdir -m 0700 "$T/rootdp"
	mkdir "$T/userdp"
	chown "$U" "$T/userdp"
	printf 'rootdp g %s\nuserdp g %s\n' "$T/rootdp" "$T/userdp" \
	    >"$T/store/dps"
	chown "$U" "$T/store/dps"
	as_user pkgretry add -- pkgstage add office "$T/src" >/dev/null
	as_user pkgretry add -- pkgpush --dp rootdp --version 1 office >/dev/null
	as_user pkgretry add -- pkgpush --dp userdp --version 1 office >/dev/null
	run pkgretry run --now
	expect_status 1
	expect_output_has "office+pkgstage: done"
	expect_output_has "office@userdp: done"
	expect_output_has "office@rootdp: failed"
	expect_output_has "Permission denied"
	# What the jobs wrote is the owner's; nothing reached root's DP.
	[ -z "$(find "$T/store" "$T/userdp" ! -user "$U" -print)" ]
	[ -z "$(ls -A "$T/rootdp")" ]
	[ -f "$T/store/retry/office@rootdp" ]
	# The job root recorded is still the owner's own: its next run
	# (by the owner or by root) takes it up again.
	run as_user pkgretry run --now
	expect_status 1
	expect_output_has "office@rootdp: failed"
	expect_output_has "attempt 2 of"
}

@test "pkgretry: run by an account that is neither root nor the store's owner, no job runs" {
	need_root
	command -v setpriv >/dev/null || skip "setpriv not installed"
	U=$(unpriv_user) || skip "no unprivileged account"
	chmod 0755 "$T"
	pkgretry add -- pkgdiff verify "$T/m" "$T/src" >/dev/null
	chmod -R go+rX "$T/store"
	run as_user pkgretry run --now
	expect_status 2
	expect_output_has "are run by that account or by root, not by uid $(id -u "$U")"
	expect_output_lacks "running"
	[ -n "$(job_file)" ]
}

@test "pkgretry: a job file writable by group or others is refused, not run" {
	pkgretry add -- pkgdiff verify "$T/m" "$T/src"
	id=$(job_file)
	chmod 0666 "$T/store/retry/$id"
	run pkgretry run
	expect_status 2
	expect_output_has "writable by group or others"
	expect_output_lacks "running"
	[ -f "$T/store/retry/$id" ]
}

@test "pkgretry: a retry directory writable by others is refused as a whole" {
	pkgretry add -- pkgdiff verify "$T/m" "$T/src"
	chmod 0777 "$T/store/retry"
	run pkgretry run
	expect_status 2
	expect_output_has "writable by group or others"
	expect_output_lacks "running"
	[ -n "$(job_file)" ]
}

@test "pkgretry: a job naming /bin/sh or a path is refused and nothing runs" {
	run pkgretry add -- /bin/sh -c "touch $T/pwned"
	expect_status 2
	expect_output_has "not a pkgdist tool"
	run pkgretry add -- sh -c "touch $T/pwned"
	expect_status 2
	# Planted by hand: valid in every field but the program.
	mkdir -p "$T/store/retry"
	for prog in /bin/sh sh ../../bin/sh "$PKGDIST_BIN/pkgdiff"; do
		{
			echo "pkgdist-retry 1"
			echo "id x@dp1"
			echo "created 1"
			echo "attempts 0"
			echo "next 1"
			echo "package x"
			echo "dp dp1"
			echo "version 0"
			echo "dir /"
			echo "error -"
			echo "arg $prog"
			echo "arg -c"
			echo "arg touch\\040$T/pwned"
		} >"$T/store/retry/x@dp1"
		run pkgretry run --now
		expect_status 2
		expect_output_has "is not a pkgdist tool"
		[ ! -e "$T/pwned" ]
	done
	run pkgretry list
	expect_status 2
	expect_output_has "refused"
}

@test "pkgretry: the tool is the one beside pkgretry, never one on PATH" {
	mkdir "$T/evil"
	printf '#!/bin/sh\ntouch %s/pwned\nexit 0\n' "$T" >"$T/evil/pkgdiff"
	chmod +x "$T/evil/pkgdiff"
	pkgretry add -- pkgdiff verify "$T/m" "$T/src"
	PATH=$T/evil:$PATH run pkgretry run
	expect_status 0
	[ ! -e "$T/pwned" ]
}

@test "pkgretry: a crash while recording the outcome loses no job" {
	break_tree
	pkgretry add -- pkgdiff verify "$T/m" "$T/src"
	id=$(job_file)
	cp "$T/store/retry/$id" "$T/before"
	# The first rename pkgretry makes is the atomic save of the updated
	# job: a power cut there leaves the job as it was.
	PKGDIST_FAULT=rename:1:crash run pkgretry run
	[ "$status" -ne 0 ]
	cmp "$T/before" "$T/store/retry/$id"
	# And a crash at the removal after success leaves it to run again.
	fix_tree
	PKGDIST_FAULT=unlink:1:crash run pkgretry run
	[ "$status" -ne 0 ]
	[ -f "$T/store/retry/$id" ]
	run pkgretry run
	expect_status 0
	[ -z "$(job_file)" ]
	# No temporary file was left where a job would be looked for.
	run pkgretry list
	expect_status 0
	[ -z "$output" ]
}

@test "pkgretry: concurrent runs never run one job twice" {
	# A failing job is due at time 5000; a run that takes it pushes it
	# to 5060.  However many runs start together at time 5000, exactly
	# one runs it: attempts is then 1.
	break_tree
	head -c 4000000 /dev/urandom >"$T/src/big"
	for round in 1 2 3 4 5 6 7 8; do
		PKGDIST_NOW=5000 pkgretry add -- pkgdiff verify "$T/m" "$T/src"
		id=$(job_file)
		pids=()
		for k in 1 2 3 4; do
			PKGDIST_NOW=5000 pkgretry run >"$T/out.$k" 2>&1 &
			pids+=($!)
		done
		for p in "${pids[@]}"; do wait "$p" || true; done
		[ "$(field attempts "$id")" -eq 1 ] || {
			cat "$T"/out.*; false; }
		[ "$(cat "$T"/out.* | grep -c running)" -eq 1 ]
		pkgretry drop "$id"
	done
}

@test "pkgretry: a job queued again by the command pkgretry runs keeps its count" {
	pkgretry add -- pkgdiff verify "$T/m" "$T/src"
	id=$(job_file)
	cp "$T/store/retry/$id" "$T/before"
	PKGDIST_RETRY_JOB=$id run pkgretry add -- pkgdiff verify "$T/m" "$T/src"
	expect_status 0
	expect_output_has "not queued again"
	cmp "$T/before" "$T/store/retry/$id"
}

@test "pkgretry: drop removes a job; an unknown id is an error" {
	pkgretry add -- pkgdiff verify "$T/m" "$T/src"
	id=$(job_file)
	run pkgretry drop "$id"
	expect_status 0
	[ -z "$(job_file)" ]
	run pkgretry drop "$id"
	expect_status 2
	expect_output_has "no job"
	run pkgretry drop ../../etc/passwd
	expect_status 2
}

@test "pkgretry: files in the retry directory that are not job ids are ignored" {
	printf 'junk\n' >"$T/store/retry-not-a-job"
	mkdir -p "$T/store/retry"
	printf 'junk\n' >"$T/store/retry/README"
	printf 'junk\n' >"$T/store/retry/.tmp-123-1"
	run pkgretry run
	expect_status 0
	run pkgretry list
	expect_status 0
	[ -z "$output" ]
}

# ---- with real pkgstage and pkgpush ----

# Version 1 of office97 on dp1, dp2, dp3 (layout options in "$@").
three_dps()
{
	mkdir -p "$T/pkg/setup" "$T/dp1" "$T/dp2" "$T/dp3"
	for i in 1 2 3 4 5 6 7 8 9 10; do
		printf 'file %d\n' "$i" >"$T/pkg/setup/f$i"
	done
	printf 'read me\n' >"$T/pkg/read me.txt"
	pkgstage add office97 "$T/pkg" >/dev/null
	printf 'dp1 g %s\ndp2 g %s\ndp3 g %s\n' "$T/dp1" "$T/dp2" "$T/dp3" \
	    >"$T/store/dps"
	pkgpush --all "$@" office97
}

# Everything about a DP's files that a write would change.
snapshot()
{
	find "$1" -printf '%i %n %m %s %T@ %C@ %y %p\n' | sort
}

@test "pkgretry: F3: a retry does exactly what the original push would have done for that DP" {
	three_dps --inplace
	printf 'file 3, changed\n' >"$T/pkg/setup/f3"
	pkgstage add office97 "$T/pkg" >/dev/null
	mv "$T/dp2" "$T/dp2.unmounted"
	run pkgpush --refresh-existing --inplace office97
	expect_status 1
	# One job, for dp2, with the whole command narrowed to it.
	[ "$(ls "$T/store/retry" | grep -vc '^failed$')" -eq 1 ]
	f=$T/store/retry/office97@dp2
	[ -f "$f" ]
	expect_file_has "$f" "arg --refresh-existing"
	expect_file_has "$f" "arg --inplace"
	expect_file_has "$f" "version 2"
	run pkgretry list
	expect_output_has "--refresh-existing"
	expect_output_has "--inplace"
	expect_output_has "--only dp2"
	snapshot "$T/dp1" >"$T/dp1.before"
	snapshot "$T/dp3" >"$T/dp3.before"
	# Not back yet: the retry fails and the job stays.
	run pkgretry run --now
	expect_status 1
	[ "$(field attempts office97@dp2)" -eq 1 ]
	mv "$T/dp2.unmounted" "$T/dp2"
	run pkgretry run --now
	expect_status 0
	[ ! -e "$f" ]
	run pkgpush --status office97
	expect_output_has "dp1 office97 2 complete"
	expect_output_has "dp2 office97 2 complete"
	expect_output_has "dp3 office97 2 complete"
	# Same layout as the original command: in place, a plain directory.
	[ -d "$T/dp2/office97" ] && [ ! -L "$T/dp2/office97" ]
	pkgstage show office97 2 >"$T/v2"
	# Same content as version 2 (modes differ: DP files are read-only).
	run pkgdiff verify "$T/v2" "$T/dp2/office97/"
	[ -z "$(printf '%s\n' "$output" | grep -v '^P ')" ]
	# No other DP was touched by the retry.
	snapshot "$T/dp1" | cmp - "$T/dp1.before"
	snapshot "$T/dp3" | cmp - "$T/dp3.before"
}

@test "pkgretry: F3: a retry of an atomic push keeps the atomic layout" {
	three_dps
	printf 'file 3, changed\n' >"$T/pkg/setup/f3"
	pkgstage add office97 "$T/pkg" >/dev/null
	mv "$T/dp3" "$T/dp3.unmounted"
	run pkgpush --refresh-existing office97
	expect_status 1
	mv "$T/dp3.unmounted" "$T/dp3"
	run pkgretry run --now
	expect_status 0
	[ -L "$T/dp3/office97" ]
	run pkgpush --status office97
	expect_output_has "dp3 office97 2 complete"
}

@test "pkgretry: a job for a version the DP already holds or passed is superseded, never run" {
	three_dps
	printf 'file 3, changed\n' >"$T/pkg/setup/f3"
	pkgstage add office97 "$T/pkg" >/dev/null
	mv "$T/dp2" "$T/dp2.unmounted"
	run pkgpush --refresh-existing office97
	expect_status 1
	[ -f "$T/store/retry/office97@dp2" ]
	cp "$T/store/retry/office97@dp2" "$T/job"
	mv "$T/dp2.unmounted" "$T/dp2"
	printf 'file 4, changed\n' >"$T/pkg/setup/f4"
	pkgstage add office97 "$T/pkg" >/dev/null
	pkgpush --dp dp2 office97
	# Whatever pkgpush did with the queue, put the old job back.
	cp "$T/job" "$T/store/retry/office97@dp2"
	snapshot "$T/dp2" >"$T/dp2.before"
	run pkgretry run --now
	expect_status 0
	expect_output_has "superseded"
	expect_output_lacks "running"
	[ ! -e "$T/store/retry/office97@dp2" ]
	[ ! -e "$T/store/retry/failed/office97@dp2" ]
	snapshot "$T/dp2" | cmp - "$T/dp2.before"
}

@test "pkgretry: the retry of a --verify repair runs although the DP holds that version" {
	three_dps --inplace
	chmod u+w "$T/dp1/office97/setup/f3"
	printf 'edited on the DP\n' >"$T/dp1/office97/setup/f3"
	mv "$T/dp1" "$T/dp1.unmounted"
	run pkgpush --verify --dp dp1 office97
	expect_status 1
	expect_file_has "$T/store/retry/office97@dp1" "arg --verify"
	mv "$T/dp1.unmounted" "$T/dp1"
	run pkgretry run --now
	expect_status 0
	expect_output_lacks "superseded"
	expect_output_has "running"
	[ ! -e "$T/store/retry/office97@dp1" ]
	[ "$(cat "$T/dp1/office97/setup/f3")" = "file 3" ]
}

@test "pkgretry: a --verify job for a version the DP has passed is still superseded" {
	three_dps
	mv "$T/dp1" "$T/dp1.unmounted"
	run pkgpush --verify --dp dp1 office97
	expect_status 1
	cp "$T/store/retry/office97@dp1" "$T/job"
	mv "$T/dp1.unmounted" "$T/dp1"
	printf 'file 3, changed\n' >"$T/pkg/setup/f3"
	pkgstage add office97 "$T/pkg" >/dev/null
	pkgpush --dp dp1 office97
	cp "$T/job" "$T/store/retry/office97@dp1"
	run pkgretry run --now
	expect_status 0
	expect_output_has "superseded (dp1 already holds version 2"
	expect_output_lacks "running"
}

@test "pkgretry: an abbreviated --only or --version never reaches a retry job (the job is built from the parsed options)" {
	three_dps
	printf 'file 3, changed\n' >"$T/pkg/setup/f3"
	pkgstage add office97 "$T/pkg" >/dev/null
	mv "$T/dp1" "$T/dp1.unmounted"
	run pkgpush --all --onl dp1 --onl=dp2 --vers 2 --refresh-ex office97
	expect_status 1
	f=$T/store/retry/office97@dp1
	[ -f "$f" ]
	[ ! -e "$T/store/retry/office97@dp2" ]
	# Every option in its full spelling; the target only dp1, version 2.
	run grep '^arg ' "$f"
	[ "$output" = "arg pkgpush
arg --all
arg --refresh-existing
arg --version
arg 2
arg --only
arg dp1
arg --
arg office97" ]
	# dp2 gone meanwhile: the retry touches dp1 alone, and succeeds.
	mv "$T/dp2" "$T/dp2.gone"
	mv "$T/dp1.unmounted" "$T/dp1"
	run pkgretry run --now
	expect_status 0
	expect_output_lacks "dp2"
	mv "$T/dp2.gone" "$T/dp2"
	run pkgpush --status office97
	expect_output_has "dp1 office97 2 complete"
	expect_output_has "dp2 office97 2 complete"
}

@test "pkgretry: a retry's last error is the cause, never a line about the retry itself" {
	three_dps
	printf 'file 3, changed\n' >"$T/pkg/setup/f3"
	pkgstage add office97 "$T/pkg" >/dev/null
	mv "$T/dp2" "$T/dp2.unmounted"
	run pkgpush --dp dp2 office97
	expect_status 1
	expect_output_has "retry queued as 'office97@dp2'"
	run pkgretry run --now
	expect_status 1
	expect_output_lacks "retry queued"
	run pkgretry list
	expect_output_has "last error: pkgpush: dp2: "
	expect_output_has "No such file or directory"
	expect_output_lacks "retry queued"
	run pkgretry run --now --max-attempts 2
	expect_status 1
	[ -f "$T/store/retry/failed/office97@dp2" ]
	run pkgretry list
	expect_output_has "last error: pkgpush: dp2: "
	expect_output_has "No such file or directory"
	expect_output_lacks "retry queued"
}

@test "pkgretry: a push refused for good under pkgretry records the refusal as the last error, not a line about queueing" {
	three_dps
	printf 'file 3, changed\n' >"$T/pkg/setup/f3"
	pkgstage add office97 "$T/pkg" >/dev/null
	pkgretry add -- pkgpush --all --rollback --version 2 --only dp1 office97 >/dev/null
	run pkgretry run --now
	expect_status 1
	expect_output_has "only goes down"
	expect_output_lacks "not queued"
	run pkgretry list
	expect_output_has "last error: pkgpush: dp1: "
	expect_output_has "only goes down"
	expect_output_lacks "queued for retry"
}

@test "pkgretry: a job whose version is gone from the store moves to failed/ at once" {
	three_dps
	pkgretry add -- pkgpush --version 9 --only dp1 office97
	run pkgretry run
	expect_status 1
	expect_output_has "version 9 of 'office97' is no longer in the store"
	expect_output_lacks "running"
	[ -f "$T/store/retry/failed/office97@dp1" ]
	run pkgretry list
	expect_output_has "FAILED"
}

@test "pkgretry: add -- pkgstage add queues a staging step, and run stages it" {
	three_dps
	printf 'file 3, changed\n' >"$T/pkg/setup/f3"
	run pkgretry add -- pkgstage add --version 5 office97 "$T/pkg"
	expect_status 0
	expect_output_has "office97+pkgstage"
	# Version 5 is not in the store yet: that is what the job makes,
	# not a reason to give it up.
	run pkgretry run
	expect_status 0
	pkgstage show office97 5 >/dev/null
	run pkgretry list
	[ -z "$output" ]
}

@test "pkgretry: STORE/retry/config sets max attempts and backoff; the command line wins" {
	break_tree
	PKGDIST_NOW=1000 pkgretry add -- pkgdiff verify "$T/m" "$T/src"
	id=$(job_file)
	printf '# site settings\nmax-attempts 2\nbackoff 5m:1h\n' \
	    >"$T/store/retry/config"
	PKGDIST_NOW=1000 run pkgretry run
	expect_status 1
	[ "$(field next "$id")" -eq 1300 ]
	PKGDIST_NOW=1300 run pkgretry run --backoff 7
	expect_status 1
	expect_output_has "moved to failed/"
	[ -f "$T/store/retry/failed/$id" ]
	# A broken or foreign config stops the run before any job.
	PKGDIST_NOW=1000 pkgretry add -- pkgdiff verify "$T/m" "$T/src"
	printf 'retries 3\n' >"$T/store/retry/config"
	run pkgretry run
	expect_status 2
	expect_output_has "unknown setting 'retries'"
	expect_output_lacks "running"
	printf 'max-attempts 3\n' >"$T/store/retry/config"
	chmod 0666 "$T/store/retry/config"
	run pkgretry run
	expect_status 2
	expect_output_has "refused"
}

@test "pkgretry: a crash at any write, fsync, rename or unlink of a run loses no job and leaves none broken" {
	# pkgdiff verify (the jobs' command) does none of these operations,
	# so every crash point is one of pkgretry's own.
	for outcome in fail succeed; do
		if [ $outcome = fail ]; then break_tree; else fix_tree; fi
		rm -rf "$T/store/retry"
		pkgretry add -- pkgdiff verify "$T/m" "$T/src"
		id=$(job_file)
		cp -a "$T/store/retry" "$T/retry.snap"
		for op in write fsync rename unlink; do
			for n in 1 2 3 4; do
				rm -rf "$T/store/retry"
				cp -a "$T/retry.snap" "$T/store/retry"
				PKGDIST_FAULT=$op:$n:crash pkgretry run --now \
				    >/dev/null 2>&1 || true
				# Every job file left is whole.
				run pkgretry list
				expect_status 0
				if [ $outcome = fail ]; then
					# Not lost: still queued, counted once at most.
					[ -f "$T/store/retry/$id" ]
					a=$(field attempts "$id")
					[ "$a" -eq 0 ] || [ "$a" -eq 1 ]
				fi
				# The next run finishes the work.
				run pkgretry run --now
				[ "$status" -le 1 ]
				if [ $outcome = fail ]; then
					[ "$(field attempts "$id")" -ge 1 ]
				else
					[ ! -e "$T/store/retry/$id" ]
				fi
			done
		done
		rm -rf "$T/retry.snap"
	done
}

@test "pkgretry: a bad option or subcommand is reported as 'pkgretry: ...', exit 2" {
	run pkgretry run --bogus
	expect_status 2
	[ "${lines[0]}" = "pkgretry: unrecognized option '--bogus'" ]
	run pkgretry frob
	expect_status 2
	[ "${lines[0]}" = "pkgretry: 'frob': unknown subcommand" ]
}

@test "pkgretry: list and run show times as pkgstage list does (ISO 8601, local time with its offset)" {
	break_tree
	export PKGDIST_NOW=1700000000
	pkgstage add office "$T/src" >/dev/null
	pkgretry add -- pkgdiff verify "$T/m" "$T/src"
	# A zone east of UTC, written +hh:mm, the same in both tools.
	TZ='<+0530>-5:30' run pkgstage list
	expect_status 0
	expect_output_has "office 1 2 10 2023-11-15T03:43:20+05:30"
	TZ='<+0530>-5:30' run pkgretry list
	expect_status 0
	expect_output_has "next at 2023-11-15T03:43:20+05:30 (due)"
	expect_output_has "queued 2023-11-15T03:43:20+05:30 in "
	# The first retry at +60 s, in the message of the run as well.
	TZ='<-0330>3:30' run pkgretry run
	expect_status 1
	expect_output_has "next at 2023-11-14T18:44:20-03:30 (in 60s)"
	# A server on UTC: Z, as pkgstage list always printed there.
	TZ=UTC0 run pkgstage list office
	expect_output_has "office 1 2 10 2023-11-14T22:13:20Z"
	TZ=UTC0 run pkgretry list
	expect_output_has "next at 2023-11-14T22:14:20Z"
	! grep -Eq '[0-9]{4}-[0-9]{2}-[0-9]{2} [0-9]' <<<"$output" || false
}
