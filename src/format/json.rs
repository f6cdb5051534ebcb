//! JSON lines parser: a validating, non-allocating tokenizer for one JSON value per line.
//!
//! The top-level value must be an object or an array (surrounding whitespace allowed).
//! Every string *value* (member names are not fields) becomes a [`Role::JsonString`]
//! field spanning the raw contents between its quotes, escapes left as they are, and every
//! number a [`Role::JsonNumber`] field. Their `key` is the raw contents range of the
//! nearest enclosing member name (so elements of an array that is a member value carry
//! that member's name), or `None` at top level; their `path` identifies the chain of
//! member names from the top ([`path_hash`]).
//!
//! Invalid JSON (unterminated strings, bad escapes, trailing commas, control characters
//! in strings, trailing garbage, unbalanced brackets, nesting deeper than
//! [`MAX_DEPTH`]) is rejected. Bytes ≥ 0x80 inside strings are accepted as they are,
//! without UTF-8 validation: logs are often not valid UTF-8 and the bytes are only
//! scanned, never reinterpreted.
//!
//! Nesting is tracked with a fixed-size stack on the call stack: no recursion, no heap.

use super::{Field, Role};

/// Deepest nesting of arrays and objects accepted.
pub const MAX_DEPTH: usize = 128;

type Key = Option<(usize, usize)>;

/// The path of the top-level value.
pub const ROOT_PATH: u64 = 0xcbf2_9ce4_8422_2325;
const FNV_PRIME: u64 = 0x0000_0100_0000_01b3;

/// The path of member `key` (raw, still escaped name) of the value at `parent`: a 64-bit
/// FNV-1a hash chain. Array elements share their array's path. Profiles match JSON fields
/// by comparing against [`path_hash`] of their configured dotted paths.
pub fn path_extend(parent: u64, key: &[u8]) -> u64 {
    let mut h = (parent ^ 0x2e).wrapping_mul(FNV_PRIME); // `.` between components
    for &b in key {
        h = (h ^ u64::from(b)).wrapping_mul(FNV_PRIME);
    }
    h
}

/// The path hash of a dotted path such as `http.request.user_agent` (top-level member
/// names joined by `.`).
pub fn path_hash(dotted: &str) -> u64 {
    dotted
        .split('.')
        .fold(ROOT_PATH, |h, k| path_extend(h, k.as_bytes()))
}

#[inline]
fn skip_ws(line: &[u8], mut i: usize) -> usize {
    while i < line.len() && matches!(line[i], b' ' | b'\t' | b'\n' | b'\r') {
        i += 1;
    }
    i
}

/// Given `line[i] == b'"'`, validates the string and returns the index of its closing
/// quote.
#[inline]
fn string_end(line: &[u8], mut i: usize) -> Option<usize> {
    i += 1;
    loop {
        let b = *line.get(i)?;
        match b {
            b'"' => return Some(i),
            b'\\' => match *line.get(i + 1)? {
                b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't' => i += 2,
                b'u' => {
                    let hex = line.get(i + 2..i + 6)?;
                    if !hex.iter().all(u8::is_ascii_hexdigit) {
                        return None;
                    }
                    i += 6;
                }
                _ => return None,
            },
            0..=0x1f => return None,
            _ => i += 1,
        }
    }
}

/// Validates a number token at `i`; returns the index after it.
#[inline]
fn number_end(line: &[u8], mut i: usize) -> Option<usize> {
    let digits = |line: &[u8], mut i: usize| {
        let s = i;
        while i < line.len() && line[i].is_ascii_digit() {
            i += 1;
        }
        (i > s).then_some(i)
    };
    if line.get(i) == Some(&b'-') {
        i += 1;
    }
    match line.get(i) {
        Some(b'0') => i += 1,
        Some(b'1'..=b'9') => i = digits(line, i)?,
        _ => return None,
    }
    if line.get(i) == Some(&b'.') {
        i = digits(line, i + 1)?;
    }
    if matches!(line.get(i), Some(b'e' | b'E')) {
        i += 1;
        if matches!(line.get(i), Some(b'+' | b'-')) {
            i += 1;
        }
        i = digits(line, i)?;
    }
    Some(i)
}

/// Parses a member name and its `:` at `i` (after whitespace); returns the key range and
/// the index after the colon.
#[inline]
fn member_name(line: &[u8], i: usize) -> Option<((usize, usize), usize)> {
    let i = skip_ws(line, i);
    if line.get(i) != Some(&b'"') {
        return None;
    }
    let end = string_end(line, i)?;
    let j = skip_ws(line, end + 1);
    if line.get(j) != Some(&b':') {
        return None;
    }
    Some(((i + 1, end), j + 1))
}

