//! The exclusive advisory lock (`flock`) that makes one writer at a time:
//! held on a file for as long as that file stays open.
//!
//! WASI has no file locks (Rust's `File::try_lock` answers `Unsupported`
//! there), so a WASI build goes on without one and says so
//! ([`FileLock::None`], reported by `stats()`): keeping to one writer per
//! file is then the user's job. Everywhere else a lock that cannot be taken
//! is an error, as it always was.

use crate::error::{Error, Result};
use std::fs::{File, TryLockError};
use std::path::Path;

/// What keeps a second writer out of a file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FileLock {
    /// An exclusive advisory lock, held while the file is open.
    Flock,
    /// None: the platform has no file locks (WASI).
    None,
}

impl FileLock {
    /// The name `stats()` reports.
    pub fn name(self) -> &'static str {
        match self {
            FileLock::Flock => "flock",
            FileLock::None => "none",
        }
    }
}

/// Takes the exclusive lock on `file`, which stands for whatever is at
/// `path` (named in the `ERR_LOCKED` error if another holder has it).
/// Returns [`FileLock::None`] only on WASI, where there are no locks.
pub fn lock_exclusive(file: &File, path: &Path) -> Result<FileLock> {
    match file.try_lock() {
        Ok(()) => Ok(FileLock::Flock),
        Err(TryLockError::WouldBlock) => Err(Error::Locked(path.display().to_string())),
        Err(TryLockError::Error(e)) if locks_unsupported_here(&e) => Ok(FileLock::None),
        Err(TryLockError::Error(e)) => Err(Error::io("cannot lock", path, e)),
    }
}

/// Whether `error` says the platform has no file locks, and that is a
/// platform where going on without one is accepted (WASI only).
fn locks_unsupported_here(error: &std::io::Error) -> bool {
    cfg!(target_os = "wasi") && error.kind() == std::io::ErrorKind::Unsupported
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testdata::TempDir;

    #[test]
    fn a_second_exclusive_lock_on_the_same_file_is_refused_until_the_first_is_dropped() {
        let dir = TempDir::new("lock");
        let path = dir.path().join("lock");
        let first = File::create(&path).unwrap();
        assert_eq!(lock_exclusive(&first, &path).unwrap(), FileLock::Flock);
        let second = File::open(&path).unwrap();
        assert_eq!(
            lock_exclusive(&second, &path).unwrap_err().code(),
            "ERR_LOCKED"
        );
        drop(first);
        lock_exclusive(&second, &path).unwrap();
    }

    #[test]
    fn an_unsupported_lock_is_an_error_except_on_wasi() {
        let unsupported = std::io::Error::from(std::io::ErrorKind::Unsupported);
        assert_eq!(
            locks_unsupported_here(&unsupported),
            cfg!(target_os = "wasi")
        );
        let other = std::io::Error::from(std::io::ErrorKind::PermissionDenied);
        assert!(!locks_unsupported_here(&other));
    }
}
