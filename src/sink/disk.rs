//! The disk buffer of a sink: append-only segment files of checksummed records, replayed on
//! start, deleted once every record in them is acknowledged.
//!
//! # Layout
//!
//! A directory per sink holds `NNNNNNNNNNNNNNNNNNNN.seg` segment files (ids increase) and an
//! `ack` file. A segment starts with the 8-byte header [`SEGMENT_MAGIC`]; each record is
//!
//! ```text
//!  0xB5 0x1E | len: u32 LE | crc32(len bytes ++ data): u32 LE | data (len bytes)
//! ```
//!
//! `ack` holds `SEGMENT OFFSET`: every record before it was delivered. It is replaced by a
//! rename on each acknowledgement and not fsynced: losing it only means records delivered
//! before a crash are delivered again (delivery is at least once).
//!
//! # Durability (the fsync policy)
//!
//! Each [`DiskBuffer::append`] writes its records with one `write(2)`, so a record that
//! `append` accepted survives the process being killed (`kill -9`): it is in the page
//! cache. With `fsync = true` (the default) `append` also calls `fdatasync` before it
//! returns, so accepted records survive a power loss too; with `false` the kernel writes them
//! back in its own time (typically within 30 s). A new segment is always started on open,
//! so a torn write at the end of the last segment is never appended to.
//!
//! # Corruption
//!
//! A record whose header or checksum does not verify, a segment with a bad header, or a
//! truncated tail is skipped and counted ([`DiskBuffer::corrupted`]); reading resumes at the
//! next record that verifies. Nothing here panics on bad input.
//!
//! Segment files are created with mode 0600: they hold minimised records only, but they
//! are nobody else's business.
//!
//! # Limits
//!
//! `max_bytes` caps the bytes of segment files on disk; [`DiskBuffer::append`] accepts the
//! records that fit and reports how many, and the caller applies the sink's overflow policy
//! to the rest. Space is freed a segment at a time, so segments are small
//! (`max_bytes / 8`, between 64 KiB and 32 MiB).

use std::collections::VecDeque;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use bytes::Bytes;

/// The first 8 bytes of every segment file.
pub const SEGMENT_MAGIC: &[u8; 8] = b"RDBUF01\n";
const RECORD_MAGIC: [u8; 2] = [0xB5, 0x1E];
const RECORD_HEADER: usize = 10;
/// The largest record accepted (larger ones are refused by `append`).
pub const MAX_RECORD_BYTES: usize = 16 << 20;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
struct Cursor {
    segment: u64,
    offset: u64,
}

#[derive(Debug)]
struct Segment {
    id: u64,
    /// Bytes in the file (for the active segment: what this process wrote).
    len: u64,
}

/// A sink's disk buffer. Not thread-safe by itself: the sink driver keeps it in a mutex.
#[derive(Debug)]
pub struct DiskBuffer {
    dir: PathBuf,
    max_bytes: u64,
    segment_bytes: u64,
    fsync: bool,
    segments: VecDeque<Segment>,
    /// The segment being appended to (the last of `segments`).
    writer: File,
    read: Cursor,
    acked: Cursor,
    /// The segment read last, cached whole (the active one is topped up as it grows).
    cache: Option<(u64, Vec<u8>)>,
    pending: u64,
    corrupted: u64,
    scratch: Vec<u8>,
}

fn segment_path(dir: &Path, id: u64) -> PathBuf {
    dir.join(format!("{id:020}.seg"))
}

fn crc(len: u32, data: &[u8]) -> u32 {
    let mut h = crc32fast::Hasher::new();
    h.update(&len.to_le_bytes());
    h.update(data);
    h.finalize()
}

/// What is at `at` in a segment's bytes.
enum Parsed {
    /// A record: data range, next offset.
    Record(std::ops::Range<usize>, usize),
    /// The end of the bytes.
    End,
    /// Something that does not verify.
    Bad,
}

fn parse_at(buf: &[u8], at: usize) -> Parsed {
    if at >= buf.len() {
        return Parsed::End;
    }
    if buf.len() - at < RECORD_HEADER || buf[at..at + 2] != RECORD_MAGIC {
        return Parsed::Bad;
    }
    let len = u32::from_le_bytes(buf[at + 2..at + 6].try_into().expect("4 bytes"));
    let sum = u32::from_le_bytes(buf[at + 6..at + 10].try_into().expect("4 bytes"));
    let start = at + RECORD_HEADER;
    let Some(end) = start.checked_add(len as usize) else {
        return Parsed::Bad;
    };
    if len as usize > MAX_RECORD_BYTES || end > buf.len() || crc(len, &buf[start..end]) != sum {
        return Parsed::Bad;
    }
    Parsed::Record(start..end, end)
}

