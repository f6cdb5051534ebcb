//! Connections: the accept loop (connection limit, shutdown and drain), the refusal of
//! connections over the limit, and one task per connection — TLS handshake, the first
//! request head read under its deadline and size limit, then hyper until the connection
//! ends. Requests that never reach the handler (refused, slow or oversized heads) get their
//! record here.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use bytes::Bytes;
use hyper_util::rt::TokioIo;
use tokio::io::AsyncWriteExt;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::task::JoinSet;

use super::net::{self, Head, IoState, Rewind};
use super::record::{Capture, RecordGuard, Text};
use super::{handler, tls, ConnInfo, Shared};

/// Accepts until shutdown, then drains, then waits for the record writer.
pub(super) async fn accept_loop(
    listener: TcpListener,
    shared: Arc<Shared>,
    acceptor: Option<tokio_rustls::TlsAcceptor>,
    shutdown: impl Future<Output = ()> + Send + 'static,
    writer: std::thread::JoinHandle<()>,
) {
    let (stop_tx, stop_rx) = watch::channel(false);
    let active = Arc::new(AtomicUsize::new(0));
    let mut conns = JoinSet::new();
    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            biased;
            _ = &mut shutdown => break,
            Some(_) = conns.join_next(), if !conns.is_empty() => {}
            accepted = listener.accept() => {
                let (stream, peer) = match accepted {
                    Ok(a) => a,
                    Err(e) => {
                        // Out of descriptors and the like: back off briefly.
                        eprintln!("redactd: accept failed: {e}.");
                        tokio::time::sleep(Duration::from_millis(20)).await;
                        continue;
                    }
                };
                let _ = stream.set_nodelay(true);
                let shared = shared.clone();
                let acceptor = acceptor.clone();
                if active.load(Ordering::Relaxed) >= shared.limits.max_connections {
                    shared.stats.connections_refused.fetch_add(1, Ordering::Relaxed);
                    conns.spawn(refuse(shared, stream, peer, acceptor));
                    continue;
                }
                shared.stats.connections.fetch_add(1, Ordering::Relaxed);
                let permit = Permit::new(&active);
                let open = shared.recorder.metrics().map(|m| m.connection_opened());
                let stop = stop_rx.clone();
                conns.spawn(async move {
                    let _permit = permit;
                    let _open = open; // the open-connections gauge drops with it
                    connection(shared, stream, peer, acceptor, stop).await;
                });
            }
        }
    }
    drop(listener);
    let _ = stop_tx.send(true);
    let deadline = shared.limits.drain;
    let drained = tokio::time::timeout(deadline, async {
        while conns.join_next().await.is_some() {}
    })
    .await;
    if drained.is_err() {
        shared.recorder.cutting();
        conns.abort_all();
        while conns.join_next().await.is_some() {}
    }
    // The last recorder handle goes with `shared`; the writer then empties the queue.
    drop(shared);
    let _ = tokio::task::spawn_blocking(move || writer.join()).await;
}

/// Counts an open connection while alive.
struct Permit(Arc<AtomicUsize>);

impl Permit {
    fn new(active: &Arc<AtomicUsize>) -> Self {
        active.fetch_add(1, Ordering::Relaxed);
        Permit(active.clone())
    }
}

