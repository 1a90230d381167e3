#!/usr/bin/env bats
# Hostile input: manifests, package files, DPs with planted links, DP
# lists and retry jobs crafted to break out of the store or a DP.  Each
# is refused with a message, and a sentinel directory outside (what an
# attacker would aim at) keeps every name, inode, link count, mode, size
# and time (tests/torture/checks.bash chk_outside_same).

load lib/common
load torture/torture
load torture/checks
load hostile/hostile

need_tool()
{
	local t
	for t in "$@"; do
		[ -x "$PKGDIST_BIN/$t" ] || skip "$t is not built yet"
	done
}

@test "hostile manifests: pkgdiff verify and diff refuse every broken rule with FILE:LINE, exit 2" {
	chk_sentinel "$T/sentinel"
	hostile_src "$T/src" "$T/sentinel"
	local n=0 name
	for name in $(hostile_manifests "$T/m" "$T/sentinel"); do
		[ "$name" != huge-size ] || continue	# a size is no rule
		run pkgdiff verify "$T/m/$name.manifest" "$T/src"
		expect_status 2
		expect_output_has "pkgdiff: $T/m/$name.manifest:"
		run pkgdiff diff "$T/m/$name.manifest" "$T/src"
		expect_status 2
		expect_output_has "$name.manifest:"
		run pkgdiff scan --reuse "$T/m/$name.manifest" "$T/src"
		expect_status 2
		expect_output_has "$name.manifest:"
		n=$((n + 3))
	done
	chk_outside_same "$T/sentinel"
	hostile_record pkgdiff-manifests "$n"
}

@test "hostile manifests: pkgstage add --manifest refuses every one, exit 2, store unchanged, nothing read or written outside" {
	need_tool pkgstage
	chk_sentinel "$T/sentinel"
	hostile_src "$T/src" "$T/sentinel"
	mkdir -p "$T/ok"
	printf 'ok\n' >"$T/ok/f"
	pkgstage add hostile "$T/ok" >/dev/null
	local before n=0 name src
	before=$(hostile_store_state)
	for name in $(hostile_manifests "$T/m" "$T/sentinel"); do
		src=$T/src
		[ "$name" != through-link ] || src=$T/src.link
		run pkgstage add --manifest "$T/m/$name.manifest" hostile "$src"
		[ "$status" -eq 2 ] || { echo "$name: exit $status: $output" >&2; return 1; }
		expect_output_has "pkgstage: "
		[ "$(hostile_store_state)" = "$before" ] ||
		    { echo "$name: the store changed" >&2; return 1; }
		n=$((n + 1))
	done
	chk_fsck
	[ "$(chk_versions hostile)" = 1 ]
	chk_outside_same "$T/sentinel"
	hostile_record pkgstage-add-manifests "$n"
}

@test "hostile manifests: a package file carrying any of them is refused by import, exit 2, store unchanged" {
	need_tool pkgstage
	chk_sentinel "$T/sentinel"
	printf 'hi\n' >"$T/hi"
	mkdir -p "$T/ok"
	printf 'ok\n' >"$T/ok/f"
	pkgstage add hostile "$T/ok" >/dev/null
	local before n=0 name
	before=$(hostile_store_state)
	for name in $(hostile_manifests "$T/m" "$T/sentinel"); do
		# version 2, so a refusal is not "already present"
		sed 's/^version 1$/version 2/' "$T/m/$name.manifest" >"$T/m2"
		"$MKPACK" "$T/m2" "$T/hi" >"$T/$name.pack"
		run pkgstage import "$T/$name.pack"
		[ "$status" -eq 2 ] || { echo "$name: exit $status: $output" >&2; return 1; }
		expect_output_has "pkgstage: "
		[ "$(hostile_store_state)" = "$before" ] ||
		    { echo "$name: the store changed" >&2; return 1; }
		n=$((n + 1))
	done
	chk_fsck
	[ "$(chk_versions hostile)" = 1 ]
	chk_outside_same "$T/sentinel"
	hostile_record pkgstage-import-manifests "$n"
}