/// The offset of the next record that verifies after a bad one at `at` (or the end).
fn resync(buf: &[u8], at: usize) -> usize {
    let mut from = at + 1;
    while from < buf.len() {
        match memchr::memchr(RECORD_MAGIC[0], &buf[from..]) {
            None => return buf.len(),
            Some(p) => {
                let cand = from + p;
                if let Parsed::Record(..) = parse_at(buf, cand) {
                    return cand;
                }
                from = cand + 1;
            }
        }
    }
    buf.len()
}

/// Counts the records that verify in `buf` from `at`, and the bad regions.
fn count_records(buf: &[u8], mut at: usize) -> (u64, u64) {
    let (mut good, mut bad) = (0, 0);
    loop {
        match parse_at(buf, at) {
            Parsed::End => return (good, bad),
            Parsed::Record(_, next) => {
                good += 1;
                at = next;
            }
            Parsed::Bad => {
                bad += 1;
                at = resync(buf, at);
            }
        }
    }
}

/// The ids of the segment files (`N.seg`) in `dir`, in order.
fn segment_ids(dir: &Path) -> io::Result<Vec<u64>> {
    let mut ids: Vec<u64> = fs::read_dir(dir)?
        .filter_map(|e| e.ok())
        .filter_map(|e| {
            let name = e.file_name().into_string().ok()?;
            name.strip_suffix(".seg")?.parse().ok()
        })
        .collect();
    ids.sort_unstable();
    Ok(ids)
}

/// The acknowledged point written in `dir/ack` (`SEGMENT OFFSET`); the start when there is
/// none or it does not parse.
fn read_ack(dir: &Path) -> Cursor {
    fs::read_to_string(dir.join("ack"))
        .ok()
        .and_then(|s| {
            let mut it = s.split_whitespace();
            Some(Cursor {
                segment: it.next()?.parse().ok()?,
                offset: it.next()?.parse().ok()?,
            })
        })
        .unwrap_or(Cursor {
            segment: 0,
            offset: 0,
        })
}

impl DiskBuffer {
    /// Opens (creating if needed) the buffer in `dir`, replaying what an earlier run left.
    pub fn open(dir: &Path, max_bytes: u64, fsync: bool) -> io::Result<DiskBuffer> {
        fs::create_dir_all(dir)?;
        let ids = segment_ids(dir)?;
        let acked = read_ack(dir);
        let mut segments = VecDeque::new();
        let mut pending = 0;
        for id in ids {
            let path = segment_path(dir, id);
            if id < acked.segment {
                fs::remove_file(&path)?;
                continue;
            }
            let bytes = fs::read(&path)?;
            let from = if id == acked.segment {
                (acked.offset as usize).max(SEGMENT_MAGIC.len())
            } else {
                SEGMENT_MAGIC.len()
            };
            if bytes.len() <= SEGMENT_MAGIC.len() || from >= bytes.len() {
                fs::remove_file(&path)?;
                continue;
            }
            if bytes.starts_with(SEGMENT_MAGIC) {
                pending += count_records(&bytes, from).0;
            }
            segments.push_back(Segment {
                id,
                len: bytes.len() as u64,
            });
        }
        let next_id = segments.back().map_or(acked.segment, |s| s.id) + 1;
        let read = match segments.front() {
            Some(s) if s.id == acked.segment => acked,
            Some(s) => Cursor {
                segment: s.id,
                offset: 0,
            },
            None => Cursor {
                segment: next_id,
                offset: 0,
            },
        };
        let writer = Self::create_segment(dir, next_id)?;
        segments.push_back(Segment {
            id: next_id,
            len: SEGMENT_MAGIC.len() as u64,
        });
        Ok(DiskBuffer {
            dir: dir.to_path_buf(),
            max_bytes,
            segment_bytes: (max_bytes / 8).clamp(64 << 10, 32 << 20),
            fsync,
            segments,
            writer,
            read,
            acked: read,
            cache: None,
            pending,
            corrupted: 0,
            scratch: Vec::new(),
        })
    }

