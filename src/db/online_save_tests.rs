//! Checkpoints taken while writers go on: the file (sections and log tail)
//! plus the log reopen to exactly what memory held.

use super::*;
use crate::distance::Metric;
use crate::rng::SplitMix64;
use crate::testdata::TempDir;
use serde_json::json;
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

const DIMENSIONS: usize = 8;

fn vector(rng: &mut SplitMix64) -> Vec<f32> {
    (0..DIMENSIONS)
        .map(|_| rng.next_f32() * 2.0 - 1.0)
        .collect()
}

type Model = HashMap<String, (Vec<f32>, Option<Metadata>)>;

/// One writer's churn over its own ids until `stop`: inserts, upserts,
/// vector and metadata updates, deletes and re-inserts. Returns what its
/// ids should hold.
fn churn(db: &VectorDb, writer: usize, stop: &AtomicBool) -> Model {
    let mut rng = SplitMix64::new(writer as u64 + 1);
    let mut model = Model::new();
    let mut step = 0u64;
    while !stop.load(Ordering::Relaxed) || step < 200 {
        step += 1;
        let id = format!("w{writer}-{}", rng.below(300));
        let metadata = json!({ "step": step, "writer": writer })
            .as_object()
            .cloned();
        let choice = rng.below(10);
        let live = model.contains_key(&id);
        if !live {
            let new = vector(&mut rng);
            let item = NewItem {
                id: Some(id.clone()),
                vector: new.clone(),
                metadata: metadata.clone(),
            };
            if choice < 5 {
                db.insert(item).unwrap();
            } else {
                db.upsert(item).unwrap();
            }
            model.insert(id, (new, metadata));
        } else if choice < 3 {
            assert!(db.delete(&id).unwrap());
            model.remove(&id);
        } else if choice < 6 {
            let new = vector(&mut rng);
            db.update(&id, Some(new.clone()), Some(metadata.clone()))
                .unwrap();
            model.insert(id, (new, metadata));
        } else {
            db.update(&id, None, Some(metadata.clone())).unwrap();
            model.get_mut(&id).unwrap().1 = metadata;
        }
    }
    model
}

#[test]
fn checkpoints_under_concurrent_writes_reopen_to_what_memory_held() {
    let dir = TempDir::new("online-save");
    let path = dir.path().join("db.hgnn");
    // Writes that do not wait for an fsync, so that many land while each
    // checkpoint writes its sections.
    let db = Arc::new(
        VectorDb::new(DbOptions {
            path: Some(path.clone()),
            durability: Durability::None,
            ..DbOptions::new(DIMENSIONS, Metric::Euclidean)
        })
        .unwrap(),
    );
    // A base the writers do not touch, so each checkpoint takes a while.
    let mut rng = SplitMix64::new(99);
    let base: Vec<NewItem> = (0..20_000)
        .map(|i| NewItem {
            id: Some(format!("base-{i}")),
            vector: vector(&mut rng),
            metadata: None,
        })
        .collect();
    let mut expected: Model = base
        .iter()
        .map(|item| (item.id.clone().unwrap(), (item.vector.clone(), None)))
        .collect();
    db.insert_batch(base, &|_, _| {}).unwrap();
    db.save().unwrap();

    let stop = Arc::new(AtomicBool::new(false));
    let writers: Vec<_> = (0..3)
        .map(|writer| {
            let (db, stop) = (Arc::clone(&db), Arc::clone(&stop));
            std::thread::spawn(move || churn(&db, writer, &stop))
        })
        .collect();
    let generation = db.stats().generation;
    for _ in 0..6 {
        db.checkpoint().unwrap();
    }
    assert_eq!(db.stats().generation, generation + 6);
    stop.store(true, Ordering::Relaxed);
    for writer in writers {
        expected.extend(writer.join().unwrap());
    }
    let check = |db: &VectorDb, what: &str| {
        assert_eq!(db.len(), expected.len(), "{what}: item count");
        for (id, (vector, metadata)) in &expected {
            let item = db
                .get(id)
                .unwrap()
                .unwrap_or_else(|| panic!("{what}: {id} is missing"));
            assert_eq!(&item.vector, vector, "{what}: {id}");
            assert_eq!(item.metadata.as_deref(), metadata.as_ref(), "{what}: {id}");
        }
        for writer in 0..3 {
            for i in 0..300 {
                let id = format!("w{writer}-{i}");
                if !expected.contains_key(&id) {
                    assert!(db.get(&id).unwrap().is_none(), "{what}: {id} came back");
                }
            }
        }
    };
    check(&db, "in memory");
    // Sections, log tail and the log written since the last checkpoint.
    db.close().unwrap();
    let reopened = VectorDb::open(&path, &OpenOptions::default()).unwrap();
    check(&reopened, "reopened");
    // Searches find the items (the file's graph is usable as written).
    for (id, (vector, _)) in expected.iter().take(200) {
        let hits = reopened
            .search(
                vector,
                &SearchOptions {
                    k: 1,
                    ..SearchOptions::default()
                },
            )
            .unwrap();
        assert_eq!(&*hits.hits[0].id, id.as_str());
    }
    // And once more as a checkpoint of the reopened database leaves it.
    reopened.checkpoint().unwrap();
    reopened.close().unwrap();
    let again = VectorDb::open(&path, &OpenOptions::default()).unwrap();
    check(&again, "after a checkpoint without writers");
}

#[test]
fn a_checkpoint_that_finds_the_database_closed_leaves_file_and_log_alone() {
    let dir = TempDir::new("online-save-closed");
    let path = dir.path().join("db.hgnn");
    let db = VectorDb::new(DbOptions {
        path: Some(path.clone()),
        ..DbOptions::new(DIMENSIONS, Metric::Euclidean)
    })
    .unwrap();
    let mut rng = SplitMix64::new(5);
    db.insert(NewItem {
        id: Some("a".into()),
        vector: vector(&mut rng),
        metadata: None,
    })
    .unwrap();
    db.close().unwrap();
    assert_eq!(db.checkpoint().unwrap_err().code(), "ERR_CLOSED");
    let reopened = VectorDb::open(&path, &OpenOptions::default()).unwrap();
    assert_eq!(reopened.len(), 1);
}
