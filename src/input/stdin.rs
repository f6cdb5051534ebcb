//! The stdin input: lines framed by [`crate::filter::LineBatcher`], the same
//! framing and oversize limit as `redactd filter`. Runs on its own thread, since it
//! blocks: on reading, and on a full queue of a sink whose policy is `block`.

use std::io;
use std::sync::atomic::{AtomicBool, Ordering::Relaxed};

use crate::filter::{open_input, LineBatcher, OVERSIZE_MARKER};

use super::Router;

/// Reads stdin to its end (or until `stop`), routing each line. Lines longer than
/// `max_line_bytes` are dropped and counted.
pub fn run(router: &Router, max_line_bytes: usize, stop: &AtomicBool) -> io::Result<()> {
    let input = open_input("-")?;
    let mut batcher = LineBatcher::new(input, 64 * 1024, max_line_bytes);
    let mut s = router.scratch();
    while let Some(batch) = batcher.next_batch()? {
        for line in batch.bytes.split_inclusive(|b| *b == b'\n') {
            if stop.load(Relaxed) {
                return Ok(());
            }
            let trimmed = line.strip_suffix(b"\n").unwrap_or(line);
            if trimmed == OVERSIZE_MARKER {
                router.oversize();
                continue;
            }
            router.send_blocking(trimmed, &mut s);
        }
    }
    Ok(())
}
