//! Syslog parser: RFC 5424 and RFC 3164 (BSD) lines.
//!
//! * RFC 5424: `<PRI>1 TIMESTAMP HOSTNAME APP-NAME PROCID MSGID STRUCTURED-DATA [MSG]`.
//!   The header is kept; every PARAM-VALUE's contents is a [`Role::SdValue`] field and
//!   MSG a [`Role::Text`] field (a leading UTF-8 BOM stays outside). The same form
//!   without `<PRI>` is accepted when it starts with `1 ` and an ISO date
//!   (`1 2003-10-11T...`).
//! * RFC 3164: `[<PRI>]Mmm dd hh:mm:ss HOSTNAME TAG[PID]: MSG` (the day may be
//!   space-padded). An ISO-8601 timestamp may stand in for the BSD one, as rsyslog writes
//!   it; then a `TAG:` is required, so that arbitrary application lines starting with a
//!   date are not mistaken for syslog with a hostname. With a BSD timestamp a missing
//!   `TAG:` is tolerated and everything after HOSTNAME is MSG. The header is kept; MSG is
//!   a [`Role::Text`] field.
//!
//! In both, an MSG that is itself an access-log line or a JSON object (also after `@cee:`)
//! is parsed as one, its fields in place of the one text field.
//!
//! HOSTNAME must look like a host name or address (letters, digits, `.-_:%`), otherwise
//! the line does not parse: a header field is never scanned, so a word that is not a host
//! name must not end up there.
//!
//! Works on bytes, never allocates and never panics.

use super::{Field, Role};

const MONTHS: [&[u8; 3]; 12] = [
    b"Jan", b"Feb", b"Mar", b"Apr", b"May", b"Jun", b"Jul", b"Aug", b"Sep", b"Oct", b"Nov", b"Dec",
];

#[inline]
fn push(out: &mut Vec<Field>, start: usize, end: usize, role: Role) {
    if end > start {
        out.push(Field {
            span: start..end,
            role,
        });
    }
}

#[inline]
fn digits(s: &[u8]) -> bool {
    !s.is_empty() && s.iter().all(u8::is_ascii_digit)
}

/// `<PRI>` at the start: returns the index after `>`.
#[inline]
fn pri(line: &[u8]) -> Option<usize> {
    if line.first() != Some(&b'<') {
        return None;
    }
    let close = line.iter().take(5).position(|b| *b == b'>')?;
    if close < 2 || !digits(&line[1..close]) {
        return None;
    }
    Some(close + 1)
}

/// `yyyy-mm-ddT` at `s`.
#[inline]
pub(crate) fn iso_date_at(s: &[u8]) -> bool {
    s.len() >= 11
        && digits(&s[0..4])
        && s[4] == b'-'
        && digits(&s[5..7])
        && s[7] == b'-'
        && digits(&s[8..10])
        && s[10] == b'T'
}

/// `Mmm dd hh:mm:ss` (day may be ` d`) at `s`: returns its length (15).
#[inline]
pub(crate) fn bsd_timestamp_at(s: &[u8]) -> bool {
    s.len() >= 15
        && MONTHS.iter().any(|m| &s[0..3] == *m)
        && s[3] == b' '
        && (s[4] == b' ' || s[4].is_ascii_digit())
        && s[5].is_ascii_digit()
        && s[6] == b' '
        && s[7].is_ascii_digit()
        && s[8].is_ascii_digit()
        && s[9] == b':'
        && s[10].is_ascii_digit()
        && s[11].is_ascii_digit()
        && s[12] == b':'
        && s[13].is_ascii_digit()
        && s[14].is_ascii_digit()
}

/// End of the space-free token starting at `i`.
#[inline]
fn token_end(line: &[u8], i: usize) -> usize {
    match memchr::memchr(b' ', &line[i.min(line.len())..]) {
        Some(off) => i + off,
        None => line.len(),
    }
}

