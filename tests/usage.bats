#!/usr/bin/env bats
# Usage and --help of every tool and script: the usage lines are the man
# page's SYNOPSIS, word for word; --help adds one line per option, and
# every option of the SYNOPSIS has its line; a bad flag prints the same
# usage lines on stderr (exit 2).

load lib/common

bats_require_minimum_version 1.5.0

# run_prog NAME ARGS...: the tool from the build, or the script from the
# source tree.
run_prog()
{
	local name=$1
	shift
	case $name in
	pkgdist-*) sh "$PKGDIST_SRC/scripts/$name" "$@" ;;
	*) "$name" "$@" ;;
	esac
}

# usage_words FILE: the usage lines at the top of FILE (up to the first
# blank line), without "usage: ", as one line of words.
usage_words()
{
	sed '/^$/q' "$1" | sed '/^$/d; s/^usage: //; s/^ *//' |
	    tr -s ' \t\n' '   '
}

# synopsis_words NAME: the SYNOPSIS of NAME's man page as mandoc renders
# it, as one line of words.
synopsis_words()
{
	mandoc -Tascii "$PKGDIST_SRC/man/$1.1" | col -bx |
	    sed -n '/^SYNOPSIS/,/^DESCRIPTION/p' | sed '1d;$d' |
	    sed 's/^ *//' | tr -s ' \t\n' '   '
}

check_synopsis()
{
	command -v mandoc >/dev/null && command -v col >/dev/null ||
	    skip "mandoc or col not installed"
	run_prog "$1" -h >"$T/help"
	usage_words "$T/help" >"$T/u"
	synopsis_words "$1" >"$T/m"
	[ -s "$T/m" ]
	diff "$T/u" "$T/m"
}

# check_options NAME: --help has a line for every option of the usage
# lines, each saying something after its flags.
check_options()
{
	local flag opts
	run_prog "$1" --help >"$T/help"
	# Option lines: indented, starting with a flag; the flags column ends
	# at the first run of two blanks.
	sed '1,/^$/d' "$T/help" | grep -E '^ +-' >"$T/optlines" || true
	[ -s "$T/optlines" ] || {
		echo "$1 --help has no option lines"
		return 1
	}
	if grep -Ev '^ +-[^ ]*( [^ ]+)*  +[^ ]' "$T/optlines"; then
		echo "option lines above say nothing after their flags"
		return 1
	fi
	opts=$(sed -E 's/^ +//; s/  .*//' "$T/optlines" | tr ',' '\n' |
	    sed -E 's/^ +//; s/[ =].*//')
	for flag in $(usage_words "$T/help" | tr ' []|' '\n\n\n\n' |
	    grep -E '^--?[a-zA-Z]' | sed -E 's/[:=].*//' | sort -u); do
		if ! printf '%s\n' "$opts" | grep -qx -- "$flag"; then
			echo "$1 --help: no line for '$flag'"
			return 1
		fi
	done
}

check_bad_flag()
{
	run_prog "$1" -h >"$T/help"
	usage_words "$T/help" >"$T/u"
	run -2 --separate-stderr run_prog "$1" --no-such-flag-at-all
	printf '%s\n' "$stderr" | grep -v "^$1: " >"$T/err"
	usage_words "$T/err" >"$T/e"
	diff "$T/u" "$T/e"
	[ -z "$output" ]
}

@test "pkgdiff: the usage is the man page's SYNOPSIS" {
	check_synopsis pkgdiff
}

@test "pkgstage: the usage is the man page's SYNOPSIS" {
	check_synopsis pkgstage
}

@test "pkgpush: the usage is the man page's SYNOPSIS" {
	check_synopsis pkgpush
}

@test "pkgretry: the usage is the man page's SYNOPSIS" {
	check_synopsis pkgretry
}

@test "pkgdist-update: the usage is the man page's SYNOPSIS" {
	check_synopsis pkgdist-update
}

@test "pkgdist-cron: the usage is the man page's SYNOPSIS" {
	check_synopsis pkgdist-cron
}

