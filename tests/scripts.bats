#!/usr/bin/env bats
# scripts/pkgdist-update and scripts/pkgdist-cron: the chain of tools.

load lib/common

UPDATE=$PKGDIST_SRC/scripts/pkgdist-update
CRON=$PKGDIST_SRC/scripts/pkgdist-cron

setup()
{
	common_setup
	mkdir -p "$T/src/setup" "$T/dp1" "$T/dp2"
	i=1
	while [ $i -le 20 ]; do
		printf 'file %d\n' $i >"$T/src/setup/f$i"
		i=$((i + 1))
	done
	printf 'read me\n' >"$T/src/read me.txt"
}

# A DP list of dp1 and dp2 (after pkgstage made the store).
dps()
{
	printf 'dp1 office %s\ndp2 office %s\n' "$T/dp1" "$T/dp2" >"$T/store/dps"
}

# An install directory: the tools and the scripts side by side, as
# make install leaves them (copies: pkgretry finds its tools through
# /proc/self/exe, which names the real file).
install_dir()
{
	mkdir -p "$T/bin"
	for t in pkgdiff pkgstage pkgpush pkgretry; do
		cp "$PKGDIST_BIN/$t" "$T/bin/"
	done
	cp "$UPDATE" "$CRON" "$T/bin/"
}

@test "pkgdist-update: -h prints usage and exits 0; bad usage exits 2" {
	run sh "$UPDATE" -h
	expect_status 0
	expect_output_has "usage: pkgdist-update"
	run sh "$UPDATE" office97
	expect_status 2
	run sh "$UPDATE" --bogus office97 "$T/src"
	expect_status 2
	run sh "$UPDATE" office97 "$T/no such dir"
	expect_status 2
}

@test "pkgdist-cron: -h prints usage and exits 0; bad usage exits 2" {
	run sh "$CRON" -h
	expect_status 0
	expect_output_has "usage: pkgdist-cron"
	run sh "$CRON" --bogus
	expect_status 2
}

@test "pkgdist-update: stages the tree and pushes it to the DPs named" {
	pkgstage add office97 "$T/src" >/dev/null
	dps
	printf 'file 5, changed\n' >"$T/src/setup/f5"
	run sh "$UPDATE" office97 "$T/src" --all
	expect_status 0
	expect_output_has "staged 'office97' version 2"
	run pkgpush --status office97
	expect_output_has "dp1 office97 2 complete"
	expect_output_has "dp2 office97 2 complete"
}

@test "pkgdist-update: shows what changed and pushes only to DPs that hold the package" {
	pkgstage add office97 "$T/src" >/dev/null
	dps
	pkgpush --dp dp1 office97
	ino=$(stat -L -c %i "$T/dp1/office97/setup/f1")
	printf 'file 5, changed\n' >"$T/src/setup/f5"
	run sh "$UPDATE" office97 "$T/src"
	expect_status 0
	expect_output_has "staged 'office97' version 2"
	run pkgpush --status office97
	expect_output_has "dp1 office97 2 complete"
	expect_output_lacks "dp2 office97 2"
	[ ! -e "$T/dp2/office97" ]
	# Only the changed file was written.
	[ "$(stat -L -c %i "$T/dp1/office97/setup/f1")" = "$ino" ]
	grep -qx 'file 5, changed' "$T/dp1/office97/setup/f5"
}

@test "pkgdist-update: an unchanged tree stages nothing" {
	pkgstage add office97 "$T/src" >/dev/null
	dps
	pkgpush --all office97
	run sh "$UPDATE" office97 "$T/src"
	expect_status 0
	expect_output_has "nothing to stage"
	run pkgstage show office97 2
	[ "$status" -ne 0 ]
}