#[inline]
fn hostname_ok(h: &[u8]) -> bool {
    !h.is_empty()
        && h.iter()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'_' | b':' | b'%'))
}

/// Parses an RFC 5424 or RFC 3164 syslog line, pushing its fields into `out`.
///
/// Returns `false` (and leaves `out` as it was) for lines that are neither.
pub fn parse(line: &[u8], out: &mut Vec<Field>) -> bool {
    let base = out.len();
    let ok = match pri(line) {
        Some(p) if line[p..].starts_with(b"1 ") => parse_5424(line, p + 2, out),
        Some(p) => parse_3164(line, p, out),
        None if line.starts_with(b"1 ") && iso_date_at(&line[2..]) => parse_5424(line, 2, out),
        None => parse_3164(line, 0, out),
    };
    if !ok {
        out.truncate(base);
    }
    ok
}

fn parse_5424(line: &[u8], mut i: usize, out: &mut Vec<Field>) -> bool {
    // TIMESTAMP HOSTNAME APP-NAME PROCID MSGID, each followed by one space.
    for _ in 0..5 {
        let e = token_end(line, i);
        if e == i || e >= line.len() {
            return false;
        }
        i = e + 1;
    }
    // STRUCTURED-DATA
    if line.get(i) == Some(&b'-') {
        i += 1;
    } else {
        if line.get(i) != Some(&b'[') {
            return false;
        }
        while line.get(i) == Some(&b'[') {
            match sd_element(line, i + 1, out) {
                Some(next) => i = next,
                None => return false,
            }
        }
    }
    if i == line.len() {
        return true;
    }
    if line[i] != b' ' {
        return false;
    }
    i += 1;
    if line[i..].starts_with(b"\xEF\xBB\xBF") {
        i += 3;
    }
    push_msg(line, i, out);
    true
}

/// MSG from `start` to the end of the line. An access-log line (nginx and Apache log to
/// syslog this way) or a JSON object (also after rsyslog's `@cee:` cookie) gets the fields
/// of its own format, so its client, user, agent and members are treated as in a plain
/// access or JSON log; anything else is one text field.
fn push_msg(line: &[u8], start: usize, out: &mut Vec<Field>) {
    let mut body = start;
    if line[start..].starts_with(b"@cee:") {
        body += 5;
        while line.get(body) == Some(&b' ') {
            body += 1;
        }
    }
    let msg = &line[body..];
    let base = out.len();
    let parsed = match super::detect(msg) {
        super::Format::Combined => super::combined::parse(msg, out),
        super::Format::Json => super::json::parse(msg, out),
        _ => false,
    };
    if !parsed {
        out.truncate(base);
        push(out, start, line.len(), Role::Text);
        return;
    }
    let shift = |r: &mut (usize, usize)| *r = (r.0 + body, r.1 + body);
    for f in &mut out[base..] {
        f.span = f.span.start + body..f.span.end + body;
        if let Role::JsonString { key: Some(k), .. } | Role::JsonNumber { key: Some(k), .. } =
            &mut f.role
        {
            shift(k);
        }
    }
}

/// Parses `SD-ID *(SP PARAM="VALUE")]` starting after `[`; returns the index after `]`.
fn sd_element(line: &[u8], mut i: usize, out: &mut Vec<Field>) -> Option<usize> {
    let name_ok = |b: u8| b > b' ' && b < 0x7f && !matches!(b, b'=' | b']' | b'"');
    let s = i;
    while i < line.len() && name_ok(line[i]) {
        i += 1;
    }
    if i == s {
        return None;
    }
    loop {
        match *line.get(i)? {
            b']' => return Some(i + 1),
            b' ' => {
                i += 1;
                let s = i;
                while i < line.len() && name_ok(line[i]) {
                    i += 1;
                }
                if i == s || line.get(i) != Some(&b'=') || line.get(i + 1) != Some(&b'"') {
                    return None;
                }
                i += 2;
                let vs = i;
                loop {
                    match *line.get(i)? {
                        b'"' => break,
                        b'\\' => i += 2,
                        _ => i += 1,
                    }
                }
                push(out, vs, i, Role::SdValue);
                i += 1;
            }
            _ => return None,
        }
    }
}

