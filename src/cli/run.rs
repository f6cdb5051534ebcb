//! `redactd run -c FILE`: the log shipper. Starts the configuration's `[[sink]]`s and
//! `[[input]]`s, and runs until SIGTERM or Ctrl-C, or until every input has ended (stdin
//! at end of file, with no syslog input).
//!
//! On stop the inputs stop reading, and each sink drains its queue: into its disk buffer
//! when it has one (and delivers what it can), else to the sink, for up to
//! `--drain-secs`. Counters per input and per sink are printed to stderr at exit.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering::Relaxed};
use std::sync::Arc;
use std::time::Duration;

use anyhow::anyhow;
use redactd::config::{InputKind, SinkKind};
use redactd::input::InputStats;
use redactd::input::{self, Route, Router, Target};
use redactd::metrics::{DropReason, Input, Metrics, SinkOutcome};
use redactd::redact::Redactor;
use redactd::sink::SinkStats;
use redactd::sink::{self, SinkHandle, SinkOptions};
use tokio::sync::watch;

use super::setup::{build_redactor, load_config, load_rules, CommonArgs};
use super::{Failure, EXIT_CONFIG, EXIT_IO};

/// Arguments of `run`.
#[derive(clap::Args)]
pub struct RunArgs {
    #[command(flatten)]
    common: CommonArgs,
    /// Seconds sinks may go on delivering after a stop before what is left is counted as
    /// lost (or left in the disk buffer).
    #[arg(long, value_name = "SECS", default_value_t = 10)]
    drain_secs: u64,
    /// Worker threads [default: all cores].
    #[arg(long, value_name = "N")]
    workers: Option<usize>,
    /// The admin listener (`/metrics`, `/healthz`, `/readyz`), apart from traffic; `off` for
    /// none.
    #[arg(long, value_name = "ADDR|off", default_value = "127.0.0.1:9090")]
    admin_addr: String,
}

/// Runs `run` until a stop.
pub fn run(args: RunArgs) -> Result<(), Failure> {
    let config_err = |e: anyhow::Error| Failure(EXIT_CONFIG, e);
    if args.common.config.is_none() {
        return Err(config_err(anyhow!(
            "run needs a configuration with [[input]] and [[sink]] sections: -c FILE"
        )));
    }
    let config = load_config(args.common.config.as_deref())?;
    if config.inputs.is_empty() || config.sinks.is_empty() {
        return Err(config_err(anyhow!(
            "{}: no [[input]] or no [[sink]] section",
            args.common.config.as_ref().expect("checked").display()
        )));
    }
    let admin_addr = super::setup::admin_addr(&args.admin_addr)?;
    let rules = load_rules(&config, &args.common)?;
    let mut redactors: BTreeMap<Option<String>, Arc<Redactor>> = BTreeMap::new();
    for s in &config.sinks {
        if !redactors.contains_key(&s.profile) {
            let r = build_redactor(
                &config,
                &rules,
                args.common.key_file.as_deref(),
                s.profile.as_deref(),
            )?;
            redactors.insert(s.profile.clone(), Arc::new(r));
        }
    }
    // Response-body DLP for proxy inputs: a redactor holding only the financial rules.
    let wants_dlp = config
        .inputs
        .iter()
        .any(|i| matches!(&i.kind, InputKind::Proxy(p) if p.routes.iter().any(|r| r.dlp)));
    let dlp = if wants_dlp {
        let financial = redactd::proxy::dlp_rules(&rules);
        Some(Arc::new(build_redactor(
            &config,
            &financial,
            args.common.key_file.as_deref(),
            None,
        )?))
    } else {
        None
    };
    let workers = args
        .workers
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()))
        .max(1);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(workers)
        .enable_all()
        .build()
        .map_err(|e| Failure(EXIT_IO, e.into()))?;
    // SIGHUP rebuilds every profile's redactor from the files; the set of sinks and their
    // profiles must stay the same (a change there needs a restart).
    let reload_args = args.common.clone();
    let layout = sink_layout(&config);
    let rebuild: Rebuild = Arc::new(move || {
        let config = load_config(reload_args.config.as_deref())?;
        if sink_layout(&config) != layout {
            return Err(config_err(anyhow!(
                "the sinks or their profiles changed: restart redactd to apply that"
            )));
        }
        let rules = load_rules(&config, &reload_args)?;
        let mut map = BTreeMap::new();
        for s in &config.sinks {
            if !map.contains_key(&s.profile) {
                let key_file = reload_args.key_file.as_deref();
                let r = build_redactor(&config, &rules, key_file, s.profile.as_deref())?;
                map.insert(s.profile.clone(), Arc::new(r));
            }
        }
        Ok(map)
    });
    let result = runtime.block_on(ship(
        config,
        redactors,
        Duration::from_secs(args.drain_secs),
        admin_addr,
        dlp,
        rebuild,
    ));
    runtime.shutdown_timeout(Duration::from_millis(200));
    result
}

