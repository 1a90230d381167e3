# tests/torture/torture.bash — the crash-consistency torture harness.
# shellcheck shell=bash
#
# Loaded by tests/torture-*.bats after lib/common.  A scenario is four
# shell functions, defined by the test before it calls torture_run:
#
#	t_setup		build the starting state under $TW (store, DPs,
#			sources); run once, then snapshotted
#	t_cmd		the command under test (its exit status is what
#			counts); runs in $TW
#	t_invariant	what must hold after a crash at any point: it fails
#			when it returns non-zero or writes anything to
#			stderr (torture_why TEXT says why, so a check in
#			the middle of the function counts too)
#	t_complete	what must hold after the command ran again without
#			faults: the work is done
#
# torture_run NAME first runs t_cmd once with PKGDIST_FAULT_COUNT to learn
# the number M of fault-injectable operations (fault.h: every read, write,
# fsync, rename, link, symlink, mkdir and unlink of the core), then for
# each crash point N (1..M, or an even sample of at most $TORTURE_MAX of
# them, 40 by default and 12 under make asan, every one with
# TORTURE_FULL=1) restores the
# snapshot, runs t_cmd with PKGDIST_FAULT=any:N:crash (SIGKILL at the Nth
# operation, as a power cut), checks t_invariant, runs t_cmd again
# without faults and checks t_complete.  The first point that breaks a
# rule fails the test with the way to reproduce it.
#
# Every scenario's figures go to stdout (TAP comment, on fd 3 under bats)
# and to the record file $TORTURE_RECORD (default BUILD/torture.txt), one
# line a scenario, replaced on each run:
#
#	SCENARIO ops=M tried=K crashed=C full=0|1
#
# The commands run by t_cmd must run their operations in one order
# (use -j 1 where a tool has threads), so that point N is the same
# operation in every run.

# Under the sanitizers (make asan) every run costs more: a smaller sample.
case ${PKGDIST_BUILD:-} in
*/asan) : "${TORTURE_MAX:=12}" ;;
*) : "${TORTURE_MAX:=40}" ;;
esac
: "${TORTURE_FULL:=0}"

# The work directory of a scenario; every path of its state lives under
# it so that a snapshot copy restores it whole.
TW=
TORTURE_RECORD=${TORTURE_RECORD:-${PKGDIST_BUILD:-$PKGDIST_SRC/build/test}/torture.txt}

# torture_say TEXT: a TAP comment, shown by bats (fd 3) and tests/run.
torture_say()
{
	if { true >&3; } 2>/dev/null; then
		printf '# %s\n' "$*" >&3
	else
		printf '# %s\n' "$*"
	fi
}

# torture_count_ops FILE CMD...: run CMD with PKGDIST_FAULT_COUNT=FILE;
# its exit status is CMD's.
torture_count_ops()
{
	local f=$1
	shift
	rm -f "$f"
	PKGDIST_FAULT_COUNT=$f "$@"
}

# torture_ops FILE [OP]: the count of OP (default any) in a count file.
torture_ops()
{
	awk -v op="${2:-any}" '$1 == op { print $2; found = 1 }
	    END { if (!found) print 0 }' "$1"
}

# torture_points M [MAX]: the crash points to try, one a line: all of
# 1..M when M <= MAX or TORTURE_FULL=1, else MAX points spread evenly
# over 1..M, first and last included.
torture_points()
{
	local m=$1 max=${2:-$TORTURE_MAX}
	if [ "$TORTURE_FULL" = 1 ] || [ "$m" -le "$max" ]; then
		seq 1 "$m"
		return
	fi
	awk -v m="$m" -v k="$max" 'BEGIN {
		for (i = 0; i < k; i++) {
			n = 1 + int(i * (m - 1) / (k - 1) + 0.5)
			if (n != last) print n
			last = n
		}
	}'
}

# torture_workdir: set $TW, the scenario's work directory, and the store
# $PKGDIST_STORE=$TW/store.  It lives on
# a tmpfs when one can be mounted (root): a SIGKILL leaves the page cache
# as it was, so a crash point means the same on any file system, and
# without disk flushes the hundreds of runs take seconds, not minutes.
torture_workdir()
{
	TORTURE_BASE=$T
	if can_mount_tmpfs; then
		mount_tmpfs "$T/tt" 512m && TORTURE_BASE=$T/tt
	fi
	TW=$TORTURE_BASE/w
	mkdir -p "$TW"
	# The store is part of the scenario's state.
	export PKGDIST_STORE=$TW/store
}

# torture_snapshot / torture_restore: save and bring back $TW exactly
# (hard links, symbolic links, modes and times kept).
torture_snapshot()
{
	rm -rf "$TORTURE_BASE/torture-snap"
	cp -a "$TW" "$TORTURE_BASE/torture-snap"
}

