//! Apache/nginx common and combined log format parser.
//!
//! Accepted shape (one line, without its newline):
//!
//! ```text
//! [VHOST[:PORT] ]CLIENT IDENT USER [TIME] "REQUEST" STATUS BYTES["REFERRER" "USER_AGENT"[ EXTRA...]]
//! ```
//!
//! * CLIENT is an address, a hostname, `-`, `unix:` or an `X-Forwarded-For` list
//!   (`10.0.0.2, 10.0.0.1, 81.2.69.143`). Each comma-joined list is one [`Role::Client`]
//!   field. Some nginx setups log more than one address group separated by a plain space,
//!   or quote the list (`"10.5.102.222, 175.16.199.1" 10.2.1.185`); each such group becomes
//!   its own [`Role::Client`] field and the quotes stay outside the fields.
//! * A leading VHOST is recognised by structure: there is one more space-separated token
//!   before IDENT than a client needs, and that first token holds no `,` or `"` (a server
//!   name never does, while a client list does). It becomes a [`Role::Text`] field.
//! * IDENT is a [`Role::Text`] field unless `-`; USER a [`Role::User`] field unless `-`.
//! * TIME (inside the brackets) is a [`Role::Time`] field: kept, or truncated by a
//!   profile.
//! * REQUEST: when it splits as `METHOD SP TARGET SP HTTP/...`, TARGET is a
//!   [`Role::Target`] field; otherwise the whole (non-empty) content is a
//!   [`Role::Request`] field. Backslash escapes (`\"`) are honoured when looking for the
//!   closing quote.
//! * STATUS (3 digits) and BYTES (digits or `-`) are checked and kept.
//! * REFERRER and USER_AGENT are [`Role::Referrer`] / [`Role::UserAgent`] fields unless
//!   `-` or empty; whatever follows (nginx extras) is one [`Role::Text`] field.
//!
//! The parser works on bytes, never allocates and never panics.

use super::{Field, Role};

#[inline]
fn push(out: &mut Vec<Field>, start: usize, end: usize, role: Role) {
    if end > start {
        out.push(Field {
            span: start..end,
            role,
        });
    }
}

/// `start..end` is a field unless it is empty or exactly `-`.
#[inline]
fn push_unless_dash(out: &mut Vec<Field>, line: &[u8], start: usize, end: usize, role: Role) {
    if end > start && &line[start..end] != b"-" {
        push(out, start, end, role);
    }
}

/// Given `line[open] == b'"'`, returns the index of the closing quote, honouring
/// backslash escapes.
#[inline]
fn closing_quote(line: &[u8], open: usize) -> Option<usize> {
    let mut i = open + 1;
    while i < line.len() {
        match memchr::memchr2(b'"', b'\\', &line[i..]) {
            None => return None,
            Some(off) => {
                let j = i + off;
                if line[j] == b'"' {
                    return Some(j);
                }
                i = j + 2;
            }
        }
    }
    None
}

/// Finds the `[` that opens TIME: preceded by a space, followed by a digit, closed by `]`
/// which is followed by ` "`. Returns (open, close).
#[inline]
fn find_time(line: &[u8]) -> Option<(usize, usize)> {
    for open in memchr::memchr_iter(b'[', line) {
        if open == 0 || line[open - 1] != b' ' {
            continue;
        }
        if !line.get(open + 1).is_some_and(u8::is_ascii_digit) {
            continue;
        }
        let close = match memchr::memchr(b']', &line[open..]) {
            Some(off) => open + off,
            None => return None,
        };
        // TIME is kept verbatim, so it must look like one: `10/Oct/2000:13:55:36 -0700`.
        let time_ok = close - open <= 40
            && line[open + 1..close].iter().all(|b| {
                b.is_ascii_alphanumeric() || matches!(b, b'/' | b':' | b'+' | b'-' | b'.' | b' ')
            });
        if time_ok && line.get(close + 1) == Some(&b' ') && line.get(close + 2) == Some(&b'"') {
            return Some((open, close));
        }
    }
    None
}

