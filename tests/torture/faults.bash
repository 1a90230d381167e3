# tests/torture/faults.bash — injected I/O errors, operation by operation.
# shellcheck shell=bash
#
# Loaded by tests/faults.bats after lib/common and torture/torture.  A
# sweep is three functions, defined by the test before faults_run:
#
#	t_setup		build the starting state under $TW (run once,
#			snapshotted)
#	t_cmd		the command under test; runs in $TW
#	f_check		after a failed operation: $FAULT (OP:N:ERRNO),
#			$FAULT_RC (the exit status), $FAULT_ERR (a file
#			with stderr); checks the exit status and that
#			nothing changed that a client could see; it fails
#			when it returns non-zero or writes to stderr
#			(torture_why)
#	f_done		optional: when the command exits 0 although an
#			operation failed, this checks that the work was
#			nevertheless done whole (an error in cleaning up
#			after the commit point, e.g. removing an empty
#			staging directory that the next run removes): the
#			fault is then counted as "tolerated"; without
#			f_done, or when it fails, exit 0 is an error
#
# faults_run NAME TOOL runs t_cmd once (it must exit $FAULTS_REF_RC,
# default 0) with PKGDIST_FAULT_COUNT to count each kind of operation,
# then for every kind used (read, write, fsync, rename, link, symlink,
# mkdir, unlink; FAULT_OPS narrows the list), at the first and at the
# middle occurrence, and for each errno of FAULT_ERRNOS (default ENOSPC
# EIO EACCES; EIO alone under make asan): restores the snapshot, runs
# t_cmd with PKGDIST_FAULT=OP:N:ERRNO, checks that stderr has a message
# "TOOL: ... 'NAME' ...: STRERROR" (the failing file named in quotes, the
# system's reason), then calls f_check.  The figures go to stdout and to
# $FAULTS_RECORD (default BUILD/faults.txt):
#
#	NAME injected=K tolerated=L read=R write=W ... (per kind)

: "${FAULT_OPS:=read write fsync rename link symlink mkdir unlink}"
# Under the sanitizers (make asan) one errno is enough: every errno takes
# the same error path, which is what ASan and UBSan are there to check.
case ${PKGDIST_BUILD:-} in
*/asan) : "${FAULT_ERRNOS:=EIO}" ;;
*) : "${FAULT_ERRNOS:=ENOSPC EIO EACCES}" ;;
esac
FAULTS_RECORD=${FAULTS_RECORD:-${PKGDIST_BUILD:-$PKGDIST_SRC/build/test}/faults.txt}

# faults_strerror ERRNO: the C library's text for it.
faults_strerror()
{
	case $1 in
	ENOSPC) echo "No space left on device" ;;
	EIO) echo "Input/output error" ;;
	EACCES) echo "Permission denied" ;;
	EROFS) echo "Read-only file system" ;;
	EDQUOT) echo "Disk quota exceeded" ;;
	EPERM) echo "Operation not permitted" ;;
	*) echo "$1" ;;
	esac
}

# faults_record NAME TOTAL PERKIND...: print and record.
faults_record()
{
	local name=$1 line
	shift
	line="$name injected=$*"
	torture_say "faults: $line"
	torture_put_record "$FAULTS_RECORD" "$name" "$line"
}

# faults_fail WHAT: report a broken rule at the current fault and fail.
faults_fail()
{
	{
		echo "faults: $FAULTS_NAME: PKGDIST_FAULT=$FAULT (exit $FAULT_RC): $1"
		if [ -s "$FAULT_ERR" ]; then
			echo "  stderr:"
			sed 's/^/    /' "$FAULT_ERR"
		else
			echo "  (stderr empty)"
		fi
	} >&2
	return 1
}

# faults_message_ok TOOL ERRNO FILE: FILE (stderr) has a line
# "TOOL: ...'NAME'...: STRERROR", or one naming a store content by its
# digest ("TOOL: ... content HEX: STRERROR").
faults_message_ok()
{
	local text
	text=$(faults_strerror "$2")
	LC_ALL=C grep -q -e "^$1: .*'.*'.*$text" \
	    -e "^$1: .*content [0-9a-f]\{64\}.*$text" "$3"
}

# faults_run NAME TOOL: the sweep (see the top of this file).
faults_run()
{
	FAULTS_NAME=$1
	local tool=$2 counts=$T/faults-counts op c n e total=0 per= tol=0 tolerated=
	local kinds

	torture_workdir
	(cd "$TW" && t_setup) || { echo "faults: $1: setup failed" >&2; return 1; }
	torture_snapshot
	FAULT_RC=0
	(cd "$TW" && torture_count_ops "$counts" t_cmd) \
	    >"$T/faults-out" 2>&1 || FAULT_RC=$?
	if [ "$FAULT_RC" -ne "${FAULTS_REF_RC:-0}" ]; then
		cat "$T/faults-out" >&2
		echo "faults: $1: the command without faults exited $FAULT_RC" >&2
		return 1
	fi
	FAULT_ERR=$T/faults-err
	for op in $FAULT_OPS; do
		c=$(torture_ops "$counts" "$op")
		[ "$c" -gt 0 ] || continue
		kinds=0
		for n in $( (echo 1; echo $(((c + 1) / 2))) | sort -un); do
			for e in $FAULT_ERRNOS; do
				FAULT=$op:$n:$e
				torture_restore
				FAULT_RC=0
				(cd "$TW" && PKGDIST_FAULT=$FAULT t_cmd) \
				    >"$T/faults-out" 2>"$FAULT_ERR" || FAULT_RC=$?
				total=$((total + 1))
				kinds=$((kinds + 1))
				if [ "$FAULT_RC" -eq 0 ]; then
					if declare -F f_done >/dev/null &&
					    (cd "$TW" && f_done) 2>"$T/faults-why" &&
					    [ ! -s "$T/faults-why" ]; then
						tol=$((tol + 1))
						if [ -s "$FAULT_ERR" ]; then
							tolerated="$tolerated $FAULT"
						else
							tolerated="$tolerated $FAULT(silent)"
						fi
						continue
					fi
					faults_fail "the command succeeded: the error was ignored $(cat "$T/faults-why" 2>/dev/null)"
					return 1
				fi
				if [ "$FAULT_RC" -gt 128 ]; then
					faults_fail "the command died of a signal"
					return 1
				fi
				if ! faults_message_ok "$tool" "$e" "$FAULT_ERR"; then
					faults_fail "no message \"$tool: ... 'FILE' ...: $(faults_strerror "$e")\" on stderr"
					return 1
				fi
				if ! (cd "$TW" && f_check) 2>"$T/faults-why" ||
				    [ -s "$T/faults-why" ]; then
					faults_fail "$(cat "$T/faults-why")"
					return 1
				fi
			done
		done
		per="$per $op=$kinds"
	done
	faults_record "$1" "$total tolerated=$tol$per"
	[ -z "$tolerated" ] || torture_say "faults: $1: exit 0, work done whole" \
	    "(a warning on stderr unless marked silent):$tolerated"
	[ "$total" -gt 0 ] || { echo "faults: $1: no operation counted" >&2; return 1; }
}

# stage_v1_v2 (a fixture of tests/faults*.bats): version 1 staged from src; src then changed for version 2.
stage_v1_v2()
{
	mktree src
	pkgstage add pkg src >/dev/null
	printf 'changed\n' >src/hello.txt
	printf 'added\n' >"src/sub dir/added"
	rm "src/read me.txt"
}

