//! The exclusive advisory lock (`flock`) that makes one writer at a time:
//! held on a file for as long as that file stays open.

use crate::error::{Error, Result};
use std::fs::{File, TryLockError};
use std::path::Path;

/// Takes the exclusive lock on `file`, which stands for whatever is at
/// `path` (named in the `ERR_LOCKED` error if another holder has it).
pub fn lock_exclusive(file: &File, path: &Path) -> Result<()> {
    match file.try_lock() {
        Ok(()) => Ok(()),
        Err(TryLockError::WouldBlock) => Err(Error::Locked(path.display().to_string())),
        Err(TryLockError::Error(e)) => Err(Error::io("cannot lock", path, e)),
    }
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
        lock_exclusive(&first, &path).unwrap();
        let second = File::open(&path).unwrap();
        assert_eq!(
            lock_exclusive(&second, &path).unwrap_err().code(),
            "ERR_LOCKED"
        );
        drop(first);
        lock_exclusive(&second, &path).unwrap();
    }
}
