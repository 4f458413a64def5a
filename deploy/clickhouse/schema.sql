-- modsniff records in ClickHouse: one schema that ClickHouse 18.16 (Debian's) and current
-- servers both accept. Every record is stored as the line modsniff wrote (`raw`); the columns
-- the questions need are MATERIALIZED from it when it is inserted.
--
-- Why the line itself: the questions need fields inside nested objects and arrays (the leaf
-- certificate's issuer, the first HTTP status), which 18.16's JSONEachRow cannot load (it
-- skips them); keeping the line also answers tomorrow's question without reloading
-- (JSONExtract* on a current server). visitParamExtract* (both versions) reads the first
-- occurrence of a key in the line: modsniff writes a record's own fields before its nested
-- objects, so for the keys below that is the field meant (`issuer`: the server's leaf
-- certificate; `status`: the first HTTP response; `ts` of a finding: its first evidence).
--
-- Loading: the lines of each type into their table, as TabSeparated with one column
-- (`INSERT INTO modsniff.findings (raw) FORMAT TabSeparated`, backslashes doubled: a JSON
-- line holds no tab or newline, so that is its exact TSV escaping); ship.sh does it. (A Null
-- table with one materialized view per type would take every line in one INSERT, but 18.16
-- refuses to push into a table with MATERIALIZED columns: "Expected column host_name".)
-- Current servers also take `FORMAT JSONAsString` (no escaping) or `LineAsString`.
--
-- Idempotence: (host_name, session, seq) identifies a record and ends every sorting key, so
-- ReplacingMergeTree folds a record loaded twice into one at its next merge. ship.sh itself
-- never loads one twice; FINAL (or OPTIMIZE TABLE ... FINAL) folds at once what an
-- at-least-once shipper (Vector, Fluent Bit) may have sent twice.
--
-- Retention: partitions are days (`at`, when the record was written). Current servers:
-- schema-ttl.sql; 18.16 has no TTL: retention.sh drops old partitions.
-- A sharded, replicated cluster: schema-cluster.sql.

CREATE DATABASE IF NOT EXISTS modsniff;

CREATE TABLE IF NOT EXISTS modsniff.connections
(
    raw String,
    host_name String MATERIALIZED visitParamExtractString(raw, 'host_name'),
    interface String MATERIALIZED visitParamExtractString(raw, 'interface'),
    modsniff_version String MATERIALIZED visitParamExtractString(raw, 'modsniff_version'),
    session String MATERIALIZED visitParamExtractString(raw, 'session'),
    seq UInt64 MATERIALIZED visitParamExtractUInt(raw, 'seq'),
    time_unix Float64 MATERIALIZED visitParamExtractFloat(raw, 'time_unix'),
    at DateTime MATERIALIZED toDateTime(toUInt32(visitParamExtractFloat(raw, 'time_unix'))),
    id UInt64 MATERIALIZED visitParamExtractUInt(raw, 'id'),
    transport String MATERIALIZED visitParamExtractString(raw, 'transport'),
    client String MATERIALIZED visitParamExtractString(raw, 'client'),
    server String MATERIALIZED visitParamExtractString(raw, 'server'),
    server_name String MATERIALIZED visitParamExtractString(raw, 'server_name'),
    state String MATERIALIZED visitParamExtractString(raw, 'state'),
    history String MATERIALIZED visitParamExtractString(raw, 'history'),
    ts_first Float64 MATERIALIZED visitParamExtractFloat(raw, 'ts_first'),
    duration Float64 MATERIALIZED visitParamExtractFloat(raw, 'duration'),
    end_reason String MATERIALIZED visitParamExtractString(raw, 'end_reason'),
    app String MATERIALIZED visitParamExtractString(raw, 'app'),
    sni String MATERIALIZED visitParamExtractString(raw, 'sni'),
    issuer String MATERIALIZED visitParamExtractString(raw, 'issuer'),
    validation String MATERIALIZED visitParamExtractString(raw, 'result'),
    http_status UInt16 MATERIALIZED toUInt16(visitParamExtractUInt(raw, 'status')),
    go_role String MATERIALIZED visitParamExtractString(raw, 'role'),
    go_endpoint String MATERIALIZED visitParamExtractString(raw, 'endpoint'),
    go_module String MATERIALIZED visitParamExtractString(raw, 'module')
)
ENGINE = ReplacingMergeTree()
PARTITION BY toYYYYMMDD(at)
ORDER BY (server_name, host_name, at, session, seq);

CREATE TABLE IF NOT EXISTS modsniff.dns
(
    raw String,
    host_name String MATERIALIZED visitParamExtractString(raw, 'host_name'),
    interface String MATERIALIZED visitParamExtractString(raw, 'interface'),
    session String MATERIALIZED visitParamExtractString(raw, 'session'),
    seq UInt64 MATERIALIZED visitParamExtractUInt(raw, 'seq'),
    at DateTime MATERIALIZED toDateTime(toUInt32(visitParamExtractFloat(raw, 'time_unix'))),
    id UInt16 MATERIALIZED toUInt16(visitParamExtractUInt(raw, 'id')),
    client String MATERIALIZED visitParamExtractString(raw, 'client'),
    server String MATERIALIZED visitParamExtractString(raw, 'server'),
    qname String MATERIALIZED visitParamExtractString(raw, 'qname'),
    qtype String MATERIALIZED visitParamExtractString(raw, 'qtype'),
    -- '' when unanswered.
    rcode_name String MATERIALIZED visitParamExtractString(raw, 'rcode_name'),
    ts Float64 MATERIALIZED visitParamExtractFloat(raw, 'ts'),
    rtt Float64 MATERIALIZED visitParamExtractFloat(raw, 'rtt'),
    retransmissions UInt32 MATERIALIZED toUInt32(visitParamExtractUInt(raw, 'retransmissions'))
)
ENGINE = ReplacingMergeTree()
PARTITION BY toYYYYMMDD(at)
ORDER BY (qname, host_name, at, session, seq);

CREATE TABLE IF NOT EXISTS modsniff.findings
(
    raw String,
    host_name String MATERIALIZED visitParamExtractString(raw, 'host_name'),
    interface String MATERIALIZED visitParamExtractString(raw, 'interface'),
    session String MATERIALIZED visitParamExtractString(raw, 'session'),
    seq UInt64 MATERIALIZED visitParamExtractUInt(raw, 'seq'),
    at DateTime MATERIALIZED toDateTime(toUInt32(visitParamExtractFloat(raw, 'time_unix'))),
    stage String MATERIALIZED visitParamExtractString(raw, 'stage'),
    kind String MATERIALIZED visitParamExtractString(raw, 'kind'),
    severity String MATERIALIZED visitParamExtractString(raw, 'severity'),
    actor String MATERIALIZED visitParamExtractString(raw, 'actor'),
    -- The connection (or dns) record's id within the same session; 0 when null.
    connection UInt64 MATERIALIZED visitParamExtractUInt(raw, 'connection'),
    server_name String MATERIALIZED visitParamExtractString(raw, 'server_name'),
    server String MATERIALIZED visitParamExtractString(raw, 'server'),
    summary String MATERIALIZED visitParamExtractString(raw, 'summary'),
    likely_go_error String MATERIALIZED visitParamExtractString(raw, 'likely_go_error'),
    -- The capture's time of the first evidence frame.
    first_evidence Float64 MATERIALIZED visitParamExtractFloat(raw, 'ts')
)
ENGINE = ReplacingMergeTree()
PARTITION BY toYYYYMMDD(at)
ORDER BY (kind, host_name, at, session, seq);

-- The `stats` record: one per run (a live capture's end; each file `read`).
CREATE TABLE IF NOT EXISTS modsniff.runs
(
    raw String,
    host_name String MATERIALIZED visitParamExtractString(raw, 'host_name'),
    interface String MATERIALIZED visitParamExtractString(raw, 'interface'),
    modsniff_version String MATERIALIZED visitParamExtractString(raw, 'modsniff_version'),
    session String MATERIALIZED visitParamExtractString(raw, 'session'),
    seq UInt64 MATERIALIZED visitParamExtractUInt(raw, 'seq'),
    at DateTime MATERIALIZED toDateTime(toUInt32(visitParamExtractFloat(raw, 'time_unix'))),
    source String MATERIALIZED visitParamExtractString(raw, 'source'),
    packets UInt64 MATERIALIZED visitParamExtractUInt(raw, 'packets'),
    connections UInt64 MATERIALIZED visitParamExtractUInt(raw, 'connections'),
    kernel_dropped UInt64 MATERIALIZED visitParamExtractUInt(raw, 'dropped'),
    -- From the counts, not `verdict`: `verdict` follows go_endpoints, whose keys are host
    -- names from the wire, and a first-occurrence search could be led astray by one.
    errors UInt64 MATERIALIZED visitParamExtractUInt(raw, 'error'),
    warnings UInt64 MATERIALIZED visitParamExtractUInt(raw, 'warning')
)
ENGINE = ReplacingMergeTree()
PARTITION BY toYYYYMMDD(at)
ORDER BY (host_name, at, session, seq);
