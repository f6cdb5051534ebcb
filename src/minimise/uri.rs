//! URI minimisation: request targets and referrers stored only as precisely as needed.
//!
//! Everything works on bytes: malformed percent-escapes, invalid UTF-8 and control bytes never
//! panic, they are just not decoded. Fragments (`#...`) are always dropped: browsers never send
//! them, so one in a log is either a bug or something pasted by hand.
//!
//! ## Path templates
//!
//! With [`PathPolicy::Template`] each `/`-separated segment is percent-decoded for the test only;
//! the output holds either a template or the segment's original bytes:
//!
//! | segment | template |
//! | --- | --- |
//! | holds `@` (raw or `%40`, also double-encoded `%2540`) | `{email}` |
//! | a UUID, any case | `{uuid}` |
//! | an IPv4 address, or an IPv6 address (two or more `:`, hex digits) | `{ip}` |
//! | `+` and 7-15 digits, or `0` and 10-11 digits (separators ` -.()` allowed) | `{phone}` |
//! | only digits and ` -_.` with 4 or more digits, or mostly digits (6 or more, at least 60% of the letters and digits) | `{id}` |
//! | hex digits only, 16 or more | `{id}` |
//! | 20 or more of `[A-Za-z0-9-_+=.~]` with letters and digits that look random (many letter/digit/case changes, or an unbroken run of 20), not ending in a file extension | `{token}` |
//!
//! **4-digit numbers are ids**: `/users/2024` and `/archive/2024` cannot be told apart, and a
//! short id identifies as well as a long one, so a run of 4 or more digits is never kept. The
//! same holds inside a segment that is otherwise kept: `invoice-123456.pdf` is written
//! `invoice-{id}.pdf`, and a UUID, an IPv4 address, a hex run of 16 or more or a random-looking
//! run of 20 letters and digits inside a segment get their template in place. A segment with
//! percent-escapes in which anything would be replaced becomes `{id}` whole, since its decoded
//! bytes are never written. Words and slugs (`orders`, `v1`, `api`, `mens-trail-running-shoe`,
//! `kibana-search.png`) stay as they are.
//!
//! ## Query strings
//!
//! Parameters whose name is secret-like are removed whole (name and value) under
//! [`QueryPolicy::Allowlist`] and [`QueryPolicy::Scan`]: the names `password`, `passwd`, `pwd`,
//! `token`, `access_token`, `refresh_token`, `api_key`, `apikey`, `key`, `secret`,
//! `client_secret`, `session`, `sessionid`, `sessid`, `sid`, `auth`, `authorization`,
//! `signature`, `sig`, `code`, `otp`, `jwt`, `credential`, compared ASCII case-insensitively
//! after percent-decoding, also as the last part of a longer name (`x_api_key`, `oauth_token`,
//! `X-Amz-Signature`, `user[password]`, `apiKey`) and, for the long ones, as its ending
//! (`xapikey`). So `zip_code` and `promo_code` are removed too: removing too much is the safe
//! side.

use std::borrow::Cow;

use memchr::memchr;

/// How a path is stored.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum PathPolicy {
    /// As it was.
    Keep,
    /// Through the engine's free-text redaction.
    Scan,
    /// Segments that identify someone or something replaced by templates (see the module doc).
    #[default]
    Template,
    /// Replaced by `/`.
    Drop,
}

/// How a query string is stored.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum QueryPolicy {
    /// As it was.
    Keep,
    /// Secret-named parameters removed, the rest through the engine's free-text redaction.
    Scan,
    /// Secret-named parameters removed, allowed ones kept verbatim, the rest keep their name and
    /// have their value scanned.
    #[default]
    Allowlist,
    /// Removed, with its `?`.
    Drop,
}

/// How a referrer is stored.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum ReferrerPolicy {
    /// As it was (less its fragment).
    Keep,
    /// Through the engine's free-text redaction.
    Scan,
    /// `scheme://host[:port]/` for other sites; the operator's own hosts get the path and query
    /// policies; what is not a URL becomes `-`.
    #[default]
    Origin,
    /// Replaced by `-`.
    Drop,
}

/// The URI and referrer policies of one purpose profile.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct UriPolicy {
    /// How paths are stored.
    pub path: PathPolicy,
    /// How query strings are stored.
    pub query: QueryPolicy,
    /// Query parameters kept verbatim under [`QueryPolicy::Allowlist`] (names compared ASCII
    /// case-insensitively after percent-decoding). A secret-like name is removed even if listed.
    pub allow: Vec<String>,
    /// How referrers are stored.
    pub referrer: ReferrerPolicy,
    /// The operator's own host names: their referrers get the path/query rules instead of
    /// origin-only. Compared ASCII case-insensitively, without the port.
    pub own_hosts: Vec<String>,
}

/// Minimises a request target (`/path?query#fragment`, or an absolute URL).
///
/// An absolute URL keeps `scheme://host[:port]` (lower-cased, userinfo removed) before its
/// minimised path and query. `scan` appends a redacted version of a text to `out`.
pub fn minimise_target(
    policy: &UriPolicy,
    target: &[u8],
    out: &mut Vec<u8>,
    scan: &mut dyn FnMut(&[u8], &mut Vec<u8>),
) {
    let target = cut_fragment(target);
    match parse_absolute(target) {
        Some(url) => {
            write_origin(&url, out);
            minimise_rest(policy, url.rest, true, out, scan);
        }
        None => minimise_rest(policy, target, false, out, scan),
    }
}

