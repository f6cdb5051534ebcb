//! Redaction of a byte stream that arrives in chunks (response bodies, reads of a pipe),
//! with a carry-over window so a match split across chunks is still found.
//!
//! Output is emitted only up to a cut point that lies at least `window` bytes before the end
//! of what has arrived, just after whitespace, and outside every match. The bytes just before
//! the cut are kept as look-behind context for the next scan. As long as no single match is
//! longer than `window`, the output is the same as redacting the whole stream at once,
//! however the input is split; a partial secret is never emitted. The longest built-in match
//! is an e-mail address (64 + 6 + 253 bytes): use a window of 512 with the full rule set; the
//! proxy's DLP, which holds only card, IBAN and account rules (under 64 bytes), uses 128.

use std::borrow::Borrow;

use super::{Redactor, Scratch};

/// Bytes before the cut kept as context for word boundaries and checks' look-behind.
const CONTEXT_BYTES: usize = 64;

/// Incremental redaction of chunked text. One per stream.
///
/// `R` is how the redactor is held: `&Redactor` for a stream that lives inside one
/// function, `Arc<Redactor>` for one that must be `'static` (a response body).
#[derive(Debug)]
pub struct StreamRedactor<R: Borrow<Redactor>> {
    redactor: R,
    window: usize,
    buf: Vec<u8>,
    /// Bytes at the front of `buf` already emitted, kept only as context.
    emitted: usize,
}

impl<R: Borrow<Redactor>> StreamRedactor<R> {
    /// A stream redactor whose matches may be up to `window` bytes long (at least 64).
    pub fn new(redactor: R, window: usize) -> Self {
        StreamRedactor {
            redactor,
            window: window.max(64),
            buf: Vec::new(),
            emitted: 0,
        }
    }

    /// Bytes received but not yet emitted.
    pub fn pending(&self) -> usize {
        self.buf.len() - self.emitted
    }

    /// Takes the next chunk and appends to `out` whatever can be emitted safely.
    pub fn push(&mut self, chunk: &[u8], out: &mut Vec<u8>, s: &mut Scratch) {
        self.buf.extend_from_slice(chunk);
        if self.pending() < 2 * self.window {
            return;
        }
        self.redactor.borrow().scan_from(&self.buf, self.emitted, s);
        let limit = self.buf.len() - self.window;
        let Some(cut) = self.cut_point(limit, s) else {
            return;
        };
        self.emit(cut, out, s);
        let keep_from = cut.saturating_sub(CONTEXT_BYTES);
        self.buf.drain(..keep_from);
        self.emitted = cut - keep_from;
    }

    /// Emits everything still pending; the stream is over.
    pub fn finish(&mut self, out: &mut Vec<u8>, s: &mut Scratch) {
        self.redactor.borrow().scan_from(&self.buf, self.emitted, s);
        self.emit(self.buf.len(), out, s);
        self.buf.clear();
        self.emitted = 0;
    }

    /// The last position at or before `limit` just after whitespace and outside every span
    /// the scan jumped over; failing that, `limit` or the start of the span covering it (if it
    /// is past what was emitted).
    ///
    /// Cutting only where the whole-text scan's cursor also passes keeps the next scan, which
    /// starts at the cut, in step with a scan of the whole text: cutting inside a candidate
    /// the scan looked at and rejected (a digit run that was not a card) would let the next
    /// scan find a different match inside it.
    fn cut_point(&self, limit: usize, s: &mut Scratch) -> Option<usize> {
        let busy = &mut s.busy;
        busy.sort_unstable();
        // Merge into disjoint spans so that one binary search answers "inside?".
        let mut merged = 0;
        for i in 0..busy.len() {
            let (start, end) = busy[i];
            if merged > 0 && start < busy[merged - 1].1 {
                busy[merged - 1].1 = busy[merged - 1].1.max(end);
            } else {
                busy[merged] = (start, end);
                merged += 1;
            }
        }
        busy.truncate(merged);
        let covering = |p: usize| {
            let i = busy.partition_point(|&(start, _)| start < p);
            (i > 0 && p < busy[i - 1].1).then(|| busy[i - 1].0)
        };
        let mut p = limit;
        while p > self.emitted {
            if self.buf[p - 1].is_ascii_whitespace() && covering(p).is_none() {
                return Some(p);
            }
            p -= 1;
        }
        // No whitespace: a long token. Cut at `limit` unless a span covers it.
        match covering(limit) {
            None => Some(limit),
            Some(start) if start > self.emitted => Some(start),
            Some(_) => None,
        }
    }

    /// Appends the redacted `buf[emitted..cut]` using the hits of the last scan.
    fn emit(&self, cut: usize, out: &mut Vec<u8>, s: &mut Scratch) {
        let hits = std::mem::take(&mut s.hits);
        let mut at = self.emitted;
        for h in hits.iter().filter(|h| h.end <= cut) {
            out.extend_from_slice(&self.buf[at..h.start]);
            self.redactor
                .borrow()
                .apply(h.rule, &self.buf[h.start..h.end], out, s);
            at = h.end;
        }
        out.extend_from_slice(&self.buf[at..cut]);
        s.hits = hits;
    }
}
