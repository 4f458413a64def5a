#!/usr/bin/env bash
# Whole-run benchmark: modsniff's full analysis next to the references, in ONE run, so the
# ratios hold whatever the machine's speed and load today (machines of this kind differ by
# ~25 %, and the 2-vCPU machine is often shared).
#
#   bench/run.sh [quick|full]   quick (default): ep-floor + modsniff (1 and 2 threads) on
#                               q1/h1/full corpus + pcapng, and text output on the full corpus
#                               full: also tshark, command (d) of ANCHORS.md, on the quarter
#                               corpus (tshark takes ~80 s on the full one and its time grows
#                               a little faster than linearly: the q1 figure flatters it)
#
# Env: RUNS (default 3), DIR (corpus, default /tmp/bench-corpus), BIN (modsniff binary,
# default: built here with --release), FLOWS (examples/flows binary, likewise), SHARED (default ../shared beside the repository).
# Needs ../shared/bench (make-corpus.sh, peers/); builds the corpus in $DIR if it is not
# there, the pcapng copy with editcap, and the ep-floor peer in /tmp/peers-target.
# Each row: wall median and min-max of RUNS runs, user+sys median, MB/s and Mpkt/s from the
# median wall, peak RSS (max over runs, /usr/bin/time). Ratios use medians of this run.
set -euo pipefail
MODE=${1:-quick}
HERE=$(cd "$(dirname "$0")/.." && pwd)
SHARED=${SHARED:-$HERE/../shared}
DIR=${DIR:-/tmp/bench-corpus}
RUNS=${RUNS:-3}

[ -d "$SHARED/bench" ] || { echo "bench needs ../shared/bench (not in a user's clone)"; exit 0; }
if [ ! -s "$DIR/corpus.pcap" ]; then
  DIR=$DIR bash "$SHARED/bench/make-corpus.sh"
fi
if [ ! -s "$DIR/corpus.pcapng" ]; then
  editcap -F pcapng "$DIR/corpus.pcap" "$DIR/corpus.pcapng"
fi
if [ -z "${BIN:-}" ]; then
  (cd "$HERE" && cargo build --release -q -p modsniff)
  BIN=${CARGO_TARGET_DIR:-$HERE/target}/release/modsniff
fi
if [ -z "${FLOWS:-}" ]; then
  (cd "$HERE" && cargo build --release -q -p modsniff-examples --example flows)
  FLOWS=${CARGO_TARGET_DIR:-$HERE/target}/release/examples/flows
fi
FLOOR=/tmp/peers-target/release/ep-floor
if [ ! -x "$FLOOR" ]; then
  (cd "$SHARED/bench/peers" && CARGO_TARGET_DIR=/tmp/peers-target cargo build --release -q --ignore-rust-version -p ep-floor)
fi

# median/min/max wall, median user+sys, max peak RSS (MiB) of N runs; stdout discarded.
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

pkts() { case $(basename "$1") in corpus-q1.pcap) echo 742605;; corpus-h1.pcap) echo 1485210;; *) echo 2970420;; esac; }

echo "# $(date -u +%FT%TZ) $(nproc) CPUs: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'); load $(cut -d' ' -f1-3 /proc/loadavg); RUNS=$RUNS"
printf '%-22s %-15s %8s %17s %8s %8s %8s %8s\n' tool input "wall s" "min-max s" "cpu s" "MB/s" "Mpkt/s" "RSS MiB"
declare -A WALL CPU
row() { # name file cmd...
  local name=$1 file=$2; shift 2
  cat "$file" > /dev/null
  local med lo hi cpu rss
  read -r med lo hi cpu rss < <(measure "$RUNS" "$@")
  local bytes; bytes=$(stat -c %s "$file")
  WALL[$name]=$med; CPU[$name]=$cpu
  printf '%-22s %-15s %8.3f %8.3f-%-8.3f %8.3f %8.0f %8.3f %8.1f\n' "$name" "$(basename "$file")" "$med" "$lo" "$hi" "$cpu" \
    "$(python3 -c "print($bytes/1e6/$med)")" "$(python3 -c "print($(pkts "$file")/1e6/$med)")" "$rss"
}
ratio() { python3 -c "print(f'{$1/$2:.2f}')"; }

row cat "$DIR/corpus.pcap" cat "$DIR/corpus.pcap"
row ep-floor "$DIR/corpus.pcap" "$FLOOR" "$DIR/corpus.pcap"
# The foundation alone (issue 3's figure): decode + flows + reassembly, no app decoders, no
# records (examples/flows.rs --summary embeds modsniff-core that way).
row foundation "$DIR/corpus.pcap" "$FLOWS" --summary "$DIR/corpus.pcap"
for t in 1 2; do
  for f in corpus-q1.pcap corpus-h1.pcap corpus.pcap corpus.pcapng; do
    row "modsniff-t$t-${f#corpus}" "$DIR/$f" "$BIN" read --format ndjson --threads "$t" "$DIR/$f"
  done
done
row modsniff-t1-text "$DIR/corpus.pcap" "$BIN" read --format text --threads 1 "$DIR/corpus.pcap"
# Everything but the records: a --host no packet has selects nothing to print (diagnosis runs).
row modsniff-t1-norecords "$DIR/corpus.pcap" "$BIN" read --format ndjson --threads 1 --host 192.0.2.255 "$DIR/corpus.pcap"
echo
echo "modsniff 1 thread / ep-floor wall, full corpus:   $(ratio "${WALL[modsniff-t1-.pcap]}" "${WALL[ep-floor]}")x the floor's time"
echo "foundation / ep-floor wall, full corpus:          $(ratio "${WALL[foundation]}" "${WALL[ep-floor]}")x the floor's time"
echo "2 threads speed-up (t1 wall / t2 wall), full:     $(ratio "${WALL[modsniff-t1-.pcap]}" "${WALL[modsniff-t2-.pcap]}")x"
echo "2 threads speed-up, pcapng:                       $(ratio "${WALL[modsniff-t1-.pcapng]}" "${WALL[modsniff-t2-.pcapng]}")x"
if [ "$MODE" = full ]; then
  RUNS=1 row tshark-d "$DIR/corpus-q1.pcap" tshark -r "$DIR/corpus-q1.pcap" -Y 'tls.handshake.type==1 || tls.handshake.type==11 || http.request || dns' -T fields \
    -e tcp.stream -e tls.handshake.extensions_server_name -e x509sat.uTF8String -e http.request.method -e http.host -e http.request.uri -e dns.qry.name -e dns.flags.rcode
  echo "tshark-d / modsniff 1 thread, wall, q1 corpus:    $(ratio "${WALL[tshark-d]}" "${WALL[modsniff-t1--q1.pcap]}")x"
  echo "tshark-d / modsniff 2 threads, wall, q1 corpus:   $(ratio "${WALL[tshark-d]}" "${WALL[modsniff-t2--q1.pcap]}")x"
  echo "tshark-d / modsniff 1 thread, cpu, q1 corpus:     $(ratio "${CPU[tshark-d]}" "${CPU[modsniff-t1--q1.pcap]}")x"
fi
