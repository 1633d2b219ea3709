//! The write-ahead log `<file>-wal`: every change since the last save, as
//! checksummed records, replayed on open and folded into the file by save.
//!
//! ```text
//! header, 32 bytes: magic "HGNNWAL1" · version u32 · 0 u32 · file id u64 ·
//!                   generation u64
//! records:          payload length u32 · CRC32 u32 (of the length bytes and
//!                   the payload) · payload
//! ```
//!
//! A log continues the file whose `file id` and `generation` it names. A
//! save writes generation `g + 1` and then resets the log to it, so a crash
//! between the two leaves a log of generation `g` under a file of `g + 1`:
//! its records are already in the file and it is discarded.
//!
//! Reading stops at the first record that is short, too long or fails its
//! checksum: that is a torn tail from a crash mid-append, and the writer
//! truncates it. Everything before it was acknowledged.
//!
//! # Record kinds
//!
//! A payload's first byte is its kind: bits 0–5 the kind's code, bits 6
//! and 7 how a program that does not know the code must treat the record
//! (the file's section flags, see `file::sections`): bit 7 *must
//! understand* — a writable open refuses the log, a read-only one skips the
//! record; bit 6 *safe to copy* — a save keeps the record, appending it to
//! the emptied log, where without the bit it is dropped. What the codes
//! mean is the database's business (`db::wal_record`); codes known since
//! the first version (1, 2, 3) are written without flag bits.
//!
//! # Durability
//!
//! Records are appended to a buffer under the caller's lock (so the log's
//! order is the order changes were applied). A caller then asks to hear
//! when its record is durable ([`Wal::when_durable`], or the blocking
//! [`Wal::commit`]); for `Batch` and `Fsync` a committer thread writes and
//! fsyncs everything buffered and answers every waiter it covers (group
//! commit), so no writer's thread sits in an fsync and any number of
//! writes in flight share one. The file is the database's lock: the writer
//! holds an exclusive `flock` on it (except on WASI, which has no locks;
//! see `file::lock`).

use crate::error::{Error, Result};
use crate::file::{AppendFile, ByteReader, FileHandle, FileLock, SectionFlags, FILE_HANDLE};
use std::fs::OpenOptions;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

const MAGIC: &[u8; 8] = b"HGNNWAL1";
const VERSION: u32 = 1;
pub const HEADER_BYTES: u64 = 32;
const RECORD_HEADER_BYTES: usize = 8;
/// Longest record accepted; writers split larger batches.
pub const MAX_RECORD_BYTES: usize = 1 << 30;
/// `Batch` fsyncs at most this often.
pub const BATCH_INTERVAL: Duration = Duration::from_millis(10);
/// `None` writes its buffer to the file once it holds this much.
const UNSYNCED_BUFFER_BYTES: usize = 1 << 20;

/// When a write is acknowledged.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Durability {
    /// After its own fsync (shared with concurrent writers).
    Fsync,
    /// After an fsync that happens at most every 10 ms (group commit).
    Batch,
    /// At once; the record reaches the file within about 1 MiB of later
    /// writes and on save/close, and is never fsynced. A crash can lose
    /// every write since the last save.
    None,
}

impl Durability {
    pub fn parse(name: &str) -> Result<Durability> {
        match name {
            "fsync" => Ok(Durability::Fsync),
            "batch" => Ok(Durability::Batch),
            "none" => Ok(Durability::None),
            other => Err(Error::invalid_argument(format!(
                "durability must be 'fsync', 'batch' or 'none', got {other:?}"
            ))),
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Durability::Fsync => "fsync",
            Durability::Batch => "batch",
            Durability::None => "none",
        }
    }
}

const RECORD_MUST_UNDERSTAND: u8 = 0x80;
const RECORD_SAFE_TO_COPY: u8 = 0x40;
const RECORD_CODE_MASK: u8 = 0x3F;

/// The kind byte of a record: `code` (below 64) and the flags for a reader
/// that does not know it.
pub fn record_kind_byte(code: u8, flags: SectionFlags) -> u8 {
    debug_assert!(code <= RECORD_CODE_MASK);
    code | if flags.must_understand {
        RECORD_MUST_UNDERSTAND
    } else {
        0
    } | if flags.safe_to_copy {
        RECORD_SAFE_TO_COPY
    } else {
        0
    }
}

