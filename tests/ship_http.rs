//! The `http` sink against a small hyper collector that refuses the first requests (503
//! with `Retry-After`, then 429): every record arrives, gzip-compressed, with the bearer
//! token, over TLS with a CA given in the config; nothing raw is sent.

mod ship_support;

use std::sync::Arc;
use std::time::Duration;

use ship_support::*;

fn tls_server() -> (Arc<rustls::ServerConfig>, String) {
    let cert =
        rcgen::generate_simple_self_signed(vec!["localhost".into(), "127.0.0.1".into()]).unwrap();
    let key = rustls::pki_types::PrivateKeyDer::Pkcs8(cert.key_pair.serialize_der().into());
    let config = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_no_client_auth()
    .with_single_cert(vec![cert.cert.der().clone()], key)
    .unwrap();
    (Arc::new(config), cert.cert.pem())
}

#[test]
fn http_sink_retries_503_and_429_honouring_retry_after_and_delivers_everything_over_tls() {
    let dir = tempfile::tempdir().unwrap();
    let (tls, ca) = tls_server();
    std::fs::write(dir.path().join("ca.pem"), ca).unwrap();
    let c = collector(vec![(503, Some(1)), (429, None)], Some(tls));
    let config = write_config(
        dir.path(),
        &format!(
            r#"
[[input]]
type = "stdin"

[[sink]]
name = "collector"
type = "http"
profile = "security"
url = "https://localhost:{}/ingest"
gzip = true
bearer_token_env = "TEST_SHIP_TOKEN"
ca_file = "ca.pem"
batch_records = 50
batch_timeout_ms = 100
retry_initial_ms = 50
"#,
            c.port
        ),
    );
    // The token reaches the config check through the environment of the child only.
    let mut child = spawn_run_env(
        dir.path(),
        &config,
        &[],
        &[("TEST_SHIP_TOKEN", "s3cret-token")],
    );
    let start = std::time::Instant::now();
    let mut stdin = child.stdin.take().unwrap();
    feed(&mut stdin, 0..200);
    drop(stdin);
    let status = {
        let ok = wait_until(30, || child.try_wait().unwrap().is_some());
        if !ok {
            let _ = child.kill();
        }
        child.wait().unwrap()
    };
    let stderr = std::fs::read_to_string(dir.path().join("stderr.log")).unwrap();
    assert!(status.success(), "{stderr}");
    let msgs = received_messages(&c);
    let mut seqs: Vec<usize> = msgs.iter().filter_map(|m| seq(m)).collect();
    seqs.sort();
    seqs.dedup();
    assert_eq!(seqs, (0..200).collect::<Vec<_>>(), "{stderr}");
    assert!(msgs
        .iter()
        .all(|m| !m.contains("@example.com") && !m.contains("81.2.69.")));
    let r = c.received.lock().unwrap();
    assert!(r
        .requests
        .iter()
        .all(
            |(h, _)| h.get("authorization").unwrap() == "Bearer s3cret-token"
                && h.get("content-encoding").unwrap() == "gzip"
                && h.get("content-type").unwrap() == "application/x-ndjson"
        ));
    // The first answer asked for one second.
    assert!(r.at.len() >= 3);
    assert!(
        r.at[1] - r.at[0] >= Duration::from_millis(990),
        "{:?}",
        r.at[1] - r.at[0]
    );
    assert!(start.elapsed() >= Duration::from_secs(1));
    assert!(stderr.contains("2 retries"), "{stderr}");
}
