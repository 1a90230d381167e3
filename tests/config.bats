#!/usr/bin/env bats
# STORE/config, the site settings: every tool that opens the store reads
# it and refuses a malformed line naming the file and line; the ssh,
# remote-pkgpush and ssh-timeout lines reach a remote DP (a real sshd on
# loopback) with no environment, as a retry run from cron has; the
# environment overrides them, and pkgpush says when a retry will not
# see an override; bwlimit lines are checked.

load lib/common
load lib/sshd
load lib/pkgpush

setup()
{
	common_setup
	staged_versions 1 2
	mkdir -p "$T/dp1"
	printf 'dp1 near %s\n' "$T/dp1" >"$PKGDIST_STORE/dps"
}

# remote_dps: r1 (ssh://, PKGDIST_SSH has the port) beside dp1.
remote_dps()
{
	sshd_need
	mkdir -p "$T/rdp"
	printf 'r1 far ssh://%s%s\ndp1 near %s\n' "$SSHD_HOST" "$T/rdp" \
	    "$T/dp1" >"$PKGDIST_STORE/dps"
}

# config_from_env: STORE/config saying what the sshd harness put in
# the environment.
config_from_env()
{
	printf '# the site settings\nssh %s\nremote-pkgpush %s\nssh-timeout 20\n' \
	    "$PKGDIST_SSH" "$PKGDIST_REMOTE_PKGPUSH" >"$PKGDIST_STORE/config"
}

# bare CMD...: CMD with an environment as cron gives it (no PKGDIST_*).
bare()
{
	env -i PATH="$PKGDIST_BIN:/usr/bin:/bin" HOME="$T" PKGDIST_PROGRESS=0 \
	    "$@"
}

@test "config: a malformed line is refused by every tool that opens the store, naming the file and line (exit 2)" {
	printf '# fine\nssh ssh -i /k\nbwlimit dp1 4X\n' >"$PKGDIST_STORE/config"
	want="$PKGDIST_STORE/config:3: bwlimit: '4X' is not a rate"
	run pkgstage list
	expect_status 2
	expect_output_has "$want"
	run pkgstage add office "$T/v1"
	expect_status 2
	expect_output_has "$want"
	run pkgpush --dp dp1 office
	expect_status 2
	expect_output_has "$want"
	[ -z "$(ls -A "$T/dp1")" ]
	run pkgpush --status
	expect_status 2
	expect_output_has "$want"
	run "$PKGDIST_SRC/scripts/pkgdist-update" -s "$PKGDIST_STORE" --dp dp1 \
	    office "$T/v2"
	expect_status 2
	expect_output_has "$want"
	run "$PKGDIST_SRC/scripts/pkgdist-cron"
	expect_status 2
	expect_output_has "$want"
	# Fixed, everything works again.
	printf '# fine\nssh ssh -i /k\nbwlimit dp1 4K\n' >"$PKGDIST_STORE/config"
	run pkgpush --dp dp1 office
	expect_status 0
	at_version "$T/dp1" 2
}

@test "config: an unknown setting, a repeated ssh line and a CRLF line end are refused with file and line" {
	printf 'ssh ssh\nssh-key /k\n' >"$PKGDIST_STORE/config"
	run pkgpush --status
	expect_status 2
	expect_output_has "config:2: unknown setting 'ssh-key'"
	printf 'ssh ssh\n\nssh ssh -4\n' >"$PKGDIST_STORE/config"
	run pkgstage list
	expect_status 2
	expect_output_has "config:3: ssh already set on line 1"
	printf 'mount dp1\r\n' >"$PKGDIST_STORE/config"
	run pkgstage list
	expect_status 2
	expect_output_has "config:1: control character in line ('\\r'"
	# A '#' starts a comment only at the start of a line.
	printf '  # comment\nmount dp1 # not a comment\n' >"$PKGDIST_STORE/config"
	run pkgstage list
	expect_status 2
	expect_output_has "config:2: mount: give one NAME or GROUP"
}

@test "config: the ssh and remote-pkgpush lines reach a remote DP with no environment at all" {
	remote_dps
	config_from_env
	run bare pkgpush -s "$PKGDIST_STORE" --dp r1 --version 1 office
	expect_status 0
	expect_output_has "r1: office - -> 1:"
	at_version "$T/rdp" 1
	run bare pkgpush -s "$PKGDIST_STORE" --status office
	expect_output_has "r1 office 1 complete"
	# Without the file, plain ssh cannot log in (no key): the DP fails.
	rm "$PKGDIST_STORE/config"
	run bare pkgpush -s "$PKGDIST_STORE" --dp r1 --version 2 office
	expect_status 1
	at_version "$T/rdp" 1
}

