//! Feedback given to read-only opens reaches the writer in batches
//! (`export_feedback` → `import_feedback`), and the writer's model, saved,
//! reaches the readers through `refreshed`.

use super::feedback_outbox::ExportedSession;
use super::learning_tests::{intents, learning_db_at, split, test_settings, Intents};
use super::*;
use crate::testdata::TempDir;
use std::path::PathBuf;
use std::sync::Arc;

fn read_only() -> OpenOptions {
    OpenOptions {
        read_only: true,
        ..Default::default()
    }
}

/// A learning writer over `intents(seed)`, saved to `db.hgnn` in a fresh
/// temporary directory (kept alive by the returned `TempDir`).
fn saved_writer(name: &str, seed: u64) -> (TempDir, PathBuf, Intents, VectorDb) {
    let dir = TempDir::new(name);
    let path = dir.path().join("db.hgnn");
    let data = intents(seed);
    let writer = learning_db_at(&data, test_settings(), Some(path.clone()));
    writer.save().unwrap();
    (dir, path, data, writer)
}

/// Clicks `clicked` (no conversions) on search `search_id` of `db`.
fn click(db: &VectorDb, search_id: String, clicked: Vec<String>) {
    db.feedback(Feedback::ForSearch {
        search_id,
        clicked,
        converted: vec![],
    })
    .unwrap();
}

/// One simulated user's session on `db` for query `q`: clicks the shown
/// items of the query's intent among the first five.
fn click_relevant(db: &VectorDb, data: &Intents, q: usize) -> usize {
    let results = db
        .search(&data.queries[q], &SearchOptions::default())
        .unwrap();
    let clicked: Vec<String> = results
        .hits
        .iter()
        .take(5)
        .filter(|h| data.item_class[h.id.parse::<usize>().unwrap()] == data.query_class[q])
        .map(|h| h.id.to_string())
        .collect();
    let count = clicked.len();
    click(db, results.search_id, clicked);
    count
}

#[test]
fn a_readers_feedback_trains_the_writer_and_its_model_reaches_the_reader() {
    let (_dir, path, data, writer) = saved_writer("reader-feedback", 11);
    let mut reader = VectorDb::open(&path, &read_only()).unwrap();
    let (train, test) = split(&data);

    // Readers take feedback; nothing reaches the file until imported.
    let mut given = 0;
    for (i, &q) in train.iter().cycle().take(1_200).enumerate() {
        click_relevant(&reader, &data, q);
        given += 1;
        if i == 600 {
            // A refresh keeps what is pending and the searches served.
            let pending = reader.pending_feedback().0;
            if let Some(fresh) = reader.refreshed().unwrap() {
                reader = fresh;
            }
            assert_eq!(reader.pending_feedback().0, pending);
        }
    }
    assert_eq!(reader.pending_feedback(), (given, 0));
    assert_eq!(writer.learning_stats().sessions, 0);
    let batch = reader.export_feedback().unwrap();
    assert_eq!(reader.pending_feedback().0, 0, "an export takes everything");
    let imported = writer.import_feedback(&batch).unwrap();
    assert_eq!(
        imported,
        ImportedFeedback {
            sessions: given,
            items: 0
        }
    );
    assert_eq!(writer.learning_stats().sessions, given);
    // Durable without a save: the log replays it.
    drop(writer);
    let writer = VectorDb::open(
        &path,
        &OpenOptions {
            learning: Some(serde_json::json!({ "background": false, "explore": 0 })),
            ..Default::default()
        },
    )
    .unwrap();
    assert_eq!(writer.learning_stats().sessions, given);
    writer.train().unwrap();
    // More rounds as a service runs them: the readers' feedback in batches,
    // a training pass after each (a model is published once it passed the
    // guardrail twice in a row).
    for round in 0..4 {
        for &q in train.iter().skip(round * 100).take(300) {
            click_relevant(&reader, &data, q);
        }
        writer
            .import_feedback(&reader.export_feedback().unwrap())
            .unwrap();
        writer.train().unwrap();
    }

    // The writer's model, saved, reaches the reader.
    assert!(writer.learning_stats().active, "a model serves");
    writer.save().unwrap();
    let before: Vec<Vec<Arc<str>>> = test
        .iter()
        .map(|&q| ids(&reader, &data.queries[q]))
        .collect();
    let reader = reader.refreshed().unwrap().expect("the writer saved");
    assert!(
        reader.learning_stats().active,
        "the reader serves the writer's model"
    );
    let mut changed = 0;
    for (&q, before) in test.iter().zip(&before) {
        let now = ids(&reader, &data.queries[q]);
        assert_eq!(
            now,
            ids(&writer, &data.queries[q]),
            "reader ranks as the writer"
        );
        changed += (now != *before) as usize;
    }
    assert!(
        changed * 4 > test.len(),
        "the model changed {changed} of {} rankings",
        test.len()
    );
}