@test "pkgdist-update: a failed staging queues the whole update, which pkgretry runs later" {
	install_dir
	pkgstage add office97 "$T/src" >/dev/null
	dps
	pkgpush --all --inplace office97
	printf 'file 5, changed\n' >"$T/src/setup/f5"
	# Staging fails: an I/O error at pkgstage's first mkdir (no other
	# step of the update makes a directory once the queue exists).
	mkdir -p "$T/store/retry/failed" "$T/store/retry/.locks"
	cd "$T"
	PKGDIST_FAULT=mkdir:1:EIO run "$T/bin/pkgdist-update" office97 src \
	    --inplace
	expect_output_has "Input/output error"
	[ "$status" -ne 0 ]
	expect_output_has "queued for retry"
	run "$T/bin/pkgretry" list
	expect_output_has "office97+pkgdist-update"
	expect_output_has "command: pkgdist-update office97 src --inplace"
	# From elsewhere, later: the job runs where it was queued.
	cd /
	run "$T/bin/pkgretry" run --now
	expect_status 0
	run pkgpush --status office97
	expect_output_has "dp1 office97 2 complete"
	expect_output_has "dp2 office97 2 complete"
	run "$T/bin/pkgretry" list
	[ -z "$output" ]
}

@test "pkgdist-cron: quiet when every DP is complete and matches its version" {
	install_dir
	pkgstage add office97 "$T/src" >/dev/null
	dps
	pkgpush --all office97
	run "$T/bin/pkgdist-cron"
	expect_status 0
	[ -z "$output" ]
}

@test "pkgdist-cron: reports a DP whose files drifted from the version it holds" {
	install_dir
	pkgstage add office97 "$T/src" >/dev/null
	dps
	pkgpush --all office97
	printf 'planted\n' >"$T/dp2/office97/planted.txt"
	run "$T/bin/pkgdist-cron"
	expect_status 1
	expect_output_has "dp2: office97: drift from version 1"
	expect_output_has "planted.txt"
	expect_output_lacks "dp1:"
}

@test "pkgdist-cron: runs the retry jobs that are due" {
	install_dir
	pkgstage add office97 "$T/src" >/dev/null
	dps
	pkgpush --all office97
	printf 'file 5, changed\n' >"$T/src/setup/f5"
	pkgstage add office97 "$T/src" >/dev/null
	mv "$T/dp2" "$T/dp2.away"
	run pkgpush --refresh-existing office97
	expect_status 1
	mv "$T/dp2.away" "$T/dp2"
	run "$T/bin/pkgdist-cron"
	expect_status 0
	expect_output_has "office97@dp2: done"
	run pkgpush --status office97
	expect_output_has "dp2 office97 2 complete"
}

@test "pkgdist-cron: reports a DP that cannot be reached, and its retry failing" {
	install_dir
	pkgstage add office97 "$T/src" >/dev/null
	dps
	pkgpush --all office97
	printf 'file 5, changed\n' >"$T/src/setup/f5"
	pkgstage add office97 "$T/src" >/dev/null
	mv "$T/dp2" "$T/dp2.away"
	run pkgpush --refresh-existing office97
	expect_status 1
	run "$T/bin/pkgdist-cron"
	expect_status 1
	expect_output_has "office97@dp2: failed"
	expect_output_has "pkgdist-cron: dp2: office97:"
	expect_output_lacks "pkgdist-cron: dp1"
}

@test "pkgdist-update: a queued update is done once staged; a DP still down keeps its own job" {
	install_dir
	pkgstage add office97 "$T/src" >/dev/null
	dps
	pkgpush --all office97
	printf 'file 5, changed\n' >"$T/src/setup/f5"
	mkdir -p "$T/store/retry/failed" "$T/store/retry/.locks"
	PKGDIST_FAULT=mkdir:1:EIO run "$T/bin/pkgdist-update" office97 "$T/src"
	[ "$status" -ne 0 ]
	mv "$T/dp2" "$T/dp2.away"
	run "$T/bin/pkgretry" run --now
	expect_status 0
	expect_output_has "office97+pkgdist-update: done"
	run "$T/bin/pkgretry" list
	expect_output_lacks "office97+pkgdist-update"
	expect_output_has "office97@dp2"
	expect_output_has "--version 2 --only dp2"
	mv "$T/dp2.away" "$T/dp2"
	run "$T/bin/pkgretry" run --now
	expect_status 0
	run pkgpush --status office97
	expect_output_has "dp2 office97 2 complete"
}