torture_restore()
{
	if [ -e "$TW" ]; then
		# Trees pkgpush writes read-only must still go.
		has_root || chmod -R u+rwX "$TW" 2>/dev/null || true
		rm -rf "$TW"
	fi
	cp -a "$TORTURE_BASE/torture-snap" "$TW"
}

# torture_put_record FILE NAME LINE: replace NAME's line in the record
# FILE by LINE, under a lock (tests/run runs bats files in parallel).
torture_put_record()
{
	local f=$1 name=$2 line=$3
	mkdir -p "$(dirname "$f")" 2>/dev/null || return 0
	{
		command -v flock >/dev/null 2>&1 && flock 9
		{
			[ ! -f "$f" ] || awk -v n="$name" '$1 != n' "$f"
			echo "$line"
		} >"$f.new.$$" && mv "$f.new.$$" "$f"
	} 9>>"$f.lock"
}

# torture_record NAME OPS TRIED CRASHED: print and record the figures.
torture_record()
{
	local line="$1 ops=$2 tried=$3 crashed=$4 full=$TORTURE_FULL"
	torture_say "torture: $line"
	torture_put_record "$TORTURE_RECORD" "$1" "$line"
}

# torture_fail N WHAT: report a broken rule at crash point N and fail.
torture_fail()
{
	{
		echo "torture: $TORTURE_NAME: crash point $1 of $TORTURE_M: $2"
		echo "  reproduce: PKGDIST_FAULT=any:$1:crash on the scenario's command"
		[ ! -s "$T/torture-out" ] || { echo "  command output:"; sed 's/^/    /' "$T/torture-out"; }
	} >&2
	return 1
}

# torture_run NAME: run the scenario (see the top of this file).
torture_run()
{
	TORTURE_NAME=$1
	local n rc tried=0 crashed=0 counts=$T/torture-counts

	rm -f "$T/torture-notes"
	torture_workdir
	(cd "$TW" && t_setup) || { echo "torture: $1: setup failed" >&2; return 1; }
	torture_snapshot

	# The reference run: it must succeed and do the work.
	rc=0
	(cd "$TW" && torture_count_ops "$counts" t_cmd) >"$T/torture-out" 2>&1 || rc=$?
	if [ "$rc" -ne 0 ]; then
		cat "$T/torture-out" >&2
		echo "torture: $1: the command without faults exited $rc" >&2
		return 1
	fi
	if ! (cd "$TW" && t_complete) 2>"$T/torture-why" ||
	    [ -s "$T/torture-why" ]; then
		cat "$T/torture-why" >&2
		echo "torture: $1: the run without faults did not complete the work" >&2
		return 1
	fi
	TORTURE_M=$(torture_ops "$counts")
	if [ "$TORTURE_M" -lt 1 ]; then
		echo "torture: $1: no fault-injectable operation counted" \
		    "(is this a test build?)" >&2
		return 1
	fi

	for n in $(torture_points "$TORTURE_M"); do
		torture_restore
		rc=0
		(cd "$TW" && PKGDIST_FAULT=any:$n:crash t_cmd) \
		    >"$T/torture-out" 2>&1 || rc=$?
		tried=$((tried + 1))
		case $rc in
		137) crashed=$((crashed + 1)) ;;
		0) ;;	# fewer operations this time: ran to the end
		*) torture_fail "$n" "exited $rc instead of being killed"
		   return 1 ;;
		esac
		if ! (cd "$TW" && t_invariant) 2>"$T/torture-why" ||
		    [ -s "$T/torture-why" ]; then
			torture_fail "$n" "after the crash: $(cat "$T/torture-why")"
			return 1
		fi
		rc=0
		(cd "$TW" && t_cmd) >"$T/torture-out" 2>&1 || rc=$?
		if [ "$rc" -ne 0 ]; then
			torture_fail "$n" "the next run (no fault) exited $rc"
			return 1
		fi
		if ! (cd "$TW" && t_complete) 2>"$T/torture-why" ||
		    [ -s "$T/torture-why" ]; then
			torture_fail "$n" "the next run did not complete the work: $(cat "$T/torture-why")"
			return 1
		fi
	done
	torture_record "$1" "$TORTURE_M" "$tried" "$crashed"
	if [ -s "$T/torture-notes" ]; then
		torture_say "torture: $1: states seen after the crashes:" \
		    "$(sort "$T/torture-notes" | uniq -c | awk '{ printf "%s%s=%s", s, $2, $1; s = " " }')"
	fi
	if [ "$crashed" -eq 0 ]; then
		echo "torture: $1: no run was killed: the hook is not armed" >&2
		return 1
	fi
}

# ---- helpers for invariants -------------------------------------------

# torture_note WORD: count an outcome seen after a crash (e.g. "old",
# "new", "partial"); torture_run prints the counts, which shows that the
# sample reached each kind of state.
torture_note()
{
	echo "$1" >>"$T/torture-notes"
}

# torture_why TEXT: say why an invariant broke (to stderr, which alone
# fails the check) and return non-zero.
torture_why()
{
	echo "$*" >&2
	return 1
}