/// The code and flags of a record's kind byte.
pub fn record_kind(kind_byte: u8) -> (u8, SectionFlags) {
    let flags = SectionFlags {
        must_understand: kind_byte & RECORD_MUST_UNDERSTAND != 0,
        safe_to_copy: kind_byte & RECORD_SAFE_TO_COPY != 0,
    };
    (kind_byte & RECORD_CODE_MASK, flags)
}

/// The path of the log that belongs to the database file at `path`.
pub fn wal_path(path: &Path) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push("-wal");
    PathBuf::from(name)
}

/// What a log file holds: whom it continues, and its valid records.
#[derive(Debug, PartialEq)]
pub struct WalContents {
    pub file_id: u64,
    pub generation: u64,
    /// Payloads of the valid records, in order.
    pub records: Vec<Vec<u8>>,
    /// Where the valid records end; anything after is a torn tail.
    pub valid_len: u64,
}

fn encode_header(file_id: u64, generation: u64) -> [u8; HEADER_BYTES as usize] {
    let mut header = [0; HEADER_BYTES as usize];
    header[..8].copy_from_slice(MAGIC);
    header[8..12].copy_from_slice(&VERSION.to_le_bytes());
    header[16..24].copy_from_slice(&file_id.to_le_bytes());
    header[24..32].copy_from_slice(&generation.to_le_bytes());
    header
}

fn record_crc(payload: &[u8]) -> u32 {
    let mut hasher = crc32fast::Hasher::new();
    hasher.update(&(payload.len() as u32).to_le_bytes());
    hasher.update(payload);
    hasher.finalize()
}

/// Parses a whole log. `None` when it is too short to have a header (a
/// crash while creating it); a header that is not a log's, or from a newer
/// version, is an error.
pub fn parse(bytes: &[u8]) -> Result<Option<WalContents>> {
    if (bytes.len() as u64) < HEADER_BYTES {
        return Ok(None);
    }
    let mut header = ByteReader::new(&bytes[..HEADER_BYTES as usize], "write-ahead log header");
    if header.take(8, "magic")? != MAGIC {
        return Err(header.corrupt("bad magic bytes"));
    }
    let version = header.u32("version")?;
    if version != VERSION {
        return Err(Error::UnsupportedFormat(format!(
            "write-ahead log version {version}; this hnsw-gnn reads {VERSION}"
        )));
    }
    header.u32("reserved")?;
    let file_id = header.u64("file id")?;
    let generation = header.u64("generation")?;
    let mut records = Vec::new();
    let mut position = HEADER_BYTES as usize;
    while let Some(payload) = payload_at(bytes, position) {
        let crc = u32::from_le_bytes(bytes[position + 4..position + 8].try_into().expect("4"));
        if record_crc(&bytes[payload.clone()]) != crc {
            break;
        }
        records.push(bytes[payload.clone()].to_vec());
        position = payload.end;
    }
    Ok(Some(WalContents {
        file_id,
        generation,
        records,
        valid_len: position as u64,
    }))
}

/// Where the payload of the record framed at `position` lies, if its
/// header is whole and its length fits the format and the bytes left.
fn payload_at(bytes: &[u8], position: usize) -> Option<std::ops::Range<usize>> {
    let header = bytes.get(position..position + RECORD_HEADER_BYTES)?;
    let len = u32::from_le_bytes(header[..4].try_into().expect("4")) as usize;
    let start = position + RECORD_HEADER_BYTES;
    (len <= MAX_RECORD_BYTES && len <= bytes.len() - start).then(|| start..start + len)
}

/// Recomputes the CRC of every record whose frame fits, up to the first
/// that does not, so mutation tests and the fuzz targets reach the record
/// decoder behind the checksums (`file::sections::refresh_checksums` does
/// the same for files).
#[doc(hidden)]
pub fn refresh_checksums(log: &mut [u8]) {
    let mut position = HEADER_BYTES as usize;
    while let Some(payload) = payload_at(log, position) {
        let crc = record_crc(&log[payload.clone()]);
        log[position + 4..position + 8].copy_from_slice(&crc.to_le_bytes());
        position = payload.end;
    }
}