/// Minimises a referrer (absolute URL usually; `-` and empty stay as they are).
///
/// `scan` appends a redacted version of a text to `out`.
pub fn minimise_referrer(
    policy: &UriPolicy,
    referrer: &[u8],
    out: &mut Vec<u8>,
    scan: &mut dyn FnMut(&[u8], &mut Vec<u8>),
) {
    if referrer.is_empty() || referrer == b"-" {
        out.extend_from_slice(referrer);
        return;
    }
    let referrer = cut_fragment(referrer);
    match policy.referrer {
        ReferrerPolicy::Keep => out.extend_from_slice(referrer),
        ReferrerPolicy::Scan => scan(referrer, out),
        ReferrerPolicy::Drop => out.push(b'-'),
        ReferrerPolicy::Origin => match parse_absolute(referrer) {
            None => out.push(b'-'),
            Some(url) => {
                write_origin(&url, out);
                let own = policy
                    .own_hosts
                    .iter()
                    .any(|h| h.as_bytes().eq_ignore_ascii_case(url.host));
                if own {
                    minimise_rest(policy, url.rest, true, out, scan);
                } else {
                    out.push(b'/');
                }
            }
        },
    }
}

/// The template of one path segment, if it identifies someone or something: `{email}`, `{id}`,
/// `{uuid}`, `{token}`, `{phone}`, `{ip}`; None keeps it.
///
/// The segment is percent-decoded for the test. None does not mean every byte is kept: under
/// [`PathPolicy::Template`] digit runs of 4 or more and other identifiers inside a kept segment
/// are still replaced in place (see the module doc).
pub fn segment_template(segment: &[u8]) -> Option<&'static str> {
    let d = decode(segment);
    classify(&d)
}

// ---------------------------------------------------------------------------------------------
// URLs

/// An absolute URL, split.
struct Url<'a> {
    scheme: &'a [u8],
    host: &'a [u8],
    port: Option<&'a [u8]>,
    /// Path and query, from the first `/` or `?` after the authority.
    rest: &'a [u8],
}

fn cut_fragment(s: &[u8]) -> &[u8] {
    match memchr(b'#', s) {
        Some(i) => &s[..i],
        None => s,
    }
}

/// `scheme://[userinfo@]host[:port][rest]`, with a scheme of `[A-Za-z][A-Za-z0-9+.-]{0,31}`, a
/// host of `[A-Za-z0-9._~-]` (or a bracketed IPv6 literal) and a port of 1-5 digits.
fn parse_absolute(s: &[u8]) -> Option<Url<'_>> {
    let colon = memchr(b':', &s[..s.len().min(34)])?;
    let scheme = &s[..colon];
    let (first, tail) = scheme.split_first()?;
    if !first.is_ascii_alphabetic()
        || !tail
            .iter()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'.' | b'-'))
    {
        return None;
    }
    let after = s[colon + 1..].strip_prefix(b"//")?;
    let end = after
        .iter()
        .position(|&b| b == b'/' || b == b'?')
        .unwrap_or(after.len());
    let (authority, rest) = after.split_at(end);
    let hostport = match authority.iter().rposition(|&b| b == b'@') {
        Some(at) => &authority[at + 1..],
        None => authority,
    };
    let (host, port) = if hostport.first() == Some(&b'[') {
        let close = memchr(b']', hostport)?;
        let host = &hostport[..=close];
        if !host[1..close]
            .iter()
            .all(|b| b.is_ascii_hexdigit() || matches!(b, b':' | b'.'))
        {
            return None;
        }
        match &hostport[close + 1..] {
            [] => (host, None),
            [b':', port @ ..] => (host, Some(port)),
            _ => return None,
        }
    } else {
        match memchr(b':', hostport) {
            Some(c) => (&hostport[..c], Some(&hostport[c + 1..])),
            None => (hostport, None),
        }
    };
    if host.is_empty()
        || (host[0] != b'['
            && !host
                .iter()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'_' | b'~')))
    {
        return None;
    }
    if let Some(p) = port {
        if p.is_empty() || p.len() > 5 || !p.iter().all(u8::is_ascii_digit) {
            return None;
        }
    }
    Some(Url {
        scheme,
        host,
        port,
        rest,
    })
}

/// `scheme://host[:port]`, scheme and host lower-cased.
fn write_origin(url: &Url<'_>, out: &mut Vec<u8>) {
    out.extend(url.scheme.iter().map(u8::to_ascii_lowercase));
    out.extend_from_slice(b"://");
    out.extend(url.host.iter().map(u8::to_ascii_lowercase));
    if let Some(p) = url.port {
        out.push(b':');
        out.extend_from_slice(p);
    }
}

/// Path and query of a target or own-host referrer (fragment already cut).
fn minimise_rest(
    policy: &UriPolicy,
    rest: &[u8],
    absolute: bool,
    out: &mut Vec<u8>,
    scan: &mut dyn FnMut(&[u8], &mut Vec<u8>),
) {
    let (path, query) = match memchr(b'?', rest) {
        Some(q) => (&rest[..q], Some(&rest[q + 1..])),
        None => (rest, None),
    };
    if absolute && path.is_empty() {
        out.push(b'/');
    } else {
        match policy.path {
            PathPolicy::Keep => out.extend_from_slice(path),
            PathPolicy::Scan => scan(path, out),
            PathPolicy::Template => template_path(path, out),
            PathPolicy::Drop => out.push(b'/'),
        }
    }
    if let Some(q) = query {
        minimise_query(policy, q, out, scan);
    }
}

