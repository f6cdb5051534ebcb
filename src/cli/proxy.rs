//! `redactd proxy`: a reverse proxy that writes one minimised access record per request.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::anyhow;
use redactd::proxy::{self, Cidr, Limits, ProxyConfig, TlsFiles};

use super::setup::{build_redactor, load_config, load_rules, CommonArgs};
use super::{Failure, EXIT_CONFIG, EXIT_IO};

/// Arguments of `proxy`.
#[derive(clap::Args)]
pub struct ProxyArgs {
    /// Address to listen on.
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:8080")]
    listen: SocketAddr,
    /// The upstream service: http://host:port or https://host:port. Takes every request no
    /// --route takes.
    #[arg(long, value_name = "URL", required_unless_present = "routes")]
    upstream: Option<http::Uri>,
    /// A route: requests to HOST (optional; `*.example.com` for subdomains) whose path
    /// starts with PATH go to URL, e.g. `--route /api/=http://127.0.0.1:4000`. The most
    /// specific route wins (exact host, then wildcard, then none; then the longest path).
    /// Repeatable; requests no route takes get 404.
    #[arg(long = "route", value_name = "[HOST]/PATH=URL")]
    routes: Vec<proxy::Route>,
    /// TLS certificate chain (PEM); with --tls-key, serves HTTPS (HTTP/1.1 and HTTP/2).
    /// Re-read when the file changes.
    #[arg(long, value_name = "PEM", requires = "tls_key")]
    tls_cert: Option<PathBuf>,
    /// TLS private key (PEM).
    #[arg(long, value_name = "PEM", requires = "tls_cert")]
    tls_key: Option<PathBuf>,
    /// Extra CA certificate(s) (PEM) for an HTTPS upstream, besides the webpki roots.
    #[arg(long, value_name = "PEM")]
    upstream_ca: Option<PathBuf>,
    /// Purpose profile of the configuration applied to each record (e.g. `security`).
    #[arg(long, value_name = "NAME")]
    profile: Option<String>,
    /// Peers whose X-Forwarded-For / Forwarded headers are believed (CIDR). Repeatable.
    #[arg(long = "trusted-proxy", value_name = "CIDR")]
    trusted_proxies: Vec<Cidr>,
    /// Mask card numbers, IBANs and account numbers in text, JSON and XML response bodies
    /// (every route).
    #[arg(long)]
    dlp: bool,
    /// What --dlp does with compressed (gzip, deflate, br) bodies: `decode` them, scan and
    /// encode again (the upstream is asked only for those codings), or `pass` them
    /// unscanned. Either way, bodies DLP cannot scan are counted.
    #[arg(long, value_name = "decode|pass", default_value = "decode", value_parser = parse_compressed)]
    dlp_compressed: proxy::CompressedBodies,
    /// Request header copied into the record (its value is still redacted). Repeatable;
    /// default: accept, content-type, accept-language.
    #[arg(long = "log-header", value_name = "NAME")]
    log_headers: Vec<http::HeaderName>,
    /// Worker threads [default: all cores].
    #[arg(long, value_name = "N")]
    workers: Option<usize>,
    /// Seconds to receive a request head from its first byte (408 after).
    #[arg(long, value_name = "SECS", default_value_t = 10)]
    header_timeout_secs: u64,
    /// Seconds an HTTP/1 keep-alive connection may sit idle between requests.
    #[arg(long, value_name = "SECS", default_value_t = 60)]
    idle_timeout_secs: u64,
    /// Largest request head in bytes (431 above).
    #[arg(long, value_name = "BYTES", default_value_t = 16 * 1024)]
    max_header_bytes: usize,
    /// Largest request body in bytes (413 above).
    #[arg(long, value_name = "BYTES", default_value_t = 16 * 1024 * 1024)]
    max_body_bytes: u64,
    /// Seconds a request body may stall between two pieces (408 after).
    #[arg(long, value_name = "SECS", default_value_t = 60)]
    body_timeout_secs: u64,
    /// Seconds to connect to the upstream (504 after; 502 when refused).
    #[arg(long, value_name = "SECS", default_value_t = 5)]
    connect_timeout_secs: u64,
    /// Seconds to the upstream's response head (504 after).
    #[arg(long, value_name = "SECS", default_value_t = 60)]
    response_timeout_secs: u64,
    /// Seconds an idle pooled connection to the upstream is kept.
    #[arg(long, value_name = "SECS", default_value_t = 90)]
    upstream_idle_secs: u64,
    /// Open client connections at most (503 above).
    #[arg(long, value_name = "N", default_value_t = 10_000)]
    max_connections: usize,
    /// Seconds in-flight requests may finish after SIGTERM / Ctrl-C.
    #[arg(long, value_name = "SECS", default_value_t = 30)]
    drain_secs: u64,
    /// Records waiting to be written at most; more are dropped and counted.
    #[arg(long, value_name = "N", default_value_t = 65_536)]
    queue: usize,
    /// The admin listener (`/metrics`, `/healthz`, `/readyz`), apart from traffic; `off` for
    /// none.
    #[arg(long, value_name = "ADDR|off", default_value = "127.0.0.1:9090")]
    admin_addr: String,
    #[command(flatten)]
    common: CommonArgs,
}

