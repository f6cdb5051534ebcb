//! The `syslog` sink: RFC 5424 messages to a relay such as rsyslog, over TCP (RFC 6587
//! octet counting, or LF framing) or UDP (one datagram per record).
//!
//! TCP has no application-level acknowledgement: a batch counts as delivered once it is
//! written to the socket. Before each batch the connection is checked for a close by the
//! relay and reopened, and a failed write sends the whole batch again on a new
//! connection, so records are delivered at least once — except those the kernel had
//! accepted when the relay died, which no syslog-over-TCP sender can know about.

use std::time::Duration;

use bytes::Bytes;
use tokio::io::AsyncWriteExt;
use tokio::net::{TcpStream, UdpSocket};

use super::{Sink, SinkError};

/// The transport.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Protocol {
    /// TCP with the given framing.
    Tcp(Framing),
    /// UDP.
    Udp,
}

/// How messages are delimited on a TCP stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Framing {
    /// RFC 6587 octet counting: `LEN SP MSG`.
    OctetCounting,
    /// A line feed after each message.
    Lf,
}

/// Settings of a syslog sink.
#[derive(Debug, Clone)]
pub struct SyslogOptions {
    /// The relay, `host:port`.
    pub address: String,
    /// Transport.
    pub protocol: Protocol,
    /// Timeout of a connection and of writing one batch.
    pub timeout: Duration,
}

/// Sends records (already RFC 5424 messages) to a syslog relay.
#[derive(Debug)]
pub struct SyslogSink {
    opts: SyslogOptions,
    tcp: Option<TcpStream>,
    udp: Option<UdpSocket>,
    buf: Vec<u8>,
}

impl SyslogSink {
    /// A sink; it connects on the first batch.
    pub fn new(opts: SyslogOptions) -> SyslogSink {
        SyslogSink {
            opts,
            tcp: None,
            udp: None,
            buf: Vec::new(),
        }
    }

    fn err(&self, what: &str, e: impl std::fmt::Display) -> SinkError {
        SinkError::retryable(format!("syslog {}: {what}: {e}", self.opts.address))
    }

    async fn send_tcp(&mut self, framing: Framing, batch: &[Bytes]) -> Result<(), SinkError> {
        // A relay that closed the connection shows as end of stream on a read.
        if let Some(s) = &self.tcp {
            let mut probe = [0u8; 64];
            match s.try_read(&mut probe) {
                Ok(_) => self.tcp = None,
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
                Err(_) => self.tcp = None,
            }
        }
        if self.tcp.is_none() {
            let s = tokio::time::timeout(self.opts.timeout, TcpStream::connect(&self.opts.address))
                .await
                .map_err(|_| self.err("connect", "timed out"))?
                .map_err(|e| self.err("connect", e))?;
            let _ = s.set_nodelay(true);
            self.tcp = Some(s);
        }
        self.buf.clear();
        for r in batch {
            match framing {
                Framing::OctetCounting => {
                    self.buf.extend_from_slice(r.len().to_string().as_bytes());
                    self.buf.push(b' ');
                    self.buf.extend_from_slice(r);
                }
                Framing::Lf => {
                    self.buf.extend_from_slice(r);
                    self.buf.push(b'\n');
                }
            }
        }
        let stream = self.tcp.as_mut().expect("connected");
        let write = async {
            stream.write_all(&self.buf).await?;
            stream.flush().await
        };
        match tokio::time::timeout(self.opts.timeout, write).await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(e)) => {
                self.tcp = None;
                Err(self.err("write", e))
            }
            Err(_) => {
                self.tcp = None;
                Err(self.err("write", "timed out"))
            }
        }
    }

    async fn send_udp(&mut self, batch: &[Bytes]) -> Result<(), SinkError> {
        if self.udp.is_none() {
            let bind = if self.opts.address.starts_with('[') {
                "[::]:0"
            } else {
                "0.0.0.0:0"
            };
            let s = UdpSocket::bind(bind)
                .await
                .map_err(|e| self.err("bind", e))?;
            s.connect(&self.opts.address)
                .await
                .map_err(|e| self.err("connect", e))?;
            self.udp = Some(s);
        }
        let s = self.udp.as_ref().expect("bound");
        for r in batch {
            if let Err(e) = s.send(r).await {
                let e = self.err("send", e);
                self.udp = None;
                return Err(e);
            }
        }
        Ok(())
    }
}

impl Sink for SyslogSink {
    async fn send_batch(&mut self, batch: &[Bytes]) -> Result<(), SinkError> {
        match self.opts.protocol {
            Protocol::Tcp(f) => self.send_tcp(f, batch).await,
            Protocol::Udp => self.send_udp(batch).await,
        }
    }
}
