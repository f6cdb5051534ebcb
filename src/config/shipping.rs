//! The `[[input]]` and `[[sink]]` sections of `redactd run`: raw (serde, unknown keys
//! rejected) and checked. Keys that do not apply to a section's `type` are errors too, so
//! a misplaced key never passes silently. Every key is documented in
//! `config/redactd.toml`.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use serde::Deserialize;
use toml::Spanned;

use super::{choice, Problem};
use crate::format::Format;
use crate::minimise::profile::Profile;
use crate::sink::clickhouse::ClickHouseOptions;
use crate::sink::encode::Encoding;
use crate::sink::file::FileOptions;
use crate::sink::http::HttpOptions;
use crate::sink::syslog::{Framing, Protocol, SyslogOptions};
use crate::sink::{Batching, DiskOptions, RetryPolicy, WhenFull};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawInput {
    #[serde(rename = "type")]
    kind: Spanned<String>,
    name: Option<Spanned<String>>,
    format: Option<Spanned<String>>,
    udp: Option<Spanned<String>>,
    tcp: Option<Spanned<String>>,
    max_message_bytes: Option<Spanned<u64>>,
    tls_cert: Option<Spanned<String>>,
    tls_key: Option<Spanned<String>>,
    sinks: Option<Vec<Spanned<String>>>,
    // proxy
    listen: Option<Spanned<String>>,
    upstream: Option<Spanned<String>>,
    dlp: Option<Spanned<bool>>,
    dlp_compressed: Option<Spanned<String>>,
    #[serde(default)]
    trusted_proxies: Vec<Spanned<String>>,
    #[serde(default)]
    route: Vec<Spanned<RawRoute>>,
    limits: Option<Spanned<RawLimits>>,
    #[serde(default)]
    log_headers: Vec<Spanned<String>>,
    upstream_ca: Option<Spanned<String>>,
}

/// `limits = { … }` of a proxy input: each key overrides one default of
/// [`crate::proxy::Limits`].
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawLimits {
    header_timeout_secs: Option<Spanned<u64>>,
    idle_timeout_secs: Option<Spanned<u64>>,
    max_header_bytes: Option<Spanned<u64>>,
    max_body_bytes: Option<Spanned<u64>>,
    body_timeout_secs: Option<Spanned<u64>>,
    connect_timeout_secs: Option<Spanned<u64>>,
    response_timeout_secs: Option<Spanned<u64>>,
    upstream_idle_secs: Option<Spanned<u64>>,
    max_connections: Option<Spanned<u64>>,
    drain_secs: Option<Spanned<u64>>,
}

