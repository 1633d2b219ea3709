//! `DbFile`: a database file mapped and validated, its sections usable in
//! place.

use super::format::{describe_code, FileHeader, SectionKind, DB_FILE};
use crate::error::{Error, Result};
use crate::file::{MappedF32, Mapping, SectionEntry, SectionFile, SectionSource};
use std::path::Path;

/// A validated, memory-mapped database file.
#[derive(Clone)]
pub struct DbFile {
    container: SectionFile,
    pub header: FileHeader,
}

impl DbFile {
    /// Maps `path` and checks its header and section table, and with
    /// `verify` every section's CRC (skipped only for a file this process
    /// has just written).
    pub fn open(path: &Path, verify: bool) -> Result<DbFile> {
        DbFile::validate(Mapping::open(path)?, verify)
    }

    /// Validates a file image held in memory (tests and the fuzz target).
    #[doc(hidden)]
    pub fn from_bytes(bytes: &[u8]) -> Result<DbFile> {
        DbFile::validate(Mapping::from_bytes(bytes), true)
    }

    fn validate(mapping: Mapping, verify: bool) -> Result<DbFile> {
        let container = SectionFile::parse(mapping, &DB_FILE)?;
        let header = FileHeader::decode(container.fields())?;
        let file = DbFile { container, header };
        if verify {
            file.verify()?;
        }
        Ok(file)
    }

    /// Checks every section's CRC (in parallel). An open runs it beside
    /// the decode, whose parsers take any bytes safely, and reports a
    /// mismatch before anything the decode found.
    pub fn verify(&self) -> Result<()> {
        self.container
            .verify(|entry| describe_code(entry.kind, entry.param))
    }

    /// Size of the file in bytes.
    pub fn len(&self) -> u64 {
        self.container.len()
    }

    pub fn is_empty(&self) -> bool {
        self.container.is_empty()
    }

    /// The format version the file was written as.
    pub fn version(&self) -> u32 {
        self.container.version()
    }

    /// The bytes of the section `(kind, param)`, if the file has it (for
    /// sections only some files have: model, feedback).
    pub fn optional_section(&self, kind: SectionKind, param: u32) -> Option<&[u8]> {
        self.container
            .find(kind.code(), param)
            .map(|entry| self.container.bytes(entry))
    }

    /// The bytes of the section `(kind, param)`; `ERR_CORRUPT_FILE` if the
    /// file lacks it.
    pub fn section(&self, kind: SectionKind, param: u32) -> Result<&[u8]> {
        self.container
            .find(kind.code(), param)
            .map(|entry| self.container.bytes(entry))
            .ok_or_else(|| Error::corrupt(kind.describe(param), "missing"))
    }

    /// `count` values of `T` from byte `start` of the section `(kind,
    /// param)` on, used in place.
    pub fn section_values<T: crate::file::InPlace>(
        &self,
        kind: SectionKind,
        param: u32,
        start: usize,
        count: usize,
    ) -> Result<crate::file::Mapped<T>> {
        let entry = self
            .container
            .find(kind.code(), param)
            .ok_or_else(|| Error::corrupt(kind.describe(param), "missing"))?;
        self.container.values(entry, start, count)
    }

    /// The vectors section as `f32` rows used in place.
    pub fn vectors(&self) -> Result<MappedF32> {
        let entry = self
            .container
            .find(SectionKind::Vectors.code(), 0)
            .ok_or_else(|| Error::corrupt("vectors section", "missing"))?;
        let expected = self.header.slot_count as u128 * self.header.dimensions as u128 * 4;
        if entry.length as u128 != expected {
            return Err(Error::corrupt(
                "vectors section",
                format!(
                    "{} bytes, but {} slots × {} dimensions need {expected}",
                    entry.length, self.header.slot_count, self.header.dimensions
                ),
            ));
        }
        self.container.f32s(entry)
    }

    /// This file's image with `replaced` in place of its sections of the
    /// same kind and param (see [`SectionFile::with_sections`]).
    #[doc(hidden)]
    pub fn with_sections(&self, replaced: Vec<SectionSource<'_>>) -> Result<Vec<u8>> {
        self.container.with_sections(replaced)
    }

    /// Sections of kinds this version does not know.
    fn unknown(&self) -> impl Iterator<Item = &SectionEntry> {
        self.container
            .sections()
            .iter()
            .filter(|entry| SectionKind::from_code(entry.kind).is_none())
    }

    /// Refuses a file that this version must not change: one with a
    /// section of an unknown kind flagged *must understand* (written by a
    /// newer hnsw-gnn). A read-only open skips such sections instead.
    pub fn check_writable(&self) -> Result<()> {
        match self.unknown().find(|entry| entry.flags.must_understand) {
            None => Ok(()),
            Some(entry) => Err(Error::UnsupportedFormat(format!(
                "the file has a section of kind {} that this hnsw-gnn does not know and must not change; open it with readOnly: true, or upgrade hnsw-gnn",
                entry.kind
            ))),
        }
    }

    /// The sections a save carries through unchanged: unknown kinds flagged
    /// *safe to copy*. (Unknown kinds without the flag are dropped.)
    pub fn carried_sections(&self) -> CarriedSections {
        CarriedSections {
            entries: self
                .unknown()
                .filter(|entry| entry.flags.safe_to_copy)
                .copied()
                .collect(),
            container: self.container.clone(),
        }
    }
}

/// Sections of unknown kinds that a save writes back byte for byte; they
/// are read from the mapping of the file they came from.
#[derive(Clone)]
pub struct CarriedSections {
    container: SectionFile,
    entries: Vec<SectionEntry>,
}

impl CarriedSections {
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The sections to write, with their kinds, params and flags.
    pub fn sources(&self) -> Vec<SectionSource<'_>> {
        self.entries
            .iter()
            .map(|entry| self.container.source(entry))
            .collect()
    }
}
