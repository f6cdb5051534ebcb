//! Log formats: each parser splits a line into fields (byte ranges with a role) without
//! copying. Bytes between fields are copied through verbatim by the renderer, so a line
//! comes back in the same format with only field contents changed.

use std::ops::Range;

pub mod combined;
pub mod json;
pub mod syslog;
pub mod url;

/// What a field of a parsed line holds, which decides how the engine treats it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// Free text: scanned by every detector.
    Text,
    /// The client field of an access log: one address, a hostname, `-`, or an
    /// `X-Forwarded-For` list (`10.0.0.2, 10.0.0.1, 81.2.69.143`).
    Client,
    /// The authenticated user name of an access log (`-` when absent).
    User,
    /// The request target (path and query) of an access log request line.
    Target,
    /// A whole request line that did not split into method, target and protocol.
    Request,
    /// The referrer of an access log.
    Referrer,
    /// The user agent of an access log.
    UserAgent,
    /// An RFC 5424 structured-data parameter value (escape `"`, `\` and `]` on output).
    SdValue,
    /// The raw (still escaped) contents of a JSON string value; `key` is the raw contents
    /// of the member name it belongs to, when it is an object member.
    JsonString {
        /// Range of the member name's raw contents, if any.
        key: Option<(usize, usize)>,
        /// Hash of the member-name path from the top ([`json::path_hash`]).
        path: u64,
    },
    /// A JSON number token; `key` as for strings.
    JsonNumber {
        /// Range of the member name's raw contents, if any.
        key: Option<(usize, usize)>,
        /// Hash of the member-name path from the top ([`json::path_hash`]).
        path: u64,
    },
    /// The time of an access log (`10/Oct/2000:13:55:36 -0700`): kept, or truncated by a
    /// profile.
    Time,
}

/// One field of a parsed line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Field {
    /// Byte range of the field's contents in the line.
    pub span: Range<usize>,
    /// What the field holds.
    pub role: Role,
}

/// A line format, as chosen with `--format`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Format {
    /// Decide per line.
    #[default]
    Auto,
    /// The whole line is free text.
    Text,
    /// JSON lines.
    Json,
    /// Apache/nginx common or combined log format.
    Combined,
    /// RFC 3164 or RFC 5424 syslog.
    Syslog,
}

/// Cheap per-line guess of a line's format, for `--format auto`.
///
/// * first non-space byte `{` or `[` → [`Format::Json`];
/// * `<digits>`, a BSD timestamp (`Mmm dd hh:mm:ss`), `1 ` + an ISO date, or an ISO
///   date-time (as rsyslog writes) at the start → [`Format::Syslog`];
/// * ` [dd/Mon/yyyy:` followed somewhere by a `"` → [`Format::Combined`];
/// * anything else → [`Format::Text`].
///
/// The guess is optimistic: [`parse`] falls back to text when the parser refuses the line.
/// Never returns [`Format::Auto`].
pub fn detect(line: &[u8]) -> Format {
    let start = line
        .iter()
        .position(|b| !matches!(b, b' ' | b'\t'))
        .unwrap_or(line.len());
    let s = &line[start..];
    match s.first() {
        None => return Format::Text,
        Some(b'{' | b'[') => return Format::Json,
        Some(b'<') => {
            let n = s[1..].iter().take_while(|b| b.is_ascii_digit()).count();
            if (1..=3).contains(&n) && s.get(n + 1) == Some(&b'>') {
                return Format::Syslog;
            }
        }
        _ => {}
    }
    if syslog::bsd_timestamp_at(line)
        || syslog::iso_date_at(line)
        || (line.starts_with(b"1 ") && syslog::iso_date_at(&line[2..]))
    {
        return Format::Syslog;
    }
    if looks_like_access(line) {
        return Format::Combined;
    }
    Format::Text
}

/// ` [dd/Mon/yyyy:` somewhere, with a `"` after it.
fn looks_like_access(line: &[u8]) -> bool {
    // memchr for `[` rather than memmem for ` [`: building a memmem finder per line costs
    // more than the search.
    for p in memchr::memchr_iter(b'[', line) {
        if p == 0 || line[p - 1] != b' ' {
            continue;
        }
        let t = &line[p + 1..];
        if t.len() >= 12
            && t[0].is_ascii_digit()
            && t[1].is_ascii_digit()
            && t[2] == b'/'
            && t[3..6].iter().all(u8::is_ascii_alphabetic)
            && t[6] == b'/'
            && t[7..11].iter().all(u8::is_ascii_digit)
            && t[11] == b':'
        {
            return memchr::memchr(b'"', &t[12..]).is_some();
        }
    }
    false
}

/// Splits `line` into fields according to `format` (guessing with [`detect`] for
/// [`Format::Auto`]), appending them to `out`, and returns the format actually used.
///
/// When the chosen parser refuses the line, or for [`Format::Text`], the result is
/// [`Format::Text`] with one [`Role::Text`] field covering the whole line (none for an
/// empty line). The caller clears `out` between lines.
pub fn parse(format: Format, line: &[u8], out: &mut Vec<Field>) -> Format {
    let format = match format {
        Format::Auto => detect(line),
        f => f,
    };
    let base = out.len();
    let ok = match format {
        Format::Json => json::parse(line, out),
        Format::Combined => combined::parse(line, out),
        Format::Syslog => syslog::parse(line, out),
        Format::Text | Format::Auto => false,
    };
    if ok {
        return format;
    }
    out.truncate(base);
    if !line.is_empty() {
        out.push(Field {
            span: 0..line.len(),
            role: Role::Text,
        });
    }
    Format::Text
}

