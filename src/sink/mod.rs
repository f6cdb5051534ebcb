//! Sinks: where minimised records go, and the delivery machinery in front of each.
//!
//! ```text
//!  inputs ─► SinkHandle::push ─► bounded queue ─┬─────────────────────────► batch ─► Sink::send_batch
//!  (records already minimised   (queue_records,  └─► disk buffer (optional) ─┘        retries: backoff
//!   and encoded for the sink)    when_full)          segments, CRC32, cap             + jitter, Retry-After
//! ```
//!
//! * Only minimised records reach this module: an input redacts a line with the sink's
//!   profile and encodes it ([`encode`]) before [`SinkHandle::push`]. Nothing here sees raw
//!   input, so nothing raw is ever queued, buffered or written.
//! * Each sink has a bounded queue and a named overflow policy, [`WhenFull`]: `block` makes
//!   the pushing input wait (only inputs that can wait use it: stdin and TCP syslog; UDP
//!   never waits and drops), `drop_newest` drops the record being pushed and counts it.
//! * Batches are cut by count, bytes and time ([`Batching`]).
//! * A failed batch is retried with exponential backoff and jitter, or after the
//!   `Retry-After` the sink reports ([`SinkError::retry_after`]); a sink that answers
//!   "not retryable" has the batch dropped and counted ([`SinkStats::rejected`]).
//! * With a disk buffer ([`disk`]) every record is first appended to disk, then read back,
//!   delivered and acknowledged; a restart replays what was not acknowledged. Delivery is
//!   **at least once**: a batch whose acknowledgement was lost (crash, timeout) is sent again.
//! * On stop, the queue is drained: into the disk buffer when there is one, else to the
//!   sink, retrying until the drain deadline; what is still undelivered then is counted as
//!   [`SinkStats::lost`] (or stays on disk, to be replayed).
//!
//! This module knows nothing of the engine or of metrics: it counts in [`SinkStats`] and the
//! caller reports.

pub mod clickhouse;
pub mod disk;
pub mod encode;
pub mod file;
pub mod http;
pub mod stdout;
pub mod syslog;

use std::future::Future;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use tokio::sync::{mpsc, watch, Notify};
use tokio::task::JoinHandle;
use tokio::time::Instant;

use disk::DiskBuffer;

/// A failed delivery, with what the driver should do about it.
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub struct SinkError {
    /// What went wrong (never record contents).
    pub message: String,
    /// Whether sending the same batch again may succeed.
    pub retryable: bool,
    /// How long the sink asked to wait before the next attempt (`Retry-After`).
    pub retry_after: Option<Duration>,
}

impl SinkError {
    /// A failure worth retrying (connection refused, timeout, 429, 5xx).
    pub fn retryable(message: impl Into<String>) -> Self {
        SinkError {
            message: message.into(),
            retryable: true,
            retry_after: None,
        }
    }

    /// A failure that will not go away by retrying the same batch (e.g. 400).
    pub fn fatal(message: impl Into<String>) -> Self {
        SinkError {
            message: message.into(),
            retryable: false,
            retry_after: None,
        }
    }

    /// The same error, asking for a wait of `after` before the next attempt.
    pub fn with_retry_after(mut self, after: Option<Duration>) -> Self {
        self.retry_after = after;
        self
    }
}

/// A destination of batches of encoded, minimised records.
pub trait Sink: Send + 'static {
    /// Delivers a batch. `Ok` means the destination has it (as far as it acknowledges);
    /// the batch is then never sent again by this process.
    fn send_batch(&mut self, batch: &[Bytes])
        -> impl Future<Output = Result<(), SinkError>> + Send;

    /// Housekeeping, called about once a second (time-based rotation, retention).
    fn maintain(&mut self) -> Result<(), SinkError> {
        Ok(())
    }
}

/// What a sink's queue does when it is full: the overflow policy, named per sink.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WhenFull {
    /// The input waits until there is room (stdin, TCP syslog). Inputs that cannot wait
    /// (UDP) drop and count instead.
    Block,
    /// The record being pushed is dropped and counted ([`SinkStats::dropped_full`]).
    DropNewest,
}

/// How records are grouped into batches.
#[derive(Debug, Clone, Copy)]
pub struct Batching {
    /// At most this many records per batch.
    pub max_records: usize,
    /// A batch is cut once it reaches this many bytes.
    pub max_bytes: usize,
    /// A batch is sent at most this long after its first record arrived.
    pub timeout: Duration,
}

