#!/usr/bin/env bats
# pkgpush: targets, layouts, changed files only, state, retries, rollback,
# symbolic links planted on a DP.

load lib/common
load lib/pkgpush

setup()
{
	common_setup
	staged_versions 1 2
	dps dp1 dp2 dp3
}

@test "pkgpush: usage errors exit 2 and -h prints usage" {
	run pkgpush -h
	expect_status 0
	expect_output_has "usage: pkgpush"
	run pkgpush --bogus office
	expect_status 2
	expect_output_has "usage: pkgpush"
	run pkgpush --dp dp1
	expect_status 2
}

@test "pkgpush --where: a DP's TARGET from the DP list, unescaped, any bytes; an unknown DP exits 2" {
	mkdir -p "$T/a b"$'\n'"c"
	printf 'odd g %s/a\\040b\\012c\nfar g ssh://pkg@far.example.org/srv/dp\n' \
	    "$T" >>"$PKGDIST_STORE/dps"
	got=$(pkgpush --where odd && echo x)
	[ "$got" = "$T/a b"$'\n'"c"$'\n'x ]
	run pkgpush --where far
	expect_status 0
	[ "$output" = "ssh://pkg@far.example.org/srv/dp" ]
	run pkgpush --where dp1
	[ "$output" = "$T/dp1" ]
	run pkgpush --where nosuch
	expect_status 2
	expect_output_has "'nosuch': no such DP in"
	run pkgpush --where dp1 office
	expect_status 2
}

@test "pkgpush: an unknown DP, group or no target exits 2 and touches nothing" {
	listing "$T/dp1" >"$T/before"
	run pkgpush --dp nosuch office
	expect_status 2
	expect_output_has "unknown DP 'nosuch'"
	run pkgpush --group nosuch --dp dp1 office
	expect_status 2
	expect_output_has "unknown group 'nosuch'"
	run pkgpush office
	expect_status 2
	expect_output_has "no target"
	run pkgpush --dp dp1 nosuchpkg
	expect_status 2
	listing "$T/dp1" >"$T/after"
	diff "$T/before" "$T/after"
	[ ! -e "$T/dp1/.pkgdist" ]
}

@test "pkgpush: a malformed DP list is refused naming file and line" {
	printf 'dp1 g %s\nbad line\n' "$T/dp1" >"$PKGDIST_STORE/dps"
	run pkgpush --dp dp1 office
	expect_status 2
	expect_output_has "dps:2:"
	printf 'dp1 g %s\ndp1 h %s\n' "$T/dp1" "$T/dp2" >"$PKGDIST_STORE/dps"
	run pkgpush --dp dp1 office
	expect_status 2
	expect_output_has "dps:2:"
	expect_output_has "already defined on line 1"
}

@test "pkgpush: atomic first push makes DP/PKG a link to a complete tree" {
	run pkgpush --dp dp1 --version 1 office
	expect_status 0
	expect_output_has "dp1: office - -> 1:"
	[ -L "$T/dp1/office" ]
	[[ "$(readlink "$T/dp1/office")" == .pkgdist/office/v1.* ]]
	at_version "$T/dp1" 1
	expect_file_has "$T/dp1/.pkgdist/office/state" "state complete"
}

@test "pkgpush: a refresh writes only changed files; unchanged keep their inode (F1)" {
	pkgpush --dp dp1 --version 1 office
	ino_same=$(stat -c %i "$T/dp1/office/same.txt")
	ino_bin=$(stat -c %i "$T/dp1/office/sub/same.bin")
	run pkgpush --dp dp1 office
	expect_status 0
	at_version "$T/dp1" 2
	[ "$(stat -c %i "$T/dp1/office/same.txt")" = "$ino_same" ]
	[ "$(stat -c %i "$T/dp1/office/sub/same.bin")" = "$ino_bin" ]
	# Content written: the changed and added files only.
	pkgstage show office 1 >"$T/m1"
	want=$(pkgdiff diff --stat "$T/m1" "$T/m.2" | awk '$1 == "bytes" { print $2 }')
	expect_output_has "($want content, "
	expect_output_has "office 1 -> 2:"
	[ "$want" -lt 100000 ]
}