fn ids(db: &VectorDb, query: &[f32]) -> Vec<Arc<str>> {
    db.search(query, &SearchOptions::default())
        .unwrap()
        .hits
        .into_iter()
        .map(|h| h.id)
        .collect()
}

#[test]
fn candidates_a_reader_does_not_hold_are_ranked_and_travel_with_its_feedback() {
    let (_dir, path, data, writer) = saved_writer("reader-candidates", 12);
    let reader = VectorDb::open(&path, &read_only()).unwrap();
    let query = &data.queries[0];
    let new_vector: Vec<f32> = query.iter().map(|x| x * 2.0).collect();
    let given = [
        GivenCandidate {
            id: "3",
            score: None,
            vector: None,
        },
        GivenCandidate {
            id: "new",
            score: None,
            vector: Some(&new_vector),
        },
        GivenCandidate {
            id: "4",
            score: None,
            vector: Some(&data.items[9]),
        },
    ];
    let ranked = reader.rank_candidates(query, &given, 3, true).unwrap();
    // The new item is the query itself (scaled): cosine 1, first.
    assert_eq!(&*ranked.hits[0].id, "new");
    assert!((ranked.hits[0].base_score - 1.0).abs() < 1e-5);
    // A held id ranks by what is stored, not by a vector given with it.
    let stored_4 = reader
        .rank_candidates(query, &given[2..], 1, false)
        .unwrap()
        .hits[0]
        .base_score;
    let hit_4 = ranked.hits.iter().find(|h| &*h.id == "4").unwrap();
    assert_eq!(hit_4.base_score, stored_4);
    click(&reader, ranked.search_id, vec!["new".into()]);
    let batch = reader.export_feedback().unwrap();
    let decoded = decode_batch(&batch, data.items[0].len()).unwrap();
    assert_eq!(decoded.items.len(), 1);
    assert_eq!(decoded.items[0].vector, new_vector, "the vector as given");
    assert_eq!(
        writer.import_feedback(&batch).unwrap(),
        ImportedFeedback {
            sessions: 1,
            items: 1
        }
    );
    assert!(
        writer.get("new").unwrap().is_some(),
        "the writer learned the item"
    );
    // Importing twice adds the session again but not the item.
    assert_eq!(writer.import_feedback(&batch).unwrap().items, 0);

    // A batch is checked whole, as live feedback is, before anything is
    // stored; items no session shows are not stored.
    let (len, logged) = (writer.len(), writer.learning_stats().sessions);
    let dims = data.items[0].len();
    let reencoded = |edit: &dyn Fn(&mut ExportedSession), extra: bool| {
        let mut decoded = decode_batch(&batch, dims).unwrap();
        edit(&mut decoded.sessions[0]);
        let mut items: Vec<(Arc<str>, Vec<f32>)> = vec![("fresh".into(), new_vector.clone())];
        if extra {
            items.push(("unshown".into(), new_vector.clone()));
        }
        super::feedback_outbox::encode_batch(dims, &items, &decoded.sessions)
    };
    let show_fresh = |s: &mut ExportedSession| s.session.shown[0] = Some("fresh".into());
    for (edit, code) in [
        (
            &(|s: &mut ExportedSession| {
                show_fresh(s);
                let again = s.session.shown[0].clone();
                s.session.shown.push(again);
            }) as &dyn Fn(&mut ExportedSession),
            "ERR_INVALID_ARGUMENT",
        ),
        (
            &|s: &mut ExportedSession| {
                show_fresh(s);
                s.session.query.fill(0.0);
            },
            "ERR_INVALID_VECTOR",
        ),
    ] {
        let bad = reencoded(edit, false);
        assert_eq!(writer.import_feedback(&bad).unwrap_err().code(), code);
        assert_eq!(writer.len(), len, "nothing stored");
        assert_eq!(writer.learning_stats().sessions, logged, "nothing logged");
    }
    let good = reencoded(&show_fresh, true);
    assert_eq!(writer.import_feedback(&good).unwrap().items, 1);
    assert!(writer.get("fresh").unwrap().is_some());
    assert!(
        writer.get("unshown").unwrap().is_none(),
        "no session shows it"
    );

    // Bad input: codes, and nothing written.
    let unknown = [GivenCandidate {
        id: "nowhere",
        score: None,
        vector: None,
    }];
    assert_eq!(
        reader
            .rank_candidates(query, &unknown, 3, true)
            .unwrap_err()
            .code(),
        "ERR_NOT_FOUND"
    );
    let short = [GivenCandidate {
        id: "x",
        score: None,
        vector: Some(&new_vector[1..]),
    }];
    assert_eq!(
        reader
            .rank_candidates(query, &short, 3, true)
            .unwrap_err()
            .code(),
        "ERR_DIMENSION_MISMATCH"
    );
    let sessions = writer.learning_stats().sessions;
    // Counts far beyond what the bytes could hold: refused before any
    // allocation they would size.
    let huge_count = |items: u32, sessions: u32| {
        let mut bytes = b"HGFB".to_vec();
        for word in [1, data.items[0].len() as u32, items] {
            bytes.extend_from_slice(&word.to_le_bytes());
        }
        if items == 0 {
            bytes.extend_from_slice(&sessions.to_le_bytes());
        }
        bytes.extend_from_slice(&[0; 64]);
        bytes
    };
    let (many_items, many_sessions) = (huge_count(u32::MAX, 0), huge_count(0, u32::MAX));
    for garbage in [
        &b"HGFB"[..],
        b"nonsense at all, long enough",
        &batch[..batch.len() - 3],
        &many_items,
        &many_sessions,
    ] {
        assert_eq!(
            writer.import_feedback(garbage).unwrap_err().code(),
            "ERR_INVALID_ARGUMENT"
        );
    }
    let narrow = VectorDb::new(DbOptions::new(3, crate::distance::Metric::Cosine)).unwrap();
    assert_eq!(
        narrow.import_feedback(&batch).unwrap_err().code(),
        "ERR_DIMENSION_MISMATCH"
    );
    assert_eq!(writer.learning_stats().sessions, sessions);
    // A writer's own feedback is logged, not queued.
    assert_eq!(
        writer.export_feedback().unwrap().len(),
        20,
        "an empty batch"
    );
}

