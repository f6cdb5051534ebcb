//! TLS termination: HTTP/2 and HTTP/1.1 over TLS (ALPN) with certificates generated here,
//! and the certificate re-read when its files change.

mod proxy_support;

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::{Request, Version};
use http_body_util::{BodyExt, Empty, Full};
use hyper_util::rt::{TokioExecutor, TokioIo};
use proxy_support::*;
use redactd::proxy::TlsFiles;
use rustls::pki_types::{CertificateDer, ServerName};
use tokio::net::TcpStream;

struct Ca {
    cert: rcgen::Certificate,
    key: rcgen::KeyPair,
}

fn ca() -> Ca {
    let key = rcgen::KeyPair::generate().unwrap();
    let mut params = rcgen::CertificateParams::new(vec![]).unwrap();
    params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "redactd test CA");
    let cert = params.self_signed(&key).unwrap();
    Ca { cert, key }
}

/// Writes a leaf for `localhost` signed by `ca` to dir/cert.pem and dir/key.pem; returns
/// its DER.
fn write_leaf(ca: &Ca, dir: &Path) -> Vec<u8> {
    let key = rcgen::KeyPair::generate().unwrap();
    let params = rcgen::CertificateParams::new(vec!["localhost".to_string()]).unwrap();
    let leaf = params.signed_by(&key, &ca.cert, &ca.key).unwrap();
    std::fs::write(dir.join("cert.pem"), leaf.pem()).unwrap();
    std::fs::write(dir.join("key.pem"), key.serialize_pem()).unwrap();
    leaf.der().to_vec()
}

fn connector(ca: &Ca, alpn: &[u8]) -> tokio_rustls::TlsConnector {
    let mut roots = rustls::RootCertStore::empty();
    roots.add(ca.cert.der().clone()).unwrap();
    let mut config = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_root_certificates(roots)
    .with_no_client_auth();
    config.alpn_protocols = vec![alpn.to_vec()];
    tokio_rustls::TlsConnector::from(Arc::new(config))
}

