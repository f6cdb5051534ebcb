//! Format-aware redaction of one log line: each field is treated as what it is, and the
//! line is rendered back in its own format.

use super::action::parse_ip;
use super::{Hit, Redactor, Scratch};
use crate::format::{self, Field, Format, Role};
use crate::minimise::profile::FieldKind;
use crate::minimise::Minimiser;

/// Member names whose JSON string values are secrets as a whole.
const SECRET_KEYS: &[&str] = &[
    "password",
    "passwd",
    "pwd",
    "pass",
    "passphrase",
    "secret",
    "client_secret",
    "token",
    "access_token",
    "refresh_token",
    "id_token",
    "auth",
    "auth_token",
    "authorization",
    "api_key",
    "apikey",
    "api-key",
    "private_key",
    "session",
    "sessionid",
    "session_id",
    "sid",
    "csrf",
    "csrftoken",
    "otp",
    "pin",
    "cvv",
    "cvc",
];

/// Member names that are the label a detector needs to recognise the value.
const LABELLED_KEYS: &[&str] = &[
    "sort_code",
    "sortcode",
    "sort-code",
    "account_number",
    "account_no",
    "accountnumber",
    "account-number",
    "acct",
    "acct_no",
    "acct_number",
    "bank_account",
    "vat",
    "vat_number",
    "vat_no",
    "vatnumber",
    "vat_reg",
    "vat_registration",
    "vat_registration_number",
    "vat_id",
];

/// Member names whose whole value names a person (the `name-param` rule applies to it).
const NAME_KEYS: &[&str] = &[
    "user",
    "remote_user",
    "login",
    "fullname",
    "full_name",
    "first_name",
    "firstname",
    "last_name",
    "lastname",
    "surname",
    "username",
    "user_name",
    "given_name",
    "family_name",
    "contact_name",
    "customer_name",
];

/// Member names whose values are `Cookie` / `Set-Cookie` header text: every cookie value is
/// removed, names and `Set-Cookie` attributes are kept.
const COOKIE_KEYS: &[&str] = &[
    "cookie",
    "cookies",
    "set-cookie",
    "set_cookie",
    "http_cookie",
];

/// `Set-Cookie` attributes, whose values are not secrets.
const COOKIE_ATTRIBUTES: &[&str] = &[
    "path", "domain", "expires", "max-age", "samesite", "priority",
];

/// What a JSON member's name says about its string value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum KeyClass {
    /// A secret as a whole: the secret rule replaces it.
    Secret,
    /// `Cookie` / `Set-Cookie` text: each cookie value is a secret.
    Cookie,
    /// A person's name: the name rule replaces it.
    Name,
    /// The label a detector needs (`sort_code`, `vat_number` …).
    Labelled,
    /// Nothing special: scanned by the detectors.
    Plain,
}

impl Redactor {
    /// Redacts one log line (without its line terminator) in `format`, appending the result
    /// to `out`; returns the format actually used (`Text` when the line did not parse).
    pub fn redact_line(
        &self,
        line: &[u8],
        format: Format,
        out: &mut Vec<u8>,
        s: &mut Scratch,
    ) -> Format {
        let mut fields = std::mem::take(&mut s.fields);
        fields.clear();
        let used = format::parse(format, line, &mut fields);
        let mut at = 0;
        for field in &fields {
            out.extend_from_slice(&line[at..field.span.start]);
            self.redact_field(line, field, out, s);
            at = field.span.end;
        }
        out.extend_from_slice(&line[at..]);
        s.fields = fields;
        used
    }

