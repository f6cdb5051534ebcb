//! Access records: what one request looked like, minimised before it goes anywhere.
//!
//! A [`Capture`] holds the raw values of one request (client address, target, user agent,
//! referrer …) and lives only inside the request's own task. When the request is over —
//! completed, failed, refused or abandoned — [`RecordGuard`] writes it as one JSON object,
//! each value passed through the engine as it is written ([`Redactor::redact_json_member`]:
//! detectors plus the purpose profile, which knows the member names `client_ip`, `user`,
//! `user_agent`, `url`, `referrer` and `time`), and hands only the finished line to the
//! bounded [`RecordQueue`]. Raw values are formatted in the worker's own buffer, cleared
//! before the function returns: they never reach a queue, a log line or a metric label.
//!
//! Members whose values the proxy itself chooses (`scheme`, `protocol`, `status`,
//! `tls_version`, `error`, the numbers, a standard method, a request id it generated) are
//! written as they are; everything that came from the client or the configuration is
//! redacted.
//!
//! The guard emits from `Drop` too, so every request yields exactly one record whichever
//! way it ends.

use std::net::IpAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant, SystemTime};

use crate::format::json::{self, ROOT_PATH};
use crate::metrics::{self, Metrics, ProxyHandles, RedactionHandles};
use crate::redact::{JsonMember, Redactor, Scratch};

use super::net::{push_ip, IoState};
use super::queue::{RecordQueue, RecordSink};
use super::Stats;

/// How each member of a record is redacted under one redactor (see [`JsonMember`]).
struct Members {
    time: JsonMember,
    client_ip: JsonMember,
    user: JsonMember,
    method: JsonMember,
    host: JsonMember,
    url: JsonMember,
    user_agent: JsonMember,
    referrer: JsonMember,
    request_id: JsonMember,
    route: JsonMember,
    headers: JsonMember,
    /// The allowlisted request headers, as members of `headers`.
    header: Vec<(http::HeaderName, JsonMember)>,
}

impl Members {
    fn new(r: &Redactor, log_headers: &[http::HeaderName]) -> Self {
        let top = |name| r.json_member(ROOT_PATH, name);
        let headers = top("headers");
        Members {
            time: top("time"),
            client_ip: top("client_ip"),
            user: top("user"),
            method: top("method"),
            host: top("host"),
            url: top("url"),
            user_agent: top("user_agent"),
            referrer: top("referrer"),
            request_id: top("request_id"),
            route: top("route"),
            header: log_headers
                .iter()
                .map(|h| (h.clone(), r.json_member(headers.path(), h.as_str())))
                .collect(),
            headers,
        }
    }
}

/// The redactor in force, with what was resolved for it once.
struct InForce {
    redactor: Arc<Redactor>,
    members: Members,
    /// Redaction counters of the redactor's rule set, when there are metrics.
    redactions: Option<RedactionHandles>,
}

/// A scratch for the redactor, the buffers a record is written in, and the text of the
/// current second (records of one second share it).
struct Worker {
    scratch: Scratch,
    /// A raw value being formatted (time, address) before it is redacted.
    raw: Vec<u8>,
    /// The record being written.
    line: Vec<u8>,
    second: Option<(u64, [u8; 19])>,
    /// What the scratch was made for (a reload retires older workers).
    in_force: Arc<InForce>,
}

/// Minimises records and queues them for the writer. Shared by every request.
pub(crate) struct Recorder {
    /// Swapped whole by [`Recorder::replace_redactor`] on reload.
    in_force: RwLock<Arc<InForce>>,
    log_headers: Vec<http::HeaderName>,
    pool: Mutex<Vec<Worker>>,
    queue: Arc<RecordQueue>,
    stats: Arc<Stats>,
    metrics: Option<Arc<Metrics>>,
    handles: Option<ProxyHandles>,
    /// Set when the drain deadline passed and the remaining requests are being cut.
    cutting: AtomicBool,
}

impl Recorder {
    /// A recorder with a queue of `capacity` records, and the writer thread draining it
    /// into `sink`; the thread ends once the recorder is dropped and the queue is empty.
    pub(crate) fn start(
        redactor: Arc<Redactor>,
        log_headers: Vec<http::HeaderName>,
        capacity: usize,
        sink: RecordSink,
        stats: Arc<Stats>,
        metrics: Option<Arc<Metrics>>,
    ) -> std::io::Result<(Arc<Recorder>, std::thread::JoinHandle<()>)> {
        let (queue, writer) = RecordQueue::start(capacity, sink)?;
        let in_force = in_force(redactor, &log_headers, metrics.as_deref());
        let recorder = Recorder {
            in_force: RwLock::new(Arc::new(in_force)),
            log_headers,
            pool: Mutex::new(Vec::new()),
            queue,
            stats,
            handles: metrics.as_ref().map(|m| m.proxy_handles()),
            metrics,
            cutting: AtomicBool::new(false),
        };
        Ok((Arc::new(recorder), writer))
    }

