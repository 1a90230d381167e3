#!/usr/bin/env bats
# A local DP's spare tree.  The tree that goes beyond --keep is not
# removed: it becomes the spare of the new current tree, with only what
# differs from that tree replaced (a file stays only as a link to the
# current tree's file), and the next push starts from the spare instead
# of linking every unchanged file again.

load lib/common
load lib/pkgpush

setup()
{
	common_setup
	# Versions 3 and 4 have the contents of 1 and 2 again: every file
	# that changed comes back to an old content, on a new inode.
	vtree "$T/v1" 1
	vtree "$T/v2" 2
	stage "$T/v1"
	stage "$T/v2"
	stage "$T/v1"
	stage "$T/v2"
	dps dp1
	M=$T/dp1/.pkgdist/office
}

# mirrors SPARE TREE: SPARE holds exactly TREE's names with their types,
# each file a link to TREE's file of the same path.
mirrors()
{
	diff <(cd "$1" && find . -printf '%y %p\n' | sort) \
	    <(cd "$2" && find . -printf '%y %p\n' | sort) &&
	    diff <(cd "$1" && find . -type f -printf '%i %p\n' | sort -k2) \
		<(cd "$2" && find . -type f -printf '%i %p\n' | sort -k2)
}

# whole TREE N: the kept tree TREE is exactly version N.
whole()
{
	pkgstage show office "$2" >"$T/show.$2"
	pkgdiff verify "$T/show.$2" "$1"
}

@test "pkgpush spare: the tree that goes beyond --keep becomes the spare of the new tree, a link to each of its files" {
	pkgpush --dp dp1 --version 1 office >/dev/null
	pkgpush --dp dp1 --version 2 office >/dev/null
	[ ! -e "$M/spare.v2.1" ]
	run pkgpush --dp dp1 --version 3 office
	expect_status 0
	at_version "$T/dp1" 3
	[ ! -e "$M/v1.1" ]
	[ ! -e "$M/v1.1.manifest" ]
	[ -d "$M/spare.v3.1" ]
	# Version 3 has version 1's contents, but its changed files are new
	# inodes: the spare holds those, not version 1's own.
	mirrors "$M/spare.v3.1" "$M/v3.1"
	whole "$M/v2.1" 2
	no_debris "$T/dp1"
}

@test "pkgpush spare: the next push starts from the spare, keeps unchanged files' inodes and ends exactly at the new version" {
	pkgpush --dp dp1 --version 1 office >/dev/null
	pkgpush --dp dp1 --version 2 office >/dev/null
	pkgpush --dp dp1 --version 3 office >/dev/null
	spare=$(stat -c %i "$M/spare.v3.1")
	same=$(stat -c %i "$T/dp1/office/sub/same.bin")
	run pkgpush --dp dp1 --version 4 office
	expect_status 0
	expect_output_has "dp1: office 3 -> 4:"
	at_version "$T/dp1" 4
	[ "$(stat -c %i "$M/v4.1")" = "$spare" ]
	[ "$(stat -c %i "$T/dp1/office/sub/same.bin")" = "$same" ]
	whole "$M/v3.1" 3
	# Version 2's tree went the same way.
	[ ! -e "$M/v2.1" ]
	mirrors "$M/spare.v4.1" "$M/v4.1"
	no_debris "$T/dp1"
}

@test "pkgpush spare: with --keep 1 the tree just left becomes the spare at once" {
	pkgpush --keep 1 --dp dp1 --version 1 office >/dev/null
	run pkgpush --keep 1 --dp dp1 --version 2 office
	expect_status 0
	at_version "$T/dp1" 2
	[ ! -e "$M/v1.1" ]
	mirrors "$M/spare.v2.1" "$M/v2.1"
	spare=$(stat -c %i "$M/spare.v2.1")
	run pkgpush --keep 1 --dp dp1 --version 3 office
	expect_status 0
	at_version "$T/dp1" 3
	[ "$(stat -c %i "$M/v3.1")" = "$spare" ]
	[ "$(cd "$M" && ls -d v*.* | grep -cv manifest)" = 1 ]
	mirrors "$M/spare.v3.1" "$M/v3.1"
}

