#!/usr/bin/env bash
# Two builds of modsniff side by side, in rounds (A then B in each round, ratio within the
# round), next to the ep-floor peer: a change's cost measured in the same minutes.
#
#   OLD=path/to/modsniff NEW=path/to/modsniff bench/ab.sh [ROUNDS]
#
# Env: DIR (corpus, default /tmp/bench-corpus; bench/run.sh builds it), FLOOR (default
# /tmp/peers-target/release/ep-floor, built by bench/run.sh). Wall seconds per row; ratios
# new/old per round for ndjson with 1 and 2 threads and the text report.
set -euo pipefail
: "${OLD:?OLD=modsniff binary to compare against}" "${NEW:?NEW=modsniff binary under test}"
ROUNDS=${1:-5}
C=${DIR:-/tmp/bench-corpus}/corpus.pcap
FLOOR=${FLOOR:-/tmp/peers-target/release/ep-floor}
[ -s "$C" ] || { echo "no corpus at $C: run bench/run.sh once first"; exit 2; }
t() { local s e; s=$(date +%s.%N); "$@" >/dev/null 2>&1; e=$(date +%s.%N); echo "$e - $s" | bc; }
r() { echo "scale=3; $1 / $2" | bc; }
echo "# $(date -u +%FT%TZ) load $(cut -d' ' -f1-3 /proc/loadavg); $C"
for i in $(seq "$ROUNDS"); do
  f=$( [ -x "$FLOOR" ] && t "$FLOOR" "$C" || echo 0)
  o1=$(t "$OLD" read --format ndjson --threads 1 "$C"); n1=$(t "$NEW" read --format ndjson --threads 1 "$C")
  o2=$(t "$OLD" read --format ndjson --threads 2 "$C"); n2=$(t "$NEW" read --format ndjson --threads 2 "$C")
  ot=$(t "$OLD" read --format text --threads 1 "$C"); nt=$(t "$NEW" read --format text --threads 1 "$C")
  echo "round $i: floor $f  t1 old $o1 new $n1 ($(r "$n1" "$o1")x)  t2 old $o2 new $n2 ($(r "$n2" "$o2")x)  text old $ot new $nt ($(r "$nt" "$ot")x)"
done
echo "# end load $(cut -d' ' -f1-3 /proc/loadavg)"
