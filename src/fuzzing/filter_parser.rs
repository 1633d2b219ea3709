//! Target `filter_parser`: bytes read as JSON, compiled as a metadata
//! filter (`Filter::parse`) and evaluated against metadata — none, empty,
//! the sample items', the input itself when it is an object, and metadata
//! that gives each of the filter's fields the value it names (so the
//! comparisons of a matching item run, not only the missing-field paths).
//!
//! It also checks two identities of the grammar: `{"$and": [f]}` and
//! `{"$or": [f, f]}` match exactly what `f` matches.

use super::sample;
use super::{Reached, Seed};
use crate::db::Metadata;
use crate::filter::Filter;
use serde_json::{json, Map, Value};

pub fn run(data: &[u8]) -> Reached {
    let Ok(value) = serde_json::from_slice::<Value>(data) else {
        return Reached::Refused;
    };
    let Ok(filter) = Filter::parse(&value) else {
        return Reached::Parsed;
    };
    let mut named = Map::new();
    name_values(&value, &mut named);
    let mut metadata: Vec<Option<Metadata>> = vec![None, Some(Map::new()), Some(named)];
    metadata.extend((0..6).map(sample::metadata));
    if let Value::Object(map) = &value {
        metadata.push(Some(map.clone()));
    }
    // Either may be refused for nesting one level deeper than `f`.
    let and = Filter::parse(&json!({ "$and": [value.clone()] })).ok();
    let or = Filter::parse(&json!({ "$or": [value.clone(), value.clone()] })).ok();
    for metadata in &metadata {
        let metadata = metadata.as_ref();
        let matches = filter.matches(metadata);
        for (form, wrapped) in [("$and", &and), ("$or", &or)] {
            if let Some(wrapped) = wrapped {
                assert_eq!(
                    wrapped.matches(metadata),
                    matches,
                    "{form} of the filter disagrees with it on {metadata:?}"
                );
            }
        }
    }
    Reached::Used
}

/// Sets each field `filter` names to the first value it compares it with.
fn name_values(filter: &Value, into: &mut Metadata) {
    let Value::Object(clauses) = filter else {
        return;
    };
    for (key, operand) in clauses {
        match (key.as_str(), operand) {
            ("$and" | "$or", Value::Array(filters)) => {
                for filter in filters {
                    name_values(filter, into);
                }
            }
            (field, operand) => set_path(into, field, first_operand(operand)),
        }
    }
}

/// `{"$op": v, …}` → `v` (an `$in`/`$nin` list's first element); a bare
/// value is itself.
fn first_operand(operand: &Value) -> Value {
    let first = match operand {
        Value::Object(ops) if ops.keys().all(|k| k.starts_with('$')) => ops.iter().next(),
        _ => None,
    };
    match first {
        Some((op, Value::Array(list))) if op == "$in" || op == "$nin" => {
            list.first().cloned().unwrap_or(Value::Null)
        }
        Some((_, value)) => value.clone(),
        None => operand.clone(),
    }
}

/// Stores `value` at the dotted `path`, making (or replacing with) objects
/// on the way.
fn set_path(into: &mut Metadata, path: &str, value: Value) {
    let (head, rest) = match path.split_once('.') {
        Some((head, rest)) => (head, Some(rest)),
        None => (path, None),
    };
    match rest {
        None => {
            into.insert(head.to_string(), value);
        }
        Some(rest) => {
            let slot = into
                .entry(head.to_string())
                .or_insert_with(|| Value::Object(Map::new()));
            if !slot.is_object() {
                *slot = Value::Object(Map::new());
            }
            if let Value::Object(inner) = slot {
                set_path(inner, rest, value);
            }
        }
    }
}

/// Filters using every operator, bare values, dotted paths, literal
/// objects and arrays, `$and`/`$or` nesting, and `$in` lists long enough
/// to be hashed.
pub fn seeds() -> crate::error::Result<Vec<Seed>> {
    let many: Vec<String> = (0..20).map(|i| format!("tag-{i}")).collect();
    let filters = [
        ("empty", json!({})),
        (
            "bare",
            json!({ "group": 1, "name": "item-0", "note": null, "stock.open": true }),
        ),
        ("eq", json!({ "price": { "$eq": 1.5 } })),
        ("ne", json!({ "tags": { "$ne": "red" } })),
        ("gt-lt", json!({ "price": { "$gt": 1, "$lt": 30.5 } })),
        (
            "gte-lte-strings",
            json!({ "name": { "$gte": "item-1", "$lte": "item-3" } }),
        ),
        ("in", json!({ "group": { "$in": [0, 2, "x", null, true] } })),
        (
            "nin",
            json!({ "tags": { "$nin": ["gold", ["red", "green"]] } }),
        ),
        (
            "in-hashed",
            json!({ "name": { "$in": many }, "tags": { "$nin": many } }),
        ),
        (
            "dotted",
            json!({ "stock.count": { "$gte": 3 }, "stock.open": { "$ne": false } }),
        ),
        (
            "literal-object",
            json!({ "stock": { "count": 0, "open": true } }),
        ),
        ("literal-array", json!({ "tags": ["red", "green"] })),
        (
            "and-or",
            json!({ "$and": [
                { "$or": [{ "group": 0 }, { "price": { "$gt": 20 } }] },
                { "tags": { "$in": ["red", "blue"] } },
                { "$or": [{ "note": null }, { "missing": { "$ne": 1 } }] }
            ] }),
        ),
        (
            "nested",
            json!({ "$or": [
                { "$and": [
                    { "$or": [{ "group": 1 }, { "group": 2 }] },
                    { "name": { "$lt": "z" } }
                ] },
                { "price": -0.0 }
            ] }),
        ),
    ];
    Ok(filters
        .into_iter()
        .map(|(name, filter)| (format!("{name}.json"), filter.to_string().into_bytes()))
        .collect())
}
