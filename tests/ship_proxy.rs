//! `redactd run` with a proxy input: each request's minimised record is delivered to the
//! input's sinks (here a file), and nothing raw reaches them.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Command, Stdio};

/// A one-thread upstream answering every request with a fixed body.
fn upstream() -> std::net::SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut s) = stream else { break };
            let mut head = [0u8; 4096];
            let _ = s.read(&mut head);
            let _ = s.write_all(
                b"HTTP/1.1 200 OK\r\ncontent-length: 3\r\nconnection: close\r\n\r\nok\n",
            );
        }
    });
    addr
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

#[test]
fn proxy_input_records_reach_the_file_sink_minimised() {
    let dir = tempfile::tempdir().unwrap();
    let up = upstream();
    let port = free_port();
    let out = dir.path().join("access.jsonl");
    let config = dir.path().join("redactd.toml");
    let shipped =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/config/redactd.toml"))
            .unwrap();
    let profiles = &shipped[shipped.find("[profile.security]").unwrap()..];
    std::fs::write(
        &config,
        format!(
            "[[input]]\ntype = \"proxy\"\nname = \"web\"\nlisten = \"127.0.0.1:{port}\"\nupstream = \"http://{up}\"\n\n[[sink]]\nname = \"archive\"\ntype = \"file\"\npath = \"{}\"\nprofile = \"security\"\nencoding = \"raw\"\nbatch_timeout_ms = 20\n\n{profiles}",
            out.display()
        ),
    )
    .unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_redactd"))
        .args(["run", "--admin-addr", "off", "-c"])
        .arg(&config)
        .env("REDACTD_KEY", "66".repeat(32))
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stderr = BufReader::new(child.stderr.take().unwrap());
    let mut line = String::new();
    while !line.contains("proxy listening") {
        line.clear();
        assert!(
            stderr.read_line(&mut line).unwrap() > 0,
            "redactd stopped early"
        );
    }
    let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
    write!(
        s,
        "GET /account?email=jane.doe%40example.com&token=s3cret HTTP/1.1\r\nHost: shop.example\r\nUser-Agent: curl/8 (jane.doe@example.com)\r\nCookie: WHMCSAU=abcdef123456\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut resp = String::new();
    s.read_to_string(&mut resp).unwrap();
    assert!(resp.starts_with("HTTP/1.1 200"), "{resp}");
    let _ = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status();
    assert!(child.wait().unwrap().success());
    let written = std::fs::read_to_string(&out).unwrap();
    let records: Vec<&str> = written.lines().collect();
    assert_eq!(records.len(), 1, "{written}");
    let r = records[0];
    assert!(
        r.contains("\"status\":200") && r.contains("\"url\":\"/account?email=email:"),
        "{r}"
    );
    for raw in ["jane.doe", "s3cret", "abcdef123456", "127.0.0.1\""] {
        assert!(!r.contains(raw), "{raw} in {r}");
    }
}
