//! The database file: one file at rest, written atomically, memory-mapped on
//! open, plus a write-ahead log beside it (see [`wal`]).
//!
//! # Layout (all integers little-endian)
//!
//! ```text
//! 0    header, 128 bytes
//!        magic "HGNNFILE" · format version u32 · header length u32 ·
//!        section count u32 · metric u32 · dimensions u32 · m u32 ·
//!        efConstruction u32 · efSearch u32 · seed u64 · slot count u64 ·
//!        live count u64 · entry slot u32 (u32::MAX: none) · entry level u32 ·
//!        file id u64 · generation u64 · level RNG state u64 · reserved ·
//!        CRC32 u32 at byte 124 over bytes 0..124 and the section table
//! 128  section table, 32 bytes per section
//!        kind u32 · param u32 · offset u64 · length u64 · CRC32 u32 · 0 u32
//! ...  sections, each starting on a 64-byte boundary
//! ```
//!
//! Section kinds: 1 vectors (`f32` rows, slot order, stored form: unit
//! length under cosine — used in place from the mapping), 2 levels (a byte
//! per slot), 3 graph (one per level, `param` = level, CSR), 4 items (ids
//! and metadata per slot), 5 model and 6 feedback (reserved for the learning
//! issues). A reader skips kinds it does not know, so later versions can add
//! sections without breaking older readers; a newer *format version* is
//! refused with `ERR_UNSUPPORTED_FORMAT`.
//!
//! # Trust
//!
//! Every offset, length and count is checked against the file's size
//! before it is used, and every section's CRC is verified on open: a
//! corrupt or hostile file gives `ERR_CORRUPT_FILE` naming the section,
//! never a panic or an allocation larger than the file.
//!
//! # Atomic save
//!
//! [`write_file`] writes `<path>.tmp`, fsyncs it, renames it over `<path>`
//! and fsyncs the directory. A failure at any step removes the temp file and
//! leaves the previous file untouched. Files are never modified in place,
//! so a mapping of an older version stays valid while a newer one replaces
//! it.

mod bytes;
pub mod wal;

pub use bytes::{ByteReader, ByteWriter};

use crate::distance::Metric;
use crate::error::{Error, Result};
use crate::hnsw::HnswParams;
use memmap2::Mmap;
use std::fs::{self, File, OpenOptions};
use std::io::{self, BufWriter, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

#[cfg(not(target_endian = "little"))]
compile_error!("the file format maps little-endian f32 rows in place");

const MAGIC: &[u8; 8] = b"HGNNFILE";
pub const FORMAT_VERSION: u32 = 1;
const HEADER_BYTES: usize = 128;
const HEADER_CRC_AT: usize = 124;
const TABLE_ENTRY_BYTES: usize = 32;
const SECTION_ALIGN: u64 = 64;
/// More sections than any version writes; bounds the table read.
const MAX_SECTIONS: u32 = 4_096;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SectionKind {
    Vectors = 1,
    Levels = 2,
    Graph = 3,
    Items = 4,
    Model = 5,
    Feedback = 6,
}

impl SectionKind {
    fn from_code(code: u32) -> Option<SectionKind> {
        Some(match code {
            1 => SectionKind::Vectors,
            2 => SectionKind::Levels,
            3 => SectionKind::Graph,
            4 => SectionKind::Items,
            5 => SectionKind::Model,
            6 => SectionKind::Feedback,
            _ => return None,
        })
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
        }
    }
}

