//! Every Prometheus metric redactd exports, and the only place their names are spelled.
//!
//! [`Metrics`] owns one [`prometheus::Registry`] holding the families listed in
//! [`FAMILIES`] (prefix `redactd_`, counters end in `_total`, durations are histograms in
//! seconds, sizes in bytes). It is built once and shared through an `Arc`; every method is
//! `&self` and lock-free apart from the first use of a label set.
//!
//! **Labels are bounded sets only, never a value from traffic.** Each label value comes
//! from one of three places:
//!
//! * a fixed enum in this module ([`Method`], [`CodeClass`], [`UpstreamError`], [`DlpOutcome`], [`Input`],
//!   [`DropReason`], [`SinkOutcome`], [`ReloadResult`], [`LineFormat`]);
//! * the loaded rule set (a rule's id and its policy data category);
//! * the configured sink names ([`Metrics::sink`]).
//!
//! So callers cannot pass a request path, a host or a matched value as a label: the methods
//! take enums and rules, not strings (apart from sink names, which come from configuration).
//!
//! Hot code adds up locally and records once per batch or per request (see
//! [`Metrics::record_filter_stats`]); the engine (`redact`, `pseudo`, `minimise`) knows
//! nothing of this module and returns counts.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::OnceLock;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use prometheus::{
    Encoder, Gauge, Histogram, HistogramOpts, HistogramVec, IntCounter, IntCounterVec, IntGauge,
    IntGaugeVec, Opts, Registry, TextEncoder,
};

use crate::filter::Stats;
use crate::redact::Redactor;
use crate::rules::Rule;

/// The kind of a metric family.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Only goes up; the name ends in `_total`.
    Counter,
    /// Goes up and down.
    Gauge,
    /// Observations in explicit buckets (`_bucket`, `_sum`, `_count` series).
    Histogram,
}

impl Kind {
    /// `counter`, `gauge` or `histogram`, as the text exposition writes it.
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Counter => "counter",
            Kind::Gauge => "gauge",
            Kind::Histogram => "histogram",
        }
    }
}

/// One metric family: name, kind, label names and help text.
#[derive(Debug, Clone, Copy)]
pub struct Family {
    /// The full name, `redactd_…`.
    pub name: &'static str,
    /// Counter, gauge or histogram.
    pub kind: Kind,
    /// Label names (each a bounded set).
    pub labels: &'static [&'static str],
    /// What it counts (the `# HELP` line and the README table).
    pub help: &'static str,
}