@test "pkgpush: in-place refresh leaves unchanged files untouched (F1)" {
	pkgpush --inplace --dp dp1 --version 1 office
	[ -d "$T/dp1/office" ] && [ ! -L "$T/dp1/office" ]
	at_version "$T/dp1" 1
	before=$(stat -c '%i %Z' "$T/dp1/office/same.txt")
	run pkgpush --inplace --dp dp1 office
	expect_status 0
	at_version "$T/dp1" 2
	[ "$(stat -c '%i %Z' "$T/dp1/office/same.txt")" = "$before" ]
	[ ! -e "$T/dp1/office/only1" ]
	! ls -a "$T/dp1/office" | grep -q pkgdist-tmp || false
}

@test "pkgpush: placing a package on a new DP touches no other DP (F4)" {
	pkgpush --dp dp1 --version 1 office
	listing "$T/dp1" >"$T/before1"
	listing "$T/dp3" >"$T/before3"
	sleep 1	# so that any ctime change would show
	run pkgpush --dp dp2 office
	expect_status 0
	expect_output_lacks "dp1"
	listing "$T/dp1" >"$T/after1"
	listing "$T/dp3" >"$T/after3"
	diff "$T/before1" "$T/after1"
	diff "$T/before3" "$T/after3"
	at_version "$T/dp2" 2
}

@test "pkgpush: targets are the union of --dp, --group and --all; --only narrows" {
	printf 'dp1 a %s\ndp2 b %s\ndp3 b %s\n' "$T/dp1" "$T/dp2" "$T/dp3" \
	    >"$PKGDIST_STORE/dps"
	run pkgpush --group b office
	expect_status 0
	expect_output_has "dp2:"
	expect_output_has "dp3:"
	expect_output_lacks "dp1:"
	run pkgpush --all --only dp1 office
	expect_status 0
	expect_output_has "dp1:"
	expect_output_lacks "dp2:"
}

@test "pkgpush: --refresh-existing targets the DPs that hold the package" {
	pkgpush --dp dp1 --dp dp3 --version 1 office
	run pkgpush --refresh-existing office
	expect_status 0
	expect_output_has "dp1: office 1 -> 2"
	expect_output_has "dp3: office 1 -> 2"
	expect_output_lacks "dp2"
	[ ! -e "$T/dp2/office" ]
}

@test "pkgpush: an unmounted DP that held the package fails and gets a retry job with the full command (F3)" {
	pkgpush --inplace --dp dp1 --dp dp2 --version 1 office
	mv "$T/dp2" "$T/dp2.unmounted"
	run pkgpush --refresh-existing --inplace --keep 3 --verify office
	expect_status 1
	expect_output_has "pkgpush: dp2: $T/dp2: No such file or directory"
	expect_output_has "dp1: office 1 -> 2"
	job=$PKGDIST_STORE/retry/office@dp2
	[ -f "$job" ]
	[ ! -e "$PKGDIST_STORE/retry/office@dp1" ]
	for a in --refresh-existing --inplace --keep 3 --verify --only dp2 \
	    --version 2 office; do
		expect_file_has "$job" "arg $a"
	done
	run pkgpush --status office
	expect_output_has "dp2 office 1 unreachable"
}

@test "pkgpush: a retry job runs and finishes the DP" {
	pkgpush --dp dp1 --dp dp2 --version 1 office
	mv "$T/dp2" "$T/dp2.unmounted"
	run pkgpush --refresh-existing office
	expect_status 1
	mv "$T/dp2.unmounted" "$T/dp2"
	run pkgretry run --now
	expect_status 0
	at_version "$T/dp2" 2
	[ ! -e "$PKGDIST_STORE/retry/office@dp2" ]
}

