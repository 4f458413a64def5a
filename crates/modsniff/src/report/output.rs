//! `--output FILE`: the records into a file that rotates by size and by age, and is reopened
//! on request (SIGHUP, logrotate's habit), without losing or cutting a record.
//!
//! The file only ever ends between two records: a rotation that falls due in the middle of a
//! record waits for its newline. A rotation is, in this order:
//!
//! 1. the current file holds whole records only (everything written with `write(2)`),
//! 2. `fsync(FILE)`: its bytes are on disk,
//! 3. `rename(FILE, FILE.<UTC time of the rotation>)`: atomic; a reader only ever sees
//!    complete, synced files under the rotated names (the name sorts in time order; `.N` is
//!    added in the rare case that name exists),
//! 4. `fsync` of the directory: the rename is on disk,
//! 5. `open(FILE, O_CREAT | O_APPEND)`: the next records go to a new file.
//!
//! A crash between 2 and 3 leaves a complete FILE, which the next start rotates out (cutting
//! a partly written last record first, and saying so); between 3 and 5, no FILE, which the
//! next start creates.
//!
//! A full disk (`ENOSPC`, `EDQUOT`, `EFBIG`) is not an error of the run: the records that
//! could not be written whole are cut back out of the file, counted and said on standard
//! error (at once, then at most once a minute, and at the end), and writing resumes with the
//! next record once there is room. Other write errors end the run as before.

use crate::stdio::errln;
use std::fs::{File, OpenOptions};
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// How often a full disk is said again while records keep being dropped.
const SAY_FULL_EVERY: Duration = Duration::from_secs(60);

/// Where the records go and when the file rotates.
#[derive(Clone, Debug)]
pub struct Rotation {
    pub path: PathBuf,
    /// Rotate once the file holds this many bytes (at the next record boundary).
    pub max_bytes: Option<u64>,
    /// Rotate once the file's first record is this old (checked at each write and flush:
    /// `live` flushes twice a second).
    pub max_age: Option<Duration>,
    /// Set (by a SIGHUP handler) to have the file closed and opened again by name.
    pub reopen: Option<Arc<AtomicBool>>,
}

impl Rotation {
    /// The file rotates by itself (and so is also rotated out at start and at the end).
    fn rotates(&self) -> bool {
        self.max_bytes.is_some() || self.max_age.is_some()
    }
}

/// What happened to the output, for the end of the run and the tests.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct OutputCounts {
    /// Records that could not be written (full disk), each counted once.
    pub dropped_records: u64,
    /// Files closed and renamed.
    pub rotations: u64,
    /// Bytes of a partly written record cut from a file left by an earlier process.
    pub cut_bytes: u64,
}

/// The `--output` writer. It is handed whole records (or pieces of them: it finds the record
/// boundaries itself, at each `\n`).
pub struct RotatingFile {
    cfg: Rotation,
    /// `None` while the file cannot be opened (a full disk): records are dropped and counted
    /// until it can.
    file: Option<File>,
    /// Bytes in the current file.
    size: u64,
    /// The file's size at the end of its last whole record.
    boundary: u64,
    /// When the current file received its first byte.
    first_write: Option<Instant>,
    /// Discarding the rest of a record that could not be written.
    dropping: bool,
    counts: OutputCounts,
    /// Dropped records already said on standard error, and when.
    said: (u64, Option<Instant>),
    finished: bool,
}

fn is_full(e: &io::Error) -> bool {
    matches!(e.raw_os_error(), Some(28 | 122 | 27)) // ENOSPC, EDQUOT, EFBIG (Linux)
        || matches!(
            e.kind(),
            io::ErrorKind::StorageFull | io::ErrorKind::QuotaExceeded | io::ErrorKind::FileTooLarge
        )
}

fn open_append(path: &Path) -> io::Result<File> {
    OpenOptions::new()
        .create(true)
        .append(true)
        .read(true)
        .open(path)
}

/// The directory holding `path`, for the `fsync` that makes a rename durable.
fn sync_dir(path: &Path) -> io::Result<()> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    File::open(dir)?.sync_all()
}

