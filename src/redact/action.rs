//! Actions: what a rule does to a value it matched, and how values are normalised so that
//! one address, written several ways, gets one pseudonym.

use std::io::Write as _;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use super::detect::ValueKind;
use super::{Redactor, Scratch, TOKEN_CACHE_ENTRIES};
use crate::format::url::{escape_at, hex_val};
use crate::rules::{Action, Rule};

impl Redactor {
    /// Appends the transformed `value` for rule `index` to `out` and counts it.
    pub(super) fn apply(&self, index: usize, value: &[u8], out: &mut Vec<u8>, s: &mut Scratch) {
        let rule = &self.rules[index];
        s.counts[index] += 1;
        match rule.action {
            Action::Redact => out.extend_from_slice(rule.placeholder.as_bytes()),
            Action::Mask => mask(value, rule.keep_last, out),
            Action::Keep => out.extend_from_slice(value),
            Action::Drop => {}
            Action::Truncate => {
                if !truncate(rule, value, out) {
                    // Not a value this rule can cut (a malformed address): fail closed.
                    out.extend_from_slice(rule.placeholder.as_bytes());
                }
            }
            Action::Pseudonymise => self.pseudonymise(index, value, out, s),
        }
    }

    fn pseudonymise(&self, index: usize, value: &[u8], out: &mut Vec<u8>, s: &mut Scratch) {
        let rule = &self.rules[index];
        let Some(p) = &self.pseudonymiser else {
            // `Redactor::new` refuses a pseudonymising rule without a key; stay closed anyway.
            out.extend_from_slice(rule.placeholder.as_bytes());
            return;
        };
        s.cache_key.clear();
        s.cache_key.extend_from_slice(&(index as u32).to_le_bytes());
        s.cache_key.extend_from_slice(value);
        if let Some(token) = s.tokens.get(s.cache_key.as_slice()) {
            out.extend_from_slice(token);
            return;
        }
        normalise(rule.kind, value, &mut s.normalised);
        let start = out.len();
        p.token(&rule.token, &s.normalised, out);
        s.remember_token(out[start..].into());
    }
}

impl Scratch {
    /// Caches `token` under the current `cache_key`, starting over when the cache is full.
    pub(super) fn remember_token(&mut self, token: Box<[u8]>) {
        if self.tokens.len() >= TOKEN_CACHE_ENTRIES {
            self.tokens.clear();
        }
        self.tokens.insert(self.cache_key.clone(), token);
    }
}

/// Replaces letters and digits with `*`, leaving the last `keep_last` of them and every
/// separator: `4111 1111 1111 1111` → `**** **** **** 1111`.
pub fn mask(value: &[u8], keep_last: usize, out: &mut Vec<u8>) {
    let total = value.iter().filter(|b| b.is_ascii_alphanumeric()).count();
    // Never reveal more than a third of a short value.
    let keep = keep_last.min(total / 3);
    let mut seen = 0;
    for &b in value {
        if b.is_ascii_alphanumeric() {
            seen += 1;
            out.push(if seen > total - keep { b } else { b'*' });
        } else {
            out.push(b);
        }
    }
}

/// Writes the truncated form of `value`; false when it cannot be truncated.
fn truncate(rule: &Rule, value: &[u8], out: &mut Vec<u8>) -> bool {
    match rule.kind {
        ValueKind::Ip => match parse_ip(value) {
            Some(IpAddr::V4(v4)) => {
                let _ = write!(out, "{}", truncate_v4(v4, rule.ipv4_prefix));
                true
            }
            Some(IpAddr::V6(v6)) => {
                let _ = write!(out, "{}", truncate_v6(v6, rule.ipv6_prefix));
                true
            }
            None => false,
        },
        ValueKind::Postcode => {
            // The outward code is everything before the 3-character inward code and its
            // separator (a space, or `+` / `%20` in a URL).
            if value.len() < 5 {
                return false;
            }
            let mut outward = &value[..value.len() - 3];
            outward = outward.strip_suffix(b"%20").unwrap_or(outward);
            outward = outward.strip_suffix(b"+").unwrap_or(outward);
            outward = outward.trim_ascii_end();
            out.extend(outward.iter().map(u8::to_ascii_uppercase));
            true
        }
        _ => false,
    }
}