/// The retry schedule: `initial × 2^attempt`, capped at `max`, with equal jitter (a wait
/// is between half and all of that).
#[derive(Debug, Clone, Copy)]
pub struct RetryPolicy {
    /// First wait.
    pub initial: Duration,
    /// Longest wait (also caps a `Retry-After`).
    pub max: Duration,
}

/// Where and how big a sink's disk buffer is.
#[derive(Debug, Clone)]
pub struct DiskOptions {
    /// The buffer's own directory.
    pub dir: PathBuf,
    /// Bytes of segment files at most.
    pub max_bytes: u64,
    /// `fdatasync` after each append (see [`disk`] for the policy).
    pub fsync: bool,
}

/// Everything about a sink's delivery but the sink itself.
#[derive(Debug, Clone)]
pub struct SinkOptions {
    /// The sink's name (for messages).
    pub name: String,
    /// Capacity of the in-memory queue, in records.
    pub queue_records: usize,
    /// The overflow policy.
    pub when_full: WhenFull,
    /// Batching.
    pub batching: Batching,
    /// Retries.
    pub retry: RetryPolicy,
    /// The disk buffer, if any.
    pub disk: Option<DiskOptions>,
    /// How long delivery goes on after a stop is asked for.
    pub drain: Duration,
}

/// Counters of one sink.
#[derive(Debug, Default)]
pub struct SinkStats {
    /// Records accepted into the queue.
    pub queued: AtomicU64,
    /// Records dropped because the queue (or disk buffer) was full.
    pub dropped_full: AtomicU64,
    /// Records delivered.
    pub sent: AtomicU64,
    /// Records dropped because the sink refused their batch as not retryable.
    pub rejected: AtomicU64,
    /// Records undelivered when the drain deadline passed (without a disk buffer).
    pub lost: AtomicU64,
    /// Failed attempts that were retried.
    pub retries: AtomicU64,
    /// Corrupted regions skipped in the disk buffer.
    pub corrupted: AtomicU64,
    /// Records waiting in the disk buffer.
    pub buffered: AtomicU64,
    /// Bytes in the disk buffer now.
    pub buffer_bytes: AtomicU64,
    /// The disk buffer's size cap, bytes (0 without one).
    pub buffer_max_bytes: AtomicU64,
    /// Sizes of the batches delivered since the metrics last took them (at most 4096 kept).
    pub batch_sizes: std::sync::Mutex<Vec<usize>>,
}

impl SinkStats {
    /// A one-line summary.
    pub fn summary(&self) -> String {
        format!(
            "{} queued, {} sent, {} dropped (full), {} rejected, {} lost, {} retries, {} left in the disk buffer, {} corrupt regions skipped",
            self.queued.load(Relaxed),
            self.sent.load(Relaxed),
            self.dropped_full.load(Relaxed),
            self.rejected.load(Relaxed),
            self.lost.load(Relaxed),
            self.retries.load(Relaxed),
            self.buffered.load(Relaxed),
            self.corrupted.load(Relaxed),
        )
    }
}

/// The input side of a sink: pushes encoded, minimised records into its queue.
#[derive(Debug, Clone)]
pub struct SinkHandle {
    tx: mpsc::Sender<Bytes>,
    when_full: WhenFull,
    stats: Arc<SinkStats>,
}

impl SinkHandle {
    /// Pushes a record from an async input. `can_wait` is false for inputs that must never
    /// stall (UDP): they drop and count when the queue is full whatever the policy.
    pub async fn push(&self, record: Bytes, can_wait: bool) {
        if can_wait && self.when_full == WhenFull::Block {
            if self.tx.send(record).await.is_ok() {
                self.stats.queued.fetch_add(1, Relaxed);
            } else {
                self.stats.lost.fetch_add(1, Relaxed);
            }
        } else {
            self.try_push(record);
        }
    }

    /// Pushes a record from a thread that may block (stdin).
    pub fn push_blocking(&self, record: Bytes) {
        if self.when_full == WhenFull::Block {
            if self.tx.blocking_send(record).is_ok() {
                self.stats.queued.fetch_add(1, Relaxed);
            } else {
                self.stats.lost.fetch_add(1, Relaxed);
            }
        } else {
            self.try_push(record);
        }
    }

