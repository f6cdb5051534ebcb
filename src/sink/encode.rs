//! How a minimised line becomes a sink's record: as it is (`raw`), as one JSON object
//! (`json`: file, stdout, HTTP NDJSON, ClickHouse `JSONEachRow`), or as an RFC 5424
//! message (the syslog sink).
//!
//! The JSON object has fixed members, so one ClickHouse table fits every input:
//!
//! ```json
//! {"time":"2024-05-01 12:00:00","input":"syslog","format":"syslog","host":"web1",
//!  "app":"sshd","facility":4,"severity":6,"message":"Accepted publickey for [USER] …"}
//! ```
//!
//! `time` is when redactd received the line (UTC, `YYYY-MM-DD hh:mm:ss`, which ClickHouse
//! parses as a `DateTime`). For syslog lines `host`, `app`, `facility` and `severity` come
//! from the header and `message` is MSG; for other lines they are empty (`facility` 1 user,
//! `severity` 6 info) and `message` is the whole line (a JSON line stays a string).
//!
//! The line given here is already redacted and minimised; this only re-frames it.

use std::time::SystemTime;

use crate::format::{json, Format};

/// The shape of a sink's records.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Encoding {
    /// The line as the input had it (after redaction).
    Raw,
    /// One JSON object per line (see the module docs).
    Json,
    /// An RFC 5424 message. Lines without a syslog header get `<PRI>` of `default_pri`,
    /// this host's name and `app_name`.
    Syslog {
        /// HOSTNAME for lines that have none.
        hostname: String,
        /// APP-NAME for lines that have none.
        app_name: String,
        /// PRI for lines that have none (13 = user.notice).
        default_pri: u8,
    },
}

/// One redacted line and where it came from.
#[derive(Debug, Clone, Copy)]
pub struct Event<'a> {
    /// When it was received.
    pub time: SystemTime,
    /// The input's name.
    pub input: &'a str,
    /// The format the redactor used for the line.
    pub format: Format,
    /// The redacted line, without its terminator.
    pub line: &'a [u8],
}

/// The header fields of a syslog line.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SyslogHeader<'a> {
    /// PRI, when the line has one.
    pub pri: Option<u8>,
    /// Whether it is RFC 5424 (`<PRI>1 …`).
    pub rfc5424: bool,
    /// HOSTNAME (empty when absent or `-`).
    pub host: &'a [u8],
    /// APP-NAME / TAG (empty when absent).
    pub app: &'a [u8],
    /// PROCID / the TAG's `[pid]` (empty when absent).
    pub procid: &'a [u8],
    /// MSG.
    pub msg: &'a [u8],
}

fn is_digits(s: &[u8]) -> bool {
    !s.is_empty() && s.iter().all(u8::is_ascii_digit)
}

fn token(s: &[u8]) -> (&[u8], &[u8]) {
    match memchr::memchr(b' ', s) {
        Some(p) => (&s[..p], &s[p + 1..]),
        None => (s, &[]),
    }
}

fn nil(s: &[u8]) -> &[u8] {
    if s == b"-" {
        &[]
    } else {
        s
    }
}

