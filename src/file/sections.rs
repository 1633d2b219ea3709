//! The checksummed section container that every hnsw-gnn file is made of:
//! the database file and the model (weight) file are two *formats* of it —
//! each its own magic, version and header fields — and a model container
//! can itself be stored, whole, as one section of a database file.
//!
//! ```text
//! 0   magic [8] · format version u32 · header bytes H u32 · section count u32 ·
//!     format fields (H − 24 bytes) · CRC32 u32 at H − 4
//! H   section table, 32 bytes per section:
//!     kind u32 · param u32 · offset u64 · length u64 · CRC32 u32 · flags u32
//! …   the sections, each at a 64-byte-aligned offset (relative to byte 0),
//!     zero bytes between them, nothing after the last
//! ```
//!
//! All integers are little-endian. The header CRC covers the header (its
//! own field read as zero) and the table; each section has its own CRC,
//! checked by [`SectionFile::verify`].
//!
//! # Growing a format: the flag bits
//!
//! Like PNG's chunk names, every section says how a program that does not
//! know its kind must treat it:
//! - **must understand**: a program that would *change* the file refuses it
//!   (`ERR_UNSUPPORTED_FORMAT`); one that only reads may skip the section.
//! - **safe to copy**: a program that rewrites the file carries the section
//!   through byte for byte; without the bit it drops the section, which
//!   then may depend on things the rewrite changes (such as slot numbers).
//!
//! What a known kind means is the format's business; the container knows
//! no format.
//!
//! # Trust
//!
//! Every offset, length and count is checked against the image before it
//! is used; overlapping sections, non-zero padding and trailing bytes are
//! refused: a damaged or hostile image gives `ERR_CORRUPT_FILE`, never a
//! panic or an allocation its size does not justify.

use super::bytes::{ByteReader, ByteWriter};
use super::mmap::{MappedF32, Mapping};
use crate::error::{Error, Result};
use rayon::prelude::*;
use std::io::{self, BufWriter, Seek, SeekFrom, Write};
use std::ops::Range;
use std::path::Path;

/// Every section starts at a multiple of this (so `f32` and wider values
/// can be read in place, and a nested container stays aligned).
pub const SECTION_ALIGN: u64 = 64;
const FIXED_HEADER_BYTES: usize = 20;
const TABLE_ENTRY_BYTES: usize = 32;
/// More sections than any format writes; bounds the table read.
const MAX_SECTIONS: u32 = 4_096;
/// Bytes per task when [`SectionFile::verify`] checksums in parallel.
const CRC_PIECE: usize = 4 << 20;
const MUST_UNDERSTAND: u32 = 1;
const SAFE_TO_COPY: u32 = 2;

/// What distinguishes one file format built on the container.
#[derive(Clone, Copy, Debug)]
pub struct ContainerFormat {
    pub magic: &'static [u8; 8],
    /// The version written, and the newest one read.
    pub version: u32,
    /// `H`: the header with its format fields and CRC.
    pub header_bytes: usize,
    /// Names the format in errors ("database file", "model file").
    pub name: &'static str,
    /// Names the header in errors.
    pub header_name: &'static str,
}

impl ContainerFormat {
    fn crc_at(&self) -> usize {
        self.header_bytes - 4
    }

    /// Bytes before the first section: header and table, aligned.
    fn data_start(&self, sections: usize) -> u64 {
        align_up((self.header_bytes + sections * TABLE_ENTRY_BYTES) as u64)
    }
}

/// How a program that does not know a section's kind must treat it (see
/// the module doc).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SectionFlags {
    pub must_understand: bool,
    pub safe_to_copy: bool,
}

impl SectionFlags {
    fn bits(self) -> u32 {
        (self.must_understand as u32 * MUST_UNDERSTAND) | (self.safe_to_copy as u32 * SAFE_TO_COPY)
    }

    fn from_bits(bits: u32) -> Option<SectionFlags> {
        (bits & !(MUST_UNDERSTAND | SAFE_TO_COPY) == 0).then_some(SectionFlags {
            must_understand: bits & MUST_UNDERSTAND != 0,
            safe_to_copy: bits & SAFE_TO_COPY != 0,
        })
    }
}

/// One entry of the section table.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SectionEntry {
    pub kind: u32,
    pub param: u32,
    pub flags: SectionFlags,
    /// From the start of the container.
    pub offset: u64,
    pub length: u64,
    pub crc: u32,
}

