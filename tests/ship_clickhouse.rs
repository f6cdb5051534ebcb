//! The `clickhouse` sink against a real, private ClickHouse server (Debian's
//! `clickhouse-server`, started here on 127.0.0.1 from a temp directory): batched
//! `INSERT … FORMAT JSONEachRow`, records read back with `SELECT`; the server is stopped
//! mid-stream and started again, and every record still arrives.
//!
//! Delivery is at least once: a batch whose answer was lost is inserted again, and a
//! MergeTree table keeps both copies. The test asserts every record is present and
//! prints how many duplicates there were.

mod ship_support;

use std::collections::BTreeMap;
use std::time::Duration;

use ship_support::*;

const DDL: &str = include_str!("../deploy/clickhouse/redactd.sql");

fn counts(port: u16) -> BTreeMap<usize, usize> {
    let body = clickhouse_query(port, "SELECT message FROM redactd FORMAT TSV").unwrap();
    let mut m = BTreeMap::new();
    for line in body.lines() {
        if let Some(s) = seq(line) {
            *m.entry(s).or_default() += 1;
        }
    }
    m
}

#[test]
fn every_record_arrives_in_clickhouse_across_a_server_restart() {
    if !available("clickhouse-server") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let mut ch = start_clickhouse(&dir.path().join("ch"));
    clickhouse_query(ch.port, DDL).unwrap();
    let config = write_config(
        dir.path(),
        &format!(
            r#"
[[input]]
type = "stdin"

[[sink]]
name = "analytics"
type = "clickhouse"
profile = "security"
url = "http://127.0.0.1:{}/"
table = "redactd"
batch_records = 100
batch_timeout_ms = 100
retry_initial_ms = 100
retry_max_ms = 1000
timeout_secs = 5
disk_buffer = {{ dir = "buffer", max_bytes = 67108864 }}
"#,
            ch.port
        ),
    );
    let mut child = spawn_run(dir.path(), &config, &["--drain-secs", "60"]);
    let mut stdin = child.stdin.take().unwrap();
    feed(&mut stdin, 0..1000);
    assert!(wait_until(30, || counts(ch.port).len() >= 500));

    // Stop the server mid-stream; records go on arriving at redactd.
    ch.stop();
    for chunk in 0..10 {
        feed(&mut stdin, 1000 + chunk * 100..1100 + chunk * 100);
        std::thread::sleep(Duration::from_millis(100));
    }
    std::thread::sleep(Duration::from_secs(1));
    ch.restart_clickhouse();
    feed(&mut stdin, 2000..2500);
    drop(stdin);
    let ok = wait_until(90, || child.try_wait().unwrap().is_some());
    let stderr = std::fs::read_to_string(dir.path().join("stderr.log")).unwrap();
    assert!(ok, "redactd did not finish: {stderr}");
    assert!(child.wait().unwrap().success(), "{stderr}");

    let got = counts(ch.port);
    let missing: Vec<usize> = (0..2500).filter(|i| !got.contains_key(i)).collect();
    assert!(
        missing.is_empty(),
        "missing {} records, e.g. {:?}; {stderr}",
        missing.len(),
        &missing[..missing.len().min(10)]
    );
    let duplicates: usize = got.values().map(|n| n - 1).sum();
    eprintln!("ClickHouse: 2500 records, all present; {duplicates} duplicates (at least once).");
    assert!(stderr.contains("retrying"), "the server was down: {stderr}");
    // Nothing raw in the table.
    let all = clickhouse_query(ch.port, "SELECT message FROM redactd FORMAT TSV").unwrap();
    assert!(!all.contains("@example.com") && !all.contains("81.2.69."));
    // Columns filled from the record.
    let row = clickhouse_query(
        ch.port,
        "SELECT input, format, facility, severity FROM redactd LIMIT 1 FORMAT TSV",
    )
    .unwrap();
    assert_eq!(row.trim(), "stdin\ttext\t1\t6");
}
