//! The `http` sink: batched NDJSON POSTs (optional gzip, bearer token, TLS with rustls),
//! and the HTTP/1.1 client the ClickHouse sink shares.
//!
//! Answers: 2xx delivered; 408, 429 and 5xx retried (after `Retry-After` when given in
//! seconds, else with backoff); other statuses refuse the batch (dropped and counted);
//! connection errors and timeouts are retried.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::{header, Method, Request, StatusCode, Uri};
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::{connect::HttpConnector, Client};
use hyper_util::rt::{TokioExecutor, TokioTimer};
use rustls::pki_types::{pem::PemObject, CertificateDer};

use super::{Sink, SinkError};

/// Settings of an HTTP sink.
#[derive(Debug, Clone)]
pub struct HttpOptions {
    /// Where batches are POSTed (`http://` or `https://`).
    pub url: Uri,
    /// Compress bodies with gzip (`Content-Encoding: gzip`).
    pub gzip: bool,
    /// The bearer token (read from the environment variable the config names).
    pub bearer_token: Option<String>,
    /// Extra CA certificates (PEM) besides the webpki roots.
    pub ca_file: Option<PathBuf>,
    /// Timeout of one request, connection included.
    pub timeout: Duration,
}

type HttpsClient = Client<hyper_rustls::HttpsConnector<HttpConnector>, Full<Bytes>>;

/// An HTTP/1.1 client that POSTs bodies and classifies the answer.
#[derive(Debug, Clone)]
pub struct Poster {
    client: HttpsClient,
    timeout: Duration,
}

/// What an answer was, when it was not a success.
pub struct Refusal {
    /// The status.
    pub status: StatusCode,
    /// The start of the body (at most 300 bytes).
    pub body: String,
    /// `Retry-After`, in seconds form.
    pub retry_after: Option<Duration>,
}

fn tls_config(ca_file: Option<&Path>) -> Result<rustls::ClientConfig, String> {
    let mut roots = rustls::RootCertStore {
        roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
    };
    if let Some(path) = ca_file {
        let pem = std::fs::read(path).map_err(|e| format!("{}: {e}", path.display()))?;
        let mut n = 0;
        for cert in CertificateDer::pem_slice_iter(&pem) {
            let cert = cert.map_err(|e| format!("{}: bad PEM: {e}", path.display()))?;
            roots
                .add(cert)
                .map_err(|e| format!("{}: {e}", path.display()))?;
            n += 1;
        }
        if n == 0 {
            return Err(format!("{}: no CERTIFICATE in the file", path.display()));
        }
    }
    Ok(rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .map_err(|e| e.to_string())?
    .with_root_certificates(roots)
    .with_no_client_auth())
}

impl Poster {
    /// A client trusting the webpki roots and `ca_file`'s certificates.
    pub fn new(ca_file: Option<&Path>, timeout: Duration) -> Result<Poster, String> {
        let mut http = HttpConnector::new();
        http.enforce_http(false);
        http.set_nodelay(true);
        http.set_connect_timeout(Some(timeout));
        let https = hyper_rustls::HttpsConnectorBuilder::new()
            .with_tls_config(tls_config(ca_file)?)
            .https_or_http()
            .enable_http1()
            .wrap_connector(http);
        let client = Client::builder(TokioExecutor::new())
            .pool_idle_timeout(Duration::from_secs(30))
            .pool_timer(TokioTimer::new())
            .timer(TokioTimer::new())
            .build(https);
        Ok(Poster { client, timeout })
    }

