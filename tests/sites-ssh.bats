#!/usr/bin/env bats
# Child sites over ssh (SPEC.md "Child sites"): TARGET ssh://host/path is
# the child's store, reached through a real sshd on loopback
# (tests/lib/sshd.bash) and pkgpush --receive there.

load lib/common
load lib/sshd
load lib/pkgpush

bats_require_minimum_version 1.5.0

setup()
{
	common_setup
	sshd_need
	export PKGDIST_SSH_TIMEOUT=20
	for v in 1 2 3; do
		vtree "$T/v$v" $v 200
	done
	head -c 2000000 /dev/urandom >"$T/v1/big"
	cp "$T/v1/big" "$T/v2/big"
	cp "$T/v1/big" "$T/v3/big"
	# Read-only, one mtime, as vtree's files (pkgpush.bash): a DP's copy
	# then has exactly the store's modes.
	chmod 0444 "$T/v1/big" "$T/v2/big" "$T/v3/big"
	touch -d @1600000000 "$T/v1/big" "$T/v2/big" "$T/v3/big"
	stage "$T/v1"
	stage "$T/v2"
	C=$T/child
	mktree "$T/empty"
	pkgstage -s "$C" add other "$T/empty" >/dev/null
	printf 'kid r %s\n' "$(sshd_url "$C")" \
	    >"$PKGDIST_STORE/sites"
}

# same V: the child's version V is the parent's.
same()
{
	[ "$(pkgstage -s "$C" show office "$1")" = "$(pkgstage show office "$1")" ]
}

# sent: the bytes ssh sent in its last session (its own count, -v).
sent()
{
	sed -n 's/.*Transferred: sent \([0-9]*\),.*/\1/p' "$T/ssh.log" | tail -n 1
}

@test "site over ssh: a first push sends the version whole, the next a delta; both land whole in the child's store" {
	PKGDIST_SSH="$PKGDIST_SSH -v" run --separate-stderr pkgpush --version 1 --site kid office 2>"$T/ssh.log"
	printf '%s\n' "$stderr" >"$T/ssh.log"
	expect_status 0
	[[ "$output" == "kid: office - -> 1: imported into its store (whole; "*" contents sent)" ]]
	same 1
	whole=$(sent)
	PKGDIST_SSH="$PKGDIST_SSH -v" run --separate-stderr pkgpush --refresh-existing office
	printf '%s\n' "$stderr" >"$T/ssh.log"
	expect_status 0
	[[ "$output" == "kid: office 1 -> 2: imported into its store (a delta against 1; "*" contents sent)" ]]
	same 2
	delta=$(sent)
	[ -n "$whole" ] && [ -n "$delta" ]
	# The 2 MB file that did not change is not sent again.
	[ "$delta" -lt 1000000 ] && [ "$whole" -gt 2000000 ]
	run pkgstage -s "$C" fsck
	expect_status 0
	run pkgpush --site kid office
	expect_status 0
	expect_output_has "kid: office 2: up to date"
}

@test "site over ssh: a child with a newer version keeps it as newest, and gets the older one" {
	pkgpush --site kid office >/dev/null
	run pkgpush --site kid --version 1 office
	expect_status 0
	expect_output_has "kid: office 2 -> 1: imported into its store (whole; "
	same 1
	same 2
	run pkgstage -s "$C" show office
	[ "$output" = "$(pkgstage show office 2)" ]
}

@test "site over ssh: a missing store is unreachable: the site fails with a retry job, the store is not created" {
	printf 'kid r %s\n' "$(sshd_url "$T/nostore")" \
	    >"$PKGDIST_STORE/sites"
	run pkgpush --site kid --cascade --refresh-existing office
	expect_status 1
	expect_output_has "kid: ssh://"
	expect_output_has "nostore"
	expect_output_has "retry queued as 'office@kid'"
	[ ! -e "$T/nostore" ]
	# The job is the whole command narrowed to the site (F3).
	for a in --site kid --cascade --refresh-existing --only; do
		grep -qx "arg $a" "$PKGDIST_STORE/retry/office@kid"
	done
}

