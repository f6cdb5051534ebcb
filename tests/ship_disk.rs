//! The disk buffer through the binary: redactd killed with SIGKILL mid-stream and started
//! again loses nothing that was accepted into the buffer; a corrupted segment is skipped
//! and counted, not a crash.

mod ship_support;

use std::collections::BTreeSet;
use std::time::Duration;

use redactd::sink::disk::DiskBuffer;
use ship_support::*;

fn config(dir: &std::path::Path, port: u16) -> std::path::PathBuf {
    write_config(
        dir,
        &format!(
            r#"
[[input]]
type = "stdin"

[[sink]]
name = "collector"
type = "http"
profile = "security"
url = "http://127.0.0.1:{port}/"
batch_records = 100
batch_timeout_ms = 50
retry_initial_ms = 50
retry_max_ms = 200
disk_buffer = {{ dir = "buffer", max_bytes = 67108864 }}
"#
        ),
    )
}

fn buffered(dir: &std::path::Path) -> BTreeSet<usize> {
    DiskBuffer::inspect(&dir.join("buffer"))
        .unwrap_or_default()
        .iter()
        .filter_map(|r| seq(&String::from_utf8_lossy(r)))
        .collect()
}

#[test]
fn sigkill_mid_stream_loses_nothing_accepted_into_the_buffer() {
    let dir = tempfile::tempdir().unwrap();
    // Nothing listens here at first: every record stays in the buffer.
    let port = free_port();
    let cfg = config(dir.path(), port);
    let mut child = spawn_run(dir.path(), &cfg, &[]);
    let mut stdin = child.stdin.take().unwrap();
    feed(&mut stdin, 0..500);
    assert!(wait_until(30, || buffered(dir.path()).len() == 500));
    // More records while it is killed.
    let writer = std::thread::spawn(move || {
        for chunk in 0..50 {
            feed(&mut stdin, 500 + chunk * 20..520 + chunk * 20);
            std::thread::sleep(Duration::from_millis(5));
        }
        stdin
    });
    std::thread::sleep(Duration::from_millis(100));
    signal(child.id(), "KILL");
    let _ = child.wait();
    let _ = writer.join();
    let accepted = buffered(dir.path());
    assert!(accepted.is_superset(&(0..500).collect()));
    // Nothing raw on disk.
    for r in DiskBuffer::inspect(&dir.path().join("buffer")).unwrap() {
        let r = String::from_utf8_lossy(&r);
        assert!(
            !r.contains("@example.com") && !r.contains("81.2.69."),
            "{r}"
        );
    }

    // Start again with the collector up (on the same port) and an empty stdin.
    let c = collector_on(port, vec![]);
    let mut child = spawn_run(dir.path(), &cfg, &[]);
    drop(child.stdin.take());
    assert!(wait_until(60, || child.try_wait().unwrap().is_some()));
    let stderr = std::fs::read_to_string(dir.path().join("stderr.log")).unwrap();
    let got: BTreeSet<usize> = received_messages(&c)
        .iter()
        .filter_map(|m| seq(m))
        .collect();
    let lost: Vec<&usize> = accepted.difference(&got).collect();
    assert!(
        lost.is_empty(),
        "lost {} accepted records: {stderr}",
        lost.len()
    );
    eprintln!(
        "disk buffer: {} records accepted before SIGKILL, all delivered after restart",
        accepted.len()
    );
    assert!(buffered(dir.path()).is_empty());
}

#[test]
fn a_corrupted_segment_is_skipped_and_counted_not_a_crash() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let cfg = config(dir.path(), port);
    let mut child = spawn_run(dir.path(), &cfg, &["--drain-secs", "1"]);
    let mut stdin = child.stdin.take().unwrap();
    feed(&mut stdin, 0..300);
    assert!(wait_until(30, || buffered(dir.path()).len() == 300));
    drop(stdin);
    assert!(wait_until(30, || child.try_wait().unwrap().is_some()));
    // Flip a byte in the middle of the segment.
    let seg = std::fs::read_dir(dir.path().join("buffer"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "seg"))
        .max_by_key(|p| std::fs::metadata(p).unwrap().len())
        .unwrap();
    let mut bytes = std::fs::read(&seg).unwrap();
    let mid = bytes.len() / 2;
    bytes[mid] ^= 0x55;
    std::fs::write(&seg, bytes).unwrap();

    let c = collector_on(port, vec![]);
    let mut child = spawn_run(dir.path(), &cfg, &[]);
    drop(child.stdin.take());
    assert!(wait_until(60, || child.try_wait().unwrap().is_some()));
    let status = child.wait().unwrap();
    let stderr = std::fs::read_to_string(dir.path().join("stderr.log")).unwrap();
    assert!(status.success(), "{stderr}");
    let got: BTreeSet<usize> = received_messages(&c)
        .iter()
        .filter_map(|m| seq(m))
        .collect();
    assert_eq!(got.len(), 299, "{stderr}");
    assert!(stderr.contains("1 corrupt regions skipped"), "{stderr}");
}