    fn create_segment(dir: &Path, id: u64) -> io::Result<File> {
        let mut f = OpenOptions::new()
            .create_new(true)
            .append(true)
            .mode(0o600)
            .open(segment_path(dir, id))?;
        f.write_all(SEGMENT_MAGIC)?;
        Ok(f)
    }

    /// Bytes of segment files on disk.
    pub fn bytes(&self) -> u64 {
        self.segments.iter().map(|s| s.len).sum()
    }

    /// Records written and not yet read.
    pub fn pending(&self) -> u64 {
        self.pending
    }

    /// Corrupted regions skipped so far (each a record or more).
    pub fn corrupted(&self) -> u64 {
        self.corrupted
    }

    /// Appends records in order; returns how many were written before the size cap was
    /// reached (the rest were not). Records over [`MAX_RECORD_BYTES`] are skipped, and counted
    /// as written so that the caller does not retry them.
    pub fn append(&mut self, records: &[Bytes]) -> io::Result<usize> {
        let mut total = self.bytes();
        let mut written = 0;
        self.scratch.clear();
        for rec in records {
            if rec.len() > MAX_RECORD_BYTES {
                written += 1;
                continue;
            }
            let size = (RECORD_HEADER + rec.len()) as u64;
            if total + size > self.max_bytes {
                break;
            }
            let active = self.segments.back().expect("an active segment");
            if active.len + self.scratch.len() as u64 + size > self.segment_bytes
                && active.len + self.scratch.len() as u64 > SEGMENT_MAGIC.len() as u64
            {
                self.flush_scratch()?;
                self.rotate()?;
                total += SEGMENT_MAGIC.len() as u64;
                if total + size > self.max_bytes {
                    break;
                }
            }
            let len = rec.len() as u32;
            self.scratch.extend_from_slice(&RECORD_MAGIC);
            self.scratch.extend_from_slice(&len.to_le_bytes());
            self.scratch.extend_from_slice(&crc(len, rec).to_le_bytes());
            self.scratch.extend_from_slice(rec);
            total += size;
            written += 1;
            self.pending += 1;
        }
        self.flush_scratch()?;
        Ok(written)
    }

    fn flush_scratch(&mut self) -> io::Result<()> {
        if self.scratch.is_empty() {
            return Ok(());
        }
        self.writer.write_all(&self.scratch)?;
        if self.fsync {
            self.writer.sync_data()?;
        }
        self.segments.back_mut().expect("an active segment").len += self.scratch.len() as u64;
        self.scratch.clear();
        Ok(())
    }

    fn rotate(&mut self) -> io::Result<()> {
        let id = self.segments.back().expect("an active segment").id + 1;
        self.writer = Self::create_segment(&self.dir, id)?;
        self.segments.push_back(Segment {
            id,
            len: SEGMENT_MAGIC.len() as u64,
        });
        Ok(())
    }

    /// Reads up to `max_records` records (and about `max_bytes`) after those already read,
    /// without acknowledging them. Skips and counts what does not verify.
    pub fn read(&mut self, max_records: usize, max_bytes: usize) -> io::Result<Vec<Bytes>> {
        let mut out = Vec::new();
        let mut size = 0;
        while out.len() < max_records && size < max_bytes {
            let Some(idx) = self.segments.iter().position(|s| s.id >= self.read.segment) else {
                break;
            };
            let (id, len) = (self.segments[idx].id, self.segments[idx].len);
            if id != self.read.segment {
                self.read = Cursor {
                    segment: id,
                    offset: 0,
                };
            }
            let last = idx + 1 == self.segments.len();
            self.load(id, len)?;
            let buf = &self.cache.as_ref().expect("loaded").1;
            if self.read.offset == 0 {
                if !buf.starts_with(SEGMENT_MAGIC) {
                    self.corrupted += 1;
                    self.read.offset = buf.len() as u64;
                } else {
                    self.read.offset = SEGMENT_MAGIC.len() as u64;
                }
            }
            let at = self.read.offset as usize;
            match parse_at(buf, at) {
                Parsed::Record(range, next) => {
                    size += range.len();
                    out.push(Bytes::copy_from_slice(&buf[range]));
                    self.read.offset = next as u64;
                    self.pending = self.pending.saturating_sub(1);
                }
                Parsed::Bad => {
                    self.corrupted += 1;
                    self.read.offset = resync(buf, at) as u64;
                }
                Parsed::End if last => break,
                Parsed::End => {
                    self.read = Cursor {
                        segment: id + 1,
                        offset: 0,
                    };
                }
            }
        }
        if out.is_empty() && self.pending > 0 && self.at_end() {
            self.pending = 0;
        }
        Ok(out)
    }