/// `FILE.20260501T120000.123456Z` for a rotation at that instant.
pub fn rotated_name(path: &Path, nanos: u64) -> PathBuf {
    let mut stamp = Vec::new();
    super::records::write_utc_compact(&mut stamp, nanos);
    let mut name = path.as_os_str().to_owned();
    name.push(".");
    name.push(String::from_utf8_lossy(&stamp).as_ref());
    PathBuf::from(name)
}

impl RotatingFile {
    /// Opens `cfg.path` for appending. What an earlier process left there is made to end
    /// between two records (a cut last record is removed and said), and, when the file
    /// rotates by itself, rotated out first: each file then holds one process's records.
    pub fn open(cfg: Rotation) -> io::Result<RotatingFile> {
        let file = open_append(&cfg.path).map_err(|e| {
            io::Error::new(
                e.kind(),
                format!("opening the output {}: {e}", cfg.path.display()),
            )
        })?;
        let mut w = RotatingFile {
            cfg,
            file: Some(file),
            size: 0,
            boundary: 0,
            first_write: None,
            dropping: false,
            counts: OutputCounts::default(),
            said: (0, None),
            finished: false,
        };
        w.adopt_leftover()?;
        Ok(w)
    }

    #[cfg(test)]
    pub fn counts(&self) -> OutputCounts {
        self.counts
    }

    /// Cuts a partly written last record off the file an earlier process left, then (when
    /// rotating) renames it out of the way.
    fn adopt_leftover(&mut self) -> io::Result<()> {
        let Some(f) = self.file.as_mut() else {
            return Ok(());
        };
        let len = f.metadata()?.len();
        let keep = last_newline_end(f, len)?;
        if keep < len {
            f.set_len(keep)?;
            self.counts.cut_bytes += len - keep;
            errln!(
                "modsniff: output: {} ended inside a record (an earlier run stopped while writing it): cut its last {} bytes",
                self.cfg.path.display(),
                len - keep
            );
        }
        self.size = keep;
        self.boundary = keep;
        if keep > 0 {
            self.first_write = Some(Instant::now());
            if self.cfg.rotates() {
                self.rotate(true)?;
            }
        }
        Ok(())
    }

    /// A rotation is due: by size, by age, or asked for.
    fn due(&self) -> bool {
        self.cfg.max_bytes.is_some_and(|m| self.size >= m)
            || self
                .cfg
                .max_age
                .zip(self.first_write)
                .is_some_and(|(age, first)| first.elapsed() >= age)
    }

    /// At a record boundary: reopens when asked, rotates when due.
    fn at_boundary(&mut self) -> io::Result<()> {
        if self
            .cfg
            .reopen
            .as_ref()
            .is_some_and(|r| r.swap(false, Ordering::SeqCst))
        {
            self.reopen()?;
        }
        if self.size > 0 && self.due() {
            self.rotate(true)?;
        }
        if self.file.is_none() {
            self.try_open();
        }
        Ok(())
    }

    fn try_open(&mut self) {
        match open_append(&self.cfg.path).and_then(|f| f.metadata().map(|m| (f, m.len()))) {
            Ok((f, len)) => {
                self.file = Some(f);
                self.size = len;
                self.boundary = len;
                self.first_write = (len > 0).then(Instant::now);
            }
            Err(e) => self.say_full(&e),
        }
    }

    /// Closes the file and opens the path again (someone renamed it: logrotate).
    fn reopen(&mut self) -> io::Result<()> {
        if let Some(f) = self.file.take() {
            f.sync_all()?;
        }
        self.try_open();
        Ok(())
    }