/// Emits the client region `line[start..end]` as one or more [`Role::Client`] fields:
/// groups are separated by a space not preceded by `,`; quotes around a group are
/// structural and stay outside.
fn push_clients(out: &mut Vec<Field>, line: &[u8], start: usize, end: usize) {
    let mut g = start;
    let mut i = start;
    while i <= end {
        let at_sep = i == end || (line[i] == b' ' && i > start && line[i - 1] != b',');
        if at_sep {
            let (mut s, mut e) = (g, i);
            while s < e && line[s] == b'"' {
                s += 1;
            }
            while e > s && line[e - 1] == b'"' {
                e -= 1;
            }
            push_unless_dash(out, line, s, e, Role::Client);
            g = i + 1;
        }
        i += 1;
    }
}

/// Splits a request line `line[start..end]` into `METHOD SP TARGET SP HTTP/...` and
/// returns the target range when it does.
#[inline]
fn split_request(line: &[u8], start: usize, end: usize) -> Option<(usize, usize)> {
    let req = &line[start..end];
    let sp1 = memchr::memchr(b' ', req)?;
    let sp2 = memchr::memrchr(b' ', req)?;
    if sp1 == 0 || sp2 <= sp1 + 1 {
        return None;
    }
    if !req[..sp1]
        .iter()
        .all(|b| b.is_ascii_alphanumeric() || *b == b'-' || *b == b'_')
    {
        return None;
    }
    let proto = &req[sp2 + 1..];
    if !proto.starts_with(b"HTTP/")
        || proto.len() == 5
        || !proto[5..].iter().all(|b| b.is_ascii_digit() || *b == b'.')
    {
        return None;
    }
    Some((start + sp1 + 1, start + sp2))
}

/// Parses a common or combined access log line, pushing its fields into `out`.
///
/// Returns `false` (and leaves `out` as it was) when the line does not have the shape.
pub fn parse(line: &[u8], out: &mut Vec<Field>) -> bool {
    let base = out.len();
    if parse_inner(line, out) {
        true
    } else {
        out.truncate(base);
        false
    }
}