@test "hostile package files: lying lengths, counts, sizes, names and checksums are refused before anything is allocated or stored" {
	need_tool pkgstage
	chk_sentinel "$T/sentinel"
	printf 'hi\n' >"$T/hi"
	printf 'pkgdist-manifest 1\npackage pkg\nversion 1\nf 0644 3 1700000000 %s a\n' \
	    "$HOSTILE_DIGEST" >"$T/m"
	# The honest file is accepted (into another store): the cases
	# below differ from it only where they lie.
	"$MKPACK" "$T/m" "$T/hi" >"$T/ok.pack"
	PKGDIST_STORE=$T/other pkgstage import "$T/ok.pack" >/dev/null
	mkdir -p "$T/ok"
	printf 'ok\n' >"$T/ok/f"
	pkgstage add other "$T/ok" >/dev/null
	local before n=0 c opts
	before=$(hostile_store_state)
	while IFS='|' read -r c opts; do
		[ -n "$c" ] || continue
		# shellcheck disable=SC2086 # options split on purpose
		"$MKPACK" $opts "$T/m" "$T/hi" >"$T/$c.pack"
		run pkgstage import "$T/$c.pack"
		[ "$status" -eq 2 ] || { echo "$c: exit $status: $output" >&2; return 1; }
		expect_output_has "pkgstage: "
		[ "$(hostile_store_state)" = "$before" ] ||
		    { echo "$c: the store changed" >&2; return 1; }
		n=$((n + 1))
	done <<'CASES'
manifest-len-2^60|--manifest-len 1152921504606846976
manifest-stored-2^60|--manifest-stored 1152921504606846976
manifest-len-short|--manifest-len 10
count-2^40|--count 1099511627776
count-2^64-1|--count 18446744073709551615
count-0|--count 0
content-size-2^60|--size 1152921504606846976
content-size-off-by-one|--size 4
stored-2^60|--stored 1152921504606846976
stored-short|--stored 2
siglen-2^31|--siglen 2147483648
bad-trailer|--bad-trailer
no-trailer|--no-trailer
name-dotdot|--package ../../sentinel
name-slash|--package a/b
name-dot|--package .hidden
name-mismatch|--package other
version-0|--version 0
version-mismatch|--version 7
format-3|--format 3
recipe-in-format-1|--method 2
recipe-in-full|--format 2 --method 2
flags-1|--flags 1
base-missing|--base 5
CASES
	# Truncated anywhere: every prefix of a few lengths.
	local len size
	size=$(stat -c %s "$T/ok.pack")
	for len in 0 7 8 20 40 60 $((size / 2)) $((size - 33)) $((size - 1)); do
		head -c "$len" "$T/ok.pack" >"$T/trunc.pack"
		run pkgstage import "$T/trunc.pack"
		[ "$status" -eq 2 ] || { echo "truncated at $len: exit $status: $output" >&2; return 1; }
		n=$((n + 1))
	done
	# Garbage after the trailer.
	{ cat "$T/ok.pack"; printf 'x'; } >"$T/tail.pack"
	run pkgstage import "$T/tail.pack"
	expect_status 2
	n=$((n + 1))
	chk_fsck
	[ "$(chk_versions pkg)" = "" ]
	[ ! -e "$PKGDIST_STORE/packages/pkg/v" ] || [ -z "$(ls "$PKGDIST_STORE/packages/pkg/v")" ]
	chk_outside_same "$T/sentinel"
	hostile_record pkgstage-import-packfiles "$n"
}

@test "hostile manifests: planted in the store as a version, pkgpush refuses to push it and fsck names it" {
	need_tool pkgstage pkgpush
	chk_sentinel "$T/sentinel"
	mkdir -p "$T/ok" "$T/dp1"
	printf 'hi\n' >"$T/ok/a"
	printf 'dp1 g %s\n' "$T/dp1" >"$PKGDIST_STORE/dps" 2>/dev/null || true
	local n=0 name mf
	for name in $(hostile_manifests "$T/m" "$T/sentinel"); do
		rm -rf "$PKGDIST_STORE" "$T/dp1"
		pkgstage add hostile "$T/ok" >/dev/null
		dps dp1
		mf=$PKGDIST_STORE/packages/hostile/v/1/manifest
		chmod u+w "$mf" "$(dirname "$mf")"
		cat "$T/m/$name.manifest" >"$mf"
		run pkgpush --dp dp1 hostile
		[ "$status" -ne 0 ] || { echo "$name: pkgpush exit 0: $output" >&2; return 1; }
		expect_output_has "pkgpush: "
		[ ! -e "$T/dp1/hostile" ] && [ ! -L "$T/dp1/hostile" ] ||
		    { echo "$name: pkgpush wrote $T/dp1/hostile" >&2; return 1; }
		chk_outside_same "$T/sentinel"
		[ ! -e "$T/escape" ] || { echo "$name: wrote $T/escape" >&2; return 1; }
		if [ "$name" != huge-size ]; then
			run pkgstage fsck
			[ "$status" -eq 1 ] || { echo "$name: fsck exit $status: $output" >&2; return 1; }
			expect_output_has "hostile"
		fi
		n=$((n + 1))
	done
	hostile_record pkgpush-store-manifests "$n"
}

