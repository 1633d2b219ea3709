//! What a target does with a database it managed to open: what a program
//! would do next (search, with and without a filter and the learned
//! ranking; feedback; a write), asserting what the results promise. A
//! database built from any bytes the parsers accept must keep those
//! promises, so a broken one panics here and the fuzzer reports it.

use crate::db::{Feedback, NewItem, SearchOptions, VectorDb};
use crate::filter::Filter;
use serde_json::json;
use std::collections::HashSet;

/// Searches `db`, gives feedback on one search, inserts an item and
/// deletes it, searching again after each write.
pub fn exercise(db: &VectorDb) {
    let dimensions = db.dimensions();
    let queries = [vec![0.25; dimensions], ramp(dimensions)];
    let filter = Filter::parse(&json!({ "group": { "$in": [0, 1] } })).expect("a valid filter");
    for query in &queries {
        for rerank in [true, false] {
            let options = SearchOptions {
                k: 5,
                rerank,
                ..SearchOptions::default()
            };
            checked_search(db, query, &options);
            let filtered = SearchOptions {
                filter: Some(filter.clone()),
                ..options
            };
            checked_search(db, query, &filtered);
        }
    }
    if let Some(results) = checked_search(db, &queries[1], &SearchOptions::default()) {
        if let Some(hit) = results.hits.first() {
            // Refused when learning is off; either way it must not panic.
            let _ = db.feedback(Feedback::ForSearch {
                search_id: results.search_id.clone(),
                clicked: vec![hit.id.to_string()],
                converted: vec![],
            });
        }
    }
    let inserted = db.insert(NewItem {
        id: Some("exercise-new".into()),
        vector: ramp(dimensions),
        metadata: json!({ "group": 1 }).as_object().cloned(),
    });
    checked_search(db, &queries[1], &SearchOptions::default());
    if inserted.is_ok() {
        assert_eq!(
            db.delete("exercise-new").ok(),
            Some(true),
            "an item just inserted deletes"
        );
        checked_search(db, &queries[1], &SearchOptions::default());
    }
}

/// `0, 1/n, 2/n, …`: a query pointing somewhere other than the diagonal.
fn ramp(dimensions: usize) -> Vec<f32> {
    (0..dimensions)
        .map(|d| d as f32 / dimensions.max(1) as f32)
        .collect()
}

/// A search whose results are checked: at most `k` hits, no id twice,
/// every hit a live item that passes the filter.
fn checked_search(
    db: &VectorDb,
    query: &[f32],
    options: &SearchOptions,
) -> Option<crate::db::SearchResults> {
    let results = db.search(query, options).ok()?;
    assert!(results.hits.len() <= options.k, "more hits than k");
    let mut seen = HashSet::new();
    for hit in &results.hits {
        assert!(seen.insert(hit.id.clone()), "{} returned twice", hit.id);
        let item = db
            .get(&hit.id)
            .ok()
            .flatten()
            .unwrap_or_else(|| panic!("hit {} is not a live item", hit.id));
        if let Some(filter) = &options.filter {
            assert!(
                filter.matches(item.metadata.as_deref()),
                "hit {} fails the filter",
                hit.id
            );
        }
    }
    Some(results)
}
