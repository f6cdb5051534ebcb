//! `redactd filter`: log lines in (stdin or files, gzip read transparently), the same lines
//! out, redacted, in the same order.
//!
//! The input is cut into batches of whole lines ([`reader::LineBatcher`]). With one thread
//! each batch is redacted and written in turn; with more, batches go to a pool of workers
//! (each with its own [`Scratch`]) and a writer puts results back in input order. Memory is
//! bounded by the batch size times the number of batches in flight, whatever the input size.

pub mod reader;

use std::io::{self, BufRead, BufReader, Read, Write};
use std::sync::{mpsc, Arc};

use crate::format::Format;
use crate::redact::{Redactor, Scratch};

pub use reader::{Batch, LineBatcher, OVERSIZE_MARKER};

/// Options of a filter run.
#[derive(Debug, Clone)]
pub struct Options {
    /// Line format.
    pub format: Format,
    /// Worker threads (1 = redact on the calling thread).
    pub threads: usize,
    /// Lines longer than this are replaced by a marker line and counted.
    pub max_line_bytes: usize,
    /// Target size of a batch of lines.
    pub batch_bytes: usize,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            format: Format::Auto,
            threads: 1,
            max_line_bytes: 1 << 20,
            batch_bytes: 256 * 1024,
        }
    }
}

/// What a run did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Stats {
    /// Lines read.
    pub lines: u64,
    /// Bytes read.
    pub bytes_in: u64,
    /// Bytes written.
    pub bytes_out: u64,
    /// Lines replaced by the oversize marker.
    pub oversize_lines: u64,
    /// Lines handled per format actually used: text, json, combined, syslog.
    pub lines_by_format: [u64; 4],
    /// Matches transformed, per rule (indexes of [`Redactor::rules`]).
    pub redactions: Vec<u64>,
}

impl Stats {
    fn new(redactor: &Redactor) -> Self {
        Stats {
            redactions: vec![0; redactor.rules().len()],
            ..Stats::default()
        }
    }

    fn add(&mut self, other: &Stats) {
        self.lines += other.lines;
        self.bytes_in += other.bytes_in;
        self.bytes_out += other.bytes_out;
        self.oversize_lines += other.oversize_lines;
        for (a, b) in self.lines_by_format.iter_mut().zip(other.lines_by_format) {
            *a += b;
        }
        for (a, b) in self.redactions.iter_mut().zip(&other.redactions) {
            *a += b;
        }
    }
}

/// Opens an input: `-` is stdin; gzip (by its magic bytes, not its name) is decompressed.
pub fn open_input(path: &str) -> io::Result<Box<dyn Read + Send>> {
    let raw: Box<dyn Read + Send> = if path == "-" {
        Box::new(io::stdin())
    } else {
        Box::new(std::fs::File::open(path)?)
    };
    let mut buffered = BufReader::with_capacity(64 * 1024, raw);
    let head = buffered.fill_buf()?;
    if head.len() >= 2 && head[..2] == [0x1f, 0x8b] {
        Ok(Box::new(flate2::read::MultiGzDecoder::new(buffered)))
    } else {
        Ok(Box::new(buffered))
    }
}

/// Redacts every line of one batch into `out`, adding to `stats`.
pub fn redact_batch(
    redactor: &Redactor,
    format: Format,
    batch: &Batch,
    out: &mut Vec<u8>,
    s: &mut Scratch,
    stats: &mut Stats,
) {
    s.reset_counts();
    let bytes = &batch.bytes;
    let mut start = 0;
    while start < bytes.len() {
        let (end, next) = match memchr::memchr(b'\n', &bytes[start..]) {
            Some(p) => (start + p, start + p + 1),
            None => (bytes.len(), bytes.len()),
        };
        let mut line = &bytes[start..end];
        let cr = line.last() == Some(&b'\r');
        if cr {
            line = &line[..line.len() - 1];
        }
        let used = if line == OVERSIZE_MARKER {
            out.extend_from_slice(line);
            Format::Text
        } else {
            redactor.redact_line(line, format, out, s)
        };
        stats.lines_by_format[format_index(used)] += 1;
        if cr {
            out.push(b'\r');
        }
        if next > end {
            out.push(b'\n');
        }
        stats.lines += 1;
        start = next;
    }
    stats.bytes_in += bytes.len() as u64;
    stats.oversize_lines += batch.oversize;
    for (a, b) in stats.redactions.iter_mut().zip(&s.counts) {
        *a += b;
    }
}

fn format_index(format: Format) -> usize {
    match format {
        Format::Json => 1,
        Format::Combined => 2,
        Format::Syslog => 3,
        Format::Text | Format::Auto => 0,
    }
}

