#!/usr/bin/env bash
# Ships modsniff's closed, rotated NDJSON files into ClickHouse (schema.sql), over its HTTP
# interface, in batches, resuming where it stopped without loading a record twice.
#
#   ship.sh [--url URL] [--state DIR] [--interval SECS] [--batch-bytes N] [--once] [--delete] FILE
#
# FILE is the `--output` path modsniff writes; the files shipped are FILE.* (the rotated
# ones: whole records only, synced before they were renamed). The current FILE is never read.
#
# Exactly once: a file is done when its name is in DIR/shipped. Before loading a file, each
# record type's (session, seq) range in it is counted in its table: a range already all there
# (a run killed after the INSERT but before it wrote DIR/shipped) is not loaded again; a range
# not there is. Each INSERT is one request of fewer rows than ClickHouse's insert block
# (1,048,576), so it is stored whole or not at all.
#
# Needs bash, curl, awk, grep, sed. CLICKHOUSE_USER / CLICKHOUSE_PASSWORD for a server with
# passwords. MODSNIFF_SHIP_DIE_AFTER_INSERT=N kills this script with SIGKILL right after its
# Nth successful INSERT, before it records it: how the tests hit that window on purpose.
set -euo pipefail

url=http://127.0.0.1:8123/
state=
interval=10
batch_bytes=$((64 << 20))
once=0
delete=0
while [ $# -gt 1 ]; do
  case "$1" in
  --url) url=$2; shift 2 ;;
  --state) state=$2; shift 2 ;;
  --interval) interval=$2; shift 2 ;;
  --batch-bytes) batch_bytes=$2; shift 2 ;;
  --once) once=1; shift ;;
  --delete) delete=1; shift ;;
  *) echo "ship.sh: unknown option $1" >&2; exit 2 ;;
  esac
done
[ $# -eq 1 ] || { echo "usage: ship.sh [--url URL] [--state DIR] [--interval SECS] [--batch-bytes N] [--once] [--delete] FILE" >&2; exit 2; }
base=$1
state=${state:-$(dirname "$base")/.ship-state}
mkdir -p "$state"
touch "$state/shipped"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
inserts=0
auth=()
if [ -n "${CLICKHOUSE_USER:-}" ]; then auth=(-u "$CLICKHOUSE_USER:${CLICKHOUSE_PASSWORD:-}"); fi

# One statement; its answer on stdout. A refused statement stops the script (set -e).
ch() {
  curl -sS --fail "${auth[@]}" "$url" --data-binary "$1"
}

# Loads standard input (records of one type) into $1's table.
insert() {
  sed 's/\\/\\\\/g' | curl -sS --fail "${auth[@]}" \
    "${url}?query=INSERT%20INTO%20modsniff.$1%20%28raw%29%20FORMAT%20TabSeparated" \
    --data-binary @- >/dev/null
  inserts=$((inserts + 1))
  if [ "${MODSNIFF_SHIP_DIE_AFTER_INSERT:-0}" = "$inserts" ]; then
    kill -9 $$
  fi
}

table_of() {
  case "$1" in
  connection) echo connections ;; dns) echo dns ;; finding) echo findings ;; stats) echo runs ;;
  esac
}

# "type session min max count" for each record type and session in file $1; fails for a
# record without the fleet fields (no session: it could not be told from another).
ranges() {
  awk '
    {
      if (!match($0, /^\{"type":"[a-z]+"/)) { next }
      t = substr($0, 10, RLENGTH - 10)
      if (t != "connection" && t != "dns" && t != "finding" && t != "stats") { next }
      if (!match($0, /"session":"[^"]*"/)) { bad = 1; exit }
      s = substr($0, RSTART + 11, RLENGTH - 12)
      if (!match($0, /"seq":[0-9]+/)) { bad = 1; exit }
      q = substr($0, RSTART + 6, RLENGTH - 6) + 0
      k = t " " s
      if (!(k in n)) { lo[k] = q; hi[k] = q }
      if (q < lo[k]) lo[k] = q
      if (q > hi[k]) hi[k] = q
      n[k]++
    }
    END {
      if (bad) { print "no-fleet-fields"; exit 1 }
      for (k in n) print k, lo[k], hi[k], n[k]
    }' "$1"
}

# Appends to $work/<type> the lines of file $1 not loaded yet; returns 1 when the file
# cannot be shipped.
prepare() {
  local f=$1 r t s lo hi n have
  if ! r=$(ranges "$f"); then
    echo "ship.sh: $f: records without the fleet fields (write them with live, run or read --fleet): not shipped" >&2
    return 1
  fi
  while read -r t s lo hi n; do
    [ -n "$t" ] || continue
    have=$(ch "SELECT count() FROM modsniff.$(table_of "$t") WHERE session = '$s' AND seq BETWEEN $lo AND $hi")
    if [ "$have" = "$n" ]; then
      continue # loaded by an earlier run that stopped before writing it down
    fi
    if [ "$have" != 0 ]; then
      echo "ship.sh: $f: $have of $n $t records of session $s already loaded: loading all (ReplacingMergeTree folds the copies)" >&2
    fi
    grep "^{\"type\":\"$t\",\"record_version\":[0-9]*,\"host_name\":.*\"session\":\"$s\"" "$f" >>"$work/$t" || true
  done <<<"$r"
}

ship_batch() {
  local t
  for t in connection dns finding stats; do
    if [ -s "$work/$t" ]; then
      insert "$(table_of "$t")" <"$work/$t"
    fi
  done
  printf '%s\n' "$@" >>"$state/shipped"
  sync "$state/shipped" 2>/dev/null || true
  if [ "$delete" = 1 ]; then rm -f -- "$@"; fi
}

ship_all() {
  local f batch=() bytes=0 size
  rm -f "$work"/*
  for f in "$base".*; do
    [ -f "$f" ] || continue
    if grep -qxF -- "$f" "$state/shipped"; then continue; fi
    prepare "$f" || continue
    batch+=("$f")
    size=$(stat -c %s -- "$f")
    bytes=$((bytes + size))
    if [ "$bytes" -ge "$batch_bytes" ]; then
      ship_batch "${batch[@]}"
      echo "ship.sh: shipped ${#batch[@]} files ($bytes bytes)" >&2
      batch=()
      bytes=0
      rm -f "$work"/*
    fi
  done
  if [ ${#batch[@]} -gt 0 ]; then
    ship_batch "${batch[@]}"
    echo "ship.sh: shipped ${#batch[@]} files ($bytes bytes)" >&2
  fi
}

while :; do
  ship_all
  [ "$once" = 1 ] && break
  sleep "$interval"
done
