//! redactd with a real, private `rsyslogd` (started here from
//! `shared/servers/rsyslog-private.conf`'s pattern, on 127.0.0.1):
//! rsyslog → redactd's syslog input → file sink, and redactd's syslog sink → rsyslog → file.

mod ship_support;

use std::io::Write;
use std::time::Duration;

use ship_support::*;

/// A private rsyslogd that receives on @PORT@ and writes each message to received.log.
const RECEIVER: &str = r#"
global(workDirectory="@DIR@/work" maxMessageSize="64k")
module(load="imtcp")
template(name="raw" type="string" string="%rawmsg%\n")
*.* action(type="omfile" file="@DIR@/internal.log")
ruleset(name="in") {
    action(type="omfile" file="@DIR@/received.log" template="raw")
}
input(type="imtcp" address="127.0.0.1" port="@PORT@" ruleset="in")
"#;

/// A private rsyslogd that receives on @PORT@ and forwards to redactd as
/// deploy/rsyslog/redactd-forward.conf does.
fn forwarder(redactd_port: u16) -> String {
    format!(
        r#"
global(workDirectory="@DIR@/work" maxMessageSize="64k")
module(load="imtcp")
*.* action(type="omfile" file="@DIR@/internal.log")
ruleset(name="in") {{
    action(type="omfwd" target="127.0.0.1" port="{redactd_port}" protocol="tcp"
           template="RSYSLOG_SyslogProtocol23Format" TCP_Framing="octet-counted"
           action.resumeRetryCount="-1" action.resumeInterval="1")
}}
input(type="imtcp" address="127.0.0.1" port="@PORT@" ruleset="in")
"#
    )
}

#[test]
fn rsyslog_forwards_to_the_syslog_input_and_the_file_sink_gets_minimised_records() {
    if !available("rsyslogd") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let out = dir.path().join("out.log");
    let config = write_config(
        dir.path(),
        &format!(
            r#"
[[input]]
type = "syslog"
tcp = "127.0.0.1:{port}"
udp = "127.0.0.1:{port}"

[[sink]]
name = "archive"
type = "file"
profile = "security"
path = "out.log"
batch_timeout_ms = 50
"#
        ),
    );
    let mut redactd = spawn_run(dir.path(), &config, &[]);
    assert!(wait_until(20, || std::net::TcpStream::connect((
        "127.0.0.1",
        port
    ))
    .is_ok()));
    let rs_dir = dir.path().join("rsyslog");
    std::fs::create_dir_all(&rs_dir).unwrap();
    let rsyslog = start_rsyslog(&rs_dir, &forwarder(port));
    // An application logs to rsyslog (RFC 3164 with LF framing).
    let mut app = std::net::TcpStream::connect(("127.0.0.1", rsyslog.port)).unwrap();
    for i in 0..200 {
        writeln!(app, "<38>Oct 11 22:14:15 web1 sshd[42]: {}", line(i)).unwrap();
    }
    app.flush().unwrap();
    let count = || {
        std::fs::read_to_string(&out)
            .map(|s| s.lines().count())
            .unwrap_or(0)
    };
    let ok = wait_until(30, || count() >= 200);
    terminate(&mut redactd);
    let stderr = std::fs::read_to_string(dir.path().join("stderr.log")).unwrap();
    assert!(ok, "{} of 200 arrived: {stderr}", count());
    let text = std::fs::read_to_string(&out).unwrap();
    let mut seqs: Vec<usize> = Vec::new();
    for l in text.lines() {
        let v: serde_json::Value = serde_json::from_str(l).unwrap();
        assert_eq!(v["host"], "web1", "{l}");
        assert_eq!(v["app"], "sshd", "{l}");
        assert_eq!(
            (v["facility"].as_u64(), v["severity"].as_u64()),
            (Some(4), Some(6))
        );
        seqs.extend(seq(v["message"].as_str().unwrap()));
    }
    seqs.sort();
    assert_eq!(seqs, (0..200).collect::<Vec<_>>());
    assert!(
        !text.contains("@example.com") && !text.contains("81.2.69."),
        "{text}"
    );
    drop(rsyslog);
}

#[test]
fn the_syslog_sink_delivers_rfc5424_to_rsyslog() {
    if !available("rsyslogd") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let rs_dir = dir.path().join("rsyslog");
    std::fs::create_dir_all(&rs_dir).unwrap();
    let rsyslog = start_rsyslog(&rs_dir, RECEIVER);
    let config = write_config(
        dir.path(),
        &format!(
            r#"
[[input]]
type = "stdin"

[[sink]]
name = "relay"
type = "syslog"
profile = "security"
address = "127.0.0.1:{}"
hostname = "shipper"
batch_timeout_ms = 50
"#,
            rsyslog.port
        ),
    );
    let mut child = spawn_run(dir.path(), &config, &[]);
    let mut stdin = child.stdin.take().unwrap();
    feed(&mut stdin, 0..300);
    drop(stdin);
    assert!(wait_until(30, || child.try_wait().unwrap().is_some()));
    let received = rs_dir.join("received.log");
    let count = || {
        std::fs::read_to_string(&received)
            .map(|s| s.lines().count())
            .unwrap_or(0)
    };
    let ok = wait_until(30, || count() >= 300);
    let stderr = std::fs::read_to_string(dir.path().join("stderr.log")).unwrap();
    assert!(ok, "{} of 300 arrived: {stderr}", count());
    std::thread::sleep(Duration::from_millis(200));
    let text = std::fs::read_to_string(&received).unwrap();
    let mut seqs: Vec<usize> = Vec::new();
    for l in text.lines() {
        assert!(
            l.starts_with("<13>1 ") && l.contains(" shipper redactd - - - "),
            "{l}"
        );
        seqs.extend(seq(l));
    }
    seqs.sort();
    assert_eq!(seqs, (0..300).collect::<Vec<_>>());
    assert!(
        !text.contains("@example.com") && !text.contains("81.2.69."),
        "{text}"
    );
}