/// Splits a syslog line's header; `None` when the line has no `<PRI>` and no timestamp.
pub fn syslog_header(line: &[u8]) -> Option<SyslogHeader<'_>> {
    let mut h = SyslogHeader::default();
    let mut rest = line;
    if line.first() == Some(&b'<') {
        if let Some(close) = line.iter().take(5).position(|b| *b == b'>') {
            if close >= 2 && is_digits(&line[1..close]) {
                let v: u32 = std::str::from_utf8(&line[1..close]).ok()?.parse().ok()?;
                if v <= 191 {
                    h.pri = Some(v as u8);
                    rest = &line[close + 1..];
                }
            }
        }
    }
    if rest.starts_with(b"1 ") && (h.pri.is_some() || rest.get(2).is_some_and(u8::is_ascii_digit)) {
        h.rfc5424 = true;
        let (_ts, r) = token(&rest[2..]);
        let (host, r) = token(r);
        let (app, r) = token(r);
        let (procid, r) = token(r);
        let (_msgid, r) = token(r);
        h.host = nil(host);
        h.app = nil(app);
        h.procid = nil(procid);
        // STRUCTURED-DATA: `-` or `[…]…` (with `\]` escapes inside values).
        let msg = if let Some(r) = r.strip_prefix(b"-") {
            r
        } else {
            let mut i = 0;
            let mut in_quotes = false;
            while i < r.len() {
                match r[i] {
                    b'\\' if in_quotes => i += 1,
                    b'"' => in_quotes = !in_quotes,
                    b']' if !in_quotes && r.get(i + 1) != Some(&b'[') => {
                        i += 1;
                        break;
                    }
                    _ => {}
                }
                i += 1;
            }
            &r[i.min(r.len())..]
        };
        let msg = msg.strip_prefix(b" ").unwrap_or(msg);
        h.msg = msg.strip_prefix("\u{feff}".as_bytes()).unwrap_or(msg);
        return Some(h);
    }
    // RFC 3164: BSD timestamp or an ISO one, HOSTNAME, TAG[PID]: MSG.
    let after_ts = if rest.len() >= 16 && rest[3] == b' ' && rest[6] == b' ' && rest[9] == b':' {
        Some(&rest[16..])
    } else if rest.len() > 11 && rest[4] == b'-' && rest[10] == b'T' && is_digits(&rest[..4]) {
        Some(token(rest).1)
    } else {
        None
    };
    let Some(r) = after_ts else {
        h.pri?;
        h.msg = rest;
        return Some(h);
    };
    let (host, r) = token(r);
    h.host = host;
    let tag_end = r
        .iter()
        .take(64)
        .position(|b| matches!(b, b':' | b'[' | b' '));
    match tag_end {
        Some(p) if r[p] != b' ' => {
            h.app = &r[..p];
            let mut r = &r[p..];
            if r[0] == b'[' {
                if let Some(close) = memchr::memchr(b']', r) {
                    h.procid = &r[1..close];
                    r = &r[close + 1..];
                }
            }
            let r = r.strip_prefix(b":").unwrap_or(r);
            h.msg = r.strip_prefix(b" ").unwrap_or(r);
        }
        _ => h.msg = r,
    }
    Some(h)
}

/// `YYYY-MM-DD hh:mm:ss` in UTC.
pub fn clickhouse_time(t: SystemTime) -> String {
    let s = humantime::format_rfc3339_seconds(t).to_string();
    s.trim_end_matches('Z').replacen('T', " ", 1)
}

fn json_str(out: &mut Vec<u8>, s: &[u8]) {
    out.push(b'"');
    match std::str::from_utf8(s) {
        Ok(_) => json::escape(s, out),
        Err(_) => json::escape(String::from_utf8_lossy(s).as_bytes(), out),
    }
    out.push(b'"');
}

/// Appends `s` with characters RFC 5424 forbids in a header field replaced by `_`,
/// at most `max` bytes, or `-` when empty.
fn header_field(out: &mut Vec<u8>, s: &[u8], max: usize) {
    if s.is_empty() {
        out.push(b'-');
        return;
    }
    out.extend(
        s.iter()
            .take(max)
            .map(|&b| if (33..=126).contains(&b) { b } else { b'_' }),
    );
}