/// `[[input.route]]`: a host and path prefix sent to their own upstream.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawRoute {
    name: Option<Spanned<String>>,
    host: Option<Spanned<String>>,
    path: Option<Spanned<String>>,
    upstream: Spanned<String>,
    dlp: Option<bool>,
    dlp_compressed: Option<Spanned<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawSink {
    name: Spanned<String>,
    #[serde(rename = "type")]
    kind: Spanned<String>,
    profile: Option<Spanned<String>>,
    encoding: Option<Spanned<String>>,
    queue_records: Option<Spanned<u64>>,
    when_full: Option<Spanned<String>>,
    disk_buffer: Option<Spanned<RawDisk>>,
    batch_records: Option<Spanned<u64>>,
    batch_bytes: Option<Spanned<u64>>,
    batch_timeout_ms: Option<Spanned<u64>>,
    retry_initial_ms: Option<Spanned<u64>>,
    retry_max_ms: Option<Spanned<u64>>,
    // file
    path: Option<Spanned<String>>,
    rotate_bytes: Option<Spanned<u64>>,
    rotate_secs: Option<Spanned<u64>>,
    retention_days: Option<Spanned<u32>>,
    fsync: Option<Spanned<bool>>,
    // syslog
    address: Option<Spanned<String>>,
    protocol: Option<Spanned<String>>,
    framing: Option<Spanned<String>>,
    hostname: Option<Spanned<String>>,
    app_name: Option<Spanned<String>>,
    // http, clickhouse
    url: Option<Spanned<String>>,
    gzip: Option<Spanned<bool>>,
    bearer_token_env: Option<Spanned<String>>,
    ca_file: Option<Spanned<String>>,
    timeout_secs: Option<Spanned<u64>>,
    database: Option<Spanned<String>>,
    table: Option<Spanned<String>>,
    user: Option<Spanned<String>>,
    password_env: Option<Spanned<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawDisk {
    dir: String,
    max_bytes: Spanned<u64>,
    fsync: Option<bool>,
}

/// Where a syslog input listens.
#[derive(Debug, Clone)]
pub struct SyslogListen {
    /// UDP address.
    pub udp: Option<SocketAddr>,
    /// TCP address.
    pub tcp: Option<SocketAddr>,
    /// TLS certificate chain and key (PEM) for TCP.
    pub tls: Option<(PathBuf, PathBuf)>,
}

/// What an input reads.
#[derive(Debug, Clone)]
pub enum InputKind {
    /// Lines on standard input.
    Stdin,
    /// A syslog receiver.
    Syslog(SyslogListen),
    /// The reverse proxy: one access record per request.
    Proxy(ProxyListen),
}

/// Where a proxy input listens and what it forwards to.
#[derive(Debug, Clone)]
pub struct ProxyListen {
    /// Listening address.
    pub listen: SocketAddr,
    /// Where requests go: the `[[input.route]]`s in order, then the input's own `upstream`
    /// as a catch-all route named `default`.
    pub routes: Vec<crate::proxy::Route>,
    /// TLS certificate and key (PEM) to terminate TLS with.
    pub tls: Option<(PathBuf, PathBuf)>,
    /// Peers whose forwarding headers are believed (CIDR).
    pub trusted_proxies: Vec<String>,
    /// Limits and timeouts.
    pub limits: crate::proxy::Limits,
    /// Request headers copied into the record (`None`: the proxy's default list).
    pub log_headers: Option<Vec<http::HeaderName>>,
    /// Extra CA certificates (PEM) for HTTPS upstreams.
    pub upstream_ca: Option<PathBuf>,
}

/// A checked `[[input]]`.
#[derive(Debug, Clone)]
pub struct InputConfig {
    /// Its name (default: its type).
    pub name: String,
    /// What it reads.
    pub kind: InputKind,
    /// How its lines are parsed (stdin: `auto`; syslog: `syslog`).
    pub format: Format,
    /// Longest line or message; longer ones are dropped and counted.
    pub max_message_bytes: usize,
    /// Indexes into [`super::Config::sinks`] of the sinks it feeds (default: all).
    pub sinks: Vec<usize>,
}

/// What a sink is.
#[derive(Debug, Clone)]
pub enum SinkKind {
    /// Standard output.
    Stdout,
    /// A file.
    File(FileOptions),
    /// A syslog relay.
    Syslog(SyslogOptions),
    /// An HTTP collector (NDJSON).
    Http(HttpOptions),
    /// A ClickHouse table.
    ClickHouse(ClickHouseOptions),
}

/// A checked `[[sink]]`.
#[derive(Debug, Clone)]
pub struct SinkConfig {
    /// Its name (unique).
    pub name: String,
    /// The purpose profile its records are minimised with.
    pub profile: Option<String>,
    /// What it is.
    pub kind: SinkKind,
    /// The shape of its records.
    pub encoding: Encoding,
    /// In-memory queue capacity, records.
    pub queue_records: usize,
    /// Overflow policy.
    pub when_full: WhenFull,
    /// Batching.
    pub batching: Batching,
    /// Retries.
    pub retry: RetryPolicy,
    /// Disk buffer.
    pub disk: Option<DiskOptions>,
}

/// Keys and the sink types they apply to.
const TYPED_KEYS: &[(&str, &[&str])] = &[
    ("encoding", &["stdout", "file"]),
    ("path", &["file"]),
    ("rotate_bytes", &["file"]),
    ("rotate_secs", &["file"]),
    ("retention_days", &["file"]),
    ("fsync", &["file"]),
    ("address", &["syslog"]),
    ("protocol", &["syslog"]),
    ("framing", &["syslog"]),
    ("hostname", &["syslog"]),
    ("app_name", &["syslog"]),
    ("url", &["http", "clickhouse"]),
    ("gzip", &["http", "clickhouse"]),
    ("bearer_token_env", &["http"]),
    ("ca_file", &["http"]),
    ("timeout_secs", &["syslog", "http", "clickhouse"]),
    ("database", &["clickhouse"]),
    ("table", &["clickhouse"]),
    ("user", &["clickhouse"]),
    ("password_env", &["clickhouse"]),
];

fn span<T>(v: &Option<Spanned<T>>) -> Option<std::ops::Range<usize>> {
    v.as_ref().map(|v| v.span())
}

fn required<'a>(
    v: &'a Option<Spanned<String>>,
    key: &str,
    kind: &Spanned<String>,
) -> Result<&'a Spanned<String>, Problem> {
    v.as_ref().ok_or_else(|| {
        (
            kind.span(),
            format!("a `{}` sink needs `{key}`", kind.get_ref()),
        )
    })
}

fn positive(v: &Option<Spanned<u64>>, default: u64) -> Result<u64, Problem> {
    match v {
        Some(v) if *v.get_ref() == 0 => Err((v.span(), "must be at least 1".into())),
        Some(v) => Ok(*v.get_ref()),
        None => Ok(default),
    }
}

fn env_value(name: &Spanned<String>) -> Result<String, Problem> {
    std::env::var(name.get_ref()).map_err(|_| {
        (
            name.span(),
            format!("environment variable `{}` is not set", name.get_ref()),
        )
    })
}

fn this_host() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|s| s.trim().to_string())
        .ok()
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "-".into())
}

pub(super) fn build_sinks(
    raw: Vec<RawSink>,
    profiles: &BTreeMap<String, Profile>,
    resolve: &dyn Fn(&str) -> PathBuf,
) -> Result<Vec<SinkConfig>, Problem> {
    let mut out: Vec<SinkConfig> = Vec::new();
    for r in raw {
        let name = r.name.get_ref().clone();
        let at = |m: String| format!("sink `{name}`: {m}");
        build_sink(r, profiles, resolve, &out)
            .map(|s| out.push(s))
            .map_err(|(span, m)| (span, at(m)))?;
    }
    Ok(out)
}

