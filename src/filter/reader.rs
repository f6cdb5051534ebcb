//! Cuts an input stream into batches of whole lines with bounded memory: a line longer than
//! the limit is replaced by a marker line (and counted) instead of being buffered whole.

use std::io::{self, Read};

/// What the reader emits in place of a line over the limit. It names no content.
pub const OVERSIZE_MARKER: &[u8] = b"[redactd: line dropped: longer than max-line-bytes]";

/// A batch of whole lines (each ending in `\n`, except possibly the last line of the input).
#[derive(Debug, Default)]
pub struct Batch {
    /// The lines' bytes.
    pub bytes: Vec<u8>,
    /// True when the input had nothing more ready when the batch was cut: the writer should
    /// flush after writing it, so `tail -F | redactd filter` shows lines as they come.
    pub idle: bool,
    /// Lines replaced by [`OVERSIZE_MARKER`] in this batch.
    pub oversize: u64,
}

/// Reads lines in batches of about `batch_bytes`.
pub struct LineBatcher<R> {
    input: R,
    carry: Vec<u8>,
    batch_bytes: usize,
    max_line_bytes: usize,
    /// Dropping the rest of an oversize line until its newline.
    discarding: bool,
    eof: bool,
}

impl<R: Read> LineBatcher<R> {
    /// A batcher over `input`. Lines longer than `max_line_bytes` become a marker.
    pub fn new(input: R, batch_bytes: usize, max_line_bytes: usize) -> Self {
        LineBatcher {
            input,
            carry: Vec::new(),
            batch_bytes: batch_bytes.max(1),
            max_line_bytes: max_line_bytes.max(1),
            discarding: false,
            eof: false,
        }
    }

    /// The next batch, or `None` at end of input.
    pub fn next_batch(&mut self) -> io::Result<Option<Batch>> {
        let mut batch = Batch {
            bytes: std::mem::take(&mut self.carry),
            idle: false,
            oversize: 0,
        };
        loop {
            if self.eof {
                return Ok((!batch.bytes.is_empty() || batch.oversize > 0).then(|| {
                    batch.idle = true;
                    batch
                }));
            }
            // Bytes of the current (unfinished) line, which must stay under the limit.
            let line_start = memchr::memrchr(b'\n', &batch.bytes).map_or(0, |p| p + 1);
            let want = self.batch_bytes.max(64 * 1024).min(self.max_line_bytes + 1);
            let old_len = batch.bytes.len();
            batch.bytes.resize(old_len + want, 0);
            let n = match self.input.read(&mut batch.bytes[old_len..]) {
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {
                    batch.bytes.truncate(old_len);
                    continue;
                }
                Err(e) => {
                    batch.bytes.truncate(old_len);
                    return Err(e);
                }
            };
            batch.bytes.truncate(old_len + n);
            if n == 0 {
                self.eof = true;
                if self.discarding {
                    self.discarding = false;
                }
                continue;
            }
            if self.discarding {
                // Drop bytes up to and including the newline that ends the long line.
                match memchr::memchr(b'\n', &batch.bytes[old_len..]) {
                    Some(p) => {
                        batch.bytes.drain(old_len..old_len + p + 1);
                        self.discarding = false;
                    }
                    None => {
                        batch.bytes.truncate(old_len);
                        continue;
                    }
                }
            }
            self.enforce_line_limit(&mut batch, line_start);
            let idle = n < want;
            if let Some(last_nl) = memchr::memrchr(b'\n', &batch.bytes) {
                if idle || batch.bytes.len() >= self.batch_bytes {
                    self.carry.extend_from_slice(&batch.bytes[last_nl + 1..]);
                    batch.bytes.truncate(last_nl + 1);
                    batch.idle = idle;
                    return Ok(Some(batch));
                }
            }
        }
    }

    /// Replaces every complete line over the limit, and an unfinished one already over it,
    /// by the marker. `from` is where the first possibly-unchecked line starts.
    fn enforce_line_limit(&mut self, batch: &mut Batch, from: usize) {
        let mut start = from;
        loop {
            let end = memchr::memchr(b'\n', &batch.bytes[start..]).map(|p| start + p);
            let line_end = end.unwrap_or(batch.bytes.len());
            if line_end - start > self.max_line_bytes {
                batch.oversize += 1;
                let replace_end = match end {
                    Some(e) => e,
                    None => {
                        self.discarding = true;
                        batch.bytes.len()
                    }
                };
                batch
                    .bytes
                    .splice(start..replace_end, OVERSIZE_MARKER.iter().copied());
                let marker_end = start + OVERSIZE_MARKER.len();
                if end.is_none() {
                    batch.bytes.push(b'\n');
                    return;
                }
                start = marker_end + 1;
            } else {
                match end {
                    Some(e) => start = e + 1,
                    None => return,
                }
            }
            if start >= batch.bytes.len() {
                return;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A reader that returns the input in pieces of the given sizes, cycling.
    struct Pieces<'a> {
        data: &'a [u8],
        sizes: Vec<usize>,
        i: usize,
    }

    impl Read for Pieces<'_> {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            let size = self.sizes[self.i % self.sizes.len()]
                .min(buf.len())
                .min(self.data.len());
            self.i += 1;
            buf[..size].copy_from_slice(&self.data[..size]);
            self.data = &self.data[size..];
            Ok(size)
        }
    }

    fn collect(data: &[u8], sizes: Vec<usize>, batch: usize, max_line: usize) -> (Vec<u8>, u64) {
        let mut b = LineBatcher::new(Pieces { data, sizes, i: 0 }, batch, max_line);
        let (mut out, mut oversize) = (Vec::new(), 0);
        while let Some(batch) = b.next_batch().unwrap() {
            let complete = batch.bytes.last() == Some(&b'\n');
            let ends_input = !complete;
            assert!(complete || ends_input);
            out.extend_from_slice(&batch.bytes);
            oversize += batch.oversize;
        }
        (out, oversize)
    }

    #[test]
    fn batches_hold_whole_lines_and_concatenate_to_the_input() {
        let data = b"one\ntwo two\nthree three three\nno newline at end";
        for piece in 1..data.len() {
            let (out, oversize) = collect(data, vec![piece], 8, 1 << 20);
            assert_eq!(out, data, "piece size {piece}");
            assert_eq!(oversize, 0);
        }
    }

    #[test]
    fn oversize_line_becomes_one_marker_line_and_is_counted() {
        let long = "x".repeat(100);
        let data = format!("short\n{long}\nafter\n{long}");
        for piece in [1, 7, 33, 1000] {
            let (out, oversize) = collect(data.as_bytes(), vec![piece], 16, 50);
            let marker = String::from_utf8_lossy(OVERSIZE_MARKER);
            assert_eq!(
                String::from_utf8(out).unwrap(),
                format!("short\n{marker}\nafter\n{marker}\n"),
                "piece {piece}"
            );
            assert_eq!(oversize, 2);
        }
    }
}