@test "pkgpush: --status lists DP, package, version and state" {
	pkgpush --dp dp1 --version 1 office
	pkgpush --inplace --dp dp2 office
	rm -rf "$T/dp3"
	run pkgpush --status office
	expect_status 1
	expect_output_has "dp1 office 1 complete"
	expect_output_has "dp2 office 2 complete"
	expect_output_has "dp3 office - unreachable"
	run pkgpush --status
	expect_output_has "dp1 office 1 complete"
}

@test "pkgpush: a DP is never moved down without --rollback; --rollback switches to the kept tree" {
	pkgpush --dp dp1 --version 1 office
	tree1=$(readlink "$T/dp1/office")
	ino=$(stat -c %i "$T/dp1/office/f1")
	pkgpush --dp dp1 office
	run pkgpush --dp dp1 --version 1 office
	expect_status 1
	expect_output_has "refusing to go down"
	at_version "$T/dp1" 2
	[ ! -e "$PKGDIST_STORE/retry/office@dp1" ]
	# -n says the switch the real run makes, and changes nothing.
	listing "$T/dp1" >"$T/before"
	run pkgpush -n --dp dp1 --version 1 --rollback office
	expect_status 0
	expect_output_has "dp1: office 2 -> 1: would switch back to the kept tree, 0 bytes to write"
	expect_output_lacks "would be"
	listing "$T/dp1" >"$T/after"
	diff "$T/before" "$T/after"
	run pkgpush --dp dp1 --version 1 --rollback office
	expect_status 0
	# Nothing copied: only the state record is written.
	expect_output_has "dp1: office 2 -> 1: switched back to the kept tree, "
	expect_output_has " bytes written (0 content, $(stat -c %s "$T/dp1/.pkgdist/office/state") state)"
	[ "$(readlink "$T/dp1/office")" = "$tree1" ]
	[ "$(stat -c %i "$T/dp1/office/f1")" = "$ino" ]
	at_version "$T/dp1" 1
}

@test "pkgpush: --rollback rebuilds a version no longer kept" {
	staged_versions 3 3
	pkgpush --dp dp1 --version 1 office
	pkgpush --dp dp1 --version 2 --keep 1 office
	pkgpush --dp dp1 --version 3 --keep 1 office
	[ "$(ls -d "$T"/dp1/.pkgdist/office/v*.* | grep -vc manifest)" = 1 ]
	# -n says the rebuild the real run makes (no kept tree to switch
	# to), with the same counts, and changes nothing.
	listing "$T/dp1" >"$T/before"
	run pkgpush -n --dp dp1 --version 1 --rollback office
	expect_status 0
	expect_output_lacks "switch"
	expect_output_has "dp1: office 3 -> 1: would be "
	counts=$(sed -n 's/.*would be \([0-9]* added, [0-9]* changed, [0-9]* deleted\).*/\1/p' <<<"$output")
	[ -n "$counts" ]
	listing "$T/dp1" >"$T/after"
	diff "$T/before" "$T/after"
	run pkgpush --dp dp1 --version 1 --rollback office
	expect_status 0
	expect_output_lacks "switch"
	expect_output_has "dp1: office 3 -> 1: $counts"
	at_version "$T/dp1" 1
}

@test "pkgpush: --keep K keeps K trees, the current one included" {
	staged_versions 3 3
	for v in 1 2 3; do pkgpush --dp dp1 --version $v office; done
	[ ! -e "$T/dp1/.pkgdist/office/v1.1" ]
	[ -d "$T/dp1/.pkgdist/office/v2.1" ]
	[ -d "$T/dp1/.pkgdist/office/v3.1" ]
}

@test "pkgpush: -n says what would be done and changes nothing" {
	run pkgpush -n --dp dp1 office
	expect_status 0
	expect_output_has "would be"
	[ -z "$(ls -A "$T/dp1")" ]
}

