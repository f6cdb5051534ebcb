//! `redactd run` with a proxy input: each request's minimised record is delivered to the
//! input's sinks (here a file), and nothing raw reaches them.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Command, Stdio};

/// A one-thread upstream answering every request with a fixed body.
fn upstream() -> std::net::SocketAddr {
    upstream_saying("ok")
}

/// A one-thread upstream answering every request with `word` and a newline.
fn upstream_saying(word: &'static str) -> std::net::SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut s) = stream else { break };
            let mut head = [0u8; 4096];
            let _ = s.read(&mut head);
            let _ = write!(
                s,
                "HTTP/1.1 200 OK\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{word}\n",
                word.len() + 1
            );
        }
    });
    addr
}

/// Sends `request` to `port` and returns the whole response.
fn exchange(port: u16, request: &str) -> String {
    let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.write_all(request.as_bytes()).unwrap();
    let mut resp = String::new();
    s.read_to_string(&mut resp).unwrap();
    resp
}

/// Sends a GET for `path` to `Host: host` on `port` and returns the response body.
fn get(port: u16, host: &str, path: &str) -> String {
    let resp = exchange(
        port,
        &format!("GET {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n"),
    );
    resp.split("\r\n\r\n").nth(1).unwrap_or("").to_string()
}

#[test]
fn two_listeners_and_routes_by_host_and_path_from_the_config_file() {
    let dir = tempfile::tempdir().unwrap();
    let (api, shop, web) = (
        upstream_saying("api"),
        upstream_saying("shop"),
        upstream_saying("web"),
    );
    let (port_a, port_b) = (free_port(), free_port());
    let out = dir.path().join("access.jsonl");
    let config = dir.path().join("redactd.toml");
    std::fs::write(
        &config,
        format!(
            r#"[[input]]
type = "proxy"
name = "public"
listen = "127.0.0.1:{port_a}"
upstream = "http://{web}"

[[input.route]]
path = "/api/"
upstream = "http://{api}"

[[input.route]]
name = "shop"
host = "*.shop.example"
upstream = "http://{shop}"

[[input]]
type = "proxy"
name = "internal"
listen = "127.0.0.1:{port_b}"
limits = {{ max_body_bytes = 16 }}

[[input.route]]
name = "api-only"
path = "/api/"
upstream = "http://{api}"

[[sink]]
name = "archive"
type = "file"
path = "{}"
encoding = "raw"
batch_timeout_ms = 20
"#,
            out.display()
        ),
    )
    .unwrap();
    let mut child = run_until_proxies_listen(&config, 2);
    assert_eq!(get(port_a, "www.example", "/"), "web\n");
    assert_eq!(get(port_a, "www.example", "/api/users"), "api\n");
    assert_eq!(get(port_a, "eu.shop.example", "/api/users"), "shop\n");
    assert_eq!(get(port_b, "www.example", "/api/users"), "api\n");
    assert!(get(port_b, "www.example", "/").starts_with("404"));
    let big = exchange(
        port_b,
        "POST /api/x HTTP/1.1\r\nHost: h\r\nContent-Length: 100\r\nConnection: close\r\n\r\n",
    );
    assert!(big.starts_with("HTTP/1.1 413"), "{big}");
    let _ = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status();
    assert!(child.wait().unwrap().success());
    let written = std::fs::read_to_string(&out).unwrap();
    let mut routes: Vec<&str> = written
        .lines()
        .map(|r| {
            r.split("\"route\":\"")
                .nth(1)
                .map_or("(none)", |rest| rest.split('"').next().unwrap())
        })
        .collect();
    routes.sort();
    assert_eq!(
        routes,
        ["(none)", "/api/", "api-only", "api-only", "default", "shop"],
        "{written}"
    );
}

/// Starts `redactd run -c config` and waits until `n` proxy inputs listen.
fn run_until_proxies_listen(config: &std::path::Path, n: usize) -> std::process::Child {
    let mut child = Command::new(env!("CARGO_BIN_EXE_redactd"))
        .args(["run", "--admin-addr", "off", "-c"])
        .arg(config)
        .env("REDACTD_KEY", "66".repeat(32))
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stderr = BufReader::new(child.stderr.take().unwrap());
    let mut listening = 0;
    while listening < n {
        let mut line = String::new();
        assert!(
            stderr.read_line(&mut line).unwrap() > 0,
            "redactd stopped early"
        );
        if line.contains("proxy listening") {
            listening += 1;
        }
    }
    std::thread::spawn(move || std::io::copy(&mut stderr, &mut std::io::sink()));
    child
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
    let mut child = run_until_proxies_listen(&config, 1);
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
