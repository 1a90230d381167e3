#!/usr/bin/env bats
# A large file that changes a little crosses to a remote DP as a recipe
# (copy these ranges of your old copy, insert these chunks): bytes sent
# about the changed bytes, the DP's file exact, its old tree untouched;
# a drifted old copy, a compressed file and a file shrinking below the
# threshold go whole; and a remote or a site of the release before
# protocol 3 (built here from this repository's history) still works.
# Real sshd on 127.0.0.1 (tests/lib/sshd.bash); bytes as pkgpush counts
# them on the connection (PKGDIST_REMOTE_STATS, "sent").

load lib/common
load lib/sshd
load lib/pkgpush

bats_require_minimum_version 1.5.0

setup()
{
	common_setup
	sshd_need
	mkdir -p "$T/src" "$T/rdp"
	head -c $((16 * MIB)) /dev/urandom >"$T/src/big.img"
	for i in 1 2 3 4 5; do echo "small $i" >"$T/src/s$i"; done
	export PKGDIST_REMOTE_STATS=$T/stats
	export PKGDIST_SSH_TIMEOUT=30
}

# modes: the source's files read-only, as a DP holds them, so that the
# DP's manifest is the store's (at_version).
modes()
{
	find "$T/src" -type f -exec chmod 0444 {} +
}

# first_push: version 1 staged and on r1.
first_push()
{
	modes
	pkgstage add office "$T/src" >/dev/null
	printf 'r1 far %s\n' "$(sshd_url "$T/rdp")" >"$PKGDIST_STORE/dps"
	run pkgpush --dp r1 office
	expect_status 0
}

# refresh: stage the source as the next version, push it to r1, and
# check the DP holds it exactly.
refresh()
{
	local v
	modes
	v=$(pkgstage add office "$T/src")
	run pkgpush --dp r1 office
	expect_status 0
	at_version "$T/rdp" "$v"
}

@test "pkgpush ssh: 1% of a 16 MiB file changed in one place: sent about the changed bytes, as a recipe" {
	first_push
	overwrite "$T/src/big.img" $((8 * MIB)) 167772
	refresh
	[ "$(stat_of recipes)" -eq 1 ]
	sent=$(stat_of sent)
	echo "sent $sent for 167772 changed" >&2
	[ "$sent" -lt $((167772 * 13 / 10 + 65536)) ]
	[ "$(stat_of saved)" -gt $((15 * MIB)) ]
	expect_output_has "bytes not sent (chunks the DP had)"
}

@test "pkgpush ssh: a refresh that changes most small files (the manifest goes whole) still sends the large file as a recipe, also against the version a rollback left" {
	first_push
	for i in 1 2 3 4 5; do
		chmod u+w "$T/src/s$i"
		echo "changed $i" >"$T/src/s$i"
	done
	overwrite "$T/src/big.img" $((8 * MIB)) 167772
	refresh
	[ "$(stat_of manifest)" = whole ]
	[ "$(stat_of recipes)" -eq 1 ]
	[ "$(stat_of sent)" -lt $((2 * MIB)) ]
	# Rolled back to 1, the DP gets version 3 by a recipe against 1.
	flock "$T/rdp/.pkgdist/.lock" true
	run pkgpush --dp r1 --rollback --version 1 office
	expect_status 0
	flock "$T/rdp/.pkgdist/.lock" true
	overwrite "$T/src/big.img" $((4 * MIB)) 100000
	refresh
	[ "$(stat_of manifest)" = whole ]
	[ "$(stat_of recipes)" -eq 1 ]
}