@test "pkgpush: --verify repairs a file edited on the DP" {
	pkgpush --dp dp1 office
	tree=$(readlink "$T/dp1/office")
	chmod u+w "$T/dp1/$tree/f3"
	echo tampered >"$T/dp1/$tree/f3"
	touch -d @"$(stat -c %Y "$T/v2/f3")" "$T/dp1/$tree/f3"
	run pkgpush --dp dp1 office
	expect_output_has "up to date"
	run pkgpush --verify --dp dp1 office
	expect_status 0
	expect_output_has "1 changed"
	at_version "$T/dp1" 2
}

@test "pkgpush: files are written read-only; o+w in the manifest is kept" {
	mkdir -p "$T/rw/d"
	echo a >"$T/rw/plain"
	echo b >"$T/rw/shared"
	echo c >"$T/rw/tool"
	chmod 0644 "$T/rw/plain"
	chmod 0666 "$T/rw/shared"
	chmod 4755 "$T/rw/tool"
	chmod 0700 "$T/rw/d"
	stage "$T/rw"
	pkgpush --dp dp1 office
	[ "$(stat -c %a "$T/dp1/office/plain")" = 444 ]
	[ "$(stat -c %a "$T/dp1/office/shared")" = 666 ]
	[ "$(stat -c %a "$T/dp1/office/tool")" = 555 ]
	# Directories keep owner write: an unprivileged pkgpush must be
	# able to update them.
	[ "$(stat -c %a "$T/dp1/office/d")" = 755 ]
}

@test "pkgpush: a link planted as DP/.pkgdist never makes pkgpush write outside the DP" {
	mkdir "$T/elsewhere"
	ln -s "$T/elsewhere" "$T/dp1/.pkgdist"
	run pkgpush --dp dp1 office
	expect_status 1
	expect_output_has "not a directory"
	[ -z "$(ls -A "$T/elsewhere")" ]
	[ ! -e "$T/dp1/office" ]
}

@test "pkgpush: a link planted inside a DP tree never makes pkgpush write outside the DP" {
	pkgpush --inplace --dp dp1 --version 1 office
	mkdir "$T/outside"
	chmod u+w "$T/dp1/office"
	rm -rf "$T/dp1/office/sub"
	ln -s "$T/outside" "$T/dp1/office/sub"
	run pkgpush --inplace --dp dp1 office
	expect_status 1
	[ -z "$(ls -A "$T/outside")" ]
	# Atomic: a link in place of a directory of the old tree.
	pkgpush --dp dp2 --version 1 office
	tree=$(readlink "$T/dp2/office")
	chmod u+w "$T/dp2/$tree"
	rm -rf "$T/dp2/$tree/sub"
	ln -s "$T/outside" "$T/dp2/$tree/sub"
	run pkgpush --dp dp2 office
	[ -z "$(ls -A "$T/outside")" ]
}

@test "pkgpush: DP/PKG that pkgdist did not make is refused" {
	mkdir "$T/dp1/office"
	echo mine >"$T/dp1/office/file"
	run pkgpush --dp dp1 office
	expect_status 1
	expect_output_has "refusing"
	[ "$(cat "$T/dp1/office/file")" = mine ]
	ln -s /etc "$T/dp2/office"
	run pkgpush --dp dp2 office
	expect_status 1
	[ "$(readlink "$T/dp2/office")" = /etc ]
}

# waits_for_lock PID DP: PID has DP's lock file open (it is in its
# lock wait, the lock being held), within 10 s.
waits_for_lock()
{
	local _
	for _ in $(seq 100); do
		ls -l "/proc/$1/fd" 2>/dev/null | grep -qF "$2/.pkgdist/.lock" &&
		    return 0
		sleep 0.1
	done
	return 1
}

