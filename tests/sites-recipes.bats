#!/usr/bin/env bats
# Child sites over ssh, large files that changed a little (sitessh.h
# version 2, site_recipe.h): the push sends them as recipes against the
# child's copy of the version it holds, through a real sshd on loopback
# (tests/lib/sshd.bash); a child whose copy is damaged or missing asks
# for the content whole.  And a push whose ssh is killed midway.

load lib/common
load lib/sshd
load lib/pkgpush

bats_require_minimum_version 1.5.0

# Version 1: 20 small files and an 8 MiB incompressible one; version 2:
# one small file and 64 KiB in the middle of the large one changed.
setup()
{
	common_setup
	sshd_need
	export PKGDIST_SSH_TIMEOUT=20
	vtree "$T/v1" 1 20
	head -c $((8 << 20)) /dev/urandom >"$T/v1/big"
	stage "$T/v1"
	vtree "$T/v2" 2 20
	cp "$T/v1/big" "$T/v2/big"
	head -c 65536 /dev/urandom | dd of="$T/v2/big" bs=65536 seek=64 \
	    conv=notrunc 2>/dev/null
	stage "$T/v2"
	C=$T/child
	mktree "$T/empty"
	pkgstage -s "$C" add other "$T/empty" >/dev/null
	printf 'kid r ssh://%s:%s%s\n' "$SSHD_HOST" "$SSHD_PORT" "$C" \
	    >"$PKGDIST_STORE/sites"
	pkgpush --version 1 --site kid office >/dev/null
}

teardown()
{
	common_teardown
}

# same V: the child's version V is the parent's.
same()
{
	[ "$(pkgstage -s "$C" show office "$1")" = "$(pkgstage show office "$1")" ]
}

# push2: push version 2 to kid, ssh's own count of bytes sent in $sent.
push2()
{
	PKGDIST_SSH="$PKGDIST_SSH -v" run --separate-stderr pkgpush --site kid office
	printf '%s\n' "$stderr" >"$T/ssh.log"
	sent=$(sed -n 's/.*Transferred: sent \([0-9]*\),.*/\1/p' "$T/ssh.log" |
	    awk '{ s += $1 } END { print s + 0 }')
}

# obj V: the child's object file of big in version V.
obj()
{
	local d
	d=$(pkgstage -s "$C" show office "$1" | awk '$NF == "big" { print $5 }')
	ls "$C/objects/${d:0:2}/${d:2}"* | grep -v '\.k$'
}

# big_ok: the child's version 2 rebuilds big exactly (its content read
# back and checked through an export and an import elsewhere).
big_ok()
{
	pkgstage -s "$C" export office 2 -o "$T/k2.pkg"
	pkgstage -s "$T/check" import "$T/k2.pkg" >/dev/null
	run pkgstage -s "$T/check" fsck
	expect_status 0
	same 2
}

@test "site recipes: a large file that changed a little crosses as about the change; the child rebuilds it exactly" {
	push2
	expect_status 0
	[[ "$output" == "kid: office 1 -> 2: imported into its store (a delta against 1; "*" contents sent, 1 of them as recipes, "*" bytes not sent)" ]]
	# 64 KiB changed in 8 MiB: far below the file, a little above the
	# change (chunks around it, the small files, ssh's own overhead).
	[ "$sent" -gt 0 ] && [ "$sent" -lt 1000000 ]
	same 2
	run pkgstage -s "$C" fsck
	expect_status 0
	big_ok
}

@test "site recipes: a child whose copy of the base content is damaged asks for it whole; the version lands exact" {
	f=$(obj 1)
	[ -f "$f" ]
	chmod u+w "$f"
	printf 'XXXX' | dd of="$f" bs=1 seek=5000000 conv=notrunc 2>/dev/null
	push2
	expect_status 0
	expect_output_has "kid: office 1 -> 2: imported into its store (a delta against 1; "
	# The whole file went, in a second session.
	[ "$sent" -gt $((8 << 20)) ]
	same 2
	# The damage is the base's only: fsck names version 1, not 2.
	run pkgstage -s "$C" fsck
	expect_status 1
	expect_output_has "office version 1"
	expect_output_lacks "office version 2"
}

@test "site recipes: a child whose copy of the base content is missing asks for it whole; the version lands exact" {
	f=$(obj 1)
	[ -f "$f" ]
	rm "$f"
	push2
	expect_status 0
	same 2
	[ "$sent" -gt $((8 << 20)) ]
	run pkgstage -s "$C" fsck
	expect_status 1
	expect_output_lacks "office version 2"
	big_ok
}

@test "site recipes: a recipe against a base the child keeps compressed rebuilds from its bytes inflated" {
	# A large file that compresses: the child stores it as zlib.
	vtree "$T/v3" 3 20
	yes 'a line of text that compresses well' | head -c $((4 << 20)) >"$T/v3/big"
	stage "$T/v3"
	cp "$T/v3/big" "$T/v4big"
	vtree "$T/v4" 4 20
	cp "$T/v4big" "$T/v4/big"
	head -c 65536 /dev/urandom | dd of="$T/v4/big" bs=65536 seek=20 \
	    conv=notrunc 2>/dev/null
	stage "$T/v4"
	pkgpush --version 3 --site kid office >/dev/null
	run pkgpush --version 4 --site kid office
	expect_status 0
	expect_output_has "1 of them as recipes"
	[ "$(pkgstage -s "$C" show office 4)" = "$(pkgstage show office 4)" ]
	run pkgstage -s "$C" fsck
	expect_status 0
}

@test "site over ssh: the ssh connection killed in the middle of a push leaves nothing of the version visible at the child; the next push completes it" {
	# Version 3: eight new incompressible files of 1 MiB, sent whole,
	# each write of the package file slowed so the kill finds it midway.
	cp -a "$T/v2" "$T/v3"
	chmod -R u+w "$T/v3"
	for i in 1 2 3 4 5 6 7 8; do
		head -c 1048576 /dev/urandom >"$T/v3/new$i"
	done
	stage "$T/v3"
	pkgpush --version 2 --site kid office >/dev/null
	before=$(pkgstage -s "$C" list)
	PKGDIST_FAULT_SLOW=write:400 pkgpush --site kid office >"$T/out" 2>&1 &
	pid=$!
	# The child has begun to stage the version (its tmp is not empty).
	for _ in $(seq 1 100); do
		[ -n "$(ls -A "$C/tmp" 2>/dev/null)" ] && break
		sleep 0.1
	done
	[ -n "$(ls -A "$C/tmp")" ]
	ssh_pid=$(pgrep -P "$pid" -x ssh)
	[ -n "$ssh_pid" ]
	kill -9 "$ssh_pid"
	rc=0
	wait "$pid" || rc=$?
	[ "$rc" -eq 1 ]
	grep -q "retry queued as 'office@kid'" "$T/out"
	# The child's own receive ends when its input does: then nothing of
	# version 3 is there, and the store is whole.
	for _ in $(seq 1 100); do
		pgrep -f -- "--receive $C" >/dev/null || break
		sleep 0.1
	done
	[ "$(pkgstage -s "$C" list)" = "$before" ]
	[ ! -e "$C/packages/office/v/3" ]
	run pkgstage -s "$C" fsck
	expect_status 0
	run pkgpush --site kid office
	expect_status 0
	expect_output_has "kid: office 2 -> 3: imported into its store (a delta against 2; "
	same 3
	run pkgstage -s "$C" fsck
	expect_status 0
}