    fn at_end(&self) -> bool {
        let active = self.segments.back().expect("an active segment");
        self.read.segment == active.id && self.read.offset >= active.len
    }

    /// Makes sure the cache holds segment `id` up to `len` bytes.
    fn load(&mut self, id: u64, len: u64) -> io::Result<()> {
        match &mut self.cache {
            Some((cid, buf)) if *cid == id && buf.len() as u64 >= len => Ok(()),
            Some((cid, buf)) if *cid == id => {
                let mut f = File::open(segment_path(&self.dir, id))?;
                f.seek(SeekFrom::Start(buf.len() as u64))?;
                f.take(len - buf.len() as u64).read_to_end(buf)?;
                Ok(())
            }
            _ => {
                let mut buf = Vec::with_capacity(len as usize);
                File::open(segment_path(&self.dir, id))?
                    .take(len)
                    .read_to_end(&mut buf)?;
                self.cache = Some((id, buf));
                Ok(())
            }
        }
    }

    /// Acknowledges every record read so far: they are not replayed after a restart, and
    /// segments wholly acknowledged are deleted.
    pub fn ack(&mut self) -> io::Result<()> {
        if self.read == self.acked {
            return Ok(());
        }
        self.acked = self.read;
        while self.segments.len() > 1 && self.segments[0].id < self.acked.segment {
            let seg = self.segments.pop_front().expect("checked");
            if matches!(&self.cache, Some((id, _)) if *id == seg.id) {
                self.cache = None;
            }
            fs::remove_file(segment_path(&self.dir, seg.id))?;
        }
        let tmp = self.dir.join("ack.tmp");
        fs::write(
            &tmp,
            format!("{} {}\n", self.acked.segment, self.acked.offset),
        )?;
        fs::rename(tmp, self.dir.join("ack"))
    }

    /// Forgets what was read and not acknowledged: the next read starts again after the last
    /// acknowledged record.
    pub fn rewind(&mut self) {
        if self.read != self.acked {
            self.read = self.acked;
            self.cache = None;
            // Recount what is pending from the acknowledged point.
            let mut pending = 0;
            for seg in &self.segments {
                if seg.id < self.acked.segment {
                    continue;
                }
                if let Ok(buf) = fs::read(segment_path(&self.dir, seg.id)) {
                    let buf = &buf[..(seg.len as usize).min(buf.len())];
                    if buf.starts_with(SEGMENT_MAGIC) {
                        let from = if seg.id == self.acked.segment {
                            (self.acked.offset as usize).max(SEGMENT_MAGIC.len())
                        } else {
                            SEGMENT_MAGIC.len()
                        };
                        pending += count_records(buf, from).0;
                    }
                }
            }
            self.pending = pending;
        }
    }

