#!/usr/bin/env bats
# Refreshing a remote DP quickly without giving up a guarantee: the work
# pkgpush --serve does after its reply (a spare of the new tree for the
# next push, old trees removed), and what the next push checks before it
# trusts that spare.  Real sshd on 127.0.0.1 (tests/lib/sshd.bash).

load lib/common
load lib/sshd
load lib/pkgpush

setup_file()
{
	sshd_start
}

teardown_file()
{
	sshd_stop
}

setup()
{
	common_setup
	sshd_need
	vtree "$T/v1" 1
	vtree "$T/v2" 2
	vtree "$T/v3" 3
	stage "$T/v1"
	stage "$T/v2"
	stage "$T/v3"
	mkdir -p "$T/rdp"
	printf 'r1 far ssh://%s:%s%s\n' "$SSHD_HOST" "$SSHD_PORT" \
	    "$T/rdp" >"$PKGDIST_STORE/dps"
	export PKGDIST_REMOTE_STATS=$T/stats
	export PKGDIST_SSH_TIMEOUT=20
	P=$T/rdp/.pkgdist/office
}

teardown()
{
	common_teardown
}

# idle: wait until the remote is done with the DP (its lock is free).
idle()
{
	flock "$T/rdp/.pkgdist/.lock" true
}

stat_of()
{
	tail -n 1 "$T/stats" | awk -v f="$1" '{ for (i = 2; i < NF; i++) if ($i == f) print $(i + 1) }'
}

@test "remote: after its reply the remote prepares a spare of the new tree (links to its files); the next refresh starts from it and ends exactly at the new version" {
	pkgpush --dp r1 --version 1 office
	idle
	[ -d "$P/spare.v1.1" ]
	[ "$(stat -c %i "$P/spare.v1.1/sub/same.bin")" = \
	    "$(stat -c %i "$P/v1.1/sub/same.bin")" ]
	ino=$(stat -c %i "$T/rdp/office/sub/same.bin")
	spare=$(stat -c %i "$P/spare.v1.1")
	run pkgpush --dp r1 --version 2 office
	expect_status 0
	expect_output_has "r1: office 1 -> 2:"
	at_version "$T/rdp" 2
	[ "$(stat -c %i "$T/rdp/office/sub/same.bin")" = "$ino" ]
	# The spare became the new tree.
	[ "$(stat -c %i "$P/v2.1")" = "$spare" ]
	# The old version is whole for the clients still reading it.
	pkgstage show office 1 >"$T/m1"
	pkgdiff verify "$T/m1" "$P/v1.1"
	idle
	no_debris "$T/rdp"
	[ -d "$P/spare.v2.1" ]
	[ ! -e "$P/spare.v1.1" ]
	run pkgpush --dp r1 office
	expect_status 0
	at_version "$T/rdp" 3
}

@test "remote: a spare holding a planted file or missing an entry is not used; the DP ends exactly at the new version" {
	pkgpush --dp r1 --version 1 office
	idle
	chmod u+w "$P/spare.v1.1/sub"
	echo planted >"$P/spare.v1.1/sub/planted"
	spare=$(stat -c %i "$P/spare.v1.1")
	run pkgpush --dp r1 --version 2 office
	expect_status 0
	at_version "$T/rdp" 2
	[ ! -e "$T/rdp/office/sub/planted" ]
	[ "$(stat -c %i "$P/v2.1")" != "$spare" ]
	idle
	chmod u+w "$P/spare.v2.1/sub/deeper"
	rm "$P/spare.v2.1/sub/deeper/leaf"
	spare=$(stat -c %i "$P/spare.v2.1")
	run pkgpush --dp r1 --version 3 office
	expect_status 0
	at_version "$T/rdp" 3
	[ "$(stat -c %i "$P/v3.1")" != "$spare" ]
	idle
	no_debris "$T/rdp"
}

@test "remote: a file of the spare that no longer matches its manifest is sent again, not kept" {
	pkgpush --dp r1 --version 1 office
	idle
	# same.txt is the same in every version: kept from the spare unless
	# it has drifted (a new mtime here, on the inode both trees share).
	touch -d @1500000000 "$P/spare.v1.1/same.txt"
	run pkgpush --dp r1 --version 2 office
	expect_status 0
	at_version "$T/rdp" 2
	grep -q "same.txt" <(pkgstage show office 2)
	[ "$(cat "$T/rdp/office/same.txt")" = "same in every version" ]
	# Sent again: the changed files of version 2 plus same.txt.
	n=$(pkgdiff diff <(pkgstage show office 1) <(pkgstage show office 2) |
	    awk '$1 ~ /^[AM]$/ && $2 == "f"' | wc -l)
	[ "$n" -gt 0 ]
	[ "$(stat_of contents)" -eq $((n + 1)) ]
}

@test "remote: trees beyond --keep are removed after the reply, under the DP's lock" {
	pkgpush --dp r1 --version 1 office
	pkgpush --dp r1 --version 2 office
	pkgpush --dp r1 --version 3 office
	idle
	[ ! -e "$P/v1.1" ]
	[ ! -e "$P/v1.1.manifest" ]
	[ -d "$P/v2.1" ]
	[ -d "$P/v3.1" ]
	at_version "$T/rdp" 3
}

@test "remote: a half-built spare left by a crash is removed, and the refresh is whole" {
	pkgpush --dp r1 --version 1 office
	idle
	mv "$P/spare.v1.1" "$P/tmp.spare.v1.1"
	rm -f "$P/tmp.spare.v1.1/f1"
	run pkgpush --dp r1 --version 2 office
	expect_status 0
	at_version "$T/rdp" 2
	idle
	no_debris "$T/rdp"
}