    fn redact_field(&self, line: &[u8], field: &Field, out: &mut Vec<u8>, s: &mut Scratch) {
        let value = &line[field.span.clone()];
        if let Some(m) = &self.minimiser {
            let kind = match field.role {
                Role::Client => Some(FieldKind::ClientIp),
                Role::User => Some(FieldKind::User),
                Role::UserAgent => Some(FieldKind::UserAgent),
                Role::Target => Some(FieldKind::Target),
                Role::Referrer => Some(FieldKind::Referrer),
                Role::Time => Some(FieldKind::Time),
                Role::JsonString { path, .. } => m.profile.json_field(path),
                _ => None,
            };
            if let Some(kind) = kind {
                if matches!(field.role, Role::JsonString { .. }) {
                    self.minimise_json_string(m, kind, value, out, s);
                } else {
                    self.minimise_field(m, kind, value, out, s);
                }
                return;
            }
        }
        match field.role {
            Role::Text | Role::Target | Role::Request => self.redact_text(value, out, s),
            Role::Referrer | Role::UserAgent => self.redact_repeating(value, out, s),
            Role::Client => self.redact_client(value, out, s),
            Role::User => self.redact_user(value, out, s),
            Role::SdValue => {
                let mut unescaped = std::mem::take(&mut s.unescaped);
                let mut text = std::mem::take(&mut s.text);
                unescaped.clear();
                text.clear();
                unescape_sd_value(value, &mut unescaped);
                self.redact_text(&unescaped, &mut text, s);
                if text == unescaped {
                    out.extend_from_slice(value);
                } else {
                    escape_sd_value(&text, out);
                }
                s.text = text;
                s.unescaped = unescaped;
            }
            Role::Time => out.extend_from_slice(value),
            Role::JsonString { key, .. } => {
                let key = key.map(|(a, b)| &line[a..b]);
                self.redact_json_string(value, key, out, s)
            }
            Role::JsonNumber { .. } => self.redact_json_number(value, out, s),
        }
    }

    /// A JSON string that a profile names: unescaped, minimised, escaped back.
    fn minimise_json_string(
        &self,
        m: &Minimiser,
        kind: FieldKind,
        raw: &[u8],
        out: &mut Vec<u8>,
        s: &mut Scratch,
    ) {
        let mut unescaped = Vec::new();
        if !format::json::unescape(raw, &mut unescaped) {
            self.redact_text(raw, out, s);
            return;
        }
        let mut text = Vec::with_capacity(unescaped.len());
        self.minimise_field(m, kind, &unescaped, &mut text, s);
        format::json::escape(&text, out);
    }

    /// Redacts a value that repeats across lines (user agents, referrers), remembering the
    /// clean ones so the next occurrence is copied without a scan.
    pub(super) fn redact_repeating(&self, value: &[u8], out: &mut Vec<u8>, s: &mut Scratch) {
        if s.clean_fields.contains(value) {
            out.extend_from_slice(value);
            return;
        }
        self.redact_text(value, out, s);
        if value.len() <= super::CLEAN_CACHE_MAX_BYTES && s.hits.is_empty() {
            if s.clean_fields.len() >= super::CLEAN_CACHE_ENTRIES {
                s.clean_fields.clear();
            }
            s.clean_fields.insert(value.into());
        }
    }

    /// A client field: one address, a hostname, or an `X-Forwarded-For` list.
    fn redact_client(&self, value: &[u8], out: &mut Vec<u8>, s: &mut Scratch) {
        let mut first = true;
        for part in value.split(|&b| b == b',') {
            if !first {
                out.push(b',');
            }
            first = false;
            let lead = part.iter().take_while(|b| b.is_ascii_whitespace()).count();
            let trail = part[lead..]
                .iter()
                .rev()
                .take_while(|b| b.is_ascii_whitespace())
                .count();
            let item = &part[lead..part.len() - trail];
            out.extend_from_slice(&part[..lead]);
            let rule = match parse_ip(item) {
                Some(std::net::IpAddr::V4(_)) => self.special.ipv4,
                Some(std::net::IpAddr::V6(_)) => self.special.ipv6,
                // A resolved client name (`HostnameLookups On`: `cpc12-lond4-2-0-cust45…`)
                // identifies the client as its address does.
                None if is_client_name(item) => self.special.ipv4,
                None => None,
            };
            match rule {
                Some(rule) => {
                    let start = out.len();
                    self.apply(rule, item, out, s);
                    if out.len() == start {
                        out.push(b'-'); // a dropped address keeps the field parseable
                    }
                }
                None => self.redact_text(item, out, s),
            }
            out.extend_from_slice(&part[part.len() - trail..]);
        }
    }

    /// The access-log user: detectors first (an e-mail stays an e-mail token); otherwise the
    /// `user` field rule applies to the whole name.
    pub(super) fn redact_user(&self, value: &[u8], out: &mut Vec<u8>, s: &mut Scratch) {
        if value == b"-" {
            out.push(b'-');
            return;
        }
        self.scan(value, s);
        match (s.hits.is_empty(), self.special.user_field) {
            (true, Some(rule)) => {
                let start = out.len();
                self.apply(rule, value, out, s);
                if out.len() == start {
                    out.push(b'-');
                }
            }
            _ => self.redact_text(value, out, s),
        }
    }