    /// Every record that verifies in a buffer directory, in order, from the acknowledged
    /// point, without changing anything (for tests and inspection).
    pub fn inspect(dir: &Path) -> io::Result<Vec<Bytes>> {
        let ids = segment_ids(dir)?;
        let acked = read_ack(dir);
        let mut out = Vec::new();
        for id in ids.into_iter().filter(|id| *id >= acked.segment) {
            let buf = fs::read(segment_path(dir, id))?;
            if !buf.starts_with(SEGMENT_MAGIC) {
                continue;
            }
            let mut at = if id == acked.segment {
                (acked.offset as usize).max(SEGMENT_MAGIC.len())
            } else {
                SEGMENT_MAGIC.len()
            };
            loop {
                match parse_at(&buf, at) {
                    Parsed::End => break,
                    Parsed::Record(r, next) => {
                        out.push(Bytes::copy_from_slice(&buf[r]));
                        at = next;
                    }
                    Parsed::Bad => at = resync(&buf, at),
                }
            }
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn recs(v: &[&str]) -> Vec<Bytes> {
        v.iter()
            .map(|s| Bytes::copy_from_slice(s.as_bytes()))
            .collect()
    }

    fn drain(b: &mut DiskBuffer) -> Vec<Bytes> {
        let mut out = Vec::new();
        loop {
            let got = b.read(7, 1 << 20).unwrap();
            if got.is_empty() {
                return out;
            }
            out.extend(got);
        }
    }

    #[test]
    fn records_survive_reopen_until_acknowledged() {
        let dir = tempfile::tempdir().unwrap();
        let mut b = DiskBuffer::open(dir.path(), 1 << 20, true).unwrap();
        b.append(&recs(&["a", "b", "c"])).unwrap();
        assert_eq!(b.pending(), 3);
        assert_eq!(b.read(2, 1 << 20).unwrap(), recs(&["a", "b"]));
        b.ack().unwrap();
        assert_eq!(b.read(1, 1 << 20).unwrap(), recs(&["c"]));
        drop(b); // "c" read but not acknowledged: replayed
        let mut b = DiskBuffer::open(dir.path(), 1 << 20, true).unwrap();
        assert_eq!(b.pending(), 1);
        assert_eq!(drain(&mut b), recs(&["c"]));
        b.ack().unwrap();
        drop(b);
        let mut b = DiskBuffer::open(dir.path(), 1 << 20, true).unwrap();
        assert!(drain(&mut b).is_empty());
        // Acknowledged segments are gone: only the fresh active one is left.
        let segs = fs::read_dir(dir.path())
            .unwrap()
            .filter(|e| e.as_ref().unwrap().path().extension() == Some("seg".as_ref()))
            .count();
        assert_eq!(segs, 1);
    }

    #[test]
    fn size_cap_refuses_what_does_not_fit() {
        let dir = tempfile::tempdir().unwrap();
        let mut b = DiskBuffer::open(dir.path(), 100, false).unwrap();
        let big = vec![Bytes::from(vec![b'x'; 30]); 5];
        let n = b.append(&big).unwrap();
        assert_eq!(n, 2, "8 header + 2 × 40 fits in 100, a third does not");
        assert!(b.bytes() <= 100);
        assert_eq!(b.read(10, 1 << 20).unwrap().len(), 2);
    }

    #[test]
    fn a_flipped_byte_skips_one_record_and_is_counted() {
        let dir = tempfile::tempdir().unwrap();
        let mut b = DiskBuffer::open(dir.path(), 1 << 20, false).unwrap();
        b.append(&recs(&["first", "second", "third"])).unwrap();
        drop(b);
        let seg = segment_path(dir.path(), 1);
        let mut bytes = fs::read(&seg).unwrap();
        let at = SEGMENT_MAGIC.len() + RECORD_HEADER + 5 + RECORD_HEADER + 2;
        bytes[at] ^= 0x40;
        fs::write(&seg, bytes).unwrap();
        let mut b = DiskBuffer::open(dir.path(), 1 << 20, false).unwrap();
        assert_eq!(drain(&mut b), recs(&["first", "third"]));
        assert_eq!(b.corrupted(), 1);
    }

    #[test]
    fn a_torn_tail_and_a_bad_segment_header_are_skipped() {
        let dir = tempfile::tempdir().unwrap();
        let mut b = DiskBuffer::open(dir.path(), 1 << 20, false).unwrap();
        b.append(&recs(&["one", "two"])).unwrap();
        drop(b);
        let seg1 = segment_path(dir.path(), 1);
        let len = fs::metadata(&seg1).unwrap().len();
        OpenOptions::new()
            .write(true)
            .open(&seg1)
            .unwrap()
            .set_len(len - 2)
            .unwrap();
        let mut b = DiskBuffer::open(dir.path(), 1 << 20, false).unwrap();
        b.append(&recs(&["three"])).unwrap();
        drop(b);
        let seg2 = segment_path(dir.path(), 2);
        let mut bytes = fs::read(&seg2).unwrap();
        bytes[0] = b'X';
        fs::write(&seg2, bytes).unwrap();
        let mut b = DiskBuffer::open(dir.path(), 1 << 20, false).unwrap();
        b.append(&recs(&["four"])).unwrap();
        assert_eq!(drain(&mut b), recs(&["one", "four"]));
        assert_eq!(b.corrupted(), 2);
    }

    #[derive(Debug, Clone)]
    enum Op {
        Append(Vec<Vec<u8>>),
        Read(usize),
        Ack,
        Rewind,
        Reopen,
    }

    fn op() -> impl Strategy<Value = Op> {
        prop_oneof![
            4 => prop::collection::vec(prop::collection::vec(any::<u8>(), 0..300), 1..20)
                .prop_map(Op::Append),
            3 => (1usize..30).prop_map(Op::Read),
            2 => Just(Op::Ack),
            1 => Just(Op::Rewind),
            1 => Just(Op::Reopen),
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]

        /// The buffer behaves as a queue with a read cursor and an acknowledged cursor:
        /// reopening (or rewinding) replays exactly what was not acknowledged.
        #[test]
        fn behaves_like_a_queue_with_acknowledgement(ops in prop::collection::vec(op(), 1..40)) {
            let dir = tempfile::tempdir().unwrap();
            let mut b = DiskBuffer::open(dir.path(), 256 << 10, false).unwrap();
            let mut model: VecDeque<Vec<u8>> = VecDeque::new();
            let mut read = 0usize; // records of `model` read, not acknowledged
            for op in ops {
                match op {
                    Op::Append(v) => {
                        let v: Vec<Bytes> = v.into_iter().map(Bytes::from).collect();
                        let n = b.append(&v).unwrap();
                        model.extend(v[..n].iter().map(|r| r.to_vec()));
                    }
                    Op::Read(n) => {
                        let got = b.read(n, usize::MAX).unwrap();
                        let want: Vec<Vec<u8>> = model.iter().skip(read).take(n).cloned().collect();
                        prop_assert_eq!(got.iter().map(|r| r.to_vec()).collect::<Vec<_>>(), want);
                        read += got.len();
                    }
                    Op::Ack => {
                        b.ack().unwrap();
                        model.drain(..read);
                        read = 0;
                    }
                    Op::Rewind => {
                        b.rewind();
                        read = 0;
                    }
                    Op::Reopen => {
                        drop(b);
                        b = DiskBuffer::open(dir.path(), 256 << 10, false).unwrap();
                        read = 0;
                    }
                }
                prop_assert_eq!(b.pending() as usize, model.len() - read);
            }
            b.rewind();
            let all: Vec<Vec<u8>> = drain(&mut b).iter().map(|r| r.to_vec()).collect();
            prop_assert_eq!(all, model.into_iter().collect::<Vec<_>>());
            prop_assert_eq!(b.corrupted(), 0);
        }

        /// Flipping any byte of any segment loses at most the record it hit (or that
        /// segment, when it hits the header), is counted, and never panics.
        #[test]
        fn a_flipped_byte_is_detected_and_skipped(
            batches in prop::collection::vec(
                prop::collection::vec(prop::collection::vec(any::<u8>(), 1..200), 1..30), 1..6),
            pick in any::<prop::sample::Index>(),
            bit in 0u8..8,
        ) {
            let dir = tempfile::tempdir().unwrap();
            let mut all = Vec::new();
            for batch in batches {
                // One segment per batch: reopen starts a new one.
                let mut b = DiskBuffer::open(dir.path(), 1 << 30, false).unwrap();
                let v: Vec<Bytes> = batch.into_iter().map(Bytes::from).collect();
                prop_assert_eq!(b.append(&v).unwrap(), v.len());
                all.push(v);
            }
            let mut files: Vec<PathBuf> = fs::read_dir(dir.path()).unwrap()
                .map(|e| e.unwrap().path())
                .filter(|p| fs::metadata(p).unwrap().len() > SEGMENT_MAGIC.len() as u64)
                .collect();
            files.sort();
            prop_assert_eq!(files.len(), all.len());
            let sizes: Vec<u64> = files.iter().map(|f| fs::metadata(f).unwrap().len()).collect();
            let total: u64 = sizes.iter().sum();
            let mut at = pick.index(total as usize) as u64;
            let mut seg = 0;
            while at >= sizes[seg] { at -= sizes[seg]; seg += 1; }
            let mut bytes = fs::read(&files[seg]).unwrap();
            bytes[at as usize] ^= 1 << bit;
            fs::write(&files[seg], bytes).unwrap();

            let mut b = DiskBuffer::open(dir.path(), 1 << 30, false).unwrap();
            let got = drain(&mut b);
            prop_assert!(b.corrupted() >= 1);
            let mut expected_min = 0;
            for (i, v) in all.iter().enumerate() {
                if i != seg { expected_min += v.len(); }
            }
            prop_assert!(got.len() >= expected_min + all[seg].len().saturating_sub(1)
                || at < SEGMENT_MAGIC.len() as u64);
            // Order is kept and nothing is invented.
            let flat: Vec<&Bytes> = all.iter().flatten().collect();
            let mut it = flat.iter();
            for g in &got {
                prop_assert!(it.any(|r| *r == g), "a record not appended, or out of order");
            }
            // Every record of the other segments is there.
            for (i, v) in all.iter().enumerate() {
                if i != seg {
                    for r in v { prop_assert!(got.contains(r)); }
                }
            }
        }
    }
}
