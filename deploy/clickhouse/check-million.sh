#!/usr/bin/env bash
# A million records through the whole recipe, nothing lost and nothing twice: modsniff writes
# them to a rotating --output, ship.sh loads the rotated files into a ClickHouse server of its
# own while being killed twice (once by SIGKILL at a random moment, once right after an INSERT
# it had not written down), then is run again to the end; the tables must hold exactly the
# records written (count, distinct (session, seq), every seq from 1 to the last, every byte).
#
#   check-million.sh [MODSNIFF] [CAPTURE] [RECORDS]
#
# MODSNIFF: the binary (default target/release/modsniff); CAPTURE: read as many times as it
# takes to write RECORDS records (default ../shared/bench/seed.pcap, 9,330 records a read;
# RECORDS default 1000000). Needs clickhouse-server, curl, awk. Prints the figures
# BENCHMARKS.md quotes; exits 1 when a check fails.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
modsniff=${1:-$repo/target/release/modsniff}
capture=${2:-$repo/../shared/bench/seed.pcap}
want=${3:-1000000}
server=$(command -v clickhouse-server || echo /usr/sbin/clickhouse-server)
[ -x "$server" ] || { echo "check-million.sh: clickhouse-server is not installed" >&2; exit 2; }

work=$(mktemp -d /tmp/modsniff-million.XXXXXX)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
http=$(port) tcp=$(port)
mkdir -p "$work/ch/data" "$work/out"
cat >"$work/ch/config.xml" <<EOF
<?xml version="1.0"?>
<yandex>
  <logger><level>warning</level><log>$work/ch/server.log</log><errorlog>$work/ch/error.log</errorlog></logger>
  <listen_host>127.0.0.1</listen_host><http_port>$http</http_port><tcp_port>$tcp</tcp_port>
  <path>$work/ch/data/</path><tmp_path>$work/ch/tmp/</tmp_path>
  <users_config>$work/ch/users.xml</users_config>
  <default_profile>default</default_profile><default_database>default</default_database>
  <mark_cache_size>268435456</mark_cache_size><timezone>UTC</timezone>
</yandex>
EOF
cat >"$work/ch/users.xml" <<'EOF'
<?xml version="1.0"?>
<yandex><profiles><default></default></profiles>
<users><default><password></password><networks><ip>127.0.0.1</ip></networks><profile>default</profile><quota>default</quota></default></users>
<quotas><default></default></quotas></yandex>
EOF
"$server" --config-file="$work/ch/config.xml" >/dev/null 2>&1 &
pids+=($!)
url=http://127.0.0.1:$http/
ch() { curl -sS --fail "$url" --data-binary "$1"; }
for _ in $(seq 100); do ch "SELECT 1" >/dev/null 2>&1 && break; sleep 0.2; done
echo "clickhouse $(ch 'SELECT version()') on $url"
python3 - "$here/schema.sql" <<'EOF' | while IFS= read -r -d '' st; do ch "$st"; done
import sys
text = "\n".join(l for l in open(sys.argv[1]) if not l.strip().startswith("--"))
for st in text.split(";"):
    if st.strip():
        sys.stdout.write(st.strip() + "\0")
EOF

per=$({ "$modsniff" read --format ndjson "$capture" || true; } | wc -l)
reads=$(((want + per - 1) / per))
args=()
for _ in $(seq "$reads"); do args+=("$capture"); done
t0=$(date +%s.%N)
"$modsniff" read --format ndjson --host-name million --no-progress \
  --output "$work/out/records.ndjson" --rotate-size 16M "${args[@]}" >/dev/null || [ $? -eq 1 ]
t1=$(date +%s.%N)
files=$(ls "$work/out" | grep -c '^records.ndjson\.')
records=$(cat "$work/out"/records.ndjson.* | wc -l)
bytes=$(cat "$work/out"/records.ndjson.* | wc -c)
echo "written: $records records, $bytes bytes, $files files, in $(echo "$t1 - $t0" | bc) s ($reads reads of $capture)"

ship() { bash "$here/ship.sh" --url "$url" --state "$work/state" --batch-bytes $((64 << 20)) "$@" "$work/out/records.ndjson"; }
t2=$(date +%s.%N)
# 1: killed at a random moment (ship.sh itself, not a subshell around it).
bash "$here/ship.sh" --url "$url" --state "$work/state" --batch-bytes $((64 << 20)) --interval 1 \
  "$work/out/records.ndjson" 2>"$work/ship1.log" &
sp=$!
# Once it has shipped a batch, at a random moment within the next few seconds.
for _ in $(seq 600); do grep -q shipped "$work/ship1.log" 2>/dev/null && break; sleep 0.1; done
sleep "$((RANDOM % 4)).$((RANDOM % 10))"
kill -9 "$sp" 2>/dev/null || true
wait "$sp" 2>/dev/null || true
echo "ship.sh killed after $(grep -c shipped "$work/ship1.log" || true) batches"
# 2: killed right after its third INSERT, before writing it down.
MODSNIFF_SHIP_DIE_AFTER_INSERT=3 ship --once 2>"$work/ship2.log" || echo "ship.sh died after an INSERT (status $?)"
# 3: to the end.
ship --once 2>"$work/ship3.log"
t3=$(date +%s.%N)
cat "$work/ship3.log" | tail -2

fail=0
total_rows=0
total_bytes=0
for spec in connection:connections dns:dns finding:findings stats:runs; do
  t=${spec%%:*} table=${spec##*:}
  n=$(cat "$work/out"/records.ndjson.* | grep -c "^{\"type\":\"$t\"," || true)
  read -r rows uniq b <<<"$(ch "SELECT count(), uniqExact(session, seq), sum(length(raw) + 1) FROM modsniff.$table FORMAT TSV")"
  echo "$table: $n records written, $rows rows, $uniq distinct (session, seq)"
  [ "$rows" = "$n" ] && [ "$uniq" = "$n" ] || fail=1
  total_rows=$((total_rows + rows))
  total_bytes=$((total_bytes + b))
done
read -r sessions minseq maxseq <<<"$(ch "SELECT uniqExact(session), min(seq), max(seq) FROM (SELECT session, seq FROM modsniff.connections UNION ALL SELECT session, seq FROM modsniff.dns UNION ALL SELECT session, seq FROM modsniff.findings UNION ALL SELECT session, seq FROM modsniff.runs) FORMAT TSV")"
echo "rows: $total_rows of $records records; bytes stored: $total_bytes of $bytes; seq $minseq..$maxseq in $sessions session(s)"
[ "$total_rows" = "$records" ] && [ "$total_bytes" = "$bytes" ] && [ "$minseq" = 1 ] && [ "$maxseq" = "$records" ] || fail=1
echo "shipped in $(echo "$t3 - $t2" | bc) s including the two kills"
du -sh "$work/ch/data" | sed 's/^/clickhouse data: /'
if [ "$fail" = 0 ]; then echo "OK: nothing lost, nothing twice"; else echo "FAILED"; exit 1; fi
