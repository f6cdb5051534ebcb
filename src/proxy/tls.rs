//! TLS with rustls (ring provider): the server side (PEM certificate chain and key, TLS 1.2
//! and 1.3, ALPN `h2` and `http/1.1`, files re-read when they change) and the client side
//! for HTTPS upstreams (webpki roots plus any extra CA, always verifying).

use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant, SystemTime};

use rustls::crypto::ring::default_provider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;

/// A certificate chain and key file pair (PEM).
#[derive(Debug, Clone)]
pub struct TlsFiles {
    /// Certificate chain, leaf first.
    pub cert: PathBuf,
    /// Private key (PKCS#8, PKCS#1 or SEC1).
    pub key: PathBuf,
}

/// A TLS set-up error, naming the file.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    /// A file could not be read.
    #[error("{path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        source: io::Error,
    },
    /// A file holds no usable certificate or key.
    #[error("{path}: {message}")]
    Pem {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
    /// rustls refused the configuration.
    #[error("TLS configuration: {0}")]
    Rustls(#[from] rustls::Error),
}

fn read(path: &Path) -> Result<Vec<u8>, TlsError> {
    fs::read(path).map_err(|source| TlsError::Read {
        path: path.to_path_buf(),
        source,
    })
}

fn pem_err(path: &Path, message: impl Into<String>) -> TlsError {
    TlsError::Pem {
        path: path.to_path_buf(),
        message: message.into(),
    }
}

/// Loads and checks the pair.
fn load(files: &TlsFiles) -> Result<Arc<CertifiedKey>, TlsError> {
    let cert_pem = read(&files.cert)?;
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(&cert_pem)
        .collect::<Result<_, _>>()
        .map_err(|e| pem_err(&files.cert, format!("bad PEM: {e}")))?;
    if certs.is_empty() {
        return Err(pem_err(&files.cert, "no CERTIFICATE in the file"));
    }
    let key_pem = read(&files.key)?;
    let key = PrivateKeyDer::from_pem_slice(&key_pem)
        .map_err(|e| pem_err(&files.key, format!("no usable private key: {e}")))?;
    let provider = default_provider();
    let signing = provider
        .key_provider
        .load_private_key(key)
        .map_err(|e| pem_err(&files.key, e.to_string()))?;
    let ck = CertifiedKey::new(certs, signing);
    ck.keys_match()
        .map_err(|e| pem_err(&files.key, format!("does not match the certificate: {e}")))?;
    Ok(Arc::new(ck))
}

/// Modification times of the certificate and key files.
type Mtimes = (Option<SystemTime>, Option<SystemTime>);

fn mtimes(files: &TlsFiles) -> Mtimes {
    let m = |p: &Path| fs::metadata(p).and_then(|m| m.modified()).ok();
    (m(&files.cert), m(&files.key))
}

/// Serves the current certificate; at most once a second a handshake checks the files'
/// modification times and reloads them when changed (a bad new pair keeps the old one).
#[derive(Debug)]
struct Reloading {
    files: TlsFiles,
    current: RwLock<Arc<CertifiedKey>>,
    seen: Mutex<(Instant, Mtimes)>,
}

const RELOAD_CHECK: Duration = Duration::from_secs(1);

impl Reloading {
    fn maybe_reload(&self) {
        let Ok(mut seen) = self.seen.try_lock() else {
            return;
        };
        if seen.0.elapsed() < RELOAD_CHECK {
            return;
        }
        seen.0 = Instant::now();
        let now = mtimes(&self.files);
        if now == seen.1 {
            return;
        }
        match load(&self.files) {
            Ok(ck) => {
                seen.1 = now;
                if let Ok(mut cur) = self.current.write() {
                    *cur = ck;
                }
                eprintln!("redactd: reloaded the TLS certificate.");
            }
            Err(e) => eprintln!("redactd: TLS certificate not reloaded, keeping the old one: {e}."),
        }
    }
}

impl ResolvesServerCert for Reloading {
    fn resolve(&self, _hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        self.maybe_reload();
        self.current.read().ok().map(|c| c.clone())
    }
}

/// Reads the pair and checks that the key matches the certificate, as serving would.
pub fn check_files(files: &TlsFiles) -> Result<(), TlsError> {
    load(files).map(|_| ())
}

/// Reads the extra CA certificates for HTTPS upstreams, as the proxy would.
pub fn check_upstream_ca(path: &Path) -> Result<(), TlsError> {
    client_config(Some(path)).map(|_| ())
}

/// The proxy's server configuration for `files`: ALPN `h2` and `http/1.1`.
pub(crate) fn server_config(files: &TlsFiles) -> Result<Arc<rustls::ServerConfig>, TlsError> {
    server_config_with_alpn(files, &[b"h2", b"http/1.1"])
}

/// A server configuration for `files` offering `alpn` (none: no ALPN), TLS 1.2 and 1.3,
/// the files re-read when they change.
pub fn server_config_with_alpn(
    files: &TlsFiles,
    alpn: &[&[u8]],
) -> Result<Arc<rustls::ServerConfig>, TlsError> {
    let ck = load(files)?;
    let resolver = Reloading {
        files: files.clone(),
        current: RwLock::new(ck),
        seen: Mutex::new((Instant::now(), mtimes(files))),
    };
    let mut config = rustls::ServerConfig::builder_with_provider(Arc::new(default_provider()))
        .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])?
        .with_no_client_auth()
        .with_cert_resolver(Arc::new(resolver));
    config.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
    Ok(Arc::new(config))
}

/// The client configuration for HTTPS upstreams: webpki roots plus the certificates in
/// `extra_ca` (PEM), verifying names and chains.
pub(crate) fn client_config(extra_ca: Option<&Path>) -> Result<rustls::ClientConfig, TlsError> {
    let mut roots = rustls::RootCertStore {
        roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
    };
    if let Some(path) = extra_ca {
        let pem = read(path)?;
        for cert in CertificateDer::pem_slice_iter(&pem) {
            let cert = cert.map_err(|e| pem_err(path, format!("bad PEM: {e}")))?;
            roots
                .add(cert)
                .map_err(|e| pem_err(path, format!("not a CA certificate: {e}")))?;
        }
    }
    let config = rustls::ClientConfig::builder_with_provider(Arc::new(default_provider()))
        .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(config)
}

/// `TLSv1.2` / `TLSv1.3` for the record.
pub(crate) fn version_name(v: Option<rustls::ProtocolVersion>) -> Option<&'static str> {
    match v? {
        rustls::ProtocolVersion::TLSv1_3 => Some("TLSv1.3"),
        rustls::ProtocolVersion::TLSv1_2 => Some("TLSv1.2"),
        _ => Some("TLS"),
    }
}
