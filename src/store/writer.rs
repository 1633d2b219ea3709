//! Writing a database file: the header and the sections, atomically.

use super::format::{FileHeader, SectionKind, DB_FILE};
use crate::error::Result;
use crate::file::{sections, SectionSource};
use std::io::Write;
use std::path::Path;

/// A section of a known kind, with the flags this version writes for it.
pub fn section<'a>(
    kind: SectionKind,
    param: u32,
    write: impl FnOnce(&mut dyn Write) -> std::io::Result<()> + 'a,
) -> SectionSource<'a> {
    SectionSource {
        kind: kind.code(),
        param,
        flags: kind.flags(),
        write: Box::new(write),
    }
}

/// Writes a whole database file atomically: temp file, fsync, rename over
/// `path`, fsync of the directory; returns its size. On error the old file
/// is untouched.
pub fn write_db_file(
    path: &Path,
    header: &FileHeader,
    sections: Vec<SectionSource<'_>>,
) -> Result<u64> {
    sections::write_file(path, &DB_FILE, &header.encode(), sections)
}
