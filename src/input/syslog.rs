//! The syslog receiver: UDP (one message per datagram) and TCP, optionally with TLS.
//!
//! TCP framing is detected per frame (RFC 6587): a frame that starts with a non-zero digit
//! followed by more digits and a space is octet-counted (`LEN SP MSG`); anything else is
//! one message per line (LF, with a CR before it removed). Like rsyslog, this reads an
//! un-prefixed RFC 5424 message (`1 2024-…`) as octet-counted, so senders of RFC 5424 over
//! LF framing must send the `<PRI>`.
//!
//! A message longer than `max_message_bytes` is dropped and counted, never truncated and
//! never buffered whole: an octet-counted one is skipped by its length, an LF one up to
//! its line feed. Both RFC 3164 and RFC 5424 messages are accepted (the redactor parses
//! them with `format = "syslog"`).

use std::io;
use std::path::Path;
use std::sync::Arc;

use tokio::io::{AsyncRead, AsyncReadExt};
use tokio::net::{TcpListener, UdpSocket};
use tokio_rustls::TlsAcceptor;

use super::Router;

/// One framed message, or the news that one was too long.
#[derive(Debug, PartialEq, Eq)]
pub enum Frame {
    /// A message (without its framing).
    Message(Vec<u8>),
    /// A message over the limit was dropped.
    Oversize,
}

/// Cuts a TCP byte stream into messages.
#[derive(Debug)]
pub struct Framer {
    buf: Vec<u8>,
    start: usize,
    max: usize,
    /// Bytes still to skip of an oversize octet-counted frame.
    skip: usize,
    /// Skipping an oversize LF frame up to its line feed.
    skip_line: bool,
}

impl Framer {
    /// A framer for messages of at most `max` bytes.
    pub fn new(max: usize) -> Framer {
        Framer {
            buf: Vec::new(),
            start: 0,
            max,
            skip: 0,
            skip_line: false,
        }
    }

    /// Adds received bytes.
    pub fn extend(&mut self, data: &[u8]) {
        if self.start > 0 && self.start >= self.buf.len() / 2 {
            self.buf.drain(..self.start);
            self.start = 0;
        }
        self.buf.extend_from_slice(data);
    }

    fn avail(&self) -> &[u8] {
        &self.buf[self.start..]
    }

    /// The next complete frame, if any.
    pub fn next_frame(&mut self) -> Option<Frame> {
        if self.skip > 0 {
            let n = self.skip.min(self.avail().len());
            self.start += n;
            self.skip -= n;
            if self.skip > 0 {
                return None;
            }
        }
        if self.skip_line {
            match memchr::memchr(b'\n', self.avail()) {
                Some(p) => {
                    self.start += p + 1;
                    self.skip_line = false;
                }
                None => {
                    self.start = self.buf.len();
                    return None;
                }
            }
        }
        // Line ends between frames (some senders add one after an octet-counted frame).
        while matches!(self.avail().first(), Some(b'\n' | b'\r')) {
            self.start += 1;
        }
        let avail = self.avail();
        if avail.is_empty() {
            return None;
        }
        if matches!(avail[0], b'1'..=b'9') {
            let digits = avail
                .iter()
                .take(11)
                .take_while(|b| b.is_ascii_digit())
                .count();
            match avail.get(digits) {
                None if digits < 11 => return None, // the length is still arriving
                Some(b' ') if digits <= 10 => {
                    let len: usize = std::str::from_utf8(&avail[..digits])
                        .expect("digits")
                        .parse()
                        .unwrap_or(usize::MAX);
                    let head = digits + 1;
                    if len > self.max {
                        self.start += head;
                        self.skip = len;
                        return Some(Frame::Oversize);
                    }
                    if avail.len() < head + len {
                        return None;
                    }
                    let msg = avail[head..head + len].to_vec();
                    self.start += head + len;
                    return Some(Frame::Message(msg));
                }
                _ => {} // not a length: an LF-framed message starting with digits
            }
        }
        let avail = self.avail();
        match memchr::memchr(b'\n', avail) {
            Some(p) => {
                let line = &avail[..p];
                let line = line.strip_suffix(b"\r").unwrap_or(line);
                let frame = if line.len() > self.max {
                    Frame::Oversize
                } else {
                    Frame::Message(line.to_vec())
                };
                self.start += p + 1;
                Some(frame)
            }
            // A line may be `max` bytes plus the `\r` of a CRLF still waiting for its `\n`.
            None if avail.len() > self.max + 1
                || (avail.len() == self.max + 1 && avail[self.max] != b'\r') =>
            {
                self.start = self.buf.len();
                self.skip_line = true;
                Some(Frame::Oversize)
            }
            None => None,
        }
    }