async fn ship(
    config: redactd::config::Config,
    redactors: BTreeMap<Option<String>, Arc<Redactor>>,
    drain: Duration,
    admin_addr: Option<std::net::SocketAddr>,
    dlp: Option<Arc<Redactor>>,
    rebuild: Rebuild,
) -> Result<(), Failure> {
    let config_err = |e: anyhow::Error| Failure(EXIT_CONFIG, e);
    let (stop_tx, stop_rx) = watch::channel(false);
    // Proxies stop first, so their last records are queued before the sinks drain.
    let (proxy_stop_tx, proxy_stop_rx) = watch::channel(false);
    let metrics = Arc::new(Metrics::new());
    if let Some((created, rotate_after)) = super::setup::key_epoch(&config) {
        metrics.set_key_epoch(created, rotate_after);
    }
    let ready = Arc::new(AtomicBool::new(false));
    // SIGTERM is caught from here on: one that arrives while inputs start still stops
    // redactd cleanly, after they are up.
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .map_err(|e| Failure(EXIT_IO, e.into()))?;
    if let Some(addr) = admin_addr {
        let mut stopped = stop_rx.clone();
        let bound = redactd::admin::serve(addr, metrics.clone(), ready.clone(), async move {
            let _ = stopped.wait_for(|s| *s).await;
        })
        .await
        .map_err(|e| Failure(EXIT_IO, anyhow!("admin listener {addr}: {e}")))?;
        eprintln!("redactd: admin listener on {bound} (/metrics, /healthz, /readyz).");
    }
    let mut handles: Vec<SinkHandle> = Vec::new();
    let mut sink_tasks = Vec::new();
    let mut sink_stats = Vec::new();
    for s in &config.sinks {
        let options = SinkOptions {
            name: s.name.clone(),
            queue_records: s.queue_records,
            when_full: s.when_full,
            batching: s.batching,
            retry: s.retry,
            disk: s.disk.clone(),
            drain,
        };
        let named = |e: String| config_err(anyhow!("sink `{}`: {e}", s.name));
        let io = |e: std::io::Error| Failure(EXIT_IO, anyhow!("sink `{}`: {e}", s.name));
        let stop = stop_rx.clone();
        let (handle, task) = match &s.kind {
            SinkKind::Stdout => sink::spawn(sink::stdout::StdoutSink::default(), options, stop),
            SinkKind::File(o) => sink::spawn(
                sink::file::FileSink::open(o.clone()).map_err(io)?,
                options,
                stop,
            ),
            SinkKind::Syslog(o) => {
                sink::spawn(sink::syslog::SyslogSink::new(o.clone()), options, stop)
            }
            SinkKind::Http(o) => sink::spawn(
                sink::http::HttpSink::new(o.clone()).map_err(named)?,
                options,
                stop,
            ),
            SinkKind::ClickHouse(o) => sink::spawn(
                sink::clickhouse::ClickHouseSink::new(o.clone()).map_err(named)?,
                options,
                stop,
            ),
        }
        .map_err(io)?;
        sink_stats.push((s.name.clone(), handle.stats().clone()));
        handles.push(handle);
        sink_tasks.push(task);
    }

    let stdin_stop = Arc::new(AtomicBool::new(false));
    let mut input_tasks = Vec::new();
    let mut proxies = Vec::new();
    let mut reloadable: Vec<(Arc<Router>, Vec<Option<String>>)> = Vec::new();
    let mut proxy_reloads: Vec<(redactd::proxy::ReloadHandle, Option<String>)> = Vec::new();
    let mut routers = Vec::new();
    let mut input_labels = Vec::new();
    let (stdin_done_tx, stdin_done) = tokio::sync::oneshot::channel::<()>();
    let mut stdin_done_tx = Some(stdin_done_tx);
    let mut waits_for_stdin_only = true;
    for i in &config.inputs {
        let mut routes: Vec<(Option<String>, Route)> = Vec::new();
        for &si in &i.sinks {
            let s = &config.sinks[si];
            let target = Target {
                sink: handles[si].clone(),
                encoding: s.encoding.clone(),
            };
            match routes.iter_mut().find(|(p, _)| *p == s.profile) {
                Some((_, r)) => r.targets.push(target),
                None => routes.push((
                    s.profile.clone(),
                    Route {
                        redactor: redactors[&s.profile].clone(),
                        targets: vec![target],
                    },
                )),
            }
        }
        let route_profiles: Vec<Option<String>> = routes.iter().map(|(p, _)| p.clone()).collect();
        let router = Arc::new(Router::new(
            &i.name,
            i.format,
            routes.into_iter().map(|(_, r)| r).collect(),
        ));
        reloadable.push((router.clone(), route_profiles.clone()));
        routers.push((router.name().to_string(), router.stats().clone()));
        input_labels.push(match i.kind {
            InputKind::Stdin => Input::Stdin,
            InputKind::Syslog(_) => Input::Syslog,
            InputKind::Proxy(_) => Input::Proxy,
        });
        match &i.kind {
            InputKind::Proxy(p) => {
                waits_for_stdin_only = false;
                let server = start_proxy(
                    &i.name,
                    p,
                    &router,
                    dlp.clone(),
                    &metrics,
                    proxy_stop_rx.clone(),
                )
                .await
                .map_err(|e| Failure(EXIT_IO, anyhow!("input `{}`: {e}", i.name)))?;
                eprintln!(
                    "redactd: input {}: proxy listening on {} ({}).",
                    i.name,
                    server.local_addr(),
                    redactd::proxy::describe_routes(&p.routes)
                );
                let profile = config.sinks[i.sinks[0]].profile.clone();
                proxy_reloads.push((server.reload_handle(), profile));
                proxies.push(server);
            }
            InputKind::Stdin => {
                let stop = stdin_stop.clone();
                let max = i.max_message_bytes;
                let done = stdin_done_tx.take();
                std::thread::spawn(move || {
                    if let Err(e) = input::stdin::run(&router, max, &stop) {
                        eprintln!("redactd: input {}: {e}", router.name());
                    }
                    drop(router);
                    if let Some(d) = done {
                        let _ = d.send(());
                    }
                });
            }
            InputKind::Syslog(listen) => {
                waits_for_stdin_only = false;
                let bind_err =
                    |e: std::io::Error| Failure(EXIT_IO, anyhow!("input `{}`: {e}", i.name));
                if let Some(addr) = listen.udp {
                    let socket = tokio::net::UdpSocket::bind(addr).await.map_err(bind_err)?;
                    eprintln!("redactd: input {}: listening on udp {addr}.", i.name);
                    input_tasks.push(tokio::spawn(input::syslog::serve_udp(
                        socket,
                        router.clone(),
                        i.max_message_bytes,
                    )));
                }
                if let Some(addr) = listen.tcp {
                    let tls = match &listen.tls {
                        Some((cert, key)) => Some(
                            input::syslog::tls_acceptor(cert, key)
                                .map_err(|e| config_err(anyhow!("input `{}`: {e}", i.name)))?,
                        ),
                        None => None,
                    };
                    let listener = tokio::net::TcpListener::bind(addr)
                        .await
                        .map_err(bind_err)?;
                    eprintln!(
                        "redactd: input {}: listening on tcp {addr}{}.",
                        i.name,
                        if tls.is_some() { " (TLS)" } else { "" }
                    );
                    input_tasks.push(tokio::spawn(input::syslog::serve_tcp(
                        listener,
                        tls,
                        router.clone(),
                        i.max_message_bytes,
                    )));
                }
            }
        }
    }
    drop(handles);
    // Rules, keys, GeoIP, sinks and inputs are up.
    ready.store(true, Relaxed);
    let inputs = input_labels
        .into_iter()
        .zip(routers.iter().map(|(_, s)| s.clone()))
        .collect();
    let all_routers: Vec<Arc<Router>> = reloadable.iter().map(|(r, _)| r.clone()).collect();
    let exporter = tokio::spawn(export_counters(
        metrics.clone(),
        inputs,
        all_routers,
        sink_stats.clone(),
    ));
    // SIGHUP swaps every input's redactors (lines read from then on use them; nothing
    // queued is touched, no connection dropped).
    let apply = move |map: BTreeMap<Option<String>, Arc<Redactor>>| {
        for (router, profiles) in &reloadable {
            router.replace_redactors(profiles.iter().map(|p| map[p].clone()).collect());
        }
        for (handle, profile) in &proxy_reloads {
            handle.reload(map[profile].clone());
        }
        true
    };
    let reloader = tokio::spawn(super::setup::reload_on_sighup(
        rebuild,
        apply,
        metrics.clone(),
    ));

    let has_stdin = stdin_done_tx.is_none();
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = term.recv() => {}
        _ = stdin_done, if has_stdin && waits_for_stdin_only => {}
    }
    stdin_stop.store(true, Relaxed);
    for t in &input_tasks {
        t.abort();
    }
    for t in input_tasks {
        let _ = t.await;
    }
    // Proxies stop accepting and drain their requests; their record writers end after
    // queueing the last records into the sinks, and only then do the sinks drain.
    let _ = proxy_stop_tx.send(true);
    for p in proxies {
        p.wait().await;
    }
    let _ = stop_tx.send(true);
    for t in sink_tasks {
        let _ = t.await;
    }
    exporter.abort();
    reloader.abort();
    for (name, s) in &routers {
        eprintln!(
            "redactd: input {}: {} records, {} dropped as oversize.",
            name,
            s.records.load(Relaxed),
            s.oversize.load(Relaxed)
        );
    }
    for (name, s) in &sink_stats {
        eprintln!("redactd: sink {name}: {}.", s.summary());
    }
    Ok(())
}

