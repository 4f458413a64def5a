#!/usr/bin/env bash
# Live: replay a corpus file with tcpreplay at top speed onto one end of a veth pair in a
# network namespace (no route anywhere else) while `modsniff live` analyses the other end
# with every detector on; prints tcpreplay's rate and modsniff's kernel counters (the
# `kernel` object of its stats record: received / dropped by the kernel / by the interface).
#   bench/live.sh [FILE]   env: BIN (modsniff built with --features live), DUR (s, default 6),
#                          RATE ("top" or Mbps, default top), LIVEARGS (more `live` options,
#                          e.g. "--buffer-size 256"; "--threads 2": two sockets in a
#                          PACKET_FANOUT group, one engine each)
# Needs root (ip netns). Both ends share the machine's cores.
set -uo pipefail
F=${1:-/tmp/bench-corpus/corpus-q1.pcap}
BIN=${BIN:?BIN=path to modsniff built with --features live}
DUR=${DUR:-6}
RATE=${RATE:-top}
cleanup() { ip netns del mlive-tx 2>/dev/null; ip netns del mlive-rx 2>/dev/null; true; }
trap cleanup EXIT; cleanup
ip netns add mlive-tx; ip netns add mlive-rx
ip link add ltx netns mlive-tx type veth peer name lrx netns mlive-rx
ip -n mlive-tx link set ltx up mtu 9000; ip -n mlive-rx link set lrx up mtu 9000
cat "$F" > /dev/null
OUT=$(mktemp /tmp/modsniff-live.XXXXXX)
ip netns exec mlive-rx "$BIN" live -i lrx --format ndjson --no-progress ${LIVEARGS:-} > "$OUT" 2> "$OUT.err" &
cp=$!; sleep 2
[ "$RATE" = top ] && ropt=--topspeed || ropt=--mbps=$RATE
ip netns exec mlive-tx tcpreplay -i ltx $ropt --loop=20 --duration="$DUR" -q "$F" > "$OUT.replay" 2>&1
sleep 2; kill -INT $cp; wait $cp
echo "# $(date -u +%FT%TZ) file=$(basename "$F") rate=$RATE dur=${DUR}s args=${LIVEARGS:-} load $(cut -d' ' -f1-3 /proc/loadavg)"
grep -E 'Actual:|Rated:' "$OUT.replay" | sed 's/^ */tcpreplay: /'
tail -1 "$OUT" | python3 -c 'import json,sys; s=json.loads(sys.stdin.read()); print("modsniff: packets", s.get("packets"), "connections", s.get("connections"), "kernel", json.dumps(s.get("kernel")))'
# With --threads N: how the kernel spread the packets over the sockets.
grep -E '^[0-9]+ sockets received' "$OUT.err" | sed 's/^/modsniff: /'
rm -f "$OUT" "$OUT.err" "$OUT.replay"