fn parse_3164(line: &[u8], start: usize, out: &mut Vec<Field>) -> bool {
    let rest = &line[start..];
    let (mut i, iso) = if bsd_timestamp_at(rest) {
        (start + 15, false)
    } else if iso_date_at(rest) {
        let e = token_end(line, start);
        let ts_ok = line[start..e]
            .iter()
            .all(|b| b.is_ascii_digit() || matches!(b, b'-' | b':' | b'T' | b'.' | b'+' | b'Z'));
        if !ts_ok {
            return false;
        }
        (e, true)
    } else {
        return false;
    };
    if line.get(i) != Some(&b' ') {
        return false;
    }
    i += 1;
    let h_end = token_end(line, i);
    if !hostname_ok(&line[i..h_end]) {
        return false;
    }
    if h_end == line.len() {
        return !iso;
    }
    let msg_start = h_end + 1;
    // TAG[PID]: or TAG:
    let mut j = msg_start;
    // The tag is kept verbatim, so it must look like a program name.
    while j < line.len()
        && (line[j].is_ascii_alphanumeric() || matches!(line[j], b'-' | b'_' | b'.' | b'/'))
    {
        j += 1;
    }
    let mut tagged = false;
    if j > msg_start && j < line.len() {
        if line[j] == b'[' {
            let pid = line[j + 1..]
                .iter()
                .take_while(|b| b.is_ascii_digit())
                .count();
            let k = j + 1 + pid;
            if pid > 0 && line.get(k) == Some(&b']') && line.get(k + 1) == Some(&b':') {
                j = k + 1;
                tagged = true;
            }
        } else if line[j] == b':' {
            tagged = true;
        }
    }
    let tagged = tagged && matches!(line.get(j + 1), None | Some(&b' '));
    if tagged {
        let m = (j + 2).min(line.len());
        push_msg(line, m, out);
        true
    } else if iso {
        false
    } else {
        push_msg(line, msg_start, out);
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn fields(line: &[u8]) -> Option<Vec<(Role, String)>> {
        let mut out = Vec::new();
        if !parse(line, &mut out) {
            assert!(out.is_empty());
            return None;
        }
        check_invariants(line, &out);
        Some(
            out.iter()
                .map(|f| {
                    (
                        f.role,
                        String::from_utf8_lossy(&line[f.span.clone()]).into_owned(),
                    )
                })
                .collect(),
        )
    }

    fn f(v: &[(Role, &str)]) -> Option<Vec<(Role, String)>> {
        Some(v.iter().map(|(r, s)| (*r, s.to_string())).collect())
    }

    fn check_invariants(line: &[u8], out: &[Field]) {
        let mut last = 0;
        for f in out {
            assert!(f.span.start < f.span.end);
            assert!(f.span.start >= last);
            assert!(f.span.end <= line.len());
            last = f.span.end;
        }
    }

    #[test]
    fn an_access_log_or_json_message_gets_the_fields_of_its_format_in_place() {
        let line = br#"<190>Jan 15 10:30:00 web01 nginx: 192.0.2.44 - alice [15/Jan/2024:10:30:00 +0000] "GET /a HTTP/1.1" 200 5 "-" "curl/8""#;
        let got = fields(line).unwrap();
        assert!(
            got.contains(&(Role::Client, "192.0.2.44".into())),
            "{got:?}"
        );
        assert!(got.contains(&(Role::User, "alice".into())), "{got:?}");
        assert!(got.contains(&(Role::UserAgent, "curl/8".into())), "{got:?}");

        let line = br#"Jan 15 10:30:00 app1 myapp[12]: @cee: {"name":"Bob","n":3}"#;
        let mut out = Vec::new();
        assert!(parse(line, &mut out));
        check_invariants(line, &out);
        let members: Vec<(&[u8], &[u8])> = out
            .iter()
            .filter_map(|f| match f.role {
                Role::JsonString {
                    key: Some((a, b)), ..
                }
                | Role::JsonNumber {
                    key: Some((a, b)), ..
                } => Some((&line[a..b], &line[f.span.clone()])),
                _ => None,
            })
            .collect();
        assert_eq!(members, vec![(&b"name"[..], &b"Bob"[..]), (b"n", b"3")]);

        // Not an access line, not JSON: one text field as before.
        assert_eq!(
            fields(b"Jan 15 10:30:00 app1 myapp: {not json"),
            f(&[(Role::Text, "{not json")])
        );
    }

    #[test]
    fn bsd_line_with_pid_has_message_field() {
        assert_eq!(
            fields(
                b"Mar 27 13:06:56 ip-10-77-20-248 sshd[1291]: Server listening on 0.0.0.0 port 22."
            ),
            f(&[(Role::Text, "Server listening on 0.0.0.0 port 22.")])
        );
    }

    #[test]
    fn bsd_tag_without_pid_and_padded_day() {
        assert_eq!(
            fields(b"<13>Mar  7 13:09:37 host sudo:   ubuntu : TTY=pts/0 ; USER=root"),
            f(&[(Role::Text, "  ubuntu : TTY=pts/0 ; USER=root")])
        );
    }

    #[test]
    fn bsd_without_tag_message_is_everything_after_hostname() {
        assert_eq!(
            fields(b"Mar 27 13:06:56 host last message repeated 3 times"),
            f(&[(Role::Text, "last message repeated 3 times")])
        );
    }

    #[test]
    fn tag_that_is_not_a_program_name_stays_in_the_message() {
        assert_eq!(
            fields(b"Mar 27 13:06:56 host alice@example.com: hi"),
            f(&[(Role::Text, "alice@example.com: hi")])
        );
        assert_eq!(
            fields(b"Mar 27 13:06:56 host sshd[bob]: hi"),
            f(&[(Role::Text, "sshd[bob]: hi")])
        );
    }

    #[test]
    fn rsyslog_iso_timestamp_is_accepted_with_tag() {
        assert_eq!(
            fields(b"2024-03-27T13:06:56.123+00:00 host tag: msg here"),
            f(&[(Role::Text, "msg here")])
        );
        assert_eq!(fields(b"2024-03-27T13:06:56Z alice logged in"), None);
    }

    #[test]
    fn rfc5424_examples_from_section_6_5() {
        assert_eq!(
            fields(b"<34>1 2003-10-11T22:14:15.003Z mymachine.example.com su - ID47 - \xEF\xBB\xBF'su root' failed for lonvick on /dev/pts/8"),
            f(&[(Role::Text, "'su root' failed for lonvick on /dev/pts/8")])
        );
        assert_eq!(
            fields(b"<165>1 2003-08-24T05:14:15.000003-07:00 192.0.2.1 myproc 8710 - - %% It's time to make the do-nuts."),
            f(&[(Role::Text, "%% It's time to make the do-nuts.")])
        );
        assert_eq!(
            fields(br#"<165>1 2003-10-11T22:14:15.003Z mymachine.example.com evntslog - ID47 [exampleSDID@32473 iut="3" eventSource="Application" eventID="1011"] An application event log entry..."#),
            f(&[
                (Role::SdValue, "3"),
                (Role::SdValue, "Application"),
                (Role::SdValue, "1011"),
                (Role::Text, "An application event log entry..."),
            ])
        );
        assert_eq!(
            fields(br#"<165>1 2003-10-11T22:14:15.003Z mymachine.example.com evntslog - ID47 [exampleSDID@32473 iut="3" eventSource="Application" eventID="1011"][examplePriority@32473 class="high"]"#),
            f(&[
                (Role::SdValue, "3"),
                (Role::SdValue, "Application"),
                (Role::SdValue, "1011"),
                (Role::SdValue, "high"),
            ])
        );
    }

    #[test]
    fn sd_value_escapes_do_not_end_the_value() {
        assert_eq!(
            fields(br#"<1>1 - - - - - [a@1 x="q\"u\\o\]te" y=""] m"#),
            f(&[(Role::SdValue, r#"q\"u\\o\]te"#), (Role::Text, "m")])
        );
    }

    #[test]
    fn rfc5424_all_nil_header_and_no_message() {
        assert_eq!(fields(b"<1>1 - - - - - -"), f(&[]));
        assert_eq!(
            fields(b"1 2003-10-11T22:14:15Z h a p m - hi"),
            f(&[(Role::Text, "hi")])
        );
    }

    #[test]
    fn malformed_lines_do_not_parse() {
        for l in [
            &b""[..],
            b"hello world",
            b"<34>1 2003-10-11T22:14:15Z h a p",
            b"<34>1 2003-10-11T22:14:15Z h a p m [x a=\"b] msg",
            b"<34>1 2003-10-11T22:14:15Z h a p m [x a=b] msg",
            b"<34>1 2003-10-11T22:14:15Z h a p m []",
            b"<34>1 2003-10-11T22:14:15Z h a p m -msg",
            b"<x>Mar 27 13:06:56 h t: m",
            b"Mar 27 13:06 h t: m",
            b"Foo 27 13:06:56 h t: m",
            b"Mar 27 13:06:56 us\xc3\xa9r@x t: m",
            b"1 notadate h a p m -",
        ] {
            assert_eq!(fields(l), None, "{}", String::from_utf8_lossy(l));
        }
    }

    #[test]
    fn auth_log_corpus_all_lines_parse() {
        let p = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../shared/corpus/syslog/elastic-examples_auth.log"
        );
        let data = std::fs::read(p).unwrap();
        let mut out = Vec::new();
        let mut n = 0;
        for line in data.split(|b| *b == b'\n').filter(|l| !l.is_empty()) {
            n += 1;
            out.clear();
            assert!(parse(line, &mut out), "{}", String::from_utf8_lossy(line));
            check_invariants(line, &out);
            // The message is one text field that ends the line and starts right after
            // `TAG: ` (every line of this file has a tag).
            assert_eq!(out.len(), 1, "{}", String::from_utf8_lossy(line));
            let s = out[0].span.start;
            assert_eq!(out[0].span.end, line.len());
            assert_eq!(&line[s - 2..s], b": ", "{}", String::from_utf8_lossy(line));
            let tag = &line[16..s - 2];
            let host_end = tag.iter().position(|b| *b == b' ').unwrap();
            assert!(
                !tag[host_end + 1..].contains(&b' '),
                "{}",
                String::from_utf8_lossy(line)
            );
        }
        assert_eq!(n, 7121);
    }

    proptest! {
        #[test]
        fn never_panics_on_arbitrary_bytes(line in proptest::collection::vec(any::<u8>(), 0..200)) {
            let mut out = Vec::new();
            if parse(&line, &mut out) {
                check_invariants(&line, &out);
            } else {
                prop_assert!(out.is_empty());
            }
        }

        #[test]
        fn syslog_like_lines_keep_invariants(
            head in prop_oneof![Just("<34>1 2003-10-11T22:14:15Z h a p m "), Just("<1>Mar  7 01:02:03 h "), Just("2024-03-27T13:06:56Z h ")],
            tail in "[ -~\\[\\]\"=\\\\]{0,60}",
        ) {
            let line = format!("{head}{tail}");
            let mut out = Vec::new();
            if parse(line.as_bytes(), &mut out) {
                check_invariants(line.as_bytes(), &out);
            }
        }
    }
}
