#!/bin/sh
# Extracts one TCP stream's payloads from a public capture as a replay file for the TLS tests:
# one line per data-carrying segment, "frame<TAB>epoch_ns<TAB>c|s<TAB>hex payload", in capture
# order, retransmissions left out. Usage: extract.sh CAPTURE STREAM SERVER_PORT MAX_FRAME > out.tsv
set -eu
f=$1; stream=$2; sport=$3; maxframe=$4
tshark -r "$f" -o tcp.desegment_tcp_streams:FALSE -o tcp.analyze_sequence_numbers:TRUE \
  -Y "tcp.stream==$stream && tcp.len>0 && !tcp.analysis.retransmission && frame.number<=$maxframe" \
  -T fields -e frame.number -e frame.time_epoch -e tcp.srcport -e tcp.payload 2>/dev/null |
awk -F'\t' -v sp="$sport" '{ split($2, t, "."); ns = t[1] sprintf("%-9s", t[2]); gsub(/ /, "0", ns);
  side = ($3 == sp) ? "s" : "c"; print $1 "\t" ns "\t" side "\t" $4 }'