/// Copies the inputs' and sinks' own counters into the Prometheus metrics once a second
/// (as increments since the last copy). Labels are the input kinds and the configured sink
/// names.
async fn export_counters(
    metrics: Arc<Metrics>,
    inputs: Vec<(Input, Arc<InputStats>)>,
    routers: Vec<Arc<Router>>,
    sinks: Vec<(String, Arc<SinkStats>)>,
) {
    let mut last_redactions: BTreeMap<(usize, (String, &'static str)), u64> = BTreeMap::new();
    let sink_metrics: Vec<_> = sinks.iter().map(|(name, _)| metrics.sink(name)).collect();
    let mut last_inputs = vec![(0u64, 0u64); inputs.len()];
    let mut last_sinks = vec![[0u64; 4]; sinks.len()];
    let delta = |now: u64, last: &mut u64| {
        let d = now.saturating_sub(*last);
        *last = now;
        d
    };
    loop {
        tokio::time::sleep(Duration::from_secs(1)).await;
        for (ri, router) in routers.iter().enumerate() {
            for (key, total) in router.redactions() {
                let last = last_redactions.entry((ri, key.clone())).or_default();
                metrics.add_redactions_of(&key.0, key.1, delta(total, last));
            }
        }
        for ((input, stats), last) in inputs.iter().zip(&mut last_inputs) {
            let records = delta(stats.records.load(Relaxed), &mut last.0);
            metrics.add_records(*input, records, 0, 0);
            metrics.add_dropped(
                DropReason::Oversize,
                delta(stats.oversize.load(Relaxed), &mut last.1),
            );
        }
        for (((_, stats), m), last) in sinks.iter().zip(&sink_metrics).zip(&mut last_sinks) {
            m.events(
                SinkOutcome::Sent,
                delta(stats.sent.load(Relaxed), &mut last[0]),
            );
            let full = delta(stats.dropped_full.load(Relaxed), &mut last[1]);
            let rejected = delta(stats.rejected.load(Relaxed), &mut last[2]);
            m.events(SinkOutcome::Dropped, full + rejected);
            metrics.add_dropped(DropReason::QueueFull, full);
            metrics.add_dropped(DropReason::SinkRejected, rejected);
            // Every retry follows a failed delivery attempt.
            let retries = delta(stats.retries.load(Relaxed), &mut last[3]);
            m.events(SinkOutcome::Failed, retries);
            for _ in 0..retries {
                m.retry();
            }
            let queued = stats.queued.load(Relaxed);
            let done =
                stats.sent.load(Relaxed) + stats.rejected.load(Relaxed) + stats.lost.load(Relaxed);
            m.set_queue_depth(queued.saturating_sub(done) as usize);
            m.set_buffer(
                stats.buffer_bytes.load(Relaxed),
                stats.buffer_max_bytes.load(Relaxed),
            );
            let sizes =
                std::mem::take(&mut *stats.batch_sizes.lock().unwrap_or_else(|p| p.into_inner()));
            for n in sizes {
                m.batch(n);
            }
        }
    }
}

/// Starts a proxy input: records are minimised inside each request task with the profile
/// of the input's sinks (one redactor), then encoded per sink and queued by the proxy's
/// record writer thread, which may wait on a full sink queue without ever stalling a
/// request (the proxy's own queue drops and counts instead).
async fn start_proxy(
    name: &str,
    p: &redactd::config::ProxyListen,
    router: &Arc<Router>,
    dlp: Option<Arc<Redactor>>,
    metrics: &Arc<Metrics>,
    mut stop: watch::Receiver<bool>,
) -> anyhow::Result<redactd::proxy::Server> {
    use redactd::proxy::{ProxyConfig, RecordSink, TlsFiles};
    let route = router
        .routes()
        .first()
        .ok_or_else(|| anyhow!("no sink"))?
        .clone();
    let mut pc = ProxyConfig::routed(p.listen, p.routes.clone(), route.redactor.clone());
    pc.tls = p.tls.as_ref().map(|(cert, key)| TlsFiles {
        cert: cert.clone(),
        key: key.clone(),
    });
    pc.trusted_proxies = p
        .trusted_proxies
        .iter()
        .filter_map(|t| t.parse().ok())
        .collect();
    pc.dlp = dlp;
    pc.limits = p.limits.clone();
    pc.upstream_ca = p.upstream_ca.clone();
    if let Some(headers) = &p.log_headers {
        pc.log_headers = headers.clone();
    }
    pc.metrics = Some(metrics.clone());
    let input: Arc<str> = name.into();
    let stats = router.stats().clone();
    let targets = route.targets.clone();
    pc.sink = RecordSink::Hook(Arc::new(move |line: &[u8]| {
        stats.records.fetch_add(1, Relaxed);
        let event = redactd::sink::encode::Event {
            time: std::time::SystemTime::now(),
            input: &input,
            format: redactd::format::Format::Json,
            line,
        };
        for t in &targets {
            let mut out = Vec::with_capacity(line.len() + 64);
            redactd::sink::encode::encode(&t.encoding, &event, &mut out);
            t.sink.push_blocking(out.into());
        }
    }));
    let shutdown = async move {
        let _ = stop.wait_for(|s| *s).await;
    };
    Ok(redactd::proxy::serve(pc, shutdown).await?)
}

/// Rebuilds every profile's redactor from the configuration files.
type Rebuild = super::setup::Rebuild<BTreeMap<Option<String>, Arc<Redactor>>>;

/// The sinks' names and profiles: what a reload may not change.
fn sink_layout(config: &redactd::config::Config) -> Vec<(String, Option<String>)> {
    config
        .sinks
        .iter()
        .map(|s| (s.name.clone(), s.profile.clone()))
        .collect()
}
