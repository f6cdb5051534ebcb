//! The syslog TCP framer (RFC 6587 octet counting and LF framing): any stream, cut into
//! reads at any points, gives the same frames as the stream in one read; never a panic, and
//! no frame longer than the limit.
#![no_main]

use libfuzzer_sys::fuzz_target;
use redactd::input::syslog::{Frame, Framer};

fn frames(data: &[u8], cut: usize) -> Vec<Frame> {
    let mut framer = Framer::new(256);
    let mut out = Vec::new();
    for piece in data.chunks(cut.max(1)) {
        framer.extend(piece);
        while let Some(f) = framer.next_frame() {
            out.push(f);
        }
    }
    if let Some(f) = framer.finish() {
        out.push(f);
    }
    out
}

fuzz_target!(|data: &[u8]| {
    if data.is_empty() || data.len() > 16 * 1024 {
        return;
    }
    let cut = 1 + data[0] as usize % 64;
    let stream = &data[1..];
    let whole = frames(stream, stream.len());
    let chunked = frames(stream, cut);
    assert_eq!(whole, chunked);
    for f in &whole {
        if let Frame::Message(m) = f {
            assert!(m.len() <= 256);
        }
    }
});