/// A whole log holding `records`, as a writer would leave it (tests and
/// the fuzz target use it to reach the record decoder behind the CRCs).
#[doc(hidden)]
pub fn image(file_id: u64, generation: u64, records: &[&[u8]]) -> Vec<u8> {
    let mut out = encode_header(file_id, generation).to_vec();
    for payload in records {
        frame(&mut out, payload);
    }
    out
}

fn frame(out: &mut Vec<u8>, payload: &[u8]) {
    out.extend_from_slice(&(payload.len() as u32).to_le_bytes());
    out.extend_from_slice(&record_crc(payload).to_le_bytes());
    out.extend_from_slice(payload);
}

/// Reads the log at `path` without changing it; `None` if there is none.
pub fn read(path: &Path) -> Result<Option<WalContents>> {
    match std::fs::read(path) {
        Ok(bytes) => parse(&bytes),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(Error::io("cannot read", path, e)),
    }
}

/// Called once a record is durable, or with the error that stopped it.
pub type DurableCallback = Box<dyn FnOnce(Result<()>) + Send>;

/// The open, locked log of a writable database.
pub struct Wal {
    shared: Arc<Shared>,
    committer: Mutex<Option<JoinHandle<()>>>,
}

struct Shared {
    path: PathBuf,
    durability: Durability,
    /// What keeps other writers out: none on WASI, which cannot lock.
    lock: FileLock,
    /// Taken before `state` by whoever writes to the file, so buffers
    /// reach the file in the order they were filled. Reopened for each
    /// write on WASI, whose descriptors belong to one thread.
    file: Mutex<Option<AppendFile>>,
    state: Mutex<WalState>,
    /// Wakes the committer when a waiter arrives or the log closes.
    work: Condvar,
}

struct WalState {
    buffer: Vec<u8>,
    /// Sequence number of the last appended record.
    appended: u64,
    /// Every record up to this one is durable.
    durable: u64,
    /// Callers waiting for their record, in sequence order.
    waiters: Vec<(u64, DurableCallback)>,
    last_sync: Option<Instant>,
    /// Bytes in the file (header and records written so far).
    file_len: u64,
    /// Set when a write failed: the log no longer matches memory, so every
    /// later write fails too until a save folds memory into the file.
    failed: Option<String>,
    closing: bool,
    /// While a checkpoint writes the file: a copy of every record appended
    /// since it started (see [`Wal::start_capture`]).
    capture: Option<Vec<Vec<u8>>>,
}

impl Wal {
    /// Opens (creating if needed) and locks the log at `path`, returning it
    /// with its valid records. Another writer holding it gives `ERR_LOCKED`.
    /// A torn tail is truncated.
    pub fn open(path: &Path, durability: Durability) -> Result<(Wal, Option<WalContents>)> {
        let io_error = |what, e| Error::io(what, path, e);
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(path)
            .map_err(|e| io_error("cannot open", e))?;
        let lock = crate::file::lock_exclusive(&file, path)?;
        let mut bytes = Vec::new();
        file.read_to_end(&mut bytes)
            .map_err(|e| io_error("cannot read", e))?;
        let contents = parse(&bytes)?;
        let file_len = match &contents {
            Some(contents) if contents.valid_len < bytes.len() as u64 => {
                file.set_len(contents.valid_len)
                    .and_then(|_| file.sync_all())
                    .map_err(|e| io_error("cannot truncate the torn tail of", e))?;
                contents.valid_len
            }
            _ => bytes.len() as u64,
        };
        let shared = Arc::new(Shared {
            path: path.to_path_buf(),
            durability,
            lock,
            file: Mutex::new(Some(AppendFile::new(file, path, FILE_HANDLE))),
            state: Mutex::new(WalState {
                buffer: Vec::new(),
                appended: 0,
                durable: 0,
                waiters: Vec::new(),
                last_sync: None,
                file_len,
                failed: None,
                closing: false,
                capture: None,
            }),
            work: Condvar::new(),
        });
        let committer = if durability == Durability::None {
            None
        } else {
            let shared = shared.clone();
            let thread = std::thread::Builder::new()
                .name("hnsw-gnn-wal".into())
                .spawn(move || shared.run_committer())
                .map_err(|e| Error::Io(format!("cannot start the log committer thread: {e}")))?;
            Some(thread)
        };
        let wal = Wal {
            shared,
            committer: Mutex::new(committer),
        };
        Ok((wal, contents))
    }

