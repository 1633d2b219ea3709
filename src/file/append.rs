//! A file that any thread may append to, sync, or rewrite: the write-ahead
//! log's.
//!
//! Natively one open `File` serves every thread. Under Node's WASI it
//! cannot: each thread is a worker with its own WASI instance, and so its
//! own table of file descriptors, so a descriptor opened on one thread names
//! nothing (or another file) on the next, and even closing it there would
//! close someone else's file. A WASI build therefore keeps the path, not a
//! descriptor, and opens the file afresh for each call, on the calling
//! thread ([`FileHandle::Reopened`], reported by `stats()`). That costs an
//! open and a close per flush; the bytes and the fsyncs are the same.

use std::fs::{File, OpenOptions};
use std::io::{Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

/// How a long-lived file is held.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FileHandle {
    /// One descriptor, open as long as the file is in use.
    Held,
    /// Opened by path for every call (WASI: descriptors are per thread).
    Reopened,
}

impl FileHandle {
    /// The name `stats()` reports.
    pub fn name(self) -> &'static str {
        match self {
            FileHandle::Held => "held",
            FileHandle::Reopened => "reopened",
        }
    }
}

/// How this build holds an [`AppendFile`].
#[cfg(not(target_os = "wasi"))]
pub const FILE_HANDLE: FileHandle = FileHandle::Held;
/// How this build holds an [`AppendFile`]: WASI descriptors are per thread.
#[cfg(target_os = "wasi")]
pub const FILE_HANDLE: FileHandle = FileHandle::Reopened;

/// A file appended to from any thread (see the module doc).
pub struct AppendFile {
    path: PathBuf,
    /// `None` when reopened for every call.
    held: Option<File>,
}

impl AppendFile {
    /// Takes over `file`, open for writing at `path`, held as `handle`
    /// says. Call it on the thread that opened `file`: when reopened, the
    /// descriptor is closed here, where it is valid.
    pub fn new(file: File, path: &Path, handle: FileHandle) -> AppendFile {
        AppendFile {
            path: path.to_path_buf(),
            held: match handle {
                FileHandle::Held => Some(file),
                FileHandle::Reopened => None,
            },
        }
    }

    pub fn handle(&self) -> FileHandle {
        match self.held {
            Some(_) => FileHandle::Held,
            None => FileHandle::Reopened,
        }
    }

    /// Appends `bytes` at the end, then fsyncs the data if `sync`.
    pub fn append(&mut self, bytes: &[u8], sync: bool) -> std::io::Result<()> {
        let mut reopened;
        let file = match &mut self.held {
            Some(file) => {
                if !bytes.is_empty() {
                    file.seek(SeekFrom::End(0))?;
                }
                file
            }
            None if bytes.is_empty() && !sync => return Ok(()),
            None => {
                reopened = OpenOptions::new().append(true).open(&self.path)?;
                &mut reopened
            }
        };
        file.write_all(bytes)?;
        if sync {
            file.sync_data()?;
        }
        Ok(())
    }

    /// Replaces the whole content with `bytes` and fsyncs it.
    pub fn rewrite(&mut self, bytes: &[u8]) -> std::io::Result<()> {
        let mut reopened;
        let file = match &mut self.held {
            Some(file) => {
                file.set_len(0)?;
                file.seek(SeekFrom::Start(0))?;
                file
            }
            None => {
                reopened = OpenOptions::new()
                    .write(true)
                    .truncate(true)
                    .open(&self.path)?;
                &mut reopened
            }
        };
        file.write_all(bytes)?;
        file.sync_all()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testdata::TempDir;

    /// Both ways of holding the file leave the same bytes, including the
    /// WASI one, run here.
    #[test]
    fn held_and_reopened_files_append_and_rewrite_alike() {
        let dir = TempDir::new("append");
        for handle in [FileHandle::Held, FileHandle::Reopened] {
            let path = dir.path().join(handle.name());
            let file = OpenOptions::new()
                .read(true)
                .write(true)
                .create(true)
                .truncate(true)
                .open(&path)
                .unwrap();
            let mut log = AppendFile::new(file, &path, handle);
            assert_eq!(log.handle(), handle);
            log.append(b"head", true).unwrap();
            log.append(b"", false).unwrap();
            log.append(b"+one", false).unwrap();
            log.append(b"+two", true).unwrap();
            assert_eq!(std::fs::read(&path).unwrap(), b"head+one+two", "{handle:?}");
            log.rewrite(b"new").unwrap();
            log.append(b"+three", true).unwrap();
            assert_eq!(std::fs::read(&path).unwrap(), b"new+three", "{handle:?}");
        }
    }

    #[test]
    fn only_wasi_reopens() {
        assert_eq!(
            FILE_HANDLE,
            if cfg!(target_os = "wasi") {
                FileHandle::Reopened
            } else {
                FileHandle::Held
            }
        );
    }
}
