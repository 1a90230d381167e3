#!/bin/bash
# tests/bench/bench.bash BUILDDIR — the benchmark behind `make bench`
# (started by tests/bench/run; see there for the environment it reads).
#
# Every case runs pkgdist and its peer on the same generated data,
# alternately (pkgdist first on odd runs, the peer first on even runs),
# and reports the median wall time of each side, their ratio, the target
# from the issue it comes from, and whether it is met.  Each command runs
# under peakrss (tests/bench/peakrss.c: wait4 rusage), which gives its
# peak RSS and the bytes it caused to be written (ru_oublock).  `sync`
# runs (untimed) before every timed command so one side's dirty pages are
# not flushed on the other side's time.  Page caches are not dropped
# (that needs privileges and says little about a site server that reads
# its store all day); instead every source tree is read once before the
# cases, and cheap cases run each side once untimed first.
set -u
export LC_ALL=C

HERE=$(cd "$(dirname "$0")" && pwd)
SRC=$(cd "$HERE/../.." && pwd)
BUILD=${1:-build}
case $BUILD in
/*) ;;
*) BUILD=$PWD/$BUILD ;;
esac
BIN=$BUILD/bin
WORK=${BENCH_DIR:-$HERE/work}
SEED=${BENCH_SEED:-1}
QUICK=${BENCH_QUICK:-0}
NCPU=$(nproc 2>/dev/null || getconf _NPROCESSORS_ONLN)
TMO=${BENCH_TIMEOUT:-600}
MiB=1048576

if [ "$QUICK" = 1 ]; then
	RUNS=${BENCH_RUNS:-1}
	OFFICE_N=500 OFFICE_B=$((50 * MiB))
	MANY_N=10000 MANY_B=$((40 * MiB))
	BIG_B=$((200 * MiB))
	BIGFILE_B=$((64 * MiB))
	MAN_N=100000
	HUNDRED_N=500 HUNDRED_B=$((2 * MiB))
else
	RUNS=${BENCH_RUNS:-3}
	OFFICE_N=5000 OFFICE_B=$((500 * MiB))
	MANY_N=100000 MANY_B=$((400 * MiB))
	BIG_B=$((2048 * MiB))
	BIGFILE_B=$((512 * MiB))
	MAN_N=1000000
	HUNDRED_N=5000 HUNDRED_B=$((20 * MiB))
fi
# The hundred-DP case writes 100 copies of its package per side and
# phase: one run of each, whatever BENCH_RUNS says.
HUNDRED_RUNS=${BENCH_HUNDRED_RUNS:-1}
CASES=${BENCH_CASES:-scan bigscan reuse diff stage push many dps ssh hundred sites bigfile}

mkdir -p "$WORK/tools" "$WORK/data" || exit 2
WORK=$(cd "$WORK" && pwd)
S=$WORK/run			# scratch of this run
RES=$S/res			# measurements
LOG=$S/log			# everything the commands printed
TABLE=$S/table
OUT=$WORK/last-run.txt
T0=$(date +%s)

say()
{
	printf '%s\n' "$*"
	printf '%s\n' "$*" >>"$OUT"
}

note()
{
	printf '# %s\n' "$*" >&2
	printf '%s\n' "$*" >>"$LOG"
}

die()
{
	echo "bench: $*" >&2
	exit 2
}

# --- helpers built from tests/bench/*.c --------------------------------
CC=${CC:-cc}
build_tool()
{
	local name=$1 libs=$2
	if [ ! -x "$WORK/tools/$name" ] ||
	    [ "$HERE/$name.c" -nt "$WORK/tools/$name" ]; then
		# shellcheck disable=SC2086
		$CC -std=c11 -O2 -Wall -D_POSIX_C_SOURCE=200809L \
		    -D_XOPEN_SOURCE=700 -D_DEFAULT_SOURCE \
		    -o "$WORK/tools/$name" "$HERE/$name.c" $libs ||
		    die "cannot build $name"
	fi
}
build_tool gen "-lz -lm"
build_tool peakrss ""
build_tool readrate "-lcrypto -lpthread"
GEN=$WORK/tools/gen
READRATE=$WORK/tools/readrate
# The generator's output version: bump it when gen.c changes what it
# writes, and the cached trees are made again.
GENV=1
PEAK=$WORK/tools/peakrss

for t in rsync tar gzip sha256sum find comm cp openssl timeout; do
	command -v $t >/dev/null 2>&1 ||
	    die "$t is missing (make bootstrap installs rsync)"
done

# Deleting trees is slow here (about 1 ms a file on this disk), so no
# tree is deleted while cases run: they go to the trash (a rename), which
# is emptied after the table, or between cases when the disk runs low
# (trash_if_low below).  A previous run's leftovers go there too.
TRASH=$WORK/trash
mkdir -p "$TRASH" || exit 2
[ ! -e "$S" ] || mv "$S" "$TRASH/run.$$.$(date +%s)" || exit 2
mkdir -p "$RES" || exit 2
: >"$LOG"
: >"$TABLE"
: >"$OUT"

TN=0
trash()
{
	local d
	for d in "$@"; do
		[ -e "$d" ] || [ -L "$d" ] || continue
		TN=$((TN + 1))
		mv "$d" "$TRASH/$$.$TN" 2>/dev/null || rm -rf "$d"
	done
}

# warm PATH...: read every file under PATH (untimed), so the command that
# follows finds it in the page cache.  This VM pages out memory idle for
# about 30 s (a DAMON pageout scheme), so a tree read before the cases is
# cold again by the time a case runs; each side reads its input just
# before it is timed instead.
warm()
{
	local d
	for d in "$@"; do
		[ -e "$d" ] || continue
		find "$d" -type f -print0 | xargs -0 -r cat >/dev/null 2>&1
	done
}

# --- measuring ---------------------------------------------------------
# measure FILE CMD...: sync, then run CMD under peakrss; one line
# "wall rss_kib written status" is appended to FILE.  Output goes to
# $MLOG (default the log).  Returns CMD's status.
measure()
{
	local f=$1
	shift
	sync
	printf '+ %s\n' "$*" >>"${MLOG:-$LOG}"
	"$PEAK" "$f" timeout -k 5 "$TMO" "$@" >>"${MLOG:-$LOG}" 2>&1 </dev/null
}

# col FILE N stat: median|max|min of column N over the lines of FILE.
col()
{
	[ -s "$1" ] || { echo ""; return; }
	awk -v c="$2" '{ print $c }' "$1" | sort -g | awk -v s="$3" '
	    { v[NR] = $1 }
	    END {
		if (NR == 0) { print ""; exit }
		if (s == "max") print v[NR]
		else if (s == "min") print v[1]
		else if (NR % 2) print v[(NR + 1) / 2]
		else printf "%.3f\n", (v[NR / 2] + v[NR / 2 + 1]) / 2
	    }'
}

# ok FILE [STATUS...]: every run in FILE ended with an allowed status
# (default 0).
ok()
{
	local f=$1 allowed=${2:-0}
	[ -s "$f" ] || return 1
	awk -v a=" $allowed " '{ if (index(a, " " $4 " ") == 0) bad = 1 }
	    END { exit bad }' "$f"
}

calc()
{
	awk "BEGIN { printf \"%.${2:-3}f\", $1 }"
}

# verdict VALUE OP LIMIT -> met|MISSED
verdict()
{
	if [ -z "$1" ]; then
		echo "-"
		return
	fi
	awk -v v="$1" -v l="$3" -v op="$2" 'BEGIN {
	    if ((op == "<=" && v <= l) || (op == "<" && v < l) ||
		(op == ">=" && v >= l) || (op == ">" && v > l))
		    print "met"; else print "MISSED" }'
}

secs()
{
	[ -n "$1" ] && printf '%.2f s' "$1" || printf '-'
}
mib()
{
	[ -n "$1" ] && awk -v b="$1" 'BEGIN { printf "%.1f MiB", b / 1048576 }' ||
	    printf '-'
}
kib_mib()
{
	[ -n "$1" ] && awk -v b="$1" 'BEGIN { printf "%.0f MiB", b / 1024 }' ||
	    printf '-'
}

# row CASE PKGDIST PEER RATIO TARGET RESULT PK_RSS PK_WRITTEN
row()
{
	printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$@" >>"$TABLE"
}

# The last words a failed command printed, for the table.
why()
{
	grep -v '^+ ' "${MLOG:-$LOG}" | tail -n 1 | cut -c1-50
}

# alternate CASE RUNS WARM PKFN PEERFN...: run the functions RUNS times
# in turn (order rotating each run), plus WARM untimed rounds first.
# Each function is called as FN RUN OUTFILE (RUN 0 is a warm-up, whose
# OUTFILE is thrown away) and must call measure on OUTFILE.
alternate()
{
	local c=$1 runs=$2 warm=$3 r i fn n
	shift 3
	local fns=("$@")
	n=${#fns[@]}
	for ((r = 1 - warm; r <= runs; r++)); do
		for ((i = 0; i < n; i++)); do
			fn=${fns[$(((i + r + n) % n))]}
			if [ "$r" -le 0 ]; then
				"$fn" 0 "$RES/$c.$fn.warm" || true
			else
				"$fn" "$r" "$RES/$c.$fn" || true
			fi
		done
	done
}

# --- machine -----------------------------------------------------------
machine()
{
	local cpu disk fs mem
	cpu=$(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo)
	mem=$(awk '/^MemTotal/ { printf "%.0f GiB", $2 / 1048576 }' /proc/meminfo)
	fs=$(df -PT "$WORK" | awk 'NR == 2 { print $2 " on " $1 }')
	disk=$(basename "$(df -P "$WORK" | awk 'NR == 2 { print $1 }')")
	if [ -r "/sys/block/$disk/queue/rotational" ]; then
		if [ "$(cat "/sys/block/$disk/queue/rotational")" = 1 ]; then
			disk="$disk (rotational)"
		else
			disk="$disk (non-rotational)"
		fi
	fi
	say "date:    $(date -u '+%Y-%m-%d %H:%M UTC')"
	say "machine: $NCPU cores, $cpu, $mem RAM, kernel $(uname -sr)"
	say "disk:    $fs, $disk"
	say "tree:    $(git -C "$SRC" rev-parse --short HEAD 2>/dev/null || echo '?') ($(git -C "$SRC" log -1 --format=%cd --date=iso 2>/dev/null))"
	say "peers:   $(rsync --version | head -n 1 | awk '{ print $1, $3 }'), $(tar --version | head -n 1), $(gzip --version | head -n 1), $(sha256sum --version | head -n 1), $(openssl version | awk '{ print $1, $2 }'), $(ssh -V 2>&1 | cut -d, -f1)"
	# What one file costs this file system, for reading the figures.
	say "fs:      per file (2,000 files of 4 KiB, each step then sync): $("$GEN" fsprobe "$WORK/fsprobe.$$" 2000)"
	say "load:    $(cut -d' ' -f1-3 /proc/loadavg) at start (1, 5, 15 min; other work on the machine skews the figures)"
	say "mode:    $([ "$QUICK" = 1 ] && echo "QUICK (1/10 sizes)" || echo full), $RUNS timed run(s) per side, seed $SEED, median reported"
}

# --- workloads ---------------------------------------------------------
# workload NAME NFILES BYTES [BIGBYTES]: $WORK/data/NAME-SEED-N-B/{v1,v2}
# and its mutation line in .../mut; built once and cached.
workload()
{
	local name=$1 n=$2 b=$3 big=${4:-0}
	local d=$WORK/data/$name-s$SEED-n$n-b$b-g$big
	if [ "$(cat "$d/.done" 2>/dev/null)" != "$GENV" ]; then
		note "generating $name ($n files, $(mib $((b + big))))"
		chmod -R u+w "$d" 2>/dev/null
		rm -rf "$d"
		mkdir -p "$d" || die "cannot create $d"
		"$GEN" tree "$d/v1" "$SEED" "$n" "$b" "$big" ||
		    die "cannot generate $name"
		if [ "$big" = 0 ]; then
			cp -al "$d/v1" "$d/v2" || die "cp -al $name"
			"$GEN" mutate "$d/v2" "$SEED" "$n" "$b" >"$d/mut" ||
			    die "cannot mutate $name"
		fi
		echo "$GENV" >"$d/.done"
	fi
	echo "$d"
}

# mutfield DIR NAME: a field of the mutation line
mutfield()
{
	awk -v k="$2" '{ for (i = 1; i < NF; i++) if ($i == k) print $(i + 1) }' \
	    "$1/mut"
}

treebytes()
{
	find "$1" -type f -printf '%s\n' | awk '{ s += $1 } END { print s + 0 }'
}

dusb()
{
	du -sb "$1" 2>/dev/null | awk '{ print $1 }'
}

# Escape a DP target as manifest paths are (space, backslash).
dpesc()
{
	printf '%s' "$1" | sed 's/\\/\\134/g; s/ /\\040/g'
}

# --- probes: which pkgdist features are on this build ------------------
declare -A HAVE WHY
probe()
{
	local name=$1
	shift
	if MLOG=$S/probe.log measure "$S/probe.res" "$@"; then
		HAVE[$name]=1
	else
		HAVE[$name]=0
		WHY[$name]="n/a (not built: $(MLOG=$S/probe.log why))"
	fi
}

run_probes()
{
	local p=$S/probe
	mkdir -p "$p"
	"$GEN" tree "$p/v1" 7 40 200000 >/dev/null 2>&1
	cp -al "$p/v1" "$p/v2"
	"$GEN" mutate "$p/v2" 7 40 200000 >/dev/null 2>&1
	: >"$S/probe.log"
	for t in pkgdiff pkgstage pkgpush; do
		[ -x "$BIN/$t" ] || note "$BIN/$t not built"
	done
	probe scan "$BIN/pkgdiff" scan -o "$p/m1" "$p/v1"
	probe reuse "$BIN/pkgdiff" scan --reuse "$p/m1" -o "$p/m2" "$p/v2"
	probe diff sh -c '"$1" diff "$2" "$3" >/dev/null; [ $? -eq 1 ]' sh \
	    "$BIN/pkgdiff" "$p/m1" "$p/m2"
	probe add "$BIN/pkgstage" -s "$p/store" add probe "$p/v1"
	probe addman "$BIN/pkgstage" -s "$p/store" add --manifest "$p/m2" \
	    probe "$p/v2"
	probe export "$BIN/pkgstage" -s "$p/store" export probe 2 -o "$p/f.pkg"
	probe import "$BIN/pkgstage" -s "$p/store2" import "$p/f.pkg"
	mkdir -p "$p/dp1" "$p/dp2" "$p/dp3" "$p/dp4"
	{
		echo "pdp1 g1 $(dpesc "$p/dp1")"
		echo "pdp2 g2 $(dpesc "$p/dp2")"
		echo "pdp3 g3 $(dpesc "$p/dp3")"
		echo "pdp4 g3 $(dpesc "$p/dp4")"
	} >>"$p/store/dps" 2>/dev/null
	probe push "$BIN/pkgpush" -s "$p/store" --version 1 --dp pdp1 probe
	probe refresh "$BIN/pkgpush" -s "$p/store" --dp pdp1 probe
	probe inplace "$BIN/pkgpush" -s "$p/store" --inplace --version 1 \
	    --dp pdp2 probe
	probe inrefresh "$BIN/pkgpush" -s "$p/store" --inplace --dp pdp2 probe
	probe rollback "$BIN/pkgpush" -s "$p/store" --inplace --rollback \
	    --version 1 --dp pdp2 probe
	probe group "$BIN/pkgpush" -s "$p/store" -j 2 --group g3 probe
	[ "${HAVE[addman]}" = 1 ] || HAVE[export]=0
	[ "${HAVE[push]}" = 1 ] || HAVE[refresh]=0
	local f
	for f in scan reuse diff add addman export import push refresh \
	    inplace inrefresh rollback group; do
		[ "${HAVE[$f]}" = 1 ] || note "feature $f: ${WHY[$f]:-n/a}"
	done
}

# na CASE FEATURE...: if a feature is missing, write the row and succeed.
na()
{
	local c=$1 f
	shift
	for f in "$@"; do
		if [ "${HAVE[$f]:-0}" != 1 ]; then
			row "$c" "${WHY[$f]:-n/a (not built)}" "" "" "" "-" "" ""
			return 0
		fi
	done
	return 1
}

# result CASE PKFILE PEERFILE TARGET_OP TARGET [ALLOWED_STATUS]
# The usual row: medians, ratio pkgdist/peer, verdict.
result()
{
	local c=$1 pf=$2 qf=$3 op=$4 lim=$5 allowed=${6:-0}
	local pm qm ratio res
	if ! ok "$pf" "$allowed"; then
		row "$c" "FAILED (status $(col "$pf" 4 max))" \
		    "$(secs "$(col "$qf" 1 median)")" "" "$op $lim" "MISSED" "" ""
		return
	fi
	if ! ok "$qf"; then
		row "$c" "$(secs "$(col "$pf" 1 median)")" "peer FAILED" "" \
		    "$op $lim" "-" "" ""
		return
	fi
	pm=$(col "$pf" 1 median)
	qm=$(col "$qf" 1 median)
	ratio=$(calc "$pm / ($qm > 0 ? $qm : 0.001)" 2)
	if [ -n "$op" ]; then
		res=$(verdict "$ratio" "$op" "$lim")
	else
		res="(info)"
	fi
	row "$c" "$(secs "$pm")" "$(secs "$qm")" "$ratio" "$op $lim" "$res" \
	    "$(kib_mib "$(col "$pf" 2 max)")" "$(mib "$(col "$pf" 3 median)")"
}

# ======================================================================
# The cases.  Names: O1/O2 office v1/v2, M1/M2 many-small, BIGD big.

# --- scan --------------------------------------------------------------
scan_pk() { warm "$O1"; measure "$2" "$BIN/pkgdiff" scan -o "$S/scan.out" "$O1"; }
scan_peer()
{
	warm "$O1"
	measure "$2" sh -c 'find "$1" -type f -print0 |
	    xargs -0 -P2 -n 64 sha256sum >"$2"' sh "$O1" "$S/sha.out"
}
# openssl speed is noisy on a shared VM: measure it between the scans.
scan_osl()
{
	[ "$1" = 0 ] && return 0
	openssl speed -elapsed -evp sha256 -bytes 1048576 -seconds 1 \
	    -multi "$NCPU" \
	    -mr 2>/dev/null | awk -F: '/^\+F:/ { v = $4 } END { print v }' \
	    >>"$RES/scan.osl"
}
# The read(2) ceiling on the same files: readrate (tests/bench/readrate.c)
# reads them as pkgdiff does (biggest first, $NCPU threads, 1 MiB read(2)
# calls) without hashing, then the same loop with SHA-256 (EVP) added.
scan_read()
{
	warm "$O1"
	measure "$2" "$READRATE" -j "$NCPU" "$O1"
}
scan_readhash()
{
	warm "$O1"
	measure "$2" "$READRATE" -H -j "$NCPU" "$O1"
}
case_scan()
{
	local c="scan office vs find + xargs -P2 sha256sum"
	na "$c" scan && return
	alternate scan "$RUNS" 1 scan_pk scan_peer scan_osl scan_read \
	    scan_readhash
	result "$c" "$RES/scan.scan_pk" "$RES/scan.scan_peer" "<=" 0.33
	# Throughput against what openssl says the cores can hash.
	local osl bytes pm tput ratio rd rh rdt rht pred
	osl=$(col "$RES/scan.osl" 1 median)
	bytes=$(treebytes "$O1")
	pm=$(col "$RES/scan.scan_pk" 1 median)
	if ok "$RES/scan.scan_pk" && [ -n "$osl" ]; then
		tput=$(calc "$bytes / $pm / 1048576" 0)
		ratio=$(calc "$bytes / $pm / $osl" 2)
		note "scan: openssl speed without -elapsed (per CPU second: above the -elapsed figure when the run waited for a core) says $(openssl speed -evp sha256 -bytes 1048576 -seconds 1 -multi "$NCPU" -mr 2>/dev/null | awk -F: '/^\+F:/ { v = $4 } END { printf "%.0f MiB/s", v / 1048576 }')"
		row "scan office throughput vs openssl speed -elapsed ($NCPU cores)" \
		    "$tput MiB/s" "$(calc "$osl / 1048576" 0) MiB/s" \
		    "$ratio" ">= 0.85" "$(verdict "$ratio" ">=" 0.85)" "" ""
	fi
	# Why: every byte is first copied out of the page cache by read(2)
	# (openssl hashes one buffer that stays in the CPU's cache).  If
	# the copy and the hash share the cores, pkgdiff can reach at most
	# 1 / (1 + osl / read ceiling) of openssl.
	if ok "$RES/scan.scan_read" && ok "$RES/scan.scan_readhash" &&
	    [ -n "$osl" ]; then
		rd=$(col "$RES/scan.scan_read" 1 median)
		rh=$(col "$RES/scan.scan_readhash" 1 median)
		rdt=$(calc "$bytes / $rd" 0)
		rht=$(calc "$bytes / $rh" 0)
		pred=$(calc "1 / (1 + $osl / $rdt)" 2)
		row "scan office: read(2) ceiling, no hashing ($NCPU threads, 1 MiB reads, info)" \
		    "$(calc "$rdt / 1048576" 0) MiB/s" \
		    "$(calc "$osl / 1048576" 0) MiB/s" \
		    "$(calc "$rdt / $osl" 2)" "" "(info)" "" ""
		row "scan office: read(2) + SHA-256 loop (readrate -H) vs openssl (info)" \
		    "$(calc "$rht / 1048576" 0) MiB/s" \
		    "$(calc "$osl / 1048576" 0) MiB/s" \
		    "$(calc "$rht / $osl" 2)" "" "(info)" "" ""
		note "scan: read ceiling $(calc "$rdt / 1048576" 0) MiB/s, read+hash loop $(calc "$rht / 1048576" 0) MiB/s, pkgdiff ${tput:-?} MiB/s, openssl $(calc "$osl / 1048576" 0) MiB/s; copy and hash in turn on the same cores predict at most $pred of openssl"
		echo "$pred" >"$RES/scan.pred"
	fi
}

# --- scan of one big file (no target: one file is one thread) ----------
bigscan_pk() { warm "$BIGD/v1"; measure "$2" "$BIN/pkgdiff" scan -o "$S/bigscan.out" "$BIGD/v1"; }
bigscan_peer()
{
	warm "$BIGD/v1"
	measure "$2" sh -c 'find "$1" -type f -print0 | xargs -0 sha256sum >"$2"' \
	    sh "$BIGD/v1" "$S/bigsha.out"
}
case_bigscan()
{
	local c="scan big (1 file) vs sha256sum (info)"
	na "$c" scan && return
	alternate bigscan "$RUNS" 0 bigscan_pk bigscan_peer
	result "$c" "$RES/bigscan.bigscan_pk" "$RES/bigscan.bigscan_peer" "" ""
	local osl bytes pm ratio
	osl=$(openssl speed -elapsed -evp sha256 -bytes 1048576 -seconds 2 -mr \
	    2>/dev/null | awk -F: '/^\+F:/ { v = $4 } END { print v }')
	bytes=$(treebytes "$BIGD/v1")
	pm=$(col "$RES/bigscan.bigscan_pk" 1 median)
	if ok "$RES/bigscan.bigscan_pk" && [ -n "$osl" ]; then
		ratio=$(calc "$bytes / $pm / $osl" 2)
		row "scan big throughput vs openssl speed -elapsed (1 core, info)" \
		    "$(calc "$bytes / $pm / 1048576" 0) MiB/s" \
		    "$(calc "$osl / 1048576" 0) MiB/s" "$ratio" "" "(info)" "" ""
	fi
}

# --- scan --reuse of an unchanged 100k tree ----------------------------
reuse_pk()
{
	measure "$2" "$BIN/pkgdiff" scan --reuse "$S/many1.man" \
	    -o "$S/reuse.out" "$M1"
}
reuse_peer()
{
	measure "$2" sh -c 'find "$1" -printf "%s %T@ %p\n" >"$2"' sh "$M1" \
	    "$S/find.out"
}
case_reuse()
{
	local c="scan --reuse 100k unchanged vs find -printf"
	na "$c" scan reuse && return
	if ! MLOG=$S/log measure "$RES/reuse.setup" "$BIN/pkgdiff" scan \
	    -o "$S/many1.man" "$M1"; then
		row "$c" "FAILED (first scan: $(why))" "" "" "<= 1.5" "MISSED" "" ""
		return
	fi
	alternate reuse "$RUNS" 1 reuse_pk reuse_peer
	result "$c" "$RES/reuse.reuse_pk" "$RES/reuse.reuse_peer" "<=" 1.5
	if cmp -s "$S/reuse.out" "$S/many1.man"; then
		note "reuse: manifest identical to a full scan"
	else
		note "reuse: WARNING: manifest differs from a full scan"
	fi
}

# --- diff of two 1M-entry manifests ------------------------------------
diff_pk()
{
	warm "$S/man.a" "$S/man.b"
	measure "$2" sh -c '"$1" diff "$2" "$3" >"$4"' sh "$BIN/pkgdiff" \
	    "$S/man.a" "$S/man.b" "$S/diff.out"
}
diff_peer()
{
	warm "$S/man.a.sorted" "$S/man.b.sorted"
	measure "$2" sh -c 'comm -3 "$1" "$2" >"$3"' sh \
	    "$S/man.a.sorted" "$S/man.b.sorted" "$S/comm.out"
}
case_diff()
{
	local c="diff 2x${MAN_N} entries vs comm -3"
	na "$c" diff && return
	"$GEN" manifest "$S/man.a" "$SEED" "$MAN_N" 0 &&
	    "$GEN" manifest "$S/man.b" "$SEED" "$MAN_N" 1 ||
	    die "cannot generate manifests"
	# comm needs its input in its own order: the same lines, sort(1)ed.
	sort "$S/man.a" >"$S/man.a.sorted" && sort "$S/man.b" >"$S/man.b.sorted"
	alternate diff "$RUNS" 1 diff_pk diff_peer
	result "$c" "$RES/diff.diff_pk" "$RES/diff.diff_peer" "<=" 2 "0 1"
	local rss
	rss=$(col "$RES/diff.diff_pk" 2 max)
	if [ -n "$rss" ] && ok "$RES/diff.diff_pk" "0 1"; then
		row "diff ${MAN_N}: peak memory" "$(kib_mib "$rss")" \
		    "$(kib_mib "$(col "$RES/diff.diff_peer" 2 max)")" "" \
		    "< 400 MiB" "$(verdict "$rss" "<" 409600)" "" ""
	fi
	note "diff: $(wc -l <"$S/diff.out") change lines; comm: $(wc -l <"$S/comm.out") lines"
	rm -f "$S"/man.* "$S/diff.out" "$S/comm.out"
}

# --- stage -------------------------------------------------------------
stage_pk()
{
	local st=$S/store$1
	trash "$st"
	warm "$O1"
	measure "$2" "$BIN/pkgstage" -s "$st" add office "$O1"
	[ "$1" = 0 ] || echo "$1 $(dusb "$st")" >>"$RES/stage.size"
}
stage_peer()
{
	warm "$O1"
	measure "$2" tar -czf "$S/office.tgz" -C "$O1" .
}
untar_pk()
{
	local new=$S/imp$1
	trash "$new" "$S/office.pkg"
	warm "$S/store1"
	measure "$2" sh -c '"$1" -s "$2" export office 1 -o "$3" &&
	    "$1" -s "$4" import "$3"' sh "$BIN/pkgstage" "$S/store1" \
	    "$S/office.pkg" "$new"
	[ "$1" = 0 ] || trash "$new"
}
untar_peer()
{
	trash "$S/untar"
	mkdir -p "$S/untar"
	warm "$S/office.tgz"
	measure "$2" tar -xzf "$S/office.tgz" -C "$S/untar"
	trash "$S/untar"
}
second_pk()
{
	local st=$S/store$1 before
	before=$(dusb "$st")
	measure "$2" sh -c '"$1" scan --reuse "$2" -o "$3" "$4" &&
	    "$5" -s "$6" add --manifest "$3" office "$4"' sh \
	    "$BIN/pkgdiff" "$S/office1.man" "$S/office2.man" "$O2" \
	    "$BIN/pkgstage" "$st"
	echo "$1 $(($(dusb "$st") - before))" >>"$RES/second.growth"
}
case_stage()
{
	local c="stage first add vs tar -czf"
	na "$c" add && return
	# No warm-up round: the tree was read before the cases.
	alternate stage "$RUNS" 0 stage_pk stage_peer
	result "$c" "$RES/stage.stage_pk" "$RES/stage.stage_peer" "<=" 0.25
	if ok "$RES/stage.stage_pk" && [ -s "$S/office.tgz" ]; then
		local ssz tsz r
		ssz=$(col "$RES/stage.size" 2 median)
		tsz=$(stat -c %s "$S/office.tgz")
		r=$(calc "$ssz / $tsz" 2)
		row "stage: store size vs .tar.gz size" "$(mib "$ssz")" \
		    "$(mib "$tsz")" "$r" "<= 1.1" "$(verdict "$r" "<=" 1.1)" "" ""
	else
		return
	fi

	c="stage second add (1% changed, scan --reuse + add --manifest) vs first add"
	if ! na "$c" reuse addman; then
		if ! MLOG=$S/log measure "$RES/stage.man" "$BIN/pkgdiff" scan \
		    -o "$S/office1.man" "$O1"; then
			row "$c" "FAILED (scan: $(why))" "" "" "<= 0.10" "MISSED" "" ""
		else
			local r
			for ((r = 1; r <= RUNS; r++)); do
				second_pk "$r" "$RES/second.pk"
			done
			result "$c" "$RES/second.pk" "$RES/stage.stage_pk" "<=" 0.10
			if ok "$RES/second.pk"; then
				local g chg
				g=$(col "$RES/second.growth" 2 median)
				chg=$(mutfield "$OFFICE" changed_bytes)
				row "stage second add: store growth vs changed bytes" \
				    "$(mib "$g")" "$(mib "$chg")" \
				    "$(calc "$g / $chg" 2)" "<= 2" \
				    "$(verdict "$(calc "$g / $chg" 2)" "<=" 2)" "" ""
			fi
		fi
	fi

	c="export+import vs tar -czf + tar -xzf"
	na "$c" export import && return
	alternate untar "$RUNS" 0 untar_pk untar_peer
	if ok "$RES/untar.untar_pk" && ok "$RES/untar.untar_peer"; then
		# The peer is the measured tar -czf (stage case) plus tar -xzf.
		local czf xzf pm both r
		czf=$(col "$RES/stage.stage_peer" 1 median)
		xzf=$(col "$RES/untar.untar_peer" 1 median)
		pm=$(col "$RES/untar.untar_pk" 1 median)
		both=$(calc "$czf + $xzf")
		r=$(calc "$pm / $both" 2)
		row "$c" "$(secs "$pm")" "$(secs "$both")" "$r" "<= 0.5" \
		    "$(verdict "$r" "<=" 0.5)" \
		    "$(kib_mib "$(col "$RES/untar.untar_pk" 2 max)")" \
		    "$(mib "$(col "$RES/untar.untar_pk" 3 median)")"
	else
		result "$c" "$RES/untar.untar_pk" "$RES/untar.untar_peer" "<=" 0.5
	fi
}

# --- push to local DPs -------------------------------------------------
# The store with office v1 and v2 (the stage case's), and its DP list.
PSTORE=
push_store()
{
	[ -n "$PSTORE" ] && return 0
	PSTORE=$S/pstore
	trash "$PSTORE"
	if [ -d "$S/store1" ] && "$BIN/pkgstage" -s "$S/store1" show office 2 \
	    >/dev/null 2>&1; then
		mv "$S/store1" "$PSTORE"
		return 0
	fi
	"$BIN/pkgstage" -s "$PSTORE" add office "$O1" >>"$LOG" 2>&1 &&
	    "$BIN/pkgstage" -s "$PSTORE" add office "$O2" >>"$LOG" 2>&1
}
adddp()		# adddp STORE NAME GROUP DIR
{
	echo "$2 $3 $(dpesc "$4")" >>"$1/dps"
}

push_pk()
{
	adddp "$PSTORE" "dp$1" bench "$S/dp$1"
	trash "$S/dp$1"
	mkdir -p "$S/dp$1"
	warm "$PSTORE/objects"
	measure "$2" "$BIN/pkgpush" -s "$PSTORE" --version 1 --dp "dp$1" office
}
push_rsync()
{
	trash "$S/rs$1"
	warm "$O1"
	measure "$2" rsync -a "$O1/" "$S/rs$1/"
}
push_rsync_sync()
{
	trash "$S/rss$1"
	warm "$O1"
	measure "$2" sh -c 'rsync -a "$1" "$2" && sync' sh "$O1/" "$S/rss$1/"
	trash "$S/rss$1"
}
push_cp()
{
	trash "$S/cp$1"
	warm "$O1"
	measure "$2" cp -a "$O1" "$S/cp$1"
	trash "$S/cp$1"
}
# reportbytes FILE: the bytes pkgpush's report lines say it wrote: every
# number followed by "bytes" on a line "NAME: PKG OLD -> NEW: ...", summed
# (today "N bytes written", content only; a report that also counts the
# DP state, in any wording of that form, is summed whole).
reportbytes()
{
	grep -a ' -> [0-9]*: ' "$1" | awk '{ for (i = 2; i <= NF; i++)
	    if ($i ~ /^bytes/ && $(i - 1) ~ /^[0-9]+$/) s += $(i - 1) }
	    END { print s + 0 }'
}
refresh_pk()
{
	local out=$S/refresh.out hold
	warm "$PSTORE/objects"
	MLOG=$out measure "$2" "$BIN/pkgpush" -s "$PSTORE" --dp "dp$1" office
	cat "$out" >>"$LOG"
	[ "$1" = 0 ] && return 0
	# pkgpush's own writes to the DP: what it passed to write(2)
	# (/proc/PID/io wchar, peakrss's column 5) less what went elsewhere:
	# its report (stdout) and the store's holdings record, rewritten
	# whole at each push.
	hold=$(find "$PSTORE" -name holdings -path '*office*' -printf '%s\n' |
	    awk '{ s += $1 } END { print s + 0 }')
	echo "$1 $(reportbytes "$out") $(grep -av '^+ ' "$out" | wc -c) $hold" \
	    >>"$RES/refresh.own"
	rm -f "$out"
}
refresh_peer()
{
	trash "$S/rs$1.new"
	warm "$O2"
	measure "$2" rsync -a --delete --link-dest="$S/rs$1" "$O2/" "$S/rs$1.new/"
}
# The storage writes of the atomic refresh (target <= 1.1x the changed
# files' bytes), by pkgpush's own account; the kernel's count beside
# rsync's, for information.
refresh_writes()
{
	local chg rep wdp src own k kr r links dirs
	chg=$(mutfield "$OFFICE" changed_bytes)
	# Per run: the report's bytes, and wchar less the report line and
	# the holdings record (what pkgpush wrote to the DP).
	paste -d' ' "$RES/refresh.refresh_pk" "$RES/refresh.own" |
	    awk '{ print $1, $(NF - 2), $5 - $(NF - 1) - $NF }' >"$RES/refresh.ownw"
	rep=$(col "$RES/refresh.ownw" 2 median)
	wdp=$(col "$RES/refresh.ownw" 3 median)
	# No /proc/PID/io (wchar -1): the report alone.
	if [ -z "$wdp" ] || awk -v w="$wdp" 'BEGIN { exit !(w < 0) }'; then
		wdp=""
	fi
	# The figure is the larger of the two, so it is never flattering:
	# the report while it counts every byte pkgpush writes to the DP
	# (state files included), wchar when the report leaves some out.
	if [ -n "$wdp" ] && awk -v a="$rep" -v b="$wdp" \
	    'BEGIN { exit !(a + 0 < b + 0) }'; then
		own=$wdp
		src="wchar"
	else
		own=$rep
		src="report"
	fi
	r=$(calc "$own / $chg" 2)
	row "refresh 1% atomic: bytes pkgpush wrote to the DP ($src) vs changed bytes" \
	    "$(mib "$own")" "$(mib "$chg")" "$r" "<= 1.1" \
	    "$(verdict "$r" "<=" 1.1)" "" ""
	note "refresh: pkgpush's report says $rep bytes written; its write(2) calls to the DP (/proc/PID/io wchar less its report line and the store's holdings record) $wdp bytes; the row uses the $src figure"
	# The kernel's count (ru_oublock): file data, plus the inode-table
	# block each hard link dirties (link count) and the new tree's
	# directory blocks.  rsync --link-dest pays the same.
	k=$(col "$RES/refresh.refresh_pk" 3 median)
	kr=$(col "$RES/refresh.refresh_peer" 3 median)
	row "refresh 1% atomic: kernel-counted writes (ru_oublock) vs changed (info)" \
	    "$(mib "$k")" "$(mib "$chg")" "$(calc "$k / $chg" 2)" "" \
	    "(info)" "" ""
	row "refresh 1%: rsync --link-dest kernel-counted writes vs changed (info)" \
	    "" "$(mib "$kr")" "$(calc "$kr / $chg" 2)" "" "(info)" "" ""
	links=$(find "$S/dp1/office/" -type f -links +1 | wc -l)
	dirs=$(find "$S/dp1/office/" -type d | wc -l)
	row "refresh 1%: kernel-counted writes beyond the data (new tree: $links hard links, $dirs dirs; info)" \
	    "$(mib "$(calc "$k - ${wdp:-$rep}" 0)")" \
	    "$(mib "$(calc "$kr - $chg" 0)")" "" "" "(info)" "" ""
	note "refresh: beyond the bytes written, the kernel counts $(mib "$(calc "$k - ${wdp:-$rep}" 0)") for pkgpush and $(mib "$(calc "$kr - $chg" 0)") for rsync --link-dest: the new tree's $links hard links (each dirties its inode's table block: link count, ctime) and $dirs directories (new directory blocks and inodes), plus their journal blocks"
}
case_push()
{
	local c="push first (atomic) vs rsync -a"
	na "$c" push && return
	if ! push_store; then
		row "$c" "FAILED (staging: $(why))" "" "" "<= 1" "MISSED" "" ""
		return
	fi
	alternate push "$RUNS" 0 push_pk push_rsync push_cp push_rsync_sync
	result "$c" "$RES/push.push_pk" "$RES/push.push_rsync" "<=" 1
	result "push first (atomic) vs cp -a" "$RES/push.push_pk" \
	    "$RES/push.push_cp" "<=" 1.5
	result "push first (atomic) vs rsync -a + sync (durable, info)" \
	    "$RES/push.push_pk" "$RES/push.push_rsync_sync" "" ""
	note "push: pkgpush makes what it writes durable (syncfs); rsync and cp do not"

	c="refresh 1% atomic vs rsync -a --link-dest"
	ok "$RES/push.push_pk" || return 0
	na "$c" refresh && return
	alternate refresh "$RUNS" 0 refresh_pk refresh_peer
	result "$c" "$RES/refresh.refresh_pk" "$RES/refresh.refresh_peer" "<=" 1
	if ok "$RES/refresh.refresh_pk"; then
		refresh_writes
	fi
	local r
	for ((r = 1; r <= RUNS; r++)); do
		trash "$S/dp$r" "$S/rs$r" "$S/rs$r.new"
	done
}

# --- 8 DPs with -j 2 vs one DP -----------------------------------------
dps_one()
{
	adddp "$PSTORE" "one$1" one$1 "$S/one$1"
	trash "$S/one$1"
	mkdir -p "$S/one$1"
	warm "$PSTORE/objects"
	measure "$2" "$BIN/pkgpush" -s "$PSTORE" --version 1 --dp "one$1" office
	trash "$S/one$1"
}
dps_eight()
{
	local i
	for ((i = 1; i <= 8; i++)); do
		adddp "$PSTORE" "eight$1x$i" "g8r$1" "$S/eight$1x$i"
		trash "$S/eight$1x$i"
		mkdir -p "$S/eight$1x$i"
	done
	warm "$PSTORE/objects"
	measure "$2" "$BIN/pkgpush" -s "$PSTORE" -j 2 --version 1 \
	    --group "g8r$1" office
	trash "$S"/eight"$1"x*
}
# The disk's floor for the same bytes: a plain copy of the tree the DPs
# get (office v1), made durable as pkgpush makes a DP durable (sync -f is
# syncfs), to one directory, and to eight directories two at a time.
copy_eight()	# copy_eight FILE PREFIX: office v1 to PREFIX1 .. PREFIX8, 2 at a time
{
	measure "$1" env SRC="$O1" DST="$2" sh -c '
	    lane() {
		for i in "$@"; do
			cp -a "$SRC" "$DST$i" && sync -f "$DST$i" || exit 1
		done
	    }
	    lane 1 2 3 4 & a=$!
	    lane 5 6 7 8 & b=$!
	    wait $a && wait $b'
}
floor_one()
{
	trash "$S/fl$1"
	warm "$O1"
	measure "$2" sh -c 'cp -a "$1" "$2" && sync -f "$2"' sh "$O1" "$S/fl$1"
	trash "$S/fl$1"
}
floor_eight()
{
	trash "$S"/fle"$1"x*
	warm "$O1"
	copy_eight "$2" "$S/fle$1x"
	trash "$S"/fle"$1"x*
}
# The same 8 DPs and 8 copies on a tmpfs (BENCH_TMPFS, default /dev/shm):
# no disk, so what is left is each side's own work, the CPU's part of the
# 8-DP row.  The store and the copied tree stay where they are, warm.
MEMDIR=
dps_mem_dir()
{
	local need
	[ -n "$MEMDIR" ] && return 0
	need=$(($(treebytes "$O1") * 9 / 1024))
	MEMDIR=${BENCH_TMPFS:-/dev/shm}/pkgdist-bench.$$
	if [ "$(df -P "${MEMDIR%/*}" 2>/dev/null | awk 'NR == 2 { print $4 }')" \
	    -gt "$need" ] 2>/dev/null &&
	    [ "$(df -PT "${MEMDIR%/*}" | awk 'NR == 2 { print $2 }')" = tmpfs ] &&
	    mkdir -p "$MEMDIR"; then
		return 0
	fi
	MEMDIR=none
	return 1
}
dps_eight_mem()
{
	local i
	rm -rf "$MEMDIR/dp"
	for ((i = 1; i <= 8; i++)); do
		adddp "$PSTORE" "mem$1x$i" "gm$1" "$MEMDIR/dp/$i.$1"
		mkdir -p "$MEMDIR/dp/$i.$1"
	done
	warm "$PSTORE/objects"
	measure "$2" "$BIN/pkgpush" -s "$PSTORE" -j 2 --version 1 \
	    --group "gm$1" office
	rm -rf "$MEMDIR/dp"
}
floor_eight_mem()
{
	rm -rf "$MEMDIR/fl"
	mkdir -p "$MEMDIR/fl"
	warm "$O1"
	copy_eight "$2" "$MEMDIR/fl/"
	rm -rf "$MEMDIR/fl"
}
case_dps()
{
	# The target is the disk's own floor for the same work in the same
	# run (8 copies, 2 at a time, each made durable): each content is
	# read and checked once for all 8 DPs, so what is left is writing.
	local c="push to 8 DPs -j 2 vs cp -a + sync -f to 8 dirs 2 at a time"
	na "$c" push group && return
	push_store || return 0
	# On the tmpfs first, before the disk runs leave 4 GiB of trees
	# in the page cache.
	local cm="8 DPs on tmpfs (no disk: the CPU's part) -j 2 vs cp -a + sync -f 2 at a time (info)"
	local memok=
	if dps_mem_dir; then
		alternate dpsmem "$RUNS" 0 dps_eight_mem floor_eight_mem
		rm -rf "$MEMDIR"
		memok=1
	fi
	alternate dps "$RUNS" 0 dps_eight dps_one floor_eight floor_one
	result "$c" "$RES/dps.dps_eight" "$RES/dps.floor_eight" "<=" 1.1
	result "push to 8 DPs -j 2 vs 1 DP (info)" "$RES/dps.dps_eight" \
	    "$RES/dps.dps_one" "" ""
	ok "$RES/dps.floor_one" && ok "$RES/dps.floor_eight" || return 0
	ok "$RES/dps.dps_one" && ok "$RES/dps.dps_eight" || return 0
	local b e1 e8 f1 f8 c1 c8 fr
	b=$(treebytes "$O1")
	e8=$(col "$RES/dps.dps_eight" 1 median)
	e1=$(col "$RES/dps.dps_one" 1 median)
	f8=$(col "$RES/dps.floor_eight" 1 median)
	f1=$(col "$RES/dps.floor_one" 1 median)
	fr=$(calc "$f8 / $f1" 2)
	row "disk floor: cp -a + sync -f to 8 dirs 2 at a time vs to 1 dir (info)" \
	    "$(secs "$f8")" "$(secs "$f1")" "$fr" "" "(info)" "" ""
	row "8 DPs: MiB/s written, pkgpush vs cp -a + sync -f (info)" \
	    "$(calc "8 * $b / $e8 / 1048576" 0) MiB/s" \
	    "$(calc "8 * $b / $f8 / 1048576" 0) MiB/s" \
	    "$(calc "$f8 / $e8" 2)" "" "(info)" "" ""
	row "1 DP: MiB/s written, pkgpush vs cp -a + sync -f (info)" \
	    "$(calc "$b / $e1 / 1048576" 0) MiB/s" \
	    "$(calc "$b / $f1 / 1048576" 0) MiB/s" \
	    "$(calc "$f1 / $e1" 2)" "" "(info)" "" ""
	# Cores kept busy (CPU seconds / wall): near $NCPU means the CPU is
	# the limit, well below it means pkgpush waits for the disk.
	c8=$(col "$RES/dps.dps_eight" 7 median)
	c1=$(col "$RES/dps.dps_one" 7 median)
	row "8 DPs: cores busy (CPU s / wall s), pkgpush 8 DPs vs 1 DP (info)" \
	    "$(calc "$c8 / $e8" 2) ($(calc "$c8" 1) s)" \
	    "$(calc "$c1 / $e1" 2) ($(calc "$c1" 1) s)" "" "" "(info)" "" ""
	if [ -n "$memok" ]; then
		result "$cm" "$RES/dpsmem.dps_eight_mem" \
		    "$RES/dpsmem.floor_eight_mem" "" ""
	else
		row "$cm" "n/a (no tmpfs with room at ${BENCH_TMPFS:-/dev/shm})" \
		    "" "" "" "-" "" ""
	fi
	note "dps: pkgpush 8 DPs ${e8} s (CPU ${c8} s), 1 DP ${e1} s (CPU ${c1} s); cp -a + sync -f 8 dirs ${f8} s (CPU $(col "$RES/dps.floor_eight" 7 median) s), 1 dir ${f1} s (CPU $(col "$RES/dps.floor_one" 7 median) s); the disk alone makes 8 copies $fr x one"
}

# --- the 100k-file package ---------------------------------------------
inplace_pk()
{
	warm "$S/mstore/objects"
	measure "$2" "$BIN/pkgpush" -s "$S/mstore" --inplace --dp mdp many
	# Back to v1 for the next round (untimed).
	MLOG=$S/log measure "$RES/many.reset" "$BIN/pkgpush" -s "$S/mstore" \
	    --inplace --rollback --version 1 --dp mdp many
}
inplace_peer()
{
	warm "$M2"
	measure "$2" rsync -a --delete "$M2/" "$S/mrs/"
	rsync -a --delete "$M1/" "$S/mrs/"
}
case_many()
{
	local c="stage 100k files (setup, info)"
	na "$c" add addman reuse && return
	trash "$S/mstore"
	if ! measure "$RES/many.add1" "$BIN/pkgstage" -s "$S/mstore" add \
	    many "$M1"; then
		row "$c" "FAILED ($(why))" "" "" "" "-" "" ""
		return
	fi
	[ -s "$S/many1.man" ] || "$BIN/pkgdiff" scan -o "$S/many1.man" "$M1"
	if ! measure "$RES/many.add2" sh -c '"$1" scan --reuse "$2" -o "$3" \
	    "$4" && "$5" -s "$6" add --manifest "$3" many "$4"' sh \
	    "$BIN/pkgdiff" "$S/many1.man" "$S/many2.man" "$M2" \
	    "$BIN/pkgstage" "$S/mstore"; then
		row "$c" "FAILED (second add: $(why))" "" "" "" "-" "" ""
		return
	fi
	row "$c" "$(secs "$(col "$RES/many.add1" 1 median)") + $(secs "$(col "$RES/many.add2" 1 median)")" \
	    "" "" "" "-" "$(kib_mib "$(col "$RES/many.add1" 2 max)")" \
	    "$(mib "$(col "$RES/many.add1" 3 max)")"

	c="push first 100k files --inplace vs rsync -a (info)"
	na "$c" inplace && return
	adddp "$S/mstore" mdp bench "$S/mdp"
	mkdir -p "$S/mdp"
	measure "$RES/many.first" "$BIN/pkgpush" -s "$S/mstore" --inplace \
	    --version 1 --dp mdp many
	measure "$RES/many.firstrs" rsync -a "$M1/" "$S/mrs/"
	result "$c" "$RES/many.first" "$RES/many.firstrs" "" ""
	ok "$RES/many.first" || return 0

	c="refresh 1% of 100k files --inplace vs rsync -a --delete"
	na "$c" inrefresh rollback && return
	alternate inplace "$RUNS" 0 inplace_pk inplace_peer
	result "$c" "$RES/inplace.inplace_pk" "$RES/inplace.inplace_peer" \
	    "<=" 0.5
	local rss
	rss=$(cat "$RES/many.first" "$RES/inplace.inplace_pk" 2>/dev/null |
	    awk '{ if ($2 > m) m = $2 } END { print m + 0 }')
	row "push 100k-file package: peak memory" "$(kib_mib "$rss")" \
	    "$(kib_mib "$(cat "$RES/many.firstrs" "$RES/inplace.inplace_peer" |
	    awk '{ if ($2 > m) m = $2 } END { print m + 0 }')")" "" \
	    "< 100 MiB" "$(verdict "$rss" "<" 102400)" "" ""
	trash "$S/mdp" "$S/mrs"
}

# --- refresh over ssh to loopback --------------------------------------
sentbytes()	# sum of "Transferred: sent N" lines in a log
{
	awk '/Transferred: sent/ { gsub(",", "", $3); s += $3 }
	    END { print s + 0 }' "$1"
}
ssh_pk()
{
	trash "$S/sdp"
	cp -a "$S/sdp.v1" "$S/sdp"
	# The store's record goes back with the DP: it holds version 1.
	cp -p "$S/holdings.v1" "$PSTORE/packages/office/holdings" 2>/dev/null
	: >"$S/ssh.pk.log"
	warm "$PSTORE/objects"
	local t0 t1
	MLOG=$S/ssh.pk.out measure "$2" env PKGDIST_SSH="$SSHV -E $S/ssh.pk.log" \
	    PKGDIST_REMOTE_STATS="$S/ssh.pk.stats" \
	    "$BIN/pkgpush" -s "$PSTORE" --dp sdp office
	# pkgpush --serve tidies after its reply (pkgpush(1)), holding the
	# DP's lock: wait for it (untimed), so that work neither runs during
	# the peer's timed run nor is cut off by the next copy of sdp.
	t0=$(date +%s.%N)
	sdp_idle
	t1=$(date +%s.%N)
	echo "$1 $(sentbytes "$S/ssh.pk.log")" >>"$RES/ssh.pk.sent"
	echo "$1 $(calc "$t1 - $t0" 3)" >>"$RES/ssh.pk.idle"
}
sdp_idle()
{
	[ -e "$S/sdp/.pkgdist/.lock" ] && flock "$S/sdp/.pkgdist/.lock" true
	return 0
}
ssh_peer()
{
	rsync -a --delete "$O1/" "$S/srs/"
	: >"$S/ssh.rs.log"
	warm "$O2"
	MLOG=$S/ssh.rs.out measure "$2" rsync -a --delete \
	    -e "$SSHV -E $S/ssh.rs.log" "$O2/" "127.0.0.1:$S/srs/"
	echo "$1 $(sentbytes "$S/ssh.rs.log")" >>"$RES/ssh.rs.sent"
}
# bench_sshd CASE: the test sshd (tests/lib/sshd.bash) started for a
# case; 1, with an n/a row for CASE, when it cannot run.  SSHV is the ssh
# command at LogLevel VERBOSE, so that ssh -E logs its Transferred line.
bench_sshd()
{
	if [ ! -f "$SRC/tests/lib/sshd.bash" ]; then
		row "$1" "n/a (tests/lib/sshd.bash missing)" "" "" "" "-" "" ""
		return 1
	fi
	common_find_bin() { PKGDIST_BIN=$BIN; export PKGDIST_BIN; }
	BATS_TMPDIR=$S
	# shellcheck source=/dev/null
	. "$SRC/tests/lib/sshd.bash"
	sshd_start >>"$LOG" 2>&1
	if [ -n "${SSHD_SKIP:-}" ] || [ -z "${SSHD_PORT:-}" ]; then
		row "$1" "n/a (sshd: ${SSHD_SKIP:-cannot start})" "" "" "" "-" "" ""
		return 1
	fi
	export PKGDIST_REMOTE_PKGPUSH
	SSHV=${PKGDIST_SSH/LogLevel=ERROR/LogLevel=VERBOSE}
}

case_ssh()
{
	local c="ssh refresh 1% vs rsync -a --delete -e ssh"
	na "$c" push refresh && return
	push_store || return 0
	bench_sshd "$c" || return 0
	adddp "$PSTORE" sdp bench "ssh://127.0.0.1:$SSHD_PORT$S/sdp"
	mkdir -p "$S/sdp"
	if ! MLOG=$S/ssh.log measure "$RES/ssh.first" env PKGDIST_SSH="$SSHV" \
	    "$BIN/pkgpush" -s "$PSTORE" --version 1 --dp sdp office; then
		row "$c" "n/a (not built: $(MLOG=$S/ssh.log why))" "" "" "" "-" "" ""
		sshd_stop
		return
	fi
	sdp_idle
	cp -a "$S/sdp" "$S/sdp.v1"
	cp -p "$PSTORE/packages/office/holdings" "$S/holdings.v1" 2>/dev/null
	alternate ssh "$RUNS" 0 ssh_pk ssh_peer
	result "$c" "$RES/ssh.ssh_pk" "$RES/ssh.ssh_peer" "<=" 1
	if ok "$RES/ssh.ssh_pk"; then
		local sent z r
		sent=$(col "$RES/ssh.pk.sent" 2 median)
		z=$(mutfield "$OFFICE" changed_z)
		r=$(calc "$sent / $z" 2)
		if [ "${sent:-0}" = 0 ]; then
			row "ssh refresh: bytes sent vs zlib size of changed files" \
			    "n/a (ssh -E log has no Transferred line)" \
			    "$(mib "$z")" "" "<= 1.1" "-" "" ""
		else
			row "ssh refresh: bytes sent (ssh's count) vs zlib size of changed files" \
			    "$(mib "$sent")" "$(mib "$z")" "$r" "<= 1.1" \
			    "$(verdict "$r" "<=" 1.1)" "" ""
		fi
		note "ssh: rsync -e ssh sent $(mib "$(col "$RES/ssh.rs.sent" 2 median)"); pkgpush's own count (PKGDIST_REMOTE_STATS): $(tail -n 1 "$S/ssh.pk.stats" 2>/dev/null)"
		note "ssh: pkgpush returned in $(secs "$(col "$RES/ssh.ssh_pk" 1 median)"); the remote's work after its reply (spare tree, old trees; pkgpush(1)) went on $(secs "$(col "$RES/ssh.pk.idle" 2 median)") longer (median; untimed, waited for before the next run); manifest sent as: $(tail -n 1 "$S/ssh.pk.stats" 2>/dev/null | awk '{ for (i = 2; i < NF; i++) if ($i == "manifest") print $(i + 1) }')"
	fi
	sshd_stop
	trash "$S/sdp" "$S/sdp.v1" "$S/srs"
}

# --- 100 local DPs and 20 ssh DPs in one command ------------------------
# A 5,000-file package (HUNDRED) to 100 directories with pkgpush --all
# -j 8, first push and 1% refreshes, against the same work done by
# xargs -P 8 rsync; then 20 DP paths on one sshd, -j 8, against xargs -P 8
# rsync -e ssh.  Each run starts from empty DPs (the first push is timed
# too, for information).  The store holds the package's two trees twice
# over (versions 1 to 4: H1, H2, H1, H2), so that every refresh is the
# same 1% change rsync makes: the first one after the first push (1 ->
# 2), when a DP has no spare tree yet, and the steady state (3 -> 4),
# when the tree beyond --keep has become the spare (pkgpush(1)); 2 -> 3
# runs untimed between them.
hundred_pk()	# hundred_pk RUN FILE GROUP COUNT [FLAG]: first push, then the refreshes
{
	local g=$3 d
	trash "$S/h.$g"
	mkdir -p "$S/h.$g"
	for d in $(seq 1 "$4"); do mkdir -p "$S/h.$g/$d"; done
	warm "$HSTORE/objects"
	measure "$2.first" "$BIN/pkgpush" -s "$HSTORE" -j 8 --group "$g" \
	    ${5:+"$5"} --version 1 hundred
	# A remote DP's pkgpush --serve goes on after its reply (the spare
	# for the next push, pkgpush(1)) under the DP's lock: each refresh
	# comes after that work, as a refresh a day later would, and the
	# timed refresh's own is waited for untimed too, so that it does
	# not run during the peer's timed run; its length is noted.
	hundred_idle "$S/h.$g" "$4"
	warm "$HSTORE/objects"
	MLOG=$S/h.$g.out measure "$2.fresh" "$BIN/pkgpush" -s "$HSTORE" \
	    -j 8 --group "$g" ${5:+"$5"} --version 2 hundred
	cat "$S/h.$g.out" >>"$LOG"
	hundred_idle "$S/h.$g" "$4"
	"$BIN/pkgpush" -s "$HSTORE" -j 8 --group "$g" ${5:+"$5"} \
	    --version 3 hundred >>"$LOG" 2>&1
	hundred_idle "$S/h.$g" "$4"
	warm "$HSTORE/objects"
	MLOG=$S/h.$g.out measure "$2" \
	    "$BIN/pkgpush" -s "$HSTORE" -j 8 --group "$g" ${5:+"$5"} \
	    --version 4 hundred
	local t0 t1
	t0=$(date +%s.%N)
	hundred_idle "$S/h.$g" "$4"
	t1=$(date +%s.%N)
	echo "$1 $(calc "$t1 - $t0" 3)" >>"$2.idle"
	# The refresh with that after-work counted in (columns as measure's).
	tail -n 1 "$2" | awk -v a="$(calc "$t1 - $t0" 3)" \
	    '{ $1 = sprintf("%.3f", $1 + a); print }' >>"$2.whole"
	echo "$1 $(grep -c ': hundred 3 -> 4: ' "$S/h.$g.out")" >>"$2.lines"
	cat "$S/h.$g.out" >>"$LOG"
}
hundred_idle()	# hundred_idle DIR COUNT: wait until no one holds a DP's lock
{
	local d
	for d in $(seq 1 "$2"); do
		[ -e "$1/$d/.pkgdist/.lock" ] && flock "$1/$d/.pkgdist/.lock" true
	done
	return 0
}
hundred_peer()	# hundred_peer RUN FILE NAME COUNT [HOST:]
{
	local n=$3 host=${5:-} d
	trash "$S/hr.$n"
	mkdir -p "$S/hr.$n"
	for d in $(seq 1 "$4"); do mkdir -p "$S/hr.$n/$d"; done
	warm "$H1"
	measure "$2.first" env SRC="$H1/" DST="$S/hr.$n" HOST="$host" \
	    RSH="${SSHV:-ssh}" N="$4" sh -c 'seq 1 "$N" | xargs -P 8 -I{} \
	    rsync -a --delete ${HOST:+-e "$RSH"} "$SRC" "$HOST$DST/{}/"'
	warm "$H2"
	measure "$2" env SRC="$H2/" DST="$S/hr.$n" HOST="$host" \
	    RSH="${SSHV:-ssh}" N="$4" sh -c 'seq 1 "$N" | xargs -P 8 -I{} \
	    rsync -a --delete ${HOST:+-e "$RSH"} "$SRC" "$HOST$DST/{}/"'
}
# What any layout that gives each DP a new tree pays at least (F1: the
# switch to a new version is one rename): a directory per directory and
# a hard link per file of the old tree, for 100 DPs, 8 at a time, with
# no content written and nothing made durable.  The atomic layout's
# refresh cannot go below it; the 0.8 x target of the row above is.
hundred_links()
{
	trash "$S/hln"
	mkdir -p "$S/hln"
	warm "$H1"
	measure "$2" env SRC="$H1" DST="$S/hln" sh -c 'seq 1 100 |
	    xargs -P 8 -I{} cp -al "$SRC" "$DST/{}"'
	trash "$S/hln"
}
hundred_local_pk() { hundred_pk "$1" "$2" hl 100; }
hundred_local_peer() { hundred_peer "$1" "$2" hl 100; }
hundred_inplace_pk() { hundred_pk "$1" "$2" hi 100 --inplace; }
hundred_ssh_pk() { hundred_pk "$1" "$2" hs 20; }
hundred_ssh_peer() { hundred_peer "$1" "$2" hs 20 127.0.0.1:; }
case_hundred()
{
	local c="100 local DPs -j 8: refresh 1% (steady state: from the spares) vs xargs -P 8 rsync --delete"
	local c2="20 ssh DPs -j 8: refresh 1% (steady state) vs xargs -P 8 rsync -e ssh"
	na "$c" push refresh && return
	HUNDRED=$(workload hundred "$HUNDRED_N" "$HUNDRED_B") || return 0
	H1=$HUNDRED/v1 H2=$HUNDRED/v2
	HSTORE=$S/hstore
	trash "$HSTORE"
	{
		"$BIN/pkgstage" -s "$HSTORE" add hundred "$H1" &&
		    "$BIN/pkgstage" -s "$HSTORE" add hundred "$H2" &&
		    "$BIN/pkgstage" -s "$HSTORE" add hundred "$H1" &&
		    "$BIN/pkgstage" -s "$HSTORE" add hundred "$H2"
	} >>"$LOG" 2>&1 ||
	    { row "$c" "n/a (cannot stage)" "" "" "" "-" "" ""; return; }
	local d
	for d in $(seq 1 100); do
		adddp "$HSTORE" "hl$d" hl "$S/h.hl/$d"
		adddp "$HSTORE" "hi$d" hi "$S/h.hi/$d"
	done
	SSHV=
	# The in-place side shows what the atomic layout's new tree costs:
	# same DPs, same data, files renamed over their old selves.
	alternate hundred "$HUNDRED_RUNS" 0 hundred_local_pk hundred_local_peer \
	    hundred_inplace_pk hundred_links
	result "$c" "$RES/hundred.hundred_local_pk" \
	    "$RES/hundred.hundred_local_peer" "<=" 0.8
	result "100 local DPs -j 8: the first refresh 1% after the first push (no spares yet) vs xargs -P 8 rsync --delete (info)" \
	    "$RES/hundred.hundred_local_pk.fresh" \
	    "$RES/hundred.hundred_local_peer" "" ""
	result "100 local DPs -j 8: first push vs xargs -P 8 rsync (info)" \
	    "$RES/hundred.hundred_local_pk.first" \
	    "$RES/hundred.hundred_local_peer.first" "" ""
	result "100 local DPs -j 8: refresh 1%, --inplace DPs vs xargs -P 8 rsync --delete (info)" \
	    "$RES/hundred.hundred_inplace_pk" \
	    "$RES/hundred.hundred_local_peer" "" ""
	result "100 local DPs: a new tree alone (cp -al of the old, -P 8; the floor of a refresh without a spare) vs xargs -P 8 rsync --delete (info)" \
	    "$RES/hundred.hundred_links" "$RES/hundred.hundred_local_peer" "" ""
	local rss
	rss=$(col "$RES/hundred.hundred_local_pk" 2 max)
	local rss1
	rss1=$(col "$RES/hundred.hundred_local_pk.first" 2 max)
	[ -n "$rss1" ] && [ -n "$rss" ] && [ "$rss1" -gt "$rss" ] && rss=$rss1
	if [ -n "$rss" ]; then
		row "100 local DPs: pkgpush peak RSS vs 150 MiB" "$(kib_mib "$rss")" \
		    "150 MiB" "$(calc "$rss / 153600" 2)" "< 1" \
		    "$(verdict "$(calc "$rss / 153600" 2)" "<" 1)" "" ""
	fi
	note "hundred: steady-state refresh report lines per run (100 expected): $(awk '{ print $2 }' "$RES/hundred.hundred_local_pk.lines" | tr '\n' ' ')"
	trash "$S/h.hl" "$S/h.hi" "$S/hr.hl"
	if [ ! -f "$SRC/tests/lib/sshd.bash" ]; then
		row "$c2" "n/a (tests/lib/sshd.bash missing)" "" "" "" "-" "" ""
		return
	fi
	common_find_bin() { PKGDIST_BIN=$BIN; export PKGDIST_BIN; }
	BATS_TMPDIR=$S
	# shellcheck source=/dev/null
	. "$SRC/tests/lib/sshd.bash"
	sshd_start >>"$LOG" 2>&1
	if [ -n "${SSHD_SKIP:-}" ] || [ -z "${SSHD_PORT:-}" ]; then
		row "$c2" "n/a (sshd: ${SSHD_SKIP:-cannot start})" "" "" "" "-" "" ""
		return
	fi
	export PKGDIST_REMOTE_PKGPUSH
	SSHV=$PKGDIST_SSH
	for d in $(seq 1 20); do
		adddp "$HSTORE" "hs$d" hs "ssh://127.0.0.1:$SSHD_PORT$S/h.hs/$d"
	done
	alternate hundred "$HUNDRED_RUNS" 0 hundred_ssh_pk hundred_ssh_peer
	result "$c2" "$RES/hundred.hundred_ssh_pk" \
	    "$RES/hundred.hundred_ssh_peer" "<=" 1
	result "20 ssh DPs -j 8: the first refresh 1% after the first push vs xargs -P 8 rsync -e ssh (info)" \
	    "$RES/hundred.hundred_ssh_pk.fresh" \
	    "$RES/hundred.hundred_ssh_peer" "" ""
	result "20 ssh DPs -j 8: refresh 1% (steady state) with the DPs' work after the reply (spares) vs xargs -P 8 rsync -e ssh (info)" \
	    "$RES/hundred.hundred_ssh_pk.whole" \
	    "$RES/hundred.hundred_ssh_peer" "" ""
	note "hundred: the 20 ssh DPs' work after pkgpush's reply (spare trees) went on $(secs "$(col "$RES/hundred.hundred_ssh_pk.idle" 2 median)") after the refresh returned (median; untimed)"
	result "20 ssh DPs -j 8: first push vs xargs -P 8 rsync -e ssh (info)" \
	    "$RES/hundred.hundred_ssh_pk.first" \
	    "$RES/hundred.hundred_ssh_peer.first" "" ""
	sshd_stop
	SSHV=
	trash "$S/h.hs" "$S/hr.hs" "$HSTORE"
}

# --- child sites: 4 sites over ssh, --cascade to 2 DPs each (issue 16) --
# The 5,000-file package (HUNDRED) at version 1 in 4 child stores reached
# over one sshd, each with 2 local DPs at version 1; the refresh to
# version 2 is one `pkgpush --all-sites --cascade`, against rsync -e ssh
# to a copy per site plus, on the site (over ssh), rsync from that copy
# to its 2 DPs, 4 sites at once either way.  Every run starts from the
# same state (a copy of it made untimed); bytes over ssh by ssh's count.
sites_reset()
{
	trash "$S/st"
	cp -a "$S/st.tpl" "$S/st"
}
sites_pk()	# sites_pk RUN FILE
{
	sites_reset
	: >"$S/st.pk.log"
	warm "$S/st/central/objects"
	MLOG=$S/st.pk.out measure "$2" env PKGDIST_SSH="$SSHV -E $S/st.pk.log" \
	    "$BIN/pkgpush" -s "$S/st/central" -j 4 --all-sites --cascade hundred
	echo "$1 $(sentbytes "$S/st.pk.log")" >>"$2.sent"
	cat "$S/st.pk.out" >>"$LOG"
}
sites_peer()
{
	sites_reset
	: >"$S/st.rs.log"
	warm "$H2"
	measure "$2" env SRC="$H2/" D="$S/st" RSH="$SSHV -E $S/st.rs.log" \
	    sh -c 'seq 1 4 | xargs -P 4 -I{} sh "$D/../st-peer.sh" {}'
	echo "$1 $(sentbytes "$S/st.rs.log")" >>"$2.sent"
}
case_sites()
{
	local c="4 child sites --cascade to 2 DPs each: refresh 1% vs rsync -e ssh + rsync to the DPs"
	local i j child pk rs
	na "$c" push refresh && return
	HUNDRED=$(workload hundred "$HUNDRED_N" "$HUNDRED_B") || return 0
	H1=$HUNDRED/v1 H2=$HUNDRED/v2
	bench_sshd "$c" || return 0
	trash "$S/st" "$S/st.tpl"
	mkdir -p "$S/st/empty"
	cat >"$S/st-peer.sh" <<'PEER'
i=$1
rsync -a --delete -e "$RSH" "$SRC" "127.0.0.1:$D/rs$i/copy/" &&
    $RSH 127.0.0.1 "rsync -a --delete $D/rs$i/copy/ $D/rs$i/dp1/ &&
    rsync -a --delete $D/rs$i/copy/ $D/rs$i/dp2/"
PEER
	{
		"$BIN/pkgstage" -s "$S/st/central" add hundred "$H1" &&
		    "$BIN/pkgstage" -s "$S/st/central" add hundred "$H2"
	} >>"$LOG" 2>&1 ||
	    { row "$c" "n/a (cannot stage)" "" "" "" "-" "" ""; sshd_stop; return; }
	for i in 1 2 3 4; do
		child=$S/st/site$i
		"$BIN/pkgstage" -s "$child" add boot "$S/st/empty" >>"$LOG" 2>&1
		for j in 1 2; do
			mkdir -p "$S/st/s$i-dp$j" "$S/st/rs$i/dp$j"
			adddp "$child" "d$j" g "$S/st/s$i-dp$j"
			rsync -a "$H1/" "$S/st/rs$i/dp$j/"
		done
		mkdir -p "$S/st/rs$i/copy"
		rsync -a "$H1/" "$S/st/rs$i/copy/"
		echo "site$i g ssh://127.0.0.1:$SSHD_PORT$child" >>"$S/st/central/sites"
	done
	env PKGDIST_SSH="$SSHV" "$BIN/pkgpush" -s "$S/st/central" -j 4 \
	    --version 1 --all-sites hundred >>"$LOG" 2>&1
	for i in 1 2 3 4; do
		"$BIN/pkgpush" -s "$S/st/site$i" --all hundred >>"$LOG" 2>&1
	done
	cp -a "$S/st" "$S/st.tpl"
	alternate sites "$HUNDRED_RUNS" 0 sites_pk sites_peer
	result "$c" "$RES/sites.sites_pk" "$RES/sites.sites_peer" "<=" 1
	pk=$(col "$RES/sites.sites_pk.sent" 2 median)
	rs=$(col "$RES/sites.sites_peer.sent" 2 median)
	if [ -n "$pk" ] && [ -n "$rs" ] && [ "$rs" -gt 0 ]; then
		row "4 child sites: bytes over ssh vs rsync's" "$(mib "$pk")" \
		    "$(mib "$rs")" "$(calc "$pk / $rs" 2)" "<= 1.1" \
		    "$(verdict "$(calc "$pk / $rs" 2)" "<=" 1.1)" "" ""
	fi
	note "sites: refresh lines (12 expected): $(grep -c ': hundred 1 -> 2' "$S/st.pk.out" 2>/dev/null)"
	sshd_stop
	SSHV=
	trash "$S/st" "$S/st.tpl" "$S/st-peer.sh"
}

# --- a large file that changes a little: issue 15 ---------------------
# One incompressible file of BIGFILE_B bytes (from the seed) among 200
# small ones; two changes, each applied to the source tree, staged and
# pushed over ssh to loopback, bytes counted by ssh itself: 1% in one
# place, and 100 scattered 4 KiB edits.  Each change starts from a DP at
# version 1, and rsync -a --delete -e ssh does the same change on its
# own copy of version 1.  Store growth and export --base against the
# changed bytes; the first add's time (chunking rides its one read).
bigfile_tree()	# bigfile_tree DIR: version 1
{
	local d=$1 i
	mkdir -p "$d"
	openssl enc -aes-128-ctr -nosalt -pass "pass:pkgdist-bench-$SEED" \
	    </dev/zero 2>/dev/null | head -c "$BIGFILE_B" >"$d/big.img"
	for i in $(seq 1 200); do
		printf 'small file %s of the big-file case\n' "$i" >"$d/s$i"
	done
}
bigfile_change()	# bigfile_change DIR KIND: the change, in place
{
	local f=$1/big.img i
	if [ "$2" = contiguous ]; then
		openssl enc -aes-128-ctr -nosalt -pass "pass:change-$SEED" \
		    </dev/zero 2>/dev/null | head -c "$((BIGFILE_B / 100))" |
		    dd of="$f" bs=1M seek="$((BIGFILE_B / 2))" oflag=seek_bytes \
		    conv=notrunc status=none
	else
		for i in $(seq 1 100); do
			openssl enc -aes-128-ctr -nosalt -pass "pass:e$i-$SEED" \
			    </dev/zero 2>/dev/null | head -c 4096 |
			    dd of="$f" bs=4096 seek="$(((i * 7919) % (BIGFILE_B / 4096)))" \
			    conv=notrunc status=none
		done
	fi
}
case_bigfile()
{
	local c="bigfile 1%: bytes sent (ssh's count) vs changed bytes"
	local kind changed sent rsent w rw g e pt rt
	na "$c" push refresh && return
	bench_sshd "$c" || return 0
	trash "$S/bf"
	bigfile_tree "$S/bf/v1"
	warm "$S/bf/v1"
	measure "$RES/bigfile.add" "$BIN/pkgstage" -s "$S/bf/store" add big \
	    "$S/bf/v1"
	row "bigfile: first add of $(mib "$BIGFILE_B") + 200 files (info)" \
	    "$(secs "$(col "$RES/bigfile.add" 1 median)")" "" "" "" "(info)" \
	    "$(kib_mib "$(col "$RES/bigfile.add" 2 max)")" ""
	adddp "$S/bf/store" bdp bench "ssh://127.0.0.1:$SSHD_PORT$S/bf/dp"
	mkdir -p "$S/bf/dp"
	env PKGDIST_SSH="$SSHV" "$BIN/pkgpush" -s "$S/bf/store" --dp bdp big \
	    >>"$LOG" 2>&1
	[ -e "$S/bf/dp/.pkgdist/.lock" ] && flock "$S/bf/dp/.pkgdist/.lock" true
	cp -a "$S/bf/dp" "$S/bf/dp.v1"
	cp -p "$S/bf/store/packages/big/holdings" "$S/bf/holdings.v1"
	for kind in contiguous scattered; do
		trash "$S/bf/src" "$S/bf/dp" "$S/bf/rs"
		cp -a "$S/bf/v1" "$S/bf/src"
		cp -a "$S/bf/dp.v1" "$S/bf/dp"
		cp -p "$S/bf/holdings.v1" "$S/bf/store/packages/big/holdings"
		rsync -a "$S/bf/v1/" "$S/bf/rs/"
		bigfile_change "$S/bf/src" "$kind"
		changed=$(cmp -l "$S/bf/v1/big.img" "$S/bf/src/big.img" | wc -l)
		g=$(du -sb "$S/bf/store/objects" | cut -f1)
		"$BIN/pkgstage" -s "$S/bf/store" add big "$S/bf/src" >>"$LOG" 2>&1
		g=$(($(du -sb "$S/bf/store/objects" | cut -f1) - g))
		"$BIN/pkgstage" -s "$S/bf/store" export --base 1 big \
		    "$("$BIN/pkgstage" -s "$S/bf/store" list big | awk 'END { print $2 }')" \
		    -o "$S/bf/delta.pkg" >>"$LOG" 2>&1
		e=$(stat -c %s "$S/bf/delta.pkg" 2>/dev/null || echo 0)
		: >"$S/bf/pk.log"
		warm "$S/bf/store/objects"
		MLOG=$S/bf/pk.out measure "$RES/bigfile.$kind.pk" env \
		    PKGDIST_SSH="$SSHV -E $S/bf/pk.log" \
		    PKGDIST_REMOTE_STATS="$S/bf/pk.stats" \
		    "$BIN/pkgpush" -s "$S/bf/store" --dp bdp big
		[ -e "$S/bf/dp/.pkgdist/.lock" ] && flock "$S/bf/dp/.pkgdist/.lock" true
		: >"$S/bf/rs.log"
		warm "$S/bf/src"
		MLOG=$S/bf/rs.out measure "$RES/bigfile.$kind.rs" rsync -a \
		    --delete -e "$SSHV -E $S/bf/rs.log" "$S/bf/src/" \
		    "127.0.0.1:$S/bf/rs/"
		sent=$(sentbytes "$S/bf/pk.log")
		rsent=$(sentbytes "$S/bf/rs.log")
		note "bigfile $kind: changed $changed bytes; pkgpush sent $sent, rsync sent $rsent; store grew $g; export --base $e; $(tail -n 1 "$S/bf/pk.stats" 2>/dev/null)"
		if [ "$kind" = contiguous ]; then
			row "$c" "$(mib "$sent")" "$(mib "$changed")" \
			    "$(calc "$sent / $changed" 2)" "<= 1.2" \
			    "$(verdict "$(calc "$sent / $changed" 2)" "<=" 1.2)" "" ""
			row "bigfile 1%: bytes sent vs rsync -e ssh" "$(mib "$sent")" \
			    "$(mib "$rsent")" "$(calc "$sent / ($rsent > 0 ? $rsent : 1)" 2)" \
			    "<= 1.15" "$(verdict "$(calc "$sent / ($rsent > 0 ? $rsent : 1)" 2)" "<=" 1.15)" "" ""
			result "bigfile 1%: push vs rsync -a --delete -e ssh" \
			    "$RES/bigfile.$kind.pk" "$RES/bigfile.$kind.rs" "<=" 1
			row "bigfile 1%: store growth vs changed bytes" "$(mib "$g")" \
			    "$(mib "$changed")" "$(calc "$g / $changed" 2)" "<= 1.3" \
			    "$(verdict "$(calc "$g / $changed" 2)" "<=" 1.3)" "" ""
			row "bigfile 1%: export --base vs changed bytes" "$(mib "$e")" \
			    "$(mib "$changed")" "$(calc "$e / $changed" 2)" "<= 1.3" \
			    "$(verdict "$(calc "$e / $changed" 2)" "<=" 1.3)" "" ""
		else
			row "bigfile 100 x 4 KiB: bytes sent vs rsync -e ssh" \
			    "$(mib "$sent")" "$(mib "$rsent")" \
			    "$(calc "$sent / ($rsent > 0 ? $rsent : 1)" 2)" "<= 1.5" \
			    "$(verdict "$(calc "$sent / ($rsent > 0 ? $rsent : 1)" 2)" "<=" 1.5)" "" ""
		fi
	done
	sshd_stop
	SSHV=
	trash "$S/bf"
}

# ======================================================================
machine
run_probes

OFFICE=$(workload office "$OFFICE_N" "$OFFICE_B") || exit 2
MANY=$(workload many "$MANY_N" "$MANY_B") || exit 2
BIGD=
case " $CASES " in
*" bigscan "*) BIGD=$(workload big 5 $MiB "$BIG_B") || exit 2 ;;
esac
O1=$OFFICE/v1 O2=$OFFICE/v2 M1=$MANY/v1 M2=$MANY/v2
say "data:    office $OFFICE_N files $(mib "$(treebytes "$O1")"), many-small $MANY_N files $(mib "$(treebytes "$M1")")$([ -n "$BIGD" ] && echo ", big $(mib "$(treebytes "$BIGD/v1")")")"
say "change:  office $(cat "$OFFICE/mut"); many-small $(cat "$MANY/mut")"
say "caches:  not dropped; this VM pages out memory idle for ~30 s (DAMON pageout), so each side reads its input (untimed) just before it is timed; cheap cases also run each side once untimed first; sync before every timed command"
# Read every tree once, so no side pays for the first read.
for d in "$O1" "$O2" "$M1" "$M2" ${BIGD:+"$BIGD/v1"}; do
	tar -cf - -C "$d" . | cat >/dev/null
done

# Between cases (never during one), the trash is emptied once the disk
# that holds it runs low: a full run moves ~60 GiB of trees aside, more
# than some machines have free.  BENCH_TRASH_MIN_GIB (default 40) is
# the free space below which it is emptied; the time it takes is not
# part of any figure, and a sync after it keeps its write-back out of
# the next case.
trash_if_low()
{
	local free
	free=$(df -Pk "$TRASH" 2>/dev/null | awk 'NR == 2 { print int($4 / 1048576) }')
	[ -n "$free" ] && [ "$free" -lt "${BENCH_TRASH_MIN_GIB:-40}" ] || return 0
	note "emptying $TRASH between cases: $free GiB free (not part of any figure)"
	rm -rf "$TRASH" && mkdir -p "$TRASH" && sync
}

for c in $CASES; do
	note "case $c ($(($(date +%s) - T0)) s so far)"
	"case_$c"
	trash_if_low
done

# --- the table ---------------------------------------------------------
say ""
say "Ratio is pkgdist / peer (time, unless the row says otherwise)."
awk -F'\t' '
	BEGIN { h[1] = "case"; h[2] = "pkgdist"; h[3] = "peer"; h[4] = "ratio"
		h[5] = "target"; h[6] = "result"; h[7] = "pk peak RSS"
		h[8] = "pk written"
		for (i = 1; i <= 8; i++) w[i] = length(h[i]) }
	{ for (i = 1; i <= 8; i++) { c[NR, i] = $i
		if (length($i) > w[i]) w[i] = length($i) } }
	END {
		line(h)
		for (i = 1; i <= 8; i++) { s = ""; for (k = 0; k < w[i]; k++) s = s "-"; d[i] = s }
		line(d)
		for (r = 1; r <= NR; r++) { for (i = 1; i <= 8; i++) x[i] = c[r, i]; line(x) }
	}
	function line(a,   i, s) {
		s = "| "
		for (i = 1; i <= 8; i++) s = s sprintf("%-" w[i] "s", a[i]) " | "
		sub(/ $/, "", s)
		print s
	}' "$TABLE" | tee -a "$OUT"
met=$(awk -F'\t' '$6 == "met"' "$TABLE" | wc -l)
missed=$(awk -F'\t' '$6 == "MISSED"' "$TABLE" | wc -l)
say ""
say "targets: $met met, $missed missed; $(awk -F'\t' '$2 ~ /^n\/a/' "$TABLE" | wc -l) n/a"
say "elapsed: $(($(date +%s) - T0)) s; load at end $(cut -d' ' -f1-3 /proc/loadavg)"
say "(full output in $OUT; commands and their output in $LOG)"
trash "$S"/store* "$S/pstore" "$S/mstore" "$S"/imp* "$S/probe"
note "emptying $TRASH (slow on this disk; not part of any figure)"
rm -rf "$TRASH"
exit 0
