//! Files, knowing no format: the bottom of everything hnsw-gnn persists.
//!
//! | file | holds |
//! |---|---|
//! | `mmap.rs` | `Mapping` (the crate's one `Mmap::map`; a heap copy on WASI, which cannot map) and `Mapped` (`MappedF32`, ...), numbers read in place |
//! | `append.rs` | `AppendFile`: a file any thread appends to (reopened per call on WASI, whose descriptors are per thread) |
//! | `atomic.rs` | `write_atomically`: temp file, fsync, rename, fsync of the directory |
//! | `lock.rs` | `lock_exclusive`: one writer per file (no lock on WASI, which has none) |
//! | `bytes.rs` | `ByteReader` (bounds-checked, names its section in errors) and `ByteWriter` |
//! | `sections.rs` | the checksummed section container every hnsw-gnn file is made of, with the must-understand / safe-to-copy flags (tests in `sections_tests.rs`) |

pub mod append;
pub mod atomic;
pub mod bytes;
pub mod lock;
pub mod mmap;
pub mod sections;

pub use append::{AppendFile, FileHandle, FILE_HANDLE};
pub use atomic::{sync_parent_dir, temp_path, write_atomically};
pub use bytes::{ByteReader, ByteWriter};
pub use lock::{lock_exclusive, FileLock};
pub use mmap::{FileMapping, InPlace, Mapped, MappedF32, Mapping, FILE_MAPPING};
pub use sections::{
    ContainerFormat, ContainerWriter, SectionEntry, SectionFile, SectionFlags, SectionSource,
    SectionWriter,
};
