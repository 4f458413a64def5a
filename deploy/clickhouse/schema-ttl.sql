-- Retention on current ClickHouse servers (TTL came after 18.16; there, retention.sh drops
-- old day partitions instead). Run after schema.sql; adjust the intervals.
-- The raw lines (most of the bytes) go after 14 days, the extracted columns after 90.
ALTER TABLE modsniff.connections MODIFY TTL at + INTERVAL 90 DAY;
ALTER TABLE modsniff.connections MODIFY COLUMN raw String TTL at + INTERVAL 14 DAY;
ALTER TABLE modsniff.dns MODIFY TTL at + INTERVAL 30 DAY;
ALTER TABLE modsniff.dns MODIFY COLUMN raw String TTL at + INTERVAL 14 DAY;
ALTER TABLE modsniff.findings MODIFY TTL at + INTERVAL 365 DAY;
ALTER TABLE modsniff.runs MODIFY TTL at + INTERVAL 365 DAY;
-- Current servers also store repeated words compactly: optional, same answers.
ALTER TABLE modsniff.findings MODIFY COLUMN kind LowCardinality(String) MATERIALIZED visitParamExtractString(raw, 'kind');
ALTER TABLE modsniff.findings MODIFY COLUMN host_name LowCardinality(String) MATERIALIZED visitParamExtractString(raw, 'host_name');
