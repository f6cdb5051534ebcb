//! Runs the built binary over the real logs in `../shared/corpus/` and checks what a user
//! relies on: same line count, access lines still parse, no e-mail or IP address of the
//! input left, user-agent version numbers intact.

use std::collections::BTreeSet;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use redactd::format::combined;
use regex_automata::meta::Regex;

fn corpus() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/corpus")
}

fn corpus_files() -> Vec<PathBuf> {
    let root = corpus();
    let mut files = vec![
        root.join("access/elastic-examples_apache_logs.log"),
        root.join("access/logparser_hackers-access.log"),
        root.join("syslog/elastic-examples_auth.log"),
    ];
    for entry in std::fs::read_dir(root.join("access/fixtures-beats")).unwrap() {
        files.push(entry.unwrap().path());
    }
    files
}

fn filter(path: &Path) -> Vec<u8> {
    let key = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(key.path(), "11".repeat(32)).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_redactd"))
        .args(["filter", "--key-file"])
        .arg(key.path())
        .arg(path)
        .stderr(Stdio::inherit())
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", path.display());
    out.stdout
}

fn lines(bytes: &[u8]) -> Vec<&[u8]> {
    bytes
        .split(|&b| b == b'\n')
        .filter(|l| !l.is_empty())
        .collect()
}

/// IP addresses in `text`, found independently of redactd's detectors: every maximal run of
/// hex digits, `.` and `:` that the standard library parses as an address, unless it follows
/// `/` (a version such as `Chrome/124.0.0.0`).
fn addresses(text: &str) -> BTreeSet<String> {
    let mut found = BTreeSet::new();
    let bytes = text.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        let is_ip_byte = |b: u8| b.is_ascii_hexdigit() || b == b'.' || b == b':';
        if !is_ip_byte(bytes[i]) {
            i += 1;
            continue;
        }
        let start = i;
        while i < bytes.len() && is_ip_byte(bytes[i]) {
            i += 1;
        }
        let token = text[start..i].trim_matches(|c| c == '.' || c == ':');
        let glued = start > 0
            && (bytes[start - 1] == b'/'
                || bytes[start - 1].is_ascii_alphanumeric()
                || bytes[start - 1] == b'-');
        if !glued && token.len() >= 7 && token.parse::<IpAddr>().is_ok() {
            found.insert(token.to_string());
        }
    }
    found
}

#[test]
fn corpus_keeps_line_count_and_access_lines_still_parse() {
    for path in corpus_files() {
        let input = std::fs::read(&path).unwrap();
        let output = filter(&path);
        let (inp, out) = (lines(&input), lines(&output));
        assert_eq!(inp.len(), out.len(), "{}", path.display());
        let mut fields = Vec::new();
        for (i, (a, b)) in inp.iter().zip(&out).enumerate() {
            fields.clear();
            if combined::parse(a, &mut fields) {
                fields.clear();
                assert!(
                    combined::parse(b, &mut fields),
                    "{}:{}: no longer parses: {}",
                    path.display(),
                    i + 1,
                    String::from_utf8_lossy(b)
                );
            }
        }
    }
}

#[test]
fn corpus_output_holds_no_email_or_ip_address_of_the_input() {
    let email = Regex::new(r"[A-Za-z0-9._%+-]+(?:@|%40)[A-Za-z0-9.-]+\.[A-Za-z]{2,}").unwrap();
    for path in corpus_files() {
        let input = String::from_utf8_lossy(&std::fs::read(&path).unwrap()).into_owned();
        let output = String::from_utf8_lossy(&filter(&path)).into_owned();
        let ips = addresses(&input);
        assert!(
            !ips.is_empty() || path.to_string_lossy().contains("nothing"),
            "{}: no addresses found",
            path.display()
        );
        let in_output = addresses(&output);
        let left: Vec<&String> = ips.intersection(&in_output).collect();
        assert!(
            left.is_empty(),
            "{}: addresses left: {left:?}",
            path.display()
        );
        for m in email.find_iter(input.as_bytes()) {
            let addr = &input[m.range()];
            assert!(
                !output.contains(addr),
                "{}: e-mail left: {addr}",
                path.display()
            );
        }
    }
}

#[test]
fn corpus_user_agent_versions_stay_intact() {
    let version = Regex::new(r"(?:Chrome|Firefox|Safari|AppleWebKit|Version|Gecko|MSIE|Trident|OPR|Edge?)/[0-9][0-9.]*[0-9]").unwrap();
    for path in corpus_files() {
        let input = String::from_utf8_lossy(&std::fs::read(&path).unwrap()).into_owned();
        let output = String::from_utf8_lossy(&filter(&path)).into_owned();
        let mut checked = 0;
        for (a, b) in input.lines().zip(output.lines()) {
            for m in version.find_iter(a.as_bytes()) {
                let v = &a[m.range()];
                assert!(b.contains(v), "{}: version {v} lost in {b}", path.display());
                checked += 1;
            }
        }
        if path.to_string_lossy().contains("apache_logs") {
            assert!(checked > 10_000, "only {checked} versions checked");
        }
    }
}
