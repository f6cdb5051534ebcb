//! Access records: what one request looked like, minimised before it goes anywhere.
//!
//! A [`Capture`] holds the raw values of one request (client address, target, user agent,
//! referrer …) and lives only inside the request's own task. When the request is over —
//! completed, failed, refused or abandoned — [`RecordGuard`] renders it as one JSON object,
//! passes it through [`Redactor::redact_line`] (detectors plus the purpose profile, which
//! knows the member names `client_ip`, `user`, `user_agent`, `url`, `referrer` and `time`)
//! and hands only the redacted line to the bounded queue. The raw JSON is built in a pooled
//! buffer that is cleared before the function returns: it never reaches a queue, a log line
//! or a metric label.
//!
//! The guard emits from `Drop` too, so every request yields exactly one record whichever
//! way it ends.

use std::net::IpAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use tokio::sync::mpsc;

use crate::format::Format;
use crate::metrics::{self, Metrics};
use crate::redact::{Redactor, Scratch};

use super::net::IoState;
use super::Stats;

/// A function that takes each redacted record line.
pub type RecordHook = Arc<dyn Fn(&[u8]) + Send + Sync>;

/// Where redacted records go.
#[derive(Clone)]
pub enum RecordSink {
    /// JSON lines on stdout (the default).
    Stdout,
    /// Each redacted line (without its newline) is passed to the function, on the writer
    /// thread. For tests and embedding.
    Hook(RecordHook),
}

impl std::fmt::Debug for RecordSink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            RecordSink::Stdout => f.write_str("Stdout"),
            RecordSink::Hook(_) => f.write_str("Hook"),
        }
    }
}

/// A scratch for the redactor plus the buffer the raw record is built in.
struct Worker {
    scratch: Scratch,
    raw: Vec<u8>,
    /// The redactor the scratch was made for (a reload retires older scratches).
    redactor: Arc<Redactor>,
}

/// Minimises records and queues them for the writer. Shared by every request.
pub(crate) struct Recorder {
    /// Swapped whole by [`Recorder::replace_redactor`] on reload.
    redactor: std::sync::RwLock<Arc<Redactor>>,
    pool: Mutex<Vec<Worker>>,
    queue: mpsc::Sender<Vec<u8>>,
    stats: Arc<Stats>,
    metrics: Option<Arc<Metrics>>,
    /// Set when the drain deadline passed and the remaining requests are being cut.
    cutting: AtomicBool,
}

impl Recorder {
    /// A recorder with a queue of `capacity` records, and the writer thread draining it
    /// into `sink`; the thread ends once every recorder is dropped and the queue is empty.
    pub(crate) fn start(
        redactor: Arc<Redactor>,
        capacity: usize,
        sink: RecordSink,
        stats: Arc<Stats>,
        metrics: Option<Arc<Metrics>>,
    ) -> std::io::Result<(Arc<Recorder>, std::thread::JoinHandle<()>)> {
        let (tx, rx) = mpsc::channel(capacity.max(1));
        let writer = std::thread::Builder::new()
            .name("redactd-records".into())
            .spawn(move || write_records(rx, sink))?;
        let recorder = Recorder {
            redactor: std::sync::RwLock::new(redactor),
            pool: Mutex::new(Vec::new()),
            queue: tx,
            stats,
            metrics,
            cutting: AtomicBool::new(false),
        };
        Ok((Arc::new(recorder), writer))
    }

