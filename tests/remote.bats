#!/usr/bin/env bats
# Remote DPs: pkgpush to ssh://127.0.0.1:PORT/dir through a real sshd
# (tests/lib/sshd.bash), the protocol's refusals (fake servers), broken
# connections, and --status, --verify, --rollback, --inplace on a remote.

load lib/common
load lib/sshd
load lib/pkgpush

setup()
{
	common_setup
	sshd_need
	staged_versions 1 2
	mkdir -p "$T/rdp" "$T/dp1"
	printf 'r1 far %s\ndp1 near %s\n' "$(sshd_url "$T/rdp")" "$T/dp1" \
	    >"$PKGDIST_STORE/dps"
	export PKGDIST_REMOTE_STATS=$T/stats
	export PKGDIST_SSH_TIMEOUT=20
}

# stat_of FIELD: FIELD of the last line of the stats file.
stat_of()
{
	tail -n 1 "$T/stats" | awk -v f="$1" '{ for (i = 2; i < NF; i++) if ($i == f) print $(i + 1) }'
}

# fake_server NAME: a script, run by the remote shell instead of
# pkgpush, whose stdout is what the test writes to it (printf format).
fake_server()
{
	local f=$T/$1
	# shellcheck disable=SC2059 # the format is the point
	printf "$2" >"$f.out"
	{
		echo '#!/bin/sh'
		echo 'dd bs=16 count=1 >/dev/null 2>&1'
		echo "cat '$f.out'"
		echo "sleep ${FAKE_SLEEP:-0}"
		echo 'cat >/dev/null'
	} >"$f"
	chmod +x "$f"
	export PKGDIST_REMOTE_PKGPUSH=$f
}

# snapshot FILE: every DP and source tree, as they are now.
snapshot()
{
	find "$T/rdp" "$T/dp1" "$T/v1" "$T/v2" -printf '%i %m %s %T@ %p\n' |
	    sort -k5 >"$1"
}

HELLO='PKGDISTR\000\000\000\002\000\000\000\000'

@test "remote: a push to ssh://host:port/dir brings the remote DP to the version exactly" {
	run pkgpush --dp r1 --version 1 office
	expect_status 0
	expect_output_has "r1: office - -> 1:"
	[ -L "$T/rdp/office" ]
	at_version "$T/rdp" 1
	expect_file_has "$T/rdp/.pkgdist/office/state" "state complete"
	# The DP keeps no received contents once the push is done.
	[ -z "$(ls "$T/rdp/.pkgdist/.incoming")" ]
}

@test "remote: awkward names (spaces, newline, non-UTF-8, links) arrive intact" {
	mktree "$T/awk"
	pkgstage add awk "$T/awk" >/dev/null
	run pkgpush --dp r1 awk
	expect_status 0
	# The DP's own manifest (read-only modes applied) matches exactly...
	run pkgdiff verify "$(ls "$T"/rdp/.pkgdist/awk/v1.*.manifest)" \
	    "$T/rdp/awk"
	expect_status 0
	# ... and against the store's, only modes differ (P), no content.
	pkgstage show awk >"$T/m.awk"
	run pkgdiff verify "$T/m.awk" "$T/rdp/awk"
	expect_output_lacks "A "
	expect_output_lacks "D "
	expect_output_lacks "M "
}