impl SectionEntry {
    fn range(&self) -> Range<usize> {
        self.offset as usize..(self.offset + self.length) as usize
    }
}

pub fn align_up(offset: u64) -> u64 {
    offset.div_ceil(SECTION_ALIGN) * SECTION_ALIGN
}

/// CRC of a header (its CRC field read as zero) and the table after it.
fn header_crc(header_and_table: &[u8], crc_at: usize) -> u32 {
    let mut hasher = crc32fast::Hasher::new();
    hasher.update(&header_and_table[..crc_at]);
    hasher.update(&[0; 4]);
    hasher.update(&header_and_table[crc_at + 4..]);
    hasher.finalize()
}

/// A validated container image inside a [`Mapping`]: its header fields
/// and its sections, each usable in place.
#[derive(Clone)]
pub struct SectionFile {
    mapping: Mapping,
    /// Where the image lies in the mapping.
    span: Range<usize>,
    version: u32,
    format: ContainerFormat,
    sections: Vec<SectionEntry>,
}

impl SectionFile {
    /// The container that fills all of `mapping`.
    pub fn parse(mapping: Mapping, format: &ContainerFormat) -> Result<SectionFile> {
        let span = 0..mapping.len();
        SectionFile::parse_within(mapping, span, format)
    }

    /// The container that fills `span` of `mapping` (a section holding a
    /// nested container). Checks the header and table, not the sections'
    /// CRCs (see [`SectionFile::verify`]).
    pub fn parse_within(
        mapping: Mapping,
        span: Range<usize>,
        format: &ContainerFormat,
    ) -> Result<SectionFile> {
        let image = mapping
            .bytes()
            .get(span.clone())
            .ok_or_else(|| Error::Internal(format!("span {span:?} outside the mapping")))?;
        let (version, sections) = decode(image, format)?;
        Ok(SectionFile {
            mapping,
            span,
            version,
            format: *format,
            sections,
        })
    }

    /// Checks every section's CRC; `name` names a section in the error.
    /// The sections are cut into pieces checksummed in parallel and
    /// combined in order, so a large file verifies at the speed of all
    /// cores (and, cold, with reads from several places of the file at
    /// once).
    pub fn verify(&self, name: impl Fn(&SectionEntry) -> String) -> Result<()> {
        let pieces: Vec<(usize, &[u8])> = self
            .sections
            .iter()
            .enumerate()
            .flat_map(|(i, entry)| {
                self.bytes(entry)
                    .chunks(CRC_PIECE)
                    .map(move |piece| (i, piece))
            })
            .collect();
        let hashed: Vec<crc32fast::Hasher> = pieces
            .par_iter()
            .map(|(_, piece)| {
                let mut hasher = crc32fast::Hasher::new();
                hasher.update(piece);
                hasher
            })
            .collect();
        let mut sections = vec![crc32fast::Hasher::new(); self.sections.len()];
        for ((i, _), piece) in pieces.iter().zip(&hashed) {
            sections[*i].combine(piece);
        }
        for (entry, hasher) in self.sections.iter().zip(sections) {
            if hasher.finalize() != entry.crc {
                return Err(Error::corrupt(name(entry), "checksum mismatch"));
            }
        }
        Ok(())
    }

    /// The version the image was written as.
    pub fn version(&self) -> u32 {
        self.version
    }

    /// The format's own header fields (bytes `20..H − 4`).
    pub fn fields(&self) -> &[u8] {
        &self.image()[FIXED_HEADER_BYTES..self.format.crc_at()]
    }

    pub fn sections(&self) -> &[SectionEntry] {
        &self.sections
    }

    /// The first section of `kind` with `param`.
    pub fn find(&self, kind: u32, param: u32) -> Option<&SectionEntry> {
        self.sections
            .iter()
            .find(|s| s.kind == kind && s.param == param)
    }

    pub fn bytes(&self, entry: &SectionEntry) -> &[u8] {
        &self.image()[entry.range()]
    }

