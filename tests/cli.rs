//! `redactd filter` as a user runs it: files, gzip, pipes, closed stdout, keys, errors.

use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};
use std::time::Duration;

mod common;

use common::{output_with_stdin, redactd};

const KEY: &str = "2222222222222222222222222222222222222222222222222222222222222222";

fn run_with_stdin(mut cmd: Command, stdin: &[u8]) -> std::process::Output {
    output_with_stdin(&mut cmd, stdin)
}

const SAMPLE: &str = "203.0.113.9 - - [10/Oct/2023:13:55:36 +0000] \"GET /a?email=jane%40example.com HTTP/1.1\" 200 5 \"-\" \"curl/8.0\"\nplain text line with jane@example.com\n";

#[test]
fn files_and_gzip_files_give_the_same_output_as_stdin() {
    let dir = tempfile::tempdir().unwrap();
    let plain = dir.path().join("a.log");
    std::fs::write(&plain, SAMPLE).unwrap();
    let gz = dir.path().join("b.log.2.gz");
    let mut enc = flate2::write::GzEncoder::new(
        std::fs::File::create(&gz).unwrap(),
        flate2::Compression::default(),
    );
    enc.write_all(SAMPLE.as_bytes()).unwrap();
    enc.finish().unwrap();

    let mut cmd = redactd(dir.path());
    cmd.args(["filter"]).env("REDACTD_KEY", KEY);
    let from_stdin = run_with_stdin(cmd, SAMPLE.as_bytes());
    assert!(from_stdin.status.success());
    let out = redactd(dir.path())
        .args(["filter"])
        .arg(&plain)
        .arg(&gz)
        .env("REDACTD_KEY", KEY)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let twice = [from_stdin.stdout.clone(), from_stdin.stdout.clone()].concat();
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&twice)
    );
    assert!(!String::from_utf8_lossy(&out.stdout).contains("jane"));
}

#[test]
fn closed_stdout_ends_quietly_with_status_zero() {
    let dir = tempfile::tempdir().unwrap();
    let mut child = redactd(dir.path())
        .args(["filter", "--threads", "2"])
        .env("REDACTD_KEY", KEY)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let writer = std::thread::spawn(move || {
        let line = SAMPLE.repeat(1000);
        for _ in 0..200 {
            if stdin.write_all(line.as_bytes()).is_err() {
                break;
            }
        }
    });
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let mut first = String::new();
    stdout.read_line(&mut first).unwrap();
    drop(stdout); // like `| head -1`
    let out = child.wait_with_output().unwrap();
    writer.join().unwrap();
    assert!(out.status.success(), "status {:?}", out.status);
    assert_eq!(String::from_utf8_lossy(&out.stderr), "");
}

#[test]
fn each_line_is_written_as_soon_as_a_trickling_pipe_delivers_it() {
    let dir = tempfile::tempdir().unwrap();
    let mut child = redactd(dir.path())
        .args(["filter"])
        .env("REDACTD_KEY", KEY)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    let stdout = child.stdout.take().unwrap();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            if tx.send(line.unwrap()).is_err() {
                break;
            }
        }
    });
    for i in 0..3 {
        writeln!(stdin, "request {i} from 198.51.100.{i}").unwrap();
        stdin.flush().unwrap();
        // The input stays open: the line must arrive without end of input.
        let line = rx
            .recv_timeout(Duration::from_secs(20))
            .expect("line not flushed");
        assert!(line.starts_with(&format!("request {i} from ip:")), "{line}");
    }
    drop(stdin);
    assert!(child.wait().unwrap().success());
}

#[test]
fn missing_key_is_created_private_with_a_notice_and_reused() {
    let dir = tempfile::tempdir().unwrap();
    let first = run_with_stdin(
        redactd(dir.path()).args(["filter"]).tap(),
        b"jane@example.com\n",
    );
    assert!(first.status.success());
    let notice = String::from_utf8_lossy(&first.stderr);
    assert!(
        notice.contains("created a new pseudonymisation key"),
        "{notice}"
    );
    let key = dir.path().join(".config/redactd/pseudonym.key");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(
            std::fs::metadata(&key).unwrap().permissions().mode() & 0o777,
            0o600
        );
    }
    let second = run_with_stdin(
        redactd(dir.path()).args(["filter"]).tap(),
        b"jane@example.com\n",
    );
    assert_eq!(String::from_utf8_lossy(&second.stderr), "");
    assert_eq!(first.stdout, second.stdout);
    assert!(String::from_utf8_lossy(&first.stdout).starts_with("email:"));
}

