#!/usr/bin/env bats
# scripts/pkgdist-update and scripts/pkgdist-cron: the chain of tools.

load lib/common

UPDATE=$PKGDIST_SRC/scripts/pkgdist-update
CRON=$PKGDIST_SRC/scripts/pkgdist-cron

setup()
{
	common_setup
	mkdir -p "$T/src/setup" "$T/dp1" "$T/dp2"
	i=1
	while [ $i -le 20 ]; do
		printf 'file %d\n' $i >"$T/src/setup/f$i"
		i=$((i + 1))
	done
	printf 'read me\n' >"$T/src/read me.txt"
}

# A DP list of dp1 and dp2 (after pkgstage made the store).
dps()
{
	printf 'dp1 office %s\ndp2 office %s\n' "$T/dp1" "$T/dp2" >"$T/store/dps"
}

# An install directory: the tools and the scripts side by side, as
# make install leaves them (copies: pkgretry finds its tools through
# /proc/self/exe, which names the real file).
install_dir()
{
	mkdir -p "$T/bin"
	for t in pkgdiff pkgstage pkgpush pkgretry; do
		cp "$PKGDIST_BIN/$t" "$T/bin/"
	done
	cp "$UPDATE" "$CRON" "$T/bin/"
}

@test "pkgdist-update: -h prints usage and exits 0; bad usage exits 2" {
	run sh "$UPDATE" -h
	expect_status 0
	expect_output_has "usage: pkgdist-update"
	run sh "$UPDATE" office97
	expect_status 2
	run sh "$UPDATE" --bogus office97 "$T/src"
	expect_status 2
	run sh "$UPDATE" office97 "$T/no such dir"
	expect_status 2
}

@test "pkgdist-cron: -h prints usage and exits 0; bad usage exits 2" {
	run sh "$CRON" -h
	expect_status 0
	expect_output_has "usage: pkgdist-cron"
	run sh "$CRON" --bogus
	expect_status 2
}

@test "pkgdist-update: stages the tree and pushes it to the DPs named" {
	pkgstage add office97 "$T/src" >/dev/null
	dps
	printf 'file 5, changed\n' >"$T/src/setup/f5"
	run sh "$UPDATE" office97 "$T/src" --all
	expect_status 0
	expect_output_has "staged 'office97' version 2"
	run pkgpush --status office97
	expect_output_has "dp1 office97 2 complete"
	expect_output_has "dp2 office97 2 complete"
}

@test "pkgdist-update: shows what changed and pushes only to DPs that hold the package" {
	pkgstage add office97 "$T/src" >/dev/null
	dps
	pkgpush --dp dp1 office97
	ino=$(stat -L -c %i "$T/dp1/office97/setup/f1")
	printf 'file 5, changed\n' >"$T/src/setup/f5"
	run sh "$UPDATE" office97 "$T/src"
	expect_status 0
	expect_output_has "staged 'office97' version 2"
	run pkgpush --status office97
	expect_output_has "dp1 office97 2 complete"
	expect_output_lacks "dp2 office97 2"
	[ ! -e "$T/dp2/office97" ]
	# Only the changed file was written.
	[ "$(stat -L -c %i "$T/dp1/office97/setup/f1")" = "$ino" ]
	grep -qx 'file 5, changed' "$T/dp1/office97/setup/f5"
}

@test "pkgdist-update: an unchanged tree stages nothing" {
	pkgstage add office97 "$T/src" >/dev/null
	dps
	pkgpush --all office97
	run sh "$UPDATE" office97 "$T/src"
	expect_status 0
	expect_output_has "nothing to stage"
	run pkgstage show office97 2
	[ "$status" -ne 0 ]
}