    /// A section to write, with `entry`'s kind, param, flags and bytes.
    pub fn source(&self, entry: &SectionEntry) -> SectionSource<'_> {
        SectionSource::from_bytes(entry.kind, entry.param, entry.flags, self.bytes(entry))
    }

    /// This container's image (in the version written now) with `replaced`
    /// in place of its sections of the same kind and param, added where it
    /// has none; the rest kept byte for byte. Tests and the fuzz targets
    /// put a section of any length into an otherwise valid file with it.
    #[doc(hidden)]
    pub fn with_sections(&self, replaced: Vec<SectionSource<'_>>) -> Result<Vec<u8>> {
        let mut sources: Vec<SectionSource<'_>> = self
            .sections
            .iter()
            .filter(|entry| {
                !replaced
                    .iter()
                    .any(|r| r.kind == entry.kind && r.param == entry.param)
            })
            .map(|entry| self.source(entry))
            .collect();
        sources.extend(replaced);
        to_bytes(&self.format, self.fields(), sources)
    }

    /// A section's bytes as `f32` values read in place.
    pub fn f32s(&self, entry: &SectionEntry) -> Result<MappedF32> {
        self.mapping.f32s(
            self.span.start + entry.offset as usize,
            entry.length as usize / 4,
        )
    }

    /// `count` values of `T` from byte `start` of a section on, read in
    /// place; `ERR_CORRUPT_FILE` if they overrun the section.
    pub fn values<T: super::mmap::InPlace>(
        &self,
        entry: &SectionEntry,
        start: usize,
        count: usize,
    ) -> Result<super::mmap::Mapped<T>> {
        let fits = count
            .checked_mul(std::mem::size_of::<T>())
            .and_then(|bytes| bytes.checked_add(start))
            .is_some_and(|end| end as u64 <= entry.length);
        if !fits {
            return Err(Error::corrupt(
                T::NAME,
                format!(
                    "{count} values at {start} overrun a {}-byte section",
                    entry.length
                ),
            ));
        }
        self.mapping
            .values(self.span.start + entry.offset as usize + start, count)
    }

    /// The container nested in a section, sharing this mapping.
    pub fn nested(&self, entry: &SectionEntry, format: &ContainerFormat) -> Result<SectionFile> {
        let start = self.span.start + entry.offset as usize;
        SectionFile::parse_within(
            self.mapping.clone(),
            start..start + entry.length as usize,
            format,
        )
    }

    /// Size of the image in bytes.
    pub fn len(&self) -> u64 {
        self.span.len() as u64
    }

    pub fn is_empty(&self) -> bool {
        self.span.is_empty()
    }

    fn image(&self) -> &[u8] {
        &self.mapping.bytes()[self.span.clone()]
    }
}

fn decode(image: &[u8], format: &ContainerFormat) -> Result<(u32, Vec<SectionEntry>)> {
    let corrupt = |why: String| Error::corrupt(format.header_name, why);
    // The magic first, on as much of it as there is: a short file that does
    // not start like ours is someone else's file, not a damaged one.
    let magic_len = image.len().min(format.magic.len());
    if image[..magic_len] != format.magic[..magic_len] {
        return Err(Error::UnsupportedFormat(format!(
            "not an hnsw-gnn {} (bad magic bytes)",
            format.name
        )));
    }
    if image.len() < format.header_bytes {
        return Err(corrupt(format!(
            "the {} is {} bytes, shorter than its header",
            format.name,
            image.len()
        )));
    }
    let mut reader = ByteReader::new(&image[8..FIXED_HEADER_BYTES], format.header_name);
    let version = reader.u32("format version")?;
    if version > format.version {
        return Err(Error::UnsupportedFormat(format!(
            "the {} has format version {version}; this hnsw-gnn reads up to {} (upgrade hnsw-gnn)",
            format.name, format.version
        )));
    }
    if version == 0 {
        return Err(corrupt("format version 0".into()));
    }
    let header_bytes = reader.u32("header length")?;
    if header_bytes as usize != format.header_bytes {
        return Err(corrupt(format!(
            "header length {header_bytes}, expected {}",
            format.header_bytes
        )));
    }
    let section_count = reader.u32("section count")?;
    if section_count > MAX_SECTIONS {
        return Err(corrupt(format!("{section_count} sections")));
    }
    let table_end = format.header_bytes + section_count as usize * TABLE_ENTRY_BYTES;
    if image.len() < table_end {
        return Err(corrupt(format!(
            "the {} is {} bytes, shorter than its header and section table ({table_end})",
            format.name,
            image.len()
        )));
    }
    let crc_at = format.crc_at();
    let stored = u32::from_le_bytes(image[crc_at..crc_at + 4].try_into().expect("4 bytes"));
    if header_crc(&image[..table_end], crc_at) != stored {
        return Err(corrupt("checksum mismatch".into()));
    }
    let mut table = ByteReader::new(&image[format.header_bytes..table_end], "section table");
    let data_start = format.data_start(section_count as usize);
    let mut sections = Vec::with_capacity(section_count as usize);
    for i in 0..section_count {
        let (kind, param) = (table.u32("kind")?, table.u32("param")?);
        let (offset, length) = (table.u64("offset")?, table.u64("length")?);
        let crc = table.u32("crc")?;
        let flag_bits = table.u32("flags")?;
        let flags = SectionFlags::from_bits(flag_bits).ok_or_else(|| {
            Error::corrupt(
                "section table",
                format!("section {i} has unknown flag bits {flag_bits:#x}"),
            )
        })?;
        let end = offset.checked_add(length);
        if !offset.is_multiple_of(SECTION_ALIGN)
            || offset < data_start
            || end.is_none_or(|end| end > image.len() as u64)
        {
            return Err(Error::corrupt(
                "section table",
                format!(
                    "section {i} spans {offset}+{length} bytes, outside the {}-byte {}",
                    image.len(),
                    format.name
                ),
            ));
        }
        sections.push(SectionEntry {
            kind,
            param,
            flags,
            offset,
            length,
            crc,
        });
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
    let end = image.len() as u64;
    for (start, stop) in spans.into_iter().chain([(end, end)]) {
        if image[covered as usize..start as usize]
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
        covered = covered.max(stop);
    }
    Ok((version, sections))
}

/// Streams a section's bytes into the container being written.
pub type SectionWriter<'a> = Box<dyn FnOnce(&mut dyn Write) -> io::Result<()> + 'a>;

/// One section to write.
pub struct SectionSource<'a> {
    pub kind: u32,
    pub param: u32,
    pub flags: SectionFlags,
    pub write: SectionWriter<'a>,
}