/// Runs `proxy` until SIGTERM or Ctrl-C.
pub fn run(args: ProxyArgs) -> Result<(), Failure> {
    let config_err = |e: anyhow::Error| Failure(EXIT_CONFIG, e);
    let config = load_config(args.common.config.as_deref())?;
    let rules = load_rules(&config, &args.common)?;
    let key_file = args.common.key_file.as_deref();
    let redactor = Arc::new(build_redactor(
        &config,
        &rules,
        key_file,
        args.profile.as_deref(),
    )?);
    let dlp = if args.dlp {
        let financial = proxy::dlp_rules(&rules);
        if financial.rules().iter().all(|r| !r.enabled) {
            return Err(config_err(anyhow!("--dlp: no financial rule is enabled")));
        }
        Some(Arc::new(build_redactor(
            &config, &financial, key_file, None,
        )?))
    } else {
        None
    };
    // SIGHUP rebuilds the redactor from the files named on the command line.
    let (reload_args, reload_profile) = (args.common.clone(), args.profile.clone());
    let rebuild: super::setup::Rebuild<redactd::redact::Redactor> = Arc::new(move || {
        let config = load_config(reload_args.config.as_deref())?;
        let rules = load_rules(&config, &reload_args)?;
        let key_file = reload_args.key_file.as_deref();
        build_redactor(&config, &rules, key_file, reload_profile.as_deref())
    });
    let mut routes = args.routes;
    if let Some(upstream) = args.upstream {
        routes.push(proxy::Route::catch_all(upstream));
    }
    for r in &mut routes {
        r.compressed = args.dlp_compressed;
    }
    let mut pc = ProxyConfig::routed(args.listen, routes, redactor);
    pc.tls = match (args.tls_cert, args.tls_key) {
        (Some(cert), Some(key)) => Some(TlsFiles { cert, key }),
        _ => None,
    };
    pc.upstream_ca = args.upstream_ca;
    pc.trusted_proxies = args.trusted_proxies;
    if let Some(dlp) = dlp {
        pc.enable_dlp(dlp);
    }
    let upstreams = proxy::describe_routes(&pc.routes);
    if !args.log_headers.is_empty() {
        pc.log_headers = args.log_headers;
    }
    pc.queue_capacity = args.queue;
    let admin_addr = super::setup::admin_addr(&args.admin_addr)?;
    let metrics = Arc::new(redactd::metrics::Metrics::new());
    if let Some((created, rotate_after)) = super::setup::key_epoch(&config) {
        metrics.set_key_epoch(created, rotate_after);
    }
    pc.metrics = Some(metrics.clone());
    pc.limits = Limits {
        header_read_timeout: Duration::from_secs(args.header_timeout_secs),
        idle_timeout: Duration::from_secs(args.idle_timeout_secs),
        max_header_bytes: args.max_header_bytes,
        max_body_bytes: args.max_body_bytes,
        body_read_timeout: Duration::from_secs(args.body_timeout_secs),
        connect_timeout: Duration::from_secs(args.connect_timeout_secs),
        response_timeout: Duration::from_secs(args.response_timeout_secs),
        upstream_idle: Duration::from_secs(args.upstream_idle_secs.max(1)),
        max_connections: args.max_connections,
        drain: Duration::from_secs(args.drain_secs),
    };

    // One worker: a current-thread runtime (no work-stealing machinery to pay for).
    let mut rt = match args.workers {
        Some(1) => tokio::runtime::Builder::new_current_thread(),
        Some(n) => {
            let mut b = tokio::runtime::Builder::new_multi_thread();
            b.worker_threads(n.max(1));
            b
        }
        None => tokio::runtime::Builder::new_multi_thread(),
    };
    let rt = rt
        .enable_all()
        .build()
        .map_err(|e| Failure(EXIT_IO, e.into()))?;
    rt.block_on(async move {
        let ready = Arc::new(std::sync::atomic::AtomicBool::new(false));
        if let Some(addr) = admin_addr {
            let bound = redactd::admin::serve(addr, metrics.clone(), ready.clone(), signal())
                .await
                .map_err(|e| Failure(EXIT_IO, anyhow!("admin listener {addr}: {e}")))?;
            eprintln!("redactd: admin listener on {bound} (/metrics, /healthz, /readyz).");
        }
        let server = proxy::serve(pc, shutdown_signal()).await.map_err(|e| {
            let code = match e {
                proxy::ServeError::Bind { .. } | proxy::ServeError::Writer(_) => EXIT_IO,
                _ => EXIT_CONFIG,
            };
            Failure(code, e.into())
        })?;
        eprintln!(
            "redactd: proxy listening on {} ({upstreams}).",
            server.local_addr()
        );
        // Rules, keys and GeoIP were loaded before the listener started.
        ready.store(true, std::sync::atomic::Ordering::Relaxed);
        #[cfg(unix)]
        {
            // Rules, keys, GeoIP and profile swap in without dropping a connection; TLS
            // certificates reload by themselves when their files change.
            let handle = server.reload_handle();
            let apply = move |r| handle.reload(Arc::new(r));
            tokio::spawn(super::setup::reload_on_sighup(rebuild, apply, metrics.clone()));
        }
        let stats = server.stats();
        server.wait().await;
        eprintln!(
            "redactd: proxy stopped: {} requests, {} records written, {} dropped (queue full), {} refused connections, {} DLP bodies ({} decoded), {} text bodies passed unscanned (compressed or event streams).",
            stats.requests(),
            stats.records(),
            stats.records_dropped(),
            stats.connections_refused(),
            stats.dlp_bodies(),
            stats.dlp_decoded(),
            stats.dlp_compressed_passed()
        );
        Ok(())
    })
}