    pub fn durability(&self) -> Durability {
        self.shared.durability
    }

    /// What keeps a second writer off this log (and so off its database).
    pub fn lock(&self) -> FileLock {
        self.shared.lock
    }

    /// Whether the log stays open or is reopened for each write (WASI).
    pub fn handle(&self) -> FileHandle {
        FILE_HANDLE
    }

    /// Bytes in the log file plus those still buffered.
    pub fn len(&self) -> u64 {
        let state = self.shared.lock_state();
        state.file_len + state.buffer.len() as u64
    }

    pub fn is_empty(&self) -> bool {
        self.len() <= HEADER_BYTES
    }

    /// Empties the log and starts it over as the continuation of
    /// `(file_id, generation)`; everything appended so far counts as
    /// durable (a save has just put it in the file).
    pub fn reset(&self, file_id: u64, generation: u64) -> Result<()> {
        let shared = &self.shared;
        let mut file = shared.lock_file();
        let file = file.as_mut().ok_or(Error::Closed)?;
        let mut state = shared.lock_state();
        state.buffer.clear();
        let result = file.rewrite(&encode_header(file_id, generation));
        state.durable = state.appended;
        let outcome = match result {
            Ok(()) => {
                state.file_len = HEADER_BYTES;
                state.failed = None;
                Ok(())
            }
            Err(e) => {
                let error = Error::io("cannot reset", &shared.path, e);
                state.failed = Some(error.to_string());
                Err(error)
            }
        };
        // The saved file holds every waiter's record.
        let waiters = std::mem::take(&mut state.waiters);
        drop(state);
        for (_, callback) in waiters {
            callback(Ok(()));
        }
        outcome?;
        crate::file::sync_parent_dir(&shared.path)
    }

    /// Buffers one record; returns its sequence number for
    /// [`Wal::when_durable`]. Call it under the lock that orders the
    /// changes it describes.
    pub fn append(&self, payload: &[u8]) -> Result<u64> {
        if payload.len() > MAX_RECORD_BYTES {
            return Err(Error::Internal(format!(
                "a {}-byte log record exceeds the limit",
                payload.len()
            )));
        }
        let mut state = self.shared.lock_state();
        if let Some(why) = &state.failed {
            return Err(Error::Io(format!(
                "the write-ahead log failed earlier ({why}); save() to persist"
            )));
        }
        frame(&mut state.buffer, payload);
        if let Some(capture) = &mut state.capture {
            capture.push(payload.to_vec());
        }
        state.appended += 1;
        Ok(state.appended)
    }

    /// From now on keeps a copy of every record appended, until
    /// [`Wal::take_capture`]: a checkpoint that writes the file while
    /// writers go on puts these records in it, to be replayed over what it
    /// wrote. Call it under the lock that orders the changes.
    pub fn start_capture(&self) {
        self.shared.lock_state().capture = Some(Vec::new());
    }

    /// The records appended since [`Wal::start_capture`], in order; stops
    /// capturing.
    pub fn take_capture(&self) -> Vec<Vec<u8>> {
        self.shared.lock_state().capture.take().unwrap_or_default()
    }

    /// Calls `callback` once record `sequence` is as durable as the mode
    /// promises — at once for `None` — or with the error that stopped it.
    /// Never blocks on I/O in `Batch` and `Fsync` modes.
    pub fn when_durable(&self, sequence: u64, callback: DurableCallback) {
        if self.shared.durability == Durability::None {
            let over = self.shared.lock_state().buffer.len() >= UNSYNCED_BUFFER_BYTES;
            callback(if over { self.flush(false) } else { Ok(()) });
            return;
        }
        let mut state = self.shared.lock_state();
        if let Some(why) = &state.failed {
            let error = Error::Io(why.clone());
            drop(state);
            return callback(Err(error));
        }
        if state.durable >= sequence {
            drop(state);
            return callback(Ok(()));
        }
        state.waiters.push((sequence, callback));
        self.shared.work.notify_one();
    }

