#!/usr/bin/env bats
# Child sites: the site list STORE/sites (SPEC.md "Child sites").

load lib/common
load lib/pkgpush

bats_require_minimum_version 1.5.0

setup()
{
	common_setup
	vtree "$T/src" 1
	stage "$T/src"
	dps dp1 dp2
}

@test "sites: a site with the name of a DP is refused, naming both files and lines" {
	mkdir -p "$T/inbox"
	printf '# child sites\nregion1 r %s\ndp2 r %s\n' "$T/inbox" "$T/inbox" \
	    >"$PKGDIST_STORE/sites"
	run pkgpush --dp dp1 office
	expect_status 2
	expect_output_has "$PKGDIST_STORE/sites:3: site 'dp2' has the name of the DP on $PKGDIST_STORE/dps:2"
	[ ! -e "$T/dp1/office" ]
	run pkgpush --status
	expect_status 2
	expect_output_has "sites:3"
}

@test "sites: the site list is the DP list's format: a broken line is refused with file and line" {
	printf 'region1 r relative/path\n' >"$PKGDIST_STORE/sites"
	run pkgpush --dp dp1 office
	expect_status 2
	expect_output_has "$PKGDIST_STORE/sites:1: target must be an absolute directory"
	printf 'a r /x\na r /y\n' >"$PKGDIST_STORE/sites"
	run pkgpush --dp dp1 office
	expect_status 2
	expect_output_has "sites:2: site 'a' already defined on line 1"
	printf '.bad r /x\n' >"$PKGDIST_STORE/sites"
	run pkgpush --dp dp1 office
	expect_status 2
	expect_output_has "sites:1: bad site name"
}

# inbox NAME...: a site list with one directory site per name, at
# $T/NAME-inbox, group r.
inbox()
{
	local n
	for n in "$@"; do
		mkdir -p "$T/$n-inbox"
		printf '%s r %s\n' "$n" "$T/$n-inbox"
	done >"$PKGDIST_STORE/sites"
}

@test "site push: a directory site gets one whole package file, nothing else; it imports at the child" {
	inbox region1
	run pkgpush --site region1 office
	expect_status 0
	expect_output_has "region1: office - -> 1: wrote office-1.pkg (whole),"
	[ "$(ls -A "$T/region1-inbox")" = office-1.pkg ]
	[ ! -e "$T/dp1/office" ]
	run pkgstage -s "$T/child" import "$T/region1-inbox/office-1.pkg"
	expect_status 0
	[ "$(pkgstage -s "$T/child" show office 1)" = "$(pkgstage show office 1)" ]
}

@test "site push: the next version is a delta against the one the records say the site holds" {
	inbox region1
	pkgpush --site region1 office
	mv "$T/region1-inbox/office-1.pkg" "$T/v1.pkg"
	vtree "$T/src" 2
	stage "$T/src"
	run pkgpush --refresh-existing office
	expect_status 0
	expect_output_has "region1: office 1 -> 2: wrote office-2.pkg (a delta against 1),"
	[ "$(ls -A "$T/region1-inbox")" = office-2.pkg ]
	whole=$(stat -c %s "$T/v1.pkg")
	delta=$(stat -c %s "$T/region1-inbox/office-2.pkg")
	[ "$delta" -lt "$whole" ]
	run pkgstage -s "$T/child" import "$T/region1-inbox/office-2.pkg"
	expect_status 2
	expect_output_has "a delta against office version 1"
	pkgstage -s "$T/child" import "$T/v1.pkg"
	run pkgstage -s "$T/child" import "$T/region1-inbox/office-2.pkg"
	expect_status 0
	[ "$(pkgstage -s "$T/child" show office 2)" = "$(pkgstage show office 2)" ]
	# Up to date: nothing written.
	rm "$T/region1-inbox/office-2.pkg"
	run pkgpush --site region1 office
	expect_status 0
	expect_output_has "region1: office 2: up to date"
	[ -z "$(ls -A "$T/region1-inbox")" ]
}