# dp_setup: versions 1 and 2 of "pkg" (2 changes hello.txt and sub/f2,
# keeps sub/f1), DPs dp1 (atomic) and dp2 (in place) at version 1, and a
# sentinel whose sub/ holds files named as the package's, so a hard link
# or a chmod through a planted link would show in its link counts and
# modes.
dp_setup()
{
	mkdir -p "$T/src/sub" "$T/dp1" "$T/dp2" "$T/sentinel/sub"
	printf 'hello\n' >"$T/src/hello.txt"
	printf 'one\n' >"$T/src/sub/f1"
	printf 'two\n' >"$T/src/sub/f2"
	pkgstage add pkg "$T/src" >/dev/null
	printf 'hello 2\n' >"$T/src/hello.txt"
	printf 'two 2\n' >"$T/src/sub/f2"
	pkgstage add pkg "$T/src" >/dev/null
	chk_store_manifest pkg 1 "$T/want.1"
	chk_store_manifest pkg 2 "$T/want.2"
	dps dp1 dp2
	pkgpush --version 1 --dp dp1 pkg >/dev/null
	pkgpush --inplace --version 1 --dp dp2 pkg >/dev/null
	printf 'sentinel one\n' >"$T/sentinel/sub/f1"
	printf 'sentinel two\n' >"$T/sentinel/sub/f2"
	printf 'sentinel hello\n' >"$T/sentinel/hello.txt"
	chmod 0600 "$T/sentinel/sub/f1" "$T/sentinel/sub/f2"
	chk_sentinel "$T/sentinel"
}

# plant LINK TARGET: replace LINK (made writable first) by a symlink.
plant()
{
	chmod u+w "$(dirname "$1")" 2>/dev/null || true
	rm -rf "$1"
	ln -s "$2" "$1"
}

# push_hostile DP [FLAGS]: push version 2 to DP; whatever the outcome,
# the sentinel is untouched; a push that succeeded left exactly version
# 2 (the planted link replaced, never served); one that failed says why.
push_hostile()
{
	local dp=$1
	shift
	run pkgpush "$@" --dp "$dp" pkg
	chk_outside_same "$T/sentinel"
	# A push that went through left exactly version 2.
	if [ "$status" -eq 0 ]; then
		chk_tree_is "$T/$dp/pkg" "$T/want.2" || {
			echo "$dp/pkg is not version 2 after exit 0:" \
			    "$(chk_tree_diff "$T/$dp/pkg" "$T/want.2")" >&2
			return 1
		}
	else
		expect_output_has "pkgpush: $dp: "
	fi
}

