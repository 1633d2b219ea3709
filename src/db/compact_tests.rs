//! Compaction of a whole database: what is keyed by slot follows, what is
//! keyed by id is untouched, and the learned model keeps serving.

use super::learning_tests::{
    intents, learning_db, learning_db_at, ndcg, simulate, split, test_settings,
};
use super::*;
use crate::testdata::TempDir;

#[test]
fn compaction_keeps_items_metadata_and_the_learned_ranking() {
    let data = intents(7);
    let db = learning_db(&data, test_settings());
    let (train, test) = split(&data);
    simulate(&db, &data, &train, 2_000, true, 12);
    assert!(db.learning_stats().active, "a model serves");
    // Delete a third, move a seventh of the rest to new slots (an update
    // with a vector), and give some metadata.
    let n = data.items.len();
    for i in (0..n).filter(|i| i.is_multiple_of(3)) {
        assert!(db.delete(&i.to_string()).unwrap());
    }
    let moved: Vec<usize> = (0..n)
        .filter(|i| !i.is_multiple_of(3) && i.is_multiple_of(7))
        .collect();
    for &i in &moved {
        let mut metadata = Metadata::new();
        metadata.insert("i".into(), i.into());
        db.update(
            &i.to_string(),
            Some(data.items[i].clone()),
            Some(Some(metadata)),
        )
        .unwrap();
    }
    let live = n - n.div_ceil(3);
    assert_eq!(db.len(), live);
    assert_eq!(db.deleted_slots(), n - live + moved.len());
    let learned_before = ndcg(&db, &data, &test, true);
    let base_before = ndcg(&db, &data, &test, false);
    let items_before: Vec<_> = (0..n).map(|i| db.get(&i.to_string()).unwrap()).collect();

    assert!(db.compact().unwrap());
    assert_eq!(db.deleted_slots(), 0);
    assert_eq!(db.stats().slots, live);
    assert!(!db.compact().unwrap(), "nothing left to reclaim");
    for (i, before) in items_before.iter().enumerate() {
        assert_eq!(&db.get(&i.to_string()).unwrap(), before, "item {i}");
    }
    let learned_after = ndcg(&db, &data, &test, true);
    let base_after = ndcg(&db, &data, &test, false);
    println!(
        "held-out nDCG@10 before compaction: learned {learned_before:.4}, base {base_before:.4}; after: learned {learned_after:.4}, base {base_after:.4}"
    );
    assert!(db.learning_stats().active, "the model still serves");
    assert!(learned_after >= learned_before - 0.01);
    assert!(base_after >= base_before - 0.01);
    assert!(learned_after > base_after, "the model still lifts");
    // Deleted items stay gone, through search and training.
    db.train().unwrap();
    for &q in &test {
        let hits = db
            .search(&data.queries[q], &SearchOptions::default())
            .unwrap()
            .hits;
        assert!(hits.iter().all(|h| h.id.parse::<usize>().unwrap() % 3 != 0));
    }
}

#[test]
fn a_save_compacts_and_the_reopened_file_holds_only_live_items() {
    let dir = TempDir::new("compact-save");
    let path = dir.path().join("db.hgnn");
    let data = intents(8);
    let db = learning_db_at(&data, test_settings(), Some(path.clone()));
    let (train, _) = split(&data);
    simulate(&db, &data, &train, 600, true, 3);
    let n = data.items.len();
    for i in (0..n).filter(|i| i.is_multiple_of(2)) {
        db.delete(&i.to_string()).unwrap();
    }
    db.save().unwrap();
    assert_eq!(db.stats().slots, db.len());
    // Writes after the save land in the log and replay onto the compacted file.
    db.delete("1").unwrap();
    db.update("3", Some(data.items[5].clone()), None).unwrap();
    let expected: Vec<_> = (0..n).map(|i| db.get(&i.to_string()).unwrap()).collect();
    let learning = db.learning_stats();
    db.close().unwrap();
    drop(db);
    let reopened = VectorDb::open(&path, &OpenOptions::default()).unwrap();
    assert_eq!(
        reopened.stats().slots,
        n / 2 + 1,
        "the compacted file plus the logged update"
    );
    for (i, item) in expected.iter().enumerate() {
        assert_eq!(&reopened.get(&i.to_string()).unwrap(), item, "item {i}");
    }
    assert_eq!(reopened.learning_stats().sessions, learning.sessions);
    assert_eq!(reopened.learning_stats().active, learning.active);
}
