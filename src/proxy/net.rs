//! Connection-level pieces: trusted-proxy ranges and the client address, the IO wrapper
//! that replays pre-read bytes and notices half-read requests, and the first request head
//! read under a deadline and a size limit (so a slow or oversized head gets a clean 408 or
//! 431 and a record, not a silent close).

use std::future::Future;
use std::io;
use std::net::IpAddr;
use std::pin::Pin;
use std::str::FromStr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::{Buf, Bytes, BytesMut};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, ReadBuf};

/// An address range such as `10.0.0.0/8` or `::1/128`; a bare address is a /32 or /128.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cidr {
    addr: IpAddr,
    prefix: u8,
}

/// A malformed CIDR.
#[derive(Debug, thiserror::Error)]
#[error("`{0}` is not an address range (expected e.g. 10.0.0.0/8 or ::1/128)")]
pub struct CidrError(String);

impl FromStr for Cidr {
    type Err = CidrError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let err = || CidrError(s.to_string());
        let (a, p) = match s.split_once('/') {
            Some((a, p)) => (a, Some(p)),
            None => (s, None),
        };
        let addr: IpAddr = a.parse().map_err(|_| err())?;
        let max = if addr.is_ipv4() { 32 } else { 128 };
        let prefix = match p {
            Some(p) => p.parse::<u8>().map_err(|_| err())?,
            None => max,
        };
        if prefix > max {
            return Err(err());
        }
        Ok(Cidr { addr, prefix })
    }
}

impl Cidr {
    /// Whether `ip` lies in the range (an IPv4-mapped IPv6 address counts as IPv4).
    pub fn contains(&self, ip: IpAddr) -> bool {
        let ip = canonical(ip);
        match (self.addr, ip) {
            (IpAddr::V4(net), IpAddr::V4(ip)) => {
                let mask = u32::MAX.checked_shl(32 - self.prefix as u32).unwrap_or(0);
                u32::from(net) & mask == u32::from(ip) & mask
            }
            (IpAddr::V6(net), IpAddr::V6(ip)) => {
                let mask = u128::MAX.checked_shl(128 - self.prefix as u32).unwrap_or(0);
                u128::from(net) & mask == u128::from(ip) & mask
            }
            _ => false,
        }
    }
}

/// IPv4-mapped IPv6 addresses as IPv4.
pub(crate) fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map(IpAddr::V4).unwrap_or(ip),
        v4 => v4,
    }
}

/// Whether `ip` (canonical) is in one of the trusted proxy ranges.
pub(crate) fn trusted(list: &[Cidr], ip: IpAddr) -> bool {
    list.iter().any(|c| c.contains(ip))
}

/// One address from a forwarding header entry: `1.2.3.4`, `1.2.3.4:5`, `[::1]:5`, `::1`,
/// `"[::1]"`.
fn parse_entry(s: &str) -> Option<IpAddr> {
    let s = s.trim().trim_matches('"');
    if let Ok(ip) = s.parse() {
        return Some(ip);
    }
    if let Some(rest) = s.strip_prefix('[') {
        return rest.split(']').next()?.parse().ok();
    }
    s.rsplit_once(':')?.0.parse().ok()
}

/// The client address: the peer, unless the peer is a trusted proxy, in which case the
/// forwarding headers are walked from the right past trusted hops (`X-Forwarded-For`
/// first, then `Forwarded: for=`). An entry that does not parse ends the walk at the hop
/// before it.
pub(crate) fn client_address(
    peer: IpAddr,
    trusted_proxies: &[Cidr],
    headers: &http::HeaderMap,
) -> IpAddr {
    let peer = canonical(peer);
    if !trusted(trusted_proxies, peer) {
        return peer;
    }
    let mut hops: Vec<Option<IpAddr>> = Vec::new();
    for v in headers.get_all("x-forwarded-for") {
        if let Ok(v) = v.to_str() {
            hops.extend(v.split(',').map(parse_entry));
        }
    }
    if hops.is_empty() {
        for v in headers.get_all("forwarded") {
            if let Ok(v) = v.to_str() {
                for element in v.split(',') {
                    for pair in element.split(';') {
                        if let Some((k, val)) = pair.split_once('=') {
                            if k.trim().eq_ignore_ascii_case("for") {
                                hops.push(parse_entry(val));
                            }
                        }
                    }
                }
            }
        }
    }
    let mut client = peer;
    for hop in hops.iter().rev() {
        match hop {
            Some(ip) => {
                client = canonical(*ip);
                if !trusted(trusted_proxies, client) {
                    break;
                }
            }
            None => break,
        }
    }
    client
}

/// Per-connection IO state shared by the IO wrapper, the handler and the record guard.
#[derive(Debug, Default)]
pub(crate) struct IoState {
    /// Bytes read since the last response completed: non-zero between the first byte of a
    /// new request head and its response.
    pub read_since_response: AtomicU64,
    /// A request is being handled (its head has been parsed).
    pub in_request: AtomicBool,
    /// The connection was upgraded: a tunnel, no more HTTP timers.
    pub upgraded: AtomicBool,
    /// The head timer fired: a 408 was sent and the connection closed.
    pub head_timed_out: AtomicBool,
}