@test "hostile DPs: .pkgdist, .pkgdist/PKG, .pkgdist/.lock and the state file planted as links never make pkgpush write outside" {
	need_tool pkgstage pkgpush
	dp_setup
	local n=0 dp flags
	for dp in dp1 dp2; do
		flags=
		[ $dp = dp1 ] || flags=--inplace
		cp -a "$T/$dp" "$T/$dp.orig"
		# The DP's .pkgdist itself, to a populated directory.
		plant "$T/$dp/.pkgdist" "$T/sentinel"
		push_hostile $dp $flags
		expect_status 1
		n=$((n + 1))
		rm -rf "$T/$dp"; cp -a "$T/$dp.orig" "$T/$dp"
		# The package's state directory.
		plant "$T/$dp/.pkgdist/pkg" "$T/sentinel"
		push_hostile $dp $flags
		expect_status 1
		expect_output_has "pkgpush: $dp: "
		n=$((n + 1))
		rm -rf "$T/$dp"; cp -a "$T/$dp.orig" "$T/$dp"
		# The DP lock, to a file that exists and to one that does not.
		plant "$T/$dp/.pkgdist/.lock" "$T/sentinel/passwd"
		push_hostile $dp $flags
		n=$((n + 1))
		plant "$T/$dp/.pkgdist/.lock" "$T/sentinel/newlock"
		push_hostile $dp $flags
		[ ! -e "$T/sentinel/newlock" ]
		n=$((n + 1))
		rm -rf "$T/$dp"; cp -a "$T/$dp.orig" "$T/$dp"
		# The state record.
		plant "$T/$dp/.pkgdist/pkg/state" "$T/sentinel/passwd"
		push_hostile $dp $flags
		n=$((n + 1))
		rm -rf "$T/$dp"; cp -a "$T/$dp.orig" "$T/$dp"
		# Debris names the next push removes: a link to a directory
		# outside, whose contents must survive.
		ln -s "$T/sentinel" "$T/$dp/.pkgdist/pkg/tmp.planted"
		push_hostile $dp $flags
		n=$((n + 1))
		rm -rf "$T/$dp"; cp -a "$T/$dp.orig" "$T/$dp"
	done
	hostile_record pkgpush-dp-meta-links "$n"
}

@test "hostile DPs: a link planted inside the atomic version tree never lets pkgpush link, chmod or write files outside" {
	need_tool pkgstage pkgpush
	dp_setup
	local tree n=0
	tree=$T/dp1/$(readlink "$T/dp1/pkg")
	cp -a "$T/dp1" "$T/dp1.orig"
	# A directory of the old tree replaced by a link to the sentinel's
	# directory holding files of the same names (sub/f1 is unchanged
	# in version 2: a hard link "to the old file" would go outside).
	plant "$tree/sub" "$T/sentinel/sub"
	push_hostile dp1
	n=$((n + 1))
	[ -L "$T/dp1/pkg" ]
	chk_tree_is "$T/dp1/pkg" "$T/want.2" || chk_tree_is "$T/dp1/pkg" "$T/want.1" ||
	    [ "$status" -ne 0 ]
	# An unchanged file of the old tree replaced by a link outside.
	rm -rf "$T/dp1"; cp -a "$T/dp1.orig" "$T/dp1"
	chmod u+w "$tree/sub"
	plant "$tree/sub/f1" "$T/sentinel/sub/f1"
	push_hostile dp1
	# Pushed or refused, the DP serves version 1 or 2 exactly: never
	# the planted link in the new tree.
	[ "$status" -ne 0 ] || chk_tree_is "$T/dp1/pkg" "$T/want.2" ||
	    { echo "dp1/pkg is not version 2: $(chk_tree_diff "$T/dp1/pkg" "$T/want.2")" >&2; return 1; }
	n=$((n + 1))
	# The link DP/PKG itself pointing outside: refused, left as it is.
	rm -rf "$T/dp1"; cp -a "$T/dp1.orig" "$T/dp1"
	plant "$T/dp1/pkg" "$T/sentinel"
	push_hostile dp1
	expect_status 1
	[ "$(readlink "$T/dp1/pkg")" = "$T/sentinel" ]
	n=$((n + 1))
	# The same with --verify (which re-hashes what the DP holds).
	rm -rf "$T/dp1"; cp -a "$T/dp1.orig" "$T/dp1"
	plant "$tree/sub" "$T/sentinel/sub"
	push_hostile dp1 --verify
	n=$((n + 1))
	hostile_record pkgpush-atomic-tree-links "$n"
}

