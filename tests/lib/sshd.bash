# tests/lib/sshd.bash — a real OpenSSH server on 127.0.0.1 for tests of
# remote DPs.  One sshd serves all the tests of a file:
#
#	load lib/common
#	load lib/sshd
#
# The setup_file() and teardown_file() below start and stop it, and the
# setup() below calls common_setup and sshd_need; a file that needs more
# defines its own setup() calling common_setup (and sshd_need when every
# test of the file needs the sshd).
#
# sshd_start generates a host key and a client key in a temporary
# directory, starts /usr/sbin/sshd -D on a free port, waits until it
# accepts a login, and exports:
#
#	PKGDIST_SSH		the ssh command line (key, port, no prompts)
#	SSHD_HOST		127.0.0.1 (a TARGET: "$(sshd_url /path)", or
#	SSHD_PORT		ssh://$SSHD_HOST/path: PKGDIST_SSH has -p)
#	SSHD_DIR		the keys, config, log and pid file
#	PKGDIST_REMOTE_PKGPUSH	$PKGDIST_BIN/pkgpush unless already set
#				(the remote login shell has the system PATH)
#
# If sshd is missing or cannot start, every test of the file is skipped
# with the reason (sshd_start sets SSHD_SKIP; sshd_need skips on it, and
# the default setup below calls it).

SSHD_BIN=${SSHD_BIN:-/usr/sbin/sshd}

sshd_start()
{
	SSHD_SKIP=
	export SSHD_SKIP
	if [ ! -x "$SSHD_BIN" ] || ! command -v ssh >/dev/null 2>&1 ||
	    ! command -v ssh-keygen >/dev/null 2>&1; then
		SSHD_SKIP="needs openssh-server and openssh-client (make bootstrap)"
		return 0
	fi
	common_find_bin || return 1
	SSHD_DIR=$(mktemp -d "${BATS_FILE_TMPDIR:-${BATS_TMPDIR:-/tmp}}/sshd.XXXXXX")
	export SSHD_DIR
	ssh-keygen -q -t ed25519 -N '' -f "$SSHD_DIR/host_key" </dev/null ||
	    return 1
	ssh-keygen -q -t ed25519 -N '' -f "$SSHD_DIR/id" </dev/null || return 1
	cp "$SSHD_DIR/id.pub" "$SSHD_DIR/authorized_keys"
	chmod 600 "$SSHD_DIR/authorized_keys"
	# sshd insists on its privilege separation directory.
	if [ "$(id -u)" -eq 0 ] && [ ! -d /run/sshd ]; then
		mkdir -p /run/sshd && chmod 0755 /run/sshd
	fi

	local port
	for _ in 1 2 3 4 5 6 7 8; do
		port=$((20000 + (RANDOM * 32768 + RANDOM) % 40000))
		if sshd_try_port "$port"; then
			return 0
		fi
	done
	SSHD_SKIP="cannot start sshd: $(tail -n 3 "$SSHD_DIR/sshd.log" 2>/dev/null | tr '\n' ' ')"
	return 0
}

# sshd_try_port PORT: start sshd on PORT; 0 once a login works.
sshd_try_port()
{
	local port=$1
	cat >"$SSHD_DIR/sshd_config" <<EOF
Port $port
ListenAddress 127.0.0.1
HostKey $SSHD_DIR/host_key
PidFile $SSHD_DIR/sshd.pid
AuthorizedKeysFile $SSHD_DIR/authorized_keys
UsePAM no
StrictModes no
PermitRootLogin yes
PubkeyAuthentication yes
PasswordAuthentication no
KbdInteractiveAuthentication no
PrintMotd no
LogLevel INFO
MaxStartups 100:30:200
MaxSessions 100
EOF
	: >"$SSHD_DIR/sshd.log"
	# fd 3 closed: bats waits for it, and sshd outlives the test.
	"$SSHD_BIN" -D -e -f "$SSHD_DIR/sshd_config" \
	    </dev/null >>"$SSHD_DIR/sshd.log" 2>&1 3>&- &
	SSHD_PID=$!
	export SSHD_PID
	SSHD_HOST=127.0.0.1
	SSHD_PORT=$port
	export SSHD_HOST SSHD_PORT
	PKGDIST_SSH="ssh -F /dev/null -p $port -i $SSHD_DIR/id -o IdentitiesOnly=yes -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o BatchMode=yes -o LogLevel=ERROR"
	export PKGDIST_SSH
	: "${PKGDIST_REMOTE_PKGPUSH:=$PKGDIST_BIN/pkgpush}"
	export PKGDIST_REMOTE_PKGPUSH
	# Wait (bounded) until it listens and a login works.
	for _ in $(seq 1 100); do
		if ! kill -0 "$SSHD_PID" 2>/dev/null; then
			wait "$SSHD_PID" 2>/dev/null || true
			SSHD_PID=
			return 1
		fi
		if grep -q 'Server listening' "$SSHD_DIR/sshd.log" &&
		    $PKGDIST_SSH "$SSHD_HOST" true </dev/null 2>/dev/null; then
			return 0
		fi
		sleep 0.1
	done
	sshd_stop
	return 1
}

sshd_stop()
{
	if [ -n "${SSHD_PID:-}" ]; then
		kill "$SSHD_PID" 2>/dev/null || true
		wait "$SSHD_PID" 2>/dev/null || true
		SSHD_PID=
	fi
	[ -z "${SSHD_DIR:-}" ] || rm -rf "$SSHD_DIR"
}

# sshd_need: skip this test if the file's sshd could not start.
sshd_need()
{
	[ -z "${SSHD_SKIP:-}" ] || skip "$SSHD_SKIP"
}

# sshd_count_logins: PKGDIST_SSH through a script that adds a line to
# $T/logins each time ssh starts (emptied here).
sshd_count_logins()
{
	printf '#!/bin/sh\necho login >>"%s/logins"\nexec %s "$@"\n' "$T" \
	    "$PKGDIST_SSH" >"$T/ssh-counted"
	chmod +x "$T/ssh-counted"
	: >"$T/logins"
	PKGDIST_SSH=$T/ssh-counted
}

# sshd_url PATH: PATH on the test sshd as a DP list's or site list's
# TARGET, ssh://127.0.0.1:PORT/PATH.
sshd_url()
{
	printf 'ssh://%s:%s%s' "$SSHD_HOST" "$SSHD_PORT" "$1"
}

# stat_of FIELD: FIELD of the last line of the stats file, $T/stats
# (what the last remote session counted, when a test exports
# PKGDIST_REMOTE_STATS=$T/stats).
stat_of()
{
	tail -n 1 "$T/stats" | awk -v f="$1" '{ for (i = 2; i < NF; i++) if ($i == f) print $(i + 1) }'
}

setup_file()
{
	sshd_start
}

teardown_file()
{
	sshd_stop
}

setup()
{
	common_setup
	sshd_need
}