impl IoState {
    /// The response to the current request is complete.
    pub(crate) fn response_done(&self) {
        self.in_request.store(false, Ordering::Relaxed);
        self.read_since_response.store(0, Ordering::Relaxed);
    }
}

/// Appends an address as text (`127.0.0.1`, `2001:db8::1`), IPv4 without the formatting
/// machinery (twice per request on the hot path).
pub(crate) fn push_ip(out: &mut Vec<u8>, ip: IpAddr) {
    use std::io::Write;
    match ip {
        IpAddr::V4(v4) => {
            let mut digits = itoa::Buffer::new();
            for (i, octet) in v4.octets().into_iter().enumerate() {
                if i > 0 {
                    out.push(b'.');
                }
                out.extend_from_slice(digits.format(octet).as_bytes());
            }
        }
        IpAddr::V6(v6) => {
            let _ = write!(out, "{v6}");
        }
    }
}

/// HTTP/1 timers of a connection, run inside its reads: the whole request head must arrive
/// within `head` of its first byte (else a 408 is written and the read fails), and an idle
/// keep-alive connection ends after `idle` (a clean EOF). A head pipelined behind the
/// previous request, already in hyper's buffer when that response completes, is timed by
/// the idle timer instead (still bounded).
///
/// The timer is re-armed lazily: a phase change only notes its deadline (one clock read),
/// and the one `Sleep` fires at most `min(head, idle)` after it was last armed, then is
/// armed again for the deadline in force if that has not come. Since a new deadline is
/// never nearer than that, none is missed, and a request costs no timer-wheel update.
pub(crate) struct Timers {
    head: Duration,
    idle: Duration,
    sleep: Pin<Box<tokio::time::Sleep>>,
    /// The phase being timed and when it runs out.
    armed: Option<(Phase, tokio::time::Instant)>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    Idle,
    Head,
}

impl Timers {
    pub(crate) fn new(head: Duration, idle: Duration) -> Self {
        Timers {
            head,
            idle,
            sleep: Box::pin(tokio::time::sleep(head.min(idle))),
            armed: None,
        }
    }

    /// Enters `phase` (none while a request is being handled).
    fn enter(&mut self, phase: Option<Phase>) {
        if phase != self.armed.map(|(p, _)| p) {
            self.armed = phase.map(|p| {
                let after = if p == Phase::Head {
                    self.head
                } else {
                    self.idle
                };
                (p, tokio::time::Instant::now() + after)
            });
        }
    }

    /// The phase whose deadline has passed, if any; otherwise the sleep is armed (again)
    /// and will wake the task.
    fn expired(&mut self, cx: &mut Context<'_>) -> Option<Phase> {
        while self.sleep.as_mut().poll(cx).is_ready() {
            let now = tokio::time::Instant::now();
            match self.armed {
                Some((phase, deadline)) if deadline <= now => {
                    self.armed = None;
                    return Some(phase);
                }
                Some((_, deadline)) => {
                    let next = deadline.min(now + self.head.min(self.idle));
                    self.sleep.as_mut().reset(next);
                }
                None => {
                    let next = now + self.head.min(self.idle);
                    self.sleep.as_mut().reset(next);
                }
            }
        }
        None
    }
}

const RESPONSE_408: &[u8] = b"HTTP/1.1 408 Request Timeout\r\ncontent-type: text/plain\r\ncontent-length: 20\r\nconnection: close\r\n\r\n408 Request Timeout\n";

/// An IO that first replays `prefix` (bytes read before hyper took over), keeps
/// [`IoState`] up to date and, for HTTP/1, runs the head and idle [`Timers`].
pub(crate) struct Rewind<I> {
    prefix: Bytes,
    inner: I,
    state: Arc<IoState>,
    timers: Option<Timers>,
}

impl<I> Rewind<I> {
    pub(crate) fn new(
        prefix: Bytes,
        inner: I,
        state: Arc<IoState>,
        timers: Option<Timers>,
    ) -> Self {
        Rewind {
            prefix,
            inner,
            state,
            timers,
        }
    }
}

impl<I: AsyncRead + AsyncWrite + Unpin> AsyncRead for Rewind<I> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        if !self.prefix.is_empty() {
            let n = self.prefix.len().min(buf.remaining());
            buf.put_slice(&self.prefix[..n]);
            self.prefix.advance(n);
            return Poll::Ready(Ok(()));
        }
        let this = &mut *self;
        let before = buf.filled().len();
        let r = Pin::new(&mut this.inner).poll_read(cx, buf);
        let n = buf.filled().len() - before;
        if n > 0 {
            this.state
                .read_since_response
                .fetch_add(n as u64, Ordering::Relaxed);
        }
        let Some(t) = this.timers.as_mut() else {
            return r;
        };
        let state = &this.state;
        let phase = if state.upgraded.load(Ordering::Relaxed) {
            this.timers = None;
            return r;
        } else if state.in_request.load(Ordering::Relaxed) {
            None
        } else if state.read_since_response.load(Ordering::Relaxed) > 0 {
            Some(Phase::Head)
        } else {
            Some(Phase::Idle)
        };
        t.enter(phase);
        if r.is_pending() && t.armed.is_some() {
            match t.expired(cx) {
                // Idle keep-alive over: a clean end of stream.
                Some(Phase::Idle) => return Poll::Ready(Ok(())),
                Some(Phase::Head) => {
                    state.head_timed_out.store(true, Ordering::Relaxed);
                    // Best effort: the socket buffer normally takes it at once.
                    let _ = Pin::new(&mut this.inner).poll_write(cx, RESPONSE_408);
                    let _ = Pin::new(&mut this.inner).poll_flush(cx);
                    return Poll::Ready(Err(io::Error::new(
                        io::ErrorKind::TimedOut,
                        "request head not received in time",
                    )));
                }
                None => {}
            }
        }
        r
    }
}

