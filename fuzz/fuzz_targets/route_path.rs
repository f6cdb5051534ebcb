//! The request-path normalisation routes are chosen by: any path gives a rooted result with
//! no dot segments or doubled slashes, normalising again changes nothing, and never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use redactd::proxy::normalise_path;

fuzz_target!(|data: &[u8]| {
    let Ok(path) = std::str::from_utf8(data) else {
        return;
    };
    let once = normalise_path(path).into_owned();
    assert!(once.starts_with('/'), "{once:?}");
    assert!(!once.contains("//"), "{once:?}");
    assert!(!once.split('/').any(|s| s == "." || s == ".."), "{once:?}");
    assert_eq!(normalise_path(&once), once);
});