// ---------------------------------------------------------------------------------------------
// Paths

fn template_path(path: &[u8], out: &mut Vec<u8>) {
    let mut scratch = Vec::new();
    for (i, segment) in path.split(|&b| b == b'/').enumerate() {
        if i > 0 {
            out.push(b'/');
        }
        template_segment(segment, out, &mut scratch);
    }
}

fn template_segment(segment: &[u8], out: &mut Vec<u8>, scratch: &mut Vec<u8>) {
    if segment.is_empty() {
        return;
    }
    let decoded = decode(segment);
    if let Some(t) = classify(&decoded) {
        out.extend_from_slice(t.as_bytes());
        return;
    }
    if let Cow::Owned(d) = &decoded {
        // The decoded bytes are never written: either the raw segment or one template.
        scratch.clear();
        let changed = rewrite_embedded(d, scratch) | {
            scratch.clear();
            rewrite_embedded(segment, scratch)
        };
        if changed {
            out.extend_from_slice(b"{id}");
        } else {
            out.extend_from_slice(segment);
        }
        return;
    }
    rewrite_embedded(segment, out);
}

/// Percent-decodes (one pass; malformed escapes are kept as they are). Borrows when there is
/// no `%`.
fn decode(s: &[u8]) -> Cow<'_, [u8]> {
    crate::format::url::percent_decoded(s)
}

/// Whole-segment classification of a decoded segment.
fn classify(d: &[u8]) -> Option<&'static str> {
    if d.is_empty() {
        return None;
    }
    if memchr(b'@', d).is_some() || memchr::memmem::find(d, b"%40").is_some() {
        return Some("{email}");
    }
    if d.len() == 36 && is_uuid(d) {
        return Some("{uuid}");
    }
    if ipv4_len(d) == Some(d.len()) || is_ipv6(d) {
        return Some("{ip}");
    }
    if is_phone(d) {
        return Some("{phone}");
    }
    let digits = d.iter().filter(|b| b.is_ascii_digit()).count();
    let alnum = d.iter().filter(|b| b.is_ascii_alphanumeric()).count();
    if digits >= 4
        && d.iter()
            .all(|b| b.is_ascii_digit() || matches!(b, b'-' | b'_' | b'.' | b' '))
    {
        return Some("{id}");
    }
    if digits >= 6 && digits * 10 >= alnum * 6 {
        return Some("{id}");
    }
    if d.len() >= 16 && d.iter().all(u8::is_ascii_hexdigit) {
        return Some("{id}");
    }
    if is_token(d) {
        return Some("{token}");
    }
    None
}

/// 8-4-4-4-12 hex digits, any case (checks the first 36 bytes).
fn is_uuid(d: &[u8]) -> bool {
    d.len() >= 36
        && d[..36].iter().enumerate().all(|(i, b)| match i {
            8 | 13 | 18 | 23 => *b == b'-',
            _ => b.is_ascii_hexdigit(),
        })
}

/// The length of a dotted-quad IPv4 address at the start of `d` (each part 0-255, 1-3 digits),
/// not followed by another digit or `.digit`.
fn ipv4_len(d: &[u8]) -> Option<usize> {
    let mut i = 0;
    for part in 0..4 {
        if part > 0 {
            if d.get(i) != Some(&b'.') {
                return None;
            }
            i += 1;
        }
        let start = i;
        let mut value = 0u32;
        while i < d.len() && d[i].is_ascii_digit() && i - start < 3 {
            value = value * 10 + u32::from(d[i] - b'0');
            i += 1;
        }
        if i == start || value > 255 {
            return None;
        }
    }
    match d.get(i) {
        Some(b) if b.is_ascii_digit() => None,
        Some(b'.') if d.get(i + 1).is_some_and(u8::is_ascii_digit) => None,
        _ => Some(i),
    }
}

fn is_ipv6(d: &[u8]) -> bool {
    let colons = d.iter().filter(|&&b| b == b':').count();
    colons >= 2
        && d.len() >= 3
        && d.len() <= 45
        && d.iter()
            .all(|b| b.is_ascii_hexdigit() || matches!(b, b':' | b'.'))
}

/// `+` and 7-15 digits, or a leading `0` and 10-11 digits; separators ` -.()` allowed.
fn is_phone(d: &[u8]) -> bool {
    let (plus, body) = match d.strip_prefix(b"+") {
        Some(b) => (true, b),
        None => (false, d),
    };
    if !body
        .iter()
        .all(|b| b.is_ascii_digit() || matches!(b, b' ' | b'-' | b'.' | b'(' | b')'))
    {
        return false;
    }
    let digits = body.iter().filter(|b| b.is_ascii_digit()).count();
    if plus {
        (7..=15).contains(&digits)
    } else {
        let first = body.iter().find(|b| b.is_ascii_digit());
        first == Some(&b'0') && (10..=11).contains(&digits)
    }
}