macro_rules! families {
    ($( $(#[$doc:meta])* $konst:ident = $name:literal, $kind:ident, [$($label:literal),*], $help:literal; )*) => {
        $( $(#[$doc])* pub const $konst: Family = Family {
            name: $name, kind: Kind::$kind, labels: &[$($label),*], help: $help,
        }; )*
        /// Every family, in the order of the README's metrics table.
        pub const FAMILIES: &[Family] = &[$($konst),*];
    };
}

families! {
    /// HTTP requests served by the proxy.
    HTTP_REQUESTS = "redactd_http_requests_total", Counter, ["code_class", "method"],
        "HTTP requests answered, by status class (1xx..5xx) and method (standard methods, else other).";
    /// Time to answer a proxied request.
    HTTP_REQUEST_DURATION = "redactd_http_request_duration_seconds", Histogram, [],
        "Seconds from a request's head to the end of its response.";
    /// Upstream failures.
    UPSTREAM_ERRORS = "redactd_upstream_errors_total", Counter, ["kind"],
        "Requests the upstream failed, by kind (connect, timeout, tls, protocol, other).";
    /// Response bodies DLP looked at.
    DLP_BODIES = "redactd_dlp_bodies_total", Counter, ["outcome"],
        "Text response bodies on DLP routes, by outcome (scanned, decoded: compressed then scanned, unscanned: passed as they were).";
    /// Open client connections.
    OPEN_CONNECTIONS = "redactd_open_connections", Gauge, [],
        "Client connections open now.";
    /// Matches transformed.
    REDACTIONS = "redactd_redactions_total", Counter, ["rule", "category"],
        "Matches transformed (redacted, masked, pseudonymised, ...), by rule id and policy data category.";
    /// Records read.
    RECORDS = "redactd_records_total", Counter, ["input"],
        "Records (log lines, requests) read, by input.";
    /// Records not passed on.
    RECORDS_DROPPED = "redactd_records_dropped_total", Counter, ["reason"],
        "Records not passed on, by reason (oversize, queue_full, sink_rejected, policy, shutdown).";
    /// Input bytes.
    INPUT_BYTES = "redactd_input_bytes_total", Counter, ["input"],
        "Bytes read, by input.";
    /// Output bytes.
    OUTPUT_BYTES = "redactd_output_bytes_total", Counter, ["input"],
        "Bytes written after redaction, by the input they came from.";
    /// Lines per format.
    LINES = "redactd_lines_total", Counter, ["format"],
        "Log lines handled, by the format actually used (text, json, combined, syslog).";
    /// Oversize lines.
    OVERSIZE_LINES = "redactd_oversize_lines_total", Counter, [],
        "Lines longer than max_line_bytes, replaced by a marker line.";
    /// Sink deliveries.
    SINK_EVENTS = "redactd_sink_events_total", Counter, ["sink", "outcome"],
        "Records handed to a sink, by sink name and outcome (sent, failed, dropped).";
    /// Sink queue depth.
    SINK_QUEUE_DEPTH = "redactd_sink_queue_depth", Gauge, ["sink"],
        "Records waiting in a sink's in-memory queue.";
    /// Sink disk buffer fill.
    SINK_BUFFER_BYTES = "redactd_sink_buffer_bytes", Gauge, ["sink"],
        "Bytes held in a sink's disk buffer.";
    /// Sink disk buffer size.
    SINK_BUFFER_MAX_BYTES = "redactd_sink_buffer_max_bytes", Gauge, ["sink"],
        "Configured size of a sink's disk buffer (0 when it has none).";
    /// Sink retries.
    SINK_RETRIES = "redactd_sink_retries_total", Counter, ["sink"],
        "Deliveries a sink retried.";
    /// Sink batch sizes.
    SINK_BATCH_SIZE = "redactd_sink_batch_size", Histogram, ["sink"],
        "Records per batch a sink sent.";
    /// Reloads.
    RELOADS = "redactd_reloads_total", Counter, ["result"],
        "Configuration reloads (SIGHUP), by result (success, failure); a failed one keeps the running config.";
    /// Age of the current key.
    KEY_EPOCH_AGE = "redactd_key_epoch_age_seconds", Gauge, [],
        "Seconds since the current pseudonymisation key epoch began (0 without a key store).";
    /// Rotation period of the key store.
    KEY_ROTATE_AFTER = "redactd_key_rotate_after_seconds", Gauge, [],
        "Configured rotation period of the key store (rotate_days), in seconds (0 without a key store).";
    /// Build information.
    BUILD_INFO = "redactd_build_info", Gauge, ["version"],
        "Always 1; the version label says which redactd is running.";
}

/// Buckets of [`HTTP_REQUEST_DURATION`], seconds: 1 ms to 30 s.
pub const DURATION_BUCKETS: &[f64] = &[
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
];

/// Buckets of [`SINK_BATCH_SIZE`], records.
pub const BATCH_BUCKETS: &[f64] = &[
    1.0, 10.0, 50.0, 100.0, 500.0, 1000.0, 5000.0, 10000.0, 50000.0,
];

macro_rules! label_enum {
    ($(#[$doc:meta])* $name:ident { $($(#[$vdoc:meta])* $variant:ident = $label:literal,)* }) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum $name { $($(#[$vdoc])* $variant,)* }

        impl $name {
            /// Every value.
            pub const ALL: &'static [$name] = &[$($name::$variant),*];

            /// The label value.
            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => $label,)* }
            }

            /// The position of this value in [`Self::ALL`].
            pub fn index(self) -> usize {
                self as usize
            }
        }
    };
}

label_enum! {
    /// The `method` label: the standard methods, everything else is `other`.
    Method {
        /// GET
        Get = "GET",
        /// HEAD
        Head = "HEAD",
        /// POST
        Post = "POST",
        /// PUT
        Put = "PUT",
        /// DELETE
        Delete = "DELETE",
        /// CONNECT
        Connect = "CONNECT",
        /// OPTIONS
        Options = "OPTIONS",
        /// TRACE
        Trace = "TRACE",
        /// PATCH
        Patch = "PATCH",
        /// Any other method (never the method's own text).
        Other = "other",
    }
}

impl Method {
    /// The label for a request method as it came off the wire (case-sensitive, as HTTP is).
    pub fn from_bytes(method: &[u8]) -> Method {
        match method {
            b"GET" => Method::Get,
            b"HEAD" => Method::Head,
            b"POST" => Method::Post,
            b"PUT" => Method::Put,
            b"DELETE" => Method::Delete,
            b"CONNECT" => Method::Connect,
            b"OPTIONS" => Method::Options,
            b"TRACE" => Method::Trace,
            b"PATCH" => Method::Patch,
            _ => Method::Other,
        }
    }
}

