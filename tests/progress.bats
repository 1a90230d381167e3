#!/usr/bin/env bats
# The progress line: on a terminal only, labelled with the package, with
# targets, bytes, percentage, rate and ETA; erased before every other
# line; redrawn at most ten times a second.  The terminal is a real
# pseudo-terminal (tests/lib/onpty.py); PKGDIST_FAULT_SLOW makes each
# write of the push slow enough for the line to show.

load lib/common
load lib/pkgpush

bats_require_minimum_version 1.5.0

setup()
{
	common_setup
	need_cmd python3
	unset PKGDIST_PROGRESS
	mkdir -p "$T/src"
	for i in $(seq 1 24); do
		head -c 40000 /dev/urandom >"$T/src/f$i"
	done
	# The modes pkgpush gives a DP's files, so that the DP verifies clean.
	chmod 0444 "$T/src"/*
	pkgstage add office "$T/src" >/dev/null
}

# onpty OUT CMD...: CMD on a terminal, what the terminal got in OUT.
onpty()
{
	python3 "$PKGDIST_SRC/tests/lib/onpty.py" "$@"
}

# visible OUT: the lines a terminal shows at the end: "\r\n" is a line
# end, and a "\r" (always followed by erase-to-end-of-line) starts the
# line afresh.  The last line, unterminated, is printed as "LAST:...".
visible()
{
	python3 -c '
import sys
raw = open(sys.argv[1], "rb").read().decode("utf-8", "replace")
raw = raw.replace("\r\n", "\n")
lines = raw.split("\n")
def shown(l):
    return l.split("\r")[-1].replace("\x1b[K", "")
for l in lines[:-1]:
    print(shown(l))
print("LAST:" + shown(lines[-1]))
' "$1"
}

@test "pkgpush: on a terminal one line shows the package, DPs done/total, bytes done/total, percentage, rate and ETA" {
	dps dp1 dp2 dp3
	PKGDIST_FAULT_SLOW=write:25 run onpty "$T/tty" pkgpush --all -j 3 office
	expect_status 0
	# The line was drawn, in full.
	grep -aqE $'\r\x1b\\[Koffice: [0-3]/3 DPs, [0-9.]+ [KMG]?i?B/~?[0-9.]+ [KMG]?i?B [0-9]+%, [0-9.]+ [KMG]?i?B/s, ETA [0-9]+:[0-9][0-9]' "$T/tty"
	# One line for all the DPs: every draw starts over on the same line.
	! grep -aqE 'office: [0-9]+/3 DPs[^\r]*'$'\r''\n' "$T/tty" || false
	for n in dp1 dp2 dp3; do
		at_version "$T/$n" 1
	done
}

@test "pkgpush: the progress line is erased before each report line and at the end" {
	dps dp1 dp2 dp3
	PKGDIST_FAULT_SLOW=write:25 run onpty "$T/tty" pkgpush --all -j 1 office
	expect_status 0
	# One DP at a time: until the last begins, the total is estimated
	# from those begun.
	grep -aqE $'\x1b\\[Koffice: [0-2]/3 DPs, [0-9.]+ [KMG]?i?B/~' "$T/tty"
	visible "$T/tty" >"$T/shown"
	cat "$T/shown"
	# The report lines, each on a line of its own, and nothing else.
	[ "$(grep -c ': office - -> 1: ' "$T/shown")" -eq 3 ]
	grep -qx 'dp1: office - -> 1: .*' "$T/shown"
	grep -qx 'dp3: office - -> 1: .*' "$T/shown"
	! grep -q 'DPs,' "$T/shown" || false
	[ "$(tail -n 1 "$T/shown")" = "LAST:" ]
}

@test "pkgpush: a DP that fails is reported above the line as it happens, and counted on it" {
	touch "$T/notadir"
	{
		printf 'dp1 g %s\n' "$T/dp1"
		printf 'dp2 g %s\n' "$T/notadir/dp2"
		printf 'dp3 g %s\n' "$T/dp3"
	} >"$PKGDIST_STORE/dps"
	mkdir "$T/dp1" "$T/dp3"
	PKGDIST_FAULT_SLOW=write:25 run onpty "$T/tty" pkgpush --all -j 1 office
	expect_status 1
	visible "$T/tty" >"$T/shown"
	cat "$T/shown"
	grep -qx 'pkgpush: dp2: .*' "$T/shown"
	grep -qx "pkgpush: dp2: retry queued as '.*'" "$T/shown"
	! grep -q 'DPs,' "$T/shown" || false
	# After the failure the line counts it.
	grep -aqE 'office: 2/3 DPs \(1 failed\), ' "$T/tty"
	[ "$(tail -n 1 "$T/shown")" = "LAST:" ]
}

@test "pkgpush: the progress line is redrawn at most ten times a second" {
	dps dp1 dp2
	t0=$(date +%s%N)
	PKGDIST_FAULT_SLOW=write:25 run onpty "$T/tty" pkgpush --all -j 2 office
	t1=$(date +%s%N)
	expect_status 0
	cat -v "$T/tty"
	draws=$(grep -ao $'\r\x1b\\[Koffice: ' "$T/tty" | wc -l)
	ms=$(((t1 - t0) / 1000000))
	echo "$draws draws in $ms ms"
	[ "$draws" -ge 1 ]
	[ "$draws" -le $((ms / 100 + 2)) ]
}

@test "pkgpush: no progress line when stderr is not a terminal" {
	dps dp1 dp2
	# stdout on the terminal, stderr to a file.
	PKGDIST_FAULT_SLOW=write:25 run onpty "$T/tty" sh -c \
	    'pkgpush --all office 2>"$1"' sh "$T/err"
	expect_status 0
	grep -aq 'dp1: office - -> 1: ' "$T/tty"
	! grep -aq $'\x1b' "$T/tty" || false
	! grep -aq $'\x1b\|DPs' "$T/err" || false
	# Neither on a terminal.
	PKGDIST_FAULT_SLOW=write:25 run --separate-stderr pkgpush --all office
	expect_status 0
	! grep -q $'\x1b\\|DPs' <<<"$stderr" || false
}

@test "pkgstage add: the progress line is labelled with the package and erased" {
	PKGDIST_FAULT_SLOW=write:25 run onpty "$T/tty" pkgstage add office "$T/src"
	expect_status 0
	grep -aq $'\r\x1b\\[Koffice: staging: ' "$T/tty"
	visible "$T/tty" >"$T/shown"
	cat "$T/shown"
	grep -qx '2' "$T/shown"
	[ "$(tail -n 1 "$T/shown")" = "LAST:" ]
}