/// 20 or more of `[A-Za-z0-9-_+=.~]` with letters and digits that look random.
fn is_token(d: &[u8]) -> bool {
    if d.len() < 20
        || !d.iter().all(|b| {
            b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'+' | b'=' | b'.' | b'~')
        })
    {
        return false;
    }
    // A file name (`app.3f2a9c8d1e7b6a5f.js`) is not one token; runs inside it still are.
    if let Some(dot) = d.iter().rposition(|&b| b == b'.') {
        let ext = &d[dot + 1..];
        if (1..=5).contains(&ext.len()) && ext.iter().all(u8::is_ascii_alphabetic) {
            return false;
        }
    }
    let letters = d.iter().filter(|b| b.is_ascii_alphabetic()).count();
    let digits = d.iter().filter(|b| b.is_ascii_digit()).count();
    if letters == 0 || digits == 0 {
        return false;
    }
    let class = |b: u8| match b {
        b'a'..=b'z' => 1u8,
        b'A'..=b'Z' => 2,
        b'0'..=b'9' => 3,
        _ => 0,
    };
    let mut changes = 0;
    let mut longest = 0;
    let mut run = 0;
    let mut prev = 0u8;
    for &b in d {
        let c = class(b);
        if c == 0 {
            run = 0;
        } else {
            run += 1;
            longest = longest.max(run);
            if prev != 0 && c != prev {
                changes += 1;
            }
        }
        prev = c;
    }
    changes * 4 >= letters + digits || longest >= 20
}

/// Writes `seg` with identifiers inside it replaced: UUIDs, IPv4 addresses, hex runs of 16 or
/// more, random-looking runs of 20 or more letters and digits, and digit runs of 4 or more.
/// Returns whether anything was replaced.
fn rewrite_embedded(seg: &[u8], out: &mut Vec<u8>) -> bool {
    let mut changed = false;
    let mut i = 0;
    while i < seg.len() {
        let b = seg[i];
        if !b.is_ascii_alphanumeric() {
            out.push(b);
            i += 1;
            continue;
        }
        let rest = &seg[i..];
        if is_uuid(rest) && !rest.get(36).is_some_and(u8::is_ascii_alphanumeric) {
            out.extend_from_slice(b"{uuid}");
            i += 36;
            changed = true;
            continue;
        }
        if let Some(n) = ipv4_len(rest) {
            out.extend_from_slice(b"{ip}");
            i += n;
            changed = true;
            continue;
        }
        let end = rest
            .iter()
            .position(|b| !b.is_ascii_alphanumeric())
            .unwrap_or(rest.len());
        let run = &rest[..end];
        if run.len() >= 16 && run.iter().all(u8::is_ascii_hexdigit) {
            out.extend_from_slice(b"{id}");
            changed = true;
        } else if run.len() >= 20
            && run.iter().any(u8::is_ascii_digit)
            && run.iter().any(u8::is_ascii_alphabetic)
        {
            out.extend_from_slice(b"{token}");
            changed = true;
        } else {
            let mut j = 0;
            while j < run.len() {
                if run[j].is_ascii_digit() {
                    let k = run[j..]
                        .iter()
                        .position(|b| !b.is_ascii_digit())
                        .map_or(run.len(), |k| j + k);
                    if k - j >= 4 {
                        out.extend_from_slice(b"{id}");
                        changed = true;
                    } else {
                        out.extend_from_slice(&run[j..k]);
                    }
                    j = k;
                } else {
                    out.push(run[j]);
                    j += 1;
                }
            }
        }
        i += end;
    }
    changed
}

// ---------------------------------------------------------------------------------------------
// Queries

/// Secret-like parameter names (lower case).
const SECRETS: &[&str] = &[
    "password",
    "passwd",
    "pwd",
    "token",
    "access_token",
    "refresh_token",
    "api_key",
    "apikey",
    "key",
    "secret",
    "client_secret",
    "session",
    "sessionid",
    "sessid",
    "sid",
    "auth",
    "authorization",
    "signature",
    "sig",
    "code",
    "otp",
    "jwt",
    "credential",
];

/// Long secret names, without separators, that also count as the ending of a name.
const SECRET_ENDINGS: &[&str] = &[
    "password",
    "passwd",
    "accesstoken",
    "refreshtoken",
    "apikey",
    "secret",
    "sessionid",
    "sessid",
    "signature",
    "authorization",
    "credential",
];

/// Whether a parameter name (raw) is secret-like.
fn is_secret(name: &[u8]) -> bool {
    let d = decode(name);
    let d = trim_brackets(&d);
    if d.is_empty() || d.len() > 256 {
        return false;
    }
    // The last part: after the last separator or lower-to-upper case change.
    let mut start = 0;
    for i in 0..d.len() {
        if matches!(d[i], b'_' | b'-' | b'.' | b'[' | b']' | b' ') {
            start = i + 1;
        } else if i > 0 && d[i].is_ascii_uppercase() && d[i - 1].is_ascii_lowercase() {
            start = i;
        }
    }
    let last = &d[start..];
    let mut flat = [0u8; 256];
    let mut n = 0;
    for &b in d.iter() {
        if b.is_ascii_alphanumeric() {
            flat[n] = b.to_ascii_lowercase();
            n += 1;
        }
    }
    let flat = &flat[..n];
    SECRETS.iter().any(|s| {
        let s = s.as_bytes();
        last.eq_ignore_ascii_case(s) || d.eq_ignore_ascii_case(s) || flat_eq(flat, s)
    }) || SECRET_ENDINGS.iter().any(|s| flat.ends_with(s.as_bytes()))
}

