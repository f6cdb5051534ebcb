//! The `file` sink: records appended to a file, one per line, with rotation and retention.
//!
//! * **Rotation**: when the file would grow past `rotate_bytes`, or when it is older than
//!   `rotate_every` (checked about once a second), it is renamed to
//!   `NAME.YYYYMMDDTHHMMSSZ` (`.1`, `.2` … appended when that exists) and a new `NAME` is
//!   started. An empty file is not rotated.
//! * **Retention**: rotated files (`NAME.*`) whose modification time is older than the
//!   retention period are deleted, at start, after each rotation and every minute. The
//!   period is the sink's `retention_days`, by default its profile's.
//! * New files are created with mode 0640.
//! * **fsync**: each batch is written with one `write(2)`; with `fsync = true` (the default)
//!   `fdatasync` follows before the batch counts as delivered, so a delivered record
//!   survives a power loss; with `false` it survives a crash of redactd but not of the host.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime};

use bytes::Bytes;

use super::{Sink, SinkError};

/// Settings of a file sink.
#[derive(Debug, Clone)]
pub struct FileOptions {
    /// The active file.
    pub path: PathBuf,
    /// Rotate before the file would grow past this many bytes.
    pub rotate_bytes: Option<u64>,
    /// Rotate a file this old.
    pub rotate_every: Option<Duration>,
    /// Delete rotated files older than this.
    pub retention: Option<Duration>,
    /// `fdatasync` after each batch.
    pub fsync: bool,
}

/// Appends records to a file.
#[derive(Debug)]
pub struct FileSink {
    opts: FileOptions,
    file: File,
    size: u64,
    opened: Instant,
    last_prune: Instant,
    buf: Vec<u8>,
}

fn open_append(path: &Path) -> io::Result<File> {
    let file = OpenOptions::new()
        .create(true)
        .append(true)
        .mode(0o640)
        .open(path)?;
    let meta = file.metadata()?;
    if meta.len() == 0 && meta.permissions().mode() & 0o777 != 0o640 {
        file.set_permissions(fs::Permissions::from_mode(0o640))?;
    }
    Ok(file)
}

impl FileSink {
    /// Opens (or creates) the file and applies retention once.
    pub fn open(opts: FileOptions) -> io::Result<FileSink> {
        if let Some(dir) = opts.path.parent().filter(|d| !d.as_os_str().is_empty()) {
            fs::create_dir_all(dir)?;
        }
        let file = open_append(&opts.path)?;
        let size = file.metadata()?.len();
        let sink = FileSink {
            opts,
            file,
            size,
            opened: Instant::now(),
            last_prune: Instant::now(),
            buf: Vec::new(),
        };
        if let Some(r) = sink.opts.retention {
            prune_rotated(&sink.opts.path, r, SystemTime::now())?;
        }
        Ok(sink)
    }

    fn rotate(&mut self) -> io::Result<()> {
        if self.size == 0 {
            self.opened = Instant::now();
            return Ok(());
        }
        self.file.sync_all()?;
        let stamp = humantime::format_rfc3339_seconds(SystemTime::now())
            .to_string()
            .replace(['-', ':'], "");
        let base = format!("{}.{stamp}", self.opts.path.display());
        let mut target = PathBuf::from(&base);
        let mut n = 1;
        while target.exists() {
            target = PathBuf::from(format!("{base}.{n}"));
            n += 1;
        }
        fs::rename(&self.opts.path, &target)?;
        self.file = open_append(&self.opts.path)?;
        self.size = 0;
        self.opened = Instant::now();
        if let Some(r) = self.opts.retention {
            prune_rotated(&self.opts.path, r, SystemTime::now())?;
            self.last_prune = Instant::now();
        }
        Ok(())
    }
}

/// Deletes the rotated files of `path` (`NAME.*` beside it) last modified before
/// `now - retention`; returns how many.
pub fn prune_rotated(path: &Path, retention: Duration, now: SystemTime) -> io::Result<usize> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    let Some(name) = path.file_name().and_then(|n| n.to_str()) else {
        return Ok(0);
    };
    let prefix = format!("{name}.");
    let Some(cutoff) = now.checked_sub(retention) else {
        return Ok(0);
    };
    let mut removed = 0;
    for entry in fs::read_dir(dir)? {
        let entry = entry?;
        let fname = entry.file_name();
        let Some(fname) = fname.to_str() else {
            continue;
        };
        if !fname.starts_with(&prefix) {
            continue;
        }
        let meta = entry.metadata()?;
        if meta.is_file() && meta.modified()? < cutoff {
            fs::remove_file(entry.path())?;
            removed += 1;
        }
    }
    Ok(removed)
}

fn io_err(path: &Path, e: io::Error) -> SinkError {
    SinkError::retryable(format!("{}: {e}", path.display()))
}

impl Sink for FileSink {
    async fn send_batch(&mut self, batch: &[Bytes]) -> Result<(), SinkError> {
        self.buf.clear();
        for r in batch {
            self.buf.extend_from_slice(r);
            self.buf.push(b'\n');
        }
        let len = self.buf.len() as u64;
        if self
            .opts
            .rotate_bytes
            .is_some_and(|max| self.size + len > max)
        {
            self.rotate().map_err(|e| io_err(&self.opts.path, e))?;
        }
        self.file
            .write_all(&self.buf)
            .map_err(|e| io_err(&self.opts.path, e))?;
        self.size += len;
        if self.opts.fsync {
            self.file
                .sync_data()
                .map_err(|e| io_err(&self.opts.path, e))?;
        }
        Ok(())
    }