fn build_sink(
    r: RawSink,
    profiles: &BTreeMap<String, Profile>,
    resolve: &dyn Fn(&str) -> PathBuf,
    earlier: &[SinkConfig],
) -> Result<SinkConfig, Problem> {
    let name = r.name.get_ref().clone();
    if name.is_empty() {
        return Err((r.name.span(), "a name cannot be empty".into()));
    }
    if earlier.iter().any(|s| s.name == name) {
        return Err((r.name.span(), "a second sink with this name".into()));
    }
    let kind_name = r.kind.get_ref().as_str();
    const TYPES: &[&str] = &["stdout", "file", "syslog", "http", "clickhouse"];
    if !TYPES.contains(&kind_name) {
        return Err((
            r.kind.span(),
            format!("`{kind_name}` is not one of: {}", TYPES.join(", ")),
        ));
    }
    let present = [
        span(&r.encoding),
        span(&r.path),
        span(&r.rotate_bytes),
        span(&r.rotate_secs),
        span(&r.retention_days),
        span(&r.fsync),
        span(&r.address),
        span(&r.protocol),
        span(&r.framing),
        span(&r.hostname),
        span(&r.app_name),
        span(&r.url),
        span(&r.gzip),
        span(&r.bearer_token_env),
        span(&r.ca_file),
        span(&r.timeout_secs),
        span(&r.database),
        span(&r.table),
        span(&r.user),
        span(&r.password_env),
    ];
    for ((key, types), sp) in TYPED_KEYS.iter().zip(present) {
        if let Some(sp) = sp {
            if !types.contains(&kind_name) {
                return Err((
                    sp,
                    format!(
                        "`{key}` does not apply to a `{kind_name}` sink (only {})",
                        types.join(", ")
                    ),
                ));
            }
        }
    }
    let profile = match &r.profile {
        Some(p) if !profiles.contains_key(p.get_ref()) => {
            let known: Vec<&str> = profiles.keys().map(String::as_str).collect();
            return Err((
                p.span(),
                format!("no profile `{}`; known: {}", p.get_ref(), known.join(", ")),
            ));
        }
        Some(p) => Some(p.get_ref().clone()),
        None => None,
    };
    let timeout = Duration::from_secs(positive(&r.timeout_secs, 10)?);
    let raw_encoding = choice(&r.encoding, false, &[("json", false), ("raw", true)])?;
    let mut encoding = if raw_encoding {
        Encoding::Raw
    } else {
        Encoding::Json
    };
    let kind = match kind_name {
        "stdout" => SinkKind::Stdout,
        "file" => {
            let path = required(&r.path, "path", &r.kind)?;
            let retention_days = match &r.retention_days {
                Some(d) if *d.get_ref() == 0 => {
                    return Err((d.span(), "must be at least 1 day".into()))
                }
                Some(d) => Some(*d.get_ref()),
                None => profile
                    .as_ref()
                    .and_then(|p| profiles.get(p))
                    .map(|p| p.retention_days),
            };
            SinkKind::File(FileOptions {
                path: resolve(path.get_ref()),
                rotate_bytes: r
                    .rotate_bytes
                    .as_ref()
                    .map(|_| positive(&r.rotate_bytes, 1))
                    .transpose()?,
                rotate_every: r
                    .rotate_secs
                    .as_ref()
                    .map(|_| positive(&r.rotate_secs, 1).map(Duration::from_secs))
                    .transpose()?,
                retention: retention_days.map(|d| Duration::from_secs(u64::from(d) * 86_400)),
                fsync: r.fsync.as_ref().map_or(true, |f| *f.get_ref()),
            })
        }
        "syslog" => {
            let address = required(&r.address, "address", &r.kind)?;
            let framing = choice(
                &r.framing,
                Framing::OctetCounting,
                &[
                    ("octet-counting", Framing::OctetCounting),
                    ("lf", Framing::Lf),
                ],
            )?;
            let protocol = choice(
                &r.protocol,
                Protocol::Tcp(framing),
                &[("tcp", Protocol::Tcp(framing)), ("udp", Protocol::Udp)],
            )?;
            if protocol == Protocol::Udp {
                if let Some(f) = &r.framing {
                    return Err((f.span(), "`framing` applies to TCP only".into()));
                }
            }
            encoding = Encoding::Syslog {
                hostname: r
                    .hostname
                    .as_ref()
                    .map(|h| h.get_ref().clone())
                    .unwrap_or_else(this_host),
                app_name: r
                    .app_name
                    .as_ref()
                    .map_or_else(|| "redactd".into(), |a| a.get_ref().clone()),
                default_pri: 13,
            };
            SinkKind::Syslog(SyslogOptions {
                address: address.get_ref().clone(),
                protocol,
                timeout,
            })
        }
        "http" | "clickhouse" => {
            let url = required(&r.url, "url", &r.kind)?;
            let uri: http::Uri = url
                .get_ref()
                .parse()
                .map_err(|e| (url.span(), format!("not a URL: {e}")))?;
            if !matches!(uri.scheme_str(), Some("http" | "https")) || uri.host().is_none() {
                return Err((
                    url.span(),
                    "the URL must be http:// or https://host…".into(),
                ));
            }
            let gzip = r.gzip.as_ref().is_some_and(|g| *g.get_ref());
            if kind_name == "http" {
                SinkKind::Http(HttpOptions {
                    url: uri,
                    gzip,
                    bearer_token: r.bearer_token_env.as_ref().map(env_value).transpose()?,
                    ca_file: r.ca_file.as_ref().map(|c| resolve(c.get_ref())),
                    timeout,
                })
            } else {
                SinkKind::ClickHouse(ClickHouseOptions {
                    url: uri,
                    database: r
                        .database
                        .as_ref()
                        .map_or_else(|| "default".into(), |d| d.get_ref().clone()),
                    table: r
                        .table
                        .as_ref()
                        .map_or_else(|| "redactd".into(), |t| t.get_ref().clone()),
                    user: r.user.as_ref().map(|u| u.get_ref().clone()),
                    password: r.password_env.as_ref().map(env_value).transpose()?,
                    timeout,
                    gzip,
                })
            }
        }
        _ => unreachable!("checked above"),
    };
    let (default_records, default_timeout) = match kind_name {
        "clickhouse" => (10_000, 1_000),
        "http" => (1_000, 1_000),
        _ => (1_000, 200),
    };
    let when_full = choice(
        &r.when_full,
        WhenFull::Block,
        &[
            ("block", WhenFull::Block),
            ("drop_newest", WhenFull::DropNewest),
        ],
    )?;
    let disk = match r.disk_buffer {
        Some(d) => {
            let sp = d.span();
            let d = d.into_inner();
            if *d.max_bytes.get_ref() < 64 * 1024 {
                return Err((d.max_bytes.span(), "must be at least 65536".into()));
            }
            if d.dir.is_empty() {
                return Err((sp, "`dir` cannot be empty".into()));
            }
            Some(DiskOptions {
                dir: resolve(&d.dir),
                max_bytes: *d.max_bytes.get_ref(),
                fsync: d.fsync.unwrap_or(true),
            })
        }
        None => None,
    };
    if let Some(d) = &disk {
        if let Some(other) = earlier
            .iter()
            .find(|s| s.disk.as_ref().is_some_and(|o| o.dir == d.dir))
        {
            return Err((
                r.name.span(),
                format!("disk buffer directory shared with sink `{}`", other.name),
            ));
        }
    }
    let retry_initial = positive(&r.retry_initial_ms, 100)?;
    let retry_max = positive(&r.retry_max_ms, 30_000)?;
    if retry_max < retry_initial {
        let sp = r.retry_max_ms.as_ref().map_or(r.name.span(), |v| v.span());
        return Err((sp, "must not be less than retry_initial_ms".into()));
    }
    Ok(SinkConfig {
        name,
        profile,
        kind,
        encoding,
        queue_records: positive(&r.queue_records, 10_000)? as usize,
        when_full,
        batching: Batching {
            max_records: positive(&r.batch_records, default_records)? as usize,
            max_bytes: positive(&r.batch_bytes, 4 << 20)? as usize,
            timeout: Duration::from_millis(positive(&r.batch_timeout_ms, default_timeout)?),
        },
        retry: RetryPolicy {
            initial: Duration::from_millis(retry_initial),
            max: Duration::from_millis(retry_max),
        },
        disk,
    })
}