#[test]
fn bad_rule_file_exits_64_naming_file_line_and_column() {
    let dir = tempfile::tempdir().unwrap();
    let rules = dir.path().join("mine.toml");
    std::fs::write(
        &rules,
        "[[rule]]\nid = \"x\"\ncategory = \"usage\"\nregex = '(unclosed'\n",
    )
    .unwrap();
    let out = redactd(dir.path())
        .args(["filter", "--rules"])
        .arg(&rules)
        .env("REDACTD_KEY", KEY)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(64));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("mine.toml:4:9: rule `x`: invalid regex"),
        "{err}"
    );
}

#[test]
fn missing_input_file_exits_66() {
    let dir = tempfile::tempdir().unwrap();
    let out = redactd(dir.path())
        .args(["filter", "/nonexistent/access.log"])
        .env("REDACTD_KEY", KEY)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(66));
    assert!(String::from_utf8_lossy(&out.stderr).contains("cannot open /nonexistent/access.log"));
}

#[test]
fn oversize_line_becomes_a_marker_and_is_counted_without_its_content() {
    let dir = tempfile::tempdir().unwrap();
    let long = format!("secret jane@example.com {}\nnext line\n", "x".repeat(5000));
    let out = run_with_stdin(
        redactd(dir.path())
            .args(["filter", "--max-line-bytes", "1000", "--stats"])
            .env("REDACTD_KEY", KEY)
            .tap(),
        long.as_bytes(),
    );
    assert!(out.status.success());
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        stdout,
        "[redactd: line dropped: longer than max-line-bytes]\nnext line\n"
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("1 oversize lines dropped"), "{stderr}");
    assert!(!stderr.contains("jane"));
}

#[test]
fn custom_word_list_rule_redacts_names_case_insensitively() {
    let dir = tempfile::tempdir().unwrap();
    let rules = dir.path().join("names.toml");
    std::fs::write(&rules, "[[rule]]\nid = \"customers\"\ncategory = \"identity\"\nwords = [\"Alice Smith\", \"intranet-db01\"]\ncase_insensitive = true\naction = \"redact\"\nplaceholder = \"[CUSTOMER]\"\n").unwrap();
    let out = run_with_stdin(
        redactd(dir.path())
            .args(["filter", "--format", "text", "--rules"])
            .arg(&rules)
            .env("REDACTD_KEY", KEY)
            .tap(),
        b"ALICE SMITH called from intranet-db01 about Alice Smithson\n",
    );
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "[CUSTOMER] called from [CUSTOMER] about Alice Smithson\n"
    );
}

#[test]
fn rules_list_shows_every_shipped_rule_with_its_category() {
    let dir = tempfile::tempdir().unwrap();
    let out = redactd(dir.path())
        .args(["rules", "list"])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    for needle in [
        "email",
        "contact",
        "ipv4",
        "technical",
        "session-cookie",
        "card",
        "financial",
        "mask",
    ] {
        assert!(text.contains(needle), "{needle} missing:\n{text}");
    }
}

/// Lets a `&mut Command` built inline be passed by value.
trait Tap {
    fn tap(&mut self) -> Command;
}

impl Tap for Command {
    fn tap(&mut self) -> Command {
        std::mem::replace(self, Command::new("true"))
    }
}

#[test]
fn stats_file_holds_the_run_counters_as_prometheus_text_without_values() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("redactd.prom");
    let out = run_with_stdin(
        redactd(dir.path())
            .args(["filter", "--stats", "--stats-file"])
            .arg(&path)
            .env("REDACTD_KEY", KEY)
            .tap(),
        SAMPLE.as_bytes(),
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // The stderr summary stays.
    assert!(String::from_utf8_lossy(&out.stderr).contains("2 lines"));
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(
        text.contains("redactd_records_total{input=\"filter\"} 2\n"),
        "{text}"
    );
    assert!(
        text.contains("redactd_lines_total{format=\"combined\"} 1\n"),
        "{text}"
    );
    assert!(
        text.contains("redactd_lines_total{format=\"text\"} 1\n"),
        "{text}"
    );
    assert!(
        text.lines().any(
            |l| l.starts_with("redactd_redactions_total{category=\"contact\",rule=\"email\"} ")
        ),
        "{text}"
    );
    assert!(
        !text.contains("jane") && !text.contains("203.0.113"),
        "{text}"
    );
    assert!(!dir.path().join("redactd.prom.tmp").exists());
}

#[test]
fn unwritable_stats_file_is_an_io_error() {
    let dir = tempfile::tempdir().unwrap();
    let out = run_with_stdin(
        redactd(dir.path())
            .args(["filter", "--stats-file", "/nonexistent/dir/redactd.prom"])
            .env("REDACTD_KEY", KEY)
            .tap(),
        SAMPLE.as_bytes(),
    );
    assert_eq!(out.status.code(), Some(74));
    assert!(String::from_utf8_lossy(&out.stderr).contains("stats file"));
}
