//! Shared by the proxy tests: a real upstream (hyper) on 127.0.0.1:0, the proxy started in
//! process on 127.0.0.1:0 with its records captured through the sink hook, and small
//! clients (hyper for ordinary requests, raw TCP where the bytes matter).
#![allow(dead_code)]

use std::convert::Infallible;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::{Request, Response, StatusCode};
use http_body::{Body, Frame};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, oneshot};

use redactd::config::Config;
use redactd::minimise::Minimiser;
use redactd::proxy::{self, ProxyConfig, RecordSink, Server};
use redactd::pseudo::{Key, Pseudonymiser};
use redactd::redact::Redactor;
use redactd::rules::RuleSet;

pub type TestBody = http_body_util::combinators::BoxBody<Bytes, Infallible>;

/// A body fed from a channel, one frame per message.
pub struct ChannelBody(pub mpsc::Receiver<Bytes>);

impl Body for ChannelBody {
    type Data = Bytes;
    type Error = Infallible;
    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        self.0.poll_recv(cx).map(|o| o.map(|b| Ok(Frame::data(b))))
    }
}

fn full(s: impl Into<Bytes>) -> TestBody {
    Full::new(s.into()).boxed()
}

/// A body sent in the given pieces, `gap` apart (so they leave as separate chunks).
pub fn chunked(pieces: Vec<&'static str>, gap: Duration) -> TestBody {
    let (tx, rx) = mpsc::channel(4);
    tokio::spawn(async move {
        for p in pieces {
            if tx.send(Bytes::from_static(p.as_bytes())).await.is_err() {
                return;
            }
            tokio::time::sleep(gap).await;
        }
    });
    ChannelBody(rx).boxed()
}

/// Text that splits card numbers and an IBAN across chunk boundaries.
pub const DLP_PIECES: &[&str] = &[
    "order ok; card 4111 1111 ",
    "1111 1111 paid; refund to GB82 WEST 1234 ",
    "5698 7654 32 tomorrow; version 1.2.3.4 stays; card 55555555",
    "55554444 done\n",
];

async fn upstream_service(mut req: Request<Incoming>) -> Result<Response<TestBody>, Infallible> {
    let path = req.uri().path().to_string();
    let resp = match path.as_str() {
        "/echo" => {
            let ct = req.headers().get("content-type").cloned();
            let body = req
                .into_body()
                .collect()
                .await
                .map(|c| c.to_bytes())
                .unwrap_or_default();
            let mut r = Response::new(full(body));
            if let Some(ct) = ct {
                r.headers_mut().insert("content-type", ct);
            }
            r
        }
        "/headers" => {
            let mut text = String::new();
            for (k, v) in req.headers() {
                text.push_str(&format!("{}: {}\n", k, v.to_str().unwrap_or("?")));
            }
            Response::new(full(text))
        }
        "/chunked" => {
            let mut r = Response::new(chunked(
                vec!["one ", "two ", "three ", "four\n"],
                Duration::from_millis(20),
            ));
            r.headers_mut()
                .insert("content-type", "text/plain".parse().unwrap());
            r
        }
        "/dlp" | "/dlp.json" | "/dlp.bin" | "/dlp.gz" => {
            let mut r = Response::new(chunked(DLP_PIECES.to_vec(), Duration::from_millis(10)));
            let ct = match path.as_str() {
                "/dlp.json" => "application/json",
                "/dlp.bin" => "application/octet-stream",
                _ => "text/plain; charset=utf-8",
            };
            r.headers_mut().insert("content-type", ct.parse().unwrap());
            if path == "/dlp.gz" {
                r.headers_mut()
                    .insert("content-encoding", "gzip".parse().unwrap());
            }
            r
        }
        "/slow" => {
            tokio::time::sleep(Duration::from_millis(600)).await;
            Response::new(full("slow done\n"))
        }
        "/ws" => {
            let upgrade = hyper::upgrade::on(&mut req);
            tokio::spawn(async move {
                if let Ok(up) = upgrade.await {
                    let mut io = TokioIo::new(up);
                    let mut buf = [0u8; 1024];
                    while let Ok(n) = io.read(&mut buf).await {
                        if n == 0 || io.write_all(&buf[..n]).await.is_err() {
                            break;
                        }
                    }
                }
            });
            let mut r = Response::new(full(Bytes::new()));
            *r.status_mut() = StatusCode::SWITCHING_PROTOCOLS;
            r.headers_mut()
                .insert("upgrade", "websocket".parse().unwrap());
            r.headers_mut()
                .insert("connection", "upgrade".parse().unwrap());
            r.headers_mut().insert(
                "sec-websocket-accept",
                "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=".parse().unwrap(),
            );
            r
        }
        _ => Response::new(full(format!("hello from upstream {path}\n"))),
    };
    Ok(resp)
}

/// Starts the test upstream; answers until the test ends.
pub async fn start_upstream() -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                continue;
            };
            tokio::spawn(async move {
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(
                        TokioIo::new(stream),
                        hyper::service::service_fn(upstream_service),
                    )
                    .with_upgrades()
                    .await;
            });
        }
    });
    addr
}