@test "remote: a refresh sends only the changed contents; unchanged files keep their inode (F1)" {
	pkgpush --dp r1 --version 1 office
	ino=$(stat -c %i "$T/rdp/office/sub/same.bin")
	head -c 300000 /dev/urandom >"$T/v3.rand"
	cp -a "$T/v2" "$T/v3"
	chmod u+w "$T/v3/sub"
	cp "$T/v3.rand" "$T/v3/sub/random.bin"
	chmod 0444 "$T/v3/sub/random.bin"
	chmod 0755 "$T/v3/sub"
	touch -d @1600000000 "$T/v3/sub"
	pkgpush --dp r1 --version 2 office
	stage "$T/v3"
	run pkgpush --dp r1 office
	expect_status 0
	expect_output_has "r1: office 2 -> 3: 1 added, 0 changed, 0 deleted"
	at_version "$T/rdp" 3
	[ "$(stat -c %i "$T/rdp/office/sub/same.bin")" = "$ino" ]
	# One content sent: the random file, which does not compress.
	[ "$(stat_of contents)" = 1 ]
	[ "$(stat_of content_bytes)" -le 300100 ]
	sent=$(stat_of sent)
	[ "$sent" -ge 300000 ]
	# Manifest and framing on top: a few kilobytes, not a second copy.
	[ "$sent" -le 310000 ]
	run pkgpush --dp r1 office
	expect_status 0
	expect_output_has "r1: office 3: up to date"
	[ "$(stat_of contents)" = 0 ]
}

@test "remote: contents are sent in their stored (compressed) form" {
	mkdir -p "$T/text"
	seq 1 200000 >"$T/text/numbers"
	chmod 0444 "$T/text/numbers"
	pkgstage add text "$T/text" >/dev/null
	size=$(stat -c %s "$T/text/numbers")
	run pkgpush --dp r1 text
	expect_status 0
	[ "$(stat_of contents)" = 1 ]
	[ "$(stat_of content_bytes)" -lt $((size / 2)) ]
	[ "$(stat_of sent)" -lt $((size / 2)) ]
	pkgstage show text >"$T/m.text"
	pkgdiff verify "$T/m.text" "$T/rdp/text"
}

@test "remote: placing a package on a remote DP touches no other DP (F4)" {
	pkgpush --dp dp1 --version 1 office
	listing "$T/dp1" >"$T/before"
	run pkgpush --dp r1 office
	expect_status 0
	expect_output_lacks "dp1"
	listing "$T/dp1" >"$T/after"
	diff "$T/before" "$T/after"
}

@test "remote: the remote killed mid-transfer leaves the DP whole at its old version; the retry queued finishes it (F2, F3)" {
	pkgpush --dp r1 --version 1 office
	# The remote pkgpush dies (SIGKILL) at its 4th write.
	PKGDIST_REMOTE_PKGPUSH="PKGDIST_FAULT=write:4:crash $PKGDIST_BIN/pkgpush" \
	    run pkgpush --dp r1 office
	expect_status 1
	expect_output_has "pkgpush: r1: ssh://"
	expect_output_has "retry queued as 'office@r1'"
	at_version "$T/rdp" 1
	[ -L "$T/rdp/office" ]
	job=$PKGDIST_STORE/retry/office@r1
	[ -f "$job" ]
	expect_file_has "$job" "arg --only"
	expect_file_has "$job" "arg r1"
	run pkgretry run --now
	expect_status 0
	at_version "$T/rdp" 2
	[ ! -e "$job" ]
	[ -z "$(ls "$T/rdp/.pkgdist/.incoming")" ]
}

@test "remote: a connection cut mid-transfer keeps what was received; the retry sends only the rest" {
	pkgpush --dp r1 --version 2 office
	cp -a "$T/v2" "$T/v3"
	chmod u+w "$T/v3"
	for i in 1 2 3 4 5 6 7 8 9 10; do
		head -c 100000 /dev/urandom >"$T/v3/rand$i"
		chmod 0444 "$T/v3/rand$i"
	done
	chmod 0755 "$T/v3"
	stage "$T/v3"
	# ssh whose input is cut after 350 kB: the remote sees its input
	# end in the middle of the 4th content.  (perl: head and dd may
	# hold bytes back; cat: ssh makes its stdout non-blocking, which
	# must not reach the cutter's stdin, the same socket.)
	printf '#!/bin/sh\nperl -e %s 350000 | %s "$@" | cat\n' \
	    "'\$n = shift; while (\$n > 0 && (\$r = sysread(STDIN, \$b, \$n < 65536 ? \$n : 65536)) > 0) { syswrite(STDOUT, \$b); \$n -= \$r }'" \
	    "$PKGDIST_SSH" >"$T/cutssh"
	chmod +x "$T/cutssh"
	PKGDIST_SSH=$T/cutssh run pkgpush --dp r1 office
	expect_status 1
	expect_output_has "retry queued as 'office@r1'"
	expect_output_has "connection closed by sender"
	at_version "$T/rdp" 2
	kept=$(ls "$T/rdp/.pkgdist/.incoming" | grep -vc '^tmp\.' || true)
	[ "$kept" -ge 2 ]
	[ "$kept" -le 3 ]
	run pkgretry run --now
	expect_status 0
	at_version "$T/rdp" 3
	[ "$(stat_of contents)" -eq $((10 - kept)) ]
	[ -z "$(ls "$T/rdp/.pkgdist/.incoming")" ]
}