pub(super) fn build_inputs(
    raw: Vec<RawInput>,
    sinks: &[SinkConfig],
    resolve: &dyn Fn(&str) -> PathBuf,
) -> Result<Vec<InputConfig>, Problem> {
    let mut out: Vec<InputConfig> = Vec::new();
    for r in raw {
        let kind_name = r.kind.get_ref().clone();
        let name = r
            .name
            .as_ref()
            .map_or_else(|| kind_name.clone(), |n| n.get_ref().clone());
        if out.iter().any(|i| i.name == name) {
            let sp = r.name.as_ref().map_or(r.kind.span(), |n| n.span());
            return Err((sp, format!("a second input named `{name}` (set `name`)")));
        }
        let input = build_input(r, name.clone(), sinks, resolve)
            .map_err(|(sp, m)| (sp, format!("input `{name}`: {m}")))?;
        if matches!(input.kind, InputKind::Stdin)
            && out.iter().any(|i| matches!(i.kind, InputKind::Stdin))
        {
            return Err((0..0, "only one stdin input".into()));
        }
        out.push(input);
    }
    if !out.is_empty() && sinks.is_empty() {
        return Err((0..0, "inputs but no [[sink]]".into()));
    }
    Ok(out)
}

fn build_input(
    r: RawInput,
    name: String,
    sinks: &[SinkConfig],
    resolve: &dyn Fn(&str) -> PathBuf,
) -> Result<InputConfig, Problem> {
    let addr = |v: &Option<Spanned<String>>| -> Result<Option<SocketAddr>, Problem> {
        v.as_ref()
            .map(|a| {
                a.get_ref()
                    .parse()
                    .map_err(|e| (a.span(), format!("not an address (IP:PORT): {e}")))
            })
            .transpose()
    };
    let (kind, default_format, default_max) = match r.kind.get_ref().as_str() {
        "stdin" => {
            for (key, sp) in [
                ("udp", span(&r.udp)),
                ("tcp", span(&r.tcp)),
                ("tls_cert", span(&r.tls_cert)),
                ("tls_key", span(&r.tls_key)),
            ] {
                if let Some(sp) = sp {
                    return Err((sp, format!("`{key}` applies to a syslog input only")));
                }
            }
            reject_proxy_keys(&r)?;
            (InputKind::Stdin, Format::Auto, 1 << 20)
        }
        "proxy" => {
            for (key, sp) in [
                ("udp", span(&r.udp)),
                ("tcp", span(&r.tcp)),
                ("format", span(&r.format)),
            ] {
                if let Some(sp) = sp {
                    return Err((sp, format!("`{key}` does not apply to a proxy input")));
                }
            }
            let listen = addr(&r.listen)?
                .ok_or_else(|| (r.kind.span(), "a proxy input needs `listen`".to_string()))?;
            let routes = build_routes(&r)?;
            for t in &r.trusted_proxies {
                if t.get_ref().parse::<crate::proxy::Cidr>().is_err() {
                    return Err((
                        t.span(),
                        format!("`{}` is not an address or CIDR", t.get_ref()),
                    ));
                }
            }
            let tls = match (&r.tls_cert, &r.tls_key) {
                (Some(c), Some(k)) => Some((resolve(c.get_ref()), resolve(k.get_ref()))),
                (Some(c), None) => return Err((c.span(), "`tls_cert` needs `tls_key`".into())),
                (None, Some(k)) => return Err((k.span(), "`tls_key` needs `tls_cert`".into())),
                (None, None) => None,
            };
            let proxy = ProxyListen {
                listen,
                routes,
                tls,
                limits: build_limits(&r.limits)?,
                log_headers: build_log_headers(&r.log_headers)?,
                upstream_ca: r.upstream_ca.as_ref().map(|c| resolve(c.get_ref())),
                trusted_proxies: r
                    .trusted_proxies
                    .iter()
                    .map(|t| t.get_ref().clone())
                    .collect(),
            };
            (InputKind::Proxy(proxy), Format::Json, 1 << 20)
        }
        "syslog" => {
            reject_proxy_keys(&r)?;
            let udp = addr(&r.udp)?;
            let tcp = addr(&r.tcp)?;
            if udp.is_none() && tcp.is_none() {
                return Err((r.kind.span(), "a syslog input needs `udp` or `tcp`".into()));
            }
            let tls = match (&r.tls_cert, &r.tls_key) {
                (Some(c), Some(k)) => {
                    if tcp.is_none() {
                        return Err((c.span(), "TLS needs `tcp`".into()));
                    }
                    Some((resolve(c.get_ref()), resolve(k.get_ref())))
                }
                (Some(c), None) => return Err((c.span(), "`tls_cert` needs `tls_key`".into())),
                (None, Some(k)) => return Err((k.span(), "`tls_key` needs `tls_cert`".into())),
                (None, None) => None,
            };
            (
                InputKind::Syslog(SyslogListen { udp, tcp, tls }),
                Format::Syslog,
                64 * 1024,
            )
        }
        other => {
            return Err((
                r.kind.span(),
                format!("`{other}` is not one of: stdin, syslog, proxy"),
            ))
        }
    };
    let format = choice(
        &r.format,
        default_format,
        &[
            ("auto", Format::Auto),
            ("text", Format::Text),
            ("json", Format::Json),
            ("combined", Format::Combined),
            ("syslog", Format::Syslog),
        ],
    )?;
    let max = match &r.max_message_bytes {
        Some(v) if *v.get_ref() < 64 => return Err((v.span(), "must be at least 64".into())),
        Some(v) => *v.get_ref() as usize,
        None => default_max,
    };
    let targets = match &r.sinks {
        None => (0..sinks.len()).collect(),
        Some(list) => {
            let mut v = Vec::new();
            for s in list {
                match sinks.iter().position(|k| k.name == *s.get_ref()) {
                    Some(i) => v.push(i),
                    None => return Err((s.span(), format!("no sink `{}`", s.get_ref()))),
                }
            }
            v
        }
    };
    if matches!(kind, InputKind::Proxy(_)) {
        // Records are minimised inside the request task, once: its sinks share one profile.
        let first = targets.first().map(|&i| &sinks[i].profile);
        if targets.iter().any(|&i| Some(&sinks[i].profile) != first) {
            return Err((
                r.kind.span(),
                "the sinks of a proxy input must share one profile".into(),
            ));
        }
    }
    Ok(InputConfig {
        name,
        kind,
        format,
        max_message_bytes: max,
        sinks: targets,
    })
}

