//! The engine on arbitrary lines in every format: never panics; pseudonyms are stable for one
//! key (a second redactor built from the same key, with cold caches, writes the same line); and
//! an e-mail address planted in the middle of the line never comes out in any of its forms.
#![no_main]

use libfuzzer_sys::fuzz_target;
use redactd::format::Format;
use redactd::pseudo::{Key, Pseudonymiser};
use redactd::redact::Redactor;
use redactd::rules::RuleSet;

fuzz_target!(|data: &[u8]| {
    if data.len() > 64 * 1024 || data.is_empty() {
        return;
    }
    static R: std::sync::OnceLock<Redactor> = std::sync::OnceLock::new();
    static SAME_KEY: std::sync::OnceLock<Redactor> = std::sync::OnceLock::new();
    let build = || {
        Redactor::new(
            &RuleSet::shipped(),
            Some(Pseudonymiser::new(&Key::from_bytes([1; 32]))),
        )
        .unwrap()
    };
    let r = R.get_or_init(build);
    let same_key = SAME_KEY.get_or_init(build);
    thread_local!(static SCRATCH: std::cell::RefCell<Option<redactd::redact::Scratch>> = const { std::cell::RefCell::new(None) });
    thread_local!(static SAME_KEY_SCRATCH: std::cell::RefCell<Option<redactd::redact::Scratch>> = const { std::cell::RefCell::new(None) });
    SCRATCH.with(|cell| {
        let mut cell = cell.borrow_mut();
        let s = cell.get_or_insert_with(|| r.scratch());
        let format = [
            Format::Auto,
            Format::Text,
            Format::Json,
            Format::Combined,
            Format::Syslog,
        ][data[0] as usize % 5];
        let body = &data[1..];
        let mut out = Vec::new();
        r.redact_line(body, format, &mut out, s);
        // Same key, other redactor, cold caches: the same pseudonyms.
        let mut again = Vec::new();
        SAME_KEY_SCRATCH.with(|cell| {
            let mut cell = cell.borrow_mut();
            let cold = cell.get_or_insert_with(|| same_key.scratch());
            cold.forget_remembered();
            same_key.redact_line(body, format, &mut again, cold);
        });
        assert!(out == again, "pseudonyms differ for one key");

        // Plant an address between two halves, separated by spaces so it stands alone.
        let mid = body.len() / 2;
        let mut line = body[..mid].to_vec();
        line.extend_from_slice(b" planted.person@example.com ");
        line.extend_from_slice(&body[mid..]);
        if line.contains(&b'\n') {
            return;
        }
        out.clear();
        r.redact_line(&line, Format::Text, &mut out, s);
        assert!(
            !out.windows(b"planted.person@".len())
                .any(|w| w == b"planted.person@"),
            "planted address survived"
        );
    });
});
