#!/usr/bin/env bats
# --json: JSON Lines on stdout (pkgpush's report, pkgstage list, pkgretry
# list), parsed by python3's json module and checked against a known
# state; names with a newline and bytes that are not UTF-8 round-trip.

load lib/common
load lib/pkgpush
load lib/sshd

setup()
{
	common_setup
	need_cmd python3
	staged_versions 1 2
}

# jl FILE PYTHON: run PYTHON with `objs`, the objects of the JSON Lines
# FILE (every line must parse, and be an object with "schema": 1), and
# `raw(s)`, the bytes a string stands for (pkgdist(7)); PYTHON asserts.
jl()
{
	python3 -c '
import json, sys
lines = open(sys.argv[1], "rb").read().split(b"\n")
assert lines[-1] == b"", "output does not end with a newline"
objs = []
for l in lines[:-1]:
    o = json.loads(l.decode("utf-8"))
    assert isinstance(o, dict) and o["schema"] == 1, l
    objs.append(o)
def raw(s):
    return s.encode("utf-8", "surrogateescape")
def by(key, objs=objs):
    return {o[key]: o for o in objs}
exec(sys.argv[2])
' "$@"
}

@test "pkgpush --json: one object per target with the report's fields, nothing else on stdout" {
	mkdir -p "$T/dp1" "$T/dp2"
	printf 'dp1 g %s\ndp2 g %s\n' "$T/dp1" "$T/dp2" >"$PKGDIST_STORE/dps"
	pkgpush --dp dp1 --version 1 office >/dev/null
	pkgpush --json --all office >"$T/out" 2>"$T/err"
	jl "$T/out" '
assert len(objs) == 2, objs
d = by("target")
fields = {"schema", "target", "package", "from", "to", "ok", "added",
    "changed", "deleted", "bytes_written", "bytes_sent", "bytes_shared",
    "error", "retry"}
for o in objs:
    assert fields <= set(o), set(o)
    assert o["package"] == "office" and o["to"] == 2 and o["ok"] is True
    assert o["error"] is None and o["retry"] is None
    assert o["bytes_sent"] is None           # local DPs
    assert o["bytes_shared"] == 0, o         # no large file to share
a, b = d["dp1"], d["dp2"]
assert a["from"] == 1 and b["from"] is None
assert b["added"] > a["added"] and a["changed"] >= 20, (a, b)
assert a["deleted"] == 2, a                  # only1, only1/x
assert a["bytes_written"] > 0 and b["bytes_written"] > a["bytes_written"]
'
	[ ! -s "$T/err" ]
	at_version "$T/dp1" 2
	# Up to date: still one object, nothing done.
	pkgpush --json --dp dp1 office >"$T/out"
	jl "$T/out" '
o, = objs
assert o["ok"] and o["from"] == 2 and o["to"] == 2
assert o["added"] == o["changed"] == o["deleted"] == 0
'
}

@test "pkgpush --json: a failed target has ok false, the message and the retry job's id; exit code unchanged" {
	mkdir -p "$T/dp1"
	printf 'dp1 g %s\ndp2 g %s\n' "$T/dp1" "$T/gone" >"$PKGDIST_STORE/dps"
	run pkgpush --json --all office
	expect_status 1
	pkgpush --json --all office >"$T/out" 2>"$T/err" || true
	jl "$T/out" '
d = by("target")
assert set(d) == {"dp1", "dp2"}
assert d["dp1"]["ok"] is True and d["dp1"]["error"] is None
f = d["dp2"]
assert f["ok"] is False and f["retry"] == "office@dp2", f
assert "No such file or directory" in f["error"], f
assert f["from"] is None and f["to"] == 2
'
	expect_file_has "$T/err" "dp2:"
	pkgretry list | grep -q '^office@dp2 '
	# The retry job does not carry --json.
	pkgretry list --json >"$T/jobs"
	jl "$T/jobs" 'assert "--json" not in objs[0]["command"], objs'
}

@test "pkgpush --json -n: what would be done, nothing queued, nothing written" {
	mkdir -p "$T/dp1"
	printf 'dp1 g %s\ndp2 g %s\n' "$T/dp1" "$T/gone" >"$PKGDIST_STORE/dps"
	pkgpush --dp dp1 --version 1 office >/dev/null
	listing "$T/dp1" >"$T/before"
	run pkgpush -n --json --all office
	expect_status 1
	pkgpush -n --json --all office >"$T/out" 2>/dev/null || true
	jl "$T/out" '
d = by("target")
assert d["dp1"]["ok"] and d["dp1"]["from"] == 1 and d["dp1"]["to"] == 2
assert d["dp1"]["changed"] >= 20 and d["dp1"]["bytes_written"] > 0
assert d["dp2"]["ok"] is False and d["dp2"]["retry"] is None
'
	listing "$T/dp1" >"$T/after"
	diff "$T/before" "$T/after"
	[ ! -e "$PKGDIST_STORE/retry/office@dp2" ]
}

