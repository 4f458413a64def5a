#!/usr/bin/env bash
# Whole-run benchmark: modsniff's full analysis next to the references, in ONE run, so the
# ratios hold whatever the machine's speed and load today (machines of this kind differ by
# ~25 %, and the 2-vCPU machine is often shared).
#
#   bench/run.sh [quick|full]   quick (default): ep-floor, protolens with parsers, modsniff
#                               (1 and 2 threads and the default) on q1/h1/full corpus +
#                               pcapng, text output on the full corpus, and two one-thread
#                               runs at once (the ceiling of two engines on two cores)
#                               full: also tshark, command (d) of ANCHORS.md, on the quarter
#                               corpus (tshark takes ~80 s on the full one and its time grows
#                               a little faster than linearly: the q1 figure flatters it)
#
# Env: RUNS (default 3), DIR (corpus, default /tmp/bench-corpus), BIN (modsniff binary,
# default: built here with --release), FLOWS (examples/flows binary, likewise), SHARED (default ../shared beside the repository).
# Needs ../shared/bench (make-corpus.sh, peers/); builds the corpus in $DIR if it is not
# there, the pcapng copy with editcap, and the ep-floor and pl-bench (protolens) peers in
# /tmp/peers-target.
# Rows run in rounds (each row once per round), ratios taken within a round: see below.
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
PROTOLENS=/tmp/peers-target/release/pl-bench
if [ ! -x "$FLOOR" ] || [ ! -x "$PROTOLENS" ]; then
  (cd "$SHARED/bench/peers" && CARGO_TARGET_DIR=/tmp/peers-target cargo build --release -q --ignore-rust-version -p ep-floor -p pl-bench)
fi

echo "# $(date -u +%FT%TZ) $(nproc) CPUs: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'); load $(cut -d' ' -f1-3 /proc/loadavg); RUNS=$RUNS"

# The rows, one per line: name, input, command (tab-separated; the command's words by spaces).
ROWS=$(mktemp)
trap 'rm -f "$ROWS"' EXIT
add() { local name=$1 file=$2; shift 2; printf '%s\t%s\t%s\n' "$name" "$file" "$*" >> "$ROWS"; }
add cat "$DIR/corpus.pcap" cat "$DIR/corpus.pcap"
add ep-floor "$DIR/corpus.pcap" "$FLOOR" "$DIR/corpus.pcap"
# The fastest Rust peer with application parsers (PEERS.md): protolens 0.2.3 with its HTTP,
# TLS and DNS parsers by port; it writes no records and its memory grows with the file.
add protolens-l7 "$DIR/corpus.pcap" "$PROTOLENS" l7 "$DIR/corpus.pcap"
# The foundation alone (issue 3's figure): decode + flows + reassembly, no app decoders, no
# records (examples/flows.rs --summary embeds modsniff-core that way).
add foundation "$DIR/corpus.pcap" "$FLOWS" --summary "$DIR/corpus.pcap"
for t in 1 2; do
  for f in corpus-q1.pcap corpus-h1.pcap corpus.pcap corpus.pcapng; do
    add "modsniff-t$t-${f#corpus}" "$DIR/$f" "$BIN" read --format ndjson --threads "$t" "$DIR/$f"
  done
done
# Two one-thread runs at once, each its own process: what two cores give two engines that
# share nothing (the ceiling any --threads 2 shape can reach on this machine).
add pair-t1 "$DIR/corpus.pcap" "$BIN" read --format ndjson --threads 1 "$DIR/corpus.pcap"
add modsniff-t1-text "$DIR/corpus.pcap" "$BIN" read --format text --threads 1 "$DIR/corpus.pcap"
# What a user gets without --threads (the default for this machine's cores).
add modsniff-default "$DIR/corpus.pcap" "$BIN" read --format ndjson "$DIR/corpus.pcap"
add modsniff-default-text "$DIR/corpus.pcap" "$BIN" read --format text "$DIR/corpus.pcap"
# Everything but the records: a --host no packet has selects nothing to print (diagnosis runs).
add modsniff-t1-norecords "$DIR/corpus.pcap" "$BIN" read --format ndjson --threads 1 --host 192.0.2.255 "$DIR/corpus.pcap"
if [ "$MODE" = full ]; then
  # One run: ~50 s on the quarter corpus.
  add tshark-d "$DIR/corpus-q1.pcap" tshark -r "$DIR/corpus-q1.pcap" -Y 'tls.handshake.type==1||tls.handshake.type==11||http.request||dns' -T fields \
    -e tcp.stream -e tls.handshake.extensions_server_name -e x509sat.uTF8String -e http.request.method -e http.host -e http.request.uri -e dns.qry.name -e dns.flags.rcode
fi