@test "pkgdist-update: options before or after the operands; -s reaches every tool; -- ends the options" {
	# No default store: only -s can name it.
	unset PKGDIST_STORE
	pkgstage -s "$T/store" add office97 "$T/src" >/dev/null
	dps
	printf 'file 5, changed\n' >"$T/src/setup/f5"
	# Options first (pkgpush's among them), then the operands.
	run sh "$UPDATE" --dp dp1 -s "$T/store" office97 "$T/src"
	expect_status 0
	expect_output_has "staged 'office97' version 2"
	run pkgpush -s "$T/store" --status office97
	expect_output_has "dp1 office97 2 complete"
	expect_output_has "dp2 office97 - none"
	# -s after the operands, mixed with pkgpush's options: staging,
	# the push and the store of the queued jobs are all that store.
	printf 'file 6, changed\n' >"$T/src/setup/f6"
	run sh "$UPDATE" office97 --dp dp2 "$T/src" --inplace -s "$T/store"
	expect_status 0
	expect_output_has "staged 'office97' version 3"
	[ ! -e /var/lib/pkgdist/packages/office97 ]
	run pkgpush -s "$T/store" --status office97
	expect_output_has "dp1 office97 3 complete"
	expect_output_has "dp2 office97 3 complete"
	[ ! -L "$T/dp2/office97" ] && [ -d "$T/dp2/office97" ]
	# A failed staging queues the update with that store.
	mkdir -p "$T/store/retry/failed" "$T/store/retry/.locks"
	printf 'file 7, changed\n' >"$T/src/setup/f7"
	PKGDIST_FAULT=mkdir:1:EIO run sh "$UPDATE" office97 "$T/src" -s "$T/store"
	[ "$status" -ne 0 ]
	run pkgretry -s "$T/store" list
	expect_output_has "pkgdist-update -s $T/store -- office97 $T/src"
	# "--": an operand that starts with '-'.
	mkdir "$T/-src"
	cp -R "$T/src/." "$T/-src/"
	printf 'file 8, changed\n' >"$T/-src/setup/f8"
	cd "$T"
	run sh "$UPDATE" -s "$T/store" -- office97 -src
	expect_status 0
	expect_output_lacks "usage:"
	expect_output_has "staged 'office97' version 4"
	# An option neither the script's nor a push's: usage, nothing done.
	run sh "$UPDATE" office97 "$T/src" --status -s "$T/store"
	expect_status 2
	expect_output_has "usage: pkgdist-update"
	run sh "$UPDATE" office97 "$T/src" extra -s "$T/store"
	expect_status 2
}

@test "pkgdist-update -n: changes nothing, says what would be staged and pushed" {
	pkgstage add office97 "$T/src" >/dev/null
	dps
	pkgpush --dp dp1 office97
	printf 'file 5, changed\n' >"$T/src/setup/f5"
	listing() { find "$T/store" "$T/dp1" "$T/dp2" -printf '%i %C@ %m %s %p\n' | sort -k5; }
	listing >"$T/before"
	run sh "$UPDATE" -n office97 "$T/src" --dp dp2
	expect_status 0
	expect_output_has "modified 1"
	expect_output_has "would stage '$T/src' as version 2 of 'office97'"
	expect_output_has "would push it: pkgpush --version 2 --refresh-existing --dp dp2 office97"
	expect_output_has "dp1: office97 1: up to date"
	expect_output_has "dp2: office97 - -> 1: would be"
	listing >"$T/after"
	diff "$T/before" "$T/after"
	run pkgstage show office97 2
	[ "$status" -ne 0 ]
	# A first version: nothing staged either.
	run sh "$UPDATE" --dry-run docs "$T/src" --all
	expect_status 0
	expect_output_has "would stage '$T/src' as version 1 of 'docs'"
	run pkgstage list docs
	[ -z "$output" ] || [ "$status" -ne 0 ]
	listing >"$T/after"
	diff "$T/before" "$T/after"
}

