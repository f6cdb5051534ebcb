-- The table redactd's `clickhouse` sink inserts into (INSERT … FORMAT JSONEachRow).
-- Checked against ClickHouse 18.16 (Debian's clickhouse-server): plain MergeTree, no
-- LowCardinality (experimental there), the
-- partition-key syntax, DateTime('UTC') and TTL-free (TTL came in 19.6: drop old months
-- with `ALTER TABLE redactd DROP PARTITION 202401` from cron, per the profile's retention).
--
-- Every record is already minimised by the sink's profile; nothing raw reaches the table.
-- One column per member of the record encoding (src/sink/encode.rs):
--   time      when redactd received the line (UTC)
--   input     the [[input]] name
--   format    the line format: syslog, json, combined, text
--   host/app  syslog HOSTNAME and APP-NAME/TAG ('' otherwise)
--   facility/severity  from the syslog PRI (1/6 otherwise)
--   message   the minimised MSG (syslog) or the whole minimised line
CREATE TABLE IF NOT EXISTS redactd
(
    time DateTime('UTC'),
    input String,
    format String,
    host String,
    app String,
    facility UInt8,
    severity UInt8,
    message String
)
ENGINE = MergeTree()
PARTITION BY toYYYYMM(time)
ORDER BY (input, time);