    /// The redactor in force.
    fn redactor(&self) -> Arc<Redactor> {
        match self.redactor.read() {
            Ok(r) => r.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    /// Puts a new redactor (rules, keys, profile) in force for every record from now on;
    /// requests in flight finish with the one they started with.
    pub(crate) fn replace_redactor(&self, redactor: Arc<Redactor>) {
        match self.redactor.write() {
            Ok(mut r) => *r = redactor,
            Err(poisoned) => *poisoned.into_inner() = redactor,
        }
        if let Ok(mut pool) = self.pool.lock() {
            pool.clear();
        }
    }

    /// The metrics records are counted in, if any.
    pub(crate) fn metrics(&self) -> Option<&Arc<Metrics>> {
        self.metrics.as_ref()
    }

    /// From now on, requests that end unfinished were cut by shutdown, not by their client.
    pub(crate) fn cutting(&self) {
        self.cutting.store(true, Ordering::Relaxed);
    }
}

/// The writer thread: JSON lines to stdout or to a hook, in batches.
///
/// It polls the queue rather than waiting on it: a sender that found the writer asleep would
/// have to wake it (a futex call and two context switches per record, measured as the
/// largest cost on one core). Instead the writer drains whatever is queued, flushes, and
/// sleeps 1 ms, doubling up to 50 ms while the queue stays empty.
fn write_records(mut rx: mpsc::Receiver<Vec<u8>>, sink: RecordSink) {
    use std::io::Write;
    use tokio::sync::mpsc::error::TryRecvError;
    const MIN_NAP: Duration = Duration::from_millis(1);
    const MAX_NAP: Duration = Duration::from_millis(50);
    // Stdout is locked for the thread's life, so only when it is the sink.
    let mut out = matches!(sink, RecordSink::Stdout)
        .then(|| std::io::BufWriter::with_capacity(64 * 1024, std::io::stdout().lock()));
    let mut broken = false;
    let mut nap = MIN_NAP;
    loop {
        match rx.try_recv() {
            Ok(mut line) => {
                nap = MIN_NAP;
                match &sink {
                    RecordSink::Hook(f) => f(&line),
                    RecordSink::Stdout => {
                        line.push(b'\n');
                        if let Some(out) = out.as_mut().filter(|_| !broken) {
                            broken = out.write_all(&line).is_err();
                        }
                    }
                }
            }
            Err(TryRecvError::Empty) => {
                if let Some(out) = out.as_mut().filter(|_| !broken) {
                    broken = out.flush().is_err();
                }
                std::thread::sleep(nap);
                nap = (nap * 2).min(MAX_NAP);
            }
            Err(TryRecvError::Disconnected) => break,
        }
    }
    if let Some(mut out) = out {
        let _ = out.flush();
    }
}

/// The raw facts about one request. Lives only in the request's task.
#[derive(Debug, Default)]
pub(crate) struct Capture {
    pub time: Option<SystemTime>,
    pub client_ip: Option<IpAddr>,
    pub user: Option<String>,
    pub method: String,
    pub scheme: &'static str,
    pub host: String,
    pub url: String,
    pub protocol: &'static str,
    pub status: u16,
    pub user_agent: Option<String>,
    pub referrer: Option<String>,
    pub request_id: String,
    /// The route's name (from configuration), once one was chosen.
    pub route: Option<Arc<str>>,
    pub tls_version: Option<&'static str>,
    pub headers: Vec<(String, String)>,
    pub upstream_ms: Option<f64>,
    /// Why the request did not complete normally, a fixed word.
    pub error: Option<&'static str>,
}

impl Capture {
    /// Appends the record as one JSON object.
    fn render(&self, n: &Numbers, out: &mut Vec<u8>) {
        out.push(b'{');
        let time = self.time.unwrap_or_else(SystemTime::now);
        member_display(out, "time", humantime::format_rfc3339_millis(time));
        match self.client_ip {
            Some(ip) => member_display(out, "client_ip", ip),
            None => member_str(out, "client_ip", "-"),
        }
        if let Some(user) = &self.user {
            member_str(out, "user", user);
        }
        member_str(out, "method", &self.method);
        member_str(out, "scheme", self.scheme);
        member_str(out, "host", &self.host);
        member_str(out, "url", &self.url);
        member_str(out, "protocol", self.protocol);
        member_raw(out, "status", self.status);
        if let Some(ua) = &self.user_agent {
            member_str(out, "user_agent", ua);
        }
        if let Some(r) = &self.referrer {
            member_str(out, "referrer", r);
        }
        member_str(out, "request_id", &self.request_id);
        if let Some(route) = &self.route {
            member_str(out, "route", route);
        }
        if let Some(v) = self.tls_version {
            member_str(out, "tls_version", v);
        }
        if !self.headers.is_empty() {
            out.extend_from_slice(b",\"headers\":{");
            for (i, (name, value)) in self.headers.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                json_string(out, name.as_bytes());
                out.push(b':');
                json_string(out, value.as_bytes());
            }
            out.push(b'}');
        }
        if let Some(e) = self.error {
            member_str(out, "error", e);
        }
        member_raw(out, "request_bytes", n.request_bytes);
        member_raw(out, "response_bytes", n.response_bytes);
        member_raw(out, "duration_ms", format_args!("{:.3}", n.duration_ms));
        match self.upstream_ms {
            Some(u) => member_raw(out, "upstream_ms", format_args!("{u:.3}")),
            None => member_raw(out, "upstream_ms", "null"),
        }
        out.push(b'}');
    }
}

fn member_str(out: &mut Vec<u8>, name: &str, value: &str) {
    if out.len() > 1 {
        out.push(b',');
    }
    json_string(out, name.as_bytes());
    out.push(b':');
    json_string(out, value.as_bytes());
}

/// Appends `"name":` and then `value` formatted as is (numbers, `null`), with no
/// intermediate string.
fn member_raw(out: &mut Vec<u8>, name: &str, value: impl std::fmt::Display) {
    use std::io::Write;
    if out.len() > 1 {
        out.push(b',');
    }
    json_string(out, name.as_bytes());
    out.push(b':');
    let _ = write!(out, "{value}");
}

/// Appends `"name":"value"` for a value whose text needs no JSON escaping (times,
/// addresses).
fn member_display(out: &mut Vec<u8>, name: &str, value: impl std::fmt::Display) {
    use std::io::Write;
    if out.len() > 1 {
        out.push(b',');
    }
    json_string(out, name.as_bytes());
    let _ = write!(out, ":\"{value}\"");
}

/// Appends `s` as a JSON string (control characters escaped).
pub(crate) fn json_string(out: &mut Vec<u8>, s: &[u8]) {
    out.push(b'"');
    crate::format::json::escape(s, out);
    out.push(b'"');
}

/// Owns a request's [`Capture`] and emits its record exactly once: when
/// [`RecordGuard::finish`] is called or, failing that, when dropped.
pub(crate) struct RecordGuard {
    recorder: Arc<Recorder>,
    start: Instant,
    capture: Capture,
    /// Request body bytes read (shared with the request body wrapper).
    pub request_bytes: Arc<AtomicU64>,
    /// Response body bytes sent.
    pub response_bytes: u64,
    /// Told when the request is over (HTTP/1 timers restart from there).
    io: Option<Arc<IoState>>,
    done: bool,
}

impl RecordGuard {
    pub(crate) fn new(recorder: Arc<Recorder>, start: Instant, capture: Capture) -> Self {
        RecordGuard {
            recorder,
            start,
            capture,
            request_bytes: Arc::new(AtomicU64::new(0)),
            response_bytes: 0,
            io: None,
            done: false,
        }
    }

