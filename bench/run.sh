#!/usr/bin/env bash
# Whole-run benchmark: modsniff's full analysis next to the references, in ONE run, so the
# ratios hold whatever the machine's speed today (machines of this kind differ by ~25 %).
#
#   bench/run.sh [quick|full]      quick (default): modsniff + ep-floor on q1/h1/full + pcapng
#                                  full: also tshark (command (d) of ANCHORS.md, ~80 s per run)
#
# Needs ../shared/bench (make-corpus.sh, peers/); builds the corpus in $DIR (default
# /tmp/bench-corpus) if it is not there, and the ep-floor peer in /tmp/peers-target.
# Prints one table: wall (median of $RUNS), MB/s, packets/s, peak RSS, and ratios.
set -euo pipefail
MODE=${1:-quick}
HERE=$(cd "$(dirname "$0")/.." && pwd)
SHARED=${SHARED:-$HERE/../shared}
DIR=${DIR:-/tmp/bench-corpus}
RUNS=${RUNS:-3}
BIN=${BIN:-$HERE/target/release/modsniff}
THREADS=${THREADS:-}

[ -d "$SHARED/bench" ] || { echo "bench needs ../shared/bench (not in a user's clone)"; exit 0; }
if [ ! -s "$DIR/corpus.pcap" ]; then
  DIR=$DIR bash "$SHARED/bench/make-corpus.sh"
fi
(cd "$HERE" && cargo build --release -q -p modsniff)
FLOOR=/tmp/peers-target/release/ep-floor
if [ ! -x "$FLOOR" ]; then
  (cd "$SHARED/bench/peers" && CARGO_TARGET_DIR=/tmp/peers-target cargo build --release -q --ignore-rust-version -p ep-floor)
fi

# median wall, user+sys, peak RSS (MiB) of RUNS runs; stdout of the command is discarded.
measure() {
  local runs=$1; shift
  python3 - "$runs" "$@" <<'PY'
import subprocess, sys, time, tempfile, statistics
runs = int(sys.argv[1]); cmd = sys.argv[2:]
rows = []
for _ in range(runs):
    with tempfile.NamedTemporaryFile("r") as tf:
        t0 = time.monotonic()
        subprocess.run(["/usr/bin/time", "-o", tf.name, "-f", "%U %S %M", *cmd], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wall = time.monotonic() - t0
        u, s, m = tf.read().split()[-3:]
    rows.append((wall, float(u) + float(s), int(m) / 1024))
w = sorted(r[0] for r in rows)
print(f"{statistics.median(w):.3f} {min(w):.3f} {max(w):.3f} {statistics.median(r[1] for r in rows):.3f} {max(r[2] for r in rows):.1f}")
PY
}

printf '%-28s %-16s %9s %15s %9s %10s %9s %9s\n' tool input "wall s" "spread s" "cpu s" "MB/s" "Mpkt/s" "RSS MiB"
declare -A WALL
row() { # name file packets cmd...
  local name=$1 file=$2 pkts=$3; shift 3
  cat "$file" > /dev/null
  read -r med lo hi cpu rss < <(measure "$RUNS" "$@")
  local bytes; bytes=$(stat -c %s "$file")
  WALL[$name]=$med
  printf '%-28s %-16s %9.3f %7.3f-%-7.3f %9.3f %10.0f %9.2f %9.1f\n' "$name" "$(basename "$file")" "$med" "$lo" "$hi" "$cpu" \
    "$(python3 -c "print($bytes/1e6/$med)")" "$(python3 -c "print($pkts/1e6/$med)")" "$rss"
}
T=()
[ -n "$THREADS" ] && T=(--threads "$THREADS")
row ep-floor "$DIR/corpus.pcap" 2970420 "$FLOOR" "$DIR/corpus.pcap"
for f in corpus-q1 corpus-h1 corpus; do
  p=$( [ $f = corpus-q1 ] && echo 742605 || ([ $f = corpus-h1 ] && echo 1485210 || echo 2970420))
  row "modsniff-$f" "$DIR/$f.pcap" "$p" "$BIN" read --format ndjson "${T[@]}" "$DIR/$f.pcap"
done
row modsniff-pcapng "$DIR/corpus.pcapng" 2970420 "$BIN" read --format ndjson "${T[@]}" "$DIR/corpus.pcapng"
row modsniff-text "$DIR/corpus.pcap" 2970420 "$BIN" read --format text "${T[@]}" "$DIR/corpus.pcap"
echo "ratio modsniff/ep-floor wall (full corpus): $(python3 -c "print(round(${WALL[modsniff-corpus]}/${WALL[ep-floor]},2))")"
if [ "$MODE" = full ]; then
  RUNS=1 row tshark-d "$DIR/corpus.pcap" 2970420 tshark -r "$DIR/corpus.pcap" -Y 'tls.handshake.type==1 || tls.handshake.type==11 || http.request || dns' -T fields \
    -e tcp.stream -e tls.handshake.extensions_server_name -e x509sat.uTF8String -e http.request.method -e http.host -e http.request.uri -e dns.qry.name -e dns.flags.rcode
  echo "ratio tshark-d/modsniff wall (full corpus): $(python3 -c "print(round(${WALL[tshark-d]}/${WALL[modsniff-corpus]},1))")x"
fi
