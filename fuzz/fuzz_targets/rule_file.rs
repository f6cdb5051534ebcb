//! Rule files: arbitrary text is either accepted or rejected with a positioned error;
//! never a panic, and an accepted set always compiles.
#![no_main]

use libfuzzer_sys::fuzz_target;
use redactd::pseudo::{Key, Pseudonymiser};
use redactd::redact::Redactor;
use redactd::rules::RuleSet;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if text.len() > 16 * 1024 {
        return;
    }
    let mut set = RuleSet::new();
    match set.add_str("fuzz.toml", text, None) {
        Ok(()) => {
            let key = Pseudonymiser::new(&Key::from_bytes([3; 32]));
            // Size limits may refuse a huge regex; that is an error, not a panic.
            let _ = Redactor::new(&set, Some(key));
        }
        Err(e) => assert!(e.line >= 1 || e.line == 0),
    }
});
