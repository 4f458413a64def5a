#!/usr/bin/env bash
# Peak RSS of each synthetic flood (crates/modsniff/tests/hostile_floods.rs), each run alone in
# its own process under /usr/bin/time -v, plus a baseline (a test that only starts). Figures
# go to BENCHMARKS.md ("Hostile input"). Usage: scripts/flood-rss.sh
set -euo pipefail
cd "$(dirname "$0")/.."
bin=$(cargo test --release -p modsniff --test tests --no-run --message-format=json 2>/dev/null |
  python3 -c 'import json,sys
for l in sys.stdin:
    m = json.loads(l)
    if m.get("reason") == "compiler-artifact" and m["target"]["name"] == "tests" and m.get("executable"):
        print(m["executable"])' | tail -1)
[ -x "$bin" ] || { echo "test binary not found" >&2; exit 1; }
printf '%-50s %10s %12s\n' test peak_rss_kib wall
for t in hostile::hostile_mutator_hits_the_fields_it_names \
  hostile_floods::hostile_flood_baseline_normal_connections \
  hostile_floods::hostile_flood_short_connections_faster_than_they_linger \
  hostile_floods::hostile_flood_syn_from_distinct_addresses \
  hostile_floods::hostile_flood_out_of_order_data \
  hostile_floods::hostile_flood_ip_fragments \
  hostile_floods::hostile_flood_dns_id_storm \
  hostile_floods::hostile_flood_connection_that_never_ends; do
  log=$(mktemp)
  /usr/bin/time -v -o "$log" "$bin" --exact "$t" --test-threads 1 >/dev/null 2>&1 || echo "FAILED: $t" >&2
  out=$(cat "$log"); rm -f "$log"
  rss=$(sed -n 's/.*Maximum resident set size (kbytes): //p' <<<"$out")
  wall=$(sed -n 's/.*Elapsed (wall clock) time (h:mm:ss or m:ss): //p' <<<"$out")
  printf '%-50s %10s %12s\n' "${t#*::}" "$rss" "$wall"
done