label_enum! {
    /// The `code_class` label of a status code.
    CodeClass {
        /// 100–199
        Informational = "1xx",
        /// 200–299
        Success = "2xx",
        /// 300–399
        Redirection = "3xx",
        /// 400–499
        ClientError = "4xx",
        /// 500–599
        ServerError = "5xx",
        /// Anything else.
        Other = "other",
    }
}

impl CodeClass {
    /// The class of a status code.
    pub fn of(status: u16) -> CodeClass {
        match status {
            100..=199 => CodeClass::Informational,
            200..=299 => CodeClass::Success,
            300..=399 => CodeClass::Redirection,
            400..=499 => CodeClass::ClientError,
            500..=599 => CodeClass::ServerError,
            _ => CodeClass::Other,
        }
    }
}

label_enum! {
    /// The `kind` label of [`UPSTREAM_ERRORS`].
    UpstreamError {
        /// Could not connect (refused, unreachable, DNS).
        Connect = "connect",
        /// Connect or response timed out.
        Timeout = "timeout",
        /// TLS handshake or certificate failure.
        Tls = "tls",
        /// The upstream broke HTTP (bad response, reset mid-body).
        Protocol = "protocol",
        /// Anything else.
        Other = "other",
    }
}

label_enum! {
    /// The `input` label: where records came from.
    Input {
        /// `redactd filter` (stdin or files).
        Filter = "filter",
        /// A syslog listener.
        Syslog = "syslog",
        /// Standard input of `redactd run`.
        Stdin = "stdin",
        /// Followed files.
        File = "file",
        /// The reverse proxy (one record per request).
        Proxy = "proxy",
    }
}

label_enum! {
    /// The `reason` label of [`RECORDS_DROPPED`].
    DropReason {
        /// Longer than the line limit (replaced by a marker).
        Oversize = "oversize",
        /// A sink queue was full and its overflow policy drops.
        QueueFull = "queue_full",
        /// A sink refused the record permanently.
        SinkRejected = "sink_rejected",
        /// A rule or profile says drop.
        Policy = "policy",
        /// Still queued when the drain time ran out at shutdown.
        Shutdown = "shutdown",
    }
}

label_enum! {
    /// The `outcome` label of [`SINK_EVENTS`].
    SinkOutcome {
        /// Delivered.
        Sent = "sent",
        /// Delivery failed (will be retried or dropped).
        Failed = "failed",
        /// Given up on.
        Dropped = "dropped",
    }
}

label_enum! {
    /// The `outcome` label of [`DLP_BODIES`].
    DlpOutcome {
        /// A plain text body, scanned.
        Scanned = "scanned",
        /// A compressed body, decoded, scanned and encoded again.
        Decoded = "decoded",
        /// Passed unscanned: compressed (passing was configured, or the coding is one DLP
        /// cannot decode) or a server-sent event stream.
        Unscanned = "unscanned",
    }
}

label_enum! {
    /// The `result` label of [`RELOADS`].
    ReloadResult {
        /// The new configuration is in force.
        Success = "success",
        /// The new configuration was refused; the running one stays.
        Failure = "failure",
    }
}

label_enum! {
    /// The `format` label of [`LINES`], in the order of `filter::Stats::lines_by_format`.
    LineFormat {
        /// Free text.
        Text = "text",
        /// JSON lines.
        Json = "json",
        /// Common / combined access log.
        Combined = "combined",
        /// Syslog.
        Syslog = "syslog",
    }
}

/// The metrics of one process. Build once, share with `Arc`.
pub struct Metrics {
    registry: Registry,
    http_requests: IntCounterVec,
    http_request_duration: Histogram,
    upstream_errors: IntCounterVec,
    dlp_bodies: IntCounterVec,
    open_connections: IntGauge,
    redactions: IntCounterVec,
    records: IntCounterVec,
    records_dropped: IntCounterVec,
    input_bytes: IntCounterVec,
    output_bytes: IntCounterVec,
    lines: IntCounterVec,
    oversize_lines: IntCounter,
    sink_events: IntCounterVec,
    sink_queue_depth: IntGaugeVec,
    sink_buffer_bytes: IntGaugeVec,
    sink_buffer_max_bytes: IntGaugeVec,
    sink_retries: IntCounterVec,
    sink_batch_size: HistogramVec,
    reloads: IntCounterVec,
    key_epoch_age: Gauge,
    key_rotate_after: Gauge,
    /// Unix seconds the current key epoch began; 0 = no key store. The age gauge is
    /// computed from it at each [`Metrics::encode`].
    key_epoch_start: AtomicU64,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Metrics").finish_non_exhaustive()
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics::new()
    }
}

fn opts(family: &Family) -> Opts {
    Opts::new(family.name, family.help)
}

