#!/usr/bin/env bats
# Refreshing a remote DP quickly without giving up a guarantee: the work
# pkgpush --serve does after its reply (a spare of the new tree for the
# next push, old trees removed), and what the next push checks before it
# trusts that spare.  Real sshd on 127.0.0.1 (tests/lib/sshd.bash).

load lib/common
load lib/sshd
load lib/pkgpush

setup()
{
	common_setup
	sshd_need
	# A few files change from one version to the next, as in a
	# refresh: a change list is much shorter than the manifest.
	vtree "$T/v1" 1 40
	small_change "$T/v1" "$T/v2" 2
	small_change "$T/v2" "$T/v3" 3
	stage "$T/v1"
	stage "$T/v2"
	stage "$T/v3"
	mkdir -p "$T/rdp"
	printf 'r1 far %s\n' "$(sshd_url "$T/rdp")" >"$PKGDIST_STORE/dps"
	export PKGDIST_REMOTE_STATS=$T/stats
	export PKGDIST_SSH_TIMEOUT=20
	P=$T/rdp/.pkgdist/office
}

# small_change OLD NEW N: NEW is OLD with f<N> changed, f<N+10> gone,
# new<N> and sub/deeper/leaf new or changed.
small_change()
{
	cp -a "$1" "$2"
	chmod -R u+w "$2"
	printf 'version %s file %s\n' "$3" "$3" >"$2/f$3"
	rm "$2/f$(($3 + 10))"
	printf 'new in %s\n' "$3" >"$2/new$3"
	printf 'version %s deep\n' "$3" >"$2/sub/deeper/leaf"
	find "$2" -type f -exec chmod 0444 {} +
	find "$2" -type d -exec chmod 0755 {} +
	touch -d @1600000000 "$2/sub"
}