/// Appends the encoded record for `ev` to `out`.
pub fn encode(encoding: &Encoding, ev: &Event<'_>, out: &mut Vec<u8>) {
    match encoding {
        Encoding::Raw => out.extend_from_slice(ev.line),
        Encoding::Json => {
            let header = if ev.format == Format::Syslog {
                syslog_header(ev.line)
            } else {
                None
            };
            let h = header.clone().unwrap_or_default();
            let pri = h.pri.unwrap_or(14);
            out.extend_from_slice(b"{\"time\":\"");
            out.extend_from_slice(clickhouse_time(ev.time).as_bytes());
            out.extend_from_slice(b"\",\"input\":");
            json_str(out, ev.input.as_bytes());
            out.extend_from_slice(b",\"format\":\"");
            out.extend_from_slice(match ev.format {
                Format::Json => b"json".as_slice(),
                Format::Combined => b"combined",
                Format::Syslog => b"syslog",
                Format::Text | Format::Auto => b"text",
            });
            out.extend_from_slice(b"\",\"host\":");
            json_str(out, h.host);
            out.extend_from_slice(b",\"app\":");
            json_str(out, h.app);
            out.extend_from_slice(
                format!(",\"facility\":{},\"severity\":{}", pri >> 3, pri & 7).as_bytes(),
            );
            out.extend_from_slice(b",\"message\":");
            json_str(out, if header.is_some() { h.msg } else { ev.line });
            out.push(b'}');
        }
        Encoding::Syslog {
            hostname,
            app_name,
            default_pri,
        } => {
            let h = if ev.format == Format::Syslog {
                syslog_header(ev.line)
            } else {
                None
            };
            match h {
                Some(h) if h.rfc5424 => {
                    if h.pri.is_none() {
                        out.extend_from_slice(format!("<{default_pri}>").as_bytes());
                    }
                    out.extend_from_slice(ev.line);
                }
                _ => {
                    let h = h.unwrap_or_default();
                    let pri = h.pri.unwrap_or(*default_pri);
                    out.extend_from_slice(format!("<{pri}>1 ").as_bytes());
                    out.extend_from_slice(
                        humantime::format_rfc3339_millis(ev.time)
                            .to_string()
                            .as_bytes(),
                    );
                    out.push(b' ');
                    let host = if h.host.is_empty() {
                        hostname.as_bytes()
                    } else {
                        h.host
                    };
                    header_field(out, host, 255);
                    out.push(b' ');
                    let app = if h.app.is_empty() {
                        app_name.as_bytes()
                    } else {
                        h.app
                    };
                    header_field(out, app, 48);
                    out.push(b' ');
                    header_field(out, h.procid, 128);
                    out.extend_from_slice(b" - - ");
                    out.extend_from_slice(if h.msg.is_empty() && ev.format != Format::Syslog {
                        ev.line
                    } else {
                        h.msg
                    });
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, UNIX_EPOCH};

    fn ev(line: &str, format: Format) -> Event<'_> {
        Event {
            time: UNIX_EPOCH + Duration::from_secs(1_700_000_000),
            input: "in",
            format,
            line: line.as_bytes(),
        }
    }

    fn enc(e: &Encoding, line: &str, format: Format) -> String {
        let mut out = Vec::new();
        encode(e, &ev(line, format), &mut out);
        String::from_utf8(out).unwrap()
    }

    fn syslog_enc() -> Encoding {
        Encoding::Syslog {
            hostname: "me".into(),
            app_name: "redactd".into(),
            default_pri: 13,
        }
    }

    #[test]
    fn headers_of_both_syslog_forms() {
        let h = syslog_header(b"<34>Oct 11 22:14:15 mymachine su[12]: 'su root' failed").unwrap();
        assert_eq!(
            (h.pri, h.rfc5424, h.host, h.app, h.procid, h.msg),
            (
                Some(34),
                false,
                &b"mymachine"[..],
                &b"su"[..],
                &b"12"[..],
                &b"'su root' failed"[..]
            )
        );
        let h = syslog_header(
            b"<165>1 2003-10-11T22:14:15.003Z host app 1 ID47 [ex@32473 a=\"x\\]y\"] hello",
        )
        .unwrap();
        assert!(h.rfc5424);
        assert_eq!(
            (h.host, h.app, h.msg),
            (&b"host"[..], &b"app"[..], &b"hello"[..])
        );
        let h = syslog_header(b"<13>1 2003-10-11T22:14:15Z - - - - -").unwrap();
        assert_eq!((h.host, h.msg), (&b""[..], &b""[..]));
        let h = syslog_header(b"2024-01-02T03:04:05+00:00 web1 nginx: GET /").unwrap();
        assert_eq!(
            (h.host, h.app, h.msg),
            (&b"web1"[..], &b"nginx"[..], &b"GET /"[..])
        );
        assert!(syslog_header(b"just text").is_none());
    }

    #[test]
    fn json_has_fixed_members() {
        assert_eq!(
            enc(
                &Encoding::Json,
                "<30>Oct 11 22:14:15 web1 app[7]: a \"b\"",
                Format::Syslog
            ),
            r#"{"time":"2023-11-14 22:13:20","input":"in","format":"syslog","host":"web1","app":"app","facility":3,"severity":6,"message":"a \"b\""}"#
        );
        assert_eq!(
            enc(&Encoding::Json, "{\"a\":1}", Format::Json),
            r#"{"time":"2023-11-14 22:13:20","input":"in","format":"json","host":"","app":"","facility":1,"severity":6,"message":"{\"a\":1}"}"#
        );
    }

    #[test]
    fn syslog_5424_is_kept_and_others_get_a_header() {
        let line = "<165>1 2003-10-11T22:14:15.003Z host app - - - msg";
        assert_eq!(enc(&syslog_enc(), line, Format::Syslog), line);
        assert_eq!(
            enc(&syslog_enc(), "<34>Oct 11 22:14:15 m su: x", Format::Syslog),
            "<34>1 2023-11-14T22:13:20.000Z m su - - - x"
        );
        assert_eq!(
            enc(&syslog_enc(), "plain text", Format::Text),
            "<13>1 2023-11-14T22:13:20.000Z me redactd - - - plain text"
        );
    }
}