async fn tls_connect(
    ca: &Ca,
    addr: std::net::SocketAddr,
    alpn: &[u8],
) -> tokio_rustls::client::TlsStream<TcpStream> {
    let tcp = TcpStream::connect(addr).await.unwrap();
    connector(ca, alpn)
        .connect(ServerName::try_from("localhost").unwrap(), tcp)
        .await
        .expect("TLS handshake")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http2_over_tls_is_proxied_and_recorded_with_protocol_and_tls_version() {
    let dir = tempfile::tempdir().unwrap();
    let ca = ca();
    write_leaf(&ca, dir.path());
    let up = start_upstream().await;
    let files = TlsFiles {
        cert: dir.path().join("cert.pem"),
        key: dir.path().join("key.pem"),
    };
    let proxy = start_proxy_with(&format!("http://{up}"), redactor(None), |c| {
        c.tls = Some(files)
    })
    .await;

    let tls = tls_connect(&ca, proxy.addr, b"h2").await;
    assert_eq!(tls.get_ref().1.alpn_protocol(), Some(&b"h2"[..]));
    let (mut sender, conn) =
        hyper::client::conn::http2::handshake(TokioExecutor::new(), TokioIo::new(tls))
            .await
            .unwrap();
    tokio::spawn(conn);
    let req = Request::get("https://localhost/over-h2")
        .body(Full::new(Bytes::new()))
        .unwrap();
    let resp = sender.send_request(req).await.unwrap();
    assert_eq!(resp.version(), Version::HTTP_2);
    assert_eq!(resp.status(), 200);
    let text = resp.into_body().collect().await.unwrap().to_bytes();
    assert_eq!(&text[..], b"hello from upstream /over-h2\n");
    let req = Request::post("https://localhost/echo")
        .body(Full::new(Bytes::from_static(b"posted over h2")))
        .unwrap();
    let resp = sender.send_request(req).await.unwrap();
    let text = resp.into_body().collect().await.unwrap().to_bytes();
    assert_eq!(&text[..], b"posted over h2");

    let recs = proxy.json_records(2).await;
    assert_eq!(recs[0]["protocol"], "HTTP/2");
    assert_eq!(recs[0]["scheme"], "https");
    assert_eq!(recs[0]["host"], "localhost");
    assert_eq!(recs[0]["tls_version"], "TLSv1.3");
    assert_eq!(recs[1]["request_bytes"], 14);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http1_over_tls_works_and_a_replaced_certificate_is_served_without_restart() {
    let dir = tempfile::tempdir().unwrap();
    let ca = ca();
    let first = write_leaf(&ca, dir.path());
    let up = start_upstream().await;
    let files = TlsFiles {
        cert: dir.path().join("cert.pem"),
        key: dir.path().join("key.pem"),
    };
    let proxy = start_proxy_with(&format!("http://{up}"), redactor(None), |c| {
        c.tls = Some(files)
    })
    .await;

    let served = |tls: &tokio_rustls::client::TlsStream<TcpStream>| -> Vec<u8> {
        let certs: &[CertificateDer] = tls.get_ref().1.peer_certificates().unwrap();
        certs[0].to_vec()
    };
    let tls = tls_connect(&ca, proxy.addr, b"http/1.1").await;
    assert_eq!(served(&tls), first);
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(tls))
        .await
        .unwrap();
    tokio::spawn(conn);
    let resp = sender
        .send_request(
            Request::get("/h1")
                .header("host", "localhost")
                .body(Empty::<Bytes>::new())
                .unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(resp.version(), Version::HTTP_11);
    assert_eq!(resp.status(), 200);

    tokio::time::sleep(Duration::from_millis(1100)).await;
    let second = write_leaf(&ca, dir.path());
    assert_ne!(first, second);
    let tls = tls_connect(&ca, proxy.addr, b"http/1.1").await;
    assert_eq!(served(&tls), second);
    let recs = proxy.json_records(1).await;
    assert_eq!(recs[0]["protocol"], "HTTP/1.1");
    assert!(recs[0]["tls_version"]
        .as_str()
        .unwrap()
        .starts_with("TLSv1."));
}

fn upstream_tls_config(ca: &Ca) -> Arc<rustls::ServerConfig> {
    let key = rcgen::KeyPair::generate().unwrap();
    let params = rcgen::CertificateParams::new(vec!["localhost".to_string()]).unwrap();
    let leaf = params.signed_by(&key, &ca.cert, &ca.key).unwrap();
    let config = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_no_client_auth()
    .with_single_cert(
        vec![leaf.der().clone()],
        rustls::pki_types::PrivateKeyDer::Pkcs8(key.serialize_der().into()),
    )
    .unwrap();
    Arc::new(config)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn https_upstream_is_verified_against_the_given_ca_and_refused_without_it() {
    let dir = tempfile::tempdir().unwrap();
    let ca = ca();
    std::fs::write(dir.path().join("ca.pem"), ca.cert.pem()).unwrap();
    let up = start_tls_upstream(upstream_tls_config(&ca)).await;
    let upstream = format!("https://localhost:{}", up.port());

    let trusting = start_proxy_with(&upstream, redactor(None), |c| {
        c.upstream_ca = Some(dir.path().join("ca.pem"));
    })
    .await;
    let (resp, text) = get(&client(), &trusting.url("/over-tls")).await;
    assert_eq!(resp.status(), 200);
    assert_eq!(text, "hello from upstream /over-tls\n");

    let unverified = start_proxy_with(&upstream, redactor(None), |_| {}).await;
    let (resp, _) = get(&client(), &unverified.url("/over-tls")).await;
    assert_eq!(resp.status(), 502);
    let recs = unverified.json_records(1).await;
    assert_eq!(recs[0]["status"], 502);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oversized_headers_over_http2_get_431_and_a_record() {
    let dir = tempfile::tempdir().unwrap();
    let ca = ca();
    write_leaf(&ca, dir.path());
    let up = start_upstream().await;
    let files = TlsFiles {
        cert: dir.path().join("cert.pem"),
        key: dir.path().join("key.pem"),
    };
    let proxy = start_proxy_with(&format!("http://{up}"), redactor(None), |c| {
        c.tls = Some(files);
        c.limits.max_header_bytes = 4096;
    })
    .await;
    let tls = tls_connect(&ca, proxy.addr, b"h2").await;
    let (mut sender, conn) =
        hyper::client::conn::http2::handshake(TokioExecutor::new(), TokioIo::new(tls))
            .await
            .unwrap();
    tokio::spawn(conn);
    let req = Request::get("https://localhost/big")
        .header("x-big", "c".repeat(20_000))
        .body(Empty::<Bytes>::new())
        .unwrap();
    let resp = sender.send_request(req).await.unwrap();
    assert_eq!(resp.status(), 431);
    let recs = proxy.json_records(1).await;
    assert_eq!(recs[0]["status"], 431);
    assert_eq!(recs[0]["protocol"], "HTTP/2");
    assert_eq!(recs[0]["error"], "header_too_large");
}