/// The routes of a proxy input: each `[[input.route]]`, then `upstream` as the catch-all.
/// `dlp` and `dlp_compressed` of the input are the defaults of its routes.
fn build_routes(r: &RawInput) -> Result<Vec<crate::proxy::Route>, Problem> {
    use crate::proxy::{CompressedBodies, Route};
    let compressed = |v: &Option<Spanned<String>>, default| {
        choice(
            v,
            default,
            &[
                ("decode", CompressedBodies::Decode),
                ("pass", CompressedBodies::Pass),
            ],
        )
    };
    let default_dlp = r.dlp.as_ref().is_some_and(|d| *d.get_ref());
    let default_compressed = compressed(&r.dlp_compressed, CompressedBodies::Decode)?;
    let upstream = |u: &Spanned<String>| -> Result<http::Uri, Problem> {
        let bad = || {
            (
                u.span(),
                "`upstream` is an http:// or https:// URL with no path and no credentials, e.g. http://127.0.0.1:3000"
                    .to_string(),
            )
        };
        let uri: http::Uri = u.get_ref().parse().map_err(|_| bad())?;
        let scheme_ok = matches!(uri.scheme_str(), Some("http" | "https"));
        let credentials = uri.authority().is_some_and(|a| a.as_str().contains('@'));
        if !scheme_ok || uri.authority().is_none() || credentials || !matches!(uri.path(), "" | "/")
        {
            return Err(bad());
        }
        Ok(uri)
    };
    let mut routes: Vec<Route> = Vec::new();
    let mut seen: Vec<(Option<String>, String)> = Vec::new();
    for raw in &r.route {
        let (sp, raw) = (raw.span(), raw.get_ref());
        let host = match &raw.host {
            Some(h) => {
                let name = h.get_ref().to_ascii_lowercase();
                let plain = name.strip_prefix("*.").unwrap_or(&name);
                let valid = !plain.is_empty()
                    && plain
                        .bytes()
                        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'_'));
                if !valid {
                    return Err((
                        h.span(),
                        "`host` is a host name (`api.example.com`) or `*.example.com`".into(),
                    ));
                }
                Some(name)
            }
            None => None,
        };
        let path = match &raw.path {
            Some(p) if !p.get_ref().starts_with('/') => {
                return Err((p.span(), "`path` is a prefix starting with `/`".into()))
            }
            Some(p) => p.get_ref().clone(),
            None => "/".to_string(),
        };
        let key = (host.clone(), path.clone());
        if seen.contains(&key) {
            return Err((sp, "another route above has the same host and path".into()));
        }
        seen.push(key);
        let name = match &raw.name {
            Some(n) => n.get_ref().clone(),
            None => format!("{}{path}", host.as_deref().unwrap_or("")),
        };
        routes.push(Route {
            name,
            host,
            path_prefix: path,
            upstream: upstream(&raw.upstream)?,
            dlp: raw.dlp.unwrap_or(default_dlp),
            compressed: compressed(&raw.dlp_compressed, default_compressed)?,
        });
    }
    if let Some(u) = &r.upstream {
        let mut catch_all = Route::catch_all(upstream(u)?);
        catch_all.dlp = default_dlp;
        catch_all.compressed = default_compressed;
        routes.push(catch_all);
    }
    if routes.is_empty() {
        return Err((
            r.kind.span(),
            "a proxy input needs `upstream` or at least one [[input.route]]".into(),
        ));
    }
    Ok(routes)
}