    fn maintain(&mut self) -> Result<(), SinkError> {
        let path = self.opts.path.clone();
        if self
            .opts
            .rotate_every
            .is_some_and(|every| self.opened.elapsed() >= every)
        {
            self.rotate().map_err(|e| io_err(&path, e))?;
        }
        if let Some(r) = self.opts.retention {
            if self.last_prune.elapsed() >= Duration::from_secs(60) {
                self.last_prune = Instant::now();
                prune_rotated(&path, r, SystemTime::now()).map_err(|e| io_err(&path, e))?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn opts(dir: &Path) -> FileOptions {
        FileOptions {
            path: dir.join("out.log"),
            rotate_bytes: None,
            rotate_every: None,
            retention: None,
            fsync: true,
        }
    }

    fn rotated(dir: &Path) -> Vec<PathBuf> {
        let mut v: Vec<PathBuf> = fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| {
                p.file_name()
                    .unwrap()
                    .to_str()
                    .unwrap()
                    .starts_with("out.log.")
            })
            .collect();
        v.sort();
        v
    }

    fn b(s: &str) -> Bytes {
        Bytes::copy_from_slice(s.as_bytes())
    }

    #[tokio::test]
    async fn new_files_are_0640_and_rotate_by_size() {
        let dir = tempfile::tempdir().unwrap();
        let mut o = opts(dir.path());
        o.rotate_bytes = Some(10);
        let mut s = FileSink::open(o).unwrap();
        let mode = fs::metadata(dir.path().join("out.log"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o640);
        s.send_batch(&[b("12345")]).await.unwrap();
        s.send_batch(&[b("abc")]).await.unwrap();
        assert!(rotated(dir.path()).is_empty());
        s.send_batch(&[b("xyz")]).await.unwrap(); // 6 + 4 + 4 > 10
        let r = rotated(dir.path());
        assert_eq!(r.len(), 1);
        assert_eq!(fs::read_to_string(&r[0]).unwrap(), "12345\nabc\n");
        assert_eq!(
            fs::read_to_string(dir.path().join("out.log")).unwrap(),
            "xyz\n"
        );
        let mode = fs::metadata(dir.path().join("out.log"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o640);
    }

    #[tokio::test]
    async fn rotates_by_time_and_not_when_empty() {
        let dir = tempfile::tempdir().unwrap();
        let mut o = opts(dir.path());
        o.rotate_every = Some(Duration::from_millis(300));
        let mut s = FileSink::open(o).unwrap();
        std::thread::sleep(Duration::from_millis(350));
        s.maintain().unwrap();
        assert!(
            rotated(dir.path()).is_empty(),
            "an empty file is not rotated"
        );
        s.send_batch(&[b("one")]).await.unwrap();
        std::thread::sleep(Duration::from_millis(350));
        s.maintain().unwrap();
        s.send_batch(&[b("two")]).await.unwrap();
        let r = rotated(dir.path());
        assert_eq!(r.len(), 1);
        assert_eq!(fs::read_to_string(&r[0]).unwrap(), "one\n");
        assert_eq!(
            fs::read_to_string(dir.path().join("out.log")).unwrap(),
            "two\n"
        );
    }

    #[test]
    fn retention_deletes_rotated_files_older_than_the_period_only() {
        let dir = tempfile::tempdir().unwrap();
        let day = Duration::from_secs(86_400);
        let now = SystemTime::now();
        let old = dir.path().join("out.log.20200101T000000Z");
        let young = dir.path().join("out.log.20200201T000000Z");
        let other = dir.path().join("other.log.20200101T000000Z");
        for p in [&old, &young, &other] {
            fs::write(p, "x").unwrap();
            File::options()
                .write(true)
                .open(p)
                .unwrap()
                .set_modified(now - 31 * day)
                .unwrap();
        }
        File::options()
            .write(true)
            .open(&young)
            .unwrap()
            .set_modified(now - 29 * day)
            .unwrap();
        let active = dir.path().join("out.log");
        fs::write(&active, "x").unwrap();
        let n = prune_rotated(&active, 30 * day, now).unwrap();
        assert_eq!(n, 1);
        assert!(!old.exists() && young.exists() && other.exists() && active.exists());
        // Thirty-one days on, the second goes too.
        assert_eq!(prune_rotated(&active, 30 * day, now + 2 * day).unwrap(), 1);
        assert!(!young.exists());
    }

    #[tokio::test]
    async fn retention_runs_on_open_and_after_rotation() {
        let dir = tempfile::tempdir().unwrap();
        let old = dir.path().join("out.log.19990101T000000Z");
        fs::write(&old, "x").unwrap();
        File::options()
            .write(true)
            .open(&old)
            .unwrap()
            .set_modified(SystemTime::now() - Duration::from_secs(10))
            .unwrap();
        let mut o = opts(dir.path());
        o.retention = Some(Duration::from_secs(5));
        o.rotate_bytes = Some(4);
        let mut s = FileSink::open(o).unwrap();
        assert!(!old.exists());
        s.send_batch(&[b("abc")]).await.unwrap();
        s.send_batch(&[b("def")]).await.unwrap();
        assert_eq!(rotated(dir.path()).len(), 1, "young rotated files stay");
    }
}
