//! The admin listener as Prometheus and Kubernetes see it: a scrape that `promtool check
//! metrics` accepts, a liveness probe that always answers and a readiness probe that follows
//! the shared flag.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

mod common;

use common::promtool_check_metrics;
use redactd::admin;
use redactd::metrics::{Input, Method, Metrics, SinkOutcome, UpstreamError};
use redactd::rules::RuleSet;

/// A raw HTTP/1.1 request; returns the status code, the headers and the body.
fn get(addr: SocketAddr, method: &str, path: &str) -> (u16, String, String) {
    let mut stream = TcpStream::connect(addr).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    write!(
        stream,
        "{method} {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    let (head, body) = response.split_once("\r\n\r\n").expect("a response head");
    let status = head
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .expect("a status code");
    (status, head.to_string(), body.to_string())
}

struct Running {
    addr: SocketAddr,
    ready: Arc<AtomicBool>,
    metrics: Arc<Metrics>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    runtime: tokio::runtime::Runtime,
}

fn start() -> Running {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let metrics = Arc::new(Metrics::new());
    let ready = Arc::new(AtomicBool::new(false));
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let addr = runtime
        .block_on(admin::serve(
            "127.0.0.1:0".parse().unwrap(),
            metrics.clone(),
            ready.clone(),
            async move {
                let _ = stopped.await;
            },
        ))
        .unwrap();
    Running {
        addr,
        ready,
        metrics,
        stop: Some(stop),
        runtime,
    }
}

#[test]
fn scrape_of_a_running_admin_listener_passes_promtool_check_metrics() {
    let admin = start();
    // Something in every family, including the label sets only the proxy and sinks touch.
    let m = &admin.metrics;
    m.observe_request(Method::Post, 502, Duration::from_millis(40));
    m.upstream_error(UpstreamError::Connect);
    let _conn = m.connection_opened();
    let sink = m.sink("clickhouse");
    sink.events(SinkOutcome::Sent, 100);
    sink.events(SinkOutcome::Failed, 2);
    sink.retry();
    sink.batch(100);
    sink.set_queue_depth(3);
    sink.set_buffer(1024, 1 << 30);
    m.add_records(Input::Proxy, 1, 300, 280);
    let rules = RuleSet::shipped();
    m.add_redactions(&rules.rules()[0], 2);

    let (status, head, body) = get(admin.addr, "GET", "/metrics");
    assert_eq!(status, 200, "{head}");
    assert!(
        head.to_ascii_lowercase()
            .contains("content-type: text/plain; version=0.0.4"),
        "{head}"
    );
    for family in redactd::metrics::FAMILIES {
        assert!(
            body.contains(&format!("# TYPE {} ", family.name)),
            "{} missing from the scrape",
            family.name
        );
    }
    assert!(body.contains("redactd_http_requests_total{code_class=\"5xx\",method=\"POST\"} 1"));
    assert!(body.contains("redactd_open_connections 1"));
    let out = promtool_check_metrics(&body);
    assert!(
        out.status.success() && out.stdout.is_empty() && out.stderr.is_empty(),
        "promtool check metrics: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn healthz_answers_at_once_and_readyz_follows_the_flag() {
    let mut admin = start();
    let (status, _, body) = get(admin.addr, "GET", "/healthz");
    assert_eq!((status, body.as_str()), (200, "ok\n"));
    let (status, _, body) = get(admin.addr, "GET", "/readyz");
    assert_eq!((status, body.as_str()), (503, "not ready\n"));

    admin.ready.store(true, Ordering::Release);
    let (status, _, body) = get(admin.addr, "GET", "/readyz");
    assert_eq!((status, body.as_str()), (200, "ready\n"));
    let (status, _, body) = get(admin.addr, "HEAD", "/readyz");
    assert_eq!((status, body.as_str()), (200, ""));

    // Draining: not ready again, still alive.
    admin.ready.store(false, Ordering::Release);
    assert_eq!(get(admin.addr, "GET", "/readyz").0, 503);
    assert_eq!(get(admin.addr, "GET", "/healthz").0, 200);

    let _ = admin.stop.take().unwrap().send(());
    let addr = admin.addr;
    admin.runtime.block_on(async {
        for _ in 0..100 {
            if tokio::net::TcpStream::connect(addr).await.is_err() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        panic!("the admin listener still accepts after shutdown");
    });
}

#[test]
fn other_paths_are_404_and_other_methods_405() {
    let admin = start();
    assert_eq!(get(admin.addr, "GET", "/").0, 404);
    assert_eq!(get(admin.addr, "GET", "/metrics/../secret").0, 404);
    let (status, head, _) = get(admin.addr, "POST", "/metrics");
    assert_eq!(status, 405);
    assert!(
        head.to_ascii_lowercase().contains("allow: get, head"),
        "{head}"
    );
}

#[test]
fn a_taken_port_is_an_error_not_a_panic() {
    let admin = start();
    let err = admin
        .runtime
        .block_on(admin::serve(
            admin.addr,
            admin.metrics.clone(),
            admin.ready.clone(),
            std::future::pending(),
        ))
        .unwrap_err();
    assert_eq!(err.kind(), std::io::ErrorKind::AddrInUse);
}
