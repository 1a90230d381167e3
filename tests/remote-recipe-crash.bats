#!/usr/bin/env bats
# The far side killed (SIGKILL, as a power cut) while it rebuilds a large
# file from a recipe: the DP goes on serving its old version whole, the
# old copy the recipe reads is untouched, and the next push completes
# exactly, again by a recipe.  Real sshd on 127.0.0.1; the crash is the
# fault hook's (fault.h) on the remote pkgpush.

load lib/common
load lib/sshd
load lib/pkgpush

bats_require_minimum_version 1.5.0

# The size of big_tree's big.img.
BIG=$((16 * MIB))

setup()
{
	common_setup
	sshd_need
	mkdir -p "$T/rdp"
	big_tree "$T/src"
	find "$T/src" -type f -exec chmod 0444 {} +
	export PKGDIST_REMOTE_STATS=$T/stats
	export PKGDIST_SSH_TIMEOUT=30
}

teardown()
{
	common_teardown
}

# stat_of FIELD: FIELD of the last line of the stats file.
stat_of()
{
	tail -n 1 "$T/stats" | awk -v f="$1" '{ for (i = 2; i < NF; i++) if ($i == f) print $(i + 1) }'
}

# partial_rebuild [MIN]: a file of the new version being rebuilt, more
# than MIN bytes (default 0) made and not finished (in the new tree, or
# the remote's .incoming copy).
partial_rebuild()
{
	local f s
	while IFS= read -r f; do
		s=$(stat -c %s "$f")
		[ "$s" -gt "${1:-0}" ] && [ "$s" -lt "$BIG" ] && return 0
	done < <(find "$T/rdp/.pkgdist" \( -path '*/tmp.*/big.img' \
	    -o -path '*/.incoming/tmp.*' \) -type f 2>/dev/null)
	return 1
}

# crash_at N: the remote pkgpush killed at its Nth write; the push
# fails and the DP still holds version 1, whole, its old copy intact.
crash_at()
{
	PKGDIST_REMOTE_PKGPUSH="PKGDIST_FAULT=write:$1:crash $PKGDIST_BIN/pkgpush" \
	    run pkgpush --dp r1 office
	[ "$status" -ne 0 ] || {
		echo "write $1: the push ended without a crash" >&2
		return 1
	}
	at_version "$T/rdp" 1 &&
	    [ "$(readlink "$T/rdp/office")" = "$OLD" ] &&
	    [ "$(sha256sum <"$T/rdp/office/big.img")" = "$BEFORE" ]
}

@test "pkgpush ssh: the remote killed while it rebuilds a large file from a recipe leaves the DP at its old version whole; the next push is exact" {
	pkgstage add office "$T/src" >/dev/null
	printf 'r1 far ssh://%s:%s%s\n' "$SSHD_HOST" "$SSHD_PORT" "$T/rdp" \
	    >"$PKGDIST_STORE/dps"
	run pkgpush --dp r1 office
	expect_status 0
	OLD=$(readlink "$T/rdp/office")
	BEFORE=$(sha256sum <"$T/rdp/office/big.img")
	# 1% changed in two places: the rebuild copies most of the file
	# from the old copy, in many writes, around two insertions.
	chmod u+w "$T/src/big.img"
	head -c 83886 /dev/urandom | dd of="$T/src/big.img" bs=4096 \
	    seek=$((4 * MIB)) oflag=seek_bytes conv=notrunc status=none
	head -c 83886 /dev/urandom | dd of="$T/src/big.img" bs=4096 \
	    seek=$((12 * MIB)) oflag=seek_bytes conv=notrunc status=none
	chmod 0444 "$T/src/big.img"
	pkgstage add office "$T/src" >/dev/null
	# The remote dies at its Nth write, N rising, until a crash lands
	# in the rebuild (every crash point before it checked too) ...
	local n first=
	for n in $(seq 1 40); do
		crash_at "$n"
		if partial_rebuild; then
			first=$n
			break
		fi
	done
	[ -n "$first" ] || { echo "no crash landed in the rebuild" >&2; false; }
	# ... then in its middle: past the first insertion (at 4 MiB), the
	# copies of the old copy going in writes of at most 256 KiB.
	crash_at $((first + BIG / 2 / (256 << 10)))
	partial_rebuild $((4 * MIB)) || {
		find "$T/rdp/.pkgdist" -type f -printf '%p %s\n' >&2
		false
	}
	run pkgpush --status office
	expect_output_has "r1 office 1"
	# The next push: exact, and still a recipe (the old copy is whole).
	run pkgpush --dp r1 office
	expect_status 0
	at_version "$T/rdp" 2
	cmp "$T/src/big.img" "$T/rdp/office/big.img"
	[ "$(stat_of recipes)" -eq 1 ]
	[ "$(stat_of sent)" -lt $((BIG / 4)) ]
	no_debris "$T/rdp"
	run pkgpush --status office
	expect_output_has "r1 office 2 complete"
}