/// A proxy input's `limits`: the defaults, overridden key by key; zero is refused.
fn build_limits(raw: &Option<Spanned<RawLimits>>) -> Result<crate::proxy::Limits, Problem> {
    let mut limits = crate::proxy::Limits::default();
    let Some(raw) = raw else {
        return Ok(limits);
    };
    let raw = raw.get_ref();
    let positive = |v: &Spanned<u64>| -> Result<u64, Problem> {
        match *v.get_ref() {
            0 => Err((v.span(), "must be at least 1".into())),
            n => Ok(n),
        }
    };
    let secs = |v: &Spanned<u64>| positive(v).map(Duration::from_secs);
    if let Some(v) = &raw.header_timeout_secs {
        limits.header_read_timeout = secs(v)?;
    }
    if let Some(v) = &raw.idle_timeout_secs {
        limits.idle_timeout = secs(v)?;
    }
    if let Some(v) = &raw.max_header_bytes {
        limits.max_header_bytes = positive(v)? as usize;
    }
    if let Some(v) = &raw.max_body_bytes {
        limits.max_body_bytes = positive(v)?;
    }
    if let Some(v) = &raw.body_timeout_secs {
        limits.body_read_timeout = secs(v)?;
    }
    if let Some(v) = &raw.connect_timeout_secs {
        limits.connect_timeout = secs(v)?;
    }
    if let Some(v) = &raw.response_timeout_secs {
        limits.response_timeout = secs(v)?;
    }
    if let Some(v) = &raw.upstream_idle_secs {
        limits.upstream_idle = secs(v)?;
    }
    if let Some(v) = &raw.max_connections {
        limits.max_connections = positive(v)? as usize;
    }
    if let Some(v) = &raw.drain_secs {
        limits.drain = secs(v)?;
    }
    Ok(limits)
}