@test "pkgdist-update: a failed staging queues the whole update, which pkgretry runs later" {
	install_dir
	pkgstage add office97 "$T/src" >/dev/null
	dps
	pkgpush --all --inplace office97
	printf 'file 5, changed\n' >"$T/src/setup/f5"
	# Staging fails: an I/O error at pkgstage's first mkdir (no other
	# step of the update makes a directory once the queue exists).
	mkdir -p "$T/store/retry/failed" "$T/store/retry/.locks"
	cd "$T"
	PKGDIST_FAULT=mkdir:1:EIO run "$T/bin/pkgdist-update" office97 src \
	    --inplace
	expect_output_has "Input/output error"
	[ "$status" -ne 0 ]
	expect_output_has "queued for retry"
	run "$T/bin/pkgretry" list
	expect_output_has "office97+pkgdist-update"
	expect_output_has "command: pkgdist-update --inplace -- office97 src"
	# From elsewhere, later: the job runs where it was queued.
	cd /
	run "$T/bin/pkgretry" run --now
	expect_status 0
	run pkgpush --status office97
	expect_output_has "dp1 office97 2 complete"
	expect_output_has "dp2 office97 2 complete"
	run "$T/bin/pkgretry" list
	[ -z "$output" ]
}

@test "pkgdist-update: an invalid package name is refused before any work (nothing hashed, staged or queued), exit 2" {
	install_dir
	for name in "my package" .hidden "a/b" "$(printf 'x%.0s' {1..65})" ""; do
		run "$T/bin/pkgdist-update" "$name" "$T/src"
		expect_status 2
		expect_output_has "invalid package name"
		expect_output_has "nothing queued"
		expect_output_lacks "hashed"
		expect_output_lacks "changes since"
	done
	[ ! -e "$T/store/retry" ]
	[ ! -e "$T/store/packages" ]
	# Nor does pkgretry add queue a command for such a name.
	run "$T/bin/pkgretry" add -- pkgdist-update "my package" "$T/src"
	expect_status 2
	expect_output_has "invalid package name"
	run "$T/bin/pkgretry" add -- pkgpush --dp dp1 "my package"
	expect_status 2
	[ -z "$(ls -A "$T/store/retry" 2>/dev/null | grep -v -e '^failed$' -e '^\.')" ]
}

@test "pkgdist-update: a permission on the store this account will never have is not queued, exit 2" {
	need_root
	command -v setpriv >/dev/null || skip "setpriv not installed"
	install_dir
	pkgstage add office97 "$T/src" >/dev/null
	dps
	pkgpush --all office97
	pkgretry list >/dev/null
	mkdir -p "$T/store/retry/failed" "$T/store/retry/.locks"
	printf 'file 5, changed\n' >"$T/src/setup/f5"
	chmod 0755 "$T"
	chmod -R go+rX "$T/store" "$T/src"
	run setpriv --reuid=nobody --regid="$(id -g nobody)" --clear-groups \
	    env PKGDIST_STORE="$T/store" "$T/bin/pkgdist-update" office97 "$T/src"
	expect_status 2
	expect_output_has "Permission denied"
	expect_output_has "cannot write the store '$T/store': waiting will not help, not queued"
	expect_output_lacks "queued for retry"
	[ -z "$(ls -A "$T/store/retry" | grep -v -e '^failed$' -e '^\.')" ]
}

@test "pkgpush: what waiting cannot cure (a bad name, a version the store lacks, the store's permission) exits 2 and queues nothing" {
	pkgstage add office97 "$T/src" >/dev/null
	dps
	run pkgpush --dp dp1 "my package"
	expect_status 2
	expect_output_has "'my package'"
	run pkgpush --dp dp1 --version 9 office97
	expect_status 2
	expect_output_has "no such version"
	if has_root && command -v setpriv >/dev/null; then
		chmod 0755 "$T"
		chmod -R go+rX "$T/store"
		run setpriv --reuid=nobody --regid="$(id -g nobody)" \
		    --clear-groups env PKGDIST_STORE="$T/store" \
		    "$PKGDIST_BIN/pkgpush" --dp dp1 office97
		expect_status 2
		expect_output_has "Permission denied"
		[ -z "$(ls -A "$T/dp1")" ]
	fi
	[ ! -e "$T/store/retry" ] ||
	    [ -z "$(ls -A "$T/store/retry" | grep -v -e '^failed$' -e '^\.')" ]
}

