//! Driver tests with an in-memory sink that fails on demand.

use super::*;
use std::sync::atomic::AtomicUsize;

/// Fails the first `fail` calls (with `retry_after` when set), then records what it gets.
#[derive(Clone, Default)]
struct Mock {
    fail: Arc<AtomicUsize>,
    fatal: bool,
    retry_after: Option<Duration>,
    got: Arc<Mutex<Vec<Vec<Bytes>>>>,
    calls: Arc<Mutex<Vec<std::time::Instant>>>,
}

impl Sink for Mock {
    async fn send_batch(&mut self, batch: &[Bytes]) -> Result<(), SinkError> {
        self.calls.lock().unwrap().push(std::time::Instant::now());
        if self.fail.load(Relaxed) > 0 {
            self.fail.fetch_sub(1, Relaxed);
            return Err(if self.fatal {
                SinkError::fatal("no")
            } else {
                SinkError::retryable("down").with_retry_after(self.retry_after)
            });
        }
        self.got.lock().unwrap().push(batch.to_vec());
        Ok(())
    }
}

fn options(disk: Option<DiskOptions>) -> SinkOptions {
    SinkOptions {
        name: "t".into(),
        queue_records: 16,
        when_full: WhenFull::Block,
        batching: Batching {
            max_records: 4,
            max_bytes: 1 << 20,
            timeout: Duration::from_millis(20),
        },
        retry: RetryPolicy {
            initial: Duration::from_millis(5),
            max: Duration::from_millis(200),
        },
        disk,
        drain: Duration::from_secs(5),
    }
}

fn rec(i: usize) -> Bytes {
    Bytes::from(format!("r{i}"))
}

async fn run(mock: Mock, opts: SinkOptions, n: usize) -> Arc<SinkStats> {
    let (stop_tx, stop) = watch::channel(false);
    let (h, task) = spawn(mock, opts, stop).unwrap();
    for i in 0..n {
        h.push(rec(i), true).await;
    }
    stop_tx.send(true).unwrap();
    task.await.unwrap();
    h.stats().clone()
}

fn flat(m: &Mock) -> Vec<Bytes> {
    m.got.lock().unwrap().iter().flatten().cloned().collect()
}

#[tokio::test]
async fn batches_are_cut_by_count_and_retried_until_delivered() {
    let mock = Mock::default();
    mock.fail.store(3, Relaxed);
    let stats = run(mock.clone(), options(None), 10).await;
    assert_eq!(flat(&mock), (0..10).map(rec).collect::<Vec<_>>());
    assert!(mock.got.lock().unwrap().iter().all(|b| b.len() <= 4));
    assert_eq!(stats.sent.load(Relaxed), 10);
    assert_eq!(stats.retries.load(Relaxed), 3);
}

#[tokio::test]
async fn retry_after_is_honoured() {
    let mock = Mock {
        retry_after: Some(Duration::from_millis(150)),
        ..Mock::default()
    };
    mock.fail.store(1, Relaxed);
    run(mock.clone(), options(None), 1).await;
    let calls = mock.calls.lock().unwrap().clone();
    assert_eq!(calls.len(), 2);
    assert!(calls[1] - calls[0] >= Duration::from_millis(150));
}

#[tokio::test]
async fn a_fatal_error_drops_the_batch_and_counts_it() {
    let mock = Mock {
        fatal: true,
        ..Mock::default()
    };
    mock.fail.store(1, Relaxed);
    let mut opts = options(None);
    opts.batching.max_records = 100;
    opts.batching.timeout = Duration::from_millis(100);
    let stats = run(mock.clone(), opts, 3).await;
    assert_eq!(stats.rejected.load(Relaxed), 3);
    assert_eq!(stats.sent.load(Relaxed), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn drop_newest_counts_what_does_not_fit() {
    let mock = Mock::default();
    mock.fail.store(usize::MAX / 2, Relaxed); // never delivers
    let mut opts = options(None);
    opts.when_full = WhenFull::DropNewest;
    opts.queue_records = 2;
    opts.drain = Duration::from_millis(50);
    let (stop_tx, stop) = watch::channel(false);
    let (h, task) = spawn(mock, opts, stop).unwrap();
    for i in 0..50 {
        h.push(rec(i), true).await;
    }
    let stats = h.stats().clone();
    assert!(
        stats.dropped_full.load(Relaxed) >= 40,
        "{}",
        stats.summary()
    );
    stop_tx.send(true).unwrap();
    task.await.unwrap();
    let s = &stats;
    assert_eq!(
        s.queued.load(Relaxed) + s.dropped_full.load(Relaxed),
        50,
        "{}",
        s.summary()
    );
    assert_eq!(s.lost.load(Relaxed), s.queued.load(Relaxed));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_disk_buffer_keeps_what_the_sink_did_not_take_and_replays_it() {
    let dir = tempfile::tempdir().unwrap();
    let disk = DiskOptions {
        dir: dir.path().to_path_buf(),
        max_bytes: 1 << 20,
        fsync: false,
    };
    let down = Mock::default();
    down.fail.store(usize::MAX / 2, Relaxed);
    let mut opts = options(Some(disk.clone()));
    opts.drain = Duration::from_millis(100);
    let stats = run(down, opts, 20).await;
    assert_eq!(stats.sent.load(Relaxed), 0);
    assert_eq!(stats.buffered.load(Relaxed), 20, "{}", stats.summary());
    assert_eq!(DiskBuffer::inspect(dir.path()).unwrap().len(), 20);

    // The sink is back: a new run replays the buffer, then takes new records.
    let up = Mock::default();
    let (stop_tx, stop) = watch::channel(false);
    let (h, task) = spawn(up.clone(), options(Some(disk)), stop).unwrap();
    for i in 20..25 {
        h.push(rec(i), true).await;
    }
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    while flat(&up).len() < 25 && std::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    stop_tx.send(true).unwrap();
    task.await.unwrap();
    assert_eq!(flat(&up), (0..25).map(rec).collect::<Vec<_>>());
    assert!(DiskBuffer::inspect(dir.path()).unwrap().is_empty());
}

#[test]
fn backoff_grows_with_jitter_and_is_capped() {
    let p = RetryPolicy {
        initial: Duration::from_millis(100),
        max: Duration::from_secs(2),
    };
    let mut rng = 12345;
    for attempt in 0..10 {
        let d = backoff(&p, attempt, &mut rng);
        let full = (Duration::from_millis(100) * (1 << attempt)).min(p.max);
        assert!(d >= full / 2 && d <= full, "{attempt}: {d:?}");
    }
}