@test "pkgpush: two pushes to one DP serialise and the DP ends at the higher version (F5)" {
	need_cmd flock
	staged_versions 3 3 300
	pkgpush --dp dp1 --version 1 office
	# The DP's lock is held: both pushes wait for it, the DP untouched.
	flock "$T/dp1/.pkgdist/.lock" sh -c ': >"$1"; exec sleep 60' sh \
	    "$T/locked" >/dev/null 2>&1 3>&- &
	holder=$!
	for _ in $(seq 50); do [ -e "$T/locked" ] && break; sleep 0.1; done
	[ -e "$T/locked" ]
	pkgpush --dp dp1 --version 3 office >"$T/out3" 2>&1 &
	p3=$!
	pkgpush --dp dp1 --version 2 office >"$T/out2" 2>&1 &
	p2=$!
	waits_for_lock "$p3" "$T/dp1"
	waits_for_lock "$p2" "$T/dp1"
	sleep 0.5
	at_version "$T/dp1" 1
	[ ! -s "$T/out3" ] && [ ! -s "$T/out2" ]
	pkill -P "$holder" 2>/dev/null || true	# its sleep, by parent id
	kill "$holder" 2>/dev/null || true
	wait "$holder" 2>/dev/null || true
	rc3=0 rc2=0
	wait "$p3" || rc3=$?
	wait "$p2" || rc2=$?
	cat "$T/out3" "$T/out2"
	at_version "$T/dp1" 3
	# One after the other: the second saw what the first left.  Either
	# 3 landed and 2 was refused (loudly), or 2 landed and 3 went on
	# from it; two pushes that both started from 1 did not serialise.
	if grep -qF "dp1: office 1 -> 3" "$T/out3"; then
		[ "$rc3" -eq 0 ] && [ "$rc2" -eq 1 ]
		grep -qF "refusing to go down" "$T/out2"
	else
		[ "$rc2" -eq 0 ] && [ "$rc3" -eq 0 ]
		grep -qF "dp1: office 1 -> 2" "$T/out2"
		grep -qF "dp1: office 2 -> 3" "$T/out3"
	fi
}

@test "pkgpush: -j pushes to several DPs at once" {
	run pkgpush -j 3 --all office
	expect_status 0
	for d in dp1 dp2 dp3; do at_version "$T/$d" 2; done
}

@test "pkgpush: --trust refuses an unsigned version or another key's, before touching any DP" {
	pkgstage keygen -o "$T/key" >/dev/null
	pkgstage keygen -o "$T/other" >/dev/null
	pkgstage add --sign "$T/key" office "$T/v2" >/dev/null
	run pkgpush --trust "$T/key.pub" --dp dp1 --version 2 office
	expect_status 2
	expect_output_has "not signed"
	run pkgpush --trust "$T/other.pub" --dp dp1 office
	expect_status 2
	expect_output_has "bad signature"
	[ -z "$(ls -A "$T/dp1")" ]
	run pkgpush --trust "$T/key.pub" --dp dp1 office
	expect_status 0
	at_version "$T/dp1" 3
}

@test "pkgpush: no DP left behind: a DP whose first push failed is shown failed by --status and named by --refresh-existing" {
	mv "$T/dp2" "$T/dp2.gone"
	run pkgpush --dp dp1 --dp dp2 --version 1 office
	expect_status 1
	mv "$T/dp2.gone" "$T/dp2"
	run pkgpush --status office
	expect_status 1
	expect_output_has "dp1 office 1 complete newest 2"
	expect_output_has "dp2 office - failed: a push of version 1 did not finish"
	run pkgpush --status
	expect_status 1
	expect_output_has "dp2 office - failed:"
	run pkgpush --refresh-existing office
	expect_status 0
	expect_output_has "dp1: office 1 -> 2"
	expect_output_has "dp2: office - -> 2"
	at_version "$T/dp2" 2
	run pkgpush --status
	expect_status 0
	expect_output_has "dp2 office 2 complete newest 2"
}