    fn redact_json_string(
        &self,
        raw: &[u8],
        key: Option<&[u8]>,
        out: &mut Vec<u8>,
        s: &mut Scratch,
    ) {
        let class = key.map_or(KeyClass::Plain, |k| self.key_class(k));
        self.redact_json_string_as(class, key.unwrap_or_default(), raw, out, s);
    }

    /// What a member name says about its string values, given the rules in force.
    pub(super) fn key_class(&self, key: &[u8]) -> KeyClass {
        if self.special.secret_value.is_some() {
            if is_secret_key(key) {
                return KeyClass::Secret;
            }
            if is_one_of(key, COOKIE_KEYS) {
                return KeyClass::Cookie;
            }
        }
        if self.special.name_value.is_some() && is_one_of(key, NAME_KEYS) {
            return KeyClass::Name;
        }
        if is_one_of(key, LABELLED_KEYS) {
            return KeyClass::Labelled;
        }
        KeyClass::Plain
    }

    /// A JSON string's raw (escaped) contents `raw`, of a member named `key` of `class`.
    pub(super) fn redact_json_string_as(
        &self,
        class: KeyClass,
        key: &[u8],
        raw: &[u8],
        out: &mut Vec<u8>,
        s: &mut Scratch,
    ) {
        match (class, self.special.secret_value, self.special.name_value) {
            (KeyClass::Secret, Some(rule), _) if !raw.is_empty() => {
                let mut text = std::mem::take(&mut s.text);
                text.clear();
                self.apply(rule, raw, &mut text, s);
                format::json::escape(&text, out);
                s.text = text;
                return;
            }
            (KeyClass::Cookie, Some(rule), _) => {
                self.redact_cookie_values(raw, rule, out, s);
                return;
            }
            (KeyClass::Name, _, Some(rule)) if !raw.is_empty() => {
                let mut unescaped = Vec::with_capacity(raw.len());
                if format::json::unescape(raw, &mut unescaped) {
                    let mut text = Vec::with_capacity(32);
                    self.apply(rule, &unescaped, &mut text, s);
                    format::json::escape(&text, out);
                    return;
                }
            }
            (KeyClass::Labelled, _, _) => {
                self.redact_labelled_json_string(key, raw, out, s);
                return;
            }
            _ => {}
        }
        if !raw.contains(&b'\\') {
            let start = out.len();
            self.redact_text(raw, out, s);
            // Placeholders and tokens hold no quote or backslash, but a `keep`/`mask` of
            // text can only reproduce what was already valid here.
            debug_assert!(!out[start..].contains(&b'"') || raw.contains(&b'"'));
            return;
        }
        let mut unescaped = std::mem::take(&mut s.unescaped);
        unescaped.clear();
        if !format::json::unescape(raw, &mut unescaped) {
            // The parser accepted it, so this cannot happen; scan the raw form to fail closed.
            self.redact_text(raw, out, s);
            s.unescaped = unescaped;
            return;
        }
        let mut text = std::mem::take(&mut s.text);
        text.clear();
        self.redact_text(&unescaped, &mut text, s);
        if text == unescaped {
            out.extend_from_slice(raw);
        } else {
            format::json::escape(&text, out);
        }
        s.text = text;
        s.unescaped = unescaped;
    }

    /// A JSON number is personal data when it is a valid card number (written as a number
    /// by mistake); it is then rendered as a string.
    fn redact_json_number(&self, value: &[u8], out: &mut Vec<u8>, s: &mut Scratch) {
        if let Some(rule) = self.special.card {
            if (13..=19).contains(&value.len()) && value.iter().all(u8::is_ascii_digit) {
                self.scan(value, s);
                if s.hits.len() == 1
                    && s.hits[0].rule == rule
                    && s.hits[0].end - s.hits[0].start == value.len()
                {
                    out.push(b'"');
                    self.apply(rule, value, out, s);
                    out.push(b'"');
                    return;
                }
            }
        }
        out.extend_from_slice(value);
    }
}

