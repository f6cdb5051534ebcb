//! Connections to one upstream: HTTP/1.1 over TCP or rustls, kept in a pool of idle
//! connections and reused.
//!
//! Built on hyper's connection-level client (`hyper::client::conn::http1`) rather than
//! hyper-util's legacy `Client`, which per request hashes its pool key twice, takes its pool
//! lock twice and spawns a task that waits for the response body to end before returning
//! the connection. Here each route holds its [`Upstream`] directly, and the connection
//! returns to the pool from the response body itself ([`PooledBody`]) once that body has
//! ended.
//!
//! A pooled connection the upstream closed while it sat idle is noticed when the request is
//! handed to it: hyper gives the request back unsent and the next connection is tried, as
//! the legacy client does. A request that was sent is never sent twice.

use std::net::IpAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::uri::{Authority, Scheme};
use http::{Request, Response};
use http_body::{Body, Frame, SizeHint};
use hyper::body::Incoming;
use hyper::client::conn::http1;
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;

use super::body::{BoxError, RequestBody};

/// The request body sent upstream.
type Outgoing = RequestBody<Incoming>;

/// Idle connections kept per upstream; more are closed.
const MAX_IDLE: usize = 1024;

/// Why a request got no response from the upstream.
#[derive(Debug, thiserror::Error)]
pub(crate) enum UpstreamError {
    /// No connection: refused, unreachable, name not resolved, TLS refused, or timed out
    /// (an [`std::io::ErrorKind::TimedOut`] source).
    #[error("connecting to the upstream: {0}")]
    Connect(#[source] std::io::Error),
    /// The connection failed while the request was sent or the response awaited.
    #[error("upstream request: {0}")]
    Request(#[source] hyper::Error),
}

impl UpstreamError {
    /// No connection was made.
    pub(crate) fn is_connect(&self) -> bool {
        matches!(self, UpstreamError::Connect(_))
    }
}

/// How connections to upstreams are made.
#[derive(Clone)]
pub(crate) struct Connector {
    tls: tokio_rustls::TlsConnector,
    connect_timeout: Duration,
    idle_timeout: Duration,
}

impl Connector {
    /// Connections verified against `tls` (its ALPN set to HTTP/1.1), each made within
    /// `connect_timeout` and closed after `idle_timeout` unused.
    pub(crate) fn new(
        mut tls: rustls::ClientConfig,
        connect_timeout: Duration,
        idle_timeout: Duration,
    ) -> Self {
        tls.alpn_protocols = vec![b"http/1.1".to_vec()];
        Connector {
            tls: tokio_rustls::TlsConnector::from(Arc::new(tls)),
            connect_timeout,
            idle_timeout,
        }
    }
}

/// An idle connection and since when it has been idle.
struct Idle {
    sender: http1::SendRequest<Outgoing>,
    since: Instant,
}

/// One upstream (scheme and authority) and its idle connections.
pub(crate) struct Upstream {
    scheme: Scheme,
    authority: Authority,
    connector: Connector,
    idle: Mutex<Vec<Idle>>,
    /// The task that closes connections idle too long runs (from the first connection).
    sweeping: AtomicBool,
}

impl Upstream {
    /// An upstream with no connection yet.
    pub(crate) fn new(scheme: Scheme, authority: Authority, connector: Connector) -> Arc<Self> {
        Arc::new(Upstream {
            scheme,
            authority,
            connector,
            idle: Mutex::new(Vec::new()),
            sweeping: AtomicBool::new(false),
        })
    }

    /// The upstream's scheme.
    pub(crate) fn scheme(&self) -> &Scheme {
        &self.scheme
    }

    /// The upstream's host and port as configured.
    pub(crate) fn authority(&self) -> &Authority {
        &self.authority
    }

    /// Sends `req` (origin-form target, `Host` set) on an idle connection or a new one, and
    /// returns the response head; its body hands the connection back when it ends.
    pub(crate) async fn send(
        self: &Arc<Self>,
        mut req: Request<Outgoing>,
    ) -> Result<Response<PooledBody>, UpstreamError> {
        if let http::header::Entry::Vacant(host) = req.headers_mut().entry(http::header::HOST) {
            if let Ok(v) = http::HeaderValue::from_str(self.authority.as_str()) {
                host.insert(v);
            }
        }
        loop {
            let (mut sender, reused) = match self.checkout() {
                Some(sender) => (sender, true),
                None => (self.connect().await?, false),
            };
            match sender.try_send_request(req).await {
                Ok(resp) => {
                    return Ok(resp.map(|body| PooledBody {
                        inner: body,
                        checkin: Some((sender, self.clone())),
                        ended: false,
                    }));
                }
                Err(mut e) => match e.take_message() {
                    // Not sent: the idle connection had been closed. Try the next one.
                    Some(unsent) if reused => req = unsent,
                    _ => return Err(UpstreamError::Request(e.into_error())),
                },
            }
        }
    }

    /// The most recently used pooled connection that is open and ready for a request. One
    /// still finishing its last exchange (a request body still uploading after the response
    /// ended) is never waited on: it stays in the pool, behind the others.
    fn checkout(&self) -> Option<http1::SendRequest<Outgoing>> {
        let mut idle = self.lock();
        let mut busy = Vec::new();
        let found = loop {
            let Some(entry) = idle.pop() else { break None };
            if entry.sender.is_closed() || entry.since.elapsed() >= self.connector.idle_timeout {
                continue;
            }
            if entry.sender.is_ready() {
                break Some(entry.sender);
            }
            busy.push(entry);
        };
        idle.splice(0..0, busy);
        found
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<Idle>> {
        self.idle.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// A new connection, its HTTP/1.1 handshake done and its task running.
    async fn connect(self: &Arc<Self>) -> Result<http1::SendRequest<Outgoing>, UpstreamError> {
        if !self.sweeping.swap(true, Ordering::Relaxed) {
            tokio::spawn(sweep(Arc::downgrade(self)));
        }
        let timeout = self.connector.connect_timeout;
        let connecting = async {
            let host = self.authority.host();
            let port = self
                .authority
                .port_u16()
                .unwrap_or(if self.scheme == Scheme::HTTPS {
                    443
                } else {
                    80
                });
            // `[::1]` in a URL is `::1` to the resolver.
            let bare = host.trim_start_matches('[').trim_end_matches(']');
            let tcp = TcpStream::connect((bare, port)).await?;
            tcp.set_nodelay(true)?;
            if self.scheme == Scheme::HTTPS {
                let name = match bare.parse::<IpAddr>() {
                    Ok(ip) => rustls::pki_types::ServerName::IpAddress(ip.into()),
                    Err(_) => rustls::pki_types::ServerName::try_from(bare.to_string())
                        .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidInput, e))?,
                };
                let tls = self.connector.tls.connect(name, tcp).await?;
                handshake(tls).await
            } else {
                handshake(tcp).await
            }
        };
        match tokio::time::timeout(timeout, connecting).await {
            Ok(result) => result,
            Err(_) => Err(UpstreamError::Connect(std::io::Error::new(
                std::io::ErrorKind::TimedOut,
                format!("connect timed out after {timeout:?}"),
            ))),
        }
    }

    /// Puts a connection whose response has ended back in the pool.
    fn put(&self, sender: http1::SendRequest<Outgoing>) {
        if sender.is_closed() {
            return;
        }
        let mut idle = self.lock();
        if idle.len() < MAX_IDLE {
            idle.push(Idle {
                sender,
                since: Instant::now(),
            });
        }
    }
}

/// The HTTP/1.1 handshake on a new stream; the connection runs in its own task (with
/// upgrades, for WebSocket tunnels) until it closes.
async fn handshake<S>(stream: S) -> Result<http1::SendRequest<Outgoing>, UpstreamError>
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let (sender, conn) = http1::Builder::new()
        .handshake(TokioIo::new(stream))
        .await
        .map_err(UpstreamError::Request)?;
    tokio::spawn(async move {
        let _ = conn.with_upgrades().await;
    });
    Ok(sender)
}

impl From<std::io::Error> for UpstreamError {
    fn from(e: std::io::Error) -> Self {
        UpstreamError::Connect(e)
    }
}

/// Closes connections idle for longer than the idle timeout, until the upstream is gone.
async fn sweep(upstream: Weak<Upstream>) {
    let period = match upstream.upgrade() {
        Some(u) => (u.connector.idle_timeout / 2).max(Duration::from_millis(100)),
        None => return,
    };
    let mut tick = tokio::time::interval(period);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        let Some(u) = upstream.upgrade() else { return };
        let timeout = u.connector.idle_timeout;
        u.lock()
            .retain(|i| !i.sender.is_closed() && i.since.elapsed() < timeout);
    }
}