@test "pkgpush: a DP keeps the layout it holds the package in" {
	pkgpush --inplace --dp dp1 --version 1 office
	pkgpush --dp dp2 --version 1 office
	run pkgpush --dp dp1 --dp dp2 --inplace office
	expect_status 0
	expect_output_has "dp2: office 1 -> 2"
	expect_output_has "(kept its atomic layout)"
	[ -d "$T/dp1/office" ] && [ ! -L "$T/dp1/office" ]
	[ -L "$T/dp2/office" ]
	at_version "$T/dp1" 2
	at_version "$T/dp2" 2
}

@test "pkgpush: --verify in place repairs an edited, a removed and an added file" {
	pkgpush --inplace --dp dp1 office
	chmod u+w "$T/dp1/office" "$T/dp1/office/f3"
	echo tampered >"$T/dp1/office/f3"
	rm -f "$T/dp1/office/f4"
	echo stray >"$T/dp1/office/stray"
	run pkgpush --inplace --verify --dp dp1 office
	expect_status 0
	expect_output_has "1 added, 1 changed, 1 deleted"
	at_version "$T/dp1" 2
}

@test "pkgpush: a bad option is reported as 'pkgpush: ...' (not a path), exit 2" {
	run "$PKGDIST_BIN/pkgpush" --bogus office97
	expect_status 2
	[ "${lines[0]}" = "pkgpush: unrecognized option '--bogus'" ]
	run pkgpush -j 0 --all office97
	expect_status 2
}

@test "pkgpush: an unprivileged account can push, refresh in place and refresh atomically" {
	need_root
	command -v setpriv >/dev/null || skip "setpriv not installed"
	chmod 0755 "$T"
	vtree "$T/v1" 1
	vtree "$T/v2" 2
	mkdir -p "$T/u/store" "$T/u/dpa" "$T/u/dpi"
	printf 'dpa g %s\ndpi g %s\n' "$T/u/dpa" "$T/u/dpi" >"$T/u/store/dps"
	chown -R nobody "$T/u"
	as_nobody() {
		setpriv --reuid=nobody --regid=nogroup --clear-groups \
		    env PKGDIST_STORE="$T/u/store" "$@"
	}
	run as_nobody pkgstage add office "$T/v1"
	expect_status 0
	run as_nobody pkgpush --dp dpa office
	expect_status 0
	run as_nobody pkgpush --dp dpi --inplace office
	expect_status 0
	run as_nobody pkgstage add office "$T/v2"
	expect_status 0
	run as_nobody pkgpush --dp dpa --dp dpi office
	expect_status 0
	PKGDIST_STORE=$T/u/store at_version "$T/u/dpa" 2
	PKGDIST_STORE=$T/u/store at_version "$T/u/dpi" 2
	[ ! -L "$T/u/dpi/office" ]
}

@test "pkgpush: every writer thread's bytes are counted, atomic and in place" {
	# 64 files: enough for the atomic layout to build with several
	# writer threads (layout_write_content is their one way to write);
	# 65 entries: the files and sub/.
	mkdir -p "$T/big/sub"
	for i in $(seq 1 64); do
		head -c $((1000 + i * 37)) /dev/urandom >"$T/big/sub/f$i"
	done
	chmod 0444 "$T"/big/sub/f*	# the DP's modes (see vtree)
	want=$(find "$T/big" -type f -printf '%s\n' | awk '{ s += $1 } END { print s }')
	pkgstage add big "$T/big" >/dev/null
	run pkgpush --dp dp1 big
	expect_status 0
	expect_output_has "65 added, 0 changed, 0 deleted, 0 metadata, "
	expect_output_has " bytes written ($want content, "
	run pkgpush --inplace --dp dp2 big
	expect_status 0
	expect_output_has "65 added, 0 changed, 0 deleted, 0 metadata, "
	expect_output_has " bytes written ($want content, "
	pkgstage show big >"$T/mbig"
	pkgdiff verify "$T/mbig" "$T/dp1/big"
	pkgdiff verify "$T/mbig" "$T/dp2/big"
}