@test "pkgretry: a job pkgpush queued whose DP left the DP list moves to failed/ at once, unrun" {
	pkgstage add office97 "$T/src" >/dev/null
	dps
	mv "$T/dp2" "$T/dp2.gone"
	run pkgpush --all office97
	expect_status 1
	[ -f "$T/store/retry/office97@dp2" ]
	printf 'dp1 office %s\n' "$T/dp1" >"$T/store/dps"
	mv "$T/dp2.gone" "$T/dp2"
	run pkgretry run
	expect_status 1
	expect_output_has "office97@dp2: failed for good: cannot succeed: DP 'dp2' is no longer in the DP list"
	expect_output_lacks "running"
	[ -f "$T/store/retry/failed/office97@dp2" ]
	[ -z "$(ls -A "$T/dp2")" ]
}

@test "pkgdist-cron: quiet when every DP is complete and matches its version" {
	install_dir
	pkgstage add office97 "$T/src" >/dev/null
	dps
	pkgpush --all office97
	run "$T/bin/pkgdist-cron"
	expect_status 0
	[ -z "$output" ]
}

@test "pkgdist-cron: reports a DP whose files drifted from the version it holds" {
	install_dir
	pkgstage add office97 "$T/src" >/dev/null
	dps
	pkgpush --all office97
	printf 'planted\n' >"$T/dp2/office97/planted.txt"
	run "$T/bin/pkgdist-cron"
	expect_status 1
	expect_output_has "dp2: office97: drift from version 1"
	expect_output_has "planted.txt"
	expect_output_lacks "dp1:"
}

@test "pkgdist-cron: runs the retry jobs that are due" {
	install_dir
	pkgstage add office97 "$T/src" >/dev/null
	dps
	pkgpush --all office97
	printf 'file 5, changed\n' >"$T/src/setup/f5"
	pkgstage add office97 "$T/src" >/dev/null
	mv "$T/dp2" "$T/dp2.away"
	run pkgpush --refresh-existing office97
	expect_status 1
	mv "$T/dp2.away" "$T/dp2"
	run "$T/bin/pkgdist-cron"
	expect_status 0
	expect_output_has "office97@dp2: done"
	run pkgpush --status office97
	expect_output_has "dp2 office97 2 complete"
}

@test "pkgdist-cron: reports a DP that cannot be reached, and its retry failing" {
	install_dir
	pkgstage add office97 "$T/src" >/dev/null
	dps
	pkgpush --all office97
	printf 'file 5, changed\n' >"$T/src/setup/f5"
	pkgstage add office97 "$T/src" >/dev/null
	mv "$T/dp2" "$T/dp2.away"
	run pkgpush --refresh-existing office97
	expect_status 1
	run "$T/bin/pkgdist-cron"
	expect_status 1
	expect_output_has "office97@dp2: failed"
	expect_output_has "pkgdist-cron: dp2: office97:"
	expect_output_lacks "pkgdist-cron: dp1"
}

@test "pkgdist-update: a queued update is done once staged; a DP still down keeps its own job" {
	install_dir
	pkgstage add office97 "$T/src" >/dev/null
	dps
	pkgpush --all office97
	printf 'file 5, changed\n' >"$T/src/setup/f5"
	mkdir -p "$T/store/retry/failed" "$T/store/retry/.locks"
	PKGDIST_FAULT=mkdir:1:EIO run "$T/bin/pkgdist-update" office97 "$T/src"
	[ "$status" -ne 0 ]
	mv "$T/dp2" "$T/dp2.away"
	run "$T/bin/pkgretry" run --now
	expect_status 0
	expect_output_has "office97+pkgdist-update: done"
	run "$T/bin/pkgretry" list
	expect_output_lacks "office97+pkgdist-update"
	expect_output_has "office97@dp2"
	expect_output_has "--version 2 --only dp2"
	mv "$T/dp2.away" "$T/dp2"
	run "$T/bin/pkgretry" run --now
	expect_status 0
	run pkgpush --status office97
	expect_output_has "dp2 office97 2 complete"
}

# --- pkgdist-cron: problems that begin and end ----------------------------