// === impl Metrics ===

impl Metrics {
    /// Builds every family and registers it in a fresh registry. Label sets of the fixed
    /// enums that alerts watch (drop reasons, reload results, line formats) start at 0, so
    /// `rate()` and `increase()` see the first event.
    pub fn new() -> Self {
        let registry = Registry::new();
        macro_rules! reg {
            ($metric:expr) => {{
                let m = $metric.expect("metric definitions are valid");
                registry
                    .register(Box::new(m.clone()))
                    .expect("every metric name is registered once");
                m
            }};
        }
        let counter_vec = |f: &Family| IntCounterVec::new(opts(f), f.labels);
        let gauge_vec = |f: &Family| IntGaugeVec::new(opts(f), f.labels);
        let metrics = Metrics {
            http_requests: reg!(counter_vec(&HTTP_REQUESTS)),
            http_request_duration: reg!(Histogram::with_opts(
                HistogramOpts::new(HTTP_REQUEST_DURATION.name, HTTP_REQUEST_DURATION.help)
                    .buckets(DURATION_BUCKETS.to_vec())
            )),
            upstream_errors: reg!(counter_vec(&UPSTREAM_ERRORS)),
            dlp_bodies: reg!(counter_vec(&DLP_BODIES)),
            open_connections: reg!(IntGauge::with_opts(opts(&OPEN_CONNECTIONS))),
            redactions: reg!(counter_vec(&REDACTIONS)),
            records: reg!(counter_vec(&RECORDS)),
            records_dropped: reg!(counter_vec(&RECORDS_DROPPED)),
            input_bytes: reg!(counter_vec(&INPUT_BYTES)),
            output_bytes: reg!(counter_vec(&OUTPUT_BYTES)),
            lines: reg!(counter_vec(&LINES)),
            oversize_lines: reg!(IntCounter::with_opts(opts(&OVERSIZE_LINES))),
            sink_events: reg!(counter_vec(&SINK_EVENTS)),
            sink_queue_depth: reg!(gauge_vec(&SINK_QUEUE_DEPTH)),
            sink_buffer_bytes: reg!(gauge_vec(&SINK_BUFFER_BYTES)),
            sink_buffer_max_bytes: reg!(gauge_vec(&SINK_BUFFER_MAX_BYTES)),
            sink_retries: reg!(counter_vec(&SINK_RETRIES)),
            sink_batch_size: reg!(HistogramVec::new(
                HistogramOpts::new(SINK_BATCH_SIZE.name, SINK_BATCH_SIZE.help)
                    .buckets(BATCH_BUCKETS.to_vec()),
                SINK_BATCH_SIZE.labels
            )),
            reloads: reg!(counter_vec(&RELOADS)),
            key_epoch_age: reg!(Gauge::with_opts(opts(&KEY_EPOCH_AGE))),
            key_rotate_after: reg!(Gauge::with_opts(opts(&KEY_ROTATE_AFTER))),
            key_epoch_start: AtomicU64::new(0),
            registry,
        };
        let build_info = reg_build_info(&metrics.registry);
        build_info
            .with_label_values(&[env!("CARGO_PKG_VERSION")])
            .set(1);
        for reason in DropReason::ALL {
            metrics
                .records_dropped
                .with_label_values(&[reason.as_str()]);
        }
        for outcome in DlpOutcome::ALL {
            metrics.dlp_bodies.with_label_values(&[outcome.as_str()]);
        }
        for result in ReloadResult::ALL {
            metrics.reloads.with_label_values(&[result.as_str()]);
        }
        for format in LineFormat::ALL {
            metrics.lines.with_label_values(&[format.as_str()]);
        }
        metrics
    }

    /// The registry, for a caller that gathers or encodes itself.
    pub fn registry(&self) -> &Registry {
        &self.registry
    }

    /// The Prometheus text exposition (format 0.0.4) of every family.
    pub fn encode(&self) -> String {
        self.update_key_epoch_age(SystemTime::now());
        let mut out = Vec::with_capacity(8 * 1024);
        TextEncoder::new()
            .encode(&self.registry.gather(), &mut out)
            .expect("encoding into a Vec cannot fail");
        String::from_utf8(out).expect("the text exposition is UTF-8")
    }

