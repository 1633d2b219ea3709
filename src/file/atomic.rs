//! Atomic replacement of a file: write a temp file beside it, fsync it,
//! rename it over the target, fsync the directory. A reader (or a mapping)
//! of the old file keeps seeing the old bytes; a crash at any step leaves
//! either the old file or the new one, never a mix.

use crate::error::{Error, Result};
use std::fs::{self, File, OpenOptions};
use std::path::{Path, PathBuf};

/// The temp file [`write_atomically`] fills before renaming it over `path`.
pub fn temp_path(path: &Path) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(".tmp");
    PathBuf::from(name)
}

/// Writes `path` atomically: `write` fills a fresh temp file (returning it
/// and its size), which is then fsynced and renamed over `path`, and the
/// directory fsynced. On any error the temp file is removed and `path` is
/// untouched.
pub fn write_atomically(
    path: &Path,
    write: impl FnOnce(File, &Path) -> Result<(File, u64)>,
) -> Result<u64> {
    let temp = temp_path(path);
    let result = OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .open(&temp)
        .map_err(|e| Error::io("cannot write", &temp, e))
        .and_then(|file| write(file, &temp))
        .and_then(|(file, size)| {
            file.sync_all()
                .map_err(|e| Error::io("cannot sync", &temp, e))?;
            drop(file);
            fs::rename(&temp, path)
                .map_err(|e| Error::io("cannot rename the saved file over", path, e))?;
            sync_parent_dir(path)?;
            Ok(size)
        });
    if result.is_err() {
        // Best effort: the temp file may not exist, or be what failed.
        let _ = fs::remove_file(&temp);
    }
    result
}

/// Makes a rename or file creation in `path`'s directory durable.
pub fn sync_parent_dir(path: &Path) -> Result<()> {
    let dir = match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir,
        _ => Path::new("."),
    };
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| Error::io("cannot sync directory", dir, e))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testdata::TempDir;
    use std::io::Write;

    #[test]
    fn a_failed_write_leaves_the_old_file_and_no_temp_file() {
        let dir = TempDir::new("atomic");
        let path = dir.path().join("f");
        fs::write(&path, b"old").unwrap();
        let error = write_atomically(&path, |mut file, _| {
            file.write_all(b"half").unwrap();
            Err(Error::Io("disk full".into()))
        })
        .unwrap_err();
        assert_eq!(error.code(), "ERR_IO");
        assert_eq!(fs::read(&path).unwrap(), b"old");
        assert!(!temp_path(&path).exists());
        let size = write_atomically(&path, |mut file, _| {
            file.write_all(b"new!").unwrap();
            Ok((file, 4))
        })
        .unwrap();
        assert_eq!((size, fs::read(&path).unwrap()), (4, b"new!".to_vec()));
    }
}