# A strict parser of the Prometheus text format (exposition format 0.0.4,
# as node_exporter's textfile collector reads it): every line a HELP, a
# TYPE or a sample; a metric's HELP and TYPE at most once and before its
# samples, its samples together; names, label names and escapes (\\ \"
# \n only) as the format allows them; a value Go's ParseFloat takes; no
# series twice; a newline at the end.  Prints each sample as
# 'NAME{l="v",...} VALUE', labels sorted, for the test to compare.
prom_check()
{
	python3 - "$1" <<'PY'
import re, sys
NAME = r'[a-zA-Z_:][a-zA-Z0-9_:]*'
LABEL = r'[a-zA-Z_][a-zA-Z0-9_]*'
TYPES = {'counter', 'gauge', 'histogram', 'summary', 'untyped'}
FLOAT = re.compile(r'^[+-]?(Inf|NaN|(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?)$')
data = open(sys.argv[1], 'rb').read()
def die(n, why):
    sys.exit('%s:%d: %s' % (sys.argv[1], n, why))
if not data.endswith(b'\n'):
    die(0, 'no newline at the end')
text = data.decode('utf-8')
helps, types, done, seen, out = set(), {}, set(), set(), []
current = None
for n, line in enumerate(text.split('\n')[:-1], 1):
    if line.startswith('#'):
        m = re.match(r'^# (HELP|TYPE) (' + NAME + r') (.*)$', line)
        if not m:
            die(n, 'a comment that is neither HELP nor TYPE')
        kind, name, rest = m.groups()
        if name in done or name == current:
            if kind == 'TYPE' or name in helps:
                die(n, kind + ' after the samples or twice: ' + name)
        if kind == 'HELP':
            if name in helps:
                die(n, 'HELP twice')
            if not re.fullmatch(r'(?:[^\\]|\\[\\n])*', rest):
                die(n, 'bad escape in HELP')
            helps.add(name)
        else:
            if name in types or rest not in TYPES:
                die(n, 'bad or second TYPE')
            types[name] = rest
        continue
    m = re.match(r'^(' + NAME + r')(\{(.*)\})? (\S+)( -?\d+)?$', line)
    if not m:
        die(n, 'not a sample line')
    name, _, body, value, _ts = m.groups()
    if name not in types:
        die(n, 'sample before its TYPE: ' + name)
    if name != current:
        if name in done:
            die(n, 'samples of ' + name + ' not together')
        if current is not None:
            done.add(current)
        current = name
    labels = {}
    if body is not None:
        pos = 0
        while pos < len(body):
            lm = re.compile(r'(' + LABEL + r')="((?:[^"\\\n]|\\[\\"n])*)"(,|$)').match(body, pos)
            if not lm:
                die(n, 'bad label list: ' + body)
            ln, lv, _sep = lm.groups()
            if ln in labels or ln.startswith('__'):
                die(n, 'label twice or reserved: ' + ln)
            labels[ln] = re.sub(r'\\(.)', lambda x: {'n': '\n'}.get(x.group(1), x.group(1)), lv)
            pos = lm.end()
    if not FLOAT.match(value):
        die(n, 'bad value: ' + value)
    key = (name, tuple(sorted(labels.items())))
    if key in seen:
        die(n, 'series twice')
    seen.add(key)
    out.append('%s{%s} %s' % (name, ','.join('%s="%s"' % kv for kv in sorted(labels.items())), value))
print('\n'.join(out))
PY
}

@test "pkgdist-cron: a problem is reported when it begins and when it ends, not at every run; exit 1 while it persists; --all shows it" {
	install_dir
	pkgstage add office97 "$T/src" >/dev/null
	dps
	pkgpush --all office97
	mv "$T/dp2" "$T/dp2.away"
	run "$T/bin/pkgdist-cron" --no-retry
	expect_status 1
	expect_output_has "pkgdist-cron: dp2: office97: unreachable"
	[ "${#lines[@]}" -eq 1 ]
	run "$T/bin/pkgdist-cron" --no-retry
	expect_status 1
	[ -z "$output" ]
	run "$T/bin/pkgdist-cron" --no-retry --all
	expect_status 1
	expect_output_has "pkgdist-cron: dp2: office97: unreachable"
	expect_output_lacks "dp1"
	run "$T/bin/pkgdist-cron" --no-retry
	expect_status 1
	[ -z "$output" ]
	mv "$T/dp2.away" "$T/dp2"
	run "$T/bin/pkgdist-cron" --no-retry
	expect_status 0
	expect_output_has "pkgdist-cron: dp2: office97: unreachable: ended (since 20"
	[ "${#lines[@]}" -eq 1 ]
	run "$T/bin/pkgdist-cron" --no-retry --all
	expect_status 0
	[ -z "$output" ]
	[ ! -s "$T/store/cron/problems" ]
	! ls -a "$T/store/cron" | grep -q 'tmp-' || false
}

