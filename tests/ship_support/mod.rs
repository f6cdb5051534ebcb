//! Helpers of the shipping tests: free ports, the redactd binary with a config, private
//! rsyslogd and ClickHouse servers (started on 127.0.0.1 from a temp directory and stopped
//! by their pid when dropped), and a small HTTP collector.

#![allow(dead_code)] // each test crate uses its own subset

use std::io::Write;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// A port free on 127.0.0.1 a moment ago.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Waits until `f` is true; false after `secs`.
pub fn wait_until(secs: u64, mut f: impl FnMut() -> bool) -> bool {
    let end = Instant::now() + Duration::from_secs(secs);
    while Instant::now() < end {
        if f() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    f()
}

/// Whether a program is on PATH (or at an absolute path).
pub fn have(program: &str) -> bool {
    let found = |dir: &Path| dir.join(program).is_file();
    Path::new(program).is_file()
        || std::env::var_os("PATH")
            .map(|p| std::env::split_paths(&p).any(|d| found(&d)))
            .unwrap_or(false)
        || ["/usr/sbin", "/usr/bin", "/sbin"]
            .iter()
            .any(|d| found(Path::new(d)))
}

/// Whether a server program the test needs is installed. Under CI (`.ci/run` installs
/// it) a missing one is a failure, never a silent pass; elsewhere the test says SKIPPED.
pub fn available(program: &str) -> bool {
    if have(program) {
        return true;
    }
    assert!(
        std::env::var_os("CI").is_none(),
        "{program} is not installed"
    );
    eprintln!("SKIPPED: {program} is not installed (.ci/run installs it)");
    false
}

/// Writes the shipped config followed by `extra` into `dir/redactd.toml`.
pub fn write_config(dir: &Path, extra: &str) -> PathBuf {
    let shipped =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/config/redactd.toml"))
            .unwrap();
    let path = dir.join("redactd.toml");
    std::fs::write(&path, format!("{shipped}\n{extra}")).unwrap();
    path
}

/// `redactd run -c CONFIG` with a key file in `dir`, stdin piped, stderr to `dir/stderr.log`.
pub fn spawn_run(dir: &Path, config: &Path, extra_args: &[&str]) -> Child {
    spawn_run_env(dir, config, extra_args, &[])
}

/// [`spawn_run`] with extra environment variables.
pub fn spawn_run_env(
    dir: &Path,
    config: &Path,
    extra_args: &[&str],
    envs: &[(&str, &str)],
) -> Child {
    let key = dir.join("pseudonym.key");
    if !key.exists() {
        std::fs::write(
            &key,
            "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff\n",
        )
        .unwrap();
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o600)).unwrap();
    }
    let stderr = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(dir.join("stderr.log"))
        .unwrap();
    Command::new(env!("CARGO_BIN_EXE_redactd"))
        .arg("run")
        .args(["--admin-addr", "off"])
        .arg("-c")
        .arg(config)
        .arg("--key-file")
        .arg(&key)
        .args(extra_args)
        .env_remove("REDACTD_KEY")
        .env_remove("REDACTD_KEY_FILE")
        .env("HOME", dir)
        .envs(envs.iter().copied())
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(stderr)
        .spawn()
        .unwrap()
}