    fn try_push(&self, record: Bytes) {
        match self.tx.try_send(record) {
            Ok(()) => self.stats.queued.fetch_add(1, Relaxed),
            Err(mpsc::error::TrySendError::Full(_)) => {
                self.stats.dropped_full.fetch_add(1, Relaxed)
            }
            Err(mpsc::error::TrySendError::Closed(_)) => self.stats.lost.fetch_add(1, Relaxed),
        };
    }

    /// The sink's counters.
    pub fn stats(&self) -> &Arc<SinkStats> {
        &self.stats
    }
}

/// Starts a sink's driver task(s); returns the handle inputs push to and a task that ends
/// when the sink has drained after `stop` turned true.
pub fn spawn<S: Sink>(
    sink: S,
    options: SinkOptions,
    stop: watch::Receiver<bool>,
) -> std::io::Result<(SinkHandle, JoinHandle<()>)> {
    let (tx, rx) = mpsc::channel(options.queue_records.max(1));
    let stats = Arc::new(SinkStats::default());
    let handle = SinkHandle {
        tx,
        when_full: options.when_full,
        stats: stats.clone(),
    };
    let ctx = Ctx {
        sink,
        name: options.name.clone(),
        retry: options.retry,
        batching: options.batching,
        drain: options.drain,
        stats,
        stop,
        stopped_at: None,
        rng: seed(),
        failing: false,
    };
    let task = match options.disk {
        None => tokio::spawn(run_memory(ctx, rx)),
        Some(d) => {
            let buffer = DiskBuffer::open(&d.dir, d.max_bytes, d.fsync)?;
            ctx.stats.buffered.store(buffer.pending(), Relaxed);
            ctx.stats.buffer_bytes.store(buffer.bytes(), Relaxed);
            ctx.stats.buffer_max_bytes.store(d.max_bytes, Relaxed);
            let buffer = Arc::new(Mutex::new(buffer));
            let notify = Arc::new(Notify::new());
            let done = Arc::new(AtomicBool::new(false));
            let writer = tokio::spawn(run_disk_writer(
                buffer.clone(),
                rx,
                options.when_full,
                options.batching.max_records,
                ctx.stats.clone(),
                notify.clone(),
                done.clone(),
                ctx.stop.clone(),
            ));
            let reader = tokio::spawn(run_disk_reader(ctx, buffer, notify, done));
            tokio::spawn(async move {
                let _ = writer.await;
                let _ = reader.await;
            })
        }
    };
    Ok((handle, task))
}

fn seed() -> u64 {
    let mut b = [0u8; 8];
    let _ = getrandom::getrandom(&mut b);
    u64::from_le_bytes(b) | 1
}

/// The wait before retry number `attempt` (0-based): equal jitter over an exponential.
pub fn backoff(policy: &RetryPolicy, attempt: u32, rng: &mut u64) -> Duration {
    let exp = policy
        .initial
        .saturating_mul(1u32 << attempt.min(20))
        .min(policy.max);
    // xorshift64
    *rng ^= *rng << 13;
    *rng ^= *rng >> 7;
    *rng ^= *rng << 17;
    let half = exp / 2;
    let nanos = half.as_nanos() as u64;
    half + Duration::from_nanos(if nanos == 0 { 0 } else { *rng % (nanos + 1) })
}

enum Delivery {
    Sent,
    Rejected,
    GaveUp,
}

struct Ctx<S> {
    sink: S,
    name: String,
    retry: RetryPolicy,
    batching: Batching,
    drain: Duration,
    stats: Arc<SinkStats>,
    stop: watch::Receiver<bool>,
    stopped_at: Option<Instant>,
    rng: u64,
    failing: bool,
}

impl<S: Sink> Ctx<S> {
    fn stopping(&mut self) -> bool {
        if self.stopped_at.is_none() && *self.stop.borrow() {
            self.stopped_at = Some(Instant::now());
        }
        self.stopped_at.is_some()
    }

    fn deadline(&self) -> Option<Instant> {
        self.stopped_at.map(|t| t + self.drain)
    }

    fn past_deadline(&mut self) -> bool {
        self.stopping();
        self.deadline().is_some_and(|d| Instant::now() >= d)
    }

    /// Resolves when a stop is asked for (never again once it has been seen).
    async fn stop_asked(&mut self) {
        if self.stopped_at.is_some() {
            return std::future::pending().await;
        }
        let _ = self.stop.wait_for(|s| *s).await;
        self.stopping();
    }

    fn maintain(&mut self) {
        if let Err(e) = self.sink.maintain() {
            eprintln!("redactd: sink {}: {e}", self.name);
        }
    }