    /// Marks the connection busy until this request's record is emitted.
    pub(crate) fn track(&mut self, io: Arc<IoState>) {
        io.in_request.store(true, Ordering::Relaxed);
        self.io = Some(io);
    }

    /// The capture, to fill in as the request goes on.
    pub(crate) fn capture(&mut self) -> &mut Capture {
        &mut self.capture
    }

    /// Emits the record now.
    pub(crate) fn finish(&mut self) {
        if self.done {
            return;
        }
        self.done = true;
        let numbers = Numbers {
            request_bytes: self.request_bytes.load(Ordering::Relaxed),
            response_bytes: self.response_bytes,
            duration_ms: self.start.elapsed().as_secs_f64() * 1000.0,
        };
        self.recorder.emit(&self.capture, &numbers);
        if let Some(io) = self.io.take() {
            io.response_done();
        }
    }
}

impl Drop for RecordGuard {
    /// A request dropped before its end: the client went away before a response (status
    /// 499, as nginx logs it) or before the whole body was sent (`incomplete`), or the drain
    /// deadline cut it (`shutdown`; 503 when no response had begun).
    fn drop(&mut self) {
        if !self.done {
            let cut = self.recorder.cutting.load(Ordering::Relaxed);
            if self.capture.status == 0 {
                self.capture.status = if cut { 503 } else { 499 };
                self.capture
                    .error
                    .get_or_insert(if cut { "shutdown" } else { "client_closed" });
            } else {
                self.capture
                    .error
                    .get_or_insert(if cut { "shutdown" } else { "incomplete" });
            }
        }
        self.finish();
    }
}

/// The numeric members, known when the request ends.
struct Numbers {
    request_bytes: u64,
    response_bytes: u64,
    duration_ms: f64,
}

impl Recorder {
    /// Renders, minimises and queues one record; drops it (counted) when the queue is full.
    fn emit(&self, capture: &Capture, numbers: &Numbers) {
        let redactor = self.redactor();
        let pooled = self.pool.lock().ok().and_then(|mut p| p.pop());
        let mut w = match pooled {
            Some(w) if Arc::ptr_eq(&w.redactor, &redactor) => w,
            _ => Worker {
                scratch: redactor.scratch(),
                raw: Vec::with_capacity(1024),
                redactor: redactor.clone(),
            },
        };
        w.raw.clear();
        capture.render(numbers, &mut w.raw);
        let mut out = Vec::with_capacity(w.raw.len() + 64);
        w.scratch.reset_counts();
        redactor.redact_line(&w.raw, Format::Json, &mut out, &mut w.scratch);
        // The raw record ends here.
        w.raw.clear();
        let queued = self.queue.try_send(out).is_ok();
        if let Some(m) = &self.metrics {
            // Labels come from fixed sets and the rule set, never from the request.
            let method = metrics::Method::from_bytes(capture.method.as_bytes());
            let elapsed = std::time::Duration::from_secs_f64(numbers.duration_ms / 1000.0);
            m.observe_request(method, capture.status, elapsed);
            let upstream = match capture.error {
                Some("upstream_timeout" | "upstream_connect_timeout") => {
                    Some(metrics::UpstreamError::Timeout)
                }
                Some("upstream_connect") => Some(metrics::UpstreamError::Connect),
                Some("upstream_error") => Some(metrics::UpstreamError::Protocol),
                _ => None,
            };
            if let Some(kind) = upstream {
                m.upstream_error(kind);
            }
            for (rule, n) in redactor.rules().iter().zip(&w.scratch.counts) {
                m.add_redactions(rule, *n);
            }
            if queued {
                m.add_records(
                    metrics::Input::Proxy,
                    1,
                    numbers.request_bytes,
                    numbers.response_bytes,
                );
            } else {
                m.add_dropped(metrics::DropReason::QueueFull, 1);
            }
        }
        if let Ok(mut p) = self.pool.lock() {
            if p.len() < 256 {
                p.push(w);
            }
        }
        if queued {
            self.stats.records.fetch_add(1, Ordering::Relaxed);
        } else {
            self.stats.records_dropped.fetch_add(1, Ordering::Relaxed);
        }
    }
}