impl Redactor {
    /// A JSON string whose member name is the label a detector needs (`"sort_code":
    /// "20-32-06"`, `"vat_number": "220946618"`): scanned as `name=value`, so the labelled
    /// forms of the detectors apply, and only the value is written back.
    fn redact_labelled_json_string(
        &self,
        key: &[u8],
        raw: &[u8],
        out: &mut Vec<u8>,
        s: &mut Scratch,
    ) {
        let mut labelled = Vec::with_capacity(key.len() + 1 + raw.len());
        labelled.extend_from_slice(key);
        labelled.push(b'=');
        if !format::json::unescape(raw, &mut labelled) {
            self.redact_text(raw, out, s);
            return;
        }
        let value_start = key.len() + 1;
        self.scan(&labelled, s);
        let hits: Vec<Hit> = s
            .hits
            .iter()
            .filter(|h| h.start >= value_start)
            .copied()
            .collect();
        let mut text = Vec::with_capacity(labelled.len());
        let mut at = value_start;
        for h in &hits {
            text.extend_from_slice(&labelled[at..h.start]);
            self.apply(h.rule, &labelled[h.start..h.end], &mut text, s);
            at = h.end;
        }
        text.extend_from_slice(&labelled[at..]);
        format::json::escape(&text, out);
    }

    /// `name=value; name2=value2` (raw JSON string contents): each value goes through the
    /// secret rule, names and `Set-Cookie` attributes stay.
    fn redact_cookie_values(&self, raw: &[u8], rule: usize, out: &mut Vec<u8>, s: &mut Scratch) {
        let mut first = true;
        for pair in raw.split(|&b| b == b';') {
            if !first {
                out.push(b';');
            }
            first = false;
            match pair.iter().position(|&b| b == b'=') {
                Some(eq)
                    if eq + 1 < pair.len()
                        && !is_one_of(pair[..eq].trim_ascii(), COOKIE_ATTRIBUTES) =>
                {
                    out.extend_from_slice(&pair[..=eq]);
                    let mut text = std::mem::take(&mut s.text);
                    text.clear();
                    self.apply(rule, &pair[eq + 1..], &mut text, s);
                    format::json::escape(&text, out);
                    s.text = text;
                }
                _ => out.extend_from_slice(pair),
            }
        }
    }
}

/// A member name that says its value is a secret: one of [`SECRET_KEYS`], or a compound
/// name ending in a secret word (`session_token`, `new_password`, `X-Amz-Signature`,
/// `sessionToken`).
fn is_secret_key(key: &[u8]) -> bool {
    const SECRET_WORDS: &[&str] = &[
        "password",
        "passwd",
        "pwd",
        "passphrase",
        "secret",
        "token",
        "signature",
        "apikey",
        "sessionid",
        "otp",
        "cvv",
        "cvc",
        "credential",
        "credentials",
    ];
    const CAMEL_SUFFIXES: &[&[u8]] = &[
        b"Password",
        b"Token",
        b"Secret",
        b"Signature",
        b"ApiKey",
        b"Passphrase",
    ];
    if is_one_of(key, SECRET_KEYS) {
        return true;
    }
    let last = key
        .rsplit(|&b| matches!(b, b'_' | b'-' | b'.'))
        .next()
        .unwrap_or(key);
    is_one_of(last, SECRET_WORDS)
        || CAMEL_SUFFIXES
            .iter()
            .any(|s| key.len() > s.len() && key.ends_with(s))
}

/// A client field that names a client rather than saying there is none: anything but `-`,
/// `localhost` and a Unix socket (`unix:`), and that is not an address.
pub(super) fn is_client_name(item: &[u8]) -> bool {
    !item.is_empty()
        && item != b"-"
        && !item.eq_ignore_ascii_case(b"localhost")
        && !item.starts_with(b"unix:")
}

fn is_one_of(key: &[u8], names: &[&str]) -> bool {
    names.iter().any(|k| k.as_bytes().eq_ignore_ascii_case(key))
}

/// Undoes RFC 5424 PARAM-VALUE escaping (`\"`, `\\`, `\]`); other backslashes stay.
fn unescape_sd_value(raw: &[u8], out: &mut Vec<u8>) {
    let mut i = 0;
    while i < raw.len() {
        if raw[i] == b'\\' && matches!(raw.get(i + 1), Some(b'"' | b'\\' | b']')) {
            i += 1;
        }
        out.push(raw[i]);
        i += 1;
    }
}

/// RFC 5424 PARAM-VALUE escaping: `"`, `\` and `]` get a backslash.
fn escape_sd_value(text: &[u8], out: &mut Vec<u8>) {
    for &b in text {
        if matches!(b, b'"' | b'\\' | b']') {
            out.push(b'\\');
        }
        out.push(b);
    }
}