@test "pkgpush spare: what was planted or replaced in the tree beyond --keep does not reach the spare or the DP" {
	pkgpush --dp dp1 --version 1 office >/dev/null
	pkgpush --dp dp1 --version 2 office >/dev/null
	# The directories only: the files are the current tree's too.
	find "$M/v1.1" -type d -exec chmod u+w {} +
	echo planted >"$M/v1.1/sub/planted"
	mkdir "$M/v1.1/only1/planted dir"
	# A copy where a link was: the same content, mode and mtime.
	cp -p "$M/v1.1/same.txt" "$T/copy"
	rm "$M/v1.1/same.txt"
	mv "$T/copy" "$M/v1.1/same.txt"
	# A directory where a file was, a file where a link was.
	rm "$M/v1.1/f5" "$M/v1.1/link"
	mkdir "$M/v1.1/f5"
	echo x >"$M/v1.1/link"
	same=$(stat -c %i "$T/dp1/office/same.txt")
	run pkgpush --dp dp1 --version 3 office
	expect_status 0
	at_version "$T/dp1" 3
	mirrors "$M/spare.v3.1" "$M/v3.1"
	[ "$(stat -c %i "$T/dp1/office/same.txt")" = "$same" ]
	run pkgpush --dp dp1 --version 4 office
	expect_status 0
	at_version "$T/dp1" 4
	[ "$(stat -c %i "$T/dp1/office/same.txt")" = "$same" ]
	[ ! -e "$T/dp1/office/sub/planted" ]
	no_debris "$T/dp1"
}

@test "pkgpush spare: a spare missing entries is still used; what is missing is made" {
	pkgpush --dp dp1 --version 1 office >/dev/null
	pkgpush --dp dp1 --version 2 office >/dev/null
	pkgpush --dp dp1 --version 3 office >/dev/null
	spare=$(stat -c %i "$M/spare.v3.1")
	rm -r "$M/spare.v3.1/sub/deeper" "$M/spare.v3.1/f7" \
	    "$M/spare.v3.1/link"
	run pkgpush --dp dp1 --version 4 office
	expect_status 0
	at_version "$T/dp1" 4
	[ "$(stat -c %i "$M/v4.1")" = "$spare" ]
	[ -d "$T/dp1/office/sub/deeper" ]
}

@test "pkgpush spare: a spare of an older tree is not used, and goes" {
	pkgpush --dp dp1 --version 1 office >/dev/null
	pkgpush --dp dp1 --version 2 office >/dev/null
	pkgpush --dp dp1 --version 3 office >/dev/null
	# As if left by a push that never got to say so: spare.v2.1 is not
	# the current tree's.
	mv "$M/spare.v3.1" "$M/spare.v2.1"
	run pkgpush --dp dp1 --version 4 office
	expect_status 0
	at_version "$T/dp1" 4
	[ ! -e "$M/spare.v2.1" ]
	mirrors "$M/spare.v4.1" "$M/v4.1"
}

@test "pkgpush spare: a failing operation while the spare is made never fails the push it follows, and the next push completes" {
	pkgpush --dp dp1 --version 1 office >/dev/null
	pkgpush --dp dp1 --version 2 office >/dev/null
	cp -a "$T/dp1" "$T/dp1.at2"
	local n op spareless=0
	for op in unlink link fsync rename mkdir; do
		for n in 1 2 3 4 5 6 8 10 14 20 30 40 60; do
			rm -rf "$T/dp1"
			cp -a "$T/dp1.at2" "$T/dp1"
			PKGDIST_FAULT=$op:$n:EIO run pkgpush --dp dp1 --version 3 \
			    office
			case $status in
			0)
				at_version "$T/dp1" 3
				[ -e "$M/spare.v3.1" ] || spareless=$((spareless + 1))
				;;
			# A DP's failure, or the store's record (exit 2).
			1 | 2) at_version "$T/dp1" 2 || at_version "$T/dp1" 3 ;;
			*) echo "status $status: $output" >&2; return 1 ;;
			esac
			# Whatever happened, no tree beyond --keep is left after a
			# push that succeeded, and the next push finishes the job.
			[ ! -e "$M/v1.1" ] || [ "$status" != 0 ]
			run pkgpush --dp dp1 --version 4 office
			expect_status 0
			at_version "$T/dp1" 4
			no_debris "$T/dp1"
		done
	done
	# Some of those faults hit the spare's making: the push succeeded
	# without a spare.
	[ "$spareless" -gt 0 ]
}