/// `log_headers`: header names (lower-cased); `None` when not given.
fn build_log_headers(raw: &[Spanned<String>]) -> Result<Option<Vec<http::HeaderName>>, Problem> {
    if raw.is_empty() {
        return Ok(None);
    }
    raw.iter()
        .map(|h| {
            http::HeaderName::from_bytes(h.get_ref().to_ascii_lowercase().as_bytes())
                .map_err(|_| (h.span(), format!("`{}` is not a header name", h.get_ref())))
        })
        .collect::<Result<Vec<_>, _>>()
        .map(Some)
}

/// Keys only a proxy input takes are errors elsewhere.
fn reject_proxy_keys(r: &RawInput) -> Result<(), Problem> {
    let trusted = r.trusted_proxies.first().map(|t| t.span());
    let route = r.route.first().map(|t| t.span());
    let log_headers = r.log_headers.first().map(|t| t.span());
    for (key, sp) in [
        ("listen", span(&r.listen)),
        ("upstream", span(&r.upstream)),
        ("trusted_proxies", trusted),
        ("dlp", span(&r.dlp)),
        ("dlp_compressed", span(&r.dlp_compressed)),
        ("route", route),
        ("limits", span(&r.limits)),
        ("log_headers", log_headers),
        ("upstream_ca", span(&r.upstream_ca)),
    ] {
        if let Some(sp) = sp {
            return Err((sp, format!("`{key}` applies to a proxy input only")));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use crate::config::Config;

    fn err(text: &str) -> (usize, usize, String) {
        let e = Config::parse("c.toml", text, None).unwrap_err();
        (e.line, e.column, e.message)
    }

    #[test]
    fn inputs_and_sinks_are_checked() {
        let text = r#"
[[input]]
type = "syslog"
udp = "127.0.0.1:5514"
tcp = "127.0.0.1:5514"

[[sink]]
name = "archive"
type = "file"
path = "/var/log/redactd/archive.log"
profile = "security"
disk_buffer = { dir = "/var/lib/redactd/archive", max_bytes = 1048576 }
when_full = "drop_newest"
"#;
        let c = Config::parse(
            "c",
            &format!("{}{text}", crate::config::DEFAULT_CONFIG),
            None,
        )
        .unwrap();
        assert_eq!(c.inputs.len(), 1);
        assert_eq!(c.inputs[0].sinks, vec![0]);
        let s = &c.sinks[0];
        assert_eq!(s.when_full, crate::sink::WhenFull::DropNewest);
        let crate::config::SinkKind::File(f) = &s.kind else {
            panic!()
        };
        assert_eq!(
            f.retention,
            Some(std::time::Duration::from_secs(90 * 86_400)),
            "the profile's retention by default"
        );
    }

    #[test]
    fn a_key_of_another_sink_type_points_at_itself() {
        let (line, col, msg) =
            err("[[sink]]\nname = \"s\"\ntype = \"stdout\"\nurl = \"http://x/\"\n");
        assert_eq!((line, col), (4, 7), "{msg}");
        assert!(msg.contains("sink `s`") && msg.contains("`url`"), "{msg}");
    }

    #[test]
    fn unknown_keys_bad_choices_and_unknown_sinks_are_errors() {
        assert!(
            err("[[sink]]\nname = \"s\"\ntype = \"stdout\"\nqueue = 3\n")
                .2
                .contains("queue")
        );
        let (line, _, msg) =
            err("[[sink]]\nname = \"s\"\ntype = \"stdout\"\nwhen_full = \"wait\"\n");
        assert_eq!(line, 4);
        assert!(msg.contains("drop_newest"), "{msg}");
        let (line, _, msg) = err(
            "[[input]]\ntype = \"stdin\"\nsinks = [\"nope\"]\n[[sink]]\nname = \"s\"\ntype = \"stdout\"\n",
        );
        assert_eq!(line, 3);
        assert!(msg.contains("no sink `nope`"), "{msg}");
        let (line, _, msg) = err("[[sink]]\nname = \"s\"\ntype = \"file\"\n");
        assert_eq!(line, 3);
        assert!(msg.contains("needs `path`"), "{msg}");
        let (line, _, _) = err("[[input]]\ntype = \"syslog\"\nudp = \"localhost\"\n");
        assert_eq!(line, 3);
    }

    const SINK: &str = "[[sink]]\nname = \"s\"\ntype = \"stdout\"\n";

    #[test]
    fn proxy_routes_come_in_order_with_the_upstream_as_catch_all_and_inherit_dlp() {
        let text = format!(
            r#"
[[input]]
type = "proxy"
listen = "127.0.0.1:0"
upstream = "http://127.0.0.1:3000"
dlp = true
dlp_compressed = "pass"

[[input.route]]
host = "*.example.com"
path = "/api/"
upstream = "https://10.0.0.1:8443"
dlp = false

[[input.route]]
name = "billing"
path = "/billing/"
upstream = "http://127.0.0.1:4000"
dlp_compressed = "decode"
{SINK}"#
        );
        let c = Config::parse("c", &text, None).unwrap();
        let crate::config::InputKind::Proxy(p) = &c.inputs[0].kind else {
            panic!()
        };
        let summary: Vec<_> = p
            .routes
            .iter()
            .map(|r| {
                (
                    r.name.as_str(),
                    r.host.as_deref(),
                    r.path_prefix.as_str(),
                    r.dlp,
                )
            })
            .collect();
        assert_eq!(
            summary,
            vec![
                ("*.example.com/api/", Some("*.example.com"), "/api/", false),
                ("billing", None, "/billing/", true),
                ("default", None, "/", true),
            ]
        );
        assert_eq!(
            p.limits.body_read_timeout,
            std::time::Duration::from_secs(60)
        );
        use crate::proxy::CompressedBodies::{Decode, Pass};
        let compressed: Vec<_> = p.routes.iter().map(|r| r.compressed).collect();
        assert_eq!(compressed, vec![Pass, Decode, Pass]);
    }

    #[test]
    fn proxy_limits_headers_and_upstream_ca_override_the_defaults() {
        let text = format!(
            r#"
[[input]]
type = "proxy"
listen = "127.0.0.1:0"
upstream = "https://10.0.0.1:8443"
upstream_ca = "ca.pem"
log_headers = ["Accept", "x-tenant"]
limits = {{ header_timeout_secs = 3, max_body_bytes = 1024, max_connections = 50, upstream_idle_secs = 7 }}
{SINK}"#
        );
        let c = Config::parse("c.toml", &text, Some(std::path::Path::new("/etc/redactd"))).unwrap();
        let crate::config::InputKind::Proxy(p) = &c.inputs[0].kind else {
            panic!()
        };
        let l = &p.limits;
        assert_eq!(l.header_read_timeout, std::time::Duration::from_secs(3));
        assert_eq!(l.upstream_idle, std::time::Duration::from_secs(7));
        assert_eq!((l.max_body_bytes, l.max_connections), (1024, 50));
        assert_eq!(l.idle_timeout, crate::proxy::Limits::default().idle_timeout);
        let names: Vec<&str> = p
            .log_headers
            .as_ref()
            .unwrap()
            .iter()
            .map(|h| h.as_str())
            .collect();
        assert_eq!(names, ["accept", "x-tenant"]);
        assert_eq!(
            p.upstream_ca.as_deref(),
            Some(std::path::Path::new("/etc/redactd/ca.pem"))
        );

        let proxy =
            "[[input]]\ntype = \"proxy\"\nlisten = \"127.0.0.1:0\"\nupstream = \"http://x:1\"\n";
        let (line, _, msg) = err(&format!("{proxy}limits = {{ drain_secs = 0 }}\n{SINK}"));
        assert_eq!(line, 5, "{msg}");
        assert!(msg.contains("at least 1"), "{msg}");
        let (line, _, msg) = err(&format!("{proxy}limits = {{ drain = 3 }}\n{SINK}"));
        assert_eq!(line, 5, "{msg}");
        let (line, _, msg) = err(&format!("{proxy}log_headers = [\"a b\"]\n{SINK}"));
        assert_eq!(line, 5, "{msg}");
    }

    #[test]
    fn bad_routes_point_at_their_line() {
        let proxy = "[[input]]\ntype = \"proxy\"\nlisten = \"127.0.0.1:0\"\n";
        let (line, _, msg) = err(&format!(
            "{proxy}[[input.route]]\npath = \"api\"\nupstream = \"http://x:1\"\n{SINK}"
        ));
        assert_eq!(line, 5, "{msg}");
        assert!(msg.contains("starting with `/`"), "{msg}");
        let (line, _, msg) = err(&format!(
            "{proxy}[[input.route]]\nupstream = \"http://x:1/base\"\n{SINK}"
        ));
        assert_eq!(line, 5, "{msg}");
        assert!(msg.contains("no path"), "{msg}");
        let (line, _, msg) = err(&format!(
            "{proxy}[[input.route]]\nupstream = \"http://u:secret@x:1\"\n{SINK}"
        ));
        assert_eq!(line, 5, "{msg}");
        assert!(
            msg.contains("no credentials") && !msg.contains("secret"),
            "{msg}"
        );
        let (line, _, msg) = err(&format!(
            "{proxy}[[input.route]]\nhost = \"a b\"\nupstream = \"http://x:1\"\n{SINK}"
        ));
        assert_eq!(line, 5, "{msg}");
        let (_, _, msg) = err(&format!(
            "{proxy}[[input.route]]\nupstream = \"http://x:1\"\n[[input.route]]\nupstream = \"http://y:1\"\n{SINK}"
        ));
        assert!(msg.contains("same host and path"), "{msg}");
        let (_, _, msg) = err(&format!("{proxy}{SINK}"));
        assert!(msg.contains("[[input.route]]"), "{msg}");
        let (line, _, msg) = err(&format!("[[input]]\ntype = \"stdin\"\ndlp = true\n{SINK}"));
        assert_eq!(line, 3, "{msg}");
        assert!(msg.contains("proxy input only"), "{msg}");
    }
}