@test "site over ssh: STORE/trust at the child refuses an unsigned version (retry queued) and takes a signed one" {
	pkgstage keygen -o "$T/k"
	cp "$T/k.pub" "$C/trust"
	before=$(pkgstage -s "$C" list)
	run pkgpush --site kid office
	expect_status 1
	expect_output_has "is not signed"
	expect_output_has "retry queued as 'office@kid'"
	[ "$(pkgstage -s "$C" list)" = "$before" ]
	pkgstage add --sign "$T/k" office "$T/v3" >/dev/null
	run pkgpush --site kid office
	expect_status 0
	same 3
}

# wide_versions: package "wide", 3,000 small files, version 2 changing
# one of them, signed with $T/k when given -s; the child holds version 1.
wide_versions()
{
	local i sign=
	[ "${1:-}" != -s ] || sign="--sign $T/k"
	mkdir -p "$T/w1"
	for ((i = 1; i <= 3000; i++)); do
		printf 'file %s\n' "$i" >"$T/w1/f$i"
	done
	touch -d @1600000000 "$T/w1"/f*
	cp -a "$T/w1" "$T/w2"
	printf 'changed\n' >"$T/w2/f7"
	touch -d @1600000000 "$T/w2/f7"
	pkgstage add $sign wide "$T/w1" >/dev/null
	pkgstage add $sign wide "$T/w2" >/dev/null
	pkgpush --version 1 --site kid wide >/dev/null
}

@test "site over ssh: a refresh carries the manifest as its changes from the child's version: a small part of the whole manifest crosses" {
	wide_versions
	whole=$(pkgstage show wide 2 | gzip -c | wc -c)
	PKGDIST_SSH="$PKGDIST_SSH -v" run --separate-stderr pkgpush --site kid wide
	printf '%s\n' "$stderr" >"$T/ssh.log"
	expect_status 0
	expect_output_has "kid: wide 1 -> 2: imported into its store (a delta against 1; 1 of 1 contents sent)"
	[ "$(pkgstage -s "$C" show wide 2)" = "$(pkgstage show wide 2)" ]
	# ssh's own handshake is most of what is left.
	[ "$(sent)" -lt $((whole / 4)) ]
	run pkgstage -s "$C" fsck
	expect_status 0
}

@test "site over ssh: a manifest rebuilt from its changes is checked: its signature under STORE/trust, and a child whose base is not the parent's refuses it, unchanged" {
	pkgstage keygen -o "$T/k"
	cp "$T/k.pub" "$C/trust"
	wide_versions -s
	run pkgpush --site kid wide
	expect_status 0
	[ "$(pkgstage -s "$C" show wide 2)" = "$(pkgstage show wide 2)" ]
	# A child whose version 1 of "other" is not the parent's.
	mktree "$T/o1"
	printf 'parent\n' >"$T/o1/a"
	pkgstage add --sign "$T/k" other "$T/o1" >/dev/null
	cp -a "$T/o1" "$T/o2"
	chmod u+w "$T/o2"
	printf 'more\n' >"$T/o2/b"
	pkgstage add --sign "$T/k" other "$T/o2" >/dev/null
	before=$(pkgstage -s "$C" list)
	run pkgpush --site kid other
	expect_status 1
	expect_output_has "is not the sender's"
	[ "$(pkgstage -s "$C" list)" = "$before" ]
}

# most_receiving PID: the most children seen receiving at once (their
# pkgpush --receive running) while the push PID runs.
most_receiving()
{
	local most=0 n p
	while kill -0 "$1" 2>/dev/null; do
		n=0
		for p in $(pgrep -f -- "--receive $T/child"); do
			[ "$(ps -o comm= -p "$p")" != pkgpush ] || n=$((n + 1))
		done
		[ "$n" -le "$most" ] || most=$n
		sleep 0.05
	done
	echo "$most"
}

