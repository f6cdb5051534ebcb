//! The streaming redactor: for any text and any chunking, the output equals redacting the
//! whole text at once (matches are far shorter than the window).
#![no_main]

use libfuzzer_sys::fuzz_target;
use redactd::pseudo::{Key, Pseudonymiser};
use redactd::redact::{stream::StreamRedactor, Redactor};
use redactd::rules::RuleSet;

fuzz_target!(|data: &[u8]| {
    if data.len() < 2 || data.len() > 16 * 1024 {
        return;
    }
    static R: std::sync::OnceLock<Redactor> = std::sync::OnceLock::new();
    let r = R.get_or_init(|| {
        Redactor::new(
            &RuleSet::shipped(),
            Some(Pseudonymiser::new(&Key::from_bytes([2; 32]))),
        )
        .unwrap()
    });
    thread_local!(static SCRATCH: std::cell::RefCell<Option<redactd::redact::Scratch>> = const { std::cell::RefCell::new(None) });
    SCRATCH.with(|cell| {
        let mut cell = cell.borrow_mut();
        let s = cell.get_or_insert_with(|| r.scratch());
        // The first byte picks the chunk size, the rest is the text.
        let chunk = 1 + data[0] as usize;
        let text = &data[1..];
        let mut whole = Vec::new();
        r.redact_text(text, &mut whole, s);
        let mut stream = StreamRedactor::new(r, 512);
        let mut out = Vec::new();
        for piece in text.chunks(chunk) {
            stream.push(piece, &mut out, s);
        }
        stream.finish(&mut out, s);
        assert_eq!(out, whole);
    });
});
