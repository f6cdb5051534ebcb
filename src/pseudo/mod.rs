//! Pseudonyms: a keyed, deterministic PRF (HMAC-SHA256) over a normalised value, rendered as
//! a short typed token carrying the key's short id, such as `email:1a2b:4f2a9c1d0e7b`
//! (type, key id, 12 hex digits of the MAC).
//!
//! The same value gives the same token on every run and every machine that holds the key, so
//! records stay linkable for support and security work without revealing the value. Without
//! the key a token cannot be reversed or recomputed; destroying the key makes its tokens
//! anonymous.

pub mod ipcrypt;
mod key;
pub mod keystore;

pub use key::{Key, KeyError, KEY_ENV, KEY_FILE_ENV};

use hmac::{Hmac, Mac};
use sha2::Sha256;

/// Number of HMAC output bytes a token carries (rendered as twice as many hex digits).
pub const TOKEN_BYTES: usize = 6;

/// Produces pseudonym tokens under one key. Cheap to clone; share it read-only.
#[derive(Clone)]
pub struct Pseudonymiser {
    /// HMAC state with the key already absorbed, cloned per token.
    keyed: Hmac<Sha256>,
    key_id: String,
}

impl std::fmt::Debug for Pseudonymiser {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never print key material.
        f.debug_struct("Pseudonymiser")
            .field("key_id", &self.key_id)
            .finish()
    }
}

impl Pseudonymiser {
    /// Builds a pseudonymiser for `key`.
    pub fn new(key: &Key) -> Self {
        let keyed = Hmac::<Sha256>::new_from_slice(key.bytes()).expect("HMAC takes any key length");
        Pseudonymiser {
            keyed,
            key_id: key.id(),
        }
    }

    /// The short public id of the key (not secret): the first 4 hex digits of SHA-256(key).
    pub fn key_id(&self) -> &str {
        &self.key_id
    }

    /// Appends the token for `normalised` of type `kind` (e.g. `email`) to `out`:
    /// `kind:`, the key id, `:`, then 12 lowercase hex digits.
    pub fn token(&self, kind: &str, normalised: &[u8], out: &mut Vec<u8>) {
        let mut mac = self.keyed.clone();
        mac.update(kind.as_bytes());
        mac.update(&[0]);
        mac.update(normalised);
        let digest = mac.finalize().into_bytes();
        out.extend_from_slice(kind.as_bytes());
        out.push(b':');
        out.extend_from_slice(self.key_id.as_bytes());
        out.push(b':');
        push_hex(&digest[..TOKEN_BYTES], out);
    }
}

fn push_hex(bytes: &[u8], out: &mut Vec<u8>) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    for b in bytes {
        out.push(HEX[(b >> 4) as usize]);
        out.push(HEX[(b & 15) as usize]);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn token(p: &Pseudonymiser, kind: &str, v: &str) -> String {
        let mut out = Vec::new();
        p.token(kind, v.as_bytes(), &mut out);
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn same_value_and_key_give_the_same_token() {
        let key = Key::from_bytes([7; 32]);
        let a = Pseudonymiser::new(&key);
        let b = Pseudonymiser::new(&Key::from_bytes([7; 32]));
        assert_eq!(token(&a, "email", "a@b.com"), token(&b, "email", "a@b.com"));
    }

    #[test]
    fn token_is_typed_carries_the_key_id_and_twelve_hex_digits() {
        let p = Pseudonymiser::new(&Key::from_bytes([1; 32]));
        let t = token(&p, "email", "jane@example.com");
        let parts: Vec<&str> = t.split(':').collect();
        assert_eq!(parts.len(), 3, "{t}");
        let (kind, kid, hex) = (parts[0], parts[1], parts[2]);
        assert_eq!(kind, "email");
        assert_eq!(kid, p.key_id());
        assert_eq!(kid.len(), 4);
        assert_eq!(hex.len(), 12);
        assert!(hex
            .bytes()
            .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase()));
    }

    #[test]
    fn different_keys_types_or_values_give_different_tokens() {
        let p = Pseudonymiser::new(&Key::from_bytes([1; 32]));
        let q = Pseudonymiser::new(&Key::from_bytes([2; 32]));
        let base = token(&p, "email", "jane@example.com");
        assert_ne!(base, token(&q, "email", "jane@example.com"));
        assert_ne!(base[11..], token(&p, "phone", "jane@example.com")[11..]);
        assert_ne!(base, token(&p, "email", "john@example.com"));
    }

    #[test]
    fn token_matches_hmac_sha256_reference() {
        // HMAC-SHA256(key = 32 zero bytes, "ip\0" || "192.0.2.1")[..6], computed
        // independently with Python's hmac module.
        let p = Pseudonymiser::new(&Key::from_bytes([0; 32]));
        let kid = p.key_id().to_string();
        assert_eq!(
            token(&p, "ip", "192.0.2.1"),
            format!("ip:{kid}:ed262f845c89")
        );
    }

    #[test]
    fn debug_output_holds_no_key_material() {
        let p = Pseudonymiser::new(&Key::from_bytes([0xab; 32]));
        let dbg = format!("{p:?}");
        assert!(!dbg.contains("abab"), "{dbg}");
    }
}
