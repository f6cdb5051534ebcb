//! Runs the table of cases in `tests/cases/*.toml` through every path a line can take:
//! whole, through the filter pipeline split at every byte, through the multi-threaded
//! filter, and (for text) through the streaming redactor split at every byte.

use std::io::{self, Read};
use std::sync::Arc;

use redactd::filter::{self, Options};
use redactd::format::Format;
use redactd::pseudo::{Key, Pseudonymiser};
use redactd::redact::{stream::StreamRedactor, Redactor};
use redactd::rules::RuleSet;
use regex_automata::meta::Regex;
use serde::Deserialize;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CaseFile {
    case: Vec<Case>,
}

#[derive(Deserialize, Clone)]
#[serde(deny_unknown_fields)]
struct Case {
    name: String,
    #[serde(default)]
    format: Option<String>,
    #[serde(default)]
    input: Option<String>,
    #[serde(default)]
    input_hex: Option<String>,
    #[serde(default)]
    expected: Option<String>,
    #[serde(default)]
    expected_hex_prefix: Option<String>,
    #[serde(default)]
    absent: Vec<String>,
    #[serde(default)]
    present: Vec<String>,
    #[serde(default)]
    same_tokens: bool,
}

fn redactor() -> Arc<Redactor> {
    let key = Key::from_bytes([0; 32]);
    Arc::new(Redactor::new(&RuleSet::shipped(), Some(Pseudonymiser::new(&key))).unwrap())
}

fn format_of(case: &Case) -> Format {
    match case.format.as_deref().unwrap_or("auto") {
        "auto" => Format::Auto,
        "text" => Format::Text,
        "json" => Format::Json,
        "combined" => Format::Combined,
        "syslog" => Format::Syslog,
        other => panic!("{}: unknown format {other}", case.name),
    }
}

fn input_of(case: &Case) -> Vec<u8> {
    match (&case.input, &case.input_hex) {
        (Some(text), None) => text.as_bytes().to_vec(),
        (None, Some(hexed)) => hex::decode(hexed.replace(' ', "")).unwrap(),
        _ => panic!("{}: give input or input_hex", case.name),
    }
}

/// `{email}`-style placeholders in an expected line match any token of that type.
fn expected_regex(expected: &str) -> Regex {
    let mut pattern = String::from("^");
    let mut rest = expected;
    while let Some(open) = rest.find('{') {
        let close = rest[open..].find('}').map(|c| open + c);
        let name = close.map(|c| &rest[open + 1..c]);
        match (close, name) {
            (Some(close), Some(name))
                if !name.is_empty() && name.bytes().all(|b| b.is_ascii_lowercase()) =>
            {
                pattern.push_str(&regex_syntax::escape(&rest[..open]));
                pattern.push_str(&format!("{name}:[0-9a-f]{{4}}:[0-9a-f]{{12}}"));
                rest = &rest[close + 1..];
            }
            _ => {
                pattern.push_str(&regex_syntax::escape(&rest[..=open]));
                rest = &rest[open + 1..];
            }
        }
    }
    pattern.push_str(&regex_syntax::escape(rest));
    pattern.push('$');
    Regex::new(&pattern).unwrap()
}

fn check_output(case: &Case, input: &[u8], output: &[u8]) {
    let shown = String::from_utf8_lossy(output);
    if let Some(expected) = &case.expected {
        assert!(
            expected_regex(expected).is_match(output),
            "{}:\n  input    {}\n  output   {shown}\n  expected {expected}",
            case.name,
            String::from_utf8_lossy(input)
        );
    }
    if let Some(prefix) = &case.expected_hex_prefix {
        let prefix = hex::decode(prefix.replace(' ', "")).unwrap();
        assert!(
            output.starts_with(&prefix),
            "{}: output {:?}",
            case.name,
            output
        );
    }
    for absent in &case.absent {
        assert!(
            !shown.contains(absent.as_str()),
            "{}: {absent:?} still in {shown}",
            case.name
        );
    }
    for present in &case.present {
        assert!(
            shown.contains(present.as_str()),
            "{}: {present:?} missing from {shown}",
            case.name
        );
    }
    if case.same_tokens {
        let tokens = Regex::new(r"[a-z]+:[0-9a-f]{4}:[0-9a-f]{12}").unwrap();
        let found: Vec<&str> = tokens
            .find_iter(shown.as_bytes())
            .map(|m| &shown[m.range()])
            .collect();
        assert!(
            found.len() >= 2 && found.iter().all(|t| *t == found[0]),
            "{}: tokens {found:?}",
            case.name
        );
    }
}