/// The fixed fields of a database file.
#[derive(Clone, Debug, PartialEq)]
pub struct FileHeader {
    pub dimensions: usize,
    pub metric: Metric,
    pub params: HnswParams,
    /// Stored slots, deleted ones included.
    pub slot_count: u64,
    pub live_count: u64,
    /// `(slot, level)` of the HNSW entry point.
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

#[derive(Clone, Copy, Debug)]
struct SectionEntry {
    kind: u32,
    param: u32,
    offset: u64,
    length: u64,
    crc: u32,
}

fn table_bytes(sections: usize) -> u64 {
    align_up((HEADER_BYTES + sections * TABLE_ENTRY_BYTES) as u64)
}

fn align_up(offset: u64) -> u64 {
    offset.div_ceil(SECTION_ALIGN) * SECTION_ALIGN
}

fn encode_header(header: &FileHeader, table: &[SectionEntry]) -> Vec<u8> {
    let mut out = Vec::with_capacity(HEADER_BYTES + table.len() * TABLE_ENTRY_BYTES);
    out.extend_from_slice(MAGIC);
    out.put_u32(FORMAT_VERSION);
    out.put_u32(HEADER_BYTES as u32);
    out.put_u32(table.len() as u32);
    out.put_u32(metric_code(header.metric));
    out.put_u32(header.dimensions as u32);
    out.put_u32(header.params.m as u32);
    out.put_u32(header.params.ef_construction as u32);
    out.put_u32(header.params.ef_search as u32);
    out.put_u64(header.params.seed);
    out.put_u64(header.slot_count);
    out.put_u64(header.live_count);
    let (entry_slot, entry_level) = header.entry.unwrap_or((u32::MAX, 0));
    out.put_u32(entry_slot);
    out.put_u32(entry_level);
    out.put_u64(header.file_id);
    out.put_u64(header.generation);
    out.put_u64(header.level_rng_state);
    out.resize(HEADER_BYTES, 0);
    for entry in table {
        out.put_u32(entry.kind);
        out.put_u32(entry.param);
        out.put_u64(entry.offset);
        out.put_u64(entry.length);
        out.put_u32(entry.crc);
        out.put_u32(0);
    }
    let crc = header_crc(&out);
    out[HEADER_CRC_AT..HEADER_CRC_AT + 4].copy_from_slice(&crc.to_le_bytes());
    out
}

/// CRC of the header (its CRC field read as zero) and the section table.
fn header_crc(header_and_table: &[u8]) -> u32 {
    let mut hasher = crc32fast::Hasher::new();
    hasher.update(&header_and_table[..HEADER_CRC_AT]);
    hasher.update(&[0; 4]);
    hasher.update(&header_and_table[HEADER_CRC_AT + 4..]);
    hasher.finalize()
}

fn decode_header(file: &[u8]) -> Result<(FileHeader, Vec<SectionEntry>)> {
    let corrupt = |why: String| Error::corrupt("header", why);
    if file.len() < 8 || &file[..8] != MAGIC {
        return Err(Error::UnsupportedFormat(
            "not an hnsw-gnn database file (bad magic bytes)".into(),
        ));
    }
    let mut reader = ByteReader::new(file, "header");
    reader.take(8, "magic")?;
    let version = reader.u32("format version")?;
    if version > FORMAT_VERSION {
        return Err(Error::UnsupportedFormat(format!(
            "the file has format version {version}; this hnsw-gnn reads up to {FORMAT_VERSION} (upgrade hnsw-gnn)"
        )));
    }
    if version == 0 {
        return Err(corrupt("format version 0".into()));
    }
    let header_len = reader.u32("header length")?;
    if header_len as usize != HEADER_BYTES {
        return Err(corrupt(format!(
            "header length {header_len}, expected {HEADER_BYTES}"
        )));
    }
    let section_count = reader.u32("section count")?;
    if section_count > MAX_SECTIONS {
        return Err(corrupt(format!("{section_count} sections")));
    }
    let table_end = HEADER_BYTES + section_count as usize * TABLE_ENTRY_BYTES;
    if file.len() < table_end {
        return Err(corrupt(format!(
            "the file is {} bytes, shorter than its header and section table ({table_end})",
            file.len()
        )));
    }
    let stored_crc = u32::from_le_bytes(
        file[HEADER_CRC_AT..HEADER_CRC_AT + 4]
            .try_into()
            .expect("4"),
    );
    if header_crc(&file[..table_end]) != stored_crc {
        return Err(corrupt("checksum mismatch".into()));
    }
    let metric_code = reader.u32("metric")?;
    let metric = metric_from_code(metric_code)
        .ok_or_else(|| corrupt(format!("unknown metric {metric_code}")))?;
    let dimensions = reader.u32("dimensions")? as usize;
    let params = HnswParams {
        m: reader.u32("m")? as usize,
        ef_construction: reader.u32("efConstruction")? as usize,
        ef_search: reader.u32("efSearch")? as usize,
        seed: reader.u64("seed")?,
    };
    if !(1..=crate::hnsw::MAX_DIMENSIONS).contains(&dimensions) {
        return Err(corrupt(format!("dimensions {dimensions}")));
    }
    params.validate().map_err(|e| corrupt(e.to_string()))?;
    let slot_count = reader.u64("slot count")?;
    let live_count = reader.u64("live count")?;
    if live_count > slot_count || slot_count >= u32::MAX as u64 {
        return Err(corrupt(format!("{live_count} live of {slot_count} slots")));
    }
    let entry_slot = reader.u32("entry slot")?;
    let entry_level = reader.u32("entry level")?;
    let entry = (entry_slot != u32::MAX).then_some((entry_slot, entry_level));
    if let Some((slot, _)) = entry {
        if slot as u64 >= slot_count {
            return Err(corrupt(format!("entry point {slot} of {slot_count} slots")));
        }
    }
    let header = FileHeader {
        dimensions,
        metric,
        params,
        slot_count,
        live_count,
        entry,
        file_id: reader.u64("file id")?,
        generation: reader.u64("generation")?,
        level_rng_state: reader.u64("level RNG state")?,
    };
    let mut table = ByteReader::new(&file[HEADER_BYTES..table_end], "section table");
    let data_start = table_bytes(section_count as usize);
    let mut sections = Vec::with_capacity(section_count as usize);
    for i in 0..section_count {
        let entry = SectionEntry {
            kind: table.u32("kind")?,
            param: table.u32("param")?,
            offset: table.u64("offset")?,
            length: table.u64("length")?,
            crc: table.u32("crc")?,
        };
        table.u32("reserved")?;
        let end = entry.offset.checked_add(entry.length);
        if !entry.offset.is_multiple_of(SECTION_ALIGN)
            || entry.offset < data_start
            || end.is_none_or(|end| end > file.len() as u64)
        {
            return Err(Error::corrupt(
                "section table",
                format!(
                    "section {i} spans {}+{} bytes, outside the {}-byte file",
                    entry.offset,
                    entry.length,
                    file.len()
                ),
            ));
        }
        sections.push(entry);
    }
    let mut spans: Vec<(u64, u64)> = sections
        .iter()
        .map(|s| (s.offset, s.offset + s.length))
        .collect();
    spans.sort_unstable();
    if spans.windows(2).any(|w| w[0].1 > w[1].0) {
        return Err(Error::corrupt("section table", "sections overlap"));
    }
    // Every byte is accounted for: padding is zero, nothing trails the
    // last section.
    let mut covered = table_end as u64;
    for (start, end) in spans
        .into_iter()
        .chain([(file.len() as u64, file.len() as u64)])
    {
        if file[covered as usize..start as usize]
            .iter()
            .any(|&b| b != 0)
        {
            return Err(Error::corrupt(
                "section table",
                format!(
                    "non-zero bytes between offsets {covered} and {start}, outside every section"
                ),
            ));
        }
        covered = covered.max(end);
    }
    Ok((header, sections))
}

/// Streams a section's bytes into the file being written.
pub type SectionWriter<'a> = Box<dyn FnOnce(&mut dyn Write) -> io::Result<()> + 'a>;

/// One section to write: its kind (a [`SectionKind`] code), parameter and
/// a function that streams its bytes.
pub struct SectionSource<'a> {
    pub kind: u32,
    pub param: u32,
    pub write: SectionWriter<'a>,
}