    /// The `Content-Type` of [`Metrics::encode`]'s output.
    pub fn content_type() -> &'static str {
        prometheus::TEXT_FORMAT
    }

    // --- proxy ---

    /// One answered request: method, status code and time taken.
    pub fn observe_request(&self, method: Method, status: u16, elapsed: Duration) {
        self.http_requests
            .with_label_values(&[CodeClass::of(status).as_str(), method.as_str()])
            .inc();
        self.http_request_duration.observe(elapsed.as_secs_f64());
    }

    /// Handles for what the proxy counts on every request, looked up once instead of by
    /// label values each time.
    pub fn proxy_handles(&self) -> ProxyHandles {
        let proxy = [Input::Proxy.as_str()];
        ProxyHandles {
            requests: std::iter::repeat_with(OnceLock::new)
                .take(CodeClass::ALL.len() * Method::ALL.len())
                .collect(),
            http_requests: self.http_requests.clone(),
            duration: self.http_request_duration.clone(),
            records: self.records.with_label_values(&proxy),
            input_bytes: self.input_bytes.with_label_values(&proxy),
            output_bytes: self.output_bytes.with_label_values(&proxy),
            dropped: self
                .records_dropped
                .with_label_values(&[DropReason::QueueFull.as_str()]),
        }
    }

    /// Handles for the redaction counters of `rules` (a rule set's order), each looked up
    /// on its first use.
    pub fn redaction_handles(&self, rules: &[Rule]) -> RedactionHandles {
        RedactionHandles {
            family: self.redactions.clone(),
            labels: rules
                .iter()
                .map(|r| (r.id.clone(), r.category.as_str()))
                .collect(),
            handles: std::iter::repeat_with(OnceLock::new)
                .take(rules.len())
                .collect(),
        }
    }

    /// One upstream failure.
    pub fn upstream_error(&self, kind: UpstreamError) {
        self.upstream_errors
            .with_label_values(&[kind.as_str()])
            .inc();
    }

    /// One text response body on a DLP route, and what DLP did with it.
    pub fn dlp_body(&self, outcome: DlpOutcome) {
        self.dlp_bodies.with_label_values(&[outcome.as_str()]).inc();
    }

    /// Counts a client connection as open until the returned guard is dropped.
    pub fn connection_opened(&self) -> OpenConnection {
        self.open_connections.inc();
        OpenConnection(self.open_connections.clone())
    }

    /// Client connections open now.
    pub fn open_connections(&self) -> i64 {
        self.open_connections.get()
    }

    // --- records and redactions ---

    /// `n` records read from `input`, `bytes_in` bytes in and `bytes_out` out.
    pub fn add_records(&self, input: Input, n: u64, bytes_in: u64, bytes_out: u64) {
        self.records.with_label_values(&[input.as_str()]).inc_by(n);
        self.input_bytes
            .with_label_values(&[input.as_str()])
            .inc_by(bytes_in);
        self.output_bytes
            .with_label_values(&[input.as_str()])
            .inc_by(bytes_out);
    }

    /// `n` records dropped for `reason`.
    pub fn add_dropped(&self, reason: DropReason, n: u64) {
        self.records_dropped
            .with_label_values(&[reason.as_str()])
            .inc_by(n);
    }

    /// `n` matches of `rule` transformed. The labels are the rule's id and category.
    pub fn add_redactions(&self, rule: &Rule, n: u64) {
        self.add_redactions_of(&rule.id, rule.category.as_str(), n);
    }

    /// `n` matches transformed by the rule with `id` in `category` (both from a rule set,
    /// never from traffic).
    pub fn add_redactions_of(&self, id: &str, category: &str, n: u64) {
        if n > 0 {
            self.redactions.with_label_values(&[id, category]).inc_by(n);
        }
    }

    /// Adds the counters of a `filter` run (or of one batch of a long-running input):
    /// records, bytes, lines per format, oversize lines (also counted as dropped with
    /// reason `oversize`) and redactions per rule of `redactor`'s rule set.
    pub fn record_filter_stats(&self, stats: &Stats, redactor: &Redactor) {
        self.add_records(Input::Filter, stats.lines, stats.bytes_in, stats.bytes_out);
        for (format, n) in LineFormat::ALL.iter().zip(stats.lines_by_format) {
            self.lines.with_label_values(&[format.as_str()]).inc_by(n);
        }
        self.oversize_lines.inc_by(stats.oversize_lines);
        self.add_dropped(DropReason::Oversize, stats.oversize_lines);
        for (rule, &n) in redactor.rules().iter().zip(&stats.redactions) {
            self.add_redactions(rule, n);
        }
    }

    // --- sinks ---

    /// The metrics of the sink called `name` (a name from the configuration, never one
    /// made from traffic). Resolve once when the sink starts and keep the handle.
    pub fn sink(&self, name: &str) -> SinkMetrics {
        let one = |v: &IntCounterVec, outcome: SinkOutcome| {
            v.with_label_values(&[name, outcome.as_str()])
        };
        SinkMetrics {
            sent: one(&self.sink_events, SinkOutcome::Sent),
            failed: one(&self.sink_events, SinkOutcome::Failed),
            dropped: one(&self.sink_events, SinkOutcome::Dropped),
            queue_depth: self.sink_queue_depth.with_label_values(&[name]),
            buffer_bytes: self.sink_buffer_bytes.with_label_values(&[name]),
            buffer_max_bytes: self.sink_buffer_max_bytes.with_label_values(&[name]),
            retries: self.sink_retries.with_label_values(&[name]),
            batch_size: self.sink_batch_size.with_label_values(&[name]),
        }
    }

    // --- reloads and keys ---

    /// One reload attempt.
    pub fn reload(&self, result: ReloadResult) {
        self.reloads.with_label_values(&[result.as_str()]).inc();
    }

    /// The current key epoch began at `created`; the key store rotates every
    /// `rotate_after`. The age gauge follows the clock at every scrape.
    pub fn set_key_epoch(&self, created: SystemTime, rotate_after: Duration) {
        let secs = created
            .duration_since(UNIX_EPOCH)
            .map_or(1, |d| d.as_secs().max(1));
        self.key_epoch_start.store(secs, Ordering::Relaxed);
        self.key_rotate_after.set(rotate_after.as_secs_f64());
        self.update_key_epoch_age(SystemTime::now());
    }

    fn update_key_epoch_age(&self, now: SystemTime) {
        let start = self.key_epoch_start.load(Ordering::Relaxed);
        if start == 0 {
            return;
        }
        let now = now.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
        self.key_epoch_age.set(now.saturating_sub(start) as f64);
    }
}