@test "pkgdist-cron: a DP behind the newest version with no retry job to bring it there is reported; one with such a job is not" {
	install_dir
	pkgstage add office97 "$T/src" >/dev/null
	dps
	pkgpush --all office97
	printf 'file 5, changed\n' >"$T/src/setup/f5"
	pkgstage add office97 "$T/src" >/dev/null
	pkgpush --dp dp2 office97
	# dp1 at 1, newest 2, no job: behind, whatever left it there.
	run "$T/bin/pkgdist-cron" --no-retry
	expect_status 1
	expect_output_has "pkgdist-cron: dp1: office97: behind: holds version 1, the newest is 2"
	expect_output_lacks "dp2"
	# A job for the old version does not bring it there.
	pkgretry add -- pkgpush --dp dp1 --version 1 office97 >/dev/null
	run "$T/bin/pkgdist-cron" --no-retry --all
	expect_status 1
	expect_output_has "dp1: office97: behind"
	# A job for the newest does: the problem ends.
	pkgretry add -- pkgpush --dp dp1 --version 2 office97 >/dev/null
	run "$T/bin/pkgdist-cron" --no-retry
	expect_status 0
	expect_output_has "dp1: office97: behind: ended"
	# The job runs; dp1 is at the newest, nothing to say.
	run "$T/bin/pkgdist-cron"
	expect_status 0
	expect_output_has "office97@dp1: done"
	expect_output_lacks "pkgdist-cron:"
}

@test "pkgdist-cron: mode drift is reported; the check is stat-level, and --deep reads every file" {
	install_dir
	pkgstage add office97 "$T/src" >/dev/null
	dps
	pkgpush --all office97
	sleep 1.2
	run "$T/bin/pkgdist-cron"
	expect_status 0
	[ -z "$output" ]
	# The stat record of dp1's files.
	rec=$T/store/cron/stat/dp1/office97
	head -1 "$rec" | grep -qx 'pkgdist-statcache 1'
	grep -q ' read\\040me.txt$' "$rec"
	chmod 0600 "$T/dp2/office97/setup/f3"
	run "$T/bin/pkgdist-cron"
	expect_status 1
	expect_output_has "pkgdist-cron: dp2: office97: drift from version 1 (repair: pkgpush --verify --dp dp2 --version 1 office97):"
	expect_output_has "    P f 0600 "
	expect_output_has " setup/f3"
	expect_output_lacks "dp1"
	# A record that says a file holds other bytes is believed while
	# stat shows no change: the file is not read ...
	sed -i "s/ [0-9a-f]\{64\} setup\/f1\$/ $(printf '0%.0s' $(seq 64)) setup\/f1/" "$rec"
	run "$T/bin/pkgdist-cron"
	expect_status 1
	expect_output_has "pkgdist-cron: dp1: office97: drift from version 1"
	expect_output_has " setup/f1"
	# ... until --deep reads every file again.
	run "$T/bin/pkgdist-cron" --deep
	expect_status 1
	expect_output_has "pkgdist-cron: dp1: office97: drift: ended"
	expect_output_lacks "dp2"
	# Contents changed under the same size and mtime: ctime shows it.
	chmod 0644 "$T/dp1/office97/setup/f2"
	touch -r "$T/dp1/office97/setup/f2" "$T/ref"
	printf 'file 9\n' >"$T/dp1/office97/setup/f2"
	chmod 0444 "$T/dp1/office97/setup/f2"
	touch -r "$T/ref" "$T/dp1/office97/setup/f2"
	run "$T/bin/pkgdist-cron"
	expect_status 1
	expect_output_has "pkgdist-cron: dp1: office97: drift from version 1"
	expect_output_has "    M f 0444 7 "
}