@test "hostile DPs: a link planted in an in-place package directory never lets pkgpush write, chmod or delete outside" {
	need_tool pkgstage pkgpush
	dp_setup
	local n=0
	cp -a "$T/dp2" "$T/dp2.orig"
	# A directory replaced by a link to the sentinel's directory.
	plant "$T/dp2/pkg/sub" "$T/sentinel/sub"
	push_hostile dp2 --inplace
	expect_status 1
	n=$((n + 1))
	# A changed file replaced by a link to a file outside.
	rm -rf "$T/dp2"; cp -a "$T/dp2.orig" "$T/dp2"
	plant "$T/dp2/pkg/hello.txt" "$T/sentinel/passwd"
	push_hostile dp2 --inplace
	n=$((n + 1))
	# An unchanged file replaced by a link outside, then --verify,
	# which repairs drift.
	rm -rf "$T/dp2"; cp -a "$T/dp2.orig" "$T/dp2"
	chmod u+w "$T/dp2/pkg/sub"
	plant "$T/dp2/pkg/sub/f1" "$T/sentinel/sub/f1"
	push_hostile dp2 --inplace --verify
	n=$((n + 1))
	# A temporary name planted as a link outside.
	rm -rf "$T/dp2"; cp -a "$T/dp2.orig" "$T/dp2"
	chmod u+w "$T/dp2/pkg" "$T/dp2/pkg/sub"
	ln -s "$T/sentinel/passwd" "$T/dp2/pkg/.pkgdist-tmp-1-0"
	ln -s "$T/sentinel/sub" "$T/dp2/pkg/sub/.pkgdist-tmp-1-1"
	run pkgpush --inplace --dp dp2 pkg
	chk_outside_same "$T/sentinel"
	# --verify removes them (as debris) and leaves the contents of
	# version 2; directory times: see the BUG test below.
	run pkgpush --inplace --verify --dp dp2 pkg
	expect_status 0
	chk_outside_same "$T/sentinel"
	[ -z "$(find "$T/dp2/pkg" -name '.pkgdist-tmp-*')" ]
	chk_inplace_ok dp2 "$T/want.1" "$T/want.2"
	[ "$(tail -1 "$T/torture-notes")" = new ]
	n=$((n + 1))
	# The package directory itself a link outside: refused.
	rm -rf "$T/dp2"; cp -a "$T/dp2.orig" "$T/dp2"
	plant "$T/dp2/pkg" "$T/sentinel"
	push_hostile dp2 --inplace
	expect_status 1
	[ "$(readlink "$T/dp2/pkg")" = "$T/sentinel" ]
	n=$((n + 1))
	hostile_record pkgpush-inplace-tree-links "$n"
}

@test "pkgpush --inplace --verify: removing leftover temporaries leaves each directory's time as its manifest says" {
	need_tool pkgstage pkgpush
	mkdir -p "$T/src/sub" "$T/dp"
	printf 'a\n' >"$T/src/sub/f"
	touch -d @1600000000 "$T/src/sub"
	pkgstage add pkg "$T/src" >/dev/null
	dps dp
	pkgpush --inplace --dp dp pkg >/dev/null
	pkgdiff verify "$T/dp/.pkgdist/pkg/manifest" "$T/dp/pkg"
	printf 'debris\n' >"$T/dp/pkg/sub/.pkgdist-tmp-99-0"
	# The directory's time as the manifest says (as a push leaves it).
	touch -d @1600000000 "$T/dp/pkg/sub"
	run pkgpush --inplace --verify --dp dp pkg
	expect_status 0
	[ ! -e "$T/dp/pkg/sub/.pkgdist-tmp-99-0" ]
	run pkgdiff verify "$T/dp/.pkgdist/pkg/manifest" "$T/dp/pkg"
	expect_status 0
}

# ---- hostile DP lists -------------------------------------------------

