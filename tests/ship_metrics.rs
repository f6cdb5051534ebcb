//! `redactd run` exposes its inputs' and sinks' counters on the admin listener, with
//! labels from the configuration only.

mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Command, Stdio};
use std::time::Duration;

fn scrape(addr: &str) -> String {
    let mut s = TcpStream::connect(addr).unwrap();
    write!(
        s,
        "GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut body = String::new();
    s.read_to_string(&mut body).unwrap();
    body
}

#[test]
fn run_counts_records_and_sink_deliveries_on_the_admin_listener() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("redactd.toml");
    let out = dir.path().join("archive.log");
    std::fs::write(
        &config,
        format!(
            "[keys]\ndir = \"keys\"\n\n[[input]]\ntype = \"stdin\"\n\n[[sink]]\nname = \"archive\"\ntype = \"file\"\npath = \"{}\"\nbatch_timeout_ms = 50\n",
            out.display()
        ),
    )
    .unwrap();
    let init = Command::new(env!("CARGO_BIN_EXE_redactd"))
        .args(["keys", "init", "-c"])
        .arg(&config)
        .output()
        .unwrap();
    assert!(init.status.success());
    let mut child = Command::new(env!("CARGO_BIN_EXE_redactd"))
        .args(["run", "--admin-addr", "127.0.0.1:0", "-c"])
        .arg(&config)
        .stdin(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stderr = BufReader::new(child.stderr.take().unwrap());
    let mut line = String::new();
    while !line.contains("admin listener on") {
        line.clear();
        assert!(
            stderr.read_line(&mut line).unwrap() > 0,
            "redactd stopped early"
        );
    }
    let admin = line.split_whitespace().nth(4).unwrap().to_string();
    let mut stdin = child.stdin.take().unwrap();
    for i in 0..3 {
        writeln!(stdin, "login from 203.0.113.{i} by jane.doe@example.com").unwrap();
    }
    stdin.flush().unwrap();
    // The exporter copies counters once a second.
    let mut metrics = String::new();
    for _ in 0..50 {
        std::thread::sleep(Duration::from_millis(100));
        metrics = scrape(&admin);
        if metrics.contains(r#"redactd_sink_events_total{outcome="sent",sink="archive"} 3"#)
            && metrics.contains(r#"rule="email"} 3"#)
        {
            break;
        }
    }
    assert!(
        metrics.contains(r#"redactd_records_total{input="stdin"} 3"#),
        "{metrics}"
    );
    assert!(
        metrics.contains(r#"redactd_sink_events_total{outcome="sent",sink="archive"} 3"#),
        "{metrics}"
    );
    assert!(
        !metrics.contains("jane") && !metrics.contains("203.0.113"),
        "{metrics}"
    );
    for needle in [
        r#"redactd_redactions_total{category="contact",rule="email"} 3"#,
        r#"redactd_redactions_total{category="technical",rule="ipv4"} 3"#,
        "redactd_key_rotate_after_seconds 2592000",
        "redactd_key_epoch_age_seconds ",
    ] {
        assert!(metrics.contains(needle), "{needle} missing: {metrics}");
    }
    let batches: u64 = metrics
        .lines()
        .find(|l| l.starts_with(r#"redactd_sink_batch_size_count{sink="archive"}"#))
        .and_then(|l| l.rsplit(' ').next()?.parse().ok())
        .unwrap_or(0);
    assert!(batches >= 1, "{metrics}");
    // The scrape of the running binary is valid exposition text.
    let body = metrics.split("\r\n\r\n").nth(1).unwrap_or_default();
    let checked = common::promtool_check_metrics(body);
    assert!(
        checked.status.success(),
        "{}{}",
        String::from_utf8_lossy(&checked.stdout),
        String::from_utf8_lossy(&checked.stderr)
    );
    drop(stdin);
    assert!(child.wait().unwrap().success());
}
