//! IP-address encryption by IPCrypt (draft-denis-ipcrypt): `ipcrypt-deterministic` and
//! `ipcrypt-pfx`.
//!
//! * [`IpCryptDeterministic`] encrypts the 16-byte form of an address (IPv4 as the IPv4-mapped
//!   `::ffff:a.b.c.d`) with AES-128. The result is another 16-byte address; it is shown as IPv4
//!   only when it happens to be `::ffff:`-mapped, so an IPv4 input almost always gives an
//!   IPv6-looking output.
//! * [`IpCryptPfx`] is prefix-preserving: two addresses that share an n-bit prefix give outputs
//!   that share an n-bit prefix (and no more). IPv4 stays IPv4 (the bit walk starts at bit 96 of
//!   the mapped form) and IPv6 stays IPv6. Each output bit is the input bit XORed with the low
//!   bit of `AES(K1, p) ^ AES(K2, p)`, where `p` is the padded prefix before that bit.
//!
//! Both are keyed permutations: anyone holding the key can decrypt, so the key is as sensitive
//! as the addresses. The `Debug` impls never print key material, and the expanded AES keys are
//! zeroised on drop (the `aes` crate's `zeroize` feature).
//!
//! # IPv4-mapped IPv6 inputs
//!
//! An `IpAddr::V6` holding `::ffff:a.b.c.d` is treated exactly as the IPv4 address `a.b.c.d`
//! (by both modes, on encrypt and decrypt): it has the same 16-byte form, so deterministic mode
//! gives the same output, and `ipcrypt-pfx` walks it as IPv4 and returns an `IpAddr::V4`.
//!
//! # Own implementation, not the `ipcrypt-rs` crate
//!
//! `ipcrypt-rs` 0.10.0 (by the draft's author) was checked first: it is pure safe Rust, offers
//! both modes and passes all 7 `ipcrypt-deterministic` and 18 `ipcrypt-pfx` vectors in
//! `shared/vectors/ipcrypt.json`. It is not used because its dependency tree (`aes` 0.9,
//! `cipher` 0.5, `crypto-common` 0.2, `hybrid-array` 0.4) needs Rust 1.85 and edition 2024,
//! while this crate declares `rust-version = "1.80"`. Both modes are short, so they are written
//! here from the draft's pseudocode on the `aes` 0.8 crate (`Aes128`, `BlockEncrypt`, MSRV
//! 1.56), which also lets `ipcrypt-pfx` encryption batch its AES calls (below). The test
//! vectors pin the result to the draft; during development the two implementations also agreed
//! on random addresses.
//!
//! # Performance
//!
//! The AES key schedules are built once, in the constructors. No method allocates. Encrypting
//! with `ipcrypt-pfx` knows every padded prefix up front (they depend only on the input), so
//! the 32 (IPv4) or 128 (IPv6) PRF inputs are encrypted in batches with `encrypt_blocks`,
//! which pipelines AES-NI rounds. Decryption needs each recovered bit before the next prefix
//! is known, so it runs one block pair at a time.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use aes::cipher::generic_array::GenericArray;
use aes::cipher::{BlockDecrypt, BlockEncrypt, KeyInit};
use aes::{Aes128, Block};

/// Why an IPCrypt context could not be built.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum IpCryptError {
    /// The two 16-byte halves of an `ipcrypt-pfx` key are equal: the PRF
    /// `AES(K1, p) ^ AES(K2, p)` would be constant zero and "encryption" the identity.
    #[error("ipcrypt-pfx key halves must differ (the two AES-128 keys are equal)")]
    IdenticalKeyHalves,
}

/// The 16-byte form of an address: IPv4 as `::ffff:a.b.c.d`, IPv6 as is.
#[inline]
fn to_16(ip: IpAddr) -> [u8; 16] {
    match ip {
        IpAddr::V4(v4) => v4.to_ipv6_mapped().octets(),
        IpAddr::V6(v6) => v6.octets(),
    }
}

/// An address from its 16-byte form: IPv4 when `::ffff:`-mapped, IPv6 otherwise.
#[inline]
fn from_16(bytes: [u8; 16]) -> IpAddr {
    IpAddr::V6(Ipv6Addr::from(bytes)).to_canonical()
}

