#!/usr/bin/env bash
# bench/t1-rounds.sh ROUNDS OLD NEW [CAPTURE] [PL_BENCH]: interleaved one-thread rounds.
# Each round runs protolens with its parsers (`pl-bench l7`), then OLD and NEW with
# `read --threads 1 --format ndjson`, then with `--format text` (the order of OLD and NEW
# alternating by round), under /usr/bin/time; prints the medians (min-max) of the per-round
# ratios, wall and CPU (user + sys). Ratios within a round cancel most of a shared machine's
# swings; the spread says how much did not cancel.
set -euo pipefail
N=$1 OLD=$2 NEW=$3
F=${4:-/tmp/bench-corpus/corpus.pcap}
PL=${5:-/tmp/peers-target/release/pl-bench}
OUT=$(mktemp)
trap 'rm -f "$OUT" "$OUT.err"' EXIT
run() { /usr/bin/time -f "$1 %e %U %S %M" "${@:2}" >/dev/null 2>>"$OUT.err" || true; tail -n1 "$OUT.err" >>"$OUT"; }
for i in $(seq 1 "$N"); do
  run pl "$PL" l7 "$F"
  if [ $((i % 2)) = 1 ]; then order="old new"; else order="new old"; fi
  for fmt in ndjson text; do
    for w in $order; do
      b=$OLD; [ "$w" = new ] && b=$NEW
      run "$w-$fmt" "$b" read --threads 1 --format "$fmt" "$F"
    done
  done
  echo "round $i: $(tail -n5 "$OUT" | awk '{printf "%s %s  ", $1, $2}')"
done
python3 - "$OUT" <<'P'
import sys, statistics as st
rows = [l.split() for l in open(sys.argv[1])]
rounds = [rows[i:i + 5] for i in range(0, len(rows), 5)]
def val(r, k, cpu):
    x = next(x for x in r if x[0] == k)
    return float(x[2]) + float(x[3]) if cpu else float(x[1])
for cpu in (False, True):
    lab = "cpu" if cpu else "wall"
    for k in ["pl", "old-ndjson", "new-ndjson", "old-text", "new-text"]:
        v = [val(r, k, cpu) for r in rounds]
        print(f"{lab} {k}: {st.median(v):.3f} ({min(v):.3f}-{max(v):.3f})")
    for a, b in [("new-ndjson", "old-ndjson"), ("new-text", "old-text"), ("old-ndjson", "pl"),
                 ("new-ndjson", "pl"), ("old-text", "pl"), ("new-text", "pl")]:
        v = [val(r, a, cpu) / val(r, b, cpu) for r in rounds]
        print(f"{lab} {a}/{b}: {st.median(v):.3f} ({min(v):.3f}-{max(v):.3f})")
rss = [int(x[4]) for r in rounds for x in r if x[0].startswith("new")]
print(f"new peak RSS: {min(rss)}-{max(rss)} KB")
P
