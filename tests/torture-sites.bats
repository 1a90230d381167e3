#!/usr/bin/env bats
# Crash consistency of a child site's store (tests/torture/torture.bash):
# the far side of an ssh:// site push (pkgpush --receive, fed here on a
# pipe as ssh would) and the inbox import (pkgstage import --incoming)
# are killed at every fault-injectable operation, or an even sample;
# after each crash the child's store is clean and holds exactly the old
# versions, or the old and the new one; the next run completes.

load lib/common
load torture/torture
load torture/checks

setup()
{
	common_setup
	[ -x "$PKGDIST_BIN/pkgpush" ] || skip "pkgpush is not built yet"
}

# The parent's versions 1 and 2 (store.src), the child (store) with 1,
# and the delta 1 -> 2 as a package file.
two_versions()
{
	mktree src
	PKGDIST_STORE=$PWD/store.src pkgstage add pkg src >/dev/null
	printf 'changed\n' >src/hello.txt
	printf 'added\n' >"src/sub dir/added"
	rm "src/read me.txt"
	PKGDIST_STORE=$PWD/store.src pkgstage add pkg src >/dev/null
	PKGDIST_STORE=$PWD/store.src pkgstage show pkg 2 >want.full
	PKGDIST_STORE=$PWD/store.src pkgstage export pkg 1 -o v1.pack
	PKGDIST_STORE=$PWD/store.src pkgstage export --base 1 pkg 2 -o d2.pack
	pkgstage import v1.pack >/dev/null
	# What the parent offers for the delta: version 2's contents that
	# version 1 lacks.
	PKGDIST_STORE=$PWD/store.src pkgstage show pkg 2 |
	    awk '$1 == "f" { print $5 }' | sort -u >d2.all
	PKGDIST_STORE=$PWD/store.src pkgstage show pkg 1 |
	    awk '$1 == "f" { print $5 }' | sort -u >d1.all
	comm -23 d2.all d1.all >offer
}

old_or_new()
{
	chk_fsck || return 1
	local v
	v=$(chk_versions pkg)
	case $v in
	1) torture_note old ;;
	"1 2") torture_note new
		cmp -s <(pkgstage show pkg 2) want.full ||
		    torture_why "version 2 is not the parent's" ;;
	*) torture_why "versions after the crash: '$v' (want '1' or '1 2')" ;;
	esac
}

both()
{
	chk_fsck || return 1
	[ "$(chk_versions pkg)" = "1 2" ] ||
	    torture_why "versions after the next run: '$(chk_versions pkg)'"
	cmp -s <(pkgstage show pkg 2) want.full ||
	    torture_why "version 2's manifest differs from the parent's"
}

@test "torture site receive: a crash at any point leaves the child's old versions or the old and the new one; the next push completes" {
	t_setup()
	{
		two_versions
	}
	t_cmd()
	{
		# What the parent sends: the request, then (after the child's
		# "base 1") its offer and the delta; the child stops reading
		# after "have".
		{ echo "pkgdist-site 1 pkg 2"; echo "offer $(wc -l <offer)"
		  cat offer d2.pack; } |
		    pkgpush --receive "$PKGDIST_STORE" >reply || return
		grep -q '^done \|^have$' reply
	}
	t_invariant()
	{
		old_or_new
	}
	t_complete()
	{
		both
	}
	torture_run site-receive
}

@test "torture inbox: a crash at any point leaves the old versions or the old and the new one; the next run completes and empties the inbox" {
	t_setup()
	{
		two_versions
		mkdir store/incoming
		cp d2.pack store/incoming/pkg-2.pkg
	}
	t_cmd()
	{
		pkgstage import --incoming >/dev/null
	}
	t_invariant()
	{
		old_or_new
	}
	t_complete()
	{
		both || return 1
		[ -z "$(ls -A store/incoming | grep -v '^\.lock$')" ] ||
		    torture_why "the inbox still holds: $(ls -A store/incoming)"
	}
	torture_run inbox-import
}

# A parent (store.src) with versions 1 and 2 of a package whose 2 MiB
# file changed 64 KiB, the child (store) with 1, and a stand-in for ssh
# that runs the child's command here with the fault settings meant for
# it (CHILD_FAULT*): the parent runs free of faults.
recipe_versions()
{
	mktree src
	head -c $((2 << 20)) /dev/urandom >src/big
	PKGDIST_STORE=$PWD/store.src pkgstage add pkg src >/dev/null
	head -c 65536 /dev/urandom | dd of=src/big bs=65536 seek=8 \
	    conv=notrunc 2>/dev/null
	printf 'changed\n' >src/hello.txt
	PKGDIST_STORE=$PWD/store.src pkgstage add pkg src >/dev/null
	PKGDIST_STORE=$PWD/store.src pkgstage show pkg 2 >want.full
	PKGDIST_STORE=$PWD/store.src pkgstage export pkg 1 -o v1.pack
	pkgstage import v1.pack >/dev/null
	printf 'kid r ssh://localhost%s\n' "$PWD/store" >store.src/sites
	cat >fakessh <<'EOS'
#!/bin/sh
while [ $# -gt 1 ]; do
	case $1 in -p|-l|-i|-o|-F) shift 2 ;; -*) shift ;; *) break ;; esac
done
shift
unset PKGDIST_FAULT PKGDIST_FAULT_COUNT
[ -n "${CHILD_FAULT:-}" ] && export PKGDIST_FAULT="$CHILD_FAULT"
[ -n "${CHILD_FAULT_COUNT:-}" ] && export PKGDIST_FAULT_COUNT="$CHILD_FAULT_COUNT"
rc=0
sh -c "$*" || rc=$?
echo "$rc" >child.rc
exit "$rc"
EOS
	chmod +x fakessh
}

@test "torture site receive with a recipe: a crash at any point of the child's rebuild and import leaves its old versions or the old and the new one; the next push completes" {
	t_setup()
	{
		recipe_versions
	}
	t_cmd()
	{
		# The child killed is the crash (137), whatever the parent
		# says of it.
		rm -f child.rc
		env -u PKGDIST_FAULT -u PKGDIST_FAULT_COUNT \
		    CHILD_FAULT="${PKGDIST_FAULT:-}" \
		    CHILD_FAULT_COUNT="${PKGDIST_FAULT_COUNT:-}" \
		    PKGDIST_SSH="$PWD/fakessh" \
		    PKGDIST_REMOTE_PKGPUSH="$PKGDIST_BIN/pkgpush" \
		    PKGDIST_STORE="$PWD/store.src" \
		    pkgpush --site kid pkg >reply 2>&1 && return 0
		[ "$(cat child.rc 2>/dev/null)" = 137 ] && return 137
		return 1
	}
	t_invariant()
	{
		old_or_new
	}
	t_complete()
	{
		both || return 1
		# As a recipe, or (kept by the crashed run) not sent again.
		grep -q 'imported into its store\|up to date' reply ||
		    torture_why "the next push: $(cat reply)"
	}
	torture_run site-receive-recipe
}
