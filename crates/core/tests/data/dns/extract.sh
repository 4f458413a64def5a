#!/usr/bin/env bash
# Regenerates the DNS test data from the public corpus (see README.md). Needs tshark and python3.
set -euo pipefail
PC=${PCAPS:-/work/shared/pcaps}
cd "$(dirname "$0")"
files=$(cd "$PC/reference" && grep -l '"transport": "udp"' -r . | grep -v '^$' || true)
: > udp-messages.tsv
python3 - "$PC" > captures.txt <<'PY'
import json, glob, os, sys
pc = sys.argv[1]
for f in sorted(glob.glob(pc + "/reference/**/*.json", recursive=True)):
    d = json.load(open(f))
    if d["dns"]:
        print(os.path.relpath(f, pc + "/reference")[:-5], ",".join(sorted({x["transport"] for x in d["dns"]})))
PY
while read -r cap transports; do
  case $transports in *udp*)
    tshark -n -r "$PC/public/$cap" -Y "dns && udp" -T fields -E occurrence=l -E separator=/t \
      -e frame.number -e frame.time_epoch -e ip.src -e ipv6.src -e udp.srcport -e ip.dst -e ipv6.dst -e udp.dstport -e udp.payload 2>/dev/null |
      awk -F'\t' -v cap="$cap" 'BEGIN{OFS="\t"} {s=($3!=""?$3:"["$4"]"); d=($6!=""?$6:"["$7"]"); print cap,$1,$2,s":"$5,d":"$8,$9}' >> udp-messages.tsv
  esac
  case $transports in *tcp*)
    out=$(echo "$cap" | tr '/' '_' ).seg
    ../http/extract.sh "$PC/public/$cap" 0 "$out"
  esac
done < captures.txt
# Expected (qname, rcode) of every response, as compare-tshark.py reads the reference.
python3 - "$PC" > expected.tsv <<'PY'
import json, glob, os, sys
pc = sys.argv[1]
for f in sorted(glob.glob(pc + "/reference/**/*.json", recursive=True)):
    d = json.load(open(f))
    cap = os.path.relpath(f, pc + "/reference")[:-5]
    for q, r in sorted({((x.get("qname") or "").lower().rstrip("."), x["rcode"]) for x in d["dns"] if x.get("response") and x.get("qname")}):
        print(cap, q, r, sep="\t")
PY
