//! The log records a change is written as. Changes are logged as their
//! effect: `Insert` (a batch, with the ids already assigned), `Update` (a
//! new vector and/or the item's full metadata), `Delete`. Replay applies
//! them through the same code paths as the original writes, with logging
//! off. A record's first byte is its kind (`store::wal::record_kind`).

use super::items::{put_metadata, read_metadata, Metadata, NewItem};
use crate::error::Result;
use crate::file::{ByteReader, ByteWriter, SectionFlags};
use crate::learn::Session;
use crate::store::wal::record_kind;
use std::sync::Arc;

/// A batch is logged in records of about this size, so replay memory stays
/// bounded and no record nears the format's limit.
const INSERT_RECORD_BYTES: usize = 64 << 20;

pub(super) const OP_INSERT: u8 = 1;
const OP_UPDATE: u8 = 2;
const OP_DELETE: u8 = 3;
/// A feedback session, logged when acknowledged.
const OP_FEEDBACK: u8 = 4;
/// `purgeFeedback({ before })`: the cutoff in ms since the epoch (`u64::MAX`
/// for everything); logged so purged queries do not come back on replay.
const OP_PURGE_FEEDBACK: u8 = 5;
/// `resetLearning()`.
const OP_RESET_LEARNING: u8 = 6;

fn read_vector(reader: &mut ByteReader<'_>, dimensions: usize) -> Result<Vec<f32>> {
    reader.f32s(dimensions, "vector")
}

/// One logged change.
#[derive(Debug, PartialEq)]
pub(super) enum WalOp {
    Insert(Vec<NewItem>),
    Update {
        id: String,
        vector: Option<Vec<f32>>,
        metadata: Option<Metadata>,
    },
    Delete(String),
    Feedback(Session),
    PurgeFeedback(u64),
    ResetLearning,
    /// A kind this version does not know, with what its flags say.
    Unknown {
        code: u8,
        flags: SectionFlags,
    },
}

/// A record of a kind this version does not know (for tests: what a
/// newer version could write).
#[cfg(test)]
pub(super) fn encode_unknown(code: u8, flags: SectionFlags, body: &[u8]) -> Vec<u8> {
    let mut record = vec![crate::store::wal::record_kind_byte(code, flags)];
    record.extend_from_slice(body);
    record
}

/// Encodes an insert of `items` under `ids` as records of bounded size.
/// `ids` with their vectors, laid end to end in `vectors`, and metadata
/// (empty: none).
pub(super) fn encode_insert(
    ids: &[Arc<str>],
    vectors: &[f32],
    dimensions: usize,
    metadata: &[Option<Metadata>],
) -> Vec<Vec<u8>> {
    let mut records = Vec::new();
    let mut start = 0;
    while start < ids.len() {
        let mut body = Vec::new();
        let mut end = start;
        while end < ids.len() && (end == start || body.len() < INSERT_RECORD_BYTES) {
            body.put_str(&ids[end]);
            body.put_f32s(&vectors[end * dimensions..(end + 1) * dimensions]);
            put_metadata(&mut body, metadata.get(end).and_then(Option::as_ref));
            end += 1;
        }
        let mut record = Vec::with_capacity(body.len() + 5);
        record.put_u8(OP_INSERT);
        record.put_u32((end - start) as u32);
        record.extend_from_slice(&body);
        records.push(record);
        start = end;
    }
    records
}

pub(super) fn encode_update(
    id: &str,
    vector: Option<&[f32]>,
    metadata: Option<&Metadata>,
) -> Vec<u8> {
    let mut record = vec![OP_UPDATE];
    record.put_str(id);
    record.put_u8(vector.is_some() as u8);
    if let Some(vector) = vector {
        record.put_f32s(vector);
    }
    put_metadata(&mut record, metadata);
    record
}

pub(super) fn encode_delete(id: &str) -> Vec<u8> {
    let mut record = vec![OP_DELETE];
    record.put_str(id);
    record
}

pub(super) fn encode_feedback(session: &Session) -> Vec<u8> {
    let mut record = vec![OP_FEEDBACK];
    session.encode(&mut record);
    record
}

pub(super) fn encode_purge_feedback(before_ms: u64) -> Vec<u8> {
    let mut record = vec![OP_PURGE_FEEDBACK];
    record.put_u64(before_ms);
    record
}

pub(super) fn encode_reset_learning() -> Vec<u8> {
    vec![OP_RESET_LEARNING]
}

impl super::VectorDb {
    /// Decodes `payload` as a log record of a database of `dimensions`
    /// without applying it: the fuzz targets decode every record of a log
    /// this way, past the first that a replay would stop at.
    #[doc(hidden)]
    pub fn decode_log_record(payload: &[u8], dimensions: usize) -> Result<()> {
        decode_op(payload, dimensions, "write-ahead log record").map(drop)
    }
}

pub(super) fn decode_op(payload: &[u8], dimensions: usize, section: &str) -> Result<WalOp> {
    let mut reader = ByteReader::new(payload, section);
    let (code, flags) = record_kind(reader.u8("operation")?);
    let op = match code {
        OP_INSERT => {
            let count = reader.u32("item count")?;
            // Each item takes at least its id length, vector and metadata tag.
            let count = reader.check_fits(count as u64, 8 + dimensions * 4, "item count")?;
            let mut items = Vec::with_capacity(count);
            for _ in 0..count {
                let id = reader.str("id")?.to_string();
                let vector = read_vector(&mut reader, dimensions)?;
                let metadata = read_metadata(&mut reader, "metadata")?;
                items.push(NewItem {
                    id: Some(id),
                    vector,
                    metadata,
                });
            }
            WalOp::Insert(items)
        }
        OP_UPDATE => {
            let id = reader.str("id")?.to_string();
            let vector = match reader.u8("vector flag")? {
                0 => None,
                1 => Some(read_vector(&mut reader, dimensions)?),
                other => return Err(reader.corrupt(format!("vector flag {other}"))),
            };
            let metadata = read_metadata(&mut reader, "metadata")?;
            WalOp::Update {
                id,
                vector,
                metadata,
            }
        }
        OP_DELETE => WalOp::Delete(reader.str("id")?.to_string()),
        OP_FEEDBACK => {
            let session = Session::decode(&mut reader)?;
            if session.query.len() != dimensions {
                return Err(reader.corrupt(format!(
                    "a feedback query has {} dimensions",
                    session.query.len()
                )));
            }
            WalOp::Feedback(session)
        }
        OP_PURGE_FEEDBACK => WalOp::PurgeFeedback(reader.u64("purge cutoff")?),
        OP_RESET_LEARNING => WalOp::ResetLearning,
        // Its body is the business of the version that wrote it.
        code => return Ok(WalOp::Unknown { code, flags }),
    };
    reader.finish()?;
    Ok(op)
}