fn cases() -> Vec<Case> {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/cases");
    let mut paths: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    paths.sort();
    let mut all = Vec::new();
    for path in paths
        .into_iter()
        .filter(|p| p.extension().is_some_and(|e| e == "toml"))
    {
        let text = std::fs::read_to_string(&path).unwrap();
        let file: CaseFile =
            toml::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        all.extend(file.case);
    }
    assert!(all.len() >= 40, "only {} cases", all.len());
    all
}

/// A reader handing out its data in the given piece sizes.
struct Pieces {
    data: Vec<u8>,
    at: usize,
    sizes: Vec<usize>,
    i: usize,
}

impl Read for Pieces {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let size = self.sizes.get(self.i).copied().unwrap_or(usize::MAX);
        self.i += 1;
        let n = size.min(buf.len()).min(self.data.len() - self.at);
        buf[..n].copy_from_slice(&self.data[self.at..self.at + n]);
        self.at += n;
        Ok(n)
    }
}

fn filter_output(
    redactor: &Arc<Redactor>,
    data: &[u8],
    sizes: Vec<usize>,
    format: Format,
    threads: usize,
) -> Vec<u8> {
    let input: Box<dyn Read + Send> = Box::new(Pieces {
        data: data.to_vec(),
        at: 0,
        sizes,
        i: 0,
    });
    let mut out = Vec::new();
    let options = Options {
        format,
        threads,
        batch_bytes: 64,
        ..Options::default()
    };
    filter::run(redactor, vec![input], &mut out, &options).unwrap();
    out
}

#[test]
fn every_case_holds_when_redacted_whole() {
    let r = redactor();
    let mut s = r.scratch();
    for case in cases() {
        let input = input_of(&case);
        let mut out = Vec::new();
        r.redact_line(&input, format_of(&case), &mut out, &mut s);
        check_output(&case, &input, &out);
    }
}

#[test]
fn every_case_gives_the_same_output_through_the_filter_split_at_every_byte() {
    let r = redactor();
    let mut s = r.scratch();
    for case in cases() {
        let input = input_of(&case);
        let mut whole = Vec::new();
        r.redact_line(&input, format_of(&case), &mut whole, &mut s);
        whole.push(b'\n');
        let mut data = input.clone();
        data.push(b'\n');
        for split in 1..data.len() {
            let out = filter_output(&r, &data, vec![split, usize::MAX], format_of(&case), 1);
            assert_eq!(
                String::from_utf8_lossy(&out),
                String::from_utf8_lossy(&whole),
                "{} split at {split}",
                case.name
            );
        }
    }
}

#[test]
fn all_cases_in_one_stream_keep_their_order_with_many_threads() {
    let r = redactor();
    let mut s = r.scratch();
    let (mut data, mut expected) = (Vec::new(), Vec::new());
    for case in cases().iter().filter(|c| c.format.is_none()) {
        let input = input_of(case);
        r.redact_line(&input, Format::Auto, &mut expected, &mut s);
        expected.push(b'\n');
        data.extend_from_slice(&input);
        data.push(b'\n');
    }
    for threads in [2, 3, 8] {
        let out = filter_output(&r, &data, vec![7; data.len()], Format::Auto, threads);
        assert_eq!(
            String::from_utf8_lossy(&out),
            String::from_utf8_lossy(&expected),
            "{threads} threads"
        );
    }
}

#[test]
fn text_cases_stream_redacted_in_two_chunks_equal_whole_at_every_split() {
    let r = redactor();
    let mut s = r.scratch();
    for case in cases()
        .iter()
        .filter(|c| c.format.as_deref().unwrap_or("auto") != "json")
    {
        // Repeat the line so the stream has to emit before the end.
        let line = input_of(case);
        let mut text = Vec::new();
        for _ in 0..4 {
            text.extend_from_slice(&line);
            text.push(b'\n');
        }
        let whole = {
            let mut out = Vec::new();
            r.redact_text(&text, &mut out, &mut s);
            out
        };
        for split in 1..text.len() {
            let mut stream = StreamRedactor::new(&*r, 64);
            let mut out = Vec::new();
            stream.push(&text[..split], &mut out, &mut s);
            stream.push(&text[split..], &mut out, &mut s);
            stream.finish(&mut out, &mut s);
            assert_eq!(
                String::from_utf8_lossy(&out),
                String::from_utf8_lossy(&whole),
                "{} split at {split}",
                case.name
            );
        }
    }
}
