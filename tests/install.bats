#!/usr/bin/env bats
# make install / uninstall: the tools, scripts and man pages land under
# PREFIX and work from there, finding each other without PATH.

load lib/common

install_into()
{
	# The build under test is installed as it is: install-files is
	# "make install" without its "make all", which could rebuild the
	# build under test with other flags while other tests use it.
	make -C "$PKGDIST_SRC" -s install-files B="$PKGDIST_BUILD" \
	    PREFIX="$1" >&2
}

@test "install: the four tools, the scripts and every man page land under PREFIX" {
	install_into "$T/p"
	for t in pkgdiff pkgstage pkgpush pkgretry pkgdist-update pkgdist-cron; do
		[ -x "$T/p/bin/$t" ] || { echo "missing bin/$t"; false; }
	done
	for m in man1/pkgdiff.1 man1/pkgstage.1 man1/pkgpush.1 man1/pkgretry.1 \
	    man5/pkgmanifest.5 man7/pkgdist.7; do
		[ -f "$T/p/share/man/$m" ] || { echo "missing $m"; false; }
	done
}

@test "install: installed tools run and the update script finds them beside itself" {
	install_into "$T/p"
	mkdir -p "$T/src/docs" "$T/dp1"
	printf 'one\n' >"$T/src/setup.ini"
	printf 'two\n' >"$T/src/docs/read me.txt"
	printf 'dp1 site %s\n' "$T/dp1" >"$T/dps"
	# Only the system's directories on PATH: nothing of the build.
	run env PATH=/usr/bin:/bin "$T/p/bin/pkgstage" add office "$T/src"
	expect_status 0
	[ "$output" = 1 ]
	cp "$T/dps" "$PKGDIST_STORE/dps"
	run env PATH=/usr/bin:/bin "$T/p/bin/pkgpush" --dp dp1 office
	expect_status 0
	printf 'three\n' >"$T/src/new.txt"
	run env PATH=/usr/bin:/bin "$T/p/bin/pkgdist-update" office "$T/src"
	expect_status 0
	[ "$(cat "$T/dp1/office/new.txt")" = three ]
	# DP files are written read-only, so modes differ (P lines) from
	# the source; the contents must not.
	run env PATH=/usr/bin:/bin "$T/p/bin/pkgdiff" verify \
	    <("$T/p/bin/pkgstage" show office) "$T/dp1/office"
	[ "$status" -le 1 ]
	! printf '%s\n' "$output" | grep -q '^[ADM] ' || false
}

@test "uninstall: removes what install put there and nothing else" {
	install_into "$T/p"
	touch "$T/p/bin/other-tool"
	make -C "$PKGDIST_SRC" -s uninstall PREFIX="$T/p"
	[ -f "$T/p/bin/other-tool" ]
	[ -z "$(find "$T/p" -type f ! -name other-tool)" ]
}