    /// Steps 2-5 of the module's comment (5 when `open_next`).
    fn rotate(&mut self, open_next: bool) -> io::Result<()> {
        let Some(f) = self.file.take() else {
            return Ok(());
        };
        f.sync_all()?;
        drop(f);
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX));
        let base = rotated_name(&self.cfg.path, now);
        let mut to = base.clone();
        let mut n = 0;
        while to.exists() {
            n += 1;
            let mut name = base.as_os_str().to_owned();
            name.push(format!(".{n}"));
            to = PathBuf::from(name);
        }
        std::fs::rename(&self.cfg.path, &to)?;
        sync_dir(&self.cfg.path)?;
        self.counts.rotations += 1;
        self.size = 0;
        self.boundary = 0;
        self.first_write = None;
        if open_next {
            self.try_open();
        }
        Ok(())
    }

    /// Writes `chunk` (which ends at a record boundary, or is the start of a record)
    /// whole, or cuts the file back to its last whole record and drops the rest.
    fn append(&mut self, chunk: &[u8]) -> io::Result<()> {
        let Some(f) = self.file.as_mut() else {
            self.drop_from(chunk, 0);
            return Ok(());
        };
        let mut written = 0;
        let err = loop {
            if written == chunk.len() {
                break None;
            }
            match f.write(&chunk[written..]) {
                Ok(0) => break Some(io::Error::from(io::ErrorKind::WriteZero)),
                Ok(n) => written += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => break Some(e),
            }
        };
        if self.first_write.is_none() && written > 0 {
            self.first_write = Some(Instant::now());
        }
        let start = self.size;
        match err {
            None => {
                self.size += chunk.len() as u64;
                if chunk.last() == Some(&b'\n') {
                    self.boundary = self.size;
                } else if let Some(i) = chunk.iter().rposition(|&b| b == b'\n') {
                    self.boundary = start + i as u64 + 1;
                }
                if self.counts.dropped_records > self.said.0 {
                    errln!(
                        "modsniff: output: writing {} again; {} records dropped so far",
                        self.cfg.path.display(),
                        self.counts.dropped_records
                    );
                    self.said = (self.counts.dropped_records, None);
                }
                Ok(())
            }
            Some(e) if is_full(&e) || e.kind() == io::ErrorKind::WriteZero => {
                // Keep the records that went in whole; cut the rest back out.
                let kept_in_chunk = chunk[..written]
                    .iter()
                    .rposition(|&b| b == b'\n')
                    .map(|i| i + 1);
                let keep = match kept_in_chunk {
                    Some(k) => start + k as u64,
                    None => self.boundary,
                };
                f.set_len(keep)?;
                self.size = keep;
                self.boundary = keep;
                self.drop_from(chunk, kept_in_chunk.unwrap_or(0));
                self.say_full(&e);
                Ok(())
            }
            Some(e) => Err(io::Error::new(
                e.kind(),
                format!("writing the output {}: {e}", self.cfg.path.display()),
            )),
        }
    }

    /// Drops `chunk[from..]`: each record whose newline is in it counts once; a record it
    /// ends inside of is dropped up to its newline in a later write.
    fn drop_from(&mut self, chunk: &[u8], from: usize) {
        let rest = chunk.get(from..).unwrap_or_default();
        self.counts.dropped_records += rest.iter().filter(|&&b| b == b'\n').count() as u64;
        self.dropping = rest.last().is_some_and(|&b| b != b'\n');
    }

    fn say_full(&mut self, e: &io::Error) {
        let again = self.said.1.is_none_or(|t| t.elapsed() >= SAY_FULL_EVERY);
        if again && self.counts.dropped_records > self.said.0 {
            errln!(
                "modsniff: output: {}: {e}: whole records are dropped until there is room ({} so far)",
                self.cfg.path.display(),
                self.counts.dropped_records
            );
            self.said = (self.counts.dropped_records, Some(Instant::now()));
        }
    }

    /// Ends the output: the last whole records synced and, when the file rotates by itself,
    /// rotated out so that a shipper sees them. Said when records were dropped.
    pub fn finish(&mut self) -> io::Result<()> {
        if self.finished {
            return Ok(());
        }
        self.finished = true;
        let r = if self.cfg.rotates() && self.size > 0 {
            self.rotate(false)
        } else if self.cfg.rotates() && self.file.take().is_some() {
            // Nothing since the last rotation: no empty file is left behind.
            std::fs::remove_file(&self.cfg.path)
        } else {
            self.file.as_ref().map_or(Ok(()), File::sync_all)
        };
        if self.counts.dropped_records > 0 {
            errln!(
                "modsniff: output: {} records could not be written to {} (full disk)",
                self.counts.dropped_records,
                self.cfg.path.display()
            );
            self.said.0 = self.counts.dropped_records;
        }
        r
    }
}