/// The upstream's response body; once it has ended, its connection goes back to the pool
/// (a body dropped before its end leaves the connection to close).
pub(crate) struct PooledBody {
    inner: Incoming,
    /// The connection and the pool it goes back to, until it has gone back (or must not).
    checkin: Option<(http1::SendRequest<Outgoing>, Arc<Upstream>)>,
    ended: bool,
}

impl PooledBody {
    /// The connection will not serve another request (it was upgraded to a tunnel).
    pub(crate) fn forget_connection(&mut self) {
        self.checkin = None;
    }

    fn check_in(&mut self) {
        if let Some((sender, upstream)) = self.checkin.take() {
            upstream.put(sender);
        }
    }
}

impl Body for PooledBody {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        let frame = std::task::ready!(Pin::new(&mut self.inner).poll_frame(cx));
        match &frame {
            None => self.ended = true,
            Some(Ok(_)) => self.ended = self.inner.is_end_stream(),
            Some(Err(_)) => self.checkin = None,
        }
        if self.ended {
            self.check_in();
        }
        Poll::Ready(frame.map(|f| f.map_err(BoxError::from)))
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

impl Drop for PooledBody {
    fn drop(&mut self) {
        if self.ended || self.inner.is_end_stream() {
            self.check_in();
        }
    }
}