    async fn deliver(&mut self, batch: &[Bytes]) -> Delivery {
        let mut attempt = 0;
        loop {
            if self.past_deadline() {
                return Delivery::GaveUp;
            }
            let result = match self.deadline() {
                Some(d) => match tokio::time::timeout_at(d, self.sink.send_batch(batch)).await {
                    Ok(r) => r,
                    Err(_) => return Delivery::GaveUp,
                },
                None => self.sink.send_batch(batch).await,
            };
            match result {
                Ok(()) => {
                    if self.failing {
                        eprintln!("redactd: sink {}: delivering again.", self.name);
                        self.failing = false;
                    }
                    self.stats.sent.fetch_add(batch.len() as u64, Relaxed);
                    if let Ok(mut sizes) = self.stats.batch_sizes.lock() {
                        if sizes.len() < 4096 {
                            sizes.push(batch.len());
                        }
                    }
                    return Delivery::Sent;
                }
                Err(e) if !e.retryable => {
                    eprintln!(
                        "redactd: sink {}: batch of {} records refused, dropped: {e}",
                        self.name,
                        batch.len()
                    );
                    self.stats.rejected.fetch_add(batch.len() as u64, Relaxed);
                    return Delivery::Rejected;
                }
                Err(e) => {
                    self.stats.retries.fetch_add(1, Relaxed);
                    if !self.failing {
                        eprintln!("redactd: sink {}: {e}; retrying.", self.name);
                        self.failing = true;
                    }
                    let wait = match e.retry_after {
                        Some(d) => d.min(self.retry.max),
                        None => backoff(&self.retry, attempt, &mut self.rng),
                    };
                    attempt += 1;
                    let until = Instant::now() + wait;
                    let until = self.deadline().map_or(until, |d| d.min(until));
                    tokio::select! {
                        _ = tokio::time::sleep_until(until) => {}
                        _ = self.stop_asked() => {
                            // Still honour the wait, but not past the drain deadline.
                            let until = self.deadline().map_or(until, |d| d.min(until));
                            tokio::time::sleep_until(until).await;
                        }
                    }
                }
            }
        }
    }
}

/// Without a disk buffer: queue → batch → sink.
async fn run_memory<S: Sink>(mut ctx: Ctx<S>, mut rx: mpsc::Receiver<Bytes>) {
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    let mut batch: Vec<Bytes> = Vec::new();
    let mut closed = false;
    while !closed {
        if ctx.stopping() {
            // A stop seen anywhere (also while retrying) closes the queue: what is in it
            // drains, nothing more comes in.
            rx.close();
        }
        let mut bytes = 0;
        tokio::select! {
            r = rx.recv() => match r {
                Some(r) => { bytes += r.len(); batch.push(r); }
                None => break,
            },
            _ = tick.tick() => { ctx.maintain(); continue; }
            _ = ctx.stop_asked() => { rx.close(); continue; }
        }
        let cut = Instant::now() + ctx.batching.timeout;
        while batch.len() < ctx.batching.max_records && bytes < ctx.batching.max_bytes {
            tokio::select! {
                r = rx.recv() => match r {
                    Some(r) => { bytes += r.len(); batch.push(r); }
                    None => { closed = true; break; }
                },
                _ = tokio::time::sleep_until(cut) => break,
                _ = ctx.stop_asked() => rx.close(),
            }
        }
        if let Delivery::GaveUp = ctx.deliver(&batch).await {
            ctx.stats.lost.fetch_add(batch.len() as u64, Relaxed);
        }
        batch.clear();
    }
    ctx.maintain();
}