/// Counts and checksums what passes through.
struct ChecksumWriter<W> {
    inner: W,
    hasher: crc32fast::Hasher,
    written: u64,
}

impl<W: Write> Write for ChecksumWriter<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.hasher.update(&buf[..n]);
        self.written += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

/// The temp file [`write_file`] writes before renaming it over `path`.
pub fn temp_path(path: &Path) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(".tmp");
    PathBuf::from(name)
}

/// Writes a whole database file atomically: temp file, fsync, rename over
/// `path`, fsync of the directory. On error the old file is untouched.
pub fn write_file(
    path: &Path,
    header: &FileHeader,
    sections: Vec<SectionSource<'_>>,
) -> Result<u64> {
    write_atomically(path, |file, temp| {
        write_sections(file, temp, header, sections)
    })
}

/// Writes `path` atomically: `write` fills a fresh temp file (returning its
/// size), which is then fsynced and renamed over `path`, and the directory
/// fsynced. On any error the temp file is removed and `path` untouched.
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

fn write_sections(
    file: File,
    temp: &Path,
    header: &FileHeader,
    sections: Vec<SectionSource<'_>>,
) -> Result<(File, u64)> {
    let io_error = |e| Error::io("cannot write", temp, e);
    let data_start = table_bytes(sections.len());
    let mut out = BufWriter::with_capacity(1 << 20, file);
    out.write_all(&vec![0; data_start as usize])
        .map_err(io_error)?;
    let mut offset = data_start;
    let mut table = Vec::with_capacity(sections.len());
    for section in sections {
        let start = align_up(offset);
        out.write_all(&vec![0; (start - offset) as usize])
            .map_err(io_error)?;
        let mut counted = ChecksumWriter {
            inner: &mut out,
            hasher: crc32fast::Hasher::new(),
            written: 0,
        };
        (section.write)(&mut counted).map_err(io_error)?;
        let (length, crc) = (counted.written, counted.hasher.finalize());
        table.push(SectionEntry {
            kind: section.kind,
            param: section.param,
            offset: start,
            length,
            crc,
        });
        offset = start + length;
    }
    let mut file = out.into_inner().map_err(|e| io_error(e.into_error()))?;
    file.seek(SeekFrom::Start(0)).map_err(io_error)?;
    file.write_all(&encode_header(header, &table))
        .map_err(io_error)?;
    Ok((file, offset))
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

/// Recomputes every in-bounds section CRC and the header CRC of a file
/// image, so mutation tests and the fuzz target reach the parsers behind
/// the checksums. Leaves what it cannot make sense of alone.
#[doc(hidden)]
pub fn refresh_checksums(file: &mut [u8]) {
    if file.len() < HEADER_BYTES {
        return;
    }
    let count = u32::from_le_bytes(file[16..20].try_into().expect("4")).min(MAX_SECTIONS) as usize;
    let table_end = HEADER_BYTES + count * TABLE_ENTRY_BYTES;
    if file.len() < table_end {
        return;
    }
    for i in 0..count {
        let at = HEADER_BYTES + i * TABLE_ENTRY_BYTES;
        let offset = u64::from_le_bytes(file[at + 8..at + 16].try_into().expect("8"));
        let length = u64::from_le_bytes(file[at + 16..at + 24].try_into().expect("8"));
        if let Some(end) = offset
            .checked_add(length)
            .filter(|&end| end <= file.len() as u64)
        {
            let crc = crc32fast::hash(&file[offset as usize..end as usize]);
            file[at + 24..at + 28].copy_from_slice(&crc.to_le_bytes());
        }
    }
    let crc = header_crc(&file[..table_end]);
    file[HEADER_CRC_AT..HEADER_CRC_AT + 4].copy_from_slice(&crc.to_le_bytes());
}

/// A validated, memory-mapped database file.
pub struct MappedFile {
    map: Arc<Mmap>,
    pub header: FileHeader,
    sections: Vec<SectionEntry>,
}

impl MappedFile {
    /// Maps `path` and checks its header and section table, and with
    /// `verify` every section's CRC (skipped only for a file this process
    /// has just written).
    pub fn open(path: &Path, verify: bool) -> Result<MappedFile> {
        let file = File::open(path).map_err(|e| Error::io("cannot open", path, e))?;
        let len = file
            .metadata()
            .map_err(|e| Error::io("cannot stat", path, e))?
            .len();
        if len < HEADER_BYTES as u64 {
            return Err(Error::corrupt(
                "header",
                format!("the file is {len} bytes, shorter than a header"),
            ));
        }
        // SAFETY: the mapping is read-only, and hnsw-gnn never modifies a
        // database file in place (saves write a new file and rename it). A
        // process that truncates the file behind our back can still fault
        // us, as with any mmap-based store; the docs say so.
        let map = unsafe { Mmap::map(&file) }.map_err(|e| Error::io("cannot map", path, e))?;
        MappedFile::validate(map, verify)
    }

    /// Validates a file image held in memory (tests and the fuzz target).
    #[doc(hidden)]
    pub fn from_bytes(bytes: &[u8]) -> Result<MappedFile> {
        if bytes.len() < HEADER_BYTES {
            return Err(Error::corrupt(
                "header",
                format!("the file is {} bytes, shorter than a header", bytes.len()),
            ));
        }
        let mut anonymous = memmap2::MmapMut::map_anon(bytes.len())
            .map_err(|e| Error::Io(format!("cannot map {} bytes: {e}", bytes.len())))?;
        anonymous.copy_from_slice(bytes);
        let map = anonymous
            .make_read_only()
            .map_err(|e| Error::Io(format!("cannot protect a mapping: {e}")))?;
        MappedFile::validate(map, true)
    }

    fn validate(map: Mmap, verify: bool) -> Result<MappedFile> {
        let (header, sections) = decode_header(&map)?;
        for entry in sections.iter().filter(|_| verify) {
            let bytes = &map[entry.offset as usize..(entry.offset + entry.length) as usize];
            if crc32fast::hash(bytes) != entry.crc {
                let name = SectionKind::from_code(entry.kind).map_or_else(
                    || format!("section of kind {}", entry.kind),
                    |k| k.describe(entry.param),
                );
                return Err(Error::corrupt(name, "checksum mismatch"));
            }
        }
        Ok(MappedFile {
            map: Arc::new(map),
            header,
            sections,
        })
    }

    /// Size of the file in bytes.
    pub fn len(&self) -> u64 {
        self.map.len() as u64
    }

    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }

    /// The bytes of the section `(kind, param)`; `ERR_CORRUPT_FILE` if the
    /// file lacks it.
    pub fn section(&self, kind: SectionKind, param: u32) -> Result<&[u8]> {
        self.sections
            .iter()
            .find(|s| s.kind == kind as u32 && s.param == param)
            .map(|s| &self.map[s.offset as usize..(s.offset + s.length) as usize])
            .ok_or_else(|| Error::corrupt(kind.describe(param), "missing"))
    }

    /// The vectors section as `f32` rows used in place.
    pub fn vectors(&self) -> Result<MappedF32> {
        let entry = self
            .sections
            .iter()
            .find(|s| s.kind == SectionKind::Vectors as u32)
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
        MappedF32::new(
            self.map.clone(),
            entry.offset as usize,
            entry.length as usize / 4,
        )
    }
}