/// ipcrypt-deterministic with a 16-byte key.
///
/// A keyed permutation of the 128-bit address space (AES-128 on the 16-byte form). Equal
/// inputs give equal outputs; nothing of the input's structure survives.
#[derive(Clone)]
pub struct IpCryptDeterministic {
    /// The expanded AES-128 key.
    cipher: Aes128,
}

impl fmt::Debug for IpCryptDeterministic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Never print key material.
        f.debug_struct("IpCryptDeterministic")
            .finish_non_exhaustive()
    }
}

impl IpCryptDeterministic {
    /// Key length in bytes.
    pub const KEY_BYTES: usize = 16;

    /// Builds the context (expands the AES-128 key once).
    pub fn new(key: &[u8; 16]) -> Self {
        IpCryptDeterministic {
            cipher: Aes128::new(GenericArray::from_slice(key)),
        }
    }

    /// Encrypts the 16-byte form of an address (IPv4 as `::ffff:a.b.c.d`).
    #[inline]
    pub fn encrypt_16(&self, bytes: [u8; 16]) -> [u8; 16] {
        let mut block = Block::from(bytes);
        self.cipher.encrypt_block(&mut block);
        block.into()
    }

    /// Decrypts the 16-byte form of an address; the inverse of [`Self::encrypt_16`].
    #[inline]
    pub fn decrypt_16(&self, bytes: [u8; 16]) -> [u8; 16] {
        let mut block = Block::from(bytes);
        self.cipher.decrypt_block(&mut block);
        block.into()
    }

    /// Encrypts an address. The output is IPv4 only if the encrypted block happens to be
    /// `::ffff:`-mapped (probability 2^-96), so expect IPv6 output for IPv4 input.
    /// `::ffff:a.b.c.d` encrypts exactly as `a.b.c.d`.
    #[inline]
    pub fn encrypt(&self, ip: IpAddr) -> IpAddr {
        from_16(self.encrypt_16(to_16(ip)))
    }

    /// Decrypts an address produced by [`Self::encrypt`] under the same key.
    /// `::ffff:a.b.c.d` decrypts exactly as `a.b.c.d`.
    #[inline]
    pub fn decrypt(&self, ip: IpAddr) -> IpAddr {
        from_16(self.decrypt_16(to_16(ip)))
    }
}

/// ipcrypt-pfx with a 32-byte key.
///
/// Prefix-preserving: addresses sharing exactly an n-bit prefix give outputs sharing exactly an
/// n-bit prefix. IPv4 stays IPv4, IPv6 stays IPv6.
#[derive(Clone)]
pub struct IpCryptPfx {
    /// AES-128 under the first key half (K1).
    k1: Aes128,
    /// AES-128 under the second key half (K2).
    k2: Aes128,
}

impl fmt::Debug for IpCryptPfx {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Never print key material.
        f.debug_struct("IpCryptPfx").finish_non_exhaustive()
    }
}

/// How many PRF blocks `IpCryptPfx` encrypts per `encrypt_blocks` call (per key).
const BATCH: usize = 16;

impl IpCryptPfx {
    /// Key length in bytes: K1 (bytes 0..16) then K2 (bytes 16..32).
    pub const KEY_BYTES: usize = 32;

    /// Builds the context (expands both AES-128 keys once).
    ///
    /// # Errors
    ///
    /// [`IpCryptError::IdenticalKeyHalves`] when `key[..16] == key[16..]`: the draft forbids
    /// it, as the PRF would then be constant and every address would map to itself.
    pub fn new(key: &[u8; 32]) -> Result<Self, IpCryptError> {
        let (a, b) = key.split_at(16);
        if a == b {
            return Err(IpCryptError::IdenticalKeyHalves);
        }
        Ok(IpCryptPfx {
            k1: Aes128::new(GenericArray::from_slice(a)),
            k2: Aes128::new(GenericArray::from_slice(b)),
        })
    }