@test "pkgdiff: --help has one line for each option" {
	check_options pkgdiff
}

@test "pkgstage: --help has one line for each option" {
	check_options pkgstage
}

@test "pkgpush: --help has one line for each option" {
	check_options pkgpush
}

@test "pkgretry: --help has one line for each option" {
	check_options pkgretry
}

@test "pkgdist-update: --help has one line for each option" {
	check_options pkgdist-update
}

@test "pkgdist-cron: --help has one line for each option" {
	check_options pkgdist-cron
}

@test "every tool and script: a bad flag prints the usage lines on stderr, exit 2" {
	local p
	for p in pkgdiff pkgstage pkgpush pkgretry pkgdist-update \
	    pkgdist-cron; do
		check_bad_flag "$p"
	done
}

@test "a bad option value names the option, the value and what it wants (exit 2)" {
	run --separate-stderr pkgpush --version abc p
	expect_status 2
	[[ "$stderr" == *"pkgpush: --version 'abc': want a whole number from 1 up: versions are numbered from 1"* ]]
	[[ "$stderr" == *"usage: pkgpush"* ]]
	run --separate-stderr pkgpush -j 0 p
	expect_status 2
	[[ "$stderr" == *"pkgpush: -j '0': want a whole number from 1 to 1024: how many DPs to push to at once"* ]]
	run --separate-stderr pkgpush --keep 0 p
	expect_status 2
	[[ "$stderr" == *"pkgpush: --keep '0': want a whole number from 1 to 1000: version trees kept on a DP, the current one included"* ]]
	run --separate-stderr pkgstage add --version 0 p "$T"
	expect_status 2
	[[ "$stderr" == *"pkgstage: --version '0': want a whole number from 1 up"* ]]
	run --separate-stderr pkgstage gc --keep x
	expect_status 2
	[[ "$stderr" == *"pkgstage: --keep 'x': want a whole number from 0 to 1000000"* ]]
	run --separate-stderr pkgretry run --max-attempts 0
	expect_status 2
	[[ "$stderr" == *"pkgretry: --max-attempts '0': want a whole number from 1 to 1000000"* ]]
	run --separate-stderr pkgdiff scan -j 300 "$T"
	expect_status 2
	[[ "$stderr" == *"pkgdiff: -j '300': want a whole number from 1 to 256"* ]]
}

@test "man pages: no mdoc macro is printed as text (mandoc and groff)" {
	local f r bad=0
	need_cmd mandoc
	for f in "$PKGDIST_SRC"/man/*.[157]; do
		for r in mandoc groff; do
			command -v "$r" >/dev/null || continue
			if [ "$r" = mandoc ]; then
				mandoc -Tascii "$f"
			else
				groff -mdoc -Tascii "$f" 2>/dev/null
			fi | col -bx | grep -nE \
			    '(^|[ (])(Fl|Ar|Cm|Op|Pq|Nm|Xr|Ev|Pa|Sy|Li|Ql|Dq|Sq) [^ ]' \
			    >"$T/macros" || true
			if [ -s "$T/macros" ]; then
				sed "s|^|$r $(basename "$f"): |" "$T/macros"
				bad=1
			fi
		done
	done
	[ "$bad" -eq 0 ]
}

@test "man pages: every EXIT STATUS gives 130 and 143 (SIGINT, SIGTERM) and what they leave" {
	local f
	need_cmd mandoc
	for f in pkgdiff pkgstage pkgpush pkgretry pkgdist-update pkgdist-cron; do
		mandoc -Tascii "$PKGDIST_SRC/man/$f.1" | col -bx |
		    sed -n '/^EXIT STATUS/,/^EXAMPLES/p' >"$T/exit"
		grep -q '130' "$T/exit" && grep -q '143' "$T/exit" &&
		    grep -q 'SIGINT' "$T/exit" && grep -q 'SIGTERM' "$T/exit" || {
			echo "$f(1): EXIT STATUS lacks 130/143"
			return 1
		}
	done
}
