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
    chunked_bytes(
        pieces
            .into_iter()
            .map(|p| Bytes::from_static(p.as_bytes()))
            .collect(),
        gap,
    )
}

/// Like [`chunked`], for bytes.
pub fn chunked_bytes(pieces: Vec<Bytes>, gap: Duration) -> TestBody {
    let (tx, rx) = mpsc::channel(4);
    tokio::spawn(async move {
        for p in pieces {
            if tx.send(p).await.is_err() {
                return;
            }
            tokio::time::sleep(gap).await;
        }
    });
    ChannelBody(rx).boxed()
}

/// `text` compressed with a `Content-Encoding` coding (gzip, deflate, br).
pub fn compress(coding: &str, text: &[u8]) -> Vec<u8> {
    use std::io::Write;
    match coding {
        "gzip" => {
            let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
            e.write_all(text).unwrap();
            e.finish().unwrap()
        }
        "deflate" => {
            let mut e = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::default());
            e.write_all(text).unwrap();
            e.finish().unwrap()
        }
        "br" => {
            let mut e = brotli::CompressorWriter::new(Vec::new(), 4096, 5, 22);
            e.write_all(text).unwrap();
            e.into_inner()
        }
        other => panic!("no coding {other}"),
    }
}

/// `data` decoded from a `Content-Encoding` coding.
pub fn decompress(coding: &str, data: &[u8]) -> Vec<u8> {
    use std::io::Read;
    let mut out = Vec::new();
    match coding {
        "gzip" => flate2::read::GzDecoder::new(data).read_to_end(&mut out),
        "deflate" => flate2::read::ZlibDecoder::new(data).read_to_end(&mut out),
        "br" => brotli::Decompressor::new(data, 4096).read_to_end(&mut out),
        other => panic!("no coding {other}"),
    }
    .expect("a whole, valid compressed body");
    out
}

/// [`compress`]ed `text` cut into three pieces.
fn compressed_pieces(coding: &str, text: &[u8]) -> Vec<Bytes> {
    let packed = compress(coding, text);
    let third = packed.len() / 3;
    vec![
        Bytes::copy_from_slice(&packed[..third]),
        Bytes::copy_from_slice(&packed[third..2 * third]),
        Bytes::copy_from_slice(&packed[2 * third..]),
    ]
}

/// Text that splits card numbers and an IBAN across chunk boundaries.
pub const DLP_PIECES: &[&str] = &[
    "order ok; card 4111 1111 ",
    "1111 1111 paid; refund to GB82 WEST 1234 ",
    "5698 7654 32 tomorrow; version 1.2.3.4 stays; card 55555555",
    "55554444 done\n",
];

/// The test upstream: answers by path; every answer carries `x-upstream: TAG`.
async fn upstream_service(
    tag: &'static str,
    req: Request<Incoming>,
) -> Result<Response<TestBody>, Infallible> {
    let mut resp = upstream_answer(req).await;
    resp.headers_mut()
        .insert("x-upstream", http::HeaderValue::from_static(tag));
    Ok(resp)
}

async fn upstream_answer(mut req: Request<Incoming>) -> Response<TestBody> {
    let path = req.uri().path().to_string();
    match path.as_str() {
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
        "/dlp" | "/dlp.json" | "/dlp.bin" => {
            let mut r = Response::new(chunked(DLP_PIECES.to_vec(), Duration::from_millis(10)));
            let ct = match path.as_str() {
                "/dlp.json" => "application/json",
                "/dlp.bin" => "application/octet-stream",
                _ => "text/plain; charset=utf-8",
            };
            r.headers_mut().insert("content-type", ct.parse().unwrap());
            r
        }
        "/dlp.gz" | "/dlp.deflate" | "/dlp.br" | "/dlp.zst" | "/dlp.badgz" => {
            let text = DLP_PIECES.concat();
            let (coding, pieces) = match path.as_str() {
                "/dlp.gz" => ("gzip", compressed_pieces("gzip", text.as_bytes())),
                "/dlp.deflate" => ("deflate", compressed_pieces("deflate", text.as_bytes())),
                "/dlp.br" => ("br", compressed_pieces("br", text.as_bytes())),
                // A coding DLP does not decode: the bytes are opaque to it.
                "/dlp.zst" => ("zstd", vec![Bytes::from(text)]),
                // Says gzip, is not.
                _ => (
                    "gzip",
                    vec![Bytes::from_static(
                        b"\x1f\x8b\x08\x00garbage, not deflate data at all",
                    )],
                ),
            };
            let mut r = Response::new(chunked_bytes(pieces, Duration::from_millis(10)));
            r.headers_mut()
                .insert("content-type", "text/plain; charset=utf-8".parse().unwrap());
            r.headers_mut()
                .insert("content-encoding", coding.parse().unwrap());
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
    }
}

/// Starts the test upstream; answers until the test ends.
pub async fn start_upstream() -> SocketAddr {
    start_tagged_upstream("upstream").await
}

/// Starts a test upstream whose answers carry `x-upstream: TAG`.
pub async fn start_tagged_upstream(tag: &'static str) -> SocketAddr {
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
                        hyper::service::service_fn(move |req| upstream_service(tag, req)),
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
                        hyper::service::service_fn(|req| upstream_service("tls", req)),
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
    let (resp, bytes) = send_bytes(client, req).await;
    (resp, String::from_utf8_lossy(&bytes).into_owned())
}

/// Sends a request and reads the whole answer as bytes.
pub async fn send_bytes(client: &Client, req: Request<TestBody>) -> (Response<()>, Bytes) {
    let resp = client.request(req).await.expect("request succeeds");
    let (parts, body) = resp.into_parts();
    let bytes = body.collect().await.expect("body").to_bytes();
    (Response::from_parts(parts, ()), bytes)
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
