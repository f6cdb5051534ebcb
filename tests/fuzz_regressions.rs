//! Inputs the fuzzers once failed on, replayed as ordinary tests (`fuzz/regressions/TARGET/`).
//! Each file is fed to the same property its target checks.

use redactd::input::syslog::{Frame, Framer};
use redactd::proxy::normalise_path;
use redactd::pseudo::{Key, Pseudonymiser};
use redactd::redact::{stream::StreamRedactor, Redactor};
use redactd::rules::RuleSet;

fn regressions(target: &str) -> Vec<(String, Vec<u8>)> {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fuzz/regressions")
        .join(target);
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    files
        .into_iter()
        .map(|p| (p.display().to_string(), std::fs::read(&p).unwrap()))
        .collect()
}

/// `stream_chunked`: the first byte picks the chunk size, the rest is the text; streamed
/// output must equal whole-text output.
#[test]
fn stream_chunked_regressions_stream_equal_to_whole() {
    let r = Redactor::new(
        &RuleSet::shipped(),
        Some(Pseudonymiser::new(&Key::from_bytes([2; 32]))),
    )
    .unwrap();
    let mut s = r.scratch();
    let cases = regressions("stream_chunked");
    assert!(!cases.is_empty());
    for (name, data) in cases {
        let chunk = 1 + data[0] as usize;
        let text = &data[1..];
        let mut whole = Vec::new();
        r.redact_text(text, &mut whole, &mut s);
        let mut stream = StreamRedactor::new(&r, 512);
        let mut out = Vec::new();
        for piece in text.chunks(chunk) {
            stream.push(piece, &mut out, &mut s);
        }
        stream.finish(&mut out, &mut s);
        assert_eq!(
            String::from_utf8_lossy(&out),
            String::from_utf8_lossy(&whole),
            "{name}"
        );
    }
}

/// Frames of `data` read `cut` bytes at a time (the `syslog_frame` target's helper).
fn syslog_frames(data: &[u8], cut: usize) -> Vec<Frame> {
    let mut framer = Framer::new(256);
    let mut out = Vec::new();
    for piece in data.chunks(cut.max(1)) {
        framer.extend(piece);
        while let Some(f) = framer.next_frame() {
            out.push(f);
        }
    }
    out.extend(framer.finish());
    out
}

/// `syslog_frame`: the first byte picks the read size, the rest is the stream; frames read
/// in pieces must equal frames read whole, and no message may exceed the limit.
#[test]
fn syslog_frame_regressions_frame_the_same_in_pieces_and_whole() {
    let cases = regressions("syslog_frame");
    assert!(!cases.is_empty());
    for (name, data) in cases {
        let cut = 1 + data[0] as usize % 64;
        let stream = &data[1..];
        let whole = syslog_frames(stream, stream.len());
        assert_eq!(whole, syslog_frames(stream, cut), "{name}");
        for f in &whole {
            if let Frame::Message(m) = f {
                assert!(m.len() <= 256, "{name}");
            }
        }
    }
}

/// `route_path`: the path normalisation routes are chosen by is rooted, has no dot
/// segments or doubled slashes, and normalising again changes nothing.
#[test]
fn route_path_regressions_normalise_once_and_for_all() {
    let cases = regressions("route_path");
    assert!(!cases.is_empty());
    for (name, data) in cases {
        let Ok(path) = std::str::from_utf8(&data) else {
            continue;
        };
        let once = normalise_path(path).into_owned();
        assert!(
            once.starts_with('/') && !once.contains("//"),
            "{name}: {once}"
        );
        assert_eq!(normalise_path(&once), once, "{name}");
    }
}