/// `f32` values read in place from a mapped file.
#[derive(Clone)]
pub struct MappedF32 {
    // Keeps the mapping alive for as long as `ptr` is used.
    _map: Option<Arc<Mmap>>,
    ptr: *const f32,
    len: usize,
}

// SAFETY: the mapping is read-only and owned (through the `Arc`) by this
// value, so sharing or sending the pointer is as safe as sharing `&[f32]`.
unsafe impl Send for MappedF32 {}
// SAFETY: as above; nothing writes through the pointer.
unsafe impl Sync for MappedF32 {}

impl MappedF32 {
    /// `len` floats at byte `offset` of `map` (which must be 4-aligned).
    pub(crate) fn new(map: Arc<Mmap>, offset: usize, len: usize) -> Result<MappedF32> {
        let bytes = &map[offset..offset + len * 4];
        let ptr = bytes.as_ptr() as *const f32;
        if !ptr.is_aligned() {
            return Err(Error::corrupt("f32 data", "misaligned"));
        }
        Ok(MappedF32 {
            _map: Some(map),
            ptr,
            len,
        })
    }

    /// No values: what an index that maps nothing holds.
    pub fn empty() -> MappedF32 {
        MappedF32 {
            _map: None,
            ptr: std::ptr::NonNull::<f32>::dangling().as_ptr(),
            len: 0,
        }
    }

    #[inline(always)]
    pub fn as_slice(&self) -> &[f32] {
        // SAFETY: `ptr` is aligned (checked in `new`, or dangling with
        // `len == 0`) and points at `len` f32s inside the mapping held by
        // `_map`, which lives as long as `self`; the mapping is never
        // written, and every bit pattern is a valid f32.
        unsafe { std::slice::from_raw_parts(self.ptr, self.len) }
    }

    /// Bytes mapped (not necessarily resident).
    pub fn mapped_bytes(&self) -> usize {
        self.len * 4
    }
}

/// Takes the exclusive advisory lock (`flock`) on `file`, which stands for
/// the database at `path`.
pub fn lock_exclusive(file: &File, path: &Path) -> Result<()> {
    match file.try_lock() {
        Ok(()) => Ok(()),
        Err(fs::TryLockError::WouldBlock) => Err(Error::Locked(path.display().to_string())),
        Err(fs::TryLockError::Error(e)) => Err(Error::io("cannot lock", path, e)),
    }
}

#[cfg(test)]
mod tests;
