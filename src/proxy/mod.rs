//! The reverse proxy: hyper 1.x on tokio in front of one or more upstreams (routes by host
//! and path), capturing one minimised access record per request.
//!
//! ```text
//!  client ──TCP/TLS──► accept loop ──► connection task ──► handler ──HTTP/1.1 pool──► upstream
//!   (h1, h2, TLS        (limit on       (first head read     (forwarding headers,
//!    1.2/1.3, ALPN)      connections)    under deadline)      limits, DLP body)
//!                                                             │
//!                          RecordGuard (in the request task) ─┘ redact_json_member per
//!                          value ──► bounded queue (one shared batch; full → dropped,
//!                          counted) ──► writer thread
//! ```
//!
//! * [`serve`] binds, spawns the accept loop and returns a [`Server`] with the bound address;
//!   the loop stops accepting when the shutdown future resolves and drains in-flight
//!   connections up to [`Limits::drain`].
//! * Records are minimised inside the request task (see `record`); nothing raw is queued.
//! * This module knows no pattern logic: it calls the engine ([`crate::redact`]).
//!
//! Files: `conn` accepts and serves connections (limits, shutdown, heads that never reach
//! the handler); `handler` is one request; `route` picks its upstream; `net` holds
//! forwarding-header trust, the IO wrapper with the HTTP/1 head and idle timers, and the
//! first-head reader; `body` the counting, limiting and DLP bodies; `codec` the content
//! codings DLP decodes; `upstream` the pooled connections to each upstream; `record` the
//! capture and how it is written; `queue` the record queue and its writer thread; `tls`
//! rustls.

mod body;
mod codec;
mod conn;
mod handler;
mod net;
mod queue;
mod record;
mod route;
pub(crate) mod tls;
mod upstream;

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use hyper_util::rt::{TokioExecutor, TokioTimer};
use hyper_util::server::conn::auto;
use tokio::net::TcpListener;

use crate::redact::Redactor;

pub use body::{BodyReadTimeout, BodyTooLarge, BoxError, DlpDecodeError};
pub use net::{Cidr, CidrError};
pub use queue::{RecordHook, RecordSink};
pub use route::{describe as describe_routes, normalise_path, CompressedBodies, Route, RouteError};
pub use tls::{check_files as check_tls_files, check_upstream_ca, TlsError, TlsFiles};

use net::IoState;
use record::Recorder;
use route::RouteTable;

/// Limits and timeouts. Every one has a clean answer when hit.
#[derive(Debug, Clone)]
pub struct Limits {
    /// Time to receive a whole request head from its first byte (slowloris); 408 when
    /// exceeded.
    pub header_read_timeout: Duration,
    /// Time an HTTP/1 keep-alive connection may sit idle between requests before it is
    /// closed.
    pub idle_timeout: Duration,
    /// Largest request head; 431 when exceeded.
    pub max_header_bytes: usize,
    /// Largest request body; 413 when exceeded (by `Content-Length` or while streaming).
    pub max_body_bytes: u64,
    /// Longest wait for the next piece of a request body (a slow upload); 408 when
    /// exceeded.
    pub body_read_timeout: Duration,
    /// Time to connect to the upstream; 504 when exceeded (502 when refused).
    pub connect_timeout: Duration,
    /// Time from sending the request to the upstream's response head; 504 when exceeded.
    pub response_timeout: Duration,
    /// Idle time after which pooled upstream connections are closed.
    pub upstream_idle: Duration,
    /// Open client connections at most; further connections get a 503 and are closed.
    pub max_connections: usize,
    /// How long in-flight requests may finish after shutdown begins.
    pub drain: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            header_read_timeout: Duration::from_secs(10),
            idle_timeout: Duration::from_secs(60),
            max_header_bytes: 16 * 1024,
            max_body_bytes: 16 * 1024 * 1024,
            body_read_timeout: Duration::from_secs(60),
            connect_timeout: Duration::from_secs(5),
            response_timeout: Duration::from_secs(60),
            upstream_idle: Duration::from_secs(90),
            max_connections: 10_000,
            drain: Duration::from_secs(30),
        }
    }
}

