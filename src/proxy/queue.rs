//! The bounded queue between request tasks and the record writer thread.
//!
//! Request tasks append finished (already redacted) record lines to one shared batch under
//! a short lock; the writer thread swaps the whole batch out and writes it. Nothing is
//! allocated per record and no request ever waits for the writer: when the batch holds
//! `capacity` records, [`RecordQueue::push`] refuses and the caller counts a drop.
//!
//! The writer polls rather than being woken: a sender that found it asleep would have to
//! wake it (a futex call and two context switches per record, measured as the largest cost
//! on one core). It takes whatever is queued, writes and flushes it, and sleeps 1 ms,
//! doubling up to 50 ms while the queue stays empty.

use std::io::Write;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

/// A function that takes each redacted record line.
pub type RecordHook = Arc<dyn Fn(&[u8]) + Send + Sync>;

/// Where redacted records go.
#[derive(Clone)]
pub enum RecordSink {
    /// JSON lines on stdout (the default).
    Stdout,
    /// Each redacted line (without its newline) is passed to the function, on the writer
    /// thread. For tests and embedding.
    Hook(RecordHook),
}

impl std::fmt::Debug for RecordSink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            RecordSink::Stdout => f.write_str("Stdout"),
            RecordSink::Hook(_) => f.write_str("Hook"),
        }
    }
}

/// Records waiting for the writer: their lines back to back, each ended by `\n`.
#[derive(Default)]
struct Batch {
    lines: Vec<u8>,
    /// How many records `lines` holds.
    records: usize,
    /// No more records will come: the writer ends once the batch is empty.
    closed: bool,
}

/// Records on their way to the writer thread; see the module documentation.
pub(crate) struct RecordQueue {
    batch: Mutex<Batch>,
    capacity: usize,
}

impl RecordQueue {
    /// A queue of at most `capacity` records, and the writer thread draining it into
    /// `sink`; the thread ends after [`RecordQueue::close`], once everything is written.
    pub(crate) fn start(
        capacity: usize,
        sink: RecordSink,
    ) -> std::io::Result<(Arc<RecordQueue>, std::thread::JoinHandle<()>)> {
        let queue = Arc::new(RecordQueue {
            batch: Mutex::new(Batch::default()),
            capacity: capacity.max(1),
        });
        let drained = queue.clone();
        let writer = std::thread::Builder::new()
            .name("redactd-records".into())
            .spawn(move || write_records(&drained, sink))?;
        Ok((queue, writer))
    }

    fn batch(&self) -> MutexGuard<'_, Batch> {
        // A panic while holding the lock left whole lines only: each push is one append.
        self.batch.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Queues one record line (no newline in it); false when the queue is full or closed.
    pub(crate) fn push(&self, line: &[u8]) -> bool {
        let mut batch = self.batch();
        if batch.records >= self.capacity || batch.closed {
            return false;
        }
        batch.lines.reserve(line.len() + 1);
        batch.lines.extend_from_slice(line);
        batch.lines.push(b'\n');
        batch.records += 1;
        true
    }

    /// No more records: the writer writes what is queued and ends.
    pub(crate) fn close(&self) {
        self.batch().closed = true;
    }

    /// Swaps the queued lines for `spare` (emptied); returns whether the queue is closed.
    fn take(&self, spare: &mut Vec<u8>) -> bool {
        spare.clear();
        let mut batch = self.batch();
        std::mem::swap(&mut batch.lines, spare);
        batch.records = 0;
        batch.closed
    }
}

/// The writer thread: JSON lines to stdout or to a hook, a batch at a time.
fn write_records(queue: &RecordQueue, sink: RecordSink) {
    const MIN_NAP: Duration = Duration::from_millis(1);
    const MAX_NAP: Duration = Duration::from_millis(50);
    // Stdout is locked for the thread's life, so only when it is the sink.
    let mut out = matches!(sink, RecordSink::Stdout)
        .then(|| std::io::BufWriter::with_capacity(64 * 1024, std::io::stdout().lock()));
    let mut broken = false;
    let mut nap = MIN_NAP;
    let mut lines = Vec::new();
    loop {
        let closed = queue.take(&mut lines);
        if lines.is_empty() {
            if closed {
                break;
            }
            std::thread::sleep(nap);
            nap = (nap * 2).min(MAX_NAP);
            continue;
        }
        nap = MIN_NAP;
        match &sink {
            RecordSink::Hook(f) => {
                for line in lines.split(|&b| b == b'\n').filter(|l| !l.is_empty()) {
                    f(line);
                }
            }
            RecordSink::Stdout => {
                if let Some(out) = out.as_mut().filter(|_| !broken) {
                    broken = out.write_all(&lines).and_then(|()| out.flush()).is_err();
                }
            }
        }
    }
    if let Some(mut out) = out {
        let _ = out.flush();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn collecting() -> (RecordSink, Arc<Mutex<Vec<String>>>) {
        let seen = Arc::new(Mutex::new(Vec::new()));
        let sink_seen = seen.clone();
        let sink = RecordSink::Hook(Arc::new(move |line: &[u8]| {
            sink_seen
                .lock()
                .unwrap()
                .push(String::from_utf8_lossy(line).into_owned());
        }));
        (sink, seen)
    }

    #[test]
    fn every_queued_line_reaches_the_sink_in_order_before_the_writer_ends() {
        let (sink, seen) = collecting();
        let (queue, writer) = RecordQueue::start(1000, sink).unwrap();
        for i in 0..500 {
            assert!(queue.push(format!("{{\"n\":{i}}}").as_bytes()));
        }
        queue.close();
        writer.join().unwrap();
        let seen = seen.lock().unwrap();
        assert_eq!(seen.len(), 500);
        assert!(seen
            .iter()
            .enumerate()
            .all(|(i, l)| *l == format!("{{\"n\":{i}}}")));
    }

    #[test]
    fn a_full_queue_refuses_records_and_takes_them_again_once_written() {
        let (sink, seen) = collecting();
        let queue = Arc::new(RecordQueue {
            batch: Mutex::new(Batch::default()),
            capacity: 2,
        });
        assert!(queue.push(b"a"));
        assert!(queue.push(b"b"));
        assert!(!queue.push(b"c"), "a third record is over capacity");
        let drained = queue.clone();
        let writer = std::thread::spawn(move || write_records(&drained, sink));
        while seen.lock().unwrap().len() < 2 {
            std::thread::sleep(Duration::from_millis(1));
        }
        assert!(queue.push(b"d"));
        queue.close();
        assert!(!queue.push(b"e"), "a closed queue takes nothing");
        writer.join().unwrap();
        assert_eq!(*seen.lock().unwrap(), ["a", "b", "d"]);
    }
}
