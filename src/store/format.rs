//! The database file's format on the section container (`file::sections`):
//! its magic, version, header fields and section kinds. It knows no HNSW
//! types: the header carries plain numbers that `hnsw` validates.
//!
//! # Header fields (bytes 20..124 of the 128-byte header)
//!
//! ```text
//! 20  metric u32 (0 cosine, 1 euclidean, 2 dot) · dimensions u32 · m u32 ·
//!     efConstruction u32 · efSearch u32 · level seed u64 · slot count u64 ·
//!     live count u64 · entry slot u32 (u32::MAX: none) · entry level u32 ·
//!     file id u64 · generation u64 · level RNG state u64 · zeros to 124
//! ```
//!
//! # Section kinds
//!
//! | kind | param | holds | flags |
//! |---|---|---|---|
//! | 1 vectors | 0 | `f32` rows in slot order, stored form (unit length under cosine), used in place from the mapping | must understand |
//! | 2 levels | 0 | a byte per slot: top level, bit 7 deleted | must understand |
//! | 3 graph | level | CSR of the slots reaching that level | must understand |
//! | 4 items | 0 | id and metadata per slot | must understand |
//! | 5 model, 6 feedback | | the learner's state, keyed by item id | |
//! | 7 log tail | 0 | log records to replay over the sections: what writers did while a checkpoint wrote them (see `db/checkpoint.rs`) | must understand |
//!
//! None of the kinds above is safe to copy: all are keyed by slot. State
//! that belongs to items (feedback, per-item model rows) must be keyed by
//! item id, never by slot, so that a save that renumbers slots cannot
//! misattribute it; such a section can then carry the safe-to-copy flag.
//!
//! # Versions
//!
//! Version 2 gave the table's last word to the section flags (version 1
//! wrote zero there and skipped every unknown kind); a version-1 file reads
//! as a version-2 file whose sections all have known kinds. The version
//! bumps again only for a change that an older reader cannot handle through
//! the flags.

use crate::distance::{Metric, MAX_DIMENSIONS};
use crate::error::{Error, Result};
use crate::file::{ByteReader, ByteWriter, ContainerFormat, SectionFlags};

/// The database file on the section container.
pub const DB_FILE: ContainerFormat = ContainerFormat {
    magic: b"HGNNFILE",
    version: 2,
    header_bytes: 128,
    name: "database file",
    header_name: "header",
};

/// The current format version (what saves write).
pub const FORMAT_VERSION: u32 = DB_FILE.version;

/// The section kinds this version knows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SectionKind {
    Vectors = 1,
    Levels = 2,
    Graph = 3,
    Items = 4,
    Model = 5,
    Feedback = 6,
    LogTail = 7,
}

impl SectionKind {
    pub fn from_code(code: u32) -> Option<SectionKind> {
        Some(match code {
            1 => SectionKind::Vectors,
            2 => SectionKind::Levels,
            3 => SectionKind::Graph,
            4 => SectionKind::Items,
            5 => SectionKind::Model,
            6 => SectionKind::Feedback,
            7 => SectionKind::LogTail,
            _ => return None,
        })
    }

    pub fn code(self) -> u32 {
        self as u32
    }

    /// The flags this version writes for the kind (see the module doc).
    pub fn flags(self) -> SectionFlags {
        SectionFlags {
            must_understand: true,
            safe_to_copy: false,
        }
    }

    /// The section's name in error messages.
    pub fn describe(self, param: u32) -> String {
        match self {
            SectionKind::Vectors => "vectors section".into(),
            SectionKind::Levels => "levels section".into(),
            SectionKind::Graph => format!("graph section (level {param})"),
            SectionKind::Items => "ids and metadata section".into(),
            SectionKind::Model => "model section".into(),
            SectionKind::Feedback => "feedback section".into(),
            SectionKind::LogTail => "log tail section".into(),
        }
    }
}

/// A section's name in errors, known kind or not.
pub fn describe_code(kind: u32, param: u32) -> String {
    SectionKind::from_code(kind).map_or_else(
        || format!("section of kind {kind}"),
        |known| known.describe(param),
    )
}

