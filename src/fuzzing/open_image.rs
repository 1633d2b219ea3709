//! Target `open_image`: everything `VectorDB.open` parses — the database
//! file (header, section table, levels, graph, ids, metadata, learning
//! sections) and the write-ahead log (framing and every record kind) —
//! then uses whatever was accepted.
//!
//! Input: `split u32 · file image · log records` (see
//! [`super::split_input`]). The file's checksums are recomputed so
//! mutations reach the parsers behind them; the records are
//! `u16`-length-prefixed payloads framed into a valid log for that file,
//! and the same bytes are also parsed as a raw log.

use super::exercise::exercise;
use super::{join_input, sample, split_input, Reached, Seed};
use crate::db::VectorDb;
use crate::error::Result;
use crate::store::{self, wal, DbFile};

pub fn run(data: &[u8]) -> Reached {
    let Some((file, rest)) = split_input(data) else {
        return Reached::Refused;
    };
    let _ = wal::parse(rest);
    let mut file = file.to_vec();
    store::refresh_checksums(&mut file);
    let Ok(mapped) = DbFile::from_bytes(&file) else {
        return Reached::Refused;
    };
    let records = unframe(rest);
    let header = &mapped.header;
    let log = wal::image(header.file_id, header.generation, &records);
    let log = wal::parse(&log).expect("a log framed by wal::image parses");
    match VectorDb::from_image(&mapped, log.as_ref(), &sample::open_options(false)) {
        Ok(opened) => {
            exercise(&opened.db);
            Reached::Used
        }
        Err(_) => Reached::Parsed,
    }
}

/// The `u16`-length-prefixed payloads of `bytes`; a last length that runs
/// past the end takes what there is.
fn unframe(mut bytes: &[u8]) -> Vec<&[u8]> {
    let mut records = Vec::new();
    while let Some((len, tail)) = bytes.split_first_chunk::<2>() {
        let len = (u16::from_le_bytes(*len) as usize).min(tail.len());
        records.push(&tail[..len]);
        bytes = &tail[len..];
    }
    records
}

/// The sample database, trained and saved, with changes since in its
/// log: every section kind and every record kind the target knows.
pub fn seeds() -> Result<Vec<Seed>> {
    let (file, log) = super::learning_sections::trained_files(
        "open-image-seeds",
        sample::learning(),
        super::wal_reader::log_every_change,
    )?;
    let log = wal::parse(&log)?.expect("a log with a header");
    let mut records = Vec::new();
    for record in &log.records {
        let Ok(len) = u16::try_from(record.len()) else {
            continue;
        };
        records.extend_from_slice(&len.to_le_bytes());
        records.extend_from_slice(record);
    }
    Ok(vec![("learned".into(), join_input(&file, &records))])
}