@test "pkgdist-cron: a DP whose path holds a space, a newline at its end and a byte that is not UTF-8 is checked like any other" {
	install_dir
	pkgstage add office97 "$T/src" >/dev/null
	odd="$T/dp 3"$'\xff\n'
	mkdir "$odd"
	printf 'dp3 office %s/dp\\0403\xff\\012\n' "$T" >"$T/store/dps"
	pkgpush --all office97
	[ -L "$odd/office97" ]
	run "$T/bin/pkgdist-cron"
	expect_status 0
	[ -z "$output" ]
	[ -s "$T/store/cron/stat/dp3/office97" ]
	chmod 0600 "$odd/office97/setup/f4"
	run "$T/bin/pkgdist-cron"
	expect_status 1
	expect_output_has "pkgdist-cron: dp3: office97: drift from version 1"
	expect_output_has "    P f 0600 "
}

@test "pkgdist-cron --metrics: the Prometheus text format, atomically, with the versions, target_ok, retry jobs and the last success" {
	need_cmd python3
	install_dir
	pkgstage add office97 "$T/src" >/dev/null
	dps
	pkgpush --all office97
	printf 'file 5, changed\n' >"$T/src/setup/f5"
	pkgstage add office97 "$T/src" >/dev/null
	pkgpush --dp dp2 office97
	mkdir "$T/prom"
	run "$T/bin/pkgdist-cron" --no-retry --metrics "$T/prom/pkgdist.prom"
	expect_status 1
	prom_check "$T/prom/pkgdist.prom" >"$T/samples"
	cat >"$T/want" <<'W'
pkgdist_version_held{package="office97",target="dp1"} 1
pkgdist_version_held{package="office97",target="dp2"} 2
pkgdist_version_newest{package="office97",target="dp1"} 2
pkgdist_version_newest{package="office97",target="dp2"} 2
pkgdist_target_ok{package="office97",target="dp1"} 0
pkgdist_target_ok{package="office97",target="dp2"} 1
pkgdist_retry_jobs{state="queued"} 0
pkgdist_retry_jobs{state="failed"} 0
W
	grep -v '^pkgdist_cron_last_success' "$T/samples" | diff "$T/want" -
	ts=$(sed -n 's/^pkgdist_cron_last_success_timestamp_seconds{} //p' "$T/samples")
	now=$(date +%s)
	[ "$ts" -le "$now" ] && [ "$ts" -ge $((now - 60)) ]
	grep -q '^# TYPE pkgdist_retry_jobs gauge$' "$T/prom/pkgdist.prom"
	grep -q '^# HELP pkgdist_target_ok ' "$T/prom/pkgdist.prom"
	[ "$(ls -A "$T/prom")" = pkgdist.prom ]
	# A queued job and a failed one are counted.
	pkgretry add -- pkgpush --dp dp1 --version 2 office97 >/dev/null
	mv "$T/dp1" "$T/dp1.away"
	run "$T/bin/pkgretry" run --max-attempts 1
	[ "$status" -ne 0 ]
	pkgretry add -- pkgpush --dp dp1 --version 2 office97 >/dev/null
	# A run that cannot complete its checks (dp2's manifest is damaged)
	# keeps the last success where it was.
	sleep 1.1
	chmod u+w "$T/dp2/.pkgdist/office97/manifest"
	printf 'garbage\n' >"$T/dp2/.pkgdist/office97/manifest"
	run "$T/bin/pkgdist-cron" --no-retry --metrics "$T/prom/pkgdist.prom"
	expect_status 2
	prom_check "$T/prom/pkgdist.prom" >"$T/samples"
	grep -qx 'pkgdist_retry_jobs{state="queued"} 1' "$T/samples"
	grep -qx 'pkgdist_retry_jobs{state="failed"} 1' "$T/samples"
	grep -qx 'pkgdist_target_ok{package="office97",target="dp1"} 0' "$T/samples"
	grep -qx "pkgdist_cron_last_success_timestamp_seconds{} $ts" "$T/samples"
	# Once the checks complete again, it moves on.
	pkgpush --dp dp2 --verify office97 >/dev/null || true
	rm -f "$T/store/cron/stat/dp2/office97"
	run "$T/bin/pkgdist-cron" --no-retry --metrics "$T/prom/pkgdist.prom"
	[ "$status" -eq 1 ]
	prom_check "$T/prom/pkgdist.prom" >"$T/samples"
	ts2=$(sed -n 's/^pkgdist_cron_last_success_timestamp_seconds{} //p' "$T/samples")
	[ "$ts2" -gt "$ts" ]
}