@test "remote: ssh itself killed mid-transfer: DP at its old version, push fails, retry queued" {
	pkgpush --dp r1 --version 1 office
	# A remote that stalls after its hello; ssh is killed meanwhile.
	cat >"$T/slow" <<EOF
#!/bin/sh
sleep 2
exec $PKGDIST_BIN/pkgpush "\$@"
EOF
	chmod +x "$T/slow"
	PKGDIST_REMOTE_PKGPUSH=$T/slow pkgpush --dp r1 office >"$T/out" 2>&1 &
	pid=$!
	for _ in $(seq 1 100); do
		sshpid=$(pgrep -P "$pid" ssh || true)
		[ -z "$sshpid" ] || break
		sleep 0.05
	done
	[ -n "$sshpid" ]
	kill "$sshpid"
	rc=0
	wait "$pid" || rc=$?
	[ "$rc" -eq 1 ]
	grep -q "retry queued" "$T/out"
	at_version "$T/rdp" 1
}

@test "remote: a peer that does not speak the protocol is refused cleanly" {
	fake_server garbage 'Welcome to host.example!\nlast login: never\n'
	snapshot "$T/before"
	run pkgpush --dp r1 office
	expect_status 1
	expect_output_has "does not speak the pkgdist protocol"
	expect_output_has '(it sent "Welcome to host.")'
	snapshot "$T/after"
	diff "$T/before" "$T/after"
	[ -f "$PKGDIST_STORE/retry/office@r1" ]
}

@test "remote: a peer of another protocol version is refused naming both versions" {
	fake_server v9 'PKGDISTR\000\000\000\011\000\000\000\000'
	run pkgpush --dp r1 office
	expect_status 1
	expect_output_has "protocol version mismatch"
	expect_output_has "versions 2 to 3, the remote version 9"
	[ ! -e "$T/rdp/office" ]
}

@test "remote: a peer of the previous protocol version (1) is refused naming both versions" {
	fake_server old1 'PKGDISTR\000\000\000\001\000\000\000\000'
	run pkgpush --dp r1 office
	expect_status 1
	expect_output_has "versions 2 to 3, the remote version 1"
	[ ! -e "$T/rdp/office" ]
}

@test "remote: an absurd frame length is refused without allocating or waiting for it" {
	fake_server huge "${HELLO}"'\000\000\000\005\377\377\377\377'
	run pkgpush --dp r1 office
	expect_status 1
	expect_output_has "NEED of 4294967295 bytes"
	fake_server count "${HELLO}"'\000\000\000\005\000\000\000\004\377\377\377\377'
	run pkgpush --dp r1 office
	expect_status 1
	expect_output_has "bad NEED frame"
}

@test "remote: a remote asking for a content the manifest does not name gets nothing" {
	# NEED with one entry: 32 bytes of 0x41 ("AAAA...") and size 5.
	need='\000\000\000\005\000\000\000\054\000\000\000\001'
	need+=$(printf 'A%.0s' $(seq 1 32))
	need+='\000\000\000\000\000\000\000\005'
	fake_server badneed "${HELLO}${need}"
	run pkgpush --dp r1 office
	expect_status 1
	expect_output_has "asks for a content the manifest does not name"
}