/// With a disk buffer, first half: queue → disk.
#[allow(clippy::too_many_arguments)]
async fn run_disk_writer(
    buffer: Arc<Mutex<DiskBuffer>>,
    mut rx: mpsc::Receiver<Bytes>,
    when_full: WhenFull,
    chunk: usize,
    stats: Arc<SinkStats>,
    notify: Arc<Notify>,
    done: Arc<AtomicBool>,
    mut stop: watch::Receiver<bool>,
) {
    let mut stopping = false;
    loop {
        let mut records = Vec::with_capacity(chunk.max(1));
        let n = tokio::select! {
            n = rx.recv_many(&mut records, chunk.max(1)) => n,
            r = stop.wait_for(|s| *s), if !stopping => {
                let _ = r;
                stopping = true;
                rx.close();
                continue;
            }
        };
        if n == 0 {
            break;
        }
        let records = Arc::new(records);
        let mut from = 0;
        loop {
            let (b, recs) = (buffer.clone(), records.clone());
            let written = tokio::task::spawn_blocking(move || {
                let mut b = b.lock().unwrap_or_else(|e| e.into_inner());
                let r = b.append(&recs[from..]);
                (r, (b.pending(), b.bytes()))
            })
            .await;
            let (written, (pending, bytes)) = match written {
                Ok((Ok(n), pending)) => (n, pending),
                Ok((Err(e), pending)) => {
                    eprintln!("redactd: disk buffer write failed: {e}");
                    (0, pending)
                }
                Err(_) => (0, (0, 0)),
            };
            stats.buffered.store(pending, Relaxed);
            stats.buffer_bytes.store(bytes, Relaxed);
            from += written;
            notify.notify_one();
            if from == records.len() {
                break;
            }
            let rest = (records.len() - from) as u64;
            if when_full == WhenFull::DropNewest || *stop.borrow() {
                let counter = if when_full == WhenFull::DropNewest {
                    &stats.dropped_full
                } else {
                    &stats.lost
                };
                counter.fetch_add(rest, Relaxed);
                break;
            }
            // Block: wait for the reader to free space.
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
    done.store(true, Relaxed);
    notify.notify_one();
}

/// With a disk buffer, second half: disk → batch → sink → acknowledge.
async fn run_disk_reader<S: Sink>(
    mut ctx: Ctx<S>,
    buffer: Arc<Mutex<DiskBuffer>>,
    notify: Arc<Notify>,
    done: Arc<AtomicBool>,
) {
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    let mut first_seen: Option<Instant> = None;
    let (max_records, max_bytes) = (ctx.batching.max_records, ctx.batching.max_bytes);
    loop {
        let (pending, corrupted, bytes) = {
            let b = buffer.lock().unwrap_or_else(|e| e.into_inner());
            (b.pending(), b.corrupted(), b.bytes())
        };
        ctx.stats.buffered.store(pending, Relaxed);
        ctx.stats.buffer_bytes.store(bytes, Relaxed);
        ctx.stats.corrupted.store(corrupted, Relaxed);
        let stopping = ctx.stopping();
        if ctx.past_deadline() || (stopping && pending == 0 && done.load(Relaxed)) {
            break;
        }
        if pending == 0 {
            first_seen = None;
            tokio::select! {
                _ = notify.notified() => {}
                _ = tick.tick() => ctx.maintain(),
                _ = ctx.stop_asked() => {}
            }
            continue;
        }
        let since = *first_seen.get_or_insert_with(Instant::now);
        let cut = since + ctx.batching.timeout;
        if (pending as usize) < max_records && Instant::now() < cut && !stopping {
            tokio::select! {
                _ = tokio::time::sleep_until(cut) => {}
                _ = notify.notified() => {}
                _ = ctx.stop_asked() => {}
            }
            continue;
        }
        let b = buffer.clone();
        let batch = tokio::task::spawn_blocking(move || {
            b.lock()
                .unwrap_or_else(|e| e.into_inner())
                .read(max_records, max_bytes)
        })
        .await;
        let batch = match batch {
            Ok(Ok(batch)) => batch,
            Ok(Err(e)) => {
                eprintln!("redactd: sink {}: disk buffer read failed: {e}", ctx.name);
                tokio::time::sleep(Duration::from_secs(1)).await;
                continue;
            }
            Err(_) => break,
        };
        first_seen = None;
        if batch.is_empty() {
            continue;
        }
        let outcome = ctx.deliver(&batch).await;
        let b = buffer.clone();
        let _ = tokio::task::spawn_blocking(move || {
            let mut b = b.lock().unwrap_or_else(|e| e.into_inner());
            match outcome {
                Delivery::Sent | Delivery::Rejected => {
                    if let Err(e) = b.ack() {
                        eprintln!("redactd: disk buffer acknowledgement failed: {e}");
                    }
                }
                Delivery::GaveUp => b.rewind(),
            }
        })
        .await;
    }
    let b = buffer.lock().unwrap_or_else(|e| e.into_inner());
    ctx.stats.buffered.store(b.pending(), Relaxed);
    ctx.stats.corrupted.store(b.corrupted(), Relaxed);
    drop(b);
    ctx.maintain();
}

#[cfg(test)]
mod tests;
