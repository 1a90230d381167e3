#!/usr/bin/env bats
# The Makefile's dependencies: a header, or a source another includes,
# rebuilds exactly what uses it, in the library, the tools and the unit
# tests (the fuzz harnesses are compiled afresh by every tests/fuzz/run).
# make -n -W FILE says what make would do were FILE new, against the
# build under test: nothing is built or touched.

load lib/common

bats_require_minimum_version 1.5.0

# would FILE: the objects and programs make would rebuild, one a line.
would()
{
	make -n --no-print-directory -C "$PKGDIST_SRC" B="$B" -W "$1" \
	    all units 2>&1 | grep -oE -- "-o $B/[^ ]+" | sed 's/^-o //'
}

setup()
{
	common_setup
	need_cmd make
	# The build directory as the Makefile names it (relative to the
	# source, as the dependency files record their targets).
	case $PKGDIST_BIN in
	"$PKGDIST_SRC"/*/bin) B=${PKGDIST_BIN#"$PKGDIST_SRC"/} B=${B%/bin} ;;
	*) skip "the build under test is not inside the source tree" ;;
	esac
	[ -f "$PKGDIST_SRC/$B/common/serve.d" ] ||
		skip "no dependency files in $B"
}

@test "make deps: a core header rebuilds its includers and the programs, not the other objects" {
	would common/serve.h >"$T/w"
	grep -qx "$B/common/serve.o" "$T/w"
	grep -qx "$B/cmd/pkgpush/pkgpush.o" "$T/w"
	grep -qx "$B/bin/pkgpush" "$T/w"
	grep -qx "$B/unit/test_serve" "$T/w"
	run ! grep -qx "$B/common/manifest.o" "$T/w"
}

@test "make deps: tests/unit/tap.h rebuilds the unit tests, not the library" {
	would tests/unit/tap.h >"$T/w"
	grep -qx "$B/tests/unit/test_num.o" "$T/w"
	grep -qx "$B/unit/test_num" "$T/w"
	run ! grep -q "^$B/common/" "$T/w"
}

@test "make deps: a fuzz harness rebuilds the unit program that replays it, no other" {
	# As the unit program's #include spells it (make matches names).
	would tests/unit/../fuzz/manifest.c >"$T/w"
	grep -qx "$B/tests/unit/fuzz_manifest.o" "$T/w"
	run ! grep -qx "$B/tests/unit/fuzz_pack.o" "$T/w"
	run ! grep -q "^$B/common/" "$T/w"
}