/// The length of the file's longest prefix that ends with `\n` (0 when there is none).
fn last_newline_end(f: &mut File, len: u64) -> io::Result<u64> {
    const BLOCK: u64 = 64 << 10;
    let mut end = len;
    let mut buf = vec![0u8; BLOCK as usize];
    while end > 0 {
        let start = end.saturating_sub(BLOCK);
        let n = (end - start) as usize;
        f.seek(SeekFrom::Start(start))?;
        let block = &mut buf[..n];
        f.read_exact(block)?;
        if let Some(i) = block.iter().rposition(|&b| b == b'\n') {
            return Ok(start + i as u64 + 1);
        }
        end = start;
    }
    Ok(0)
}

impl Write for RotatingFile {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let mut rest = buf;
        while !rest.is_empty() {
            if self.dropping {
                match rest.iter().position(|&b| b == b'\n') {
                    Some(i) => {
                        self.counts.dropped_records += 1;
                        self.dropping = false;
                        rest = &rest[i + 1..];
                        continue;
                    }
                    None => break,
                }
            }
            if self.size == self.boundary {
                self.at_boundary()?;
            }
            // A rotation that falls due (or will, within this chunk, by size) waits for the
            // end of the record being written, and no longer.
            let cut_from = if self.due() || self.reopen_asked() {
                Some(0)
            } else {
                self.cfg.max_bytes.and_then(|m| {
                    let room = usize::try_from(m.saturating_sub(self.size)).unwrap_or(usize::MAX);
                    (rest.len() > room).then(|| room.saturating_sub(1))
                })
            };
            let n = match cut_from {
                Some(k) => rest
                    .get(k..)
                    .and_then(|tail| tail.iter().position(|&b| b == b'\n'))
                    .map_or(rest.len(), |i| k + i + 1),
                None => rest.len(),
            };
            self.append(&rest[..n])?;
            rest = &rest[n..];
        }
        Ok(buf.len())
    }

    /// Also the clock of the rotation by age and of a reopen asked for while idle.
    fn flush(&mut self) -> io::Result<()> {
        if self.size == self.boundary && !self.dropping {
            self.at_boundary()?;
        }
        Ok(())
    }
}

impl RotatingFile {
    fn reopen_asked(&self) -> bool {
        self.cfg
            .reopen
            .as_ref()
            .is_some_and(|r| r.load(Ordering::SeqCst))
    }
}

