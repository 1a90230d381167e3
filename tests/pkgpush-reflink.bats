#!/usr/bin/env bats
# pkgpush, local DPs on a file system that shares extents (XFS with
# reflink=1): a changed large file is made by cloning the blocks it has
# in common with the DP's old copy, only the changed bytes are written,
# the old copy stays as it was, and the report says what was written
# and what was shared.  Where nothing can be shared (ext4, tmpfs) the
# same push writes the file whole.  The file systems are images on loop
# devices: root, losetup and mkfs.xfs are needed, else the tests skip.

load lib/common
load lib/pkgpush

BIG=$((32 << 20))
# Bytes written beyond a change: two largest chunks and two blocks.
SLACK=$((2 * (128 << 10) + 2 * 4096))

setup()
{
	common_setup
	LOOPDEVS=()
	mkdir -p "$T/src"
	head -c "$BIG" /dev/urandom >"$T/src/big"
	printf 'small\n' >"$T/src/small"
	# The modes a DP shows (read-only), so pkgdiff verify is clean.
	chmod 0444 "$T/src/big" "$T/src/small"
	chmod 0755 "$T/src"
	stage "$T/src"
}

# Unmount first, then detach: even when the test failed halfway.
teardown()
{
	local i
	for ((i = ${#COMMON_MOUNTS[@]} - 1; i >= 0; i--)); do
		umount "${COMMON_MOUNTS[i]}" 2>/dev/null ||
		    umount -l "${COMMON_MOUNTS[i]}" 2>/dev/null || true
	done
	COMMON_MOUNTS=()
	for i in "${LOOPDEVS[@]}"; do
		losetup -d "$i" 2>/dev/null || true
	done
	common_teardown
}

# mount_image xfs|ext4 DIR: a new file system of that type in an image
# under $T (XFS with reflink=1), on a loop device, mounted on DIR.
mount_image()
{
	local fs=$1 dir=$2 img=$T/$1.img dev
	need_root
	need_cmd losetup "mkfs.$fs"
	[ -e /dev/loop-control ] || skip "no loop devices here"
	case $fs in
	xfs)
		truncate -s 320M "$img"
		mkfs.xfs -q -m reflink=1 "$img" >/dev/null 2>&1 ||
		    skip "mkfs.xfs cannot make a file system with reflink=1"
		;;
	*)
		truncate -s 160M "$img"
		"mkfs.$fs" -q -F "$img" >/dev/null 2>&1 ||
		    skip "mkfs.$fs cannot make a file system"
		;;
	esac
	dev=$(losetup -f --show "$img" 2>/dev/null) ||
	    skip "cannot attach a loop device"
	LOOPDEVS+=("$dev")
	mkdir -p "$dir"
	mount "$dev" "$dir" 2>/dev/null || skip "cannot mount a loop device"
	COMMON_MOUNTS+=("$dir")
}

# overwrite FILE OFFSET LENGTH: LENGTH random bytes at OFFSET, in place.
overwrite()
{
	dd if=/dev/urandom of="$1" bs=1M seek="$2" count="$3" \
	    iflag=count_bytes oflag=seek_bytes conv=notrunc status=none
}

# push_report DP...: pkgpush to those DPs (the DP list says where);
# CONTENT and SHARED get the numbers of its report line.
push_report()
{
	run pkgpush "$@" office
	expect_status 0
	[[ "$output" =~ \(([0-9]+)\ content ]] || {
		echo "no content count in: $output" >&2
		return 1
	}
	CONTENT=${BASH_REMATCH[1]}
	SHARED=0
	if [[ "$output" =~ ([0-9]+)\ bytes\ shared\ with\ the\ old\ copies ]]; then
		SHARED=${BASH_REMATCH[1]}
	fi
}

# shared_extents FILE: filefrag counts an extent of FILE that is shared.
shared_extents()
{
	filefrag -v "$1" | grep -q shared || {
		filefrag -v "$1" >&2
		return 1
	}
}

@test "pkgpush: on XFS with reflink, a 1% change to a 32 MiB file writes about the changed bytes and shares the rest with the old copy, which stays as it was" {
	mount_image xfs "$T/xfs"
	need_cmd filefrag
	printf 'dp1 g %s\n' "$T/xfs/dp1" >"$PKGDIST_STORE/dps"
	mkdir -p "$T/xfs/dp1"
	pkgpush --dp dp1 office >/dev/null
	cp "$T/src/big" "$T/v1"
	# 1% in the middle, starting inside a block: the blocks it touches
	# are written, the others shared.
	local change=$((BIG / 100))
	overwrite "$T/src/big" $((BIG / 2 + 1000)) "$change"
	stage "$T/src"
	push_report --dp dp1
	expect_output_has "1 changed"
	# Written: the change, a block's ragged end either side, and what
	# the recipe could not narrow (the cuts near an edit move: at most
	# a largest chunk, 128 KiB, either side); the rest shared.
	[ "$CONTENT" -ge "$change" ] && [ "$CONTENT" -le $((change + SLACK)) ] ||
	    { echo "content written: $CONTENT (change $change)" >&2; false; }
	[ $((CONTENT + SHARED)) -eq "$BIG" ] ||
	    { echo "written $CONTENT + shared $SHARED != $BIG" >&2; false; }
	at_version "$T/xfs/dp1" 2
	cmp "$T/src/big" "$T/xfs/dp1/office/big"
	# The old tree (kept for a rollback) still holds version 1 whole.
	cmp "$T/v1" "$T/xfs/dp1/.pkgdist/office/v1.1/big"
	shared_extents "$T/xfs/dp1/office/big"
	shared_extents "$T/xfs/dp1/.pkgdist/office/v1.1/big"
	# --json says the same.
	overwrite "$T/src/big" 4096 4096
	stage "$T/src"
	run pkgpush --json --dp dp1 office
	expect_status 0
	[[ "$output" == *'"bytes_shared":'* ]]
	[[ "$output" =~ \"bytes_shared\":([0-9]+) ]] &&
	    [ "${BASH_REMATCH[1]}" -ge $((BIG - SLACK)) ]
	cmp "$T/src/big" "$T/xfs/dp1/office/big"
}

@test "pkgpush --inplace: on XFS with reflink, the changed file shares the old one's blocks; the replaced file's bytes never change" {
	mount_image xfs "$T/xfs"
	need_cmd filefrag
	printf 'dp1 g %s\n' "$T/xfs/dp1" >"$PKGDIST_STORE/dps"
	mkdir -p "$T/xfs/dp1"
	pkgpush --inplace --dp dp1 office >/dev/null
	cp "$T/src/big" "$T/v1"
	# A second name for the old inode: what a client holding it open
	# would read.
	ln "$T/xfs/dp1/office/big" "$T/xfs/held"
	overwrite "$T/src/big" 123456 $((BIG / 100))
	stage "$T/src"
	push_report --dp dp1
	[ "$CONTENT" -le $((BIG / 100 + SLACK)) ] ||
	    { echo "content written: $CONTENT" >&2; false; }
	[ $((CONTENT + SHARED)) -eq "$BIG" ]
	at_version "$T/xfs/dp1" 2
	cmp "$T/v1" "$T/xfs/held"
	shared_extents "$T/xfs/dp1/office/big"
}

@test "pkgpush: on XFS, copies shifted by an insertion of a part of a block cannot be cloned: their bytes are written, the file exact" {
	mount_image xfs "$T/xfs"
	printf 'dp1 g %s\n' "$T/xfs/dp1" >"$PKGDIST_STORE/dps"
	mkdir -p "$T/xfs/dp1"
	pkgpush --dp dp1 office >/dev/null
	# 100 bytes inserted at 24 MiB: what follows moves by 100 bytes,
	# and only the first 24 MiB are at the same offsets modulo a block.
	local at=$((24 << 20))
	{
		head -c "$at" "$T/src/big"
		head -c 100 /dev/urandom
		tail -c +$((at + 1)) "$T/src/big"
	} >"$T/new"
	chmod 0444 "$T/new"
	mv "$T/new" "$T/src/big"
	stage "$T/src"
	push_report --dp dp1
	[ "$SHARED" -ge $((at - SLACK)) ] && [ "$SHARED" -le "$at" ] ||
	    { echo "shared: $SHARED" >&2; false; }
	[ $((CONTENT + SHARED)) -eq $((BIG + 100)) ]
	at_version "$T/xfs/dp1" 2
	cmp "$T/src/big" "$T/xfs/dp1/office/big"
}

@test "pkgpush: on XFS, an old copy edited on the share is caught by the whole-file check and the file is written whole" {
	mount_image xfs "$T/xfs"
	printf 'dp1 g %s\n' "$T/xfs/dp1" >"$PKGDIST_STORE/dps"
	mkdir -p "$T/xfs/dp1"
	pkgpush --dp dp1 office >/dev/null
	# Drift where the new version has the old bytes: a clone would
	# carry it into the new file.
	overwrite "$T/xfs/dp1/office/big" $((4 << 20)) 10
	overwrite "$T/src/big" $((BIG / 2)) 4096
	stage "$T/src"
	push_report --dp dp1
	[ "$CONTENT" -eq "$BIG" ] && [ "$SHARED" -eq 0 ] ||
	    { echo "written $CONTENT, shared $SHARED" >&2; false; }
	at_version "$T/xfs/dp1" 2
	cmp "$T/src/big" "$T/xfs/dp1/office/big"
}

@test "pkgpush: on ext4 and tmpfs, which share no extents, the same refresh writes the file whole and says so" {
	mount_image ext4 "$T/ext4"
	mount_tmpfs "$T/tmpfs" 100m
	mkdir -p "$T/ext4/dp1" "$T/tmpfs/dp2"
	printf 'dp1 g %s\ndp2 g %s\n' "$T/ext4/dp1" "$T/tmpfs/dp2" \
	    >"$PKGDIST_STORE/dps"
	pkgpush --all office >/dev/null
	overwrite "$T/src/big" $((BIG / 2 + 1000)) $((BIG / 100))
	stage "$T/src"
	local dp
	for dp in dp1 dp2; do
		push_report --dp $dp
		[ "$CONTENT" -eq "$BIG" ] && [ "$SHARED" -eq 0 ] ||
		    { echo "$dp: written $CONTENT, shared $SHARED" >&2; false; }
		expect_output_lacks "shared"
	done
	run pkgpush --json --all office
	expect_status 0
	[[ "$output" == *'"bytes_shared":0'* ]]
	at_version "$T/ext4/dp1" 2
	at_version "$T/tmpfs/dp2" 2
	cmp "$T/src/big" "$T/ext4/dp1/office/big"
	cmp "$T/src/big" "$T/tmpfs/dp2/office/big"
}