#[test]
fn interleaving_outcomes_seen_by_a_reader_are_pooled_at_the_writer() {
    let (_dir, path, data, writer) = saved_writer("reader-interleaving", 14);
    let (train, _) = split(&data);
    // The writer learns a model from its own users first.
    for round in 0..6 {
        for &q in train.iter().skip(round * 50).take(200) {
            click_relevant(&writer, &data, q);
        }
        writer.train().unwrap();
    }
    assert!(writer.learning_stats().active, "a model serves");
    writer.save().unwrap();
    // A reader that interleaves every search (explore 1).
    let reader = VectorDb::open(
        &path,
        &OpenOptions {
            read_only: true,
            learning: Some(serde_json::json!({ "explore": 1.0, "background": false })),
            ..Default::default()
        },
    )
    .unwrap();
    assert!(
        reader.learning_stats().active,
        "the reader serves the writer's model"
    );
    let mut clicked_any = 0;
    for &q in train.iter().take(120) {
        clicked_any += (click_relevant(&reader, &data, q) > 0) as usize;
    }
    let batch = reader.export_feedback().unwrap();
    let decoded = decode_batch(&batch, data.items[0].len()).unwrap();
    let credited = decoded
        .sessions
        .iter()
        .filter(|s| s.credit.is_some())
        .count();
    assert_eq!(
        credited, clicked_any,
        "each interleaved search with a click carries its outcome"
    );
    let before = writer.learning_stats().interleaving;
    writer.import_feedback(&batch).unwrap();
    let after = writer.learning_stats().interleaving;
    let total = |t: &crate::learn::Tally| t.wins + t.losses + t.ties;
    assert_eq!(
        total(&after) - total(&before),
        credited as u64,
        "the reader's outcomes count at the writer's guardrail"
    );
}

#[test]
fn batches_naming_the_same_new_item_import_concurrently() {
    let (_dir, path, data, writer) = saved_writer("reader-concurrent-import", 15);
    let query = &data.queries[0];
    let batches: Vec<Vec<u8>> = (0..8)
        .map(|_| {
            let reader = VectorDb::open(&path, &read_only()).unwrap();
            let given = [GivenCandidate {
                id: "new",
                score: None,
                vector: Some(query),
            }];
            let ranked = reader.rank_candidates(query, &given, 1, true).unwrap();
            click(&reader, ranked.search_id, vec!["new".into()]);
            reader.export_feedback().unwrap()
        })
        .collect();
    let stored: usize = std::thread::scope(|scope| {
        let imports: Vec<_> = batches
            .iter()
            .map(|batch| scope.spawn(|| writer.import_feedback(batch).unwrap().items))
            .collect();
        imports.into_iter().map(|i| i.join().unwrap()).sum()
    });
    assert_eq!(stored, 1, "the item is stored once");
    assert_eq!(writer.len(), data.items.len() + 1);
    assert_eq!(writer.learning_stats().sessions, 8);
}
