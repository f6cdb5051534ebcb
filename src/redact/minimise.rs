//! Applying a purpose profile to the structured fields of a line: each field is first made
//! only as precise as the profile says, then whatever text remains is scanned by the
//! detectors as usual (a policy never lets text out unscanned, except an address the
//! operator chose to `keep`).

use std::net::IpAddr;

use super::action::{parse_ip, truncate_v4, truncate_v6};
use super::{Redactor, Scratch};
use crate::minimise::geo::Style;
use crate::minimise::profile::{truncate_time, AgentPolicy, FieldKind, IpPolicy, UserPolicy};
use crate::minimise::uri::{self, PathPolicy, QueryPolicy, ReferrerPolicy, UriPolicy};
use crate::minimise::Minimiser;

impl Redactor {
    /// Writes the minimised form of a field of `kind` to `out`.
    pub(super) fn minimise_field(
        &self,
        m: &Minimiser,
        kind: FieldKind,
        value: &[u8],
        out: &mut Vec<u8>,
        s: &mut Scratch,
    ) {
        let profile = &m.profile;
        match kind {
            FieldKind::ClientIp => self.minimise_clients(m, value, out, s),
            FieldKind::User => match profile.user {
                UserPolicy::Keep => self.redact_text(value, out, s),
                UserPolicy::Pseudonymise => self.redact_user(value, out, s),
                UserPolicy::Drop => out.push(b'-'),
            },
            FieldKind::UserAgent => match profile.user_agent {
                AgentPolicy::Keep => self.redact_repeating(value, out, s),
                AgentPolicy::Generalise => s.agents.generalise(value, out),
                AgentPolicy::Pseudonymise => match &self.pseudonymiser {
                    Some(p) => p.token("ua", value, out),
                    None => out.push(b'-'),
                },
                AgentPolicy::Drop => out.push(b'-'),
            },
            FieldKind::Target => {
                let policy = scanned_when_kept(&profile.uri);
                let mut text = std::mem::take(&mut s.text);
                text.clear();
                uri::minimise_target(&policy, value, &mut text, &mut |t, o| {
                    self.redact_text(t, o, s)
                });
                if policy.path == PathPolicy::Template {
                    // Kept segments of a templated path were not scanned: scan the path part.
                    let path_end = memchr::memchr(b'?', &text).unwrap_or(text.len());
                    self.redact_text(&text[..path_end], out, s);
                    out.extend_from_slice(&text[path_end..]);
                } else {
                    out.extend_from_slice(&text);
                }
                s.text = text;
            }
            FieldKind::Referrer => {
                let policy = scanned_when_kept(&profile.uri);
                let mut text = std::mem::take(&mut s.text);
                text.clear();
                uri::minimise_referrer(&policy, value, &mut text, &mut |t, o| {
                    self.redact_text(t, o, s)
                });
                if policy.referrer == ReferrerPolicy::Origin {
                    // An origin was cut, not scanned: its host may be an address.
                    self.redact_text(&text, out, s);
                } else {
                    out.extend_from_slice(&text);
                }
                s.text = text;
            }
            FieldKind::Time => truncate_time(value, profile.time, out),
        }
    }

    /// A client field (one address or an `X-Forwarded-For` list) under the profile's
    /// address policy; entries that are not addresses are scanned as text.
    fn minimise_clients(&self, m: &Minimiser, value: &[u8], out: &mut Vec<u8>, s: &mut Scratch) {
        let mut first = true;
        for part in value.split(|&b| b == b',') {
            if !first {
                out.push(b',');
            }
            first = false;
            let trimmed = part.trim_ascii();
            let lead = part.len() - part.trim_ascii_start().len();
            out.extend_from_slice(&part[..lead]);
            match parse_ip(trimmed) {
                Some(ip) => self.minimise_ip(m, ip, trimmed, out, s),
                None if super::line::is_client_name(trimmed) => {
                    self.minimise_client_name(m, trimmed, out, s)
                }
                None => self.redact_text(trimmed, out, s),
            }
            out.extend_from_slice(&part[lead + trimmed.len()..]);
        }
    }