impl Drop for Permit {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

/// A capture for a request known only from its connection (refused, or a head that never
/// completed).
fn connection_capture(peer: SocketAddr, scheme: &'static str, status: u16) -> Capture {
    Capture {
        time: Some(SystemTime::now()),
        client_ip: Some(net::canonical(peer.ip())),
        scheme,
        protocol: "HTTP/1.1",
        status,
        ..Capture::default()
    }
}

fn simple_response(status: u16, reason: &str) -> Vec<u8> {
    let body = format!("{status} {reason}\n");
    format!(
        "HTTP/1.1 {status} {reason}\r\ncontent-type: text/plain\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}

/// Over the connection limit: a 503 and close, with a record.
async fn refuse(
    shared: Arc<Shared>,
    stream: TcpStream,
    peer: SocketAddr,
    acceptor: Option<tokio_rustls::TlsAcceptor>,
) {
    let start = Instant::now();
    let scheme = if acceptor.is_some() { "https" } else { "http" };
    let mut capture = connection_capture(peer, scheme, 503);
    capture.error = Some("max_connections");
    capture.request_id = Text::Header(shared.request_id());
    capture.request_id_generated = true;
    let mut guard = RecordGuard::new(shared.recorder.clone(), start, capture);
    let answer = simple_response(503, "Service Unavailable");
    let quick = Duration::from_secs(1);
    match acceptor {
        None => {
            let mut stream = stream;
            let _ = tokio::time::timeout(quick, stream.write_all(&answer)).await;
            guard.response_bytes = answer.len() as u64;
        }
        Some(acceptor) => {
            if let Ok(Ok(mut tls)) = tokio::time::timeout(quick, acceptor.accept(stream)).await {
                guard.capture().tls_version = tls::version_name(tls.get_ref().1.protocol_version());
                if tls.get_ref().1.alpn_protocol() != Some(b"h2") {
                    let _ = tokio::time::timeout(quick, async {
                        tls.write_all(&answer).await?;
                        tls.shutdown().await
                    })
                    .await;
                    guard.response_bytes = answer.len() as u64;
                }
            }
        }
    }
    guard.finish();
}

/// One client connection: TLS handshake, the first head under the header deadline, then
/// hyper (HTTP/1.1 with upgrades, or HTTP/2) until the connection ends or shutdown drains it.
async fn connection(
    shared: Arc<Shared>,
    stream: TcpStream,
    peer: SocketAddr,
    acceptor: Option<tokio_rustls::TlsAcceptor>,
    stop: watch::Receiver<bool>,
) {
    match acceptor {
        None => serve_io(shared, stream, peer, "http", None, false, stop).await,
        Some(acceptor) => {
            let handshake =
                tokio::time::timeout(shared.limits.header_read_timeout, acceptor.accept(stream))
                    .await;
            let Ok(Ok(tls)) = handshake else {
                return;
            };
            let (_, conn) = tls.get_ref();
            let version = tls::version_name(conn.protocol_version());
            let h2 = conn.alpn_protocol() == Some(b"h2");
            serve_io(shared, tls, peer, "https", version, h2, stop).await
        }
    }
}

async fn serve_io<I>(
    shared: Arc<Shared>,
    mut io: I,
    peer: SocketAddr,
    scheme: &'static str,
    tls_version: Option<&'static str>,
    h2: bool,
    mut stop: watch::Receiver<bool>,
) where
    I: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let prefix = if h2 {
        Bytes::new()
    } else {
        let limits = &shared.limits;
        let head = tokio::select! {
            head = net::read_head(&mut io, limits.header_read_timeout, limits.max_header_bytes) => head,
            _ = stop.changed() => return,
        };
        let (status, reason, error, head) = match head {
            Head::Ready(prefix) => (0, "", "", prefix),
            Head::Nothing => return,
            Head::TimedOut(h) => (408, "Request Timeout", "header_timeout", h),
            Head::TooLarge(h) => (
                431,
                "Request Header Fields Too Large",
                "header_too_large",
                h,
            ),
        };
        if status == 0 {
            head
        } else {
            let start = Instant::now();
            let mut capture = connection_capture(peer, scheme, status);
            let (method, url) = net::request_line(&head);
            capture.method = Text::Owned(method);
            capture.url = Text::Owned(url);
            capture.error = Some(error);
            capture.tls_version = tls_version;
            capture.request_id = Text::Header(shared.request_id());
            capture.request_id_generated = true;
            let mut guard = RecordGuard::new(shared.recorder.clone(), start, capture);
            let answer = simple_response(status, reason);
            let _ = tokio::time::timeout(Duration::from_secs(1), async {
                io.write_all(&answer).await?;
                io.shutdown().await
            })
            .await;
            guard.response_bytes = answer.len() as u64;
            guard.finish();
            return;
        }
    };

    let state = Arc::new(IoState::default());
    let h2 = h2 || prefix.starts_with(b"PRI * HTTP/2.0");
    let timers = (!h2).then(|| {
        net::Timers::new(
            shared.limits.header_read_timeout,
            shared.limits.idle_timeout,
        )
    });
    let io = TokioIo::new(Rewind::new(prefix, io, state.clone(), timers));
    let info = Arc::new(ConnInfo {
        peer,
        scheme,
        tls_version,
        io: state.clone(),
    });
    let svc_shared = shared.clone();
    let service = hyper::service::service_fn(move |req| {
        handler::handle(svc_shared.clone(), info.clone(), req)
    });
    let conn = shared.builder.serve_connection_with_upgrades(io, service);
    tokio::pin!(conn);
    let result = tokio::select! {
        r = conn.as_mut() => r,
        _ = stop.changed() => {
            conn.as_mut().graceful_shutdown();
            conn.await
        }
    };
    if let Err(e) = result {
        let Some(err) = e.downcast_ref::<hyper::Error>() else {
            return;
        };
        // hyper answered (or gave up on) a head itself: still one record for it.
        let (status, error) = if err.is_parse_too_large() {
            (431, "header_too_large")
        } else if err.is_parse() {
            (400, "bad_request")
        } else if state.head_timed_out.load(Ordering::Relaxed) {
            (408, "header_timeout")
        } else {
            return;
        };
        let mut capture = connection_capture(peer, scheme, status);
        capture.error = Some(error);
        capture.tls_version = tls_version;
        capture.request_id = Text::Header(shared.request_id());
        capture.request_id_generated = true;
        RecordGuard::new(shared.recorder.clone(), Instant::now(), capture).finish();
    }
}