fn parse_inner(line: &[u8], out: &mut Vec<Field>) -> bool {
    let (open, close) = match find_time(line) {
        Some(t) => t,
        None => return false,
    };
    // Prefix before the space that precedes `[`: `[VHOST ]CLIENT IDENT USER`.
    let prefix_end = open - 1;
    let user_sp = match memchr::memrchr(b' ', &line[..prefix_end]) {
        Some(p) => p,
        None => return false,
    };
    let ident_sp = match memchr::memrchr(b' ', &line[..user_sp]) {
        Some(p) => p,
        None => return false,
    };
    if ident_sp == 0 || ident_sp + 1 == user_sp || user_sp + 1 == prefix_end {
        return false;
    }
    // Client region, possibly with a vhost in front.
    let mut client_start = 0;
    if let Some(sp) = memchr::memchr(b' ', &line[..ident_sp]) {
        let first = &line[..sp];
        if !first.is_empty() && !first.iter().any(|b| *b == b',' || *b == b'"') {
            push(out, 0, sp, Role::Text);
            client_start = sp + 1;
        }
    }
    if client_start >= ident_sp {
        return false;
    }
    push_clients(out, line, client_start, ident_sp);
    push_unless_dash(out, line, ident_sp + 1, user_sp, Role::Text);
    push_unless_dash(out, line, user_sp + 1, prefix_end, Role::User);
    push(out, open + 1, close, Role::Time);

    // Request.
    let q_open = close + 2;
    let q_close = match closing_quote(line, q_open) {
        Some(q) => q,
        None => return false,
    };
    match split_request(line, q_open + 1, q_close) {
        Some((s, e)) => push(out, s, e, Role::Target),
        None => push(out, q_open + 1, q_close, Role::Request),
    }

    // ` STATUS BYTES`
    let mut i = q_close + 1;
    if line.get(i) != Some(&b' ') {
        return false;
    }
    i += 1;
    if line.len() < i + 3 || !line[i..i + 3].iter().all(u8::is_ascii_digit) {
        return false;
    }
    i += 3;
    if line.get(i) != Some(&b' ') {
        return false;
    }
    i += 1;
    let bytes_start = i;
    while i < line.len() && line[i].is_ascii_digit() {
        i += 1;
    }
    if i == bytes_start {
        if line.get(i) == Some(&b'-') {
            i += 1;
        } else {
            return false;
        }
    }
    if i == line.len() {
        return true; // common log format
    }
    if !line[i].is_ascii_whitespace() {
        return false;
    }

    // Optional ` "REFERRER" "USER_AGENT"`.
    for role in [Role::Referrer, Role::UserAgent] {
        if line.get(i) == Some(&b' ') && line.get(i + 1) == Some(&b'"') {
            let open = i + 1;
            let close = match closing_quote(line, open) {
                Some(c) => c,
                None => return false,
            };
            push_unless_dash(out, line, open + 1, close, role);
            i = close + 1;
        } else {
            break;
        }
    }

    // Whatever is left: one text field, surrounding whitespace outside.
    let mut s = i;
    let mut e = line.len();
    while s < e && line[s].is_ascii_whitespace() {
        s += 1;
    }
    while e > s && line[e - 1].is_ascii_whitespace() {
        e -= 1;
    }
    push(out, s, e, Role::Text);
    true
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// The fields of a line, leaving out the time (every parsed line has one; see
    /// `time_is_a_field_inside_the_brackets`).
    fn fields(line: &str) -> Option<Vec<(Role, String)>> {
        let mut out = Vec::new();
        if !parse(line.as_bytes(), &mut out) {
            assert!(out.is_empty());
            return None;
        }
        assert_eq!(
            out.iter().filter(|f| f.role == Role::Time).count(),
            1,
            "{line}"
        );
        Some(
            out.iter()
                .filter(|f| f.role != Role::Time)
                .map(|f| (f.role, line[f.span.clone()].to_string()))
                .collect(),
        )
    }

    #[test]
    fn time_is_a_field_inside_the_brackets() {
        let line = r#"::1 - - [26/Dec/2016:16:16:29 +0200] "GET / HTTP/1.1" 404 209"#;
        let mut out = Vec::new();
        assert!(parse(line.as_bytes(), &mut out));
        let time = out.iter().find(|f| f.role == Role::Time).unwrap();
        assert_eq!(&line[time.span.clone()], "26/Dec/2016:16:16:29 +0200");
    }

    fn f(v: &[(Role, &str)]) -> Option<Vec<(Role, String)>> {
        Some(v.iter().map(|(r, s)| (*r, s.to_string())).collect())
    }

    const UA49: &str =
        "Mozilla/5.0 (Macintosh; Intel Mac OS X 10.12; rv:49.0) Gecko/20100101 Firefox/49.0";
    const UA15: &str = "Mozilla/5.0 (Windows NT 6.1; rv:15.0) Gecko/20120716 Firefox/15.0a2";

    fn corpus(path: &str) -> Vec<u8> {
        let p = format!(
            "{}/../shared/corpus/access/{}",
            env!("CARGO_MANIFEST_DIR"),
            path
        );
        std::fs::read(&p).unwrap_or_else(|e| panic!("{p}: {e}"))
    }

    fn check_invariants(line: &[u8], out: &[Field]) {
        let mut last = 0;
        for f in out {
            assert!(f.span.start < f.span.end, "empty field");
            assert!(f.span.start >= last, "overlap or unsorted");
            assert!(f.span.end <= line.len());
            last = f.span.end;
        }
    }

    #[test]
    fn common_format_with_ipv6_loopback_parses() {
        assert_eq!(
            fields(r#"::1 - - [26/Dec/2016:16:16:29 +0200] "GET /favicon.ico HTTP/1.1" 404 209"#),
            f(&[(Role::Client, "::1"), (Role::Target, "/favicon.ico")])
        );
    }

    #[test]
    fn dash_request_is_a_request_field_and_dash_bytes_accepted() {
        assert_eq!(
            fields(r#"::1 - - [26/Dec/2016:16:16:48 +0200] "-" 408 -"#),
            f(&[(Role::Client, "::1"), (Role::Request, "-")])
        );
    }

    #[test]
    fn combined_with_dash_referrer_has_no_referrer_field() {
        let line = format!(
            r#"192.168.33.1 - - [26/Dec/2016:16:22:13 +0000] "GET /hello HTTP/1.1" 404 499 "-" "{}""#,
            "Mozilla/5.0 (Macintosh; Intel Mac OS X 10.12; rv:50.0) Gecko/20100101 Firefox/50.0"
        );
        assert_eq!(
            fields(&line),
            f(&[
                (Role::Client, "192.168.33.1"),
                (Role::Target, "/hello"),
                (
                    Role::UserAgent,
                    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10.12; rv:50.0) Gecko/20100101 Firefox/50.0"
                ),
            ])
        );
    }

    #[test]
    fn nginx_extra_quoted_field_is_text() {
        let line = format!(
            r#"172.17.0.1 - - [29/May/2017:19:02:48 +0000] "GET /stringpatch HTTP/1.1" 404 612 "-" "{UA15}" "-""#
        );
        assert_eq!(
            fields(&line),
            f(&[
                (Role::Client, "172.17.0.1"),
                (Role::Target, "/stringpatch"),
                (Role::UserAgent, UA15),
                (Role::Text, "\"-\""),
            ])
        );
    }

    #[test]
    fn hostname_client_parses() {
        let line = format!(
            r#"monitoring-server - - [29/May/2017:19:02:48 +0000] "GET /status HTTP/1.1" 200 612 "-" "{UA15}" "-""#
        );
        assert_eq!(
            fields(&line).unwrap()[0],
            (Role::Client, "monitoring-server".into())
        );
    }

    #[test]
    fn dash_user_agent_is_not_a_field() {
        assert_eq!(
            fields(r#"127.0.0.1 - - [02/Feb/2019:05:38:45 +0100] "-" 408 152 "-" "-""#),
            f(&[(Role::Client, "127.0.0.1"), (Role::Request, "-")])
        );
    }

    #[test]
    fn vhost_prefix_is_text_field_before_client() {
        let line = r#"vhost1.domaine.fr 123.123.123.123 - - [04/Jul/2019:09:20:46 +0200] "GET / HTTP/1.1" 200 32953 "-" "curl/7""#;
        assert_eq!(
            fields(line),
            f(&[
                (Role::Text, "vhost1.domaine.fr"),
                (Role::Client, "123.123.123.123"),
                (Role::Target, "/"),
                (Role::UserAgent, "curl/7"),
            ])
        );
    }

    #[test]
    fn xff_list_in_client_field_is_one_client_field() {
        let line = format!(
            r#"10.0.0.2, 10.0.0.1, 127.0.0.1 - - [07/Dec/2016:11:05:07 +0100] "GET /ocelot HTTP/1.1" 200 571 "-" "{UA49}""#
        );
        assert_eq!(
            fields(&line),
            f(&[
                (Role::Client, "10.0.0.2, 10.0.0.1, 127.0.0.1"),
                (Role::Target, "/ocelot"),
                (Role::UserAgent, UA49),
            ])
        );
    }

    #[test]
    fn vhost_then_xff_list() {
        let line = format!(
            r#"example.com 10.0.0.2, 10.0.0.1, 81.2.69.143 - - [07/Dec/2016:11:05:07 +0100] "GET /ocelot HTTP/1.1" 200 571 "-" "{UA49}""#
        );
        assert_eq!(
            fields(&line),
            f(&[
                (Role::Text, "example.com"),
                (Role::Client, "10.0.0.2, 10.0.0.1, 81.2.69.143"),
                (Role::Target, "/ocelot"),
                (Role::UserAgent, UA49),
            ])
        );
    }

    #[test]
    fn vhost_with_port() {
        let line = r#"example.com:80 81.2.69.143 - - [07/Dec/2016:11:05:07 +0100] "GET /ocelot HTTP/1.1" 200 571 "-" "x""#;
        assert_eq!(
            fields(line).unwrap()[..2],
            f(&[
                (Role::Text, "example.com:80"),
                (Role::Client, "81.2.69.143")
            ])
            .unwrap()[..]
        );
    }

    #[test]
    fn quoted_xff_list_then_address_keeps_quotes_outside() {
        let line = r#"example.com:80 "10.5.102.222, 175.16.199.1, 204.246.1.1" 10.2.1.185 - - [22/Jan/2016:13:18:29 +0000] "GET /assets/xxxx?q=100 HTTP/1.1" 200 25507 "-" "Amazon CloudFront""#;
        assert_eq!(
            fields(line),
            f(&[
                (Role::Text, "example.com:80"),
                (Role::Client, "10.5.102.222, 175.16.199.1, 204.246.1.1"),
                (Role::Client, "10.2.1.185"),
                (Role::Target, "/assets/xxxx?q=100"),
                (Role::UserAgent, "Amazon CloudFront"),
            ])
        );
        let line = r#""10.5.102.222, 199.96.1.1, 204.246.1.1" 10.2.1.185 - - [22/Jan/2016:13:18:29 +0000] "GET /a HTTP/1.1" 200 25507 "-" "Amazon CloudFront""#;
        assert_eq!(
            fields(line).unwrap()[..2],
            f(&[
                (Role::Client, "10.5.102.222, 199.96.1.1, 204.246.1.1"),
                (Role::Client, "10.2.1.185"),
            ])
            .unwrap()[..]
        );
    }

    #[test]
    fn ipv6_xff_list_followed_by_address_without_vhost() {
        let line = r#"2a03:0000:10ff:f00f:0000:0000:0:8000, 10.225.192.17 10.2.2.121 - - [30/Dec/2016:06:47:09 +0000] "GET /test.html HTTP/1.1" 404 8571 "-" "Facebot""#;
        assert_eq!(
            fields(line).unwrap()[..2],
            f(&[
                (
                    Role::Client,
                    "2a03:0000:10ff:f00f:0000:0000:0:8000, 10.225.192.17"
                ),
                (Role::Client, "10.2.2.121"),
            ])
            .unwrap()[..]
        );
        let line = r#"1.128.3.4 2a02:cf40:10ff:f00f:0000:0000:0:8000, 10.225.192.17 10.2.2.121 - - [30/Dec/2016:06:47:09 +0000] "GET /test.html HTTP/1.1" 404 8571 "-" "Facebot""#;
        assert_eq!(
            fields(line).unwrap()[..3],
            f(&[
                (Role::Text, "1.128.3.4"),
                (
                    Role::Client,
                    "2a02:cf40:10ff:f00f:0000:0000:0:8000, 10.225.192.17"
                ),
                (Role::Client, "10.2.2.121"),
            ])
            .unwrap()[..]
        );
    }

    #[test]
    fn empty_request_has_no_field() {
        assert_eq!(
            fields(r#"1.128.3.4:80 127.0.0.1 - - [12/Apr/2018:09:48:40 +0200] "" 400 0 "-" "-""#),
            f(&[(Role::Text, "1.128.3.4:80"), (Role::Client, "127.0.0.1")])
        );
    }

    #[test]
    fn unix_socket_client_and_garbage_request() {
        assert_eq!(
            fields(
                r#"example.com:80 unix: - - [26/Feb/2019:15:39:42 +0100] "hello" 400 173 "-" "-""#
            ),
            f(&[
                (Role::Text, "example.com:80"),
                (Role::Client, "unix:"),
                (Role::Request, "hello")
            ])
        );
    }

    #[test]
    fn vhost_then_hostname_list() {
        let line = r#"example.com localhost, localhost - - [29/May/2017:19:02:48 +0000] "GET /test2 HTTP/1.1" 200 612 "-" "x" "-""#;
        assert_eq!(
            fields(line).unwrap()[..2],
            f(&[
                (Role::Text, "example.com"),
                (Role::Client, "localhost, localhost")
            ])
            .unwrap()[..]
        );
    }

    #[test]
    fn ident_and_user_are_fields_unless_dash() {
        assert_eq!(
            fields(
                r#"1.2.3.4 identd frank [10/Oct/2000:13:55:36 -0700] "GET /apache_pb.gif HTTP/1.0" 200 2326"#
            ),
            f(&[
                (Role::Client, "1.2.3.4"),
                (Role::Text, "identd"),
                (Role::User, "frank"),
                (Role::Target, "/apache_pb.gif"),
            ])
        );
    }

    #[test]
    fn escaped_quotes_in_request_are_honoured() {
        assert_eq!(
            fields(
                r#"1.2.3.4 - - [10/Oct/2000:13:55:36 -0700] "GET /a\"b HTTP/1.0" 200 1 "-" "ua\"x""#
            ),
            f(&[
                (Role::Client, "1.2.3.4"),
                (Role::Target, r#"/a\"b"#),
                (Role::UserAgent, r#"ua\"x"#),
            ])
        );
    }

    #[test]
    fn tls_garbage_request_is_request_field() {
        assert_eq!(
            fields(
                r#"1.2.3.4 - - [10/Oct/2000:13:55:36 -0700] "\x16\x03\x01\x00\xA5\x01" 400 166 "-" "-""#
            ),
            f(&[
                (Role::Client, "1.2.3.4"),
                (Role::Request, r"\x16\x03\x01\x00\xA5\x01")
            ])
        );
    }

    #[test]
    fn request_with_odd_protocol_is_request_field() {
        assert_eq!(
            fields(r#"1.2.3.4 - - [10/Oct/2000:13:55:36 -0700] "GET /a HTTP/1.1x" 400 1"#),
            f(&[
                (Role::Client, "1.2.3.4"),
                (Role::Request, "GET /a HTTP/1.1x")
            ])
        );
    }

    #[test]
    fn time_that_does_not_look_like_a_time_does_not_parse() {
        assert_eq!(
            fields(r#"1.2.3.4 - - [1 a@b.c] "GET /a HTTP/1.1" 200 1"#),
            None
        );
    }

    #[test]
    fn request_without_protocol_is_request_field() {
        assert_eq!(
            fields(r#"1.2.3.4 - - [10/Oct/2000:13:55:36 -0700] "GET /path" 400 1"#),
            f(&[(Role::Client, "1.2.3.4"), (Role::Request, "GET /path")])
        );
    }

    #[test]
    fn referrer_and_nginx_extras_are_fields() {
        let line = r#"1.2.3.4 - - [10/Oct/2000:13:55:36 -0700] "GET / HTTP/1.1" 200 1 "http://r/" "ua" "1.2.3.4, 5.6.7.8" 0.123 rt=0.05 uct="0.000"  "#;
        assert_eq!(
            fields(line),
            f(&[
                (Role::Client, "1.2.3.4"),
                (Role::Target, "/"),
                (Role::Referrer, "http://r/"),
                (Role::UserAgent, "ua"),
                (
                    Role::Text,
                    r#""1.2.3.4, 5.6.7.8" 0.123 rt=0.05 uct="0.000""#
                ),
            ])
        );
    }

    #[test]
    fn bad_status_or_bytes_does_not_parse() {
        assert_eq!(
            fields(r#"1.2.3.4 - - [10/Oct/2000:13:55:36 -0700] "GET / HTTP/1.1" 20 1"#),
            None
        );
        assert_eq!(
            fields(r#"1.2.3.4 - - [10/Oct/2000:13:55:36 -0700] "GET / HTTP/1.1" 200 x"#),
            None
        );
        assert_eq!(
            fields(r#"1.2.3.4 - - [10/Oct/2000:13:55:36 -0700] "GET / HTTP/1.1 200 1"#),
            None
        );
        assert_eq!(fields("hello world"), None);
        assert_eq!(fields(""), None);
        assert_eq!(fields(r#"- - [1/x] "a" 200 1"#), None);
    }

    #[test]
    fn fixtures_beats_lines_have_exact_fields() {
        const C: Role = Role::Client;
        const T: Role = Role::Text;
        const TG: Role = Role::Target;
        const RQ: Role = Role::Request;
        const UA: Role = Role::UserAgent;
        type Expected<'a> = &'a [&'a [(Role, &'a str)]];
        let apache: Expected = &[
            &[(C, "::1"), (TG, "/favicon.ico")],
            &[(C, "192.168.33.1"), (TG, "/hello"), (UA, "Mozilla/5.0 (Macintosh; Intel Mac OS X 10.12; rv:50.0) Gecko/20100101 Firefox/50.0")],
            &[(C, "::1"), (RQ, "-")],
            &[(C, "172.17.0.1"), (TG, "/stringpatch"), (UA, "Mozilla/5.0 (Windows NT 6.1; rv:15.0) Gecko/20120716 Firefox/15.0a2"), (T, "\"-\"")],
            &[(C, "monitoring-server"), (TG, "/status"), (UA, "Mozilla/5.0 (Windows NT 6.1; rv:15.0) Gecko/20120716 Firefox/15.0a2"), (T, "\"-\"")],
            &[(C, "127.0.0.1"), (RQ, "-")],
            &[(T, "vhost1.domaine.fr"), (C, "123.123.123.123"), (TG, "/"), (UA, "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/75.0.3770.100 Safari/537.36")],
        ];
        let nginx: Expected = &[
            &[(C, "10.0.0.2, 10.0.0.1, 127.0.0.1"), (TG, "/ocelot"), (UA, "Mozilla/5.0 (Macintosh; Intel Mac OS X 10.12; rv:49.0) Gecko/20100101 Firefox/49.0")],
            &[(C, "172.17.0.1"), (TG, "/stringpatch"), (UA, "Mozilla/5.0 (Windows NT 6.1; rv:15.0) Gecko/20120716 Firefox/15.0a2"), (T, "\"-\"")],
            &[(C, "10.0.0.2, 10.0.0.1, 85.181.35.98"), (TG, "/ocelot"), (UA, "Mozilla/5.0 (Macintosh; Intel Mac OS X 10.12; rv:49.0) Gecko/20100101 Firefox/49.0")],
            &[(C, "85.181.35.98"), (TG, "/ocelot"), (UA, "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_14_0) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/70.0.3538.102 Safari/537.36")],
            &[(C, "10.5.102.222, 199.96.1.1, 204.246.1.1"), (C, "10.2.1.185"), (TG, "/assets/xxxx?q=100"), (UA, "Amazon CloudFront")],
            &[(C, "2a03:0000:10ff:f00f:0000:0000:0:8000, 10.225.192.17"), (C, "10.2.2.121"), (TG, "/test.html"), (UA, "Mozilla/5.0 (compatible; Facebot 1.0; https://developers.facebook.com/docs/sharing/webmasters/crawler)")],
            &[(C, "127.0.0.1")],
        ];
        let nginx_host: Expected = &[
            &[(T, "example.com"), (C, "10.0.0.2, 10.0.0.1, 127.0.0.1"), (TG, "/ocelot"), (UA, "Mozilla/5.0 (Macintosh; Intel Mac OS X 10.12; rv:49.0) Gecko/20100101 Firefox/49.0")],
            &[(T, "example.com"), (C, "172.17.0.1"), (TG, "/stringpatch"), (UA, "Mozilla/5.0 (Windows NT 6.1; rv:15.0) Gecko/20120716 Firefox/15.0a2"), (T, "\"-\"")],
            &[(T, "example.com"), (C, "10.0.0.2, 10.0.0.1, 81.2.69.143"), (TG, "/ocelot"), (UA, "Mozilla/5.0 (Macintosh; Intel Mac OS X 10.12; rv:49.0) Gecko/20100101 Firefox/49.0")],
            &[(T, "example.com:80"), (C, "81.2.69.143"), (TG, "/ocelot"), (UA, "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_14_0) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/70.0.3538.102 Safari/537.36")],
            &[(T, "example.com:80"), (C, "10.5.102.222, 175.16.199.1, 204.246.1.1"), (C, "10.2.1.185"), (TG, "/assets/xxxx?q=100"), (UA, "Amazon CloudFront")],
            &[(T, "1.128.3.4"), (C, "2a02:cf40:10ff:f00f:0000:0000:0:8000, 10.225.192.17"), (C, "10.2.2.121"), (TG, "/test.html"), (UA, "Mozilla/5.0 (compatible; Facebot 1.0; https://developers.facebook.com/docs/sharing/webmasters/crawler)")],
            &[(T, "1.128.3.4:80"), (C, "127.0.0.1")],
            &[(T, "example.com:80"), (C, "unix:"), (RQ, "hello")],
            &[(T, "1.128.3.4"), (C, "localhost"), (TG, "/test2"), (UA, "Mozilla/5.0 (Windows NT 6.1; rv:15.0) Gecko/20120716 Firefox/15.0a2"), (T, "\"-\"")],
            &[(T, "example.com"), (C, "localhost, localhost"), (TG, "/test2"), (UA, "Mozilla/5.0 (Windows NT 6.1; rv:15.0) Gecko/20120716 Firefox/15.0a2"), (T, "\"-\"")],
        ];
        for (name, expected) in [
            ("fixtures-beats/apache_access_test.log", apache),
            ("fixtures-beats/nginx_access_test.log", nginx),
            ("fixtures-beats/nginx_access_test-with-host.log", nginx_host),
        ] {
            let data = corpus(name);
            let lines: Vec<&[u8]> = data
                .split(|b| *b == b'\n')
                .filter(|l| !l.is_empty())
                .collect();
            assert_eq!(lines.len(), expected.len(), "{name}");
            for (line, want) in lines.iter().zip(expected) {
                let line = std::str::from_utf8(line).unwrap();
                assert_eq!(fields(line), f(want), "{name}: {line}");
            }
        }
    }

    fn corpus_failures(name: &str) -> (usize, Vec<String>) {
        let data = corpus(name);
        let mut out = Vec::new();
        let mut bad = Vec::new();
        let mut n = 0;
        for line in data.split(|b| *b == b'\n').filter(|l| !l.is_empty()) {
            n += 1;
            out.clear();
            if parse(line, &mut out) {
                check_invariants(line, &out);
                assert!(out.iter().any(|f| f.role == Role::Client));
            } else {
                bad.push(String::from_utf8_lossy(line).into_owned());
            }
        }
        (n, bad)
    }

    #[test]
    fn elastic_apache_corpus_all_lines_parse_but_the_truncated_one() {
        let (n, bad) = corpus_failures("elastic-examples_apache_logs.log");
        assert_eq!(n, 10000);
        // Line 8899 is cut off inside the user agent (no closing quote): malformed.
        assert_eq!(bad.len(), 1, "{bad:#?}");
        assert!(
            bad[0].ends_with("+http://www.google.com/bot.html"),
            "{bad:#?}"
        );
    }

    #[test]
    fn hackers_access_corpus_all_lines_parse() {
        let (n, bad) = corpus_failures("logparser_hackers-access.log");
        assert!(n > 3000);
        assert!(bad.is_empty(), "{bad:#?}");
    }

    proptest! {
        #[test]
        fn never_panics_on_arbitrary_bytes(line in proptest::collection::vec(any::<u8>(), 0..300)) {
            let mut out = Vec::new();
            if parse(&line, &mut out) {
                check_invariants(&line, &out);
            } else {
                prop_assert!(out.is_empty());
            }
        }

        #[test]
        fn access_like_lines_keep_invariants(
            pre in "[a-z0-9.:, \"-]{0,30}",
            req in "[ -~]{0,30}",
            tail in "[ -~]{0,40}",
        ) {
            let line = format!("{pre} - u [10/Oct/2000:13:55:36 -0700] \"{req}\" 200 1 {tail}");
            let mut out = Vec::new();
            if parse(line.as_bytes(), &mut out) {
                check_invariants(line.as_bytes(), &out);
            }
        }
    }
}
