//! The database at rest: one file, written atomically and memory-mapped on
//! open, plus the write-ahead log beside it. It knows no HNSW types.
//!
//! | file | holds |
//! |---|---|
//! | `format.rs` | the file's magic, version, header fields (`FileHeader`) and section kinds, with their flags |
//! | `reader.rs` | `DbFile`: a file mapped and validated; the sections a save carries through |
//! | `writer.rs` | `write_db_file`, and `section` to make a section of a known kind |
//! | `wal.rs` | the write-ahead log: framing, record kinds with their flags, group commit |
//!
//! Files are never modified in place: a save writes a new file and renames
//! it over the old one (`file::atomic`), so a mapping of an older version
//! stays valid while a newer one replaces it.

pub mod format;
pub mod reader;
pub mod wal;
pub mod writer;

#[cfg(not(target_endian = "little"))]
compile_error!("the file format maps little-endian f32 rows in place");

pub use format::{refresh_checksums, FileHeader, SectionKind, FORMAT_VERSION};
pub use reader::{CarriedSections, DbFile};
pub use writer::{section, write_db_file};

#[cfg(test)]
mod tests;