    /// The padded prefix for the first `len` bits of `x` (`0 <= len < 128`): a 1 separator bit
    /// at position `len` (counting from the least significant bit) above the prefix bits.
    #[inline]
    fn padded(x: u128, len: u32) -> u128 {
        // `checked_shr` covers len == 0 (a shift by 128), where there are no prefix bits.
        (1u128 << len) | x.checked_shr(128 - len).unwrap_or(0)
    }

    /// Encrypts bits `start..128` (counted from the most significant) of `x`; bits above
    /// `start` are kept.
    fn encrypt_bits(&self, x: u128, start: u32) -> u128 {
        let mut mask = 0u128;
        let mut a = [Block::default(); BATCH];
        let mut b = [Block::default(); BATCH];
        let mut len = start;
        while len < 128 {
            let n = BATCH.min((128 - len) as usize);
            for (i, block) in a[..n].iter_mut().enumerate() {
                *block = Block::from(Self::padded(x, len + i as u32).to_be_bytes());
            }
            b[..n].copy_from_slice(&a[..n]);
            self.k1.encrypt_blocks(&mut a[..n]);
            self.k2.encrypt_blocks(&mut b[..n]);
            for i in 0..n {
                let bit = u128::from((a[i][15] ^ b[i][15]) & 1);
                mask |= bit << (127 - (len + i as u32));
            }
            len += n as u32;
        }
        x ^ mask
    }

    /// Decrypts bits `start..128` of `y`; the inverse of [`Self::encrypt_bits`].
    fn decrypt_bits(&self, y: u128, start: u32) -> u128 {
        let mut x = y;
        for len in start..128 {
            let mut a = Block::from(Self::padded(x, len).to_be_bytes());
            let mut b = a;
            self.k1.encrypt_block(&mut a);
            self.k2.encrypt_block(&mut b);
            // Bits above `len` of `x` are already plaintext; flip bit `len` back.
            x ^= u128::from((a[15] ^ b[15]) & 1) << (127 - len);
        }
        x
    }

    /// The mapped form of an IPv4 address as a 128-bit integer.
    #[inline]
    fn v4_word(ip: Ipv4Addr) -> u128 {
        0xffff_0000_0000 | u128::from(u32::from(ip))
    }

    /// Encrypts an IPv4 address (a 32-bit walk from bit 96 of `::ffff:a.b.c.d`).
    #[inline]
    pub fn encrypt_v4(&self, ip: Ipv4Addr) -> Ipv4Addr {
        // The upper 96 bits are kept, so truncating yields the encrypted IPv4 bits.
        Ipv4Addr::from(self.encrypt_bits(Self::v4_word(ip), 96) as u32)
    }

    /// Decrypts an IPv4 address produced by [`Self::encrypt_v4`].
    #[inline]
    pub fn decrypt_v4(&self, ip: Ipv4Addr) -> Ipv4Addr {
        Ipv4Addr::from(self.decrypt_bits(Self::v4_word(ip), 96) as u32)
    }

    /// Encrypts a (non-mapped) IPv6 address with the full 128-bit walk. This does not
    /// special-case `::ffff:a.b.c.d`; [`Self::encrypt`] does.
    #[inline]
    pub fn encrypt_v6(&self, ip: Ipv6Addr) -> Ipv6Addr {
        Ipv6Addr::from(self.encrypt_bits(u128::from(ip), 0))
    }

    /// Decrypts an IPv6 address produced by [`Self::encrypt_v6`].
    #[inline]
    pub fn decrypt_v6(&self, ip: Ipv6Addr) -> Ipv6Addr {
        Ipv6Addr::from(self.decrypt_bits(u128::from(ip), 0))
    }

    /// Encrypts an address: IPv4 gives IPv4, IPv6 gives IPv6, and `::ffff:a.b.c.d` is treated
    /// exactly as `a.b.c.d` (an IPv4 output).
    ///
    /// An IPv6 output always stays `IpAddr::V6`. In the 2^-96 case that it is itself
    /// `::ffff:`-mapped, [`Self::decrypt`] would read it as IPv4 and not round-trip it.
    #[inline]
    pub fn encrypt(&self, ip: IpAddr) -> IpAddr {
        match ip.to_canonical() {
            IpAddr::V4(v4) => IpAddr::V4(self.encrypt_v4(v4)),
            IpAddr::V6(v6) => IpAddr::V6(self.encrypt_v6(v6)),
        }
    }