/// Keeps the first `bits` of an IPv4 address.
pub fn truncate_v4(ip: Ipv4Addr, bits: u8) -> Ipv4Addr {
    let mask = if bits == 0 {
        0
    } else {
        u32::MAX << (32 - u32::from(bits.min(32)))
    };
    Ipv4Addr::from(u32::from(ip) & mask)
}

/// Keeps the first `bits` of an IPv6 address.
pub fn truncate_v6(ip: Ipv6Addr, bits: u8) -> Ipv6Addr {
    let mask = if bits == 0 {
        0
    } else {
        u128::MAX << (128 - u32::from(bits.min(128)))
    };
    Ipv6Addr::from(u128::from(ip) & mask)
}

/// Parses an address as it appears in logs: plain, bracketed (`[2001:db8::1]:443`), with
/// a zone (`fe80::1%eth0`, `%25eth0`). IPv4-mapped IPv6 comes back as IPv4.
pub fn parse_ip(value: &[u8]) -> Option<IpAddr> {
    let mut v = value;
    if let Some(rest) = v.strip_prefix(b"[") {
        let close = rest.iter().position(|&b| b == b']')?;
        v = &rest[..close];
    }
    if let Some(pct) = v.iter().position(|&b| b == b'%') {
        v = &v[..pct];
    }
    if v.len() > 45 {
        return None;
    }
    let ip: IpAddr = std::str::from_utf8(v).ok()?.parse().ok()?;
    Some(match ip {
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => IpAddr::V6(v6),
        },
        v4 => v4,
    })
}

/// Writes the canonical form of a value of `kind` into `out` (cleared first): the form
/// pseudonyms are computed over, and that `redactd lookup` computes too.
///
/// * e-mail: `%XX` and `\u0040` decoded, lower case;
/// * IP: the standard text form (RFC 5952 for IPv6; IPv4-mapped as IPv4); a host name in
///   lower case;
/// * phone: E.164 (`+447700900123`), UK national numbers taken as +44;
/// * card, IBAN, account, VAT, NINO, postcode: upper-case letters and digits only;
/// * name: `+` and `%20` as spaces, runs of spaces collapsed, lower case;
/// * others: as written.
pub fn normalise(kind: ValueKind, value: &[u8], out: &mut Vec<u8>) {
    out.clear();
    match kind {
        ValueKind::Email => {
            decode_escapes(value, out);
            out.make_ascii_lowercase();
        }
        ValueKind::Ip => match parse_ip(value) {
            Some(ip) => {
                let _ = write!(out, "{ip}");
            }
            // A host name: DNS names are case-insensitive.
            None => out.extend(value.iter().map(u8::to_ascii_lowercase)),
        },
        ValueKind::Phone => normalise_phone(value, out),
        ValueKind::Card
        | ValueKind::Iban
        | ValueKind::BankAccount
        | ValueKind::VatNumber
        | ValueKind::NationalInsurance
        | ValueKind::Postcode => {
            out.extend(
                value
                    .iter()
                    .filter(|b| b.is_ascii_alphanumeric())
                    .map(u8::to_ascii_uppercase),
            );
        }
        ValueKind::Name => {
            let mut decoded = Vec::with_capacity(value.len());
            decode_escapes(value, &mut decoded);
            for &b in decoded.iter() {
                let b = if b == b'+' {
                    b' '
                } else {
                    b.to_ascii_lowercase()
                };
                if b == b' ' && (out.is_empty() || out.last() == Some(&b' ')) {
                    continue;
                }
                out.push(b);
            }
            while out.last() == Some(&b' ') {
                out.pop();
            }
        }
        ValueKind::Secret | ValueKind::Other => out.extend_from_slice(value),
    }
}

