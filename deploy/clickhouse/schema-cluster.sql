-- A sharded, replicated cluster (cluster `modsniff` in <remote_servers>, macros {shard} and
-- {replica} on each server): the tables of schema.sql on every server as
-- ReplicatedReplacingMergeTree, and a Distributed table over each for loading and querying.
-- Shown for modsniff.findings; connections, dns and runs follow the same pattern (columns as
-- in schema.sql). Accepted by 18.16 and current servers.
--
-- Sharding by host name keeps a runner's records on one shard (one session's seq range in one
-- place: ship.sh's "already loaded?" count stays exact). Replication deduplicates a block
-- inserted twice (insert_deduplicate, on by default for Replicated tables): a retried INSERT
-- of the same batch is stored once even before ReplacingMergeTree merges.
--
-- Load through the Distributed table: ship.sh --url http://any-server:8123/ after
--   sed -i 's/modsniff\.\$1%20/modsniff.\${1}_all%20/; s/FROM modsniff\.\$(table_of "\$t")/FROM modsniff.$(table_of "$t")_all/' ship.sh
-- (insert into and count in findings_all ...). queries.sql runs on the *_all tables.

CREATE DATABASE IF NOT EXISTS modsniff ON CLUSTER modsniff;

CREATE TABLE IF NOT EXISTS modsniff.findings ON CLUSTER modsniff
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
    connection UInt64 MATERIALIZED visitParamExtractUInt(raw, 'connection'),
    server_name String MATERIALIZED visitParamExtractString(raw, 'server_name'),
    server String MATERIALIZED visitParamExtractString(raw, 'server'),
    summary String MATERIALIZED visitParamExtractString(raw, 'summary'),
    likely_go_error String MATERIALIZED visitParamExtractString(raw, 'likely_go_error'),
    first_evidence Float64 MATERIALIZED visitParamExtractFloat(raw, 'ts')
)
ENGINE = ReplicatedReplacingMergeTree('/clickhouse/tables/{shard}/modsniff/findings', '{replica}')
PARTITION BY toYYYYMMDD(at)
ORDER BY (kind, host_name, at, session, seq);

-- Inserts into findings_all are routed to a shard by host name; selects read every shard.
CREATE TABLE IF NOT EXISTS modsniff.findings_all ON CLUSTER modsniff AS modsniff.findings
ENGINE = Distributed(modsniff, modsniff, findings, cityHash64(visitParamExtractString(raw, 'host_name')));