    /// POSTs `body`; `Ok(Ok(()))` on 2xx, `Ok(Err(refusal))` on another status, `Err` when
    /// no answer came (connection error, timeout).
    pub async fn post(
        &self,
        uri: &Uri,
        headers: &[(header::HeaderName, String)],
        body: Bytes,
    ) -> Result<Result<(), Refusal>, SinkError> {
        let mut req = Request::builder().method(Method::POST).uri(uri.clone());
        for (name, value) in headers {
            req = req.header(name, value);
        }
        let req = req
            .body(Full::new(body))
            .map_err(|e| SinkError::fatal(format!("request: {e}")))?;
        let exchange = async {
            let resp = self.client.request(req).await.map_err(|e| {
                let mut msg = e.to_string();
                let mut src = std::error::Error::source(&e);
                while let Some(s) = src {
                    msg = format!("{msg}: {s}");
                    src = s.source();
                }
                SinkError::retryable(format!("{}: {msg}", host(uri)))
            })?;
            let status = resp.status();
            let retry_after = resp
                .headers()
                .get(header::RETRY_AFTER)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.trim().parse::<u64>().ok())
                .map(Duration::from_secs);
            let body = resp
                .into_body()
                .collect()
                .await
                .map(|b| b.to_bytes())
                .unwrap_or_default();
            if status.is_success() {
                return Ok(Ok(()));
            }
            let body = String::from_utf8_lossy(&body[..body.len().min(300)]).into_owned();
            Ok(Err(Refusal {
                status,
                body,
                retry_after,
            }))
        };
        match tokio::time::timeout(self.timeout, exchange).await {
            Ok(r) => r,
            Err(_) => Err(SinkError::retryable(format!(
                "{}: no answer within {:?}",
                host(uri),
                self.timeout
            ))),
        }
    }
}

fn host(uri: &Uri) -> String {
    format!(
        "{}://{}",
        uri.scheme_str().unwrap_or("http"),
        uri.authority().map_or("", |a| a.as_str())
    )
}

/// Whether a status is worth retrying: 408, 429 and 5xx.
pub fn retryable_status(status: StatusCode) -> bool {
    status == StatusCode::TOO_MANY_REQUESTS
        || status == StatusCode::REQUEST_TIMEOUT
        || status.is_server_error()
}

/// POSTs batches as NDJSON.
#[derive(Debug)]
pub struct HttpSink {
    opts: HttpOptions,
    poster: Poster,
    headers: Vec<(header::HeaderName, String)>,
}

impl HttpSink {
    /// Builds the sink (its TLS configuration is checked here).
    pub fn new(opts: HttpOptions) -> Result<HttpSink, String> {
        let poster = Poster::new(opts.ca_file.as_deref(), opts.timeout)?;
        let mut headers = vec![(header::CONTENT_TYPE, "application/x-ndjson".to_string())];
        if opts.gzip {
            headers.push((header::CONTENT_ENCODING, "gzip".into()));
        }
        if let Some(t) = &opts.bearer_token {
            headers.push((header::AUTHORIZATION, format!("Bearer {t}")));
        }
        Ok(HttpSink {
            opts,
            poster,
            headers,
        })
    }
}

/// Joins records into an NDJSON body, gzipped when asked.
pub fn ndjson(batch: &[Bytes], gzip: bool) -> Bytes {
    let mut body = Vec::with_capacity(batch.iter().map(|r| r.len() + 1).sum());
    for r in batch {
        body.extend_from_slice(r);
        body.push(b'\n');
    }
    if !gzip {
        return Bytes::from(body);
    }
    use std::io::Write;
    let mut gz = flate2::write::GzEncoder::new(
        Vec::with_capacity(body.len() / 4),
        flate2::Compression::fast(),
    );
    gz.write_all(&body).expect("writing to a Vec");
    Bytes::from(gz.finish().expect("writing to a Vec"))
}

impl Sink for HttpSink {
    async fn send_batch(&mut self, batch: &[Bytes]) -> Result<(), SinkError> {
        let body = ndjson(batch, self.opts.gzip);
        match self
            .poster
            .post(&self.opts.url, &self.headers, body)
            .await?
        {
            Ok(()) => Ok(()),
            Err(r) => {
                let msg = format!("{}: HTTP {}", host(&self.opts.url), r.status);
                if retryable_status(r.status) {
                    Err(SinkError::retryable(msg).with_retry_after(r.retry_after))
                } else {
                    Err(SinkError::fatal(msg))
                }
            }
        }
    }
}