impl<I: AsyncWrite + Unpin> AsyncWrite for Rewind<I> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

/// How reading the first request head ended.
pub(crate) enum Head {
    /// A complete head (or an HTTP/2 preface) is in the buffer; hand over to hyper.
    Ready(Bytes),
    /// The client closed, or sent nothing before the deadline: no request, no record.
    Nothing,
    /// The deadline passed with part of a head read.
    TimedOut(Bytes),
    /// The head grew past the limit.
    TooLarge(Bytes),
}

const H2_PREFACE: &[u8] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

/// Reads until the end of the first request head (`\r\n\r\n`), at most `max` bytes, within
/// `timeout`.
pub(crate) async fn read_head<I: AsyncRead + Unpin>(
    io: &mut I,
    timeout: Duration,
    max: usize,
) -> Head {
    let mut buf = BytesMut::with_capacity(4096);
    let deadline = tokio::time::Instant::now() + timeout;
    let mut scanned: usize = 0;
    loop {
        if buf.len() >= H2_PREFACE.len() && buf.starts_with(H2_PREFACE) {
            return Head::Ready(buf.freeze());
        }
        let from = scanned.saturating_sub(3);
        if let Some(at) = memchr::memmem::find(&buf[from..], b"\r\n\r\n") {
            if from + at + 4 > max {
                return Head::TooLarge(buf.freeze());
            }
            return Head::Ready(buf.freeze());
        }
        scanned = buf.len();
        if buf.len() > max {
            return Head::TooLarge(buf.freeze());
        }
        if buf.capacity() - buf.len() < 1024 {
            buf.reserve(4096);
        }
        match tokio::time::timeout_at(deadline, io.read_buf(&mut buf)).await {
            Ok(Ok(0)) | Ok(Err(_)) => return Head::Nothing,
            Ok(Ok(_)) => {}
            Err(_) if buf.is_empty() => return Head::Nothing,
            Err(_) => return Head::TimedOut(buf.freeze()),
        }
    }
}

/// Method and target of a (possibly partial) request head, for the record.
pub(crate) fn request_line(head: &[u8]) -> (String, String) {
    let line_end = memchr::memchr(b'\n', head).unwrap_or(head.len());
    let line = String::from_utf8_lossy(&head[..line_end]);
    let mut parts = line.trim_end().split(' ');
    let method = parts.next().unwrap_or("").chars().take(16).collect();
    let target = parts.next().unwrap_or("").chars().take(8192).collect();
    (method, target)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cidr_contains() {
        let c: Cidr = "10.0.0.0/8".parse().unwrap();
        assert!(c.contains("10.1.2.3".parse().unwrap()));
        assert!(!c.contains("11.1.2.3".parse().unwrap()));
        assert!(c.contains("::ffff:10.0.0.1".parse().unwrap()));
        let all: Cidr = "0.0.0.0/0".parse().unwrap();
        assert!(all.contains("8.8.8.8".parse().unwrap()));
        let one: Cidr = "::1".parse().unwrap();
        assert!(one.contains("::1".parse().unwrap()));
        assert!("10.0.0.0/33".parse::<Cidr>().is_err());
    }

    #[test]
    fn forwarded_for_walks_past_trusted_hops() {
        let trusted = vec!["127.0.0.1".parse().unwrap(), "10.0.0.0/8".parse().unwrap()];
        let mut h = http::HeaderMap::new();
        h.insert(
            "x-forwarded-for",
            "203.0.113.9, 198.51.100.7, 10.0.0.2".parse().unwrap(),
        );
        let peer = "127.0.0.1".parse().unwrap();
        assert_eq!(
            client_address(peer, &trusted, &h),
            "198.51.100.7".parse::<IpAddr>().unwrap()
        );
        let untrusted_peer = "192.0.2.1".parse().unwrap();
        assert_eq!(client_address(untrusted_peer, &trusted, &h), untrusted_peer);
        let mut f = http::HeaderMap::new();
        f.insert(
            "forwarded",
            "for=\"[2001:db8::1]:443\";proto=https".parse().unwrap(),
        );
        assert_eq!(
            client_address(peer, &trusted, &f),
            "2001:db8::1".parse::<IpAddr>().unwrap()
        );
    }
}
