#!/usr/bin/env bats
# pkgpush killed at every operation (the fault hook's crash, a SIGKILL as
# a power cut would be): the DP is left exactly at the old or the new
# version (atomic) or with every file old or new (in place), and the next
# push finishes the job with no debris left.

load lib/common
load lib/pkgpush

setup()
{
	common_setup
	staged_versions 1 2 4
	dps dp1
}

# crash_each LAYOUTFLAGS CHECK: crash pkgpush at every operation of a
# refresh from version 1 to 2; after each crash CHECK the DP, then a
# plain push must finish it at version 2 with no debris.
crash_each()
{
	local flags=$1 check=$2 n total
	rm -rf "$T/dp1"
	mkdir "$T/dp1"
	pkgpush $flags --dp dp1 --version 1 office >/dev/null
	cp -a "$T/dp1" "$T/dp1.v1"
	PKGDIST_FAULT_COUNT=$T/count pkgpush $flags --dp dp1 --version 2 \
	    office >/dev/null
	total=$(awk '$1 == "any" { print $2 }' "$T/count")
	[ -n "$total" ] || total=$(awk '{ s += $2 } END { print s }' "$T/count")
	[ "$total" -gt 10 ]
	for ((n = 1; n <= total; n++)); do
		rm -rf "$T/dp1"
		cp -a "$T/dp1.v1" "$T/dp1"
		rm -rf "$PKGDIST_STORE/retry"
		PKGDIST_FAULT=any:$n:crash pkgpush $flags --dp dp1 --version 2 \
		    office >/dev/null 2>&1 || true
		$check "$T/dp1" || { echo "after a crash at operation $n" >&2; return 1; }
		pkgpush $flags --dp dp1 --version 2 office >/dev/null ||
		    { echo "recovery after crash $n failed" >&2; return 1; }
		at_version "$T/dp1" 2 ||
		    { echo "after recovery from crash $n" >&2; return 1; }
		no_debris "$T/dp1" || return 1
	done
	echo "# crashed at $total operations" >&3
}

old_or_new_whole()
{
	at_version "$1" 1 2>/dev/null || at_version "$1" 2
}

@test "pkgpush: a crash at any operation of an atomic push leaves the DP exactly old or new" {
	crash_each "" old_or_new_whole
}

@test "pkgpush: a crash at any operation of an in-place push leaves every file old or new" {
	crash_each --inplace each_old_or_new
}
