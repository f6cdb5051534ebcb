//! The admin listener: `/metrics`, `/healthz` and `/readyz` on their own address
//! (default [`DEFAULT_ADDR`], loopback), apart from the traffic the proxy serves.
//!
//! * `GET /metrics` — every family of [`Metrics`] in the Prometheus text exposition.
//! * `GET /healthz` — `200 ok` while the process runs (a liveness probe: restart when it
//!   stops answering).
//! * `GET /readyz` — `200 ready` once the shared readiness flag is set (rules compiled, keys
//!   loaded, GeoIP databases open, sinks up), `503 not ready` before and while it is cleared
//!   (a readiness probe: send no traffic yet).
//!
//! Anything else is `404`; a method other than GET or HEAD is `405`. The admin listener
//! never sees traffic, logs no request and answers from in-process state only, so it stays
//! cheap under load. Whoever starts the service owns the readiness flag: set it when
//! everything it needs is up, clear it while draining.
//!
//! [`serve`] binds, spawns the accept loop on the current tokio runtime and returns the
//! bound address (so tests can bind port 0). When `shutdown` completes it stops accepting
//! and lets open admin connections finish for up to [`DRAIN`].

use std::convert::Infallible;
use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::header::{HeaderValue, ALLOW, CACHE_CONTROL, CONTENT_TYPE};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use tokio::net::TcpListener;

use crate::metrics::Metrics;

/// The default admin address: loopback only, port 9090.
pub const DEFAULT_ADDR: &str = "127.0.0.1:9090";

/// The liveness path.
pub const HEALTHZ: &str = "/healthz";
/// The readiness path.
pub const READYZ: &str = "/readyz";
/// The metrics path.
pub const METRICS: &str = "/metrics";

/// How long open admin connections may finish after shutdown.
pub const DRAIN: Duration = Duration::from_secs(5);

/// A request head must arrive within this time.
const HEADER_TIMEOUT: Duration = Duration::from_secs(5);

/// Binds `addr` and serves the admin endpoints on the current tokio runtime until
/// `shutdown` completes. Returns the bound address.
///
/// # Errors
///
/// When the address cannot be bound (in use, not local, no permission).
///
/// # Panics
///
/// When called outside a tokio runtime.
pub async fn serve<F>(
    addr: SocketAddr,
    metrics: Arc<Metrics>,
    ready: Arc<AtomicBool>,
    shutdown: F,
) -> io::Result<SocketAddr>
where
    F: Future<Output = ()> + Send + 'static,
{
    let listener = TcpListener::bind(addr).await?;
    let bound = listener.local_addr()?;
    tokio::spawn(accept_loop(listener, metrics, ready, shutdown));
    Ok(bound)
}

async fn accept_loop<F>(
    listener: TcpListener,
    metrics: Arc<Metrics>,
    ready: Arc<AtomicBool>,
    shutdown: F,
) where
    F: Future<Output = ()> + Send + 'static,
{
    let graceful = GracefulShutdown::new();
    let mut builder = http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(HEADER_TIMEOUT)
        .keep_alive(true);
    tokio::pin!(shutdown);
    loop {
        let stream = tokio::select! {
            () = &mut shutdown => break,
            accepted = listener.accept() => match accepted {
                Ok((stream, _peer)) => stream,
                Err(error) => {
                    // Out of file descriptors and the like: wait instead of spinning.
                    tracing::warn!(%error, "Admin listener cannot accept a connection.");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
        };
        let metrics = metrics.clone();
        let ready = ready.clone();
        let service = service_fn(move |req| {
            let response = respond(&req, &metrics, &ready);
            async move { Ok::<_, Infallible>(response) }
        });
        let conn = builder.serve_connection(TokioIo::new(stream), service);
        let conn = graceful.watch(conn);
        tokio::spawn(async move {
            // A client that goes away mid-request is not worth a log line.
            let _ = conn.await;
        });
    }
    drop(listener);
    let _ = tokio::time::timeout(DRAIN, graceful.shutdown()).await;
}

/// The answer to one admin request.
fn respond(
    req: &Request<Incoming>,
    metrics: &Metrics,
    ready: &AtomicBool,
) -> Response<Full<Bytes>> {
    if req.method() != Method::GET && req.method() != Method::HEAD {
        let mut r = text(StatusCode::METHOD_NOT_ALLOWED, "method not allowed\n");
        r.headers_mut()
            .insert(ALLOW, HeaderValue::from_static("GET, HEAD"));
        return r;
    }
    match req.uri().path() {
        METRICS => {
            let mut r = Response::new(Full::new(Bytes::from(metrics.encode())));
            r.headers_mut().insert(
                CONTENT_TYPE,
                HeaderValue::from_static(Metrics::content_type()),
            );
            no_store(r)
        }
        HEALTHZ => text(StatusCode::OK, "ok\n"),
        READYZ if ready.load(Ordering::Acquire) => text(StatusCode::OK, "ready\n"),
        READYZ => text(StatusCode::SERVICE_UNAVAILABLE, "not ready\n"),
        _ => text(StatusCode::NOT_FOUND, "not found\n"),
    }
}

fn text(status: StatusCode, body: &'static str) -> Response<Full<Bytes>> {
    let mut r = Response::new(Full::new(Bytes::from_static(body.as_bytes())));
    *r.status_mut() = status;
    r.headers_mut().insert(
        CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    no_store(r)
}

fn no_store(mut r: Response<Full<Bytes>>) -> Response<Full<Bytes>> {
    r.headers_mut()
        .insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    r
}