fn parse_compressed(s: &str) -> Result<proxy::CompressedBodies, String> {
    match s {
        "decode" => Ok(proxy::CompressedBodies::Decode),
        "pass" => Ok(proxy::CompressedBodies::Pass),
        _ => Err("expected `decode` or `pass`".into()),
    }
}

/// Resolves on SIGTERM or Ctrl-C, saying so.
fn shutdown_signal() -> impl std::future::Future<Output = ()> {
    let signalled = signal();
    async move {
        signalled.await;
        eprintln!("redactd: shutting down: no new connections, draining.");
    }
}

/// Resolves on SIGTERM or Ctrl-C. The handlers are installed at the call (inside the
/// runtime), so a signal that comes before the future is first polled is not lost.
#[cfg(unix)]
fn signal() -> impl std::future::Future<Output = ()> {
    use tokio::signal::unix::{signal, Signal, SignalKind};
    let term = signal(SignalKind::terminate()).ok();
    let interrupt = signal(SignalKind::interrupt()).ok();
    async fn recv(s: Option<Signal>) {
        match s {
            Some(mut s) => {
                s.recv().await;
            }
            None => std::future::pending::<()>().await,
        }
    }
    async move {
        tokio::select! {
            _ = recv(term) => {},
            _ = recv(interrupt) => {},
        }
    }
}

/// Resolves on Ctrl-C.
#[cfg(not(unix))]
fn signal() -> impl std::future::Future<Output = ()> {
    async {
        let _ = tokio::signal::ctrl_c().await;
    }
}