@test "pkgdist-cron --metrics: the strict parser refuses what the format does not allow" {
	need_cmd python3
	printf 'm{a="x"} 1\n' >"$T/bad1"
	printf '# TYPE m gauge\nm{a="x\\q"} 1\n' >"$T/bad2"
	printf '# TYPE m gauge\nm 1\n# TYPE n gauge\nn 1\nm 2\n' >"$T/bad3"
	printf '# TYPE m gauge\nm{a="x"} one\n' >"$T/bad4"
	printf '# TYPE m gauge\nm 1' >"$T/bad5"
	printf '# TYPE m gauge\nm{a="x"} 1\nm{a="x"} 2\n' >"$T/bad6"
	for f in bad1 bad2 bad3 bad4 bad5 bad6; do
		run prom_check "$T/$f"
		[ "$status" -ne 0 ]
	done
	printf '# HELP m a \\\\ help\n# TYPE m gauge\nm{a="x\\"y\\\\z\\n"} 1\nm NaN\n' >"$T/good"
	run prom_check "$T/good"
	expect_status 0
	# The value unescaped: x"y\z and a newline.
	[ "${lines[0]}" = 'm{a="x"y\z' ]
	[ "${lines[1]}" = '"} 1' ]
	[ "${lines[2]}" = 'm{} NaN' ]
}

@test "pkgdist-cron --syslog: each report line goes to logger -t pkgdist, warning when a problem begins, notice when it ends" {
	install_dir
	pkgstage add office97 "$T/src" >/dev/null
	dps
	pkgpush --all office97
	mkdir "$T/fake"
	cat >"$T/fake/logger" <<F
#!/bin/sh
for a in "\$@"; do printf '[%s]' "\$a"; done >>"$T/syslog"
echo >>"$T/syslog"
F
	chmod +x "$T/fake/logger"
	chmod 0600 "$T/dp2/office97/setup/f3"
	PATH=$T/fake:$PATH run "$T/bin/pkgdist-cron" --syslog
	expect_status 1
	expect_output_has "dp2: office97: drift from version 1"
	[ "$(wc -l <"$T/syslog")" -eq "${#lines[@]}" ]
	grep -q '^\[-t\]\[pkgdist\]\[-p\]\[daemon.warning\]\[--\]\[pkgdist-cron: dp2: office97: drift from version 1 ' "$T/syslog"
	grep -q '^\[-t\]\[pkgdist\]\[-p\]\[daemon.warning\]\[--\]\[    P f 0600 .* setup/f3\]$' "$T/syslog"
	: >"$T/syslog"
	PATH=$T/fake:$PATH run "$T/bin/pkgdist-cron" --syslog
	expect_status 1
	[ ! -s "$T/syslog" ]
	chmod 0444 "$T/dp2/office97/setup/f3"
	PATH=$T/fake:$PATH run "$T/bin/pkgdist-cron" --syslog
	expect_status 0
	grep -qx '\[-t\]\[pkgdist\]\[-p\]\[daemon.notice\]\[--\]\[pkgdist-cron: dp2: office97: drift: ended (since .*)\]' "$T/syslog"
	[ "$(wc -l <"$T/syslog")" -eq 1 ]
}