    /// At end of stream: an unterminated last line, if any.
    pub fn finish(&mut self) -> Option<Frame> {
        if self.skip > 0 || self.skip_line {
            return None;
        }
        let rest = self.avail();
        let rest = rest.strip_suffix(b"\r").unwrap_or(rest);
        let frame = (!rest.is_empty()).then(|| Frame::Message(rest.to_vec()));
        self.start = self.buf.len();
        frame
    }
}

/// Builds the TLS acceptor from a PEM certificate chain and key (TLS 1.2 and 1.3, no ALPN;
/// the files are re-read when they change, as the proxy's are).
pub fn tls_acceptor(cert: &Path, key: &Path) -> Result<TlsAcceptor, String> {
    let files = crate::proxy::TlsFiles {
        cert: cert.to_path_buf(),
        key: key.to_path_buf(),
    };
    crate::proxy::tls::server_config_with_alpn(&files, &[])
        .map(TlsAcceptor::from)
        .map_err(|e| e.to_string())
}

/// Receives datagrams until the task is dropped. Never waits on a full sink queue.
pub async fn serve_udp(socket: UdpSocket, router: Arc<Router>, max: usize) {
    let mut buf = vec![0u8; 65_536];
    let mut s = router.scratch();
    loop {
        let n = match socket.recv_from(&mut buf).await {
            Ok((n, _)) => n,
            Err(e) => {
                eprintln!("redactd: input {}: UDP receive failed: {e}", router.name());
                tokio::time::sleep(std::time::Duration::from_millis(100)).await;
                continue;
            }
        };
        let msg = &buf[..n];
        let msg = msg.strip_suffix(b"\n").unwrap_or(msg);
        if msg.len() > max {
            router.oversize();
            continue;
        }
        router.send(msg, &mut s, false).await;
    }
}

/// Accepts TCP connections (TLS when `tls` is set) until the task is dropped.
pub async fn serve_tcp(
    listener: TcpListener,
    tls: Option<TlsAcceptor>,
    router: Arc<Router>,
    max: usize,
) {
    let mut conns = tokio::task::JoinSet::new();
    loop {
        let (stream, _) = match listener.accept().await {
            Ok(c) => c,
            Err(e) => {
                eprintln!("redactd: input {}: accept failed: {e}", router.name());
                tokio::time::sleep(std::time::Duration::from_millis(100)).await;
                continue;
            }
        };
        let _ = stream.set_nodelay(true);
        let router = router.clone();
        let tls = tls.clone();
        conns.spawn(async move {
            let result = match tls {
                Some(acceptor) => match acceptor.accept(stream).await {
                    Ok(s) => connection(s, &router, max).await,
                    Err(e) => Err(e),
                },
                None => connection(stream, &router, max).await,
            };
            if let Err(e) = result {
                eprintln!("redactd: input {}: connection: {e}", router.name());
            }
        });
        while conns.try_join_next().is_some() {}
    }
}

