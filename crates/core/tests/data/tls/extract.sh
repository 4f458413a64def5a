#!/bin/sh
# Extracts one TCP stream's payloads from a public capture as a replay file for the TLS tests:
# one line per data-carrying segment, "frame<TAB>epoch_ns<TAB>c|s<TAB>hex payload",
# retransmissions left out. Out-of-order segments are put back in sequence order within their
# side (each side keeps its slots in the capture-order interleaving), as the reassembler would.
# Usage: extract.sh CAPTURE STREAM SERVER_PORT MAX_FRAME > out.tsv
set -eu
f=$1; stream=$2; sport=$3; maxframe=$4
tshark -r "$f" -o tcp.desegment_tcp_streams:FALSE -o tcp.analyze_sequence_numbers:TRUE \
  -Y "tcp.stream==$stream && tcp.len>0 && !tcp.analysis.retransmission && frame.number<=$maxframe" \
  -T fields -e frame.number -e frame.time_epoch -e tcp.srcport -e tcp.seq -e tcp.payload 2>/dev/null |
python3 -c '
import sys
sport = sys.argv[1]
rows = []
for line in sys.stdin:
    frame, epoch, port, seq, payload = line.rstrip("\n").split("\t")
    secs, _, frac = epoch.partition(".")
    ns = int(secs) * 10**9 + int((frac + "000000000")[:9])
    rows.append((frame, ns, "s" if port == sport else "c", int(seq), payload))
for side in "cs":
    slots = [i for i, r in enumerate(rows) if r[2] == side]
    for i, r in zip(slots, sorted((rows[i] for i in slots), key=lambda r: r[3])):
        rows[i] = r
for frame, ns, side, _, payload in rows:
    print(f"{frame}\t{ns}\t{side}\t{payload}")
' "$sport"