    /// Decrypts an address produced by [`Self::encrypt`] under the same key;
    /// `::ffff:a.b.c.d` is treated exactly as `a.b.c.d`.
    #[inline]
    pub fn decrypt(&self, ip: IpAddr) -> IpAddr {
        match ip.to_canonical() {
            IpAddr::V4(v4) => IpAddr::V4(self.decrypt_v4(v4)),
            IpAddr::V6(v6) => IpAddr::V6(self.decrypt_v6(v6)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const VECTORS: &str = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../shared/vectors/ipcrypt.json"
    );

    fn field<'a>(v: &'a serde_json::Value, name: &str) -> &'a str {
        v[name]
            .as_str()
            .unwrap_or_else(|| panic!("vector without string `{name}`: {v}"))
    }

    fn addr(v: &serde_json::Value, name: &str) -> IpAddr {
        field(v, name)
            .parse()
            .unwrap_or_else(|e| panic!("vector `{name}` is not an address ({e}): {v}"))
    }

    fn key<const N: usize>(v: &serde_json::Value) -> [u8; N] {
        let bytes = hex::decode(field(v, "key_hex")).expect("key_hex is hex");
        bytes
            .try_into()
            .unwrap_or_else(|_| panic!("key_hex is not {N} bytes: {v}"))
    }

    /// Every `ipcrypt-deterministic` and `ipcrypt-pfx` vector, both directions.
    #[test]
    fn vectors() {
        let text = std::fs::read_to_string(VECTORS)
            .unwrap_or_else(|e| panic!("cannot read test vectors {VECTORS}: {e}"));
        let all: Vec<serde_json::Value> = serde_json::from_str(&text).expect("vectors are JSON");
        let (mut det, mut pfx) = (0, 0);
        for v in &all {
            let (input, output) = match field(v, "mode") {
                "ipcrypt-deterministic" | "ipcrypt-pfx" => (addr(v, "input"), addr(v, "output")),
                _ => continue,
            };
            let (encrypted, decrypted) = if field(v, "mode") == "ipcrypt-pfx" {
                pfx += 1;
                let c = IpCryptPfx::new(&key(v)).expect("vector key halves differ");
                (c.encrypt(input), c.decrypt(output))
            } else {
                det += 1;
                let c = IpCryptDeterministic::new(&key(v));
                (c.encrypt(input), c.decrypt(output))
            };
            assert_eq!(encrypted, output, "encrypt: {v}");
            assert_eq!(decrypted, input, "decrypt: {v}");
        }
        // 3 draft + 2 python test_vectors.json + 2 VRL; 16 draft + 2 VRL.
        assert_eq!(det, 7, "ipcrypt-deterministic vectors checked");
        assert_eq!(pfx, 18, "ipcrypt-pfx vectors checked");
    }

    #[test]
    fn pfx_rejects_equal_key_halves() {
        let mut k = [7u8; 32];
        assert_eq!(
            IpCryptPfx::new(&k).unwrap_err(),
            IpCryptError::IdenticalKeyHalves
        );
        k[31] = 8;
        assert!(IpCryptPfx::new(&k).is_ok());
    }

    #[test]
    fn mapped_v6_is_treated_as_v4() {
        let pfx = IpCryptPfx::new(&std::array::from_fn(|i| i as u8)).unwrap();
        let det = IpCryptDeterministic::new(&[0x5a; 16]);
        let v4: IpAddr = "192.0.2.1".parse().unwrap();
        let mapped: IpAddr = "::ffff:192.0.2.1".parse().unwrap();
        assert_eq!(pfx.encrypt(mapped), pfx.encrypt(v4));
        assert!(pfx.encrypt(mapped).is_ipv4());
        assert_eq!(pfx.decrypt(mapped), pfx.decrypt(v4));
        assert_eq!(det.encrypt(mapped), det.encrypt(v4));
        assert_eq!(det.decrypt(mapped), det.decrypt(v4));
    }

