//! The configuration file: arbitrary text is accepted or rejected with a positioned error,
//! never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use redactd::config::Config;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if text.len() > 16 * 1024 {
        return;
    }
    if let Err(e) = Config::parse("fuzz.toml", text, None) {
        assert!(e.line <= text.lines().count() + 1, "{e}");
    }
});