impl Drop for RotatingFile {
    fn drop(&mut self) {
        if let Err(e) = self.finish() {
            errln!("modsniff: output: closing {}: {e}", self.cfg.path.display());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dir(tag: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("modsniff-output-{}-{tag}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap();
        d
    }

    /// Every file under `d` (rotated ones in name order, then the current one).
    fn files(d: &Path) -> Vec<(String, Vec<u8>)> {
        let mut v: Vec<(String, Vec<u8>)> = std::fs::read_dir(d)
            .unwrap()
            .map(|e| {
                let p = e.unwrap().path();
                (
                    p.file_name().unwrap().to_string_lossy().into_owned(),
                    std::fs::read(&p).unwrap(),
                )
            })
            .collect();
        v.sort();
        v
    }

    fn records(n: usize) -> Vec<u8> {
        let mut all = Vec::new();
        for i in 0..n {
            all.extend_from_slice(
                format!("{{\"seq\":{i},\"pad\":\"{}\"}}\n", "x".repeat(i % 37)).as_bytes(),
            );
        }
        all
    }

    #[test]
    fn rotates_by_size_between_whole_records_whatever_the_chunks() {
        let all = records(500);
        for chunk in [1, 7, 64, 4096, all.len()] {
            let d = dir(&format!("size-{chunk}"));
            let path = d.join("out.ndjson");
            let mut w = RotatingFile::open(Rotation {
                path: path.clone(),
                max_bytes: Some(1000),
                max_age: None,
                reopen: None,
            })
            .unwrap();
            for c in all.chunks(chunk) {
                w.write_all(c).unwrap();
            }
            w.finish().unwrap();
            let fs = files(&d);
            assert!(fs.len() > 5, "{chunk}: {} files", fs.len());
            assert!(!path.exists(), "the last file is rotated out at the end");
            let mut joined = Vec::new();
            for (name, bytes) in &fs {
                assert!(name.starts_with("out.ndjson.2"), "{name}");
                assert_eq!(bytes.last(), Some(&b'\n'), "{name} ends between records");
                // A file grows past the limit by at most the record that crossed it.
                assert!(bytes.len() < 1000 + 60, "{name}: {}", bytes.len());
                joined.extend_from_slice(bytes);
            }
            assert_eq!(
                joined, all,
                "chunks of {chunk}: nothing lost, nothing twice"
            );
            assert_eq!(w.counts().rotations as usize, fs.len());
        }
    }

    #[test]
    fn a_cut_leftover_is_trimmed_and_rotated_out_at_start() {
        let d = dir("leftover");
        let path = d.join("out.ndjson");
        std::fs::write(&path, b"{\"a\":1}\n{\"a\":2}\n{\"a\":").unwrap();
        let mut w = RotatingFile::open(Rotation {
            path: path.clone(),
            max_bytes: Some(1 << 20),
            max_age: None,
            reopen: None,
        })
        .unwrap();
        assert_eq!(w.counts().cut_bytes, 5);
        w.write_all(b"{\"b\":1}\n").unwrap();
        w.finish().unwrap();
        let fs = files(&d);
        assert_eq!(fs.len(), 2, "{fs:?}");
        assert_eq!(fs[0].1, b"{\"a\":1}\n{\"a\":2}\n");
        assert_eq!(fs[1].1, b"{\"b\":1}\n");
    }

    #[test]
    fn reopen_follows_a_rename_without_rotating() {
        let d = dir("reopen");
        let path = d.join("out.ndjson");
        let flag = Arc::new(AtomicBool::new(false));
        let mut w = RotatingFile::open(Rotation {
            path: path.clone(),
            max_bytes: None,
            max_age: None,
            reopen: Some(flag.clone()),
        })
        .unwrap();
        w.write_all(b"{\"a\":1}\n{\"a\":").unwrap();
        // logrotate renames, then signals; the record being written ends in the old file.
        std::fs::rename(&path, d.join("out.ndjson.1")).unwrap();
        flag.store(true, Ordering::SeqCst);
        w.write_all(b"2}\n{\"a\":3}\n").unwrap();
        w.flush().unwrap();
        drop(w);
        assert_eq!(
            std::fs::read(d.join("out.ndjson.1")).unwrap(),
            b"{\"a\":1}\n{\"a\":2}\n"
        );
        assert_eq!(std::fs::read(&path).unwrap(), b"{\"a\":3}\n");
    }

    #[test]
    fn rotates_by_age_on_flush() {
        let d = dir("age");
        let path = d.join("out.ndjson");
        let mut w = RotatingFile::open(Rotation {
            path: path.clone(),
            max_bytes: None,
            max_age: Some(Duration::ZERO),
            reopen: None,
        })
        .unwrap();
        w.write_all(b"{\"a\":1}\n").unwrap();
        w.flush().unwrap();
        assert!(!path.exists() || std::fs::read(&path).unwrap().is_empty());
        assert_eq!(w.counts().rotations, 1);
        // An empty file is not rotated.
        w.flush().unwrap();
        assert_eq!(w.counts().rotations, 1);
    }

    #[test]
    fn rotated_names_sort_in_time_order() {
        let p = Path::new("/x/out.ndjson");
        let a = rotated_name(p, 1_795_425_455_550_580_000);
        assert_eq!(a, Path::new("/x/out.ndjson.20261123T091735.550580Z"));
        let b = rotated_name(p, 1_795_425_455_550_581_000);
        assert!(a < b);
    }
}
