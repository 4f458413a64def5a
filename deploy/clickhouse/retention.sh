#!/usr/bin/env bash
# Retention for ClickHouse servers without TTL (18.16): drops the day partitions of each
# modsniff table older than its number of days. Current servers: schema-ttl.sql instead.
#
#   retention.sh [URL]        e.g. daily from cron: 17 3 * * * /usr/local/bin/modsniff-retention
#
# A partition is a day of `at` (toYYYYMMDD); dropping one is instant and frees its disk.
set -euo pipefail
url=${1:-http://127.0.0.1:8123/}
ch() { curl -sS --fail "$url" --data-binary "$1"; }
for spec in connections:90 dns:30 findings:365 runs:365; do
  table=${spec%%:*} days=${spec##*:}
  for p in $(ch "SELECT DISTINCT partition FROM system.parts WHERE database = 'modsniff' AND table = '$table' AND active AND toUInt32(partition) < toYYYYMMDD(today() - $days) ORDER BY partition"); do
    echo "retention.sh: modsniff.$table: dropping day $p" >&2
    ch "ALTER TABLE modsniff.$table DROP PARTITION $p"
  done
done