@test "pkgpush --json: an ssh DP reports the bytes sent" {
	sshd_need
	mkdir -p "$T/rdp"
	printf 'r1 far %s\n' "$(sshd_url "$T/rdp")" \
	    >"$PKGDIST_STORE/dps"
	export PKGDIST_SSH_TIMEOUT=20
	pkgpush --json --dp r1 --version 1 office >"$T/out"
	pkgpush --json --dp r1 office >>"$T/out"
	jl "$T/out" '
one, two = objs
assert one["target"] == "r1" and one["ok"] and one["from"] is None
assert two["from"] == 1 and two["to"] == 2 and two["changed"] >= 20, two
assert one["bytes_sent"] > 1000, one          # the whole package
assert 0 < two["bytes_sent"] < one["bytes_sent"], (one, two)
assert one["bytes_shared"] is None and two["bytes_shared"] is None, two
'
	at_version "$T/rdp" 2
	# A remote directory that is not there: a failure with its retry.
	printf 'r1 far %s\n' "$(sshd_url "$T/gone")" \
	    >"$PKGDIST_STORE/dps"
	pkgpush --json --dp r1 office >"$T/out" 2>/dev/null || true
	jl "$T/out" '
o, = objs
assert o["ok"] is False and o["retry"] == "office@r1" and o["error"], o
assert isinstance(o["bytes_sent"], int), o
'
}

@test "pkgstage list --json: one object per version with its files, bytes, time and signature" {
	pkgstage keygen -o "$T/key" >/dev/null
	mkdir -p "$T/v3"
	printf 'abc' >"$T/v3/a"
	printf '12345' >"$T/v3/b"
	mkdir "$T/v3/d"
	ln -s a "$T/v3/l"
	pkgstage add --sign "$T/key" office "$T/v3" >/dev/null
	pkgstage add other "$T/v3" >/dev/null
	pkgstage list --json >"$T/out" 2>"$T/err"
	[ ! -s "$T/err" ]
	pkgstage list --json office >"$T/one"
	jl "$T/out" '
import time
assert [(o["package"], o["version"]) for o in objs] == \
    [("office", 1), ("office", 2), ("office", 3), ("other", 1)], objs
v3 = objs[2]
assert v3["files"] == 2 and v3["bytes"] == 8 and v3["signed"] is True
assert objs[0]["signed"] is False and objs[0]["files"] == 24
for o in objs:
    t = time.strptime(o["created"], "%Y-%m-%dT%H:%M:%SZ")
    assert abs(__import__("calendar").timegm(t) - time.time()) < 600
'
	jl "$T/one" 'assert [o["version"] for o in objs] == [1, 2, 3]'
	run pkgstage list --json nosuch
	expect_status 2
	[ -z "$(pkgstage list --json nosuch 2>/dev/null)" ]
	run pkgstage show --json office
	expect_status 2
}

@test "pkgretry list --json: one object per job, queued and failed, the command as an array" {
	mkdir -p "$T/dp1"
	printf 'dp1 g %s\ndp2 g %s\n' "$T/gone1" "$T/gone2" >"$PKGDIST_STORE/dps"
	pkgpush --inplace --dp dp2 office 2>/dev/null || true
	pkgretry run --now --max-attempts 1 >/dev/null 2>&1 || true
	pkgpush --inplace --dp dp1 office 2>/dev/null || true
	pkgretry list --json >"$T/out"
	jl "$T/out" '
import calendar, time
d = by("id")
assert set(d) == {"office@dp1", "office@dp2"}, d
q, f = d["office@dp1"], d["office@dp2"]
for o in objs:
    assert o["package"] == "office" and o["version"] == 2
    assert "No such file or directory" in o["last_error"], o
assert q["target"] == "dp1" and q["failed"] is False and q["attempts"] == 0
assert calendar.timegm(time.strptime(q["next"], "%Y-%m-%dT%H:%M:%SZ")) <= time.time() + 5
assert f["failed"] is True and f["next"] is None and f["attempts"] == 1
assert q["command"] == ["pkgpush", "--inplace", "--dp", "dp1",
    "--version", "2", "--only", "dp1", "--", "office"], q["command"]
'
}