impl<'a> SectionSource<'a> {
    /// A section whose bytes are already in memory.
    pub fn from_bytes(kind: u32, param: u32, flags: SectionFlags, bytes: &'a [u8]) -> Self {
        SectionSource {
            kind,
            param,
            flags,
            write: Box::new(move |out: &mut dyn Write| out.write_all(bytes)),
        }
    }
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

/// A container being written section by section: room for the header and
/// table is left at the start, and [`ContainerWriter::finish`] fills it in
/// once every section's length and CRC are known. A caller may pause
/// between sections (a checkpoint writes its long sections, syncs them,
/// and only then takes its writers' lock for the last one).
pub struct ContainerWriter<W: Write + Seek> {
    out: BufWriter<W>,
    format: ContainerFormat,
    sections: usize,
    offset: u64,
    table: Vec<SectionEntry>,
}

impl<W: Write + Seek> ContainerWriter<W> {
    /// Starts a container of exactly `sections` sections at the start of
    /// `out`.
    pub fn new(out: W, format: &ContainerFormat, sections: usize) -> io::Result<Self> {
        if sections > MAX_SECTIONS as usize {
            return Err(io::Error::other(format!(
                "{sections} sections do not fit a {}",
                format.name
            )));
        }
        let data_start = format.data_start(sections);
        let mut out = BufWriter::with_capacity(1 << 20, out);
        out.write_all(&vec![0; data_start as usize])?;
        Ok(ContainerWriter {
            out,
            format: *format,
            sections,
            offset: data_start,
            table: Vec::with_capacity(sections),
        })
    }

    /// Writes the next section.
    pub fn section(&mut self, section: SectionSource<'_>) -> io::Result<()> {
        if self.table.len() == self.sections {
            return Err(io::Error::other(format!(
                "more sections than the {} announced",
                self.sections
            )));
        }
        let start = align_up(self.offset);
        self.out
            .write_all(&vec![0; (start - self.offset) as usize])?;
        let mut counted = ChecksumWriter {
            inner: &mut self.out,
            hasher: crc32fast::Hasher::new(),
            written: 0,
        };
        (section.write)(&mut counted)?;
        let (length, crc) = (counted.written, counted.hasher.finalize());
        self.table.push(SectionEntry {
            kind: section.kind,
            param: section.param,
            flags: section.flags,
            offset: start,
            length,
            crc,
        });
        self.offset = start + length;
        Ok(())
    }

    /// The sink, with everything written so far flushed to it (to sync it).
    pub fn flushed(&mut self) -> io::Result<&mut W> {
        self.out.flush()?;
        Ok(self.out.get_mut())
    }