    /// The redactor in force.
    fn in_force(&self) -> Arc<InForce> {
        self.in_force
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// Puts a new redactor (rules, keys, profile) in force for every record from now on;
    /// requests in flight finish with the one they started with.
    pub(crate) fn replace_redactor(&self, redactor: Arc<Redactor>) {
        let next = in_force(redactor, &self.log_headers, self.metrics.as_deref());
        *self.in_force.write().unwrap_or_else(|p| p.into_inner()) = Arc::new(next);
        self.pool.lock().unwrap_or_else(|p| p.into_inner()).clear();
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

impl Drop for Recorder {
    /// The last request is over: the writer writes what is queued and ends.
    fn drop(&mut self) {
        self.queue.close();
    }
}

fn in_force(
    redactor: Arc<Redactor>,
    log_headers: &[http::HeaderName],
    metrics: Option<&Metrics>,
) -> InForce {
    InForce {
        members: Members::new(&redactor, log_headers),
        redactions: metrics.map(|m| m.redaction_handles(redactor.rules())),
        redactor,
    }
}

/// A piece of request text a capture holds: shared with the request (a header value, the
/// target) where it can be, so capturing copies nothing.
#[derive(Debug, Clone, Default)]
pub(crate) enum Text {
    /// Nothing (written as `""`).
    #[default]
    Empty,
    /// Text the proxy chose (a standard method).
    Static(&'static str),
    /// A header value (the request's own bytes).
    Header(http::HeaderValue),
    /// The request target.
    Target(http::uri::PathAndQuery),
    /// Text made for the record.
    Owned(String),
}

impl Text {
    /// The bytes, as they came (not necessarily UTF-8 for header values).
    pub(crate) fn as_bytes(&self) -> &[u8] {
        match self {
            Text::Empty => b"",
            Text::Static(s) => s.as_bytes(),
            Text::Header(v) => v.as_bytes(),
            Text::Target(t) => t.as_str().as_bytes(),
            Text::Owned(s) => s.as_bytes(),
        }
    }

    /// The text, invalid UTF-8 replaced (records are UTF-8 JSON).
    pub(crate) fn lossy(&self) -> std::borrow::Cow<'_, str> {
        String::from_utf8_lossy(self.as_bytes())
    }
}

/// The raw facts about one request. Lives only in the request's task.
#[derive(Debug, Default)]
pub(crate) struct Capture {
    pub time: Option<SystemTime>,
    pub client_ip: Option<IpAddr>,
    /// The user name of `Authorization: Basic`.
    pub user: Option<String>,
    pub method: Text,
    pub scheme: &'static str,
    pub host: Text,
    pub url: Text,
    pub protocol: &'static str,
    pub status: u16,
    pub user_agent: Option<Text>,
    pub referrer: Option<Text>,
    pub request_id: Text,
    /// The proxy made the request id (it came from no header).
    pub request_id_generated: bool,
    /// The route's name (from configuration), once one was chosen.
    pub route: Option<Arc<str>>,
    pub tls_version: Option<&'static str>,
    /// The allowlisted request headers present, values of repeated ones joined.
    pub headers: Vec<(http::HeaderName, String)>,
    /// From sending the request upstream to its response head.
    pub upstream: Option<Duration>,
    /// Why the request did not complete normally, a fixed word.
    pub error: Option<&'static str>,
}

/// Appends `,"name":` (no comma before the first member).
fn member_name(out: &mut Vec<u8>, name: &str) {
    if out.len() > 1 {
        out.push(b',');
    }
    out.push(b'"');
    out.extend_from_slice(name.as_bytes());
    out.extend_from_slice(b"\":");
}

/// Appends `"name":"text"` for text the proxy chose itself (never from a request).
fn member_fixed(out: &mut Vec<u8>, name: &str, text: &str) {
    member_name(out, name);
    out.push(b'"');
    json::escape(text.as_bytes(), out);
    out.push(b'"');
}

/// Appends `"name":N`.
fn member_number(out: &mut Vec<u8>, name: &str, n: u64) {
    member_name(out, name);
    out.extend_from_slice(itoa::Buffer::new().format(n).as_bytes());
}

/// Appends `"name":M.mmm`, a duration in milliseconds with three decimals, or `null`.
fn member_ms(out: &mut Vec<u8>, name: &str, d: Option<Duration>) {
    member_name(out, name);
    let Some(d) = d else {
        out.extend_from_slice(b"null");
        return;
    };
    let micros = d.as_micros();
    let mut digits = itoa::Buffer::new();
    out.extend_from_slice(digits.format(micros / 1000).as_bytes());
    out.push(b'.');
    let frac = digits.format(micros % 1000 + 1000); // 1000..=1999: the leading 1 pads
    out.extend_from_slice(&frac.as_bytes()[1..]);
}

/// Appends `time` as RFC 3339 UTC with milliseconds (`2026-11-30T16:01:41.955Z`), as
/// `humantime::format_rfc3339_millis` writes it; `second` keeps the text of the last whole
/// second formatted (records of one second share it).
fn push_time(time: SystemTime, second: &mut Option<(u64, [u8; 19])>, out: &mut Vec<u8>) {
    let since = time
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap_or_default();
    let secs = since.as_secs();
    let text = match *second {
        Some((s, text)) if s == secs => text,
        _ => {
            let whole = SystemTime::UNIX_EPOCH + Duration::from_secs(secs);
            let mut text = [0u8; 19];
            let formatted = humantime::format_rfc3339_seconds(whole).to_string();
            text.copy_from_slice(&formatted.as_bytes()[..19]);
            *second = Some((secs, text));
            text
        }
    };
    out.extend_from_slice(&text);
    out.push(b'.');
    let mut digits = itoa::Buffer::new();
    let millis = digits.format(since.subsec_millis() + 1000); // the leading 1 pads
    out.extend_from_slice(&millis.as_bytes()[1..]);
    out.push(b'Z');
}

impl Worker {
    /// Appends `"name":"…"`: `text` redacted as `member`.
    fn member(&mut self, name: &str, member: &JsonMember, text: &[u8]) {
        member_name(&mut self.line, name);
        self.line.push(b'"');
        let redactor = &self.in_force.redactor;
        redactor.redact_json_member(member, text, &mut self.line, &mut self.scratch);
        self.line.push(b'"');
    }

    /// Appends a member whose raw value is in `self.raw`, then forgets that value.
    fn raw_member(&mut self, name: &str, member: &JsonMember) {
        let raw = std::mem::take(&mut self.raw);
        self.member(name, member, &raw);
        self.raw = raw;
        self.raw.clear();
    }

    /// Writes `c`'s record, redacted member by member, to `self.line`. `in_force` is the
    /// one this worker was made for.
    fn write(&mut self, in_force: &InForce, c: &Capture, n: &Numbers) {
        let m = &in_force.members;
        self.line.clear();
        self.line.push(b'{');
        push_time(
            c.time.unwrap_or_else(SystemTime::now),
            &mut self.second,
            &mut self.raw,
        );
        self.raw_member("time", &m.time);
        match c.client_ip {
            Some(ip) => push_ip(&mut self.raw, ip),
            None => self.raw.push(b'-'),
        }
        self.raw_member("client_ip", &m.client_ip);
        if let Some(user) = &c.user {
            self.member("user", &m.user, user.as_bytes());
        }
        match &c.method {
            // A standard method, chosen from a fixed set by the handler.
            Text::Static(method) => member_fixed(&mut self.line, "method", method),
            other => self.member("method", &m.method, other.lossy().as_bytes()),
        }
        member_fixed(&mut self.line, "scheme", c.scheme);
        self.member("host", &m.host, c.host.lossy().as_bytes());
        self.member("url", &m.url, c.url.lossy().as_bytes());
        member_fixed(&mut self.line, "protocol", c.protocol);
        member_number(&mut self.line, "status", c.status.into());
        if let Some(ua) = &c.user_agent {
            self.member("user_agent", &m.user_agent, ua.lossy().as_bytes());
        }
        if let Some(r) = &c.referrer {
            self.member("referrer", &m.referrer, r.lossy().as_bytes());
        }
        if c.request_id_generated {
            member_fixed(&mut self.line, "request_id", &c.request_id.lossy());
        } else {
            let id = c.request_id.lossy();
            self.member("request_id", &m.request_id, id.as_bytes());
        }
        if let Some(route) = &c.route {
            self.member("route", &m.route, route.as_bytes());
        }
        if let Some(v) = c.tls_version {
            member_fixed(&mut self.line, "tls_version", v);
        }
        if !c.headers.is_empty() {
            member_name(&mut self.line, "headers");
            self.line.push(b'{');
            let object_start = self.line.len();
            for (name, value) in &c.headers {
                // Every logged header was resolved at start; any other is resolved here.
                let resolved;
                let member = match m.header.iter().find(|(h, _)| h == name) {
                    Some((_, member)) => member,
                    None => {
                        resolved = in_force
                            .redactor
                            .json_member(m.headers.path(), name.as_str());
                        &resolved
                    }
                };
                if self.line.len() > object_start {
                    self.line.push(b',');
                }
                json_string(&mut self.line, name.as_str().as_bytes());
                self.line.extend_from_slice(b":\"");
                let redactor = &in_force.redactor;
                redactor.redact_json_member(
                    member,
                    value.as_bytes(),
                    &mut self.line,
                    &mut self.scratch,
                );
                self.line.push(b'"');
            }
            self.line.push(b'}');
        }
        if let Some(e) = c.error {
            member_fixed(&mut self.line, "error", e);
        }
        member_number(&mut self.line, "request_bytes", n.request_bytes);
        member_number(&mut self.line, "response_bytes", n.response_bytes);
        member_ms(&mut self.line, "duration_ms", Some(n.duration));
        member_ms(&mut self.line, "upstream_ms", c.upstream);
        self.line.push(b'}');
    }
}

/// Appends `s` as a JSON string (control characters escaped).
fn json_string(out: &mut Vec<u8>, s: &[u8]) {
    out.push(b'"');
    json::escape(s, out);
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
            duration: self.start.elapsed(),
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
    duration: Duration,
}

impl Recorder {
    /// Writes, minimises and queues one record; drops it (counted) when the queue is full.
    fn emit(&self, capture: &Capture, numbers: &Numbers) {
        let in_force = self.in_force();
        let pooled = self.pool.lock().ok().and_then(|mut p| p.pop());
        let mut w = match pooled {
            Some(w) if Arc::ptr_eq(&w.in_force, &in_force) => w,
            _ => Worker {
                scratch: in_force.redactor.scratch(),
                raw: Vec::with_capacity(64),
                line: Vec::with_capacity(1024),
                second: None,
                in_force: in_force.clone(),
            },
        };
        w.scratch.reset_counts();
        w.write(&in_force, capture, numbers);
        let queued = self.queue.push(&w.line);
        w.line.clear();
        if let Some(h) = &self.handles {
            // Labels come from fixed sets and the rule set, never from the request.
            let method = metrics::Method::from_bytes(capture.method.as_bytes());
            h.observe_request(method, capture.status, numbers.duration);
            if let Some(kind) = upstream_error(capture.error) {
                if let Some(m) = &self.metrics {
                    m.upstream_error(kind);
                }
            }
            if let Some(r) = &in_force.redactions {
                r.add(&w.scratch.counts);
            }
            if queued {
                h.record(numbers.request_bytes, numbers.response_bytes);
            } else {
                h.dropped();
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

/// The `kind` label of an upstream failure, from the record's error word.
fn upstream_error(error: Option<&str>) -> Option<metrics::UpstreamError> {
    match error? {
        "upstream_timeout" | "upstream_connect_timeout" => Some(metrics::UpstreamError::Timeout),
        "upstream_connect" => Some(metrics::UpstreamError::Connect),
        "upstream_error" => Some(metrics::UpstreamError::Protocol),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_are_written_as_rfc3339_with_milliseconds_like_humantime() {
        let mut second = None;
        for (secs, nanos) in [
            (0, 0),
            (1_764_518_501, 955_000_000),
            (1_764_518_501, 7_999_999),
        ] {
            let t = SystemTime::UNIX_EPOCH + Duration::new(secs, nanos);
            let mut out = Vec::new();
            push_time(t, &mut second, &mut out);
            let expected = humantime::format_rfc3339_millis(t).to_string();
            assert_eq!(String::from_utf8(out).unwrap(), expected);
        }
    }

    #[test]
    fn durations_are_written_in_milliseconds_with_three_decimals() {
        let ms = |d: Option<Duration>| {
            let mut out = b"{".to_vec();
            member_ms(&mut out, "d", d);
            String::from_utf8(out).unwrap()
        };
        assert_eq!(ms(Some(Duration::from_micros(412))), "{\"d\":0.412");
        assert_eq!(ms(Some(Duration::from_micros(12_005))), "{\"d\":12.005");
        assert_eq!(ms(Some(Duration::from_secs(3))), "{\"d\":3000.000");
        assert_eq!(ms(None), "{\"d\":null");
    }
}