@test "site push: --cascade to a directory site says its pkgdist-cron pushes on, in the line and in --json; without it the line is as before" {
	inbox region1 region2
	run pkgpush --site region1 --cascade office
	expect_status 0
	expect_output_has "region1: office - -> 1: wrote office-1.pkg (whole), "
	[[ "$output" == *" bytes; its pkgdist-cron imports it and pushes it on" ]]
	run --separate-stderr pkgpush --json --site region2 --cascade office
	expect_status 0
	[[ "$output" == *'"target":"region2"'*'"cascade_at_import":true'* ]]
	pkgpush --forget region1 office >/dev/null
	rm "$T/region1-inbox/office-1.pkg"
	run pkgpush --site region1 office
	expect_status 0
	[[ "$output" == "region1: office - -> 1: wrote office-1.pkg (whole), "*" bytes" ]]
}

@test "site push: a missing inbox fails that site alone, with a retry job narrowed to it that finishes the push" {
	inbox region1 region2
	rmdir "$T/region2-inbox"
	run pkgpush --dp dp1 --all-sites office
	expect_status 1
	expect_output_has "region1: office - -> 1: wrote office-1.pkg"
	expect_output_has "region2: the inbox '$T/region2-inbox' cannot be opened: No such file or directory"
	expect_output_has "region2: retry queued as 'office@region2'"
	at_version "$T/dp1" 1
	grep -qx 'arg --only' "$PKGDIST_STORE/retry/office@region2"
	grep -qx 'arg region2' "$PKGDIST_STORE/retry/office@region2"
	grep -qx 'arg --all-sites' "$PKGDIST_STORE/retry/office@region2"
	run pkgpush --status office
	expect_status 1
	expect_output_has "region2 office - failed: the last push, of version 1, failed newest 1"
	mkdir "$T/region2-inbox"
	run pkgretry run --now
	expect_status 0
	[ "$(ls -A "$T/region2-inbox")" = office-1.pkg ]
	[ "$(ls -A "$T/region1-inbox")" = office-1.pkg ]
	run pkgpush --status office
	expect_status 0
	expect_output_has "region2 office 1 complete newest 1"
}

@test "site push: a failed write leaves no file in the inbox, and the site keeps what it held" {
	inbox region1
	pkgpush --site region1 office
	rm "$T/region1-inbox/office-1.pkg"
	vtree "$T/src" 2
	stage "$T/src"
	# The first write is the records of the push begun; the second,
	# the package file's.
	PKGDIST_FAULT=write:2:ENOSPC run pkgpush --site region1 office
	expect_status 1
	expect_output_has "No space left on device"
	[ -z "$(ls -A "$T/region1-inbox")" ]
	run pkgpush --status office
	expect_output_has "region1 office 1 failed"
	run pkgpush --site region1 office
	expect_status 0
	expect_output_has "region1: office 1 -> 2: wrote office-2.pkg (a delta against 1)"
}

@test "site push: --site-group, --only, -n and --json" {
	printf 'a r %s\nb r %s\nc other %s\n' "$T/a" "$T/b" "$T/c" >"$PKGDIST_STORE/sites"
	mkdir "$T/a" "$T/b" "$T/c"
	run pkgpush -n --site-group r office
	expect_status 0
	expect_output_has "a: office - -> 1: would write office-1.pkg (whole)"
	expect_output_has "b: office - -> 1: would write office-1.pkg (whole)"
	[ -z "$(ls -A "$T/a")" ] && [ -z "$(ls -A "$T/b")" ]
	run pkgpush --site-group r --only b office
	expect_status 0
	[ -z "$(ls -A "$T/a")" ] && [ -n "$(ls -A "$T/b")" ]
	run --separate-stderr pkgpush --json --site c office
	expect_status 0
	[[ "$output" == '{"schema":1,"target":"c","package":"office","from":null,"to":1,"ok":true,'* ]]
	[ -z "$(ls -A "$T/a")" ]
	run pkgpush --status
	expect_output_has "b office 1 complete newest 1"
	expect_output_has "c office 1 complete newest 1"
	expect_output_lacks "a office"
}

