//! Target `learning_sections`: the two sections a database keeps what it
//! learned in, as an open reads them — the feedback section (its version,
//! the learning settings as JSON, the recent searches, the feedback log
//! that `FeedbackLog::decode` reads) and the model section
//! (`learn::Model::decode`, bound to the file's items) — then used: a
//! search reranked by the restored model, feedback, a training pass over
//! the restored log (its age weights), a purge.
//!
//! Input: `split u32 · feedback section · model section` (see
//! [`super::split_input`]; an empty model section is none), put in place
//! of the sample file's own sections. A file that opens with neither a
//! serving model nor a logged session restored is [`Reached::Parsed`].

use super::exercise::exercise;
use super::sample::{self, ITEMS};
use super::{join_input, split_input, Reached, Seed};
use crate::db::{Feedback, OpenOptions, SearchOptions, VectorDb};
use crate::error::{Error, Result};
use crate::learn::{now_ms, FeedbackSettings, LearningSettings};
use crate::store::{section, DbFile, SectionKind};
use serde_json::json;
use std::io::Write;

pub fn run(data: &[u8]) -> Reached {
    let Some((feedback, model)) = split_input(data) else {
        return Reached::Refused;
    };
    let base = sample::base_file();
    let mut replaced = vec![section(SectionKind::Feedback, 0, |out: &mut dyn Write| {
        out.write_all(feedback)
    })];
    if !model.is_empty() {
        replaced.push(section(SectionKind::Model, 0, |out: &mut dyn Write| {
            out.write_all(model)
        }));
    }
    let image = base
        .with_sections(replaced)
        .expect("an image builds in memory");
    let file = DbFile::from_bytes(&image).expect("a file of valid framing validates");
    let Ok(opened) = VectorDb::from_image(&file, None, &sample::open_options(false)) else {
        return Reached::Refused;
    };
    let db = opened.db;
    let restored = db.learning_stats();
    exercise(&db);
    // Refused when learning is off or the log is short; never a panic.
    let _ = db.train();
    let _ = db.purge_feedback(Some(now_ms() / 2));
    if restored.active || restored.sessions > 0 {
        Reached::Used
    } else {
        Reached::Parsed
    }
}

/// The sample database with `settings`, after feedback from simulated
/// users and a training pass that published a model, saved; then
/// `after` ran on it and it closed. Returns its file and log.
pub fn trained_files(
    label: &str,
    settings: LearningSettings,
    after: impl FnOnce(&VectorDb) -> Result<()>,
) -> Result<(Vec<u8>, Vec<u8>)> {
    sample::written(label, |path| {
        let db = sample::create(path, settings)?;
        give_feedback(&db, 32)?;
        // A model first serves after two passes in a row pass.
        db.train()?;
        let report = db.train()?;
        if !db.learning_stats().active {
            return Err(Error::Internal(format!(
                "the sample's training published no model: {report:?}"
            )));
        }
        db.save()?;
        after(&db)?;
        db.close()
    })
}

/// `sessions` searches, each a little off one of four queries and clicked
/// by a user who wants the items of that query's group (the sample's
/// metadata `group`, the item number mod 4) and buys one now and then:
/// a signal the query memory learns.
fn give_feedback(db: &VectorDb, sessions: usize) -> Result<()> {
    for session in 0..sessions {
        let wanted = session % 4;
        let noise = sample::vector(ITEMS + 200 + session);
        let query: Vec<f32> = sample::vector(ITEMS + 100 + wanted)
            .iter()
            .zip(&noise)
            .map(|(q, n)| q + 0.05 * n)
            .collect();
        let eight = SearchOptions {
            k: 10,
            ..SearchOptions::default()
        };
        let results = db.search(&query, &eight)?;
        let clicked: Vec<String> = results
            .hits
            .iter()
            .filter(|hit| {
                hit.id
                    .trim_start_matches("item-")
                    .parse::<usize>()
                    .ok()
                    .map(|i| i % 4)
                    == Some(wanted)
            })
            .map(|hit| hit.id.to_string())
            .collect();
        let converted = clicked.iter().take(session % 2).cloned().collect();
        db.feedback(Feedback::ForSearch {
            search_id: results.search_id,
            clicked,
            converted,
        })?;
    }
    Ok(())
}

/// Learning as the sample has it; with a small log that drops sessions,
/// decay by time and a retention; and turned off at a reopen (its model
/// kept dormant). Each with its model, and once without.
pub fn seeds() -> Result<Vec<Seed>> {
    let sections = |file: &[u8]| -> Result<(Vec<u8>, Vec<u8>)> {
        let file = DbFile::from_bytes(file)?;
        let bytes = |kind| file.optional_section(kind, 0).unwrap_or_default().to_vec();
        Ok((bytes(SectionKind::Feedback), bytes(SectionKind::Model)))
    };
    let mut seeds = Vec::new();
    let (file, _) = trained_files("learning-seeds", sample::learning(), |_| Ok(()))?;
    let (feedback, model) = sections(&file)?;
    seeds.push(("trained".to_string(), join_input(&feedback, &model)));
    seeds.push(("feedback-only".to_string(), join_input(&feedback, &[])));
    let small = LearningSettings {
        feedback: FeedbackSettings {
            capacity: 20,
            half_life_sessions: 10.0,
            half_life_ms: Some(60_000.0),
            conversion_weight: 2.0,
        },
        retention_ms: Some(86_400_000),
        explore: 0.0,
        ..sample::learning()
    };
    let (file, _) = trained_files("learning-seeds-small", small, |_| Ok(()))?;
    let (feedback, model) = sections(&file)?;
    seeds.push(("small-log".to_string(), join_input(&feedback, &model)));
    let (file, _) = sample::written("learning-seeds-off", |path| {
        let (file, log) = trained_files("learning-seeds-on", sample::learning(), |_| Ok(()))?;
        let write = |path: &std::path::Path, bytes: &[u8]| {
            std::fs::write(path, bytes).map_err(|e| Error::io("cannot write", path, e))
        };
        write(path, &file)?;
        write(&crate::store::wal::wal_path(path), &log)?;
        let options = OpenOptions {
            learning: Some(json!(false)),
            ..sample::open_options(false)
        };
        let db = VectorDb::open(path, &options)?;
        db.save()?;
        db.close()
    })?;
    let (feedback, model) = sections(&file)?;
    seeds.push(("learning-off".to_string(), join_input(&feedback, &model)));
    Ok(seeds)
}