/// Parses one JSON line, pushing a field for every string value and number into `out`.
///
/// Returns `false` (and leaves `out` as it was) when the line is not a single valid JSON
/// object or array.
pub fn parse(line: &[u8], out: &mut Vec<Field>) -> bool {
    let base = out.len();
    if parse_inner(line, out).is_some() {
        true
    } else {
        out.truncate(base);
        false
    }
}

fn parse_inner(line: &[u8], out: &mut Vec<Field>) -> Option<()> {
    // Per open container: is it an object, and (for arrays) the key its elements inherit.
    let mut is_obj = [false; MAX_DEPTH];
    let mut keys: [Key; MAX_DEPTH] = [None; MAX_DEPTH];
    // Per open container: the path of the value it is (elements of an array share it).
    let mut paths = [ROOT_PATH; MAX_DEPTH];
    let mut depth = 0usize;
    let mut key: Key = None;
    let mut path = ROOT_PATH;

    let mut i = skip_ws(line, 0);
    if !matches!(line.get(i), Some(b'{' | b'[')) {
        return None;
    }
    loop {
        // At a value.
        i = skip_ws(line, i);
        match *line.get(i)? {
            open @ (b'{' | b'[') => {
                if depth == MAX_DEPTH {
                    return None;
                }
                let obj = open == b'{';
                is_obj[depth] = obj;
                keys[depth] = key;
                paths[depth] = path;
                depth += 1;
                i = skip_ws(line, i + 1);
                let close = if obj { b'}' } else { b']' };
                if line.get(i) == Some(&close) {
                    depth -= 1;
                    i += 1;
                } else if obj {
                    let (k, next) = member_name(line, i)?;
                    key = Some(k);
                    path = path_extend(paths[depth - 1], &line[k.0..k.1]);
                    i = next;
                    continue;
                } else {
                    continue;
                }
            }
            b'"' => {
                let end = string_end(line, i)?;
                if end > i + 1 {
                    out.push(Field {
                        span: i + 1..end,
                        role: Role::JsonString { key, path },
                    });
                }
                i = end + 1;
            }
            b'-' | b'0'..=b'9' => {
                let end = number_end(line, i)?;
                out.push(Field {
                    span: i..end,
                    role: Role::JsonNumber { key, path },
                });
                i = end;
            }
            b't' if line[i..].starts_with(b"true") => i += 4,
            b'f' if line[i..].starts_with(b"false") => i += 5,
            b'n' if line[i..].starts_with(b"null") => i += 4,
            _ => return None,
        }
        // After a value: `,`, a closing bracket, or the end.
        loop {
            i = skip_ws(line, i);
            if depth == 0 {
                return (i == line.len()).then_some(());
            }
            let obj = is_obj[depth - 1];
            match *line.get(i)? {
                b',' => {
                    if obj {
                        let (k, next) = member_name(line, i + 1)?;
                        key = Some(k);
                        path = path_extend(paths[depth - 1], &line[k.0..k.1]);
                        i = next;
                    } else {
                        key = keys[depth - 1];
                        path = paths[depth - 1];
                        i += 1;
                    }
                    break;
                }
                b'}' if obj => {
                    depth -= 1;
                    i += 1;
                }
                b']' if !obj => {
                    depth -= 1;
                    i += 1;
                }
                _ => return None,
            }
        }
    }
}

#[inline]
fn hex_val(b: u8) -> Option<u32> {
    (b as char).to_digit(16)
}

#[inline]
fn hex4(raw: &[u8], i: usize) -> Option<u32> {
    let h = raw.get(i..i + 4)?;
    let mut v = 0;
    for b in h {
        v = v * 16 + hex_val(*b)?;
    }
    Some(v)
}

fn push_char(c: u32, out: &mut Vec<u8>) {
    let c = char::from_u32(c).unwrap_or('\u{FFFD}');
    let mut buf = [0u8; 4];
    out.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
}

