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

@test "pkgdist-update: an invalid package name is refused before any work (nothing hashed, staged or queued), exit 2" {
	install_dir
	for name in "my package" .hidden "a/b" "$(printf 'x%.0s' {1..65})" ""; do
		run "$T/bin/pkgdist-update" "$name" "$T/src"
		expect_status 2
		expect_output_has "invalid package name"
		expect_output_has "nothing queued"
		expect_output_lacks "hashed"
		expect_output_lacks "changes since"
	done
	[ ! -e "$T/store/retry" ]
	[ ! -e "$T/store/packages" ]
	# Nor does pkgretry add queue a command for such a name.
	run "$T/bin/pkgretry" add -- pkgdist-update "my package" "$T/src"
	expect_status 2
	expect_output_has "invalid package name"
	run "$T/bin/pkgretry" add -- pkgpush --dp dp1 "my package"
	expect_status 2
	[ -z "$(ls -A "$T/store/retry" 2>/dev/null | grep -v -e '^failed$' -e '^\.')" ]
}

@test "pkgdist-update: a permission on the store this account will never have is not queued, exit 2" {
	need_root
	command -v setpriv >/dev/null || skip "setpriv not installed"
	install_dir
	pkgstage add office97 "$T/src" >/dev/null
	dps
	pkgpush --all office97
	pkgretry list >/dev/null
	mkdir -p "$T/store/retry/failed" "$T/store/retry/.locks"
	printf 'file 5, changed\n' >"$T/src/setup/f5"
	chmod 0755 "$T"
	chmod -R go+rX "$T/store" "$T/src"
	run setpriv --reuid=nobody --regid="$(id -g nobody)" --clear-groups \
	    env PKGDIST_STORE="$T/store" "$T/bin/pkgdist-update" office97 "$T/src"
	expect_status 2
	expect_output_has "Permission denied"
	expect_output_has "cannot write the store '$T/store': waiting will not help, not queued"
	expect_output_lacks "queued for retry"
	[ -z "$(ls -A "$T/store/retry" | grep -v -e '^failed$' -e '^\.')" ]
}

@test "pkgpush: what waiting cannot cure (a bad name, a version the store lacks, the store's permission) exits 2 and queues nothing" {
	pkgstage add office97 "$T/src" >/dev/null
	dps
	run pkgpush --dp dp1 "my package"
	expect_status 2
	expect_output_has "'my package'"
	run pkgpush --dp dp1 --version 9 office97
	expect_status 2
	expect_output_has "no such version"
	if has_root && command -v setpriv >/dev/null; then
		chmod 0755 "$T"
		chmod -R go+rX "$T/store"
		run setpriv --reuid=nobody --regid="$(id -g nobody)" \
		    --clear-groups env PKGDIST_STORE="$T/store" \
		    "$PKGDIST_BIN/pkgpush" --dp dp1 office97
		expect_status 2
		expect_output_has "Permission denied"
		[ -z "$(ls -A "$T/dp1")" ]
	fi
	[ ! -e "$T/store/retry" ] ||
	    [ -z "$(ls -A "$T/store/retry" | grep -v -e '^failed$' -e '^\.')" ]
}

@test "pkgretry: a job pkgpush queued whose DP left the DP list moves to failed/ at once, unrun" {
	pkgstage add office97 "$T/src" >/dev/null
	dps
	mv "$T/dp2" "$T/dp2.gone"
	run pkgpush --all office97
	expect_status 1
	[ -f "$T/store/retry/office97@dp2" ]
	printf 'dp1 office %s\n' "$T/dp1" >"$T/store/dps"
	mv "$T/dp2.gone" "$T/dp2"
	run pkgretry run
	expect_status 1
	expect_output_has "office97@dp2: failed for good: cannot succeed: DP 'dp2' is no longer in the DP list"
	expect_output_lacks "running"
	[ -f "$T/store/retry/failed/office97@dp2" ]
	[ -z "$(ls -A "$T/dp2")" ]
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