@test "remote: a stuck remote times out instead of hanging" {
	export FAKE_SLEEP=30
	fake_server stuck "${HELLO}"
	PKGDIST_SSH_TIMEOUT=1 run pkgpush --dp r1 office
	expect_status 1
	expect_output_has "no progress for 1 s"
	[ -f "$PKGDIST_STORE/retry/office@r1" ]
}

@test "remote: a missing remote pkgpush fails with the remote shell's reason" {
	export PKGDIST_REMOTE_PKGPUSH=/nonexistent/pkgpush
	run pkgpush --dp r1 office
	expect_status 1
	expect_output_has "connection closed by remote"
	expect_output_has "/nonexistent/pkgpush"
}

@test "remote: an unreachable host fails the DP with ssh's reason and queues a retry" {
	printf 'r1 far ssh://127.0.0.1:1%s\n' "$T/rdp" >"$PKGDIST_STORE/dps"
	export PKGDIST_SSH="ssh -F /dev/null -o BatchMode=yes -o ConnectTimeout=5"
	run pkgpush --dp r1 office
	expect_status 1
	expect_output_has "Connection refused"
	[ -f "$PKGDIST_STORE/retry/office@r1" ]
	run pkgpush --status office
	expect_output_has "r1 office"
	expect_output_has "unreachable"
}

@test "remote: a remote path with quotes, spaces and \$(...) is passed safely" {
	d="$T/odd dir 'q' \$(touch $T/pwned)"
	mkdir -p "$d"
	esc=$(printf '%s' "$d" | sed 's/ /\\040/g')
	printf 'r1 far %s\n' "$(sshd_url "$esc")" \
	    >"$PKGDIST_STORE/dps"
	run pkgpush --dp r1 office
	expect_status 0
	at_version "$d" 2
	[ ! -e "$T/pwned" ]
}

@test "remote: --status reads the state from the remote DP" {
	pkgpush --dp r1 --version 1 office
	# Version 2 is the newest: the DP is behind.
	run pkgpush --status
	expect_status 1
	expect_output_has "r1 office 1 complete newest 2"
	pkgpush --dp r1 office
	run pkgpush --status office
	expect_status 0
	expect_output_has "r1 office 2 complete newest 2"
	expect_output_has "dp1 office - none newest 2"
	run pkgpush --status nosuch
	expect_status 2
	expect_output_has "nosuch: no such package in the store"
}

@test "remote: --verify repairs a file edited on the remote DP" {
	pkgpush --dp r1 office
	f=$(readlink -f "$T/rdp/office/f3")
	chmod u+w "$f"
	echo edited >"$f"
	run pkgpush --dp r1 office
	expect_output_has "up to date"
	run pkgpush --dp r1 --verify office
	expect_status 0
	expect_output_has "1 changed"
	at_version "$T/rdp" 2
}

@test "remote: --rollback moves a remote DP down; without it the DP is never moved down" {
	pkgpush --dp r1 --version 1 office
	pkgpush --dp r1 office
	run pkgpush --dp r1 --version 1 office
	expect_status 1
	expect_output_has "refusing to go down"
	at_version "$T/rdp" 2
	run pkgpush -n --dp r1 --rollback --version 1 office
	expect_status 0
	expect_output_has "would switch back to the kept tree"
	at_version "$T/rdp" 2
	run pkgpush --dp r1 --rollback --version 1 office
	expect_status 0
	expect_output_has "switched back to the kept tree"
	at_version "$T/rdp" 1
}

@test "remote: --inplace layout and -n on a remote DP" {
	run pkgpush -n --dp r1 --inplace office
	expect_status 0
	expect_output_has "would be"
	[ ! -e "$T/rdp/office" ]
	run pkgpush --dp r1 --inplace --version 1 office
	expect_status 0
	[ -d "$T/rdp/office" ] && [ ! -L "$T/rdp/office" ]
	at_version "$T/rdp" 1
	run pkgpush --dp r1 --inplace office
	expect_status 0
	at_version "$T/rdp" 2
}