/// Decodes the raw contents of a JSON string (as found between the quotes) into bytes,
/// appending them to `out`.
///
/// `\uXXXX` escapes become UTF-8, surrogate pairs are combined, and a lone surrogate
/// becomes U+FFFD. Other bytes, including invalid UTF-8, are copied as they are. Returns
/// `false` on an invalid or truncated escape (what was decoded so far stays in `out`).
pub fn unescape(raw: &[u8], out: &mut Vec<u8>) -> bool {
    let mut i = 0;
    while i < raw.len() {
        let run = memchr::memchr(b'\\', &raw[i..]).map_or(raw.len(), |o| i + o);
        out.extend_from_slice(&raw[i..run]);
        i = run;
        if i == raw.len() {
            break;
        }
        let Some(&e) = raw.get(i + 1) else {
            return false;
        };
        i += 2;
        let b = match e {
            b'"' => b'"',
            b'\\' => b'\\',
            b'/' => b'/',
            b'b' => 0x08,
            b'f' => 0x0c,
            b'n' => b'\n',
            b'r' => b'\r',
            b't' => b'\t',
            b'u' => {
                let Some(u) = hex4(raw, i) else {
                    return false;
                };
                i += 4;
                if (0xD800..0xDC00).contains(&u) {
                    // High surrogate: combine with a following low one if there is one.
                    if raw.get(i) == Some(&b'\\') && raw.get(i + 1) == Some(&b'u') {
                        if let Some(lo) = hex4(raw, i + 2) {
                            if (0xDC00..0xE000).contains(&lo) {
                                i += 6;
                                push_char(0x10000 + ((u - 0xD800) << 10) + (lo - 0xDC00), out);
                                continue;
                            }
                        }
                    }
                    push_char(0xFFFD, out);
                } else {
                    // Low surrogates alone map to U+FFFD via `from_u32` failing.
                    push_char(u, out);
                }
                continue;
            }
            _ => return false,
        };
        out.push(b);
    }
    true
}

