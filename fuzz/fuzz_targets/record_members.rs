//! The proxy's way of redacting a record (member by member, `Redactor::redact_json_member`)
//! on arbitrary values: never panics, and writes exactly what `redact_line` writes for the
//! same record rendered as one JSON line, with and without the `security` profile.
//!
//! Input: values separated by 0xFF bytes, given in turn to the record's member names. Each
//! redactor keeps one scratch across inputs (warm caches must not change the output).
#![no_main]

use libfuzzer_sys::fuzz_target;
use redactd::format::{json, Format};
use redactd::minimise::Minimiser;
use redactd::pseudo::{Key, Pseudonymiser};
use redactd::redact::Redactor;
use redactd::rules::RuleSet;

const NAMES: &[&str] = &[
    "time",
    "client_ip",
    "user",
    "method",
    "host",
    "url",
    "user_agent",
    "referrer",
    "request_id",
    "route",
    "cookie",
    "sort_code",
];

fuzz_target!(|data: &[u8]| {
    if data.len() > 16 * 1024 {
        return;
    }
    static REDACTORS: std::sync::OnceLock<Vec<Redactor>> = std::sync::OnceLock::new();
    let redactors = REDACTORS.get_or_init(|| {
        let key = Key::from_bytes([3; 32]);
        let build = || Redactor::new(&RuleSet::shipped(), Some(Pseudonymiser::new(&key))).unwrap();
        let profile = redactd::config::Config::shipped()
            .profile("security")
            .unwrap()
            .clone();
        vec![
            build(),
            build().with_minimiser(Minimiser::new(profile, Some(&key), None).unwrap()),
        ]
    });
    thread_local!(static SCRATCHES: std::cell::RefCell<Vec<redactd::redact::Scratch>> =
        const { std::cell::RefCell::new(Vec::new()) });
    let values: Vec<&[u8]> = data.split(|&b| b == 0xff).take(NAMES.len()).collect();
    SCRATCHES.with(|cell| {
        let mut scratches = cell.borrow_mut();
        if scratches.is_empty() {
            scratches.extend(redactors.iter().map(Redactor::scratch));
        }
        for (r, s) in redactors.iter().zip(scratches.iter_mut()) {
            let mut line = b"{".to_vec();
            let mut written = b"{".to_vec();
            for (i, (name, value)) in NAMES.iter().zip(&values).enumerate() {
                if i > 0 {
                    line.push(b',');
                    written.push(b',');
                }
                let head = format!("\"{name}\":\"");
                line.extend_from_slice(head.as_bytes());
                json::escape(value, &mut line);
                line.push(b'"');
                written.extend_from_slice(head.as_bytes());
                let member = r.json_member(json::ROOT_PATH, name);
                r.redact_json_member(&member, value, &mut written, s);
                written.push(b'"');
            }
            line.push(b'}');
            written.push(b'}');
            let mut expected = Vec::new();
            s.forget_remembered();
            r.redact_line(&line, Format::Json, &mut expected, s);
            assert!(
                written == expected,
                "member by member:\n{}\nwhole line:\n{}",
                String::from_utf8_lossy(&written),
                String::from_utf8_lossy(&expected)
            );
        }
    });
});