/// What [`serve`] needs.
pub struct ProxyConfig {
    /// Address to listen on (`127.0.0.1:0` picks a port).
    pub listen: SocketAddr,
    /// Where requests go, by host and path (see [`Route`]); at least one.
    pub routes: Vec<Route>,
    /// Terminate TLS with this certificate and key (else plain HTTP).
    pub tls: Option<TlsFiles>,
    /// Extra CA certificates (PEM) trusted for an HTTPS upstream, besides the webpki roots.
    pub upstream_ca: Option<PathBuf>,
    /// Peers whose forwarding headers are believed.
    pub trusted_proxies: Vec<Cidr>,
    /// Minimises each access record (rules plus the purpose profile).
    pub redactor: Arc<Redactor>,
    /// The redactor response-body DLP uses on routes with `dlp` on: only the financial
    /// rules (see [`dlp_rules`]). Required when a route has DLP on.
    pub dlp: Option<Arc<Redactor>>,
    /// Request headers copied into the record's `headers` object (lower-case names). Their
    /// values still go through the redactor.
    pub log_headers: Vec<http::HeaderName>,
    /// Limits and timeouts.
    pub limits: Limits,
    /// Records waiting for the writer at most; more are dropped and counted.
    pub queue_capacity: usize,
    /// Where records go.
    pub sink: RecordSink,
    /// Prometheus metrics to count requests, records and redactions in (`None`: only the
    /// proxy's own [`Stats`]).
    pub metrics: Option<Arc<crate::metrics::Metrics>>,
}

impl ProxyConfig {
    /// A plain-HTTP proxy from `listen` to `upstream` (one catch-all route) with default
    /// limits, no DLP, records to stdout.
    pub fn new(listen: SocketAddr, upstream: http::Uri, redactor: Arc<Redactor>) -> Self {
        ProxyConfig::routed(listen, vec![Route::catch_all(upstream)], redactor)
    }

    /// A plain-HTTP proxy from `listen` to `routes` with default limits, records to stdout.
    pub fn routed(listen: SocketAddr, routes: Vec<Route>, redactor: Arc<Redactor>) -> Self {
        ProxyConfig {
            listen,
            routes,
            tls: None,
            upstream_ca: None,
            trusted_proxies: Vec::new(),
            redactor,
            dlp: None,
            log_headers: vec![
                http::header::ACCEPT,
                http::header::CONTENT_TYPE,
                http::header::ACCEPT_LANGUAGE,
            ],
            limits: Limits::default(),
            queue_capacity: 64 * 1024,
            sink: RecordSink::Stdout,
            metrics: None,
        }
    }

    /// Turns response-body DLP on for every route, with `dlp` (see [`dlp_rules`]).
    pub fn enable_dlp(&mut self, dlp: Arc<Redactor>) {
        self.dlp = Some(dlp);
        for r in &mut self.routes {
            r.dlp = true;
        }
    }
}