    /// A resolved client name identifies like its address: kept only when addresses are,
    /// pseudonymised when they are, otherwise removed (a name cannot be truncated,
    /// encrypted as an address or located).
    fn minimise_client_name(&self, m: &Minimiser, name: &[u8], out: &mut Vec<u8>, s: &mut Scratch) {
        match (m.profile.client_ip, self.special.ipv4) {
            (IpPolicy::Keep, _) => self.redact_text(name, out, s),
            (IpPolicy::Pseudonymise, Some(rule)) => self.apply(rule, name, out, s),
            _ => out.push(b'-'),
        }
    }

    fn minimise_ip(
        &self,
        m: &Minimiser,
        ip: IpAddr,
        written: &[u8],
        out: &mut Vec<u8>,
        s: &mut Scratch,
    ) {
        use std::io::Write as _;
        let rule = match ip {
            IpAddr::V4(_) => self.special.ipv4,
            IpAddr::V6(_) => self.special.ipv6,
        };
        // `apply` counts pseudonymised addresses; count the other transformations here.
        if let Some(rule) = rule {
            let counted_here =
                !matches!(m.profile.client_ip, IpPolicy::Keep | IpPolicy::Pseudonymise);
            s.counts[rule] += u64::from(counted_here);
        }
        match m.profile.client_ip {
            IpPolicy::Keep => out.extend_from_slice(written),
            IpPolicy::Truncate { v4, v6 } => {
                let _ = match ip {
                    IpAddr::V4(a) => write!(out, "{}", truncate_v4(a, v4)),
                    IpAddr::V6(a) => write!(out, "{}", truncate_v6(a, v6)),
                };
            }
            IpPolicy::Pseudonymise => match rule {
                Some(rule) => self.apply(rule, written, out, s),
                None => out.push(b'-'),
            },
            IpPolicy::IpCrypt | IpPolicy::IpCryptPfx => {
                // Addresses repeat: remember their encryptions in the worker's token cache,
                // under a key no rule index can produce.
                s.cache_key.clear();
                let mode = u8::from(m.profile.client_ip == IpPolicy::IpCryptPfx);
                s.cache_key.extend_from_slice(&[0xff, 0xff, 0xff, mode]);
                s.cache_key.extend_from_slice(written);
                if let Some(done) = s.tokens.get(s.cache_key.as_slice()) {
                    out.extend_from_slice(done);
                    return;
                }
                let start = out.len();
                let encrypted = match (&m.profile.client_ip, &m.ipcrypt, &m.ipcrypt_pfx) {
                    (IpPolicy::IpCrypt, Some(c), _) => Some(c.encrypt(ip)),
                    (IpPolicy::IpCryptPfx, _, Some(c)) => Some(c.encrypt(ip)),
                    _ => None,
                };
                match encrypted {
                    Some(e) => {
                        let _ = write!(out, "{e}");
                    }
                    None => out.push(b'-'),
                }
                s.remember_token(out[start..].into());
            }
            IpPolicy::Generalise => match &m.geo {
                Some(db) => s.geo.generalise(db, ip, Style::Token, out),
                None => out.push(b'-'),
            },
            IpPolicy::Drop => out.push(b'-'),
        }
    }
}

/// `keep` for a path, query or referrer means "not minimised", never "not scanned".
fn scanned_when_kept(policy: &UriPolicy) -> UriPolicy {
    let mut p = policy.clone();
    if p.path == PathPolicy::Keep {
        p.path = PathPolicy::Scan;
    }
    if p.query == QueryPolicy::Keep {
        p.query = QueryPolicy::Scan;
    }
    if p.referrer == ReferrerPolicy::Keep {
        p.referrer = ReferrerPolicy::Scan;
    }
    p
}