fn reg_build_info(registry: &Registry) -> IntGaugeVec {
    let g = IntGaugeVec::new(opts(&BUILD_INFO), BUILD_INFO.labels).expect("valid metric");
    registry
        .register(Box::new(g.clone()))
        .expect("registered once");
    g
}

/// An open client connection; dropping it lowers `redactd_open_connections`.
#[derive(Debug)]
pub struct OpenConnection(IntGauge);

impl Drop for OpenConnection {
    fn drop(&mut self) {
        self.0.dec();
    }
}

/// The metrics of one sink, resolved once (no label lookups on the hot path).
#[derive(Debug, Clone)]
pub struct SinkMetrics {
    sent: IntCounter,
    failed: IntCounter,
    dropped: IntCounter,
    queue_depth: IntGauge,
    buffer_bytes: IntGauge,
    buffer_max_bytes: IntGauge,
    retries: IntCounter,
    batch_size: Histogram,
}

// === impl SinkMetrics ===

impl SinkMetrics {
    /// `n` records with `outcome`.
    pub fn events(&self, outcome: SinkOutcome, n: u64) {
        match outcome {
            SinkOutcome::Sent => &self.sent,
            SinkOutcome::Failed => &self.failed,
            SinkOutcome::Dropped => &self.dropped,
        }
        .inc_by(n);
    }

    /// One batch of `records` sent.
    pub fn batch(&self, records: usize) {
        self.batch_size.observe(records as f64);
    }

    /// One retried delivery.
    pub fn retry(&self) {
        self.retries.inc();
    }

    /// Records waiting in the queue now.
    pub fn set_queue_depth(&self, records: usize) {
        self.queue_depth.set(records as i64);
    }

    /// Bytes in the disk buffer now, and its configured size.
    pub fn set_buffer(&self, bytes: u64, max_bytes: u64) {
        self.buffer_bytes.set(bytes as i64);
        self.buffer_max_bytes.set(max_bytes as i64);
    }
}

/// The proxy's per-request counters, from [`Metrics::proxy_handles`].
pub struct ProxyHandles {
    /// `http_requests_total` by code class and method, created on first use (label sets
    /// that never occur stay out of the exposition).
    requests: Vec<OnceLock<IntCounter>>,
    http_requests: IntCounterVec,
    duration: Histogram,
    records: IntCounter,
    input_bytes: IntCounter,
    output_bytes: IntCounter,
    dropped: IntCounter,
}

impl ProxyHandles {
    /// One answered request: method, status code and time taken.
    pub fn observe_request(&self, method: Method, status: u16, elapsed: Duration) {
        let class = CodeClass::of(status);
        self.requests[class.index() * Method::ALL.len() + method.index()]
            .get_or_init(|| {
                self.http_requests
                    .with_label_values(&[class.as_str(), method.as_str()])
            })
            .inc();
        self.duration.observe(elapsed.as_secs_f64());
    }

    /// One record queued, of a request of `bytes_in` body bytes and a response of
    /// `bytes_out`.
    pub fn record(&self, bytes_in: u64, bytes_out: u64) {
        self.records.inc();
        self.input_bytes.inc_by(bytes_in);
        self.output_bytes.inc_by(bytes_out);
    }