/// Sends SIGTERM to a child and waits for it (up to 60 s).
pub fn terminate(child: &mut Child) {
    signal(child.id(), "TERM");
    let end = Instant::now() + Duration::from_secs(60);
    while Instant::now() < end {
        if child.try_wait().unwrap().is_some() {
            return;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let _ = child.kill();
    let _ = child.wait();
}

/// `kill -SIG pid`.
pub fn signal(pid: u32, sig: &str) {
    let _ = Command::new("kill")
        .arg(format!("-{sig}"))
        .arg(pid.to_string())
        .status();
}

/// The test's input lines: `n` lines with personal data and a sequence number.
pub fn line(i: usize) -> String {
    format!(
        "user jane.doe{i}@example.com logged in from 81.2.69.{} seq={i:06}",
        i % 250
    )
}

/// A server process, killed by its pid on drop.
pub struct Server {
    pub child: Child,
    pub dir: PathBuf,
    pub port: u16,
    start: Vec<String>,
}

impl Server {
    pub fn stop(&mut self) {
        terminate(&mut self.child);
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn rsyslogd() -> &'static str {
    if Path::new("/usr/sbin/rsyslogd").exists() {
        "/usr/sbin/rsyslogd"
    } else {
        "rsyslogd"
    }
}

/// A private rsyslogd from `rsyslog-private.conf`-style config text (with @DIR@ and
/// @PORT@ replaced); listening when this returns.
pub fn start_rsyslog(dir: &Path, config: &str) -> Server {
    std::fs::create_dir_all(dir.join("work")).unwrap();
    let port = free_port();
    let conf = config
        .replace("@DIR@", dir.to_str().unwrap())
        .replace("@PORT@", &port.to_string());
    let path = dir.join("rsyslog.conf");
    std::fs::write(&path, conf).unwrap();
    let log = std::fs::File::create(dir.join("rsyslogd.out")).unwrap();
    let child = Command::new(rsyslogd())
        .arg("-n")
        .arg("-f")
        .arg(&path)
        .arg("-i")
        .arg(dir.join("rsyslogd.pid"))
        .stdout(log.try_clone().unwrap())
        .stderr(log)
        .spawn()
        .unwrap();
    let ok = wait_until(20, || {
        std::net::TcpStream::connect(("127.0.0.1", port)).is_ok()
    });
    assert!(
        ok,
        "rsyslogd did not listen: {}",
        std::fs::read_to_string(dir.join("rsyslogd.out")).unwrap_or_default()
    );
    Server {
        child,
        dir: dir.to_path_buf(),
        port,
        start: Vec::new(),
    }
}

/// A private ClickHouse server in `dir` (its HTTP port is `Server::port`).
pub fn start_clickhouse(dir: &Path) -> Server {
    let http = free_port();
    let tcp = free_port();
    let template = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/deploy/clickhouse/test-config.xml"
    ))
    .unwrap();
    let conf = template
        .replace("@DIR@", dir.to_str().unwrap())
        .replace("@HTTP_PORT@", &http.to_string())
        .replace("@TCP_PORT@", &tcp.to_string());
    std::fs::create_dir_all(dir.join("data")).unwrap();
    std::fs::create_dir_all(dir.join("tmp")).unwrap();
    std::fs::write(dir.join("config.xml"), conf).unwrap();
    let mut s = Server {
        child: Command::new("true").spawn().unwrap(),
        dir: dir.to_path_buf(),
        port: http,
        start: vec![format!(
            "--config-file={}",
            dir.join("config.xml").display()
        )],
    };
    s.restart_clickhouse();
    s
}

impl Server {
    /// Starts the (stopped) ClickHouse server again on the same data and port.
    pub fn restart_clickhouse(&mut self) {
        let _ = self.child.wait();
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.dir.join("clickhouse.out"))
            .unwrap();
        self.child = Command::new("clickhouse-server")
            .args(&self.start)
            .current_dir(&self.dir)
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .unwrap();
        let port = self.port;
        let ok = wait_until(60, || {
            clickhouse_query(port, "SELECT 1").is_ok_and(|s| s.trim() == "1")
        });
        assert!(
            ok,
            "clickhouse-server did not answer: {}",
            std::fs::read_to_string(self.dir.join("clickhouse.out")).unwrap_or_default()
        );
    }
}

/// Runs a query over ClickHouse's HTTP interface (POST body), returning the answer text.
pub fn clickhouse_query(port: u16, query: &str) -> Result<String, String> {
    use std::io::Read;
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).map_err(|e| e.to_string())?;
    s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    write!(
        s,
        "POST / HTTP/1.0\r\nHost: 127.0.0.1\r\nContent-Length: {}\r\n\r\n{query}",
        query.len()
    )
    .map_err(|e| e.to_string())?;
    let mut resp = Vec::new();
    s.read_to_end(&mut resp).map_err(|e| e.to_string())?;
    let resp = String::from_utf8_lossy(&resp).into_owned();
    let (head, body) = resp.split_once("\r\n\r\n").ok_or("no head")?;
    if !head.starts_with("HTTP/1.1 200") && !head.starts_with("HTTP/1.0 200") {
        return Err(body.to_string());
    }
    Ok(body.to_string())
}

/// What the test collector received: request headers and decoded bodies.
#[derive(Default)]
pub struct Received {
    pub requests: Vec<(http::HeaderMap, Vec<u8>)>,
    pub at: Vec<Instant>,
}

/// An HTTP(S) collector on 127.0.0.1 that answers the first requests from `script`
/// (status, Retry-After) and 200 afterwards. Runs on its own runtime thread.
pub struct Collector {
    pub port: u16,
    pub received: Arc<Mutex<Received>>,
    _shutdown: tokio::sync::oneshot::Sender<()>,
}