@test "remote: a remote DP keeps the layout it holds the package in, and says so" {
	run pkgpush --dp r1 --inplace --version 1 office
	expect_status 0
	run pkgpush --dp r1 office
	expect_status 0
	expect_output_has "r1: office 1 -> 2"
	expect_output_has "(kept its in-place layout)"
	[ -d "$T/rdp/office" ] && [ ! -L "$T/rdp/office" ]
	at_version "$T/rdp" 2
	rm -rf "$T/rdp"
	mkdir "$T/rdp"
	run pkgpush --dp r1 --version 1 office
	expect_status 0
	expect_output_lacks "kept its"
	run pkgpush --dp r1 --inplace office
	expect_status 0
	expect_output_has "(kept its atomic layout)"
	[ -L "$T/rdp/office" ]
	at_version "$T/rdp" 2
}

@test "remote: pushes to a remote and a local DP run side by side (-j 2)" {
	run pkgpush -j 2 --dp r1 --dp dp1 office
	expect_status 0
	at_version "$T/rdp" 2
	at_version "$T/dp1" 2
}

@test "remote: a content several files share is sent once" {
	mkdir -p "$T/dup/a" "$T/dup/b"
	head -c 50000 /dev/urandom >"$T/dup/a/one"
	cp "$T/dup/a/one" "$T/dup/b/two"
	cp "$T/dup/a/one" "$T/dup/three"
	find "$T/dup" -type f -exec chmod 0444 {} +
	pkgstage add dup "$T/dup" >/dev/null
	run pkgpush --dp r1 dup
	expect_status 0
	[ "$(stat_of contents)" = 1 ]
	pkgstage show dup >"$T/m.dup"
	run pkgdiff verify "$T/m.dup" "$T/rdp/dup"
	expect_output_lacks "M "
	expect_output_lacks "A "
	[ -z "$(ls "$T/rdp/.pkgdist/.incoming")" ]
}

@test "remote: a full remote disk fails the DP naming ENOSPC, leaves it whole, queues a retry" {
	pkgpush --dp r1 --version 1 office
	PKGDIST_REMOTE_PKGPUSH="PKGDIST_FAULT=write:3:ENOSPC $PKGDIST_BIN/pkgpush" \
	    run pkgpush --dp r1 office
	expect_status 1
	expect_output_has "No space left on device"
	expect_output_has "retry queued as 'office@r1'"
	at_version "$T/rdp" 1
	run pkgpush --status office
	expect_output_has "r1 office 1 failed"
	# What was received before the failure is kept for the retry.
	[ "$(ls "$T/rdp/.pkgdist/.incoming" | grep -vc '^tmp\.')" -eq 2 ]
	run pkgretry run --now
	expect_status 0
	at_version "$T/rdp" 2
}

@test "remote: two remote DPs pushed at once (-j 2) both arrive" {
	mkdir -p "$T/rdp2"
	printf 'r2 far %s\n' "$(sshd_url "$T/rdp2")" \
	    >>"$PKGDIST_STORE/dps"
	run pkgpush -j 2 --group far office
	expect_status 0
	expect_output_has "r1: office - -> 2"
	expect_output_has "r2: office - -> 2"
	at_version "$T/rdp" 2
	at_version "$T/rdp2" 2
	[ "$(wc -l <"$T/stats")" -eq 2 ]
}

@test "remote: a content the store cannot give is named by package, version and file" {
	head -c 200000 /dev/urandom >"$T/v2/big blob"
	chmod 0444 "$T/v2/big blob"
	pkgstage add office "$T/v2" >/dev/null
	h=$(sha256sum <"$T/v2/big blob" | cut -d' ' -f1)
	rm -f "$PKGDIST_STORE/objects/${h:0:2}/${h:2}"
	run pkgpush --dp r1 office
	expect_status 1
	expect_output_has "pkgpush: r1: ssh://"
	expect_output_has "/rdp: office version 3: 'big\\040blob': content $h: missing"
	[ ! -e "$T/rdp/office" ]
}