/// The fixed fields of a database file.
#[derive(Clone, Debug, PartialEq)]
pub struct FileHeader {
    pub dimensions: usize,
    pub metric: Metric,
    /// The graph's parameters as stored; `hnsw` validates them.
    pub m: u32,
    pub ef_construction: u32,
    pub ef_search: u32,
    pub level_seed: u64,
    /// Stored slots, deleted ones included.
    pub slot_count: u64,
    pub live_count: u64,
    /// `(slot, level)` of the graph's entry point.
    pub entry: Option<(u32, u32)>,
    /// Random per database; the WAL records it so a log is never replayed
    /// onto another database's file.
    pub file_id: u64,
    /// Incremented by every save; the WAL records the generation it
    /// continues.
    pub generation: u64,
    pub level_rng_state: u64,
}

fn metric_code(metric: Metric) -> u32 {
    match metric {
        Metric::Cosine => 0,
        Metric::Euclidean => 1,
        Metric::Dot => 2,
    }
}

fn metric_from_code(code: u32) -> Option<Metric> {
    Some(match code {
        0 => Metric::Cosine,
        1 => Metric::Euclidean,
        2 => Metric::Dot,
        _ => return None,
    })
}

impl FileHeader {
    /// The header fields as the container stores them.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(104);
        out.put_u32(metric_code(self.metric));
        out.put_u32(self.dimensions as u32);
        out.put_u32(self.m);
        out.put_u32(self.ef_construction);
        out.put_u32(self.ef_search);
        out.put_u64(self.level_seed);
        out.put_u64(self.slot_count);
        out.put_u64(self.live_count);
        let (entry_slot, entry_level) = self.entry.unwrap_or((u32::MAX, 0));
        out.put_u32(entry_slot);
        out.put_u32(entry_level);
        out.put_u64(self.file_id);
        out.put_u64(self.generation);
        out.put_u64(self.level_rng_state);
        out
    }

    /// Reads and checks the fields that are the store's business; the
    /// graph parameters are left to `hnsw`.
    pub fn decode(fields: &[u8]) -> Result<FileHeader> {
        let corrupt = |why: String| Error::corrupt("header", why);
        let mut reader = ByteReader::new(fields, "header");
        let code = reader.u32("metric")?;
        let metric =
            metric_from_code(code).ok_or_else(|| corrupt(format!("unknown metric {code}")))?;
        let dimensions = reader.u32("dimensions")? as usize;
        if !(1..=MAX_DIMENSIONS).contains(&dimensions) {
            return Err(corrupt(format!("dimensions {dimensions}")));
        }
        let (m, ef_construction, ef_search) = (
            reader.u32("m")?,
            reader.u32("efConstruction")?,
            reader.u32("efSearch")?,
        );
        let level_seed = reader.u64("level seed")?;
        let slot_count = reader.u64("slot count")?;
        let live_count = reader.u64("live count")?;
        if live_count > slot_count || slot_count >= u32::MAX as u64 {
            return Err(corrupt(format!("{live_count} live of {slot_count} slots")));
        }
        let entry_slot = reader.u32("entry slot")?;
        let entry_level = reader.u32("entry level")?;
        let entry = (entry_slot != u32::MAX).then_some((entry_slot, entry_level));
        if entry.is_some_and(|(slot, _)| slot as u64 >= slot_count) {
            return Err(corrupt(format!(
                "entry point {entry_slot} of {slot_count} slots"
            )));
        }
        Ok(FileHeader {
            dimensions,
            metric,
            m,
            ef_construction,
            ef_search,
            level_seed,
            slot_count,
            live_count,
            entry,
            file_id: reader.u64("file id")?,
            generation: reader.u64("generation")?,
            level_rng_state: reader.u64("level RNG state")?,
        })
    }
}

/// Recomputes an image's checksums (see `file::sections::refresh_checksums`).
#[doc(hidden)]
pub fn refresh_checksums(image: &mut [u8]) {
    crate::file::sections::refresh_checksums(image, DB_FILE.header_bytes);
}