@test "config: a retry of a remote DP run from cron (no environment) uses STORE/config and succeeds" {
	remote_dps
	config_from_env
	# The first push fails: the remote DP's directory is not there.
	rmdir "$T/rdp"
	run pkgpush --dp r1 office
	expect_status 1
	expect_output_has "retry queued as 'office@r1'"
	# The settings are in the file: nothing to warn about.
	expect_output_lacks "add the line"
	mkdir "$T/rdp"
	run bare pkgretry -s "$PKGDIST_STORE" run --now
	expect_status 0
	at_version "$T/rdp" 2
	[ ! -e "$PKGDIST_STORE/retry/office@r1" ]
}

@test "config: a retry queued while PKGDIST_SSH overrides STORE/config: pkgpush names the line to add" {
	remote_dps
	rmdir "$T/rdp"
	run pkgpush --dp r1 --dp dp1 office
	expect_status 1
	expect_output_has "retry queued as 'office@r1'"
	expect_output_has "r1: the retry will not see \$PKGDIST_SSH but the settings of '$PKGDIST_STORE/config': add the line 'ssh $PKGDIST_SSH' there"
	expect_output_has "add the line 'remote-pkgpush $PKGDIST_REMOTE_PKGPUSH' there"
	# Said once per command, not once per DP.
	[ "$(printf '%s\n' "$output" | grep -c 'PKGDIST_SSH but')" -eq 1 ]
	# From cron the retry fails (plain ssh, no key) ...
	mkdir "$T/rdp"
	run bare pkgretry -s "$PKGDIST_STORE" run --now
	expect_status 1
	# ... and works once the line is added, as the message says.
	config_from_env
	run bare pkgretry -s "$PKGDIST_STORE" run --now
	expect_status 0
	at_version "$T/rdp" 2
}

@test "config: PKGDIST_SSH and PKGDIST_REMOTE_PKGPUSH override their lines" {
	remote_dps
	printf 'ssh /nonexistent/ssh\nremote-pkgpush /nonexistent/pkgpush\n' \
	    >"$PKGDIST_STORE/config"
	run pkgpush --dp r1 --version 1 office
	expect_status 0
	at_version "$T/rdp" 1
	# Without the variables the file's (broken) settings are used.
	run env -u PKGDIST_SSH pkgpush --dp r1 --version 2 office
	expect_status 1
	expect_output_has "/nonexistent/ssh"
	run env -u PKGDIST_REMOTE_PKGPUSH pkgpush --dp r1 --version 2 office
	expect_status 1
	at_version "$T/rdp" 1
}

@test "config: bwlimit lines are checked before any DP is touched" {
	printf 'bwlimit * 4M\nbwlimit branch 512K 22:00-06:00\nbwlimit dp1 1G\n' \
	    >"$PKGDIST_STORE/config"
	run pkgpush --dp dp1 office
	expect_status 0
	for bad in 'bwlimit dp1 1M 08:00-08:00' 'bwlimit dp1 1M 8:00-9:00' \
	    'bwlimit * 0' 'bwlimit dp1 1T' 'bwlimit dp1' \
	    "$(printf 'bwlimit dp1 1M\nbwlimit dp1 2M')"; do
		printf '%s\n' "$bad" >"$PKGDIST_STORE/config"
		run pkgpush --dp dp1 office
		expect_status 2
		expect_output_has "$PKGDIST_STORE/config:"
	done
}

@test "config: pkgretry run with a malformed STORE/config stops (exit 2) before any job runs; the jobs keep their attempts" {
	mv "$T/dp1" "$T/dp1.gone"
	run pkgpush --dp dp1 office
	expect_status 1
	mv "$T/dp1.gone" "$T/dp1"
	cp "$PKGDIST_STORE/retry/office@dp1" "$T/job.before"
	printf 'mount\n' >"$PKGDIST_STORE/config"
	run pkgretry run --now
	expect_status 2
	expect_output_has "$PKGDIST_STORE/config:1: mount: give one NAME or GROUP"
	cmp "$T/job.before" "$PKGDIST_STORE/retry/office@dp1"
	[ -z "$(ls -A "$T/dp1")" ]
	rm "$PKGDIST_STORE/config"
	run pkgretry run --now
	expect_status 0
	at_version "$T/dp1" 2
}