@test "pkgpush ssh: 30 scattered 4 KiB edits: sent a small part of the file; the old tree clients read is untouched" {
	first_push
	old=$(readlink "$T/rdp/office")
	before=$(sha256sum <"$T/rdp/office/big.img")
	for i in $(seq 1 30); do
		overwrite "$T/src/big.img" $((i * 500000)) 4096
	done
	refresh
	[ "$(stat_of recipes)" -eq 1 ]
	sent=$(stat_of sent)
	echo "sent $sent for 122880 changed" >&2
	[ "$sent" -lt $((30 * 40000)) ]
	[ "$(sha256sum <"$T/rdp/$old/big.img")" = "$before" ] ||
	    [ "$(sha256sum <"$T/rdp/.pkgdist/office/${old##*/}/big.img")" = "$before" ]
}

@test "pkgpush ssh --inplace: the recipe reads the old file the new one replaces" {
	modes
	pkgstage add office "$T/src" >/dev/null
	printf 'r1 far %s\n' "$(sshd_url "$T/rdp")" >"$PKGDIST_STORE/dps"
	run pkgpush --inplace --dp r1 office
	expect_status 0
	[ -d "$T/rdp/office" ] && [ ! -L "$T/rdp/office" ]
	overwrite "$T/src/big.img" $((4 * MIB)) 100000
	refresh
	[ "$(stat_of recipes)" -eq 1 ]
	[ "$(stat_of sent)" -lt $((400 * 1024)) ]
	cmp "$T/src/big.img" "$T/rdp/office/big.img"
}

@test "pkgpush ssh: bytes inserted at the start move only the cuts near them" {
	first_push
	chmod u+w "$T/src/big.img"
	{ head -c 1000 /dev/urandom; cat "$T/src/big.img"; } >"$T/big.new"
	mv "$T/big.new" "$T/src/big.img"
	refresh
	[ "$(stat_of recipes)" -eq 1 ]
	[ "$(stat_of sent)" -lt $((200 * 1024)) ]
}

@test "pkgpush ssh: an old copy edited on the DP (drifted) fails the recipe's check; the file is asked for whole and ends exact" {
	first_push
	old=$(readlink "$T/rdp/office")
	f=$T/rdp/.pkgdist/office/${old##*/}/big.img
	[ -f "$f" ] || f=$T/rdp/$old/big.img
	chmod u+w "$f"
	head -c 4096 /dev/urandom | dd of="$f" bs=4096 seek=100 conv=notrunc status=none
	overwrite "$T/src/big.img" $((8 * MIB)) 65536
	refresh
	[ "$(stat_of recipes)" -eq 1 ]
	[ "$(stat_of sent)" -gt $((16 * MIB)) ]
	[ "$(stat_of saved)" -eq 0 ]
}

@test "pkgpush ssh: a compressed file (few chunks in common) goes whole, no recipe" {
	rm "$T/src/big.img"
	seq 1 3000000 >"$T/text"
	gzip -1 -c "$T/text" >"$T/src/big.gz"
	first_push
	sed -i '1s/^1$/one/' "$T/text"
	# A new file in its place: first_push made the tree's files read-only,
	# which stops an unprivileged owner writing into them.
	gzip -1 -c "$T/text" >"$T/big.gz"
	mv -f "$T/big.gz" "$T/src/big.gz"
	refresh
	[ "$(stat_of recipes)" -eq 0 ]
	[ "$(stat_of contents)" -eq 1 ]
}

@test "pkgpush ssh: a file that shrinks below the threshold goes whole" {
	first_push
	chmod u+w "$T/src/big.img"
	head -c 500000 "$T/src/big.img" >"$T/small"
	mv "$T/small" "$T/src/big.img"
	refresh
	[ "$(stat_of recipes)" -eq 0 ]
	[ "$(stat_of contents)" -eq 1 ]
}

@test "pkgstage gc: removes the temporary of a chunk index that a killed push left in objects/" {
	first_push
	overwrite "$T/src/big.img" $((8 * MIB)) 65536
	modes
	pkgstage add office "$T/src" >/dev/null
	# As in a store an earlier release wrote: no index, so the push
	# builds and caches them (an atomic write: temporary, rename).
	find "$PKGDIST_STORE/objects" -name '*.k' -delete
	left=
	for n in 1 2 3 4 5 6 7 8; do
		PKGDIST_FAULT=rename:$n:crash run pkgpush --dp r1 office
		left=$(find "$PKGDIST_STORE/objects" -name '.*.tmp-*')
		[ -z "$left" ] || break
	done
	echo "left by the crash: $left" >&2
	[ -n "$left" ]
	run pkgstage gc
	expect_status 0
	[ -z "$(find "$PKGDIST_STORE/objects" -name '.*.tmp-*')" ]
	[ "$(find "$PKGDIST_STORE/objects" -type f ! -name '*.k' | wc -l)" -eq 7 ]
	run pkgstage fsck
	expect_status 0
}

# old_release: the tools of the last commit speaking protocol 2, built
# once from this repository's history into $BATS_FILE_TMPDIR/old.
old_release()
{
	local root c
	root=$(cd "$BATS_TEST_DIRNAME/.." && pwd)
	OLD=$BATS_FILE_TMPDIR/old
	[ -x "$OLD/build/bin/pkgpush" ] && return 0
	command -v git >/dev/null && git -C "$root" rev-parse --git-dir \
	    >/dev/null 2>&1 || skip "needs this repository's git history"
	c=$(git -C "$root" log -1 --format=%H -S'#define PROTO_VERSION 3' \
	    -- common/proto.h)
	[ -n "$c" ] && git -C "$root" rev-parse -q --verify "$c^" >/dev/null ||
	    skip "this history does not hold the release before protocol 3"
	mkdir -p "$OLD"
	git -C "$root" archive "$c^" | tar -x -C "$OLD"
	make -s -C "$OLD" all >/dev/null 2>&1 ||
	    { echo "cannot build the release before protocol 3" >&2; return 1; }
}

@test "pkgpush ssh: a remote running the release before protocol 3 gets whole contents" {
	old_release
	first_push
	overwrite "$T/src/big.img" $((8 * MIB)) 65536
	modes
	v=$(pkgstage add office "$T/src")
	PKGDIST_REMOTE_PKGPUSH=$OLD/build/bin/pkgpush run pkgpush --dp r1 office
	expect_status 0
	expect_output_lacks "version mismatch"
	at_version "$T/rdp" "$v"
	[ "$(stat_of recipes)" -eq 0 ]
	[ "$(stat_of sent)" -gt $((16 * MIB)) ]
	PKGDIST_REMOTE_PKGPUSH=$OLD/build/bin/pkgpush run pkgpush --status office
	expect_status 0
	expect_output_has "r1 office $v complete"
}

@test "pkgpush ssh: a site running the release before protocol 3 refreshes a remote of this one" {
	old_release
	first_push
	overwrite "$T/src/big.img" $((8 * MIB)) 65536
	modes
	v=$("$OLD/build/bin/pkgstage" add office "$T/src")
	run "$OLD/build/bin/pkgpush" --dp r1 office
	expect_status 0
	at_version "$T/rdp" "$v"
}