@test "site push: an unknown site or group is trouble before anything is touched" {
	inbox region1
	run pkgpush --dp dp1 --site nope office
	expect_status 2
	expect_output_has "--site: unknown site 'nope'"
	run pkgpush --dp dp1 --site-group nope office
	expect_status 2
	expect_output_has "--site-group: unknown site group 'nope'"
	[ ! -e "$T/dp1/office" ]
	[ -z "$(ls -A "$T/region1-inbox")" ]
}

@test "site push: a 'mount' line for the site keeps an unmounted inbox unwritten; the site fails with its retry" {
	inbox region1
	echo "mount r" >"$PKGDIST_STORE/config"
	run pkgpush --site region1 office
	expect_status 1
	expect_output_has "region1: $T/region1-inbox: not a mount point"
	expect_output_has "retry queued as 'office@region1'"
	[ -z "$(ls -A "$T/region1-inbox")" ]
}

@test "site push: an older version to a site that holds a newer one goes whole; the site is still recorded at the newer" {
	inbox region1
	vtree "$T/src" 2
	stage "$T/src"
	pkgpush --site region1 office
	mv "$T/region1-inbox/office-2.pkg" "$T/v2.pkg"
	run pkgpush --site region1 --version 1 office
	expect_status 0
	expect_output_has "region1: office 2 -> 1: wrote office-1.pkg (whole)"
	pkgstage -s "$T/child" import "$T/v2.pkg"
	run pkgstage -s "$T/child" import "$T/region1-inbox/office-1.pkg"
	expect_status 0
	run pkgpush --status office
	expect_output_has "region1 office 2 complete newest 2"
}

@test "site push: a site's retry job whose site left the site list moves to failed/ at once" {
	inbox region1
	rmdir "$T/region1-inbox"
	run pkgpush --site region1 office
	expect_status 1
	[ -f "$PKGDIST_STORE/retry/office@region1" ]
	: >"$PKGDIST_STORE/sites"
	run pkgretry run --now
	[ -f "$PKGDIST_STORE/retry/failed/office@region1" ]
	[ ! -e "$PKGDIST_STORE/retry/office@region1" ]
}

@test "site push: a temporary a killed push left in the inbox goes at the next push once a day old; a fresh one stays" {
	inbox region1
	old="$T/region1-inbox/.office-1.pkg.tmp-999-0"
	new="$T/region1-inbox/.office-1.pkg.tmp-998-0"
	other="$T/region1-inbox/.other-1.pkg.tmp-997-0"
	echo partial >"$old"
	echo partial >"$new"
	echo partial >"$other"
	touch -d '2 days ago' "$old" "$other"
	run pkgpush --site region1 office
	expect_status 0
	[ ! -e "$old" ] && [ -e "$new" ] && [ -e "$other" ]
	[ -f "$T/region1-inbox/office-1.pkg" ]
}

@test "sites: pkgpush --status on a terminal counts the child sites on a line of their own, not as DPs" {
	need_cmd script
	mkdir -p "$T/inbox1" "$T/inbox2"
	printf 'region1 r %s\nregion2 r %s\n' "$T/inbox1" "$T/inbox2" \
	    >"$PKGDIST_STORE/sites"
	pkgpush --all --site region1 office >/dev/null
	script -qec "pkgpush --status office" /dev/null | tr -d '\r' >"$T/tty" || true
	grep -q '^region1 ' "$T/tty"
	grep -qx '2 DPs: 2 complete at newest' "$T/tty"
	grep -qx '2 sites: 1 complete at newest, 1 without it' "$T/tty"
}
