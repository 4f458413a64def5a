-- The questions a fleet asks, on the tables of schema.sql. Each query is named by the
-- comment line before it (`-- name: ...`; tests/fleet.rs runs them by these names). They run
-- on ClickHouse 18.16 and on current servers (no query parameters: 18.16 has none; change
-- the constants; every joined subquery has an alias, which current servers require). `at` is when the sniffer wrote the record (UTC); the capture's own times
-- are in the records (ts_first, first_evidence...).

-- name: forged_resets_this_hour
-- Which runners saw forged resets (SNI filtering) toward proxy.golang.org in the last hour.
SELECT host_name, count() AS resets, min(at) AS first, max(at) AS last
FROM modsniff.findings
WHERE kind = 'reset-after-client-hello' AND actor = 'middlebox'
  AND server_name = 'proxy.golang.org' AND at >= now() - INTERVAL 1 HOUR
GROUP BY host_name
ORDER BY host_name;

-- name: mirror_5xx_since
-- Since when each mirror answers 5xx: its first 5xx after its last good answer (2xx-4xx),
-- with the runners that saw it.
SELECT server_name, min(at) AS failing_since, max(at) AS last_5xx, count() AS answers_5xx,
       uniqExact(host_name) AS hosts, max(last_ok) AS last_good
FROM modsniff.connections
ANY LEFT JOIN
(
    SELECT server_name, max(at) AS last_ok
    FROM modsniff.connections
    WHERE http_status BETWEEN 200 AND 499
    GROUP BY server_name
) AS good USING server_name
WHERE http_status >= 500 AND at >= last_ok
GROUP BY server_name
ORDER BY failing_since;

-- name: interception_by_host
-- On which runner (or site: a prefix of the host name, as your naming has it) TLS
-- interception started, and whether it goes on.
SELECT host_name, min(at) AS since, max(at) AS last, count() AS findings
FROM modsniff.findings
WHERE kind = 'mitm-certificate'
GROUP BY host_name
ORDER BY since;

-- name: interception_issuers
-- First sighting of each interception issuer (the issuer of the leaf certificate the
-- middlebox presented; TLS 1.3 hides it: those are counted under '').
SELECT issuer, min(at) AS first_seen, argMin(host_name, at) AS first_host,
       uniqExact(host_name) AS hosts, count() AS findings
FROM modsniff.findings
ANY LEFT JOIN
(
    SELECT host_name, session, id AS connection, issuer
    FROM modsniff.connections
    WHERE app = 'tls'
) AS tls USING (host_name, session, connection)
WHERE kind = 'mitm-certificate'
GROUP BY issuer
ORDER BY first_seen;

-- name: top_failing_endpoints
-- Each runner's five most failing endpoints today.
SELECT host_name, server_name, server, kind, count() AS errors, max(at) AS last
FROM modsniff.findings
WHERE severity = 'error' AND at >= now() - INTERVAL 1 DAY
GROUP BY host_name, server_name, server, kind
ORDER BY host_name, errors DESC, server_name, kind
LIMIT 5 BY host_name;

-- name: stall_rate_per_mirror_hour
-- Stalled fetches (handshake or transfer) per mirror and hour, over its connections.
SELECT hour, server_name, connections, stalls, round(stalls / connections, 4) AS stall_rate
FROM
(
    SELECT toStartOfHour(at) AS hour, server_name, count() AS connections
    FROM modsniff.connections
    WHERE transport = 'tcp' AND server_name != ''
    GROUP BY hour, server_name
) AS c
ANY LEFT JOIN
(
    SELECT toStartOfHour(at) AS hour, server_name, count() AS stalls
    FROM modsniff.findings
    WHERE kind IN ('handshake-stall', 'transfer-stall')
    GROUP BY hour, server_name
) AS s USING (hour, server_name)
ORDER BY hour, server_name;

-- name: records_per_session
-- What each sniffer wrote and what arrived: seq counts every record of a session from 1, so
-- `missing` > 0 means records were lost (a full disk on the runner, or files not shipped).
SELECT host_name, session, count() AS records, max(seq) AS last_seq, last_seq - records AS missing
FROM
(
    SELECT host_name, session, seq FROM modsniff.connections
    UNION ALL SELECT host_name, session, seq FROM modsniff.dns
    UNION ALL SELECT host_name, session, seq FROM modsniff.findings
    UNION ALL SELECT host_name, session, seq FROM modsniff.runs
) AS records
GROUP BY host_name, session
ORDER BY host_name, session;