/// Decodes `%XX` and `\uXXXX` (ASCII only) escapes; anything else is copied.
fn decode_escapes(value: &[u8], out: &mut Vec<u8>) {
    let mut i = 0;
    while i < value.len() {
        let b = value[i];
        if let Some(decoded) = escape_at(value, i) {
            out.push(decoded);
            i += 3;
            continue;
        }
        if b == b'\\' && value.get(i + 1) == Some(&b'u') && i + 5 < value.len() {
            let digits = &value[i + 2..i + 6];
            if digits[..2] == *b"00" {
                if let (Some(h), Some(l)) = (hex_val(digits[2]), hex_val(digits[3])) {
                    out.push(h << 4 | l);
                    i += 6;
                    continue;
                }
            }
        }
        out.push(b);
        i += 1;
    }
}

fn normalise_phone(value: &[u8], out: &mut Vec<u8>) {
    let mut decoded = Vec::with_capacity(value.len());
    decode_escapes(value, &mut decoded);
    // Drop the UK trunk prefix written as "(0)" in "+44 (0)20 ...".
    let plus = decoded.first() == Some(&b'+');
    let mut digits: Vec<u8> = Vec::with_capacity(16);
    let mut i = 0;
    while i < decoded.len() {
        if decoded[i..].starts_with(b"(0)") {
            i += 3;
            continue;
        }
        if decoded[i].is_ascii_digit() {
            digits.push(decoded[i]);
        }
        i += 1;
    }
    out.push(b'+');
    if plus {
        out.extend_from_slice(&digits);
    } else if let Some(rest) = digits.strip_prefix(b"00") {
        out.extend_from_slice(rest);
    } else if let Some(rest) = digits.strip_prefix(b"0") {
        out.extend_from_slice(b"44");
        out.extend_from_slice(rest);
    } else {
        out.extend_from_slice(&digits);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn norm(kind: ValueKind, v: &str) -> String {
        let mut out = Vec::new();
        normalise(kind, v.as_bytes(), &mut out);
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn email_forms_normalise_to_one_address() {
        for v in [
            "Jane.Doe@Example.com",
            "jane.doe%40example.com",
            "jane.doe\\u0040EXAMPLE.com",
        ] {
            assert_eq!(norm(ValueKind::Email, v), "jane.doe@example.com", "{v}");
        }
    }

    #[test]
    fn uk_phone_forms_normalise_to_e164() {
        for v in [
            "020 7946 0958",
            "+44 20 7946 0958",
            "+44 (0)20 7946 0958",
            "%2B442079460958",
            "020+7946+0958",
            "0044 20 7946 0958",
        ] {
            assert_eq!(norm(ValueKind::Phone, v), "+442079460958", "{v}");
        }
    }

    #[test]
    fn ip_forms_normalise_to_the_standard_text_form() {
        assert_eq!(norm(ValueKind::Ip, "::ffff:192.0.2.7"), "192.0.2.7");
        assert_eq!(norm(ValueKind::Ip, "[2001:DB8:0:0::1]:443"), "2001:db8::1");
        assert_eq!(norm(ValueKind::Ip, "fe80::1%eth0"), "fe80::1");
    }

    #[test]
    fn names_normalise_spacing_and_case() {
        assert_eq!(norm(ValueKind::Name, "Eileen+Coe"), "eileen coe");
        assert_eq!(norm(ValueKind::Name, "Eileen%20%20Coe "), "eileen coe");
    }

    #[test]
    fn mask_keeps_last_four_and_separators() {
        let mut out = Vec::new();
        mask(b"4111-1111-1111-1111", 4, &mut out);
        assert_eq!(out, b"****-****-****-1111");
    }

    #[test]
    fn mask_never_reveals_more_than_a_third_of_a_short_value() {
        let mut out = Vec::new();
        mask(b"123456", 4, &mut out);
        assert_eq!(out, b"****56");
    }

    #[test]
    fn truncation_keeps_the_network_prefix() {
        assert_eq!(
            truncate_v4("203.0.113.77".parse().unwrap(), 24).to_string(),
            "203.0.113.0"
        );
        assert_eq!(
            truncate_v6("2001:db8:abcd:12::1".parse().unwrap(), 48).to_string(),
            "2001:db8:abcd::"
        );
        assert_eq!(
            truncate_v4("203.0.113.77".parse().unwrap(), 0).to_string(),
            "0.0.0.0"
        );
    }
}
