//! Every format parser on arbitrary bytes: never panics, and the fields it returns are
//! sorted, disjoint and inside the line.
#![no_main]

use libfuzzer_sys::fuzz_target;
use redactd::format::{combined, json, syslog, Field};

fuzz_target!(|data: &[u8]| {
    if data.len() > 64 * 1024 {
        return;
    }
    let mut fields: Vec<Field> = Vec::new();
    for parse in [combined::parse, json::parse, syslog::parse] {
        fields.clear();
        if parse(data, &mut fields) {
            let mut end = 0;
            for f in &fields {
                assert!(
                    f.span.start >= end && f.span.start <= f.span.end && f.span.end <= data.len()
                );
                end = f.span.end;
            }
        }
    }
    let mut unescaped = Vec::new();
    let _ = json::unescape(data, &mut unescaped);
});