/// Why the proxy could not start.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    /// The listen address could not be bound.
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// The address.
        addr: SocketAddr,
        /// Why.
        source: io::Error,
    },
    /// A route is unusable (bad upstream URI, path, DLP without rules).
    #[error(transparent)]
    Route(#[from] RouteError),
    /// TLS set-up failed.
    #[error(transparent)]
    Tls(#[from] TlsError),
    /// The record writer thread could not start.
    #[error("cannot start the record writer: {0}")]
    Writer(io::Error),
}

/// Counters of a running proxy.
#[derive(Debug, Default)]
pub struct Stats {
    requests: AtomicU64,
    pub(crate) records: AtomicU64,
    pub(crate) records_dropped: AtomicU64,
    connections: AtomicU64,
    connections_refused: AtomicU64,
    dlp_bodies: AtomicU64,
    dlp_decoded: AtomicU64,
    dlp_compressed_passed: AtomicU64,
}

impl Stats {
    /// Requests handed to the handler.
    pub fn requests(&self) -> u64 {
        self.requests.load(Ordering::Relaxed)
    }
    /// Records queued for the writer.
    pub fn records(&self) -> u64 {
        self.records.load(Ordering::Relaxed)
    }
    /// Records dropped because the queue was full.
    pub fn records_dropped(&self) -> u64 {
        self.records_dropped.load(Ordering::Relaxed)
    }
    /// Client connections accepted.
    pub fn connections(&self) -> u64 {
        self.connections.load(Ordering::Relaxed)
    }
    /// Client connections refused with 503 (over the connection limit).
    pub fn connections_refused(&self) -> u64 {
        self.connections_refused.load(Ordering::Relaxed)
    }
    /// Response bodies scanned by DLP (plain or decoded).
    pub fn dlp_bodies(&self) -> u64 {
        self.dlp_bodies.load(Ordering::Relaxed)
    }
    /// Compressed response bodies DLP decoded, scanned and encoded again.
    pub fn dlp_decoded(&self) -> u64 {
        self.dlp_decoded.load(Ordering::Relaxed)
    }
    /// Text bodies DLP passed unchanged, not scanned: compressed ones it was told to pass
    /// or cannot decode, and server-sent event streams.
    pub fn dlp_compressed_passed(&self) -> u64 {
        self.dlp_compressed_passed.load(Ordering::Relaxed)
    }
}

/// A running proxy.
pub struct Server {
    addr: SocketAddr,
    stats: Arc<Stats>,
    /// Weak: the record writer ends when the last strong reference (the connections') goes.
    recorder: std::sync::Weak<Recorder>,
    task: tokio::task::JoinHandle<()>,
}

impl Server {
    /// A handle that reloads this server's redactor, usable after [`Server::wait`] took it.
    pub fn reload_handle(&self) -> ReloadHandle {
        ReloadHandle(self.recorder.clone())
    }

    /// The bound address.
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// The counters.
    pub fn stats(&self) -> Arc<Stats> {
        self.stats.clone()
    }

    /// Resolves once shutdown has completed: connections drained (or cut at the deadline)
    /// and every record written.
    pub async fn wait(self) {
        let _ = self.task.await;
    }
}

/// State shared by every connection and request.
pub(crate) struct Shared {
    pub(crate) routes: RouteTable,
    pub(crate) trusted: Vec<Cidr>,
    pub(crate) log_headers: Vec<http::HeaderName>,
    pub(crate) limits: Limits,
    pub(crate) recorder: Arc<Recorder>,
    pub(crate) stats: Arc<Stats>,
    id_prefix: u32,
    id_counter: AtomicU64,
    builder: auto::Builder<TokioExecutor>,
}

impl Shared {
    /// A new request id: a per-process random prefix and a counter, 24 hex digits.
    pub(crate) fn request_id(&self) -> http::HeaderValue {
        let n = self.id_counter.fetch_add(1, Ordering::Relaxed);
        http::HeaderValue::from_bytes(&request_id_text(self.id_prefix, n))
            .expect("hex digits are a valid header value")
    }
}

/// `prefix` as 8 hex digits then `n` as 16 (`format!("{prefix:08x}{n:016x}")`, without the
/// formatting machinery: once per request).
fn request_id_text(prefix: u32, n: u64) -> [u8; 24] {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let bits = (u128::from(prefix) << 64) | u128::from(n);
    let mut id = [0u8; 24];
    for (i, digit) in id.iter_mut().enumerate() {
        *digit = HEX[((bits >> (4 * (23 - i))) & 0xf) as usize];
    }
    id
}

/// What the handler knows about the connection a request came on.
pub(crate) struct ConnInfo {
    pub(crate) peer: SocketAddr,
    pub(crate) scheme: &'static str,
    pub(crate) tls_version: Option<&'static str>,
    /// The connection's IO state (HTTP/1 timers follow the request's progress).
    pub(crate) io: Arc<IoState>,
}

/// Binds `config.listen` and serves until `shutdown` resolves, then stops accepting and
/// drains. Must run inside a tokio runtime.
pub async fn serve(
    config: ProxyConfig,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<Server, ServeError> {
    let acceptor = match &config.tls {
        Some(files) => Some(tokio_rustls::TlsAcceptor::from(tls::server_config(files)?)),
        None => None,
    };
    let client_tls = tls::client_config(config.upstream_ca.as_deref())?;
    let listener = TcpListener::bind(config.listen)
        .await
        .map_err(|source| ServeError::Bind {
            addr: config.listen,
            source,
        })?;
    let addr = listener.local_addr().map_err(|source| ServeError::Bind {
        addr: config.listen,
        source,
    })?;

    let connector = upstream::Connector::new(
        client_tls,
        config.limits.connect_timeout,
        config.limits.upstream_idle,
    );
    let routes = RouteTable::new(config.routes, config.dlp.as_ref(), &connector)?;

    let mut builder = auto::Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .keep_alive(true)
        // The head and idle timers run in the connection's IO wrapper (`net::Timers`), so
        // that a late head on a keep-alive connection still gets its 408.
        .header_read_timeout(None)
        .max_buf_size(config.limits.max_header_bytes.max(8192));
    builder
        .http2()
        .timer(TokioTimer::new())
        // A hard ceiling well above the limit: h2 answers beyond it with GOAWAY and no
        // request; the handler enforces the limit itself with a 431 and a record.
        .max_header_list_size(
            (config.limits.max_header_bytes.saturating_mul(4)).clamp(64 * 1024, 16 << 20) as u32,
        );

    let stats = Arc::new(Stats::default());
    let (recorder, writer) = Recorder::start(
        config.redactor.clone(),
        config.log_headers.clone(),
        config.queue_capacity,
        config.sink.clone(),
        stats.clone(),
        config.metrics.clone(),
    )
    .map_err(ServeError::Writer)?;
    let weak_recorder = Arc::downgrade(&recorder);
    let mut seed = [0u8; 4];
    let _ = getrandom::getrandom(&mut seed);
    let shared = Arc::new(Shared {
        routes,
        trusted: config.trusted_proxies,
        log_headers: config.log_headers,
        limits: config.limits,
        recorder,
        stats: stats.clone(),
        id_prefix: u32::from_le_bytes(seed),
        id_counter: AtomicU64::new(0),
        builder,
    });

    let task = tokio::spawn(conn::accept_loop(
        listener, shared, acceptor, shutdown, writer,
    ));
    Ok(Server {
        addr,
        stats,
        recorder: weak_recorder,
        task,
    })
}

/// Reloads a running proxy's redactor (see [`Server::reload_handle`]).
#[derive(Clone)]
pub struct ReloadHandle(std::sync::Weak<Recorder>);

impl ReloadHandle {
    /// Puts a new redactor (rules, keys, profile) in force for the records of every request
    /// from now on, without dropping a connection: the SIGHUP reload. False when the proxy
    /// has stopped.
    pub fn reload(&self, redactor: Arc<Redactor>) -> bool {
        match self.0.upgrade() {
            Some(recorder) => {
                recorder.replace_redactor(redactor);
                true
            }
            None => false,
        }
    }
}

/// The rules response-body DLP applies: the `financial` category less VAT numbers (company
/// identifiers, printed on every invoice), i.e. card numbers, IBANs and bank accounts.
/// Field rules never apply to a body.
pub fn dlp_rules(rules: &crate::rules::RuleSet) -> crate::rules::RuleSet {
    use crate::rules::{Category, Matcher};
    let mut set = rules.clone();
    set.retain(|r| {
        r.category == Category::Financial
            && match &r.matcher {
                Matcher::Builtin(b) => !b.name.starts_with("vat"),
                Matcher::Field(_) => false,
                _ => true,
            }
    });
    set
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_ids_are_the_prefix_and_the_counter_in_hex() {
        for (prefix, n) in [
            (0, 0),
            (0x8c89_572b, 0x4570),
            (u32::MAX, u64::MAX),
            (1, 1 << 63),
        ] {
            let id = request_id_text(prefix, n);
            assert_eq!(
                std::str::from_utf8(&id).unwrap(),
                format!("{prefix:08x}{n:016x}")
            );
        }
    }
}