@test "--json: a store path with a newline and bytes that are not UTF-8 round-trips" {
	S=$T/st$'\n'o$'\377'r$'\303\251'e
	mv "$PKGDIST_STORE" "$S"
	unset PKGDIST_STORE
	printf 'dp1 g %s\n' "$T/gone" >"$S/dps"
	pkgpush -s "$S" --json --dp dp1 office >"$T/out" 2>/dev/null || true
	[ "$(wc -l <"$T/out")" -eq 1 ]
	pkgretry -s "$S" list --json >"$T/jobs"
	[ "$(wc -l <"$T/jobs")" -eq 1 ]
	printf '%s' "$S" >"$T/want"
	jl "$T/jobs" '
want = open(sys.argv[3], "rb").read()
c = objs[0]["command"]
i = c.index("-s")
assert raw(c[i + 1]) == want, (c, want)
' "$T/want"
	grep -q 'udcff' "$T/jobs"
	! grep -q $'\377' "$T/jobs" || false
}

# status_state: dp1 at 2 (atomic), dp2 behind at 1, dp3 in place at 2,
# dp4 unreachable, dp5 without the package.
status_state()
{
	mkdir -p "$T/dp1" "$T/dp2" "$T/dp3" "$T/dp5"
	printf 'dp1 g %s\ndp2 g %s\ndp3 g %s\ndp4 g %s\ndp5 g %s\n' "$T/dp1" \
	    "$T/dp2" "$T/dp3" "$T/gone" "$T/dp5" >"$PKGDIST_STORE/dps"
	pkgpush --dp dp1 office >/dev/null
	pkgpush --dp dp2 --version 1 office >/dev/null
	pkgpush --inplace --dp dp3 office >/dev/null
	pkgpush --dp dp4 office >/dev/null 2>&1 || true
}

@test "pkgpush --status --json: one object per DP and package with version, newest, state and layout; exit code unchanged" {
	status_state
	run pkgpush --status office
	expect_status 1
	run pkgpush --status --json office
	expect_status 1
	pkgpush --status --json office >"$T/out" 2>"$T/err" || true
	[ ! -s "$T/err" ]
	jl "$T/out" '
d = by("target")
assert list(d) == ["dp1", "dp2", "dp3", "dp4", "dp5"], list(d)
for o in objs:
    assert {"schema", "target", "package", "version", "newest", "state",
        "layout"} <= set(o), o
    assert o["package"] == "office" and o["newest"] == 2
assert d["dp1"]["version"] == 2 and d["dp1"]["state"] == "complete"
assert d["dp1"]["layout"] == "atomic"
assert d["dp2"]["version"] == 1 and d["dp2"]["state"] == "complete"
assert d["dp3"]["layout"] == "inplace" and d["dp3"]["version"] == 2
assert d["dp4"]["state"] == "unreachable" and d["dp4"]["version"] is None
assert "No such file" in d["dp4"]["error"]
assert d["dp5"]["state"] == "none" and d["dp5"]["version"] is None
assert d["dp5"]["layout"] is None
'
	# Every package when none is named: the DPs that hold it.
	pkgpush --status --json >"$T/all" || true
	jl "$T/all" 'assert sorted(by("target")) == ["dp1", "dp2", "dp3", "dp4"]'
}

@test "pkgpush --status on a terminal: aligned columns and a summary line; unchanged when not a terminal" {
	need_cmd script
	status_state
	pkgpush --status office >"$T/plain" || true
	grep -qx 'dp2 office 1 complete newest 2' "$T/plain"
	[ "$(wc -l <"$T/plain")" -eq 5 ]
	script -qec "pkgpush --status office" /dev/null | tr -d '\r' >"$T/tty" || true
	cat "$T/tty"
	[ "$(wc -l <"$T/tty")" -eq 7 ]	# header, 5 rows, summary
	tail -n 1 "$T/tty" | grep -qx '5 DPs: 2 complete at newest, 1 behind, 1 unreachable, 1 without it'
	python3 -c '
import sys
rows = open(sys.argv[1]).read().split("\n")[:-2]
col = rows[0].index("STATE")
assert all(r[col - 2:col] == "  " and r[col] != " " for r in rows), rows
col = rows[0].index("NEWEST")
assert all(r[col - 2:col] == "  " for r in rows), rows
' "$T/tty"
}

@test "pkgpush: an ssh:// DP whose path holds a newline is shown escaped in messages and --status" {
	sshd_need
	export PKGDIST_SSH_TIMEOUT=20
	printf 'r1 far %s\n' \
	    "$(sshd_url "$T/a\\012r9\\040office\\0401\\040complete")" \
	    >"$PKGDIST_STORE/dps"
	pkgpush --dp r1 office >"$T/out" 2>"$T/err" || true
	cat "$T/err"
	! grep -v '^pkgpush: ' "$T/err" || false
	grep -q 'a\\012r9' "$T/err"
	pkgpush --status office >"$T/status" 2>"$T/err2" || true
	! grep -v "^pkgpush: " "$T/err2" || false
	cat "$T/status"
	[ "$(wc -l <"$T/status")" -eq 1 ]
	! grep -q '^r9' "$T/status" || false
}