# idle: wait until the remote is done with the DP (its lock is free).
idle()
{
	flock "$T/rdp/.pkgdist/.lock" true
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
	# The spare became the new tree, and only the changes were sent.
	[ "$(stat -c %i "$P/v2.1")" = "$spare" ]
	[ "$(stat_of spare)" = 1 ]
	[ "$(stat_of manifest)" = changes ]
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

@test "remote: the work after the reply runs at the lowest CPU priority, holding the DP's lock until it is done" {
	PKGDIST_REMOTE_PKGPUSH="PKGDIST_FAULT_SLOW=link:100 $PKGDIST_BIN/pkgpush" \
	    pkgpush --dp r1 --version 1 office
	# The reply came; the spare's links (100 ms each) are still being made.
	pid=
	for p in $(pgrep -f -- "--serve.*$T/rdp"); do
		[ "$(ps -o comm= -p "$p")" != pkgpush ] || pid=$p
	done
	[ -n "$pid" ]
	[ "$(ps -o ni= -p "$pid" | tr -d ' ')" = 19 ]
	run flock -n "$T/rdp/.pkgdist/.lock" true
	expect_status 1
	idle
	[ -d "$P/spare.v1.1" ]
	no_debris "$T/rdp"
}

@test "remote: a spare holding a planted file is not used; one missing an entry is, and the entry is made; the DP ends exactly at each version" {
	pkgpush --dp r1 --version 1 office
	idle
	chmod u+w "$P/spare.v1.1/sub"
	echo planted >"$P/spare.v1.1/sub/planted"
	run pkgpush --dp r1 --version 2 office
	expect_status 0
	at_version "$T/rdp" 2
	[ ! -e "$T/rdp/office/sub/planted" ]
	[ "$(stat_of spare)" = 0 ]
	idle
	chmod u+w "$P/spare.v2.1/sub/deeper" "$P/spare.v2.1"
	rm "$P/spare.v2.1/sub/deeper/leaf" "$P/spare.v2.1/same.txt"
	run pkgpush --dp r1 --version 3 office
	expect_status 0
	at_version "$T/rdp" 3
	[ "$(stat_of spare)" = 1 ]
	idle
	no_debris "$T/rdp"
}

@test "remote: a spare with a directory or a link where its manifest has a file is not used; the DP ends exactly at the new version" {
	pkgpush --dp r1 --version 1 office
	idle
	chmod u+w "$P/spare.v1.1"
	rm "$P/spare.v1.1/f20"
	mkdir "$P/spare.v1.1/f20"
	run pkgpush --dp r1 --version 2 office
	expect_status 0
	at_version "$T/rdp" 2
	[ "$(stat_of spare)" = 0 ]
	idle
	chmod u+w "$P/spare.v2.1"
	rm "$P/spare.v2.1/f21"
	ln -s f1 "$P/spare.v2.1/f21"
	run pkgpush --dp r1 --version 3 office
	expect_status 0
	at_version "$T/rdp" 3
	[ "$(stat_of spare)" = 0 ]
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

# holds DP VERSION: make the store's record say the DP holds VERSION.
holds()
{
	local f=$PKGDIST_STORE/packages/office/holdings
	[ -f "$f" ] || f=$(find "$PKGDIST_STORE" -name holdings | head -n 1)
	sed -i "s/^$1 [0-9]* [0-9]* /$1 $2 $2 /" "$f"
}

@test "remote: a refresh sends the change list from the version the DP holds, not the whole manifest" {
	pkgpush --dp r1 --version 1 office
	stat_of manifest | grep -qx whole
	whole=$(stat_of sent)
	idle
	run pkgpush --dp r1 --version 2 office
	expect_status 0
	at_version "$T/rdp" 2
	[ "$(stat_of manifest)" = changes ]
	# The state the DP records is the same as after a whole manifest.
	run pkgpush --status office
	expect_output_has "r1 office 2 complete"
	idle
	run pkgpush --dp r1 --version 3 office
	expect_status 0
	at_version "$T/rdp" 3
	[ "$(stat_of manifest)" = changes ]
	[ "$whole" -gt 0 ]
}

@test "remote: a DP that does not hold the version the store records gets the whole manifest and ends exactly at the new version" {
	pkgpush --dp r1 --version 1 office
	idle
	# The store believes r1 holds 2; it holds 1.
	holds r1 2
	grep -q "^r1 2 2 " "$(find "$PKGDIST_STORE" -name holdings | head -n 1)"
	run pkgpush --dp r1 --version 3 office
	expect_status 0
	at_version "$T/rdp" 3
	[ "$(stat_of manifest)" = fallback ]
}

@test "remote: without the DP's version in the store, the whole manifest is sent" {
	pkgpush --dp r1 --version 1 office
	idle
	# The store's record names a version it never had.
	holds r1 9
	run pkgpush --dp r1 --version 2 office
	expect_status 0
	at_version "$T/rdp" 2
	[ "$(stat_of manifest)" = whole ]
}

@test "remote: a change list that does not give the announced manifest is refused; the DP stays at its old version whole" {
	pkgpush --dp r1 --version 1 office
	idle
	snapshot_before=$(find "$T/rdp" -printf '%i %p\n' | sort)
	PKGDIST_TEST_DROP_CHANGE=1 run pkgpush --dp r1 --version 2 office
	expect_status 1
	expect_output_has "does not give the manifest it announced"
	expect_output_has "retry queued as 'office@r1'"
	at_version "$T/rdp" 1
	idle
	no_debris "$T/rdp"
	[ "$(find "$T/rdp" -printf '%i %p\n' | grep -v '/state$' | sort)" = \
	    "$(echo "$snapshot_before" | grep -v '/state$')" ]
	# The retry, with a faithful client, finishes the job.
	run pkgretry run --now
	expect_status 0
	at_version "$T/rdp" 2
}

@test "remote: --verify sends the whole manifest, not a change list from the DP's record" {
	pkgpush --dp r1 --version 1 office
	idle
	run pkgpush --dp r1 --verify --version 2 office
	expect_status 0
	at_version "$T/rdp" 2
	[ "$(stat_of manifest)" = whole ]
}