    #[test]
    fn debug_holds_no_key_bytes() {
        let key: [u8; 32] = std::array::from_fn(|i| 0xa0 + i as u8);
        let k16: [u8; 16] = key[..16].try_into().unwrap();
        let outputs = [
            format!("{:?}", IpCryptPfx::new(&key).unwrap()),
            format!("{:#?}", IpCryptPfx::new(&key).unwrap()),
            format!("{:?}", IpCryptDeterministic::new(&k16)),
            format!("{:#?}", IpCryptDeterministic::new(&k16)),
        ];
        for out in &outputs {
            assert!(out.starts_with("IpCrypt"), "{out}");
            let lower = out.to_ascii_lowercase();
            for b in key {
                // No byte as decimal or hex, and no digits at all: the impls print none.
                assert!(!lower.contains(&format!("{b:02x}")), "{out}");
                assert!(!out.contains(&b.to_string()), "{out}");
            }
            assert!(!out.chars().any(|c| c.is_ascii_digit()), "{out}");
        }
    }

    fn pfx_key() -> impl Strategy<Value = IpCryptPfx> {
        any::<[u8; 32]>()
            .prop_filter("key halves must differ", |k| k[..16] != k[16..])
            .prop_map(|k| IpCryptPfx::new(&k).unwrap())
    }

    /// `v` with its low `128 - n` (IPv6) or `32 - n` (IPv4) bits taken from `other`.
    fn share_prefix<T>(v: T, other: T, n: u32, bits: u32) -> T
    where
        T: Copy
            + std::ops::Shl<u32, Output = T>
            + std::ops::BitAnd<Output = T>
            + std::ops::BitOr<Output = T>
            + std::ops::Not<Output = T>
            + From<u8>,
    {
        // Mask of the top n bits; n == 0 keeps nothing of `v`.
        let high = if n == 0 {
            T::from(0)
        } else {
            !T::from(0) << (bits - n)
        };
        (v & high) | (other & !high)
    }

    proptest! {
        #[test]
        fn deterministic_round_trips(key in any::<[u8; 16]>(), a in any::<u32>(), b in any::<u128>()) {
            let c = IpCryptDeterministic::new(&key);
            for ip in [IpAddr::V4(a.into()), IpAddr::V6(b.into())] {
                prop_assert_eq!(c.decrypt(c.encrypt(ip)), ip);
            }
        }

        #[test]
        fn pfx_round_trips_and_keeps_family(c in pfx_key(), a in any::<u32>(), b in any::<u128>()) {
            let v4 = IpAddr::V4(a.into());
            let v6 = IpAddr::V6(b.into()).to_canonical();
            for ip in [v4, v6] {
                let e = c.encrypt(ip);
                prop_assert_eq!(e.is_ipv4(), ip.is_ipv4());
                prop_assert_eq!(c.decrypt(e), ip);
            }
        }

        #[test]
        fn pfx_preserves_v4_prefixes(c in pfx_key(), x in any::<u32>(), other in any::<u32>(), n in 0u32..=32) {
            let y = share_prefix(x, other, n, 32);
            let ex = u32::from(c.encrypt_v4(x.into()));
            let ey = u32::from(c.encrypt_v4(y.into()));
            prop_assert!((ex ^ ey).leading_zeros() >= n);
            // Exactly: the outputs diverge where the inputs do.
            prop_assert_eq!((ex ^ ey).leading_zeros(), (x ^ y).leading_zeros());
        }

        #[test]
        fn pfx_preserves_v6_prefixes(c in pfx_key(), x in any::<u128>(), other in any::<u128>(), n in 0u32..=128) {
            let y = share_prefix(x, other, n, 128);
            let ex = u128::from(c.encrypt_v6(x.into()));
            let ey = u128::from(c.encrypt_v6(y.into()));
            prop_assert!((ex ^ ey).leading_zeros() >= n);
            prop_assert_eq!((ex ^ ey).leading_zeros(), (x ^ y).leading_zeros());
        }

    }
}