    /// One record dropped because the queue was full.
    pub fn dropped(&self) {
        self.dropped.inc();
    }
}

/// The redaction counters of one rule set, from [`Metrics::redaction_handles`].
pub struct RedactionHandles {
    family: IntCounterVec,
    /// Each rule's id and category.
    labels: Vec<(String, &'static str)>,
    handles: Vec<OnceLock<IntCounter>>,
}

impl RedactionHandles {
    /// Adds per-rule counts (indexed as the rule set the handles were made for).
    pub fn add(&self, counts: &[u64]) {
        for ((handle, (id, category)), &n) in self.handles.iter().zip(&self.labels).zip(counts) {
            if n > 0 {
                handle
                    .get_or_init(|| self.family.with_label_values(&[id, category]))
                    .inc_by(n);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pseudo::{Key, Pseudonymiser};
    use crate::rules::RuleSet;

    fn redactor(rules: &RuleSet) -> Redactor {
        let key = Key::from_bytes([7; 32]);
        Redactor::new(rules, Some(Pseudonymiser::new(&key))).unwrap()
    }

    fn value(text: &str, series: &str) -> Option<f64> {
        text.lines()
            .find_map(|l| l.strip_prefix(series)?.strip_prefix(' ')?.parse().ok())
    }

    #[test]
    fn every_family_is_in_the_exposition_once_touched_with_help_and_type() {
        let m = Metrics::new();
        m.observe_request(Method::Get, 204, Duration::from_millis(3));
        m.upstream_error(UpstreamError::Timeout);
        let _conn = m.connection_opened();
        let s = m.sink("clickhouse");
        s.events(SinkOutcome::Sent, 1);
        s.batch(10);
        m.add_records(Input::Proxy, 1, 10, 10);
        m.set_key_epoch(SystemTime::now(), Duration::from_secs(86_400));
        let rules = RuleSet::shipped();
        let redactor = redactor(&rules);
        let mut stats = Stats {
            redactions: vec![0; redactor.rules().len()],
            ..Stats::default()
        };
        stats.redactions[0] = 1;
        m.record_filter_stats(&stats, &redactor);
        let text = m.encode();
        for f in FAMILIES {
            assert!(f.name.starts_with("redactd_"), "{}", f.name);
            assert_eq!(
                f.kind == Kind::Counter,
                f.name.ends_with("_total"),
                "{}",
                f.name
            );
            assert!(
                text.contains(&format!("# TYPE {} {}\n", f.name, f.kind.as_str())),
                "{} missing:\n{text}",
                f.name
            );
            assert!(text.contains(&format!("# HELP {} ", f.name)));
        }
        let types = text.lines().filter(|l| l.starts_with("# TYPE ")).count();
        assert_eq!(types, FAMILIES.len(), "a family not in FAMILIES:\n{text}");
    }

    #[test]
    fn requests_are_labelled_by_status_class_and_bounded_method() {
        let m = Metrics::new();
        m.observe_request(Method::from_bytes(b"GET"), 200, Duration::from_millis(2));
        m.observe_request(Method::from_bytes(b"GET"), 201, Duration::from_millis(2));
        m.observe_request(
            Method::from_bytes(b"X-EVIL-jane@example.com"),
            404,
            Duration::ZERO,
        );
        m.observe_request(Method::from_bytes(b"get"), 999, Duration::from_secs(60));
        let t = m.encode();
        assert_eq!(
            value(
                &t,
                r#"redactd_http_requests_total{code_class="2xx",method="GET"}"#
            ),
            Some(2.0)
        );
        assert_eq!(
            value(
                &t,
                r#"redactd_http_requests_total{code_class="4xx",method="other"}"#
            ),
            Some(1.0)
        );
        assert_eq!(
            value(
                &t,
                r#"redactd_http_requests_total{code_class="other",method="other"}"#
            ),
            Some(1.0)
        );
        assert!(!t.contains("jane") && !t.contains("EVIL"), "{t}");
        assert_eq!(
            value(
                &t,
                r#"redactd_http_request_duration_seconds_bucket{le="0.0025"}"#
            ),
            Some(3.0)
        );
        assert_eq!(
            value(
                &t,
                r#"redactd_http_request_duration_seconds_bucket{le="+Inf"}"#
            ),
            Some(4.0)
        );
        assert_eq!(
            value(&t, "redactd_http_request_duration_seconds_count"),
            Some(4.0)
        );
    }

    #[test]
    fn filter_stats_become_per_rule_and_category_counters() {
        let rules = RuleSet::shipped();
        let redactor = redactor(&rules);
        let email = redactor
            .rules()
            .iter()
            .position(|r| r.id == "email")
            .expect("a shipped email rule");
        let mut stats = Stats {
            lines: 7,
            bytes_in: 700,
            bytes_out: 650,
            oversize_lines: 1,
            lines_by_format: [3, 2, 1, 1],
            redactions: vec![0; redactor.rules().len()],
        };
        stats.redactions[email] = 5;
        let m = Metrics::new();
        m.record_filter_stats(&stats, &redactor);
        m.record_filter_stats(&stats, &redactor);
        let t = m.encode();
        let category = redactor.rules()[email].category.as_str();
        assert_eq!(
            value(
                &t,
                &format!(r#"redactd_redactions_total{{category="{category}",rule="email"}}"#)
            ),
            Some(10.0)
        );
        // Rules that matched nothing have no series.
        assert_eq!(t.matches("redactd_redactions_total{").count(), 1, "{t}");
        assert_eq!(
            value(&t, r#"redactd_records_total{input="filter"}"#),
            Some(14.0)
        );
        assert_eq!(
            value(&t, r#"redactd_input_bytes_total{input="filter"}"#),
            Some(1400.0)
        );
        assert_eq!(
            value(&t, r#"redactd_lines_total{format="text"}"#),
            Some(6.0)
        );
        assert_eq!(
            value(&t, r#"redactd_lines_total{format="syslog"}"#),
            Some(2.0)
        );
        assert_eq!(value(&t, "redactd_oversize_lines_total"), Some(2.0));
        assert_eq!(
            value(&t, r#"redactd_records_dropped_total{reason="oversize"}"#),
            Some(2.0)
        );
    }

    #[test]
    fn alerting_label_sets_start_at_zero() {
        let t = Metrics::new().encode();
        assert_eq!(
            value(&t, r#"redactd_reloads_total{result="failure"}"#),
            Some(0.0)
        );
        assert_eq!(
            value(&t, r#"redactd_records_dropped_total{reason="queue_full"}"#),
            Some(0.0)
        );
        assert_eq!(
            value(
                &t,
                &format!(
                    r#"redactd_build_info{{version="{}"}}"#,
                    env!("CARGO_PKG_VERSION")
                )
            ),
            Some(1.0)
        );
    }

    #[test]
    fn sink_handles_and_connection_guards() {
        let m = Metrics::new();
        let s = m.sink("http");
        s.events(SinkOutcome::Sent, 3);
        s.events(SinkOutcome::Failed, 1);
        s.retry();
        s.set_queue_depth(12);
        s.set_buffer(4096, 1 << 20);
        s.batch(3);
        {
            let _a = m.connection_opened();
            let _b = m.connection_opened();
            assert_eq!(m.open_connections(), 2);
        }
        assert_eq!(m.open_connections(), 0);
        let t = m.encode();
        assert_eq!(
            value(
                &t,
                r#"redactd_sink_events_total{outcome="sent",sink="http"}"#
            ),
            Some(3.0)
        );
        assert_eq!(
            value(&t, r#"redactd_sink_retries_total{sink="http"}"#),
            Some(1.0)
        );
        assert_eq!(
            value(&t, r#"redactd_sink_queue_depth{sink="http"}"#),
            Some(12.0)
        );
        assert_eq!(
            value(&t, r#"redactd_sink_buffer_max_bytes{sink="http"}"#),
            Some(1048576.0)
        );
        assert_eq!(
            value(&t, r#"redactd_sink_batch_size_bucket{sink="http",le="10"}"#),
            Some(1.0)
        );
    }

    #[test]
    fn key_epoch_age_follows_the_clock() {
        let m = Metrics::new();
        assert_eq!(
            value(&m.encode(), "redactd_key_epoch_age_seconds"),
            Some(0.0)
        );
        let created = SystemTime::now() - Duration::from_secs(3 * 86_400);
        m.set_key_epoch(created, Duration::from_secs(30 * 86_400));
        let t = m.encode();
        let age = value(&t, "redactd_key_epoch_age_seconds").unwrap();
        assert!(
            (3.0 * 86_400.0..3.0 * 86_400.0 + 60.0).contains(&age),
            "{age}"
        );
        assert_eq!(
            value(&t, "redactd_key_rotate_after_seconds"),
            Some(30.0 * 86_400.0)
        );
    }

    #[test]
    fn two_instances_do_not_share_a_registry() {
        let a = Metrics::new();
        let b = Metrics::new();
        a.upstream_error(UpstreamError::Tls);
        assert!(!b.encode().contains("redactd_upstream_errors_total{"));
    }
}