@test "site over ssh: sites are pushed -j at a time: with -j 2 two children receive at once, with -j 1 one after the other" {
	C2=$T/child2
	pkgstage -s "$C2" add other "$T/empty" >/dev/null
	printf 'kid r %s\nkid2 r %s\n' "$(sshd_url "$C")" "$(sshd_url "$C2")" \
	    >"$PKGDIST_STORE/sites"
	# Each receive slowed down at every fsync, so that they overlap.
	export PKGDIST_REMOTE_PKGPUSH="PKGDIST_FAULT_SLOW=fsync:300 $PKGDIST_BIN/pkgpush"
	pkgpush -j 2 --all-sites office >"$T/out" 2>&1 &
	most=$(most_receiving $!)
	wait $!
	[ "$most" = 2 ]
	grep -q "^kid: office - -> 2: imported" "$T/out"
	grep -q "^kid2: office - -> 2: imported" "$T/out"
	same 2
	[ "$(pkgstage -s "$C2" show office 2)" = "$(pkgstage show office 2)" ]
	stage "$T/v3"
	pkgpush -j 1 --all-sites office >"$T/out" 2>&1 &
	most=$(most_receiving $!)
	wait $!
	[ "$most" = 1 ]
	same 3
	[ "$(pkgstage -s "$C2" show office 3)" = "$(pkgstage show office 3)" ]
}

@test "site over ssh: a transfer cut short leaves the child's versions as they were; the retry sends only the contents that did not arrive" {
	pkgpush --version 1 --site kid office >/dev/null
	# Version 3: six new incompressible files, 2.4 MB in all.
	for i in 1 2 3 4 5 6; do
		head -c 400000 /dev/urandom >"$T/v3/new$i"
	done
	chmod 0444 "$T/v3"/new*
	stage "$T/v3"
	before=$(pkgstage -s "$C" list)
	# The parent's second write of the package file (1 MiB each) fails:
	# the child sees its input end mid-file.
	PKGDIST_FAULT=write:3:EIO run pkgpush --site kid --version 3 office
	expect_status 1
	expect_output_has "retry queued as 'office@kid'"
	[ "$(pkgstage -s "$C" list)" = "$before" ]
	run pkgstage -s "$C" fsck
	expect_status 0
	run pkgpush --site kid --version 3 office
	expect_status 0
	[[ "$output" =~ \(a\ delta\ against\ 1\;\ ([0-9]+)\ of\ ([0-9]+)\ contents\ sent\) ]]
	[ "${BASH_REMATCH[1]}" -lt "${BASH_REMATCH[2]}" ]
	same 3
	run pkgstage -s "$C" fsck
	expect_status 0
}

@test "site over ssh: contents the child holds in another package do not cross the network" {
	mkdir "$T/o"
	cp -p "$T/v1/big" "$T/o/big"
	pkgstage -s "$C" add other2 "$T/o" >/dev/null
	PKGDIST_SSH="$PKGDIST_SSH -v" run --separate-stderr pkgpush --version 1 --site kid office
	printf '%s\n' "$stderr" >"$T/ssh.log"
	expect_status 0
	[[ "$output" =~ \(whole\;\ ([0-9]+)\ of\ ([0-9]+)\ contents\ sent\) ]]
	[ "${BASH_REMATCH[1]}" -eq $((BASH_REMATCH[2] - 1)) ]
	[ "$(sent)" -lt 1000000 ]
	same 1
	# Every content there already, a new 1 MB one included: none is
	# sent.
	cp -a "$T/v2" "$T/v4"
	chmod u+w "$T/v4"
	head -c 1000000 /dev/urandom >"$T/v4/extra"
	stage "$T/v4"
	pkgstage -s "$C" add other3 "$T/v4" >/dev/null
	PKGDIST_SSH="$PKGDIST_SSH -v" run --separate-stderr pkgpush --version 3 --site kid office
	printf '%s\n' "$stderr" >"$T/ssh.log"
	expect_status 0
	expect_output_has "(a delta against 1; 0 of "
	[ "$(sent)" -lt 500000 ]
	same 3
}

@test "site over ssh: -n asks the child and changes nothing; --status shows the records" {
	run pkgpush -n --site kid office
	expect_status 0
	expect_output_has "kid: office - -> 2: would be imported into its store (whole)"
	run pkgstage -s "$C" show office
	expect_status 2
	pkgpush --site kid office
	run pkgpush --status office
	expect_output_has "kid office 2 complete newest 2"
}