# Rounds: every row runs once per round, in turn, so that a slow spell of the (shared)
# machine hits all rows alike; each ratio is taken within a round, and reported as the
# median and min-max over the rounds. Wall median and min-max, user+sys median, peak RSS
# (max over runs, /usr/bin/time), MB/s and Mpkt/s from the median wall; stdout discarded.
python3 - "$RUNS" "$ROWS" <<'PY'
import os, subprocess, sys, time, tempfile, statistics
runs = int(sys.argv[1])
rows = [l.rstrip("\n").split("\t") for l in open(sys.argv[2]) if l.strip()]
pkts = {"corpus-q1.pcap": 742605, "corpus-h1.pcap": 1485210}
res = {r[0]: [] for r in rows}
for rnd in range(runs):
    for name, path, cmd in rows:
        if name == "tshark-d" and rnd > 0:
            continue
        argv = cmd.split(" ")  # no argument has a space (the tshark filter is written without)
        subprocess.run(["cat", path], stdout=subprocess.DEVNULL)  # page cache warm
        copies = 2 if name.startswith("pair-") else 1
        tfs = [tempfile.NamedTemporaryFile("r") for _ in range(copies)]
        t0 = time.monotonic()
        procs = [subprocess.Popen(["/usr/bin/time", "-o", tf.name, "-f", "%U %S %M", *argv], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL) for tf in tfs]
        for p in procs:
            p.wait()
        wall = time.monotonic() - t0
        cpu, rss = 0.0, 0.0
        for tf in tfs:
            u, s, m = tf.read().split()[-3:]
            cpu, rss = cpu + float(u) + float(s), max(rss, int(m) / 1024)
            tf.close()
        res[name].append((wall, cpu, rss))
print(f"{'tool':<22} {'input':<15} {'wall s':>8} {'min-max s':>17} {'cpu s':>8} {'MB/s':>8} {'Mpkt/s':>8} {'RSS MiB':>8}")
med = {}
for name, path, _ in rows:
    rs = res[name]
    w = sorted(r[0] for r in rs)
    med[name] = (statistics.median(w), statistics.median(r[1] for r in rs))
    size = os.path.getsize(path)
    n = pkts.get(os.path.basename(path), 2970420)
    print(f"{name:<22} {os.path.basename(path):<15} {med[name][0]:8.3f} {w[0]:8.3f}-{w[-1]:<8.3f} {med[name][1]:8.3f} "
          f"{size/1e6/med[name][0]:8.0f} {n/1e6/med[name][0]:8.3f} {max(r[2] for r in rs):8.1f}")
print()
def ratio(label, a, b, unit):
    """a / b within each round: median (min-max)."""
    k = min(len(res[a]), len(res[b]))
    rs = sorted(res[a][i][0] / res[b][i][0] for i in range(k))
    print(f"{label:<50} {statistics.median(rs):.2f}{unit} ({rs[0]:.2f}-{rs[-1]:.2f})")
ratio("modsniff 1 thread / ep-floor wall, full corpus:", "modsniff-t1-.pcap", "ep-floor", "x the floor's time")
ratio("modsniff 2 threads / ep-floor wall, full corpus:", "modsniff-t2-.pcap", "ep-floor", "x the floor's time")
ratio("foundation / ep-floor wall, full corpus:", "foundation", "ep-floor", "x the floor's time")
ratio("2 threads speed-up (t1 wall / t2 wall), full:", "modsniff-t1-.pcap", "modsniff-t2-.pcap", "x")
# Two runs' work in the pair's time: 2 x one run's wall / the pair's wall.
k = min(len(res["modsniff-t1-.pcap"]), len(res["pair-t1"]))
rs = sorted(2 * res["modsniff-t1-.pcap"][i][0] / res["pair-t1"][i][0] for i in range(k))
print(f"{'two separate 1-thread runs at once, throughput:':<50} {statistics.median(rs):.2f}x ({rs[0]:.2f}-{rs[-1]:.2f})")
ratio("2 threads speed-up, pcapng:", "modsniff-t1-.pcapng", "modsniff-t2-.pcapng", "x")
ratio("2 threads speed-up, q1:", "modsniff-t1--q1.pcap", "modsniff-t2--q1.pcap", "x")
# Against the fastest peer with parsers, full corpus (the goals: default threads <= 1.0x,
# one thread <= 1.3x, the text report <= 0.8x its time).
ratio("modsniff default threads / protolens-l7 wall:", "modsniff-default", "protolens-l7", "x")
ratio("modsniff 1 thread / protolens-l7 wall:", "modsniff-t1-.pcap", "protolens-l7", "x")
ratio("modsniff text, default threads / protolens-l7:", "modsniff-default-text", "protolens-l7", "x")
ratio("modsniff text, 1 thread / protolens-l7:", "modsniff-t1-text", "protolens-l7", "x")
if "tshark-d" in res:
    # One tshark run: against each round's modsniff run.
    t = res["tshark-d"][0]
    for label, name, i in [("wall, 1 thread", "modsniff-t1--q1.pcap", 0), ("wall, 2 threads", "modsniff-t2--q1.pcap", 0), ("cpu, 1 thread", "modsniff-t1--q1.pcap", 1)]:
        rs = sorted(t[i] / r[i] for r in res[name])
        print(f"{'tshark-d / modsniff ' + label + ', q1 corpus:':<50} {statistics.median(rs):.2f}x ({rs[0]:.2f}-{rs[-1]:.2f})")
PY