pub fn collector(
    script: Vec<(u16, Option<u64>)>,
    tls: Option<Arc<rustls::ServerConfig>>,
) -> Collector {
    serve(TcpListener::bind("127.0.0.1:0").unwrap(), script, tls)
}

/// A plain-HTTP collector on a given port.
pub fn collector_on(port: u16, script: Vec<(u16, Option<u64>)>) -> Collector {
    serve(
        TcpListener::bind(("127.0.0.1", port)).unwrap(),
        script,
        None,
    )
}

fn serve(
    std_listener: TcpListener,
    script: Vec<(u16, Option<u64>)>,
    tls: Option<Arc<rustls::ServerConfig>>,
) -> Collector {
    use http_body_util::BodyExt;
    std_listener.set_nonblocking(true).unwrap();
    let port = std_listener.local_addr().unwrap().port();
    let received = Arc::new(Mutex::new(Received::default()));
    let script = Arc::new(Mutex::new(std::collections::VecDeque::from(script)));
    let (tx, mut rx) = tokio::sync::oneshot::channel::<()>();
    let rec = received.clone();
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async move {
            let listener = tokio::net::TcpListener::from_std(std_listener).unwrap();
            let acceptor = tls.map(tokio_rustls::TlsAcceptor::from);
            loop {
                let (stream, _) = tokio::select! {
                    r = listener.accept() => r.unwrap(),
                    _ = &mut rx => return,
                };
                let rec = rec.clone();
                let script = script.clone();
                let acceptor = acceptor.clone();
                tokio::spawn(async move {
                    let service = hyper::service::service_fn(
                        move |req: hyper::Request<hyper::body::Incoming>| {
                            let rec = rec.clone();
                            let script = script.clone();
                            async move {
                                let headers = req.headers().clone();
                                let body = req.into_body().collect().await.unwrap().to_bytes();
                                let body =
                                    if headers.get("content-encoding").is_some_and(|v| v == "gzip")
                                    {
                                        use std::io::Read;
                                        let mut out = Vec::new();
                                        flate2::read::GzDecoder::new(&body[..])
                                            .read_to_end(&mut out)
                                            .unwrap();
                                        out
                                    } else {
                                        body.to_vec()
                                    };
                                let next = script.lock().unwrap().pop_front();
                                let mut resp = hyper::Response::builder();
                                let status = match next {
                                    Some((status, retry_after)) => {
                                        if let Some(s) = retry_after {
                                            resp = resp.header("retry-after", s.to_string());
                                        }
                                        status
                                    }
                                    None => 200,
                                };
                                {
                                    let mut r = rec.lock().unwrap();
                                    r.at.push(Instant::now());
                                    if status == 200 {
                                        r.requests.push((headers, body));
                                    }
                                }
                                Ok::<_, std::convert::Infallible>(
                                    resp.status(status)
                                        .body(http_body_util::Full::new(bytes::Bytes::from_static(
                                            b"ok",
                                        )))
                                        .unwrap(),
                                )
                            }
                        },
                    );
                    let builder = hyper::server::conn::http1::Builder::new();
                    match acceptor {
                        Some(a) => {
                            if let Ok(s) = a.accept(stream).await {
                                let _ = builder
                                    .serve_connection(hyper_util::rt::TokioIo::new(s), service)
                                    .await;
                            }
                        }
                        None => {
                            let _ = builder
                                .serve_connection(hyper_util::rt::TokioIo::new(stream), service)
                                .await;
                        }
                    }
                });
            }
        });
    });
    Collector {
        port,
        received,
        _shutdown: tx,
    }
}

/// Lines of NDJSON bodies received, as `message` strings.
pub fn received_messages(c: &Collector) -> Vec<String> {
    let r = c.received.lock().unwrap();
    r.requests
        .iter()
        .flat_map(|(_, body)| {
            String::from_utf8_lossy(body)
                .lines()
                .map(|l| {
                    let v: serde_json::Value = serde_json::from_str(l).unwrap();
                    v["message"].as_str().unwrap().to_string()
                })
                .collect::<Vec<_>>()
        })
        .collect()
}

/// The sequence number in a message (`seq=000123`).
pub fn seq(message: &str) -> Option<usize> {
    message.split("seq=").nth(1)?.get(..6)?.parse().ok()
}

/// Writes lines `range` to a child's stdin.
pub fn feed(stdin: &mut std::process::ChildStdin, range: std::ops::Range<usize>) {
    let mut buf = String::new();
    for i in range {
        buf.push_str(&line(i));
        buf.push('\n');
    }
    stdin.write_all(buf.as_bytes()).unwrap();
    stdin.flush().unwrap();
}