    /// Writes the header with `fields` and the table; returns the sink and
    /// the container's size.
    pub fn finish(self, fields: &[u8]) -> io::Result<(W, u64)> {
        let format = self.format;
        let field_bytes = format.crc_at() - FIXED_HEADER_BYTES;
        if fields.len() > field_bytes || self.table.len() != self.sections {
            return Err(io::Error::other(format!(
                "{} header field bytes or {} of {} sections for a {}",
                fields.len(),
                self.table.len(),
                self.sections,
                format.name
            )));
        }
        let data_start = format.data_start(self.sections);
        let mut out = self.out.into_inner().map_err(|e| e.into_error())?;
        let mut header = Vec::with_capacity(data_start as usize);
        header.extend_from_slice(format.magic);
        header.put_u32(format.version);
        header.put_u32(format.header_bytes as u32);
        header.put_u32(self.table.len() as u32);
        header.extend_from_slice(fields);
        header.resize(format.header_bytes, 0);
        for entry in &self.table {
            header.put_u32(entry.kind);
            header.put_u32(entry.param);
            header.put_u64(entry.offset);
            header.put_u64(entry.length);
            header.put_u32(entry.crc);
            header.put_u32(entry.flags.bits());
        }
        let crc = header_crc(&header, format.crc_at());
        header[format.crc_at()..format.header_bytes].copy_from_slice(&crc.to_le_bytes());
        out.seek(SeekFrom::Start(0))?;
        out.write_all(&header)?;
        Ok((out, self.offset))
    }
}

/// Writes a whole container to `out` (positioned at its start): header
/// and table last, once every section's length and CRC are known. Returns
/// `out` and the container's size.
pub fn write_container<W: Write + Seek>(
    out: W,
    format: &ContainerFormat,
    fields: &[u8],
    sections: Vec<SectionSource<'_>>,
) -> io::Result<(W, u64)> {
    let mut writer = ContainerWriter::new(out, format, sections.len())?;
    for section in sections {
        writer.section(section)?;
    }
    writer.finish(fields)
}

/// Writes a container to `path` atomically (see [`super::atomic`]).
pub fn write_file(
    path: &Path,
    format: &ContainerFormat,
    fields: &[u8],
    sections: Vec<SectionSource<'_>>,
) -> Result<u64> {
    super::atomic::write_atomically(path, |file, temp| {
        write_container(file, format, fields, sections)
            .map_err(|e| Error::io("cannot write", temp, e))
    })
}

/// A container built in memory (to nest in a section, or for tests).
pub fn to_bytes(
    format: &ContainerFormat,
    fields: &[u8],
    sections: Vec<SectionSource<'_>>,
) -> Result<Vec<u8>> {
    let (cursor, _) = write_container(io::Cursor::new(Vec::new()), format, fields, sections)
        .map_err(|e| Error::Io(format!("cannot build a {}: {e}", format.name)))?;
    Ok(cursor.into_inner())
}

/// Recomputes every in-bounds section CRC and the header CRC of an image
/// whose header is `header_bytes` long, so mutation tests and the fuzz
/// target reach the parsers behind the checksums. Leaves what it cannot
/// make sense of alone.
#[doc(hidden)]
pub fn refresh_checksums(image: &mut [u8], header_bytes: usize) {
    if image.len() < header_bytes || header_bytes < FIXED_HEADER_BYTES + 4 {
        return;
    }
    let count =
        u32::from_le_bytes(image[16..20].try_into().expect("4 bytes")).min(MAX_SECTIONS) as usize;
    let table_end = header_bytes + count * TABLE_ENTRY_BYTES;
    if image.len() < table_end {
        return;
    }
    for i in 0..count {
        let at = header_bytes + i * TABLE_ENTRY_BYTES;
        let offset = u64::from_le_bytes(image[at + 8..at + 16].try_into().expect("8 bytes"));
        let length = u64::from_le_bytes(image[at + 16..at + 24].try_into().expect("8 bytes"));
        if let Some(end) = offset
            .checked_add(length)
            .filter(|&end| end <= image.len() as u64)
        {
            let crc = crc32fast::hash(&image[offset as usize..end as usize]);
            image[at + 24..at + 28].copy_from_slice(&crc.to_le_bytes());
        }
    }
    let crc = header_crc(&image[..table_end], header_bytes - 4);
    image[header_bytes - 4..header_bytes].copy_from_slice(&crc.to_le_bytes());
}

// In their own file to keep this one readable; a child module, so they
// reach the private helpers.
#[cfg(test)]
#[path = "sections_tests.rs"]
mod tests;