async fn connection<S: AsyncRead + Unpin>(
    mut stream: S,
    router: &Router,
    max: usize,
) -> io::Result<()> {
    let mut framer = Framer::new(max);
    let mut s = router.scratch();
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let n = stream.read(&mut buf).await?;
        if n == 0 {
            if let Some(Frame::Message(m)) = framer.finish() {
                router.send(&m, &mut s, true).await;
            }
            return Ok(());
        }
        framer.extend(&buf[..n]);
        while let Some(frame) = framer.next_frame() {
            match frame {
                Frame::Message(m) => router.send(&m, &mut s, true).await,
                Frame::Oversize => router.oversize(),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn frames(max: usize, chunks: &[&[u8]]) -> Vec<Frame> {
        let mut f = Framer::new(max);
        let mut out = Vec::new();
        for c in chunks {
            f.extend(c);
            while let Some(x) = f.next_frame() {
                out.push(x);
            }
        }
        out.extend(f.finish());
        out
    }

    fn m(s: &str) -> Frame {
        Frame::Message(s.as_bytes().to_vec())
    }

    #[test]
    fn octet_counting_and_lf_are_detected_per_frame() {
        assert_eq!(
            frames(100, &[b"5 hello<13>plain line\r\n10 <13>second\n3 abc"]),
            vec![m("hello"), m("<13>plain line"), m("<13>second"), m("abc")]
        );
    }

    #[test]
    fn a_crlf_line_of_exactly_the_limit_is_a_message_when_its_lf_comes_later() {
        let line = "x".repeat(16);
        let whole = frames(16, &[format!("{line}\r\n").as_bytes()]);
        let split = frames(16, &[format!("{line}\r").as_bytes(), b"\n"]);
        assert_eq!(whole, vec![m(&line)]);
        assert_eq!(split, whole);
        let longer = frames(16, &[format!("{line}x\r").as_bytes(), b"\n"]);
        assert_eq!(longer, vec![Frame::Oversize]);
    }

    #[test]
    fn frames_split_anywhere_come_out_whole() {
        let stream = b"12 <13>abc def\n<14>lf framed\n7 <15>xyz";
        let whole = frames(100, &[stream]);
        for cut in 0..stream.len() {
            assert_eq!(
                frames(100, &[&stream[..cut], &stream[cut..]]),
                whole,
                "cut at {cut}"
            );
        }
    }

    #[test]
    fn oversize_messages_are_dropped_and_the_stream_goes_on() {
        let big = "x".repeat(50);
        let s = format!("50 {big}<13>ok\n{big}\n4 fine");
        assert_eq!(
            frames(20, &[s.as_bytes()]),
            vec![Frame::Oversize, m("<13>ok"), Frame::Oversize, m("fine")]
        );
        // An LF frame over the limit without its line feed yet is dropped as it comes.
        assert_eq!(
            frames(20, &[big.as_bytes(), big.as_bytes(), b"\n<13>next\n"]),
            vec![Frame::Oversize, m("<13>next")]
        );
    }

    proptest! {
        #[test]
        fn any_mix_of_framings_and_cuts_round_trips(
            msgs in prop::collection::vec(("<1[0-9]>[a-z ]{1,30}", any::<bool>()), 1..20),
            cuts in prop::collection::vec(any::<prop::sample::Index>(), 0..5),
        ) {
            let mut stream = Vec::new();
            for (msg, octet) in &msgs {
                if *octet {
                    stream.extend_from_slice(format!("{} {msg}", msg.len()).as_bytes());
                } else {
                    stream.extend_from_slice(format!("{msg}\n").as_bytes());
                }
            }
            let mut points: Vec<usize> = cuts.iter().map(|c| c.index(stream.len() + 1)).collect();
            points.sort();
            let mut chunks = Vec::new();
            let mut at = 0;
            for p in points { chunks.push(&stream[at..p]); at = p; }
            chunks.push(&stream[at..]);
            let want: Vec<Frame> = msgs.iter().map(|(s, _)| m(s)).collect();
            prop_assert_eq!(frames(1000, &chunks), want);
        }
    }
}