@test "hostile DP lists: a list that would reach outside (relative, dot-dot, ssh option, NUL, newline, huge) is refused whole; no DP is touched, no ssh runs" {
	need_tool pkgstage pkgpush
	chk_sentinel "$T/sentinel"
	mkdir -p "$T/src" "$T/dp1"
	printf 'hi\n' >"$T/src/a"
	pkgstage add pkg "$T/src" >/dev/null
	# An ssh that leaves a mark if it is ever started.
	printf '#!/bin/sh\ntouch "%s/ssh-ran"\nexit 1\n' "$T" >"$T/fake-ssh"
	chmod +x "$T/fake-ssh"
	export PKGDIST_SSH=$T/fake-ssh
	local n=0 line
	while IFS= read -r line; do
		[ -n "$line" ] || continue
		line=${line//@T@/$T}
		printf 'dp1 g %s\n%s\n' "$T/dp1" "$line" >"$PKGDIST_STORE/dps"
		run pkgpush --all pkg
		[ "$status" -eq 2 ] ||
		    { echo "line '$line': exit $status: $output" >&2; return 1; }
		expect_output_has "dps:2"
		[ -z "$(ls -A "$T/dp1")" ] ||
		    { echo "line '$line': dp1 was touched" >&2; return 1; }
		n=$((n + 1))
	done <<'LINES'
evil g ../sentinel
evil g sentinel
evil g @T@/dp1/../sentinel\000x
evil g ssh://-oProxyCommand=touch\040@T@/pwned/x
evil g ssh://host:-22/x
evil g ssh://host:99999/x
evil g ssh://host/relative/../../x\000
../evil g @T@/sentinel
.hidden g @T@/sentinel
evil ../g @T@/sentinel
evil g @T@/sentinel extra
dp1 g @T@/sentinel
LINES
	# A list of a million DPs, and one line of a megabyte.
	{
		printf 'dp1 g %s\n' "$T/dp1"
		head -c 1048576 /dev/zero | tr '\0' 'a'
		printf ' g /x\n'
	} >"$PKGDIST_STORE/dps"
	run pkgpush --all pkg
	expect_status 2
	[ -z "$(ls -A "$T/dp1")" ]
	n=$((n + 1))
	[ ! -e "$T/ssh-ran" ] && [ ! -e "$T/pwned" ]
	chk_outside_same "$T/sentinel"
	hostile_record pkgpush-dp-lists "$n"
}

# ---- hostile retry jobs -----------------------------------------------

# job_text [FIELD=VALUE...]: the honest job ($T/job, queued by pkgretry
# add: a pkgdiff job that, if run, writes into the sentinel, so a job
# that should have been refused and ran anyway shows there), with each
# FIELD's line replaced by "FIELD VALUE".
job_text()
{
	awk -v subs="$*" 'BEGIN { n = split(subs, s, " ") }
	    { for (i = 1; i <= n; i++) { f = s[i]; sub(/=.*/, "", f)
		  if ($1 == f) { v = s[i]; sub(/^[^=]*=/, "", v); $0 = f " " v } }
	      print }' "$T/job"
}

@test "hostile retry jobs: links, lying ids, overflowing numbers, NUL bytes, oversize files and planted directories are refused; nothing runs, nothing outside is written" {
	need_tool pkgretry
	mkdir -p "$T/src" "$PKGDIST_STORE/retry"
	printf 'hi\n' >"$T/src/a"
	chk_sentinel "$T/sentinel"
	local r=$PKGDIST_STORE/retry n=0 id
	# The control: the honest job runs (it stages version 1 of ctl),
	# so every case below would show if it ran (a version 2).  A job
	# may not write outside its store (no -o): none may, the sentinel
	# shows.
	pkgretry add -- pkgstage add ctl "$T/src"
	id=ctl+pkgstage
	cp "$r/$id" "$T/job"
	run pkgretry run --now
	pkgstage show ctl 1 >/dev/null || { echo "the control job did not run: $output" >&2; return 1; }
	rm -f "$r/$id"
	chk_outside_save "$T/sentinel"
	case_job()
	{
		run pkgretry run --now
		[ "$status" -ne 0 ] ||
		    { echo "$1: exit 0: $output" >&2; return 1; }
		! pkgstage show ctl 2 >/dev/null 2>&1 ||
		    { echo "$1: it ran: $output" >&2; return 1; }
		expect_output_has "pkgretry: "
		chk_outside_same "$T/sentinel" || { echo "$1" >&2; return 1; }
		find "$r" -mindepth 1 -maxdepth 1 ! -name failed ! -name '.lock*' \
		    -exec rm -rf {} +
		n=$((n + 1))
	}
	mkdir -p "$T/elsewhere"
	job_text >"$T/elsewhere/$id"
	ln -s "$T/elsewhere/$id" "$r/$id"
	case_job "a job file that is a link"
	job_text id=cmd-0123456789abcdef >"$r/$id"
	case_job "an id that is not the file name"
	job_text attempts=99999999999999999999999 >"$r/$id"
	case_job "attempts overflowing"
	job_text next=-1 >"$r/$id"
	case_job "a negative time"
	job_text created=0x10 >"$r/$id"
	case_job "a hexadecimal number"
	job_text 'dir=relative/dir' >"$r/$id"
	case_job "a relative working directory"
	job_text 'error=a\000b' >"$r/$id"
	case_job "a NUL byte in a text field"
	{ job_text; echo "arg x\\000y"; } >"$r/$id"
	case_job "a NUL byte in an argument"
	job_text | sed '/^attempts /p' >"$r/$id"
	case_job "a field given twice"
	job_text | sed 's/^pkgdist-retry 1$/pkgdist-retry 2/' >"$r/$id"
	case_job "another format version"
	job_text | sed 's/$/\r/' >"$r/$id"
	case_job "CR LF line ends"
	{ job_text; for ((i = 0; i < 300; i++)); do echo "arg a"; done; } >"$r/$id"
	case_job "more than 256 arguments"
	{ job_text; head -c 300000 /dev/zero | tr '\0' 'a' | sed 's/^/arg /'; echo; } >"$r/$id"
	case_job "a file over 256 KiB"
	job_text | head -5 >"$r/$id"
	case_job "a truncated job"
	job_text id=pkg@dp1 package=other dp=dp1 >"$r/pkg@dp1"
	case_job "a PKG@DP id that names another package"
	hostile_record pkgretry-jobs "$n"
}

@test "hostile retry jobs: failed/ and .locks/ planted as links never make pkgretry write outside the store" {
	need_tool pkgretry
	mkdir -p "$T/src" "$PKGDIST_STORE/retry"
	printf 'hi\n' >"$T/src/a"
	chk_sentinel "$T/sentinel"
	local r=$PKGDIST_STORE/retry id=cmd-0123456789abcdef n=0
	# A job that fails (verify against a manifest that differs) and
	# is past its attempts: it must move to failed/, here a link.
	printf 'pkgdist-manifest 1\n' >"$T/m"
	printf 'pkgdist-retry 1\nid %s\ncreated 1\nattempts 99\nnext 1\npackage -\ndp -\nversion 0\ndir %s\nerror -\narg pkgdiff\narg verify\narg %s\narg %s\n' \
	    $id "$T" "$T/m" "$T/src" >"$r/$id"
	rm -rf "$r/failed"
	ln -s "$T/sentinel" "$r/failed"
	run pkgretry run --now --max-attempts 2
	[ "$status" -ne 0 ]
	chk_outside_same "$T/sentinel"
	n=$((n + 1))
	rm -f "$r/failed"
	mkdir -p "$r/failed"
	rm -rf "$r/.locks"
	ln -s "$T/sentinel" "$r/.locks"
	run pkgretry run --now --max-attempts 2
	[ "$status" -ne 0 ]
	chk_outside_same "$T/sentinel"
	n=$((n + 1))
	hostile_record pkgretry-dir-links "$n"
}

@test "hostile enormous depth: a package 1100 directories deep is pushed, its old trees pruned, and debris of a crashed push of it removed" {
	need_tool pkgstage pkgpush
	local p=$T/src i
	for ((i = 0; i < 1100; i++)); do p=$p/a; done
	mkdir -p "$p" "$T/dp"
	for i in 1 2 3; do
		printf '%s\n' "$i" >"$p/f"
		pkgstage add deep "$T/src" >/dev/null
		dps dp
		run pkgpush --keep 1 --dp dp deep
		expect_status 0
	done
	# --keep 1: the current tree only.
	[ "$(ls "$T/dp/.pkgdist/deep" | grep -c '^v[0-9]*\.[0-9]*$')" -eq 1 ] || {
		echo "trees left: $(ls "$T/dp/.pkgdist/deep")" >&2
		return 1
	}
	# A crashed push leaves a tree being built: the next push removes it.
	cp -a "$T/dp/$(readlink "$T/dp/deep")" "$T/dp/.pkgdist/deep/tmp.9.1"
	printf '4\n' >"$p/f"
	pkgstage add deep "$T/src" >/dev/null
	run pkgpush --keep 1 --dp dp deep
	expect_status 0
	[ ! -e "$T/dp/.pkgdist/deep/tmp.9.1" ]
}