/// Whether `flat` equals `s` with its separators removed.
fn flat_eq(flat: &[u8], s: &[u8]) -> bool {
    let mut it = s.iter().filter(|b| b.is_ascii_alphanumeric());
    for &f in flat {
        if it.next() != Some(&f) {
            return false;
        }
    }
    it.next().is_none()
}

fn trim_brackets(d: &[u8]) -> &[u8] {
    let mut d = d;
    while let [rest @ .., b']'] = d {
        d = rest;
    }
    d
}

fn is_allowed(policy: &UriPolicy, name: &[u8]) -> bool {
    if policy.allow.is_empty() {
        return false;
    }
    let d = decode(name);
    policy
        .allow
        .iter()
        .any(|a| a.as_bytes().eq_ignore_ascii_case(&d))
}

/// Whether a parameter name can be written as it is: short, plain, no e-mail.
fn plain_name(name: &[u8]) -> bool {
    name.len() <= 64
        && name
            .iter()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.' | b'[' | b']'))
        && name.iter().filter(|b| b.is_ascii_digit()).count() < 4
}

fn minimise_query(
    policy: &UriPolicy,
    q: &[u8],
    out: &mut Vec<u8>,
    scan: &mut dyn FnMut(&[u8], &mut Vec<u8>),
) {
    match policy.query {
        QueryPolicy::Keep => {
            out.push(b'?');
            out.extend_from_slice(q);
        }
        QueryPolicy::Drop => {}
        QueryPolicy::Allowlist => {
            let mark = out.len();
            out.push(b'?');
            let mut first = true;
            for param in q.split(|&b| b == b'&') {
                let (name, value) = match memchr(b'=', param) {
                    Some(e) => (&param[..e], Some(&param[e + 1..])),
                    None => (param, None),
                };
                if is_secret(name) {
                    continue;
                }
                if !first {
                    out.push(b'&');
                }
                first = false;
                if is_allowed(policy, name) {
                    out.extend_from_slice(param);
                    continue;
                }
                match value {
                    Some(v) => {
                        if plain_name(name) {
                            out.extend_from_slice(name);
                        } else {
                            scan(name, out);
                        }
                        out.push(b'=');
                        scan(v, out);
                    }
                    None if param.is_empty() => {}
                    None => scan(param, out),
                }
            }
            if out.len() == mark + 1 || out[mark + 1..].iter().all(|&b| b == b'&') {
                out.truncate(mark);
            }
        }
        QueryPolicy::Scan => {
            let mut kept = Vec::with_capacity(q.len());
            let mut first = true;
            for param in q.split(|&b| b == b'&') {
                let name = match memchr(b'=', param) {
                    Some(e) => &param[..e],
                    None => param,
                };
                if is_secret(name) {
                    continue;
                }
                if !first {
                    kept.push(b'&');
                }
                first = false;
                kept.extend_from_slice(param);
            }
            if kept.iter().all(|&b| b == b'&') {
                return;
            }
            let mark = out.len();
            out.push(b'?');
            scan(&kept, out);
            if out.len() == mark + 1 {
                out.truncate(mark);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// A stand-in for the engine's free-text redaction that shows what it was given.
    fn mark(text: &[u8], out: &mut Vec<u8>) {
        out.push(b'<');
        out.extend_from_slice(text);
        out.push(b'>');
    }

    fn policy(path: PathPolicy, query: QueryPolicy) -> UriPolicy {
        UriPolicy {
            path,
            query,
            allow: vec!["page".into(), "utm_source".into(), "token".into()],
            referrer: ReferrerPolicy::Origin,
            own_hosts: vec!["shop.example".into(), "www.Shop.Example".into()],
        }
    }

    fn target(p: &UriPolicy, t: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        minimise_target(p, t, &mut out, &mut mark);
        out
    }

    fn referrer(p: &UriPolicy, r: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        minimise_referrer(p, r, &mut out, &mut mark);
        out
    }

    fn s(b: Vec<u8>) -> String {
        String::from_utf8_lossy(&b).into_owned()
    }

    #[test]
    fn fragments_are_always_dropped() {
        for path in [
            PathPolicy::Keep,
            PathPolicy::Scan,
            PathPolicy::Template,
            PathPolicy::Drop,
        ] {
            for query in [
                QueryPolicy::Keep,
                QueryPolicy::Scan,
                QueryPolicy::Allowlist,
                QueryPolicy::Drop,
            ] {
                let p = policy(path, query);
                for t in [
                    &b"/a/b?x=1#frag@jane"[..],
                    b"/a#x",
                    b"#only",
                    b"http://h.example/a?b#c",
                ] {
                    let out = target(&p, t);
                    assert!(!out.contains(&b'#'), "{:?} {:?}: {}", path, query, s(out));
                    assert!(!s(out).contains("frag"));
                }
            }
        }
        for r in [
            ReferrerPolicy::Keep,
            ReferrerPolicy::Scan,
            ReferrerPolicy::Origin,
            ReferrerPolicy::Drop,
        ] {
            let p = UriPolicy {
                referrer: r,
                ..UriPolicy::default()
            };
            let out = referrer(&p, b"https://x.example/a#secret");
            assert!(!s(out).contains("secret"), "{r:?}");
        }
    }

    #[test]
    fn segment_templates_identify_people_and_things() {
        let cases: &[(&[u8], Option<&str>)] = &[
            (b"jane%40example.com", Some("{email}")),
            (b"jane@example.com", Some("{email}")),
            (b"jane%2540example.com", Some("{email}")),
            (b"12345", Some("{id}")),
            (b"2024", Some("{id}")),
            (b"123-456-789", Some("{id}")),
            (b"2024-01-15", Some("{id}")),
            (b"A123-456-789", Some("{id}")),
            (b"550e8400-e29b-41d4-a716-446655440000", Some("{uuid}")),
            (b"550E8400-E29B-41D4-A716-446655440000", Some("{uuid}")),
            (b"d41d8cd98f00b204e9800998ecf8427e", Some("{id}")),
            (b"DEADBEEFCAFEBABE", Some("{id}")),
            (b"eyJhbGciOiJIUzI1NiJ9", Some("{token}")),
            (b"dGhpcyBpcyBhIHRlc3Q5OTk", Some("{token}")),
            (b"aZ3kQ9xY7pL2mN8bV4cX_-w1", Some("{token}")),
            (b"+447700900123", Some("{phone}")),
            (b"07700900123", Some("{phone}")),
            (b"%2B44%207700%20900123", Some("{phone}")),
            (b"192.168.0.1", Some("{ip}")),
            (b"2001:db8::1", Some("{ip}")),
            (b"orders", None),
            (b"v1", None),
            (b"api", None),
            (b"123", None),
            (b"mens-trail-running-shoe", None),
            (b"kibana-search.png", None),
            (b"AnnualReportFinalVersion", None),
            (b"", None),
            (b"1.2.3", None),
            (b"%", None),
            (b"\xff\xfe", None),
        ];
        for (seg, want) in cases {
            assert_eq!(
                segment_template(seg),
                *want,
                "{}",
                String::from_utf8_lossy(seg)
            );
        }
    }

    #[test]
    fn template_path_replaces_segments_and_ids_inside_kept_ones() {
        let p = policy(PathPolicy::Template, QueryPolicy::Drop);
        let cases: &[(&[u8], &str)] = &[
            (
                b"/users/jane%40example.com/orders/12345",
                "/users/{email}/orders/{id}",
            ),
            (b"/api/v1/orders/2024/items", "/api/v1/orders/{id}/items"),
            (
                b"/presentations/logstash-monitorama-2013/images/kibana-search.png",
                "/presentations/logstash-monitorama-{id}/images/kibana-search.png",
            ),
            (b"/invoice-123456.pdf", "/invoice-{id}.pdf"),
            (
                b"/files/quarterly-report-550e8400-e29b-41d4-a716-446655440000.pdf",
                "/files/quarterly-report-{uuid}.pdf",
            ),
            (
                b"/files/r-550e8400-e29b-41d4-a716-446655440000.pdf",
                "/files/{id}",
            ),
            (b"/proxy/host-10.1.2.3/status", "/proxy/host-{ip}/status"),
            (b"/app.3f2a9c8d1e7b6a5f.js", "/app.{id}.js"),
            (b"/reset/aZ3kQ9xY7pL2mN8bV4cX", "/reset/{token}"),
            (b"/a%2012345b/c", "/{id}/c"),
            (b"/caf%C3%A9/menu", "/caf%C3%A9/menu"),
            (b"/call/+447700900123", "/call/{phone}"),
            (
                b"/shop/mens-trail-running-shoe",
                "/shop/mens-trail-running-shoe",
            ),
            (b"/", "/"),
            (b"", ""),
            (b"*", "*"),
            (b"//double//slash/", "//double//slash/"),
        ];
        for (t, want) in cases {
            assert_eq!(s(target(&p, t)), *want, "{}", String::from_utf8_lossy(t));
        }
    }

    #[test]
    fn path_keep_scan_and_drop() {
        let t = b"/users/jane%40example.com/x?page=2";
        let keep = policy(PathPolicy::Keep, QueryPolicy::Drop);
        assert_eq!(s(target(&keep, t)), "/users/jane%40example.com/x");
        let scan = policy(PathPolicy::Scan, QueryPolicy::Drop);
        assert_eq!(s(target(&scan, t)), "</users/jane%40example.com/x>");
        let drop = policy(PathPolicy::Drop, QueryPolicy::Drop);
        assert_eq!(s(target(&drop, t)), "/");
    }

    #[test]
    fn absolute_targets_keep_a_lower_cased_origin_without_userinfo() {
        let p = policy(PathPolicy::Template, QueryPolicy::Allowlist);
        let cases: &[(&[u8], &str)] = &[
            (
                b"http://User:pw@Example.COM:8080/users/12345?page=2#f",
                "http://example.com:8080/users/{id}?page=2",
            ),
            (
                b"HTTPS://[2001:DB8::1]:443/a",
                "https://[2001:db8::1]:443/a",
            ),
            (b"http://example.com", "http://example.com/"),
            (b"http://example.com?page=1", "http://example.com/?page=1"),
        ];
        for (t, want) in cases {
            assert_eq!(s(target(&p, t)), *want, "{}", String::from_utf8_lossy(t));
        }
        let drop = policy(PathPolicy::Drop, QueryPolicy::Drop);
        assert_eq!(
            s(target(&drop, b"http://a:b@h.example/x/y?z")),
            "http://h.example/"
        );
        // Not a URL: treated as a path.
        assert_eq!(
            s(target(&p, b"http://jane%40x.com/12345")),
            "http://{email}/{id}"
        );
    }

    #[test]
    fn allowlist_keeps_allowed_removes_secrets_and_scans_the_rest() {
        let p = policy(PathPolicy::Keep, QueryPolicy::Allowlist);
        let cases: &[(&[u8], &str)] = &[
            (
                b"/search?q=red+shoes&page=2&utm_source=news&password=hunter2&X_Api_Key=zzz&email=jane%40example.com",
                "/search?q=<red+shoes>&page=2&utm_source=news&email=<jane%40example.com>",
            ),
            (b"/a?x=1&&y=2", "/a?x=<1>&&y=<2>"),
            (b"/a?flag&b=", "/a?<flag>&b=<>"),
            (b"/a?token=abc", "/a"),
            (b"/a?token=abc&", "/a"),
            (b"/a?", "/a"),
            (b"/a", "/a"),
            (b"/a?PAGE=3", "/a?PAGE=3"),
            (b"/a?jane%40example.com=1", "/a?<jane%40example.com>=<1>"),
            (b"/a?user%5Bpassword%5D=x&n=1", "/a?n=<1>"),
            (b"/a?code=abc&state=xyz", "/a?state=<xyz>"),
        ];
        for (t, want) in cases {
            assert_eq!(s(target(&p, t)), *want, "{}", String::from_utf8_lossy(t));
        }
    }

    #[test]
    fn secret_names_are_recognised_with_prefixes_and_any_case() {
        for name in [
            "password",
            "PASSWORD",
            "passwd",
            "pwd",
            "token",
            "access_token",
            "refresh_token",
            "api_key",
            "apikey",
            "key",
            "secret",
            "client_secret",
            "session",
            "sessionid",
            "sid",
            "auth",
            "signature",
            "sig",
            "code",
            "otp",
            "jwt",
            "x_api_key",
            "X-Api-Key",
            "apiKey",
            "accessToken",
            "oauth_token",
            "X-Amz-Signature",
            "X-Amz-Security-Token",
            "user[password]",
            "access%5Ftoken",
            "session_id",
            "PHPSESSID",
            "xapikey",
            "zip_code",
            "JSESSIONID",
        ] {
            assert!(is_secret(name.as_bytes()), "{name}");
        }
        for name in [
            "q",
            "page",
            "keyword",
            "monkey",
            "author",
            "tokens_left",
            "email",
            "",
            "%",
        ] {
            assert!(!is_secret(name.as_bytes()), "{name}");
        }
    }

    #[test]
    fn query_scan_removes_secrets_then_scans_the_rest_whole() {
        let p = policy(PathPolicy::Keep, QueryPolicy::Scan);
        assert_eq!(s(target(&p, b"/a?q=1&password=x&b=2")), "/a?<q=1&b=2>");
        assert_eq!(s(target(&p, b"/a?sid=1")), "/a");
        assert_eq!(s(target(&p, b"/a?")), "/a");
    }

    #[test]
    fn query_keep_and_drop() {
        let keep = policy(PathPolicy::Keep, QueryPolicy::Keep);
        assert_eq!(
            s(target(&keep, b"/a?password=x&b=2#f")),
            "/a?password=x&b=2"
        );
        let drop = policy(PathPolicy::Keep, QueryPolicy::Drop);
        assert_eq!(s(target(&drop, b"/a?password=x&b=2")), "/a");
        assert_eq!(s(target(&drop, b"/a?")), "/a");
    }

    #[test]
    fn referrer_origin_keeps_scheme_host_and_port_of_other_sites() {
        let p = policy(PathPolicy::Template, QueryPolicy::Allowlist);
        let cases: &[(&[u8], &str)] = &[
            (
                b"https://www.Google.com/search?q=jane+doe",
                "https://www.google.com/",
            ),
            (
                b"https://jane:pw@evil.example:8443/x/12345?token=1",
                "https://evil.example:8443/",
            ),
            (
                b"http://semicomplete.com/presentations/logstash-monitorama-2013/",
                "http://semicomplete.com/",
            ),
            (
                b"android-app://com.google.android.gm/",
                "android-app://com.google.android.gm/",
            ),
            (
                b"android-app://com.google.android.gm",
                "android-app://com.google.android.gm/",
            ),
            (b"http://86.12.5.77:8080/admin", "http://86.12.5.77:8080/"),
            (b"not a url", "-"),
            (b"/relative/path", "-"),
            (b"http://", "-"),
            (b"http://bad host/", "-"),
            (b"http://h.example:port/", "-"),
            (b"\xff\xfe://x", "-"),
            (b"-", "-"),
            (b"", ""),
        ];
        for (r, want) in cases {
            assert_eq!(s(referrer(&p, r)), *want, "{}", String::from_utf8_lossy(r));
        }
    }

    #[test]
    fn referrer_from_own_hosts_gets_path_and_query_rules() {
        let p = policy(PathPolicy::Template, QueryPolicy::Allowlist);
        let cases: &[(&[u8], &str)] = &[
            (
                b"https://shop.example/account/12345?email=jane%40x.com&page=2&password=x#frag",
                "https://shop.example/account/{id}?email=<jane%40x.com>&page=2",
            ),
            (
                b"https://WWW.SHOP.EXAMPLE/users/jane%40x.com",
                "https://www.shop.example/users/{email}",
            ),
            (
                b"https://shop.example:8443/cart",
                "https://shop.example:8443/cart",
            ),
            (b"http://shop.example", "http://shop.example/"),
            (
                b"https://shop.example.evil.com/account/12345",
                "https://shop.example.evil.com/",
            ),
        ];
        for (r, want) in cases {
            assert_eq!(s(referrer(&p, r)), *want, "{}", String::from_utf8_lossy(r));
        }
    }

    #[test]
    fn referrer_keep_scan_and_drop() {
        let r = b"https://x.example/a?q=1#f";
        let mut p = policy(PathPolicy::Template, QueryPolicy::Allowlist);
        p.referrer = ReferrerPolicy::Keep;
        assert_eq!(s(referrer(&p, r)), "https://x.example/a?q=1");
        p.referrer = ReferrerPolicy::Scan;
        assert_eq!(s(referrer(&p, r)), "<https://x.example/a?q=1>");
        p.referrer = ReferrerPolicy::Drop;
        assert_eq!(s(referrer(&p, r)), "-");
        assert_eq!(s(referrer(&p, b"-")), "-");
    }

    #[test]
    fn malformed_escapes_and_invalid_utf8_are_handled_bytewise() {
        let p = policy(PathPolicy::Template, QueryPolicy::Allowlist);
        let cases: &[(&[u8], &[u8])] = &[
            (b"/%", b"/%"),
            (b"/%4", b"/%4"),
            (b"/%zz", b"/%zz"),
            (b"/%E9%", b"/%E9%"),
            (b"/%%40x", b"/{email}"),
            (b"/\xff\xfe/12345", b"/\xff\xfe/{id}"),
            (b"/a?%=%&%zz", b"/a?<%>=<%>&<%zz>"),
        ];
        for (t, want) in cases {
            assert_eq!(target(&p, t), *want, "{}", String::from_utf8_lossy(t));
        }
    }

    #[test]
    fn default_policy_is_template_allowlist_origin() {
        let p = UriPolicy::default();
        assert_eq!(p.path, PathPolicy::Template);
        assert_eq!(p.query, QueryPolicy::Allowlist);
        assert_eq!(p.referrer, ReferrerPolicy::Origin);
    }

    fn all_policies() -> Vec<UriPolicy> {
        let mut v = Vec::new();
        for path in [
            PathPolicy::Keep,
            PathPolicy::Scan,
            PathPolicy::Template,
            PathPolicy::Drop,
        ] {
            for query in [
                QueryPolicy::Keep,
                QueryPolicy::Scan,
                QueryPolicy::Allowlist,
                QueryPolicy::Drop,
            ] {
                for referrer in [
                    ReferrerPolicy::Keep,
                    ReferrerPolicy::Scan,
                    ReferrerPolicy::Origin,
                    ReferrerPolicy::Drop,
                ] {
                    let mut p = policy(path, query);
                    p.referrer = referrer;
                    v.push(p);
                }
            }
        }
        v
    }

    /// Maximal runs of 4 or more ASCII digits.
    fn digit_runs(b: &[u8]) -> Vec<&[u8]> {
        b.split(|c| !c.is_ascii_digit())
            .filter(|r| r.len() >= 4)
            .collect()
    }

    proptest! {
        #[test]
        fn minimise_never_panics(input in proptest::collection::vec(any::<u8>(), 0..200)) {
            for p in all_policies() {
                let _ = target(&p, &input);
                let _ = referrer(&p, &input);
            }
        }

        #[test]
        fn minimise_never_panics_on_url_like_input(
            input in "(https?://)?([a-zA-Z0-9@:%\\[\\]._-]{0,20})(/[a-zA-Z0-9@%.+_~:;=-]{0,20}){0,5}(\\?[a-zA-Z0-9@%=&_+.-]{0,40})?(#.{0,10})?"
        ) {
            for p in all_policies() {
                let _ = target(&p, input.as_bytes());
                let _ = referrer(&p, input.as_bytes());
            }
        }

        #[test]
        fn template_and_drop_leak_no_email_long_digits_or_fragment(
            path in "(/[a-zA-Z0-9@%.+_~:;=-]{0,24}){1,6}",
            tail in proptest::collection::vec(any::<u8>(), 0..40),
            query in "(\\?[a-zA-Z0-9@%=&_+#.-]{0,40})?",
            frag in "(#[ -~]{0,20})?",
        ) {
            let p = policy(PathPolicy::Template, QueryPolicy::Drop);
            let mut input = path.into_bytes();
            input.push(b'/');
            input.extend_from_slice(&tail);
            input.extend_from_slice(query.as_bytes());
            input.extend_from_slice(frag.as_bytes());
            let path_end = input.iter().position(|&b| b == b'?' || b == b'#').unwrap_or(input.len());
            let in_path = &input[..path_end];
            let out = target(&p, &input);
            prop_assert!(!out.contains(&b'#'), "{:?}", String::from_utf8_lossy(&out));
            prop_assert!(!out.contains(&b'@'), "{:?}", String::from_utf8_lossy(&out));
            prop_assert!(memchr::memmem::find(&out, b"%40").is_none(), "{:?}", String::from_utf8_lossy(&out));
            for run in digit_runs(&out) {
                prop_assert!(
                    memchr::memmem::find(in_path, run).is_none(),
                    "{:?} from {:?}", String::from_utf8_lossy(&out), String::from_utf8_lossy(&input)
                );
            }
        }
    }
}
