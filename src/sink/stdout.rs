//! The `stdout` sink: one record per line on standard output, flushed per batch.

use std::io::Write;

use bytes::Bytes;

use super::{Sink, SinkError};

/// Writes records to stdout.
#[derive(Debug, Default)]
pub struct StdoutSink {
    buf: Vec<u8>,
}

impl Sink for StdoutSink {
    async fn send_batch(&mut self, batch: &[Bytes]) -> Result<(), SinkError> {
        self.buf.clear();
        for r in batch {
            self.buf.extend_from_slice(r);
            self.buf.push(b'\n');
        }
        let mut out = std::io::stdout().lock();
        // A closed stdout will not come back: the batch is refused, not retried.
        out.write_all(&self.buf)
            .and_then(|()| out.flush())
            .map_err(|e| SinkError::fatal(format!("stdout: {e}")))
    }
}