# hierarchy: central (this store) -> region (ssh) -> branch (ssh), each
# with its own local DPs and config (the ssh it reaches its children
# with is in its own config, not the environment).
hierarchy()
{
	R=$T/region
	B=$T/branch
	mkdir -p "$T/c-dp" "$T/r-dp1" "$T/r-dp2" "$T/b-dp"
	pkgstage -s "$R" add other "$T/empty" >/dev/null
	pkgstage -s "$B" add other "$T/empty" >/dev/null
	printf 'cdp c %s\n' "$T/c-dp" >"$PKGDIST_STORE/dps"
	printf 'region r %s\n' "$(sshd_url "$R")" \
	    >"$PKGDIST_STORE/sites"
	printf 'rdp1 r %s\nrdp2 r %s\n' "$T/r-dp1" "$T/r-dp2" >"$R/dps"
	printf 'branch b %s\n' "$(sshd_url "$B")" \
	    >"$R/sites"
	printf 'bdp b %s\n' "$T/b-dp" >"$B/dps"
	printf 'ssh %s\nremote-pkgpush %s\n' "$PKGDIST_SSH" \
	    "$PKGDIST_BIN/pkgpush" >"$R/config"
}

@test "site over ssh: --cascade to the bottom of a three-level hierarchy, lines named SITE/DP and SITE/CHILD/DP" {
	hierarchy
	pkgpush --version 1 --dp cdp --site region office >/dev/null
	pkgpush -s "$R" --all --all-sites office >/dev/null
	pkgpush -s "$B" --all office >/dev/null
	at_version "$T/b-dp" 1
	run --separate-stderr pkgpush --refresh-existing --cascade office
	expect_status 0
	[[ "$output" == *"cdp: office 1 -> 2: "* ]]
	[[ "$output" == *"region: office 1 -> 2: imported into its store (a delta against 1; "* ]]
	[[ "$output" == *"region/rdp1: office 1 -> 2: "* ]]
	[[ "$output" == *"region/rdp2: office 1 -> 2: "* ]]
	[[ "$output" == *"region/branch: office 1 -> 2: imported into its store (a delta against 1; "* ]]
	[[ "$output" == *"region/branch/bdp: office 1 -> 2: "* ]]
	for d in c-dp r-dp1 r-dp2 b-dp; do at_version "$T/$d" 2; done
	# Again: every level is up to date, and says so.
	run pkgpush --refresh-existing --cascade office
	expect_status 0
	expect_output_has "region/branch/bdp: office 2: up to date"
}

@test "site over ssh: a child that cannot reach its DP queues its own retry; the parent says so and exits 1" {
	hierarchy
	pkgpush --version 1 --site region office >/dev/null
	pkgpush -s "$R" --all office >/dev/null
	rmdir "$T/r-dp2" 2>/dev/null || rm -rf "$T/r-dp2"
	run pkgpush --site region --cascade office
	expect_status 1
	expect_output_has "region/rdp1: office 1 -> 2: "
	expect_output_has "region/rdp2: retry queued as 'office@rdp2'"
	[ -f "$R/retry/office@rdp2" ]
	[ ! -e "$PKGDIST_STORE/retry/office@region" ]
	at_version "$T/r-dp1" 2
}

@test "site over ssh: --json with --cascade names the child's targets SITE/DP" {
	hierarchy
	pkgpush --version 1 --site region office >/dev/null
	pkgpush -s "$R" --dp rdp1 office >/dev/null
	run --separate-stderr pkgpush --json --site region --cascade office
	expect_status 0
	[[ "$output" == *'"target":"region/rdp1","package":"office","from":1,"to":2,"ok":true'* ]]
}