/// Appends `text` to `out` with the minimal JSON string escaping: `"` and `\` are
/// backslash-escaped, control characters use the short forms (`\n`, `\t`, ...) or
/// `\u00XX`, and every other byte (including bytes ≥ 0x80) is copied as it is.
pub fn escape(text: &[u8], out: &mut Vec<u8>) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    for &b in text {
        match b {
            b'"' => out.extend_from_slice(b"\\\""),
            b'\\' => out.extend_from_slice(b"\\\\"),
            b'\n' => out.extend_from_slice(b"\\n"),
            b'\r' => out.extend_from_slice(b"\\r"),
            b'\t' => out.extend_from_slice(b"\\t"),
            0x08 => out.extend_from_slice(b"\\b"),
            0x0c => out.extend_from_slice(b"\\f"),
            0..=0x1f => out.extend_from_slice(&[
                b'\\',
                b'u',
                b'0',
                b'0',
                HEX[(b >> 4) as usize],
                HEX[(b & 15) as usize],
            ]),
            _ => out.push(b),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// (role kind, key text, value text)
    fn fields(line: &str) -> Option<Vec<(&'static str, Option<String>, String)>> {
        let mut out = Vec::new();
        if !parse(line.as_bytes(), &mut out) {
            assert!(out.is_empty());
            return None;
        }
        check_invariants(line.as_bytes(), &out);
        Some(
            out.iter()
                .map(|f| {
                    let (kind, key) = match f.role {
                        Role::JsonString { key, .. } => ("s", key),
                        Role::JsonNumber { key, .. } => ("n", key),
                        _ => panic!("unexpected role"),
                    };
                    (
                        kind,
                        key.map(|(s, e)| line[s..e].to_string()),
                        line[f.span.clone()].to_string(),
                    )
                })
                .collect(),
        )
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

    fn k(s: &str) -> Option<String> {
        Some(s.to_string())
    }

    #[test]
    fn string_values_and_numbers_carry_their_member_name() {
        assert_eq!(
            fields(r#" {"user": "alice", "age": -1.5e3, "ok": true, "n": null} "#),
            Some(vec![
                ("s", k("user"), "alice".into()),
                ("n", k("age"), "-1.5e3".into())
            ])
        );
    }

    #[test]
    fn member_names_are_not_fields_and_escapes_stay_raw() {
        assert_eq!(
            fields(r#"{"a\"b": "x\n\u00e9\"y"}"#),
            Some(vec![("s", k(r#"a\"b"#), r#"x\n\u00e9\"y"#.into())])
        );
    }

    #[test]
    fn array_elements_inherit_the_nearest_member_name() {
        assert_eq!(
            fields(r#"{"ips": ["1.2.3.4", [5, {"x": "y"}], "z"], "t": 1}"#),
            Some(vec![
                ("s", k("ips"), "1.2.3.4".into()),
                ("n", k("ips"), "5".into()),
                ("s", k("x"), "y".into()),
                ("s", k("ips"), "z".into()),
                ("n", k("t"), "1".into()),
            ])
        );
    }

    #[test]
    fn top_level_array_elements_have_no_key() {
        assert_eq!(
            fields(r#"["a", 1, {}, [], ""]"#),
            Some(vec![("s", None, "a".into()), ("n", None, "1".into())])
        );
    }

    #[test]
    fn invalid_json_is_rejected() {
        for l in [
            "",
            "   ",
            "\"just a string\"",
            "42",
            "{",
            "{\"a\": \"unterminated}",
            r#"{"a": "\x"}"#,
            r#"{"a": "\u12"}"#,
            "{\"a\": \"ctl\u{1}\"}",
            "{\"a\": \"tab\t\"}",
            r#"{"a": 1,}"#,
            "[1,]",
            "[1 2]",
            r#"{"a" 1}"#,
            r#"{"a": 1} x"#,
            r#"{"a": 1}}"#,
            "[1]]",
            "[[1]",
            "{\"a\": [1}",
            "[01]",
            "[1.]",
            "[-]",
            "[1e]",
            "[tru]",
            "[nul]",
            "{1: 2}",
            "[,1]",
            "{,}",
        ] {
            assert_eq!(fields(l), None, "{l:?}");
        }
    }

    #[test]
    fn nesting_deeper_than_limit_is_rejected_without_overflow() {
        let ok = format!("{}{}", "[".repeat(MAX_DEPTH), "]".repeat(MAX_DEPTH));
        assert!(fields(&ok).is_some());
        let deep = format!("{}{}", "[".repeat(MAX_DEPTH + 1), "]".repeat(MAX_DEPTH + 1));
        assert_eq!(fields(&deep), None);
        let huge = "[".repeat(1_000_000);
        assert_eq!(fields(&huge), None);
    }

    #[test]
    fn invalid_utf8_inside_strings_is_accepted() {
        let line = b"{\"a\": \"\xff\xfe\"}";
        let mut out = Vec::new();
        assert!(parse(line, &mut out));
        assert_eq!(&line[out[0].span.clone()], b"\xff\xfe");
    }

    #[test]
    fn unescape_decodes_escapes_and_surrogates() {
        let mut out = Vec::new();
        assert!(unescape(
            br#"a\"\\\/\b\f\n\r\t\u00e9\ud83d\ude00"#,
            &mut out
        ));
        assert_eq!(out, "a\"\\/\u{8}\u{c}\n\r\t\u{e9}\u{1F600}".as_bytes());
        out.clear();
        assert!(unescape(br"\ud83dx\ude00\ud83d\u0041", &mut out));
        assert_eq!(out, "\u{FFFD}x\u{FFFD}\u{FFFD}A".as_bytes());
        out.clear();
        assert!(unescape(b"raw \xff bytes", &mut out));
        assert_eq!(out, b"raw \xff bytes");
        for bad in [&br"\"[..], br"\x", br"\u12", br"\u12g4", br"abc\"] {
            out.clear();
            assert!(!unescape(bad, &mut out), "{bad:?}");
        }
    }

    #[test]
    fn escape_is_minimal() {
        let mut out = Vec::new();
        escape("a\"b\\c\n\t\u{1}\u{7f}é\u{8}\u{c}\r/".as_bytes(), &mut out);
        assert_eq!(out, "a\\\"b\\\\c\\n\\t\\u0001\u{7f}é\\b\\f\\r/".as_bytes());
        out.clear();
        escape(b"\xff", &mut out);
        assert_eq!(out, b"\xff");
    }

    #[test]
    fn escaped_output_is_a_valid_json_string() {
        let mut s = b"[\"".to_vec();
        escape(b"\x00\x1f\"\\ok", &mut s);
        s.extend_from_slice(b"\"]");
        let mut out = Vec::new();
        assert!(parse(&s, &mut out));
    }

    proptest! {
        #[test]
        fn unescape_inverts_escape(x in any::<String>()) {
            let mut esc = Vec::new();
            escape(x.as_bytes(), &mut esc);
            let mut back = Vec::new();
            prop_assert!(unescape(&esc, &mut back));
            prop_assert_eq!(back, x.as_bytes());
        }

        #[test]
        fn never_panics_on_arbitrary_bytes(line in proptest::collection::vec(any::<u8>(), 0..200)) {
            let mut out = Vec::new();
            if parse(&line, &mut out) {
                check_invariants(&line, &out);
            } else {
                prop_assert!(out.is_empty());
            }
            let mut u = Vec::new();
            let _ = unescape(&line, &mut u);
        }

        #[test]
        fn json_like_lines_keep_invariants(line in "[\\[\\]{}\":,0-9a-z \\\\.eE+-]{0,80}") {
            let mut out = Vec::new();
            if parse(line.as_bytes(), &mut out) {
                check_invariants(line.as_bytes(), &out);
            }
        }
    }
}
