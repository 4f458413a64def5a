#!/usr/bin/env bash
# Regenerates the .seg files from the public captures with tshark (see README.md).
# usage: extract.sh CAPTURE STREAM OUT [MAX_SEGMENTS]
# Each output line is one reassembled TCP segment as tshark's "follow,tcp,raw" gives it,
# in capture order: "C <hex>" for bytes from the client (node 0), "S <hex>" from the server.
set -euo pipefail
cap=$1 stream=$2 out=$3 max=${4:-1000000}
tshark -r "$cap" -q -z "follow,tcp,raw,$stream" 2>/dev/null |
  awk -v max="$max" '
    /^===/ { inside = !inside; next }
    !inside || /^(Follow|Filter|Node)/ || NF == 0 { next }
    { if (n++ >= max) exit; if ($0 ~ /^\t/) { sub(/^\t/, ""); print "S " $0 } else print "C " $0 }
  ' > "$out"