@test "site over ssh: a version sent to an inbox goes on over ssh to the bottom: the middle site's pkgdist-cron pushes with --cascade" {
	M=$T/middle
	mkdir -p "$T/b-dp"
	pkgstage -s "$M" add other "$T/empty" >/dev/null
	mkdir "$M/incoming"
	printf 'mid r %s\n' "$M/incoming" >"$PKGDIST_STORE/sites"
	printf 'kid r %s\n' "$(sshd_url "$C")" >"$M/sites"
	printf 'ssh %s\nremote-pkgpush %s\n' "$PKGDIST_SSH" \
	    "$PKGDIST_BIN/pkgpush" >"$M/config"
	printf 'bdp b %s\n' "$T/b-dp" >"$C/dps"
	# Version 1 placed by hand at every level.
	pkgpush --version 1 --site mid office >/dev/null
	pkgstage -s "$M" import --incoming >/dev/null
	pkgpush -s "$M" --site kid office >/dev/null
	pkgpush -s "$C" --dp bdp office >/dev/null
	at_version "$T/b-dp" 1
	run pkgpush --refresh-existing --cascade office
	expect_status 0
	expect_output_has "mid: office 1 -> 2: wrote office-2.pkg (a delta against 1), "
	expect_output_has "; its pkgdist-cron imports it and pushes it on"
	run sh "$PKGDIST_SRC/scripts/pkgdist-cron" -s "$M"
	expect_output_has "imported office version 2"
	expect_output_has "kid/bdp: office 1 -> 2: "
	[ "$(pkgstage -s "$M" show office 2)" = "$(pkgstage show office 2)" ]
	same 2
	at_version "$T/b-dp" 2
}

@test "site over ssh: two versions pushed to one child at once, and a push racing its inbox, many rounds: every version lands, the newest stays newest" {
	stage "$T/v3"
	pkgstage export office 1 -o "$T/office-1.pkg"
	for round in 1 2 3 4 5; do
		rm -rf "$C"
		pkgstage -s "$C" add other "$T/empty" >/dev/null
		mkdir "$C/incoming"
		cp "$T/office-1.pkg" "$C/incoming/"
		pkgpush --forget kid >/dev/null 2>&1 || true
		pkgpush --site kid --version 2 office >"$T/a" 2>&1 &
		a=$!
		pkgpush --site kid --version 3 office >"$T/b" 2>&1 &
		b=$!
		pkgstage -s "$C" import --incoming >"$T/c" 2>&1 &
		c=$!
		wait $a || { cat "$T/a"; false; }
		wait $b || { cat "$T/b"; false; }
		wait $c || { cat "$T/c"; false; }
		for v in 1 2 3; do same $v; done
		[ "$(pkgstage -s "$C" show office)" = "$(pkgstage show office 3)" ]
		run pkgstage -s "$C" fsck
		expect_status 0
	done
}

@test "site over ssh: --status asks the child; --status --cascade adds its lines as SITE/DP; an unreachable child shows the records, marked so" {
	hierarchy
	pkgpush --version 1 --dp cdp --site region office >/dev/null
	pkgpush -s "$R" --all --all-sites office >/dev/null
	pkgpush -s "$B" --all office >/dev/null
	run pkgpush --status office
	expect_status 1
	expect_output_has "region office 1 complete newest 2"
	expect_output_lacks "region/"
	pkgpush --refresh-existing --cascade office >/dev/null
	run pkgpush --status --cascade office
	expect_status 0
	expect_output_has "cdp office 2 complete newest 2"
	expect_output_has "region office 2 complete newest 2"
	expect_output_has "region/rdp1 office 2 complete newest 2"
	expect_output_has "region/branch office 2 complete newest 2"
	expect_output_has "region/branch/bdp office 2 complete newest 2"
	run --separate-stderr pkgpush --status --cascade --json office
	expect_status 0
	[[ "$output" == *'"target":"region/branch/bdp","package":"office","version":2'* ]]
	# The branch's store gone: the region says it is unreachable.
	mv "$B" "$T/branch.away"
	run pkgpush --status --cascade office
	expect_status 1
	expect_output_has "region/branch office 2 unreachable: "
	# The region's store gone: the centre's records, marked so.
	mv "$R" "$T/region.away"
	run pkgpush --status --cascade office
	expect_status 1
	expect_output_has "region office 2 unreachable: "
	expect_output_lacks "region/rdp1"
}