/// Renders a parsed line: bytes outside `fields` are copied to `out` verbatim and each
/// field is replaced by what `replace` appends for it (it receives the field and its
/// current contents). `fields` must be sorted, non-overlapping and inside `line`, as the
/// parsers produce them; a field that is not is skipped (its bytes are copied verbatim
/// as part of the surrounding text) rather than causing a panic.
pub fn render<F>(line: &[u8], fields: &[Field], out: &mut Vec<u8>, mut replace: F)
where
    F: FnMut(&Field, &[u8], &mut Vec<u8>),
{
    let mut pos = 0;
    for f in fields {
        if f.span.start < pos || f.span.start > f.span.end || f.span.end > line.len() {
            continue;
        }
        out.extend_from_slice(&line[pos..f.span.start]);
        replace(f, &line[f.span.clone()], out);
        pos = f.span.end;
    }
    out.extend_from_slice(&line[pos..]);
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn detect_recognises_each_format() {
        assert_eq!(detect(b"  {\"a\": 1}"), Format::Json);
        assert_eq!(detect(b"[1]"), Format::Json);
        assert_eq!(
            detect(b"<34>1 2003-10-11T22:14:15.003Z h - - - -"),
            Format::Syslog
        );
        assert_eq!(detect(b"Mar  7 13:06:56 host sshd[1]: x"), Format::Syslog);
        assert_eq!(
            detect(b"1 2003-10-11T22:14:15.003Z h - - - -"),
            Format::Syslog
        );
        assert_eq!(
            detect(b"2024-03-27T13:06:56.123+00:00 host tag: msg"),
            Format::Syslog
        );
        assert_eq!(
            detect(br#"1.2.3.4 - - [10/Oct/2000:13:55:36 -0700] "GET / HTTP/1.0" 200 1"#),
            Format::Combined
        );
        assert_eq!(
            detect(b"hello [10/Oct/2000:13:55:36 -0700] no quote"),
            Format::Text
        );
        assert_eq!(detect(b"just some text"), Format::Text);
        assert_eq!(detect(b""), Format::Text);
        assert_eq!(detect(b"<>x"), Format::Text);
    }

    #[test]
    fn parse_falls_back_to_text_when_the_parser_refuses() {
        let mut out = Vec::new();
        assert_eq!(parse(Format::Auto, b"{\"a\": ", &mut out), Format::Text);
        assert_eq!(
            out,
            vec![Field {
                span: 0..6,
                role: Role::Text
            }]
        );
        out.clear();
        assert_eq!(parse(Format::Json, b"plain", &mut out), Format::Text);
        assert_eq!(out.len(), 1);
        out.clear();
        assert_eq!(parse(Format::Text, b"", &mut out), Format::Text);
        assert!(out.is_empty());
    }

    #[test]
    fn parse_auto_uses_the_detected_parser() {
        let mut out = Vec::new();
        let line = br#"1.2.3.4 - bob [10/Oct/2000:13:55:36 -0700] "GET /x HTTP/1.0" 200 1"#;
        assert_eq!(parse(Format::Auto, line, &mut out), Format::Combined);
        assert_eq!(
            out[1],
            Field {
                span: 10..13,
                role: Role::User
            }
        );
        out.clear();
        assert_eq!(
            parse(Format::Auto, b"Mar 27 13:06:56 h t: hi", &mut out),
            Format::Syslog
        );
        assert_eq!(
            out,
            vec![Field {
                span: 21..23,
                role: Role::Text
            }]
        );
    }

    #[test]
    fn render_replaces_fields_and_keeps_structure() {
        let line = br#"{"user": "alice", "n": 42}"#;
        let mut fields = Vec::new();
        assert_eq!(parse(Format::Auto, line, &mut fields), Format::Json);
        let mut out = Vec::new();
        render(line, &fields, &mut out, |_, _, o| o.extend_from_slice(b"X"));
        assert_eq!(out, br#"{"user": "X", "n": X}"#);
    }

    #[test]
    fn render_identity_reproduces_the_line() {
        let line = br#"example.com 10.0.0.2, 10.0.0.1 - - [07/Dec/2016:11:05:07 +0100] "GET /a HTTP/1.1" 200 5 "r" "ua" x"#;
        let mut fields = Vec::new();
        assert_eq!(parse(Format::Auto, line, &mut fields), Format::Combined);
        let mut out = Vec::new();
        render(line, &fields, &mut out, |_, c, o| o.extend_from_slice(c));
        assert_eq!(&out[..], &line[..]);
    }

    proptest! {
        #[test]
        fn auto_parse_never_panics_and_fields_are_well_formed(
            line in proptest::collection::vec(any::<u8>(), 0..200)
        ) {
            let mut out = Vec::new();
            let used = parse(Format::Auto, &line, &mut out);
            prop_assert_ne!(used, Format::Auto);
            let mut last = 0;
            for f in &out {
                prop_assert!(f.span.start >= last && f.span.start <= f.span.end);
                prop_assert!(f.span.end <= line.len());
                last = f.span.end;
            }
            let mut r = Vec::new();
            render(&line, &out, &mut r, |_, c, o| o.extend_from_slice(c));
            prop_assert_eq!(r, line);
        }
    }
}
