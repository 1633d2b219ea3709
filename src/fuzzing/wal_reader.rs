//! Target `wal_reader`: a write-ahead log's bytes, read as an open reads
//! them — the framing (`store::wal::parse`), every record through the
//! database's record decoder (`db::wal_record`), then the replay of the
//! whole log over the sample file, and a database that replayed it used.
//!
//! The raw bytes are parsed once as they are (their checksums mostly fail
//! after a mutation: the torn-tail path) and once with every record's
//! checksum recomputed, so mutations reach the decoder behind them. The
//! log is replayed as the sample file's whatever its header names: which
//! file a log belongs to is `open_image`'s business.

use super::exercise::exercise;
use super::sample::{self, DIMENSIONS};
use super::{Reached, Seed};
use crate::db::{Feedback, NewItem, VectorDb};
use crate::error::{Error, Result};
use crate::file::SectionFlags;
use crate::store::wal::{self, WalContents};
use serde_json::json;

pub fn run(data: &[u8]) -> Reached {
    let _ = wal::parse(data);
    let mut log = data.to_vec();
    wal::refresh_checksums(&mut log);
    let Ok(Some(contents)) = wal::parse(&log) else {
        return Reached::Refused;
    };
    for record in &contents.records {
        let _ = VectorDb::decode_log_record(record, DIMENSIONS);
    }
    let base = sample::base_file();
    let contents = WalContents {
        file_id: base.header.file_id,
        generation: base.header.generation,
        ..contents
    };
    // A record of an unknown kind flagged must-understand stops a writable
    // open; a read-only one skips it, as a user told so would retry.
    let opened = match VectorDb::from_image(base, Some(&contents), &sample::open_options(false)) {
        Err(Error::UnsupportedFormat(_)) => {
            VectorDb::from_image(base, Some(&contents), &sample::open_options(true))
        }
        other => other,
    };
    match opened {
        Ok(opened) => {
            exercise(&opened.db);
            Reached::Used
        }
        Err(_) => Reached::Parsed,
    }
}

/// Makes every kind of change the log records, on the sample database.
pub fn log_every_change(db: &VectorDb) -> Result<()> {
    let item = |id: &str, i: usize| NewItem {
        id: Some(id.into()),
        vector: sample::vector(1_000 + i),
        metadata: json!({ "group": i, "tags": ["new"] }).as_object().cloned(),
    };
    db.insert_batch(vec![item("new-0", 0), item("new-1", 1)], &|_, _| {})?;
    db.insert(NewItem {
        metadata: None,
        ..item("new-2", 2)
    })?;
    db.update(&sample::id(3), Some(sample::vector(2_000)), None)?;
    db.update(&sample::id(4), None, Some(sample::metadata(9)))?;
    db.update(&sample::id(6), None, Some(None))?;
    db.delete(&sample::id(7))?;
    let results = db.search(&sample::vector(3_000), &Default::default())?;
    db.feedback(Feedback::ForSearch {
        search_id: results.search_id,
        clicked: vec![
            results.hits[0].id.to_string(),
            results.hits[2].id.to_string(),
        ],
        converted: vec![results.hits[2].id.to_string()],
    })?;
    db.feedback(Feedback::Served {
        query: sample::vector(3_001),
        shown: vec![sample::id(1), sample::id(2), "elsewhere".into()],
        clicked: vec![sample::id(2)],
        converted: vec![],
    })?;
    db.purge_feedback(Some(1))?;
    db.reset_learning()?;
    db.purge_feedback(None)?;
    Ok(())
}

/// The log of [`log_every_change`] after a save of the sample; each
/// record on its own; and records of a kind this version does not know,
/// under each combination of flags.
pub fn seeds() -> Result<Vec<Seed>> {
    let (_, log) = sample::written("wal-seeds", |path| {
        let db = sample::create(path, sample::learning())?;
        db.save()?;
        log_every_change(&db)?;
        db.close()
    })?;
    let contents = wal::parse(&log)?.expect("a log with a header");
    let framed = |records: &[&[u8]]| wal::image(contents.file_id, contents.generation, records);
    let mut seeds = vec![("every-change".to_string(), log.clone())];
    for (i, record) in contents.records.iter().enumerate() {
        seeds.push((format!("record-{i}-kind-{}", record[0]), framed(&[record])));
    }
    let mut unknown = Vec::new();
    for (must_understand, safe_to_copy) in
        [(false, false), (false, true), (true, false), (true, true)]
    {
        let flags = SectionFlags {
            must_understand,
            safe_to_copy,
        };
        let mut record = vec![wal::record_kind_byte(40, flags)];
        record.extend_from_slice(b"a newer version's record");
        unknown.push(record);
    }
    let unknown: Vec<&[u8]> = unknown.iter().map(Vec::as_slice).collect();
    seeds.push(("unknown-kinds".into(), framed(&unknown)));
    Ok(seeds)
}