    /// Blocks until record `sequence` is durable (see [`Wal::when_durable`]).
    pub fn commit(&self, sequence: u64) -> Result<()> {
        let (done, outcome) = std::sync::mpsc::channel();
        self.when_durable(
            sequence,
            Box::new(move |result| {
                let _ = done.send(result);
            }),
        );
        outcome
            .recv()
            .unwrap_or_else(|_| Err(Error::Internal("the log committer stopped".into())))
    }

    /// Writes everything buffered to the file, and fsyncs it if `sync`.
    pub fn flush(&self, sync: bool) -> Result<()> {
        self.shared.write_buffer(sync)
    }

    /// Stops the committer, flushes and fsyncs the log, then closes it,
    /// releasing the lock.
    pub fn close(&self) -> Result<()> {
        self.stop_committer();
        let result = self.flush(true);
        let waiters = std::mem::take(&mut self.shared.lock_state().waiters);
        for (_, callback) in waiters {
            callback(result.clone());
        }
        *self.shared.lock_file() = None;
        result
    }

    fn stop_committer(&self) {
        self.shared.lock_state().closing = true;
        self.shared.work.notify_all();
        let thread = self
            .committer
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take();
        if let Some(thread) = thread {
            let _ = thread.join();
        }
    }
}

impl Drop for Wal {
    /// A database dropped without `close()` still hands its buffered
    /// records to the OS (without an fsync).
    fn drop(&mut self) {
        self.stop_committer();
        let _ = self.shared.write_buffer(false);
    }
}

impl Shared {
    /// The committer thread: waits for waiters, paces fsyncs (`Batch`: at
    /// most one per `BATCH_INTERVAL`), writes and fsyncs the buffer, and
    /// answers every waiter the fsync covered.
    fn run_committer(&self) {
        loop {
            let pause = {
                let mut state = self.lock_state();
                while state.waiters.is_empty() && !state.closing {
                    state = self.work.wait(state).unwrap_or_else(|e| e.into_inner());
                }
                if state.closing {
                    return;
                }
                match (self.durability, state.last_sync) {
                    (Durability::Batch, Some(last)) => {
                        (last + BATCH_INTERVAL).checked_duration_since(Instant::now())
                    }
                    _ => None,
                }
            };
            // Writes arriving during the pause join this fsync.
            if let Some(pause) = pause {
                std::thread::sleep(pause);
            }
            let result = self.write_buffer(true);
            let mut state = self.lock_state();
            state.last_sync = Some(Instant::now());
            let durable = state.durable;
            let failed = state.failed.clone();
            // Waiters register in any order; answer those the fsync covered.
            let answered: Vec<_> = if result.is_err() || failed.is_some() {
                std::mem::take(&mut state.waiters)
            } else {
                state
                    .waiters
                    .extract_if(.., |(s, _)| *s <= durable)
                    .collect()
            };
            drop(state);
            for (_, callback) in answered {
                callback(match (&result, &failed) {
                    (Err(error), _) => Err(error.clone()),
                    (Ok(()), Some(why)) => Err(Error::Io(why.clone())),
                    (Ok(()), None) => Ok(()),
                });
            }
        }
    }

    fn write_buffer(&self, sync: bool) -> Result<()> {
        let result = self.write_buffer_inner(sync);
        if let Err(error) = &result {
            self.lock_state()
                .failed
                .get_or_insert_with(|| error.to_string());
        }
        result
    }

    fn write_buffer_inner(&self, sync: bool) -> Result<()> {
        let mut file = self.lock_file();
        let file = file.as_mut().ok_or(Error::Closed)?;
        let (buffer, target) = {
            let mut state = self.lock_state();
            (std::mem::take(&mut state.buffer), state.appended)
        };
        file.append(&buffer, sync)
            .map_err(|e| Error::io("cannot write", &self.path, e))?;
        let mut state = self.lock_state();
        state.file_len += buffer.len() as u64;
        if sync {
            state.durable = state.durable.max(target);
        }
        Ok(())
    }

    fn lock_state(&self) -> MutexGuard<'_, WalState> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn lock_file(&self) -> MutexGuard<'_, Option<AppendFile>> {
        self.file.lock().unwrap_or_else(|e| e.into_inner())
    }
}
