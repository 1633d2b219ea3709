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
//! # Durability
//!
//! Records are appended to a buffer under the caller's lock (so the log's
//! order is the order changes were applied); [`Wal::commit`] then makes a
//! record durable according to [`Durability`]. `Batch` and `Fsync` use
//! group commit: one caller writes and fsyncs everything buffered while the
//! others wait for it, so concurrent writers share one fsync. The file is
//! the database's lock: the writer holds an exclusive `flock` on it.

use super::ByteReader;
use crate::error::{Error, Result};
use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::{Condvar, Mutex, MutexGuard};
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
    while bytes.len() - position >= RECORD_HEADER_BYTES {
        let len = u32::from_le_bytes(bytes[position..position + 4].try_into().expect("4")) as usize;
        let crc = u32::from_le_bytes(bytes[position + 4..position + 8].try_into().expect("4"));
        let start = position + RECORD_HEADER_BYTES;
        if len > MAX_RECORD_BYTES || len > bytes.len() - start {
            break;
        }
        let payload = &bytes[start..start + len];
        if record_crc(payload) != crc {
            break;
        }
        records.push(payload.to_vec());
        position = start + len;
    }
    Ok(Some(WalContents {
        file_id,
        generation,
        records,
        valid_len: position as u64,
    }))
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

/// The open, locked log of a writable database.
pub struct Wal {
    path: PathBuf,
    durability: Durability,
    /// Taken before `state` by whoever writes to the file, so buffers
    /// reach the file in the order they were filled.
    file: Mutex<Option<File>>,
    state: Mutex<WalState>,
    synced: Condvar,
}

struct WalState {
    buffer: Vec<u8>,
    /// Sequence number of the last appended record.
    appended: u64,
    /// Every record up to this one is durable.
    durable: u64,
    /// A caller is writing and fsyncing; others wait on `synced`.
    syncing: bool,
    last_sync: Option<Instant>,
    /// Bytes in the file (header and records written so far).
    file_len: u64,
    /// Set when a write failed: the log no longer matches memory, so every
    /// later write fails too until a save folds memory into the file.
    failed: Option<String>,
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
        super::lock_exclusive(&file, path)?;
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
        let wal = Wal {
            path: path.to_path_buf(),
            durability,
            file: Mutex::new(Some(file)),
            state: Mutex::new(WalState {
                buffer: Vec::new(),
                appended: 0,
                durable: 0,
                syncing: false,
                last_sync: None,
                file_len,
                failed: None,
            }),
            synced: Condvar::new(),
        };
        Ok((wal, contents))
    }

    pub fn durability(&self) -> Durability {
        self.durability
    }

    /// Bytes in the log file plus those still buffered.
    pub fn len(&self) -> u64 {
        let state = self.lock_state();
        state.file_len + state.buffer.len() as u64
    }

    pub fn is_empty(&self) -> bool {
        self.len() <= HEADER_BYTES
    }

    /// Empties the log and starts it over as the continuation of
    /// `(file_id, generation)`; everything appended so far counts as
    /// durable (a save has just put it in the file).
    pub fn reset(&self, file_id: u64, generation: u64) -> Result<()> {
        let mut file = self.lock_file();
        let file = file.as_mut().ok_or(Error::Closed)?;
        let mut state = self.lock_state();
        state.buffer.clear();
        let result = file
            .set_len(0)
            .and_then(|_| file.seek(SeekFrom::Start(0)))
            .and_then(|_| file.write_all(&encode_header(file_id, generation)))
            .and_then(|_| file.sync_all());
        state.durable = state.appended;
        match result {
            Ok(()) => {
                state.file_len = HEADER_BYTES;
                state.failed = None;
                drop(state);
                super::sync_parent_dir(&self.path)?;
                self.synced.notify_all();
                Ok(())
            }
            Err(e) => {
                let error = Error::io("cannot reset", &self.path, e);
                state.failed = Some(error.to_string());
                self.synced.notify_all();
                Err(error)
            }
        }
    }

    /// Buffers one record; returns its sequence number for [`Wal::commit`].
    /// Call it under the lock that orders the changes it describes.
    pub fn append(&self, payload: &[u8]) -> Result<u64> {
        if payload.len() > MAX_RECORD_BYTES {
            return Err(Error::Internal(format!(
                "a {}-byte log record exceeds the limit",
                payload.len()
            )));
        }
        let mut state = self.lock_state();
        if let Some(why) = &state.failed {
            return Err(Error::Io(format!(
                "the write-ahead log failed earlier ({why}); save() to persist"
            )));
        }
        frame(&mut state.buffer, payload);
        state.appended += 1;
        Ok(state.appended)
    }

    /// Returns once record `sequence` is as durable as the mode promises.
    pub fn commit(&self, sequence: u64) -> Result<()> {
        if self.durability == Durability::None {
            let over = self.lock_state().buffer.len() >= UNSYNCED_BUFFER_BYTES;
            return if over { self.flush(false) } else { Ok(()) };
        }
        loop {
            let pause = {
                let mut state = self.lock_state();
                loop {
                    if let Some(why) = &state.failed {
                        return Err(Error::Io(why.clone()));
                    }
                    if state.durable >= sequence {
                        return Ok(());
                    }
                    if !state.syncing {
                        break;
                    }
                    state = self.synced.wait(state).unwrap_or_else(|e| e.into_inner());
                }
                state.syncing = true;
                match (self.durability, state.last_sync) {
                    (Durability::Batch, Some(last)) => {
                        (last + BATCH_INTERVAL).checked_duration_since(Instant::now())
                    }
                    _ => None,
                }
            };
            // Writers arriving during the pause join this fsync.
            if let Some(pause) = pause {
                std::thread::sleep(pause);
            }
            let result = self.write_buffer(true);
            let mut state = self.lock_state();
            state.syncing = false;
            state.last_sync = Some(Instant::now());
            if let Err(error) = result {
                state.failed.get_or_insert_with(|| error.to_string());
            }
            self.synced.notify_all();
        }
    }

    /// Writes everything buffered to the file, and fsyncs it if `sync`.
    pub fn flush(&self, sync: bool) -> Result<()> {
        let result = self.write_buffer(sync);
        if let Err(error) = &result {
            self.lock_state()
                .failed
                .get_or_insert_with(|| error.to_string());
        }
        self.synced.notify_all();
        result
    }

    /// Flushes and fsyncs the log, then closes it, releasing the lock.
    pub fn close(&self) -> Result<()> {
        let result = self.flush(true);
        *self.lock_file() = None;
        result
    }

    fn write_buffer(&self, sync: bool) -> Result<()> {
        let mut file = self.lock_file();
        let file = file.as_mut().ok_or(Error::Closed)?;
        let (buffer, target) = {
            let mut state = self.lock_state();
            (std::mem::take(&mut state.buffer), state.appended)
        };
        let io_error = |e| Error::io("cannot write", &self.path, e);
        if !buffer.is_empty() {
            file.seek(SeekFrom::End(0)).map_err(io_error)?;
            file.write_all(&buffer).map_err(io_error)?;
        }
        if sync {
            file.sync_data().map_err(io_error)?;
        }
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

    fn lock_file(&self) -> MutexGuard<'_, Option<File>> {
        self.file.lock().unwrap_or_else(|e| e.into_inner())
    }
}