/// Filters `inputs` in order to `output`. A closed output (`EPIPE`) ends the run early
/// and is reported as [`io::ErrorKind::BrokenPipe`] for the caller to treat as success.
pub fn run<W: Write + Send>(
    redactor: &Arc<Redactor>,
    inputs: Vec<Box<dyn Read + Send>>,
    output: W,
    options: &Options,
) -> io::Result<Stats> {
    if options.threads <= 1 {
        run_single(redactor, inputs, output, options)
    } else {
        run_parallel(redactor, inputs, output, options)
    }
}

fn run_single<W: Write>(
    redactor: &Redactor,
    inputs: Vec<Box<dyn Read + Send>>,
    mut output: W,
    options: &Options,
) -> io::Result<Stats> {
    let mut stats = Stats::new(redactor);
    let mut scratch = redactor.scratch();
    let mut out = Vec::with_capacity(options.batch_bytes + options.batch_bytes / 4);
    for input in inputs {
        let mut batcher = LineBatcher::new(input, options.batch_bytes, options.max_line_bytes);
        while let Some(batch) = batcher.next_batch()? {
            out.clear();
            redact_batch(
                redactor,
                options.format,
                &batch,
                &mut out,
                &mut scratch,
                &mut stats,
            );
            output.write_all(&out)?;
            stats.bytes_out += out.len() as u64;
            if batch.idle {
                output.flush()?;
            }
        }
    }
    output.flush()?;
    Ok(stats)
}

struct Done {
    seq: u64,
    bytes: Vec<u8>,
    idle: bool,
    stats: Stats,
}

fn run_parallel<W: Write + Send>(
    redactor: &Arc<Redactor>,
    inputs: Vec<Box<dyn Read + Send>>,
    mut output: W,
    options: &Options,
) -> io::Result<Stats> {
    let threads = options.threads;
    let (work_tx, work_rx) = mpsc::sync_channel::<(u64, Batch)>(threads * 2);
    let work_rx = Arc::new(std::sync::Mutex::new(work_rx));
    let (done_tx, done_rx) = mpsc::sync_channel::<Done>(threads * 2);
    std::thread::scope(|scope| {
        for _ in 0..threads {
            let work_rx = Arc::clone(&work_rx);
            let done_tx = done_tx.clone();
            let redactor = Arc::clone(redactor);
            let format = options.format;
            scope.spawn(move || {
                let mut scratch = redactor.scratch();
                loop {
                    // The lock is held only to take the next batch, never while redacting.
                    let next = work_rx.lock().map(|rx| rx.recv());
                    let Ok(Ok((seq, batch))) = next else { return };
                    let mut stats = Stats::new(&redactor);
                    let mut bytes = Vec::with_capacity(batch.bytes.len() + batch.bytes.len() / 4);
                    redact_batch(
                        &redactor,
                        format,
                        &batch,
                        &mut bytes,
                        &mut scratch,
                        &mut stats,
                    );
                    if done_tx
                        .send(Done {
                            seq,
                            bytes,
                            idle: batch.idle,
                            stats,
                        })
                        .is_err()
                    {
                        return;
                    }
                }
            });
        }
        // Only the workers hold the receiver now: when they all stop, a blocked reader's
        // send fails instead of waiting forever.
        drop(work_rx);
        drop(done_tx);
        let writer = scope.spawn(move || -> io::Result<Stats> {
            let mut stats = Stats::new(redactor);
            let mut next = 0u64;
            let mut waiting = std::collections::BTreeMap::new();
            for done in done_rx {
                waiting.insert(done.seq, done);
                while let Some(done) = waiting.remove(&next) {
                    output.write_all(&done.bytes)?;
                    stats.bytes_out += done.bytes.len() as u64;
                    stats.add(&done.stats);
                    if done.idle {
                        output.flush()?;
                    }
                    next += 1;
                }
            }
            output.flush()?;
            Ok(stats)
        });
        let mut seq = 0u64;
        let mut read_result = Ok(());
        'inputs: for input in inputs {
            let mut batcher = LineBatcher::new(input, options.batch_bytes, options.max_line_bytes);
            loop {
                match batcher.next_batch() {
                    Ok(Some(batch)) => {
                        if work_tx.send((seq, batch)).is_err() {
                            break 'inputs; // the writer stopped (closed output)
                        }
                        seq += 1;
                    }
                    Ok(None) => break,
                    Err(e) => {
                        read_result = Err(e);
                        break 'inputs;
                    }
                }
            }
        }
        drop(work_tx);
        let written = writer.join().expect("the writer thread does not panic");
        read_result.and(written)
    })
}