/// Starts the test upstream behind TLS (`config` holds its certificate).
pub async fn start_tls_upstream(config: Arc<rustls::ServerConfig>) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let acceptor = tokio_rustls::TlsAcceptor::from(config);
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                continue;
            };
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                let Ok(tls) = acceptor.accept(stream).await else {
                    return;
                };
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(
                        TokioIo::new(tls),
                        hyper::service::service_fn(upstream_service),
                    )
                    .await;
            });
        }
    });
    addr
}

/// An address nothing listens on.
pub async fn dead_address() -> SocketAddr {
    let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let a = l.local_addr().unwrap();
    drop(l);
    a
}

pub fn test_key() -> Key {
    Key::from_hex(&"42".repeat(32), "test").unwrap()
}

/// The shipped rules, keyed, with an optional purpose profile of the shipped config.
pub fn redactor(profile: Option<&str>) -> Arc<Redactor> {
    let key = test_key();
    let r = Redactor::new(&RuleSet::shipped(), Some(Pseudonymiser::new(&key))).unwrap();
    let r = match profile {
        Some(name) => {
            let p = Config::shipped().profile(name).unwrap().clone();
            r.with_minimiser(Minimiser::new(p, Some(&key), None).unwrap())
        }
        None => r,
    };
    Arc::new(r)
}

/// No rules at all: records come out as captured (for tests of what is captured).
pub fn passthrough_redactor() -> Arc<Redactor> {
    Arc::new(Redactor::new(&RuleSet::new(), None).unwrap())
}

/// The financial-only redactor DLP uses.
pub fn dlp_redactor() -> Arc<Redactor> {
    let rules = proxy::dlp_rules(&RuleSet::shipped());
    Arc::new(Redactor::new(&rules, None).unwrap())
}

/// A running proxy with its captured records and a shutdown trigger.
pub struct Proxy {
    pub addr: SocketAddr,
    pub records: Arc<Mutex<Vec<String>>>,
    pub shutdown: Option<oneshot::Sender<()>>,
    pub server: Option<Server>,
}

impl Proxy {
    /// Waits until at least `n` records arrived (5 s at most) and returns them all.
    pub async fn records(&self, n: usize) -> Vec<String> {
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            let got = self.records.lock().unwrap().clone();
            if got.len() >= n || Instant::now() > deadline {
                return got;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    /// Parsed records.
    pub async fn json_records(&self, n: usize) -> Vec<serde_json::Value> {
        self.records(n)
            .await
            .iter()
            .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("record is JSON: {e}: {l}")))
            .collect()
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.addr, path)
    }

    /// Begins shutdown and waits for the drain to finish.
    pub async fn stop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(s) = self.server.take() {
            s.wait().await;
        }
    }
}

/// Starts the proxy in front of `upstream` after `tweak` adjusts the config.
pub async fn start_proxy_with(
    upstream: &str,
    redactor: Arc<Redactor>,
    tweak: impl FnOnce(&mut ProxyConfig),
) -> Proxy {
    let records = Arc::new(Mutex::new(Vec::new()));
    let sink_records = records.clone();
    let mut config = ProxyConfig::new(
        "127.0.0.1:0".parse().unwrap(),
        upstream.parse().unwrap(),
        redactor,
    );
    config.sink = RecordSink::Hook(Arc::new(move |line: &[u8]| {
        sink_records
            .lock()
            .unwrap()
            .push(String::from_utf8_lossy(line).into_owned());
    }));
    tweak(&mut config);
    let (tx, rx) = oneshot::channel::<()>();
    let server = proxy::serve(config, async {
        let _ = rx.await;
    })
    .await
    .unwrap();
    Proxy {
        addr: server.local_addr(),
        records,
        shutdown: Some(tx),
        server: Some(server),
    }
}

pub async fn start_proxy(upstream: SocketAddr) -> Proxy {
    start_proxy_with(&format!("http://{upstream}"), redactor(None), |_| {}).await
}

pub type Client = hyper_util::client::legacy::Client<
    hyper_util::client::legacy::connect::HttpConnector,
    TestBody,
>;

pub fn client() -> Client {
    hyper_util::client::legacy::Client::builder(TokioExecutor::new())
        .build(hyper_util::client::legacy::connect::HttpConnector::new())
}

/// Sends a request and reads the whole answer.
pub async fn send(client: &Client, req: Request<TestBody>) -> (Response<()>, String) {
    let resp = client.request(req).await.expect("request succeeds");
    let (parts, body) = resp.into_parts();
    let bytes = body.collect().await.expect("body").to_bytes();
    (
        Response::from_parts(parts, ()),
        String::from_utf8_lossy(&bytes).into_owned(),
    )
}

pub async fn get(client: &Client, url: &str) -> (Response<()>, String) {
    send(client, Request::get(url).body(full(Bytes::new())).unwrap()).await
}

pub fn body(s: impl Into<Bytes>) -> TestBody {
    full(s)
}

/// Writes `raw` on a fresh connection and reads until the server closes (or 5 s).
pub async fn raw_exchange(addr: SocketAddr, raw: &[u8]) -> String {
    let mut s = TcpStream::connect(addr).await.unwrap();
    s.write_all(raw).await.unwrap();
    read_to_close(&mut s, Duration::from_secs(5)).await
}

pub async fn read_to_close(s: &mut TcpStream, limit: Duration) -> String {
    let mut out = Vec::new();
    let _ = tokio::time::timeout(limit, s.read_to_end(&mut out)).await;
    String::from_utf8_lossy(&out).into_owned()
}
