//! Minimisation: each stored field only as precise as its purpose needs. Field policies for
//! client addresses, user agents, URIs, referrers and times, grouped into purpose
//! [`profile::Profile`]s; [`Minimiser`] holds what applying one needs (GeoIP databases,
//! IPCrypt keys) and the engine applies it field by field before the detectors run over
//! what remains.

pub mod agent;
pub mod geo;
pub mod profile;
pub mod uri;

use std::sync::Arc;

use hmac::{Hmac, Mac};
use sha2::Sha256;

use crate::pseudo::ipcrypt::{IpCryptDeterministic, IpCryptPfx};
use crate::pseudo::Key;
use geo::GeoDb;
use profile::{IpPolicy, Profile};

/// A profile ready to apply: its policies plus the GeoIP databases and IPCrypt keys they
/// need. Shared read-only by every worker.
pub struct Minimiser {
    /// The profile.
    pub profile: Profile,
    /// GeoIP databases, when the profile generalises addresses.
    pub geo: Option<Arc<GeoDb>>,
    /// ipcrypt-deterministic, keyed from the pseudonymisation key.
    pub ipcrypt: Option<IpCryptDeterministic>,
    /// ipcrypt-pfx, keyed from the pseudonymisation key.
    pub ipcrypt_pfx: Option<IpCryptPfx>,
}

impl std::fmt::Debug for Minimiser {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Minimiser")
            .field("profile", &self.profile.name)
            .finish()
    }
}

/// Why a profile cannot be applied.
#[derive(Debug, thiserror::Error)]
pub enum MinimiserError {
    /// The profile generalises addresses but no GeoIP database is configured.
    #[error("profile `{0}` generalises client addresses to country and ASN: configure [geoip] country/city/asn databases")]
    NoGeoIp(String),
    /// The profile pseudonymises but there is no key.
    #[error("profile `{0}` pseudonymises but no pseudonymisation key is configured")]
    NoKey(String),
}

impl Minimiser {
    /// Prepares `profile`. `key` (the current pseudonymisation key) keys IPCrypt; `geo`
    /// must be given when the profile generalises addresses.
    pub fn new(
        profile: Profile,
        key: Option<&Key>,
        geo: Option<Arc<GeoDb>>,
    ) -> Result<Self, MinimiserError> {
        if profile.needs_geoip() && geo.is_none() {
            return Err(MinimiserError::NoGeoIp(profile.name.clone()));
        }
        let needs_key = matches!(profile.client_ip, IpPolicy::IpCrypt | IpPolicy::IpCryptPfx);
        if needs_key && key.is_none() {
            return Err(MinimiserError::NoKey(profile.name.clone()));
        }
        let ipcrypt = key.map(|k| IpCryptDeterministic::new(&ipcrypt_key(k)));
        let ipcrypt_pfx = key
            .map(|k| IpCryptPfx::new(&ipcrypt_pfx_key(k)).expect("the two derived halves differ"));
        Ok(Minimiser {
            profile,
            geo,
            ipcrypt,
            ipcrypt_pfx,
        })
    }
}

/// The ipcrypt-deterministic key derived from a pseudonymisation key (HMAC-SHA256 with a
/// label), so one secret serves every pseudonym kind and rotates with it.
pub fn ipcrypt_key(key: &Key) -> [u8; 16] {
    let full = derive(key, b"redactd ipcrypt-deterministic");
    full[..16].try_into().expect("16 of 32 bytes")
}

/// The ipcrypt-pfx key derived from a pseudonymisation key. Its two halves must differ;
/// they are independent HMAC outputs, and in the 2^-128 case they collide the second is
/// flipped.
pub fn ipcrypt_pfx_key(key: &Key) -> [u8; 32] {
    let mut k = derive(key, b"redactd ipcrypt-pfx");
    if k[..16] == k[16..] {
        k[31] ^= 1;
    }
    k
}

fn derive(key: &Key, label: &[u8]) -> [u8; 32] {
    let mut mac = Hmac::<Sha256>::new_from_slice(key.bytes()).expect("HMAC takes any key length");
    mac.update(label);
    mac.finalize().into_bytes().into()
}
