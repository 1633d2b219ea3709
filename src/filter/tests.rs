use super::compiled::{Cond, Node, StrSet, ValueSet};
use super::*;
use crate::error::Error;
use serde_json::{json, Map, Value};

fn obj(v: Value) -> Map<String, Value> {
    match v {
        Value::Object(m) => m,
        other => panic!("test metadata must be an object, got {other}"),
    }
}

fn matches(filter: Value, metadata: Value) -> bool {
    Filter::parse(&filter)
        .expect("filter should parse")
        .matches(Some(&obj(metadata)))
}

fn error(filter: Value) -> String {
    match Filter::parse(&filter) {
        Err(Error::InvalidFilter(msg)) => msg,
        Err(other) => panic!("expected InvalidFilter, got {other:?}"),
        Ok(f) => panic!("expected an error for {filter}, got {f:?}"),
    }
}

// ---- structure

#[test]
fn empty_filter_matches_everything() {
    let f = Filter::parse(&json!({})).unwrap();
    assert!(f.matches(None));
    assert!(f.matches(Some(&Map::new())));
    assert!(f.matches(Some(&obj(json!({"a": 1})))));
}

#[test]
fn bare_value_means_eq() {
    assert!(matches(json!({"color": "red"}), json!({"color": "red"})));
    assert!(!matches(json!({"color": "red"}), json!({"color": "blue"})));
    assert!(matches(json!({"n": 3}), json!({"n": 3})));
    assert!(matches(json!({"ok": true}), json!({"ok": true})));
    assert!(!matches(json!({"ok": true}), json!({"ok": false})));
    assert!(matches(json!({"x": null}), json!({"x": null})));
}

#[test]
fn multiple_keys_are_anded() {
    let f = json!({"a": 1, "b": "x"});
    assert!(matches(f.clone(), json!({"a": 1, "b": "x"})));
    assert!(!matches(f.clone(), json!({"a": 1, "b": "y"})));
    assert!(!matches(f, json!({"a": 2, "b": "x"})));
}

#[test]
fn multiple_operators_on_one_field_are_anded() {
    let f = json!({"price": {"$gte": 10, "$lt": 20}});
    assert!(matches(f.clone(), json!({"price": 10})));
    assert!(matches(f.clone(), json!({"price": 19.5})));
    assert!(!matches(f.clone(), json!({"price": 20})));
    assert!(!matches(f, json!({"price": 9})));
}

#[test]
fn object_without_operators_is_deep_equality() {
    let f = json!({"dims": {"w": 1, "h": 2}});
    assert!(matches(f.clone(), json!({"dims": {"h": 2, "w": 1.0}})));
    assert!(!matches(f.clone(), json!({"dims": {"w": 1}})));
    assert!(!matches(
        f.clone(),
        json!({"dims": {"w": 1, "h": 2, "d": 3}})
    ));
    assert!(!matches(f, json!({"dims": "x"})));
    assert!(matches(json!({"e": {}}), json!({"e": {}})));
    assert!(!matches(json!({"e": {}}), json!({"e": {"a": 1}})));
}

#[test]
fn literal_object_may_contain_dollar_keys_when_nested() {
    let f = json!({"a": {"$eq": {"$gt": 1}}});
    assert!(matches(f.clone(), json!({"a": {"$gt": 1}})));
    assert!(!matches(f, json!({"a": 5})));
}

// ---- $eq / $ne

#[test]
fn eq_compares_numbers_numerically() {
    assert!(matches(json!({"n": {"$eq": 1}}), json!({"n": 1.0})));
    assert!(matches(json!({"n": {"$eq": 1.0}}), json!({"n": 1})));
    assert!(matches(json!({"n": {"$eq": -1}}), json!({"n": -1.0})));
    assert!(matches(json!({"n": {"$eq": 0}}), json!({"n": -0.0})));
    assert!(!matches(json!({"n": {"$eq": 1}}), json!({"n": 1.5})));
    assert!(!matches(json!({"n": {"$eq": 1}}), json!({"n": "1"})));
    assert!(!matches(json!({"n": {"$eq": 1}}), json!({"n": true})));
}

#[test]
fn eq_on_strings_bools_and_null() {
    assert!(matches(json!({"s": {"$eq": "a"}}), json!({"s": "a"})));
    assert!(!matches(json!({"s": {"$eq": "a"}}), json!({"s": "A"})));
    assert!(matches(json!({"b": {"$eq": false}}), json!({"b": false})));
    assert!(!matches(json!({"b": {"$eq": false}}), json!({"b": 0})));
    assert!(matches(json!({"z": {"$eq": null}}), json!({"z": null})));
    assert!(!matches(json!({"z": {"$eq": null}}), json!({"z": 0})));
}

#[test]
fn eq_scalar_matches_any_element_of_stored_array() {
    let m = json!({"tags": ["red", "blue", 3]});
    assert!(matches(json!({"tags": "red"}), m.clone()));
    assert!(matches(json!({"tags": {"$eq": 3.0}}), m.clone()));
    assert!(!matches(json!({"tags": "green"}), m.clone()));
    assert!(!matches(json!({"tags": "red"}), json!({"tags": []})));
    assert!(matches(
        json!({"items": {"k": 1}}),
        json!({"items": [{"k": 1}, {"k": 2}]})
    ));
}

#[test]
fn eq_array_operand_must_equal_whole_array() {
    let m = json!({"tags": ["a", "b"]});
    assert!(matches(json!({"tags": ["a", "b"]}), m.clone()));
    assert!(!matches(json!({"tags": ["b", "a"]}), m.clone()));
    assert!(!matches(json!({"tags": ["a"]}), m.clone()));
    assert!(!matches(json!({"tags": ["a"]}), json!({"tags": "a"})));
    assert!(matches(json!({"v": [1, 2]}), json!({"v": [1.0, 2.0]})));
    // Nested arrays are not searched element-wise.
    assert!(!matches(json!({"v": [1, 2]}), json!({"v": [[1, 2], 3]})));
    assert!(matches(json!({"v": []}), json!({"v": []})));
}

#[test]
fn ne_is_negation_of_eq() {
    assert!(matches(json!({"c": {"$ne": "red"}}), json!({"c": "blue"})));
    assert!(!matches(json!({"c": {"$ne": "red"}}), json!({"c": "red"})));
    assert!(!matches(
        json!({"c": {"$ne": "red"}}),
        json!({"c": ["blue", "red"]})
    ));
    assert!(matches(
        json!({"c": {"$ne": "red"}}),
        json!({"c": ["blue"]})
    ));
    assert!(matches(json!({"n": {"$ne": 1}}), json!({"n": "1"})));
    assert!(!matches(json!({"n": {"$ne": 1}}), json!({"n": 1.0})));
    assert!(matches(json!({"b": {"$ne": true}}), json!({"b": false})));
    assert!(!matches(json!({"z": {"$ne": null}}), json!({"z": null})));
}

// ---- comparisons

#[test]
fn comparisons_on_numbers() {
    let m = json!({"p": 10});
    assert!(matches(json!({"p": {"$gt": 9.5}}), m.clone()));
    assert!(!matches(json!({"p": {"$gt": 10}}), m.clone()));
    assert!(matches(json!({"p": {"$gte": 10.0}}), m.clone()));
    assert!(!matches(json!({"p": {"$gte": 11}}), m.clone()));
    assert!(matches(json!({"p": {"$lt": 11}}), m.clone()));
    assert!(!matches(json!({"p": {"$lt": 10}}), m.clone()));
    assert!(matches(json!({"p": {"$lte": 10}}), m.clone()));
    assert!(!matches(json!({"p": {"$lte": -3}}), m));
    assert!(matches(json!({"p": {"$lt": 0}}), json!({"p": -0.5})));
}

#[test]
fn comparisons_on_strings_are_lexicographic() {
    let m = json!({"s": "banana"});
    assert!(matches(json!({"s": {"$gt": "apple"}}), m.clone()));
    assert!(matches(json!({"s": {"$gt": "ban"}}), m.clone()));
    assert!(!matches(json!({"s": {"$gt": "banana"}}), m.clone()));
    assert!(matches(json!({"s": {"$gte": "banana"}}), m.clone()));
    assert!(matches(json!({"s": {"$lt": "cherry"}}), m.clone()));
    assert!(!matches(json!({"s": {"$lt": "Zebra"}}), m.clone()));
    assert!(matches(json!({"s": {"$lte": "banana"}}), m));
    assert!(matches(
        json!({"d": {"$gte": "2024-01-01"}}),
        json!({"d": "2024-06-30"})
    ));
}

#[test]
fn comparison_type_mismatch_is_false() {
    for op in ["$gt", "$gte", "$lt", "$lte"] {
        assert!(!matches(json!({"p": {op: 5}}), json!({"p": "5"})), "{op}");
        assert!(!matches(json!({"p": {op: "5"}}), json!({"p": 5})), "{op}");
        assert!(!matches(json!({"p": {op: 1}}), json!({"p": true})), "{op}");
        assert!(!matches(json!({"p": {op: 0}}), json!({"p": null})), "{op}");
        assert!(
            !matches(json!({"p": {op: 0}}), json!({"p": {"a": 1}})),
            "{op}"
        );
    }
}

#[test]
fn comparison_on_stored_array_matches_any_element() {
    let m = json!({"scores": [1, 5, "x"]});
    assert!(matches(json!({"scores": {"$gt": 4}}), m.clone()));
    assert!(!matches(json!({"scores": {"$gt": 5}}), m.clone()));
    assert!(matches(json!({"scores": {"$lt": 2}}), m.clone()));
    assert!(matches(json!({"scores": {"$gte": "x"}}), m.clone()));
    assert!(!matches(
        json!({"scores": {"$gt": 0}}),
        json!({"scores": []})
    ));
    // Each operator may be satisfied by a different element.
    assert!(matches(json!({"scores": {"$gt": 4, "$lt": 2}}), m));
}

// ---- $in / $nin

#[test]
fn in_matches_any_listed_value() {
    let f = json!({"c": {"$in": ["red", 2, true, null]}});
    assert!(matches(f.clone(), json!({"c": "red"})));
    assert!(matches(f.clone(), json!({"c": 2.0})));
    assert!(matches(f.clone(), json!({"c": true})));
    assert!(matches(f.clone(), json!({"c": null})));
    assert!(!matches(f.clone(), json!({"c": false})));
    assert!(!matches(f.clone(), json!({"c": "blue"})));
    assert!(!matches(f, json!({"c": "2"})));
}

#[test]
fn in_matches_any_element_of_stored_array() {
    let f = json!({"tags": {"$in": ["a", "z"]}});
    assert!(matches(f.clone(), json!({"tags": ["x", "z"]})));
    assert!(!matches(f.clone(), json!({"tags": ["x", "y"]})));
    assert!(!matches(f, json!({"tags": []})));
}

#[test]
fn in_with_array_and_object_operands_uses_deep_equality() {
    let f = json!({"v": {"$in": [[1, 2], {"k": "x"}]}});
    assert!(matches(f.clone(), json!({"v": [1, 2]})));
    assert!(matches(f.clone(), json!({"v": {"k": "x"}})));
    assert!(matches(f.clone(), json!({"v": [{"k": "x"}, 3]})));
    assert!(!matches(f.clone(), json!({"v": [2, 1]})));
    assert!(!matches(f.clone(), json!({"v": 1})));
    assert!(!matches(f, json!({"v": [[1, 2]]})));
}

#[test]
fn empty_in_matches_nothing_and_empty_nin_matches_everything() {
    assert!(!matches(json!({"a": {"$in": []}}), json!({"a": 1})));
    assert!(matches(json!({"a": {"$nin": []}}), json!({"a": 1})));
    assert!(matches(json!({"a": {"$nin": []}}), json!({})));
}

#[test]
fn nin_is_negation_of_in() {
    let f = json!({"c": {"$nin": ["red", 1]}});
    assert!(matches(f.clone(), json!({"c": "blue"})));
    assert!(!matches(f.clone(), json!({"c": "red"})));
    assert!(!matches(f.clone(), json!({"c": 1.0})));
    assert!(!matches(f.clone(), json!({"c": ["blue", "red"]})));
    assert!(matches(f, json!({"c": ["blue"]})));
}

#[test]
fn large_string_in_uses_hash_set_with_same_result() {
    let many: Vec<Value> = (0..100).map(|i| json!(format!("s{i}"))).collect();
    let f = Filter::parse(&json!({"s": {"$in": many}})).unwrap();
    let Node::Field { conds, .. } = &f.root else {
        panic!("expected a field node")
    };
    assert!(matches!(
        &conds[0],
        Cond::In(ValueSet {
            strs: StrSet::Hash(_),
            ..
        })
    ));
    assert!(f.matches(Some(&obj(json!({"s": "s42"})))));
    assert!(f.matches(Some(&obj(json!({"s": ["q", "s99"]})))));
    assert!(!f.matches(Some(&obj(json!({"s": "s100"})))));
    assert!(!f.matches(Some(&obj(json!({"s": 42})))));
}

#[test]
fn in_with_many_numbers_finds_each_one() {
    let nums: Vec<Value> = (0..50).map(|i| json!(i as f64 * 1.5 - 20.0)).collect();
    let f = Filter::parse(&json!({"n": {"$in": nums}})).unwrap();
    for i in 0..50 {
        let x = i as f64 * 1.5 - 20.0;
        assert!(f.matches(Some(&obj(json!({"n": x})))), "{x}");
        assert!(!f.matches(Some(&obj(json!({"n": x + 0.25})))), "{x}");
    }
    assert!(f.matches(Some(&obj(json!({"n": -20})))));
}

// ---- missing fields

#[test]
fn missing_field_fails_positive_and_passes_negative_operators() {
    let m = json!({"other": 1});
    for f in [
        json!({"a": 1}),
        json!({"a": null}),
        json!({"a": {"$eq": 1}}),
        json!({"a": {"$gt": 1}}),
        json!({"a": {"$gte": 1}}),
        json!({"a": {"$lt": 1}}),
        json!({"a": {"$lte": "x"}}),
        json!({"a": {"$in": [1, null]}}),
    ] {
        assert!(!matches(f.clone(), m.clone()), "{f}");
        assert!(!Filter::parse(&f).unwrap().matches(None), "{f}");
    }
    for f in [
        json!({"a": {"$ne": 1}}),
        json!({"a": {"$ne": null}}),
        json!({"a": {"$nin": [1]}}),
    ] {
        assert!(matches(f.clone(), m.clone()), "{f}");
        assert!(Filter::parse(&f).unwrap().matches(None), "{f}");
    }
}

// ---- paths

#[test]
fn dotted_path_looks_up_nested_objects() {
    let m = json!({"a": {"b": {"c": 5}}, "x": 1});
    assert!(matches(json!({"a.b.c": 5}), m.clone()));
    assert!(matches(json!({"a.b.c": {"$gt": 4}}), m.clone()));
    assert!(matches(json!({"a.b": {"c": 5}}), m.clone()));
    assert!(!matches(json!({"a.b.c": 6}), m.clone()));
    assert!(!matches(json!({"a.b.d": 5}), m.clone()));
    assert!(matches(json!({"a.b.d": {"$ne": 5}}), m.clone()));
    // Paths never descend into scalars or arrays.
    assert!(!matches(json!({"x.y": 1}), m));
    assert!(!matches(json!({"a.b": 1}), json!({"a": [{"b": 1}]})));
}

#[test]
fn dotted_path_does_not_match_literal_dotted_key() {
    assert!(!matches(json!({"a.b": 1}), json!({"a.b": 1})));
}

// ---- $and / $or

#[test]
fn and_requires_all() {
    let f = json!({"$and": [{"a": 1}, {"b": {"$gt": 2}}]});
    assert!(matches(f.clone(), json!({"a": 1, "b": 3})));
    assert!(!matches(f, json!({"a": 1, "b": 2})));
}

#[test]
fn or_requires_any() {
    let f = json!({"$or": [{"a": 1}, {"b": "x"}]});
    assert!(matches(f.clone(), json!({"a": 1})));
    assert!(matches(f.clone(), json!({"b": "x"})));
    assert!(!matches(f.clone(), json!({"a": 2, "b": "y"})));
    assert!(!Filter::parse(&f).unwrap().matches(None));
}

#[test]
fn nested_and_or_combine_with_sibling_fields() {
    let f = json!({
        "kind": "doc",
        "$or": [
            {"$and": [{"lang": "en"}, {"year": {"$gte": 2020}}]},
            {"tags": {"$in": ["pinned"]}},
        ],
    });
    assert!(matches(
        f.clone(),
        json!({"kind": "doc", "lang": "en", "year": 2021})
    ));
    assert!(!matches(
        f.clone(),
        json!({"kind": "doc", "lang": "en", "year": 2019})
    ));
    assert!(matches(
        f.clone(),
        json!({"kind": "doc", "tags": ["x", "pinned"]})
    ));
    assert!(!matches(f, json!({"kind": "img", "tags": ["pinned"]})));
}

#[test]
fn empty_subfilters_match_everything() {
    assert!(matches(json!({"$or": [{}, {"a": 1}]}), json!({})));
    assert!(matches(json!({"$and": [{}]}), json!({})));
    assert!(Filter::parse(&json!({"$or": [{"a": 1}, {}]}))
        .unwrap()
        .matches(None));
}

// ---- errors

#[test]
fn non_object_filter_is_an_error() {
    for f in [json!(null), json!(3), json!("a"), json!([]), json!(true)] {
        let msg = error(f.clone());
        assert!(msg.contains("must be an object"), "{msg}");
        assert!(msg.contains(&f.to_string()), "{msg}");
    }
}

#[test]
fn unknown_operator_is_an_error() {
    let msg = error(json!({"price": {"$foo": 1}}));
    assert_eq!(msg, "unknown operator \"$foo\" on field \"price\"");
    let msg = error(json!({"price": {"$gt": 1, "$regex": "x"}}));
    assert!(
        msg.contains("\"$regex\"") && msg.contains("\"price\""),
        "{msg}"
    );
}

#[test]
fn unknown_top_level_operator_is_an_error() {
    for op in ["$not", "$nor", "$where", "$", "$exists"] {
        let msg = error(json!({op: [{"a": 1}]}));
        assert!(msg.contains(&format!("\"{op}\"")), "{msg}");
    }
    let msg = error(json!({"$or": [{"$nor": []}, {"a": 1}]}));
    assert!(msg.contains("\"$nor\"") && msg.contains("$or[0]"), "{msg}");
}

#[test]
fn mixing_operators_and_plain_keys_is_an_error() {
    let msg = error(json!({"price": {"$gt": 1, "a": 2}}));
    assert!(
        msg.contains("\"price\"") && msg.contains("\"$gt\"") && msg.contains("\"a\""),
        "{msg}"
    );
}

#[test]
fn in_and_nin_need_an_array() {
    assert_eq!(
        error(json!({"color": {"$in": 3}})),
        "$in on field \"color\" needs an array, got 3"
    );
    assert_eq!(
        error(json!({"color": {"$nin": "red"}})),
        "$nin on field \"color\" needs an array, got \"red\""
    );
    assert!(error(json!({"c": {"$in": null}})).contains("got null"));
    assert!(error(json!({"c": {"$in": {"a": 1}}})).contains("got {\"a\":1}"));
}

#[test]
fn comparison_operand_must_be_number_or_string() {
    for op in ["$gt", "$gte", "$lt", "$lte"] {
        for bad in [json!(null), json!(true), json!([1]), json!({"a": 1})] {
            let msg = error(json!({"p": {op: bad.clone()}}));
            assert_eq!(
                msg,
                format!("{op} on field \"p\" needs a number or string, got {bad}")
            );
        }
    }
}

#[test]
fn and_or_need_non_empty_array_of_objects() {
    for op in ["$and", "$or"] {
        for bad in [json!([]), json!({"a": 1}), json!(null), json!("x")] {
            let msg = error(json!({op: bad}));
            assert!(msg.contains(op) && msg.contains("non-empty array"), "{msg}");
        }
        let msg = error(json!({op: [{"a": 1}, 5]}));
        assert_eq!(msg, format!("{op}[1] must be an object, got 5"));
    }
}

#[test]
fn errors_inside_nested_filters_are_reported() {
    let msg = error(json!({"$and": [{"$or": [{"a": 1}, {"b": {"$in": 1}}]}]}));
    assert!(msg.contains("$in on field \"b\""), "{msg}");
    let msg = error(json!({"$and": [{"$or": [{"a": 1}, []]}]}));
    assert!(msg.contains("$and[0].$or[1]"), "{msg}");
}

#[test]
fn bad_field_names_are_errors() {
    assert_eq!(error(json!({"": 1})), "empty field name");
    for f in ["a..b", ".a", "a.", "."] {
        let msg = error(json!({f: 1}));
        assert!(msg.contains(&format!("\"{f}\"")), "{msg}");
    }
}

#[test]
fn excessive_nesting_is_an_error() {
    let mut f = json!({"a": 1});
    for _ in 0..100 {
        f = json!({"$and": [f]});
    }
    assert!(error(f).contains("nested deeper"));

    let mut v = json!(1);
    for _ in 0..100 {
        v = json!([v]);
    }
    assert!(error(json!({"a": {"$eq": v}})).contains("nested deeper"));

    let mut ok = json!({"a": 1});
    for _ in 0..30 {
        ok = json!({"$or": [ok, {"b": 2}]});
    }
    assert!(matches(ok, json!({"b": 2})));
}

#[test]
fn long_operands_are_truncated_in_messages() {
    let long = "x".repeat(1000);
    let msg = error(json!({"p": {"$in": long}}));
    assert!(msg.len() < 200 && msg.ends_with('…'), "{msg}");
}

#[test]
fn filter_is_send_sync_clone() {
    fn check<T: Send + Sync + Clone + std::fmt::Debug>() {}
    check::<Filter>();
}

// ---- randomized comparison with a reference evaluator

struct SplitMix(u64);
impl SplitMix {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
    fn chance(&mut self, percent: usize) -> bool {
        self.below(100) < percent
    }
}

const STRS: [&str; 6] = ["a", "b", "ab", "B", "", "zz"];
const PATHS: [&str; 8] = ["a", "b", "c", "tags", "n", "n.x", "n.y", "n.x.y"];

fn gen_scalar(r: &mut SplitMix) -> Value {
    match r.below(7) {
        0 => Value::Null,
        1 => json!(r.chance(50)),
        2 | 3 => json!(r.below(4) as i64 - 1),
        4 => json!([1.0, 2.5, -0.5, 0.0][r.below(4)]),
        _ => json!(STRS[r.below(STRS.len())]),
    }
}

fn gen_value(r: &mut SplitMix, depth: usize) -> Value {
    match r.below(10) {
        0..=6 => gen_scalar(r),
        7 | 8 => Value::Array((0..r.below(4)).map(|_| gen_value(r, depth + 1)).collect()),
        _ if depth < 2 => {
            let mut m = Map::new();
            for key in ["x", "y"] {
                if r.chance(70) {
                    m.insert(key.into(), gen_value(r, depth + 1));
                }
            }
            Value::Object(m)
        }
        _ => gen_scalar(r),
    }
}

fn gen_metadata(r: &mut SplitMix) -> Option<Map<String, Value>> {
    if r.chance(5) {
        return None;
    }
    let mut m = Map::new();
    for key in ["a", "b", "c", "tags", "n"] {
        if r.chance(70) {
            m.insert(key.into(), gen_value(r, 0));
        }
    }
    if r.chance(70) {
        // Usually make "n" an object so the dotted paths find something.
        let x = if r.chance(40) {
            json!({ "y": gen_value(r, 1) })
        } else {
            gen_value(r, 1)
        };
        m.insert("n".into(), json!({ "x": x, "y": gen_value(r, 1) }));
    }
    Some(m)
}

type Items = [Option<Map<String, Value>>];

/// Half the time a value really stored at `path` (or one of its array
/// elements), so that equality and ranges match often enough to matter.
fn gen_operand(r: &mut SplitMix, items: &Items, path: &str) -> Value {
    if r.chance(50) {
        let item = items[r.below(items.len())].as_ref();
        if let Some(v) = ref_lookup(item, path) {
            return match v {
                Value::Array(a) if !a.is_empty() && r.chance(60) => a[r.below(a.len())].clone(),
                other => other.clone(),
            };
        }
    }
    gen_value(r, 0)
}

fn gen_condition(r: &mut SplitMix, items: &Items, path: &str) -> Value {
    if r.chance(25) {
        // Bare value; a generated object only has plain keys.
        return gen_operand(r, items, path);
    }
    let mut ops = Map::new();
    for _ in 0..if r.chance(25) { 2 } else { 1 } {
        let op = ["$eq", "$ne", "$gt", "$gte", "$lt", "$lte", "$in", "$nin"][r.below(8)];
        let operand = match op {
            "$gt" | "$gte" | "$lt" | "$lte" => match gen_operand(r, items, path) {
                v @ (Value::Number(_) | Value::String(_)) => v,
                _ if r.chance(50) => json!(r.below(8) as f64 / 2.0 - 2.0),
                _ => json!(STRS[r.below(STRS.len())]),
            },
            "$in" | "$nin" => {
                let mut list: Vec<Value> = (0..1 + r.below(4))
                    .map(|_| gen_operand(r, items, path))
                    .collect();
                if r.chance(15) {
                    // Enough strings to switch to the hashed lookup.
                    list.extend((0..20).map(|i| json!(format!("s{i}"))));
                    list.push(json!(STRS[r.below(STRS.len())]));
                }
                Value::Array(list)
            }
            _ => gen_operand(r, items, path),
        };
        ops.insert(op.into(), operand);
    }
    Value::Object(ops)
}

fn gen_filter(r: &mut SplitMix, items: &Items, depth: usize) -> Value {
    let mut m = Map::new();
    // Mostly one or two clauses: more ANDed clauses almost never match.
    let clauses = if r.chance(5) { 0 } else { 1 + r.below(2) };
    for _ in 0..clauses {
        if depth < 3 && r.chance(30 - 10 * depth) {
            // $or more often than $and, which rarely matches anything.
            let op = if r.chance(30) { "$and" } else { "$or" };
            let subs = (0..1 + r.below(3))
                .map(|_| gen_filter(r, items, depth + 1))
                .collect();
            m.insert(op.into(), Value::Array(subs));
        } else {
            let path = if r.chance(5) {
                "nope"
            } else {
                PATHS[r.below(PATHS.len())]
            };
            m.insert(path.into(), gen_condition(r, items, path));
        }
    }
    Value::Object(m)
}

// The reference works directly on the filter JSON, as the spec reads.

fn ref_matches(filter: &Value, meta: Option<&Map<String, Value>>) -> bool {
    let clauses = filter.as_object().expect("generated filters are objects");
    clauses.iter().all(|(key, arg)| match key.as_str() {
        "$and" => arg.as_array().unwrap().iter().all(|f| ref_matches(f, meta)),
        "$or" => arg.as_array().unwrap().iter().any(|f| ref_matches(f, meta)),
        field => ref_field(ref_lookup(meta, field), arg),
    })
}

fn ref_lookup<'a>(meta: Option<&'a Map<String, Value>>, field: &str) -> Option<&'a Value> {
    let mut segments = field.split('.');
    let mut cur = meta?.get(segments.next()?)?;
    for seg in segments {
        cur = cur.as_object()?.get(seg)?;
    }
    Some(cur)
}

fn ref_field(stored: Option<&Value>, cond: &Value) -> bool {
    match cond {
        Value::Object(ops) if !ops.is_empty() && ops.keys().all(|k| k.starts_with('$')) => {
            ops.iter().all(|(op, arg)| ref_op(stored, op, arg))
        }
        _ => ref_op(stored, "$eq", cond),
    }
}

fn ref_op(stored: Option<&Value>, op: &str, arg: &Value) -> bool {
    match op {
        "$eq" => match stored {
            None => false,
            Some(Value::Array(items)) if !arg.is_array() => {
                items.iter().any(|item| ref_deep_eq(item, arg))
            }
            Some(s) => ref_deep_eq(s, arg),
        },
        "$ne" => !ref_op(stored, "$eq", arg),
        "$in" => arg
            .as_array()
            .unwrap()
            .iter()
            .any(|a| ref_op(stored, "$eq", a)),
        "$nin" => !ref_op(stored, "$in", arg),
        _ => match stored {
            None => false,
            Some(Value::Array(items)) => items.iter().any(|item| ref_cmp(item, op, arg)),
            Some(s) => ref_cmp(s, op, arg),
        },
    }
}

fn ref_deep_eq(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => x.as_f64() == y.as_f64(),
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && (0..x.len()).all(|i| ref_deep_eq(&x[i], &y[i]))
        }
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len()
                && x.iter().all(|(k, v)| match y.get(k) {
                    Some(w) => ref_deep_eq(v, w),
                    None => false,
                })
        }
        _ => a == b,
    }
}

fn ref_cmp(stored: &Value, op: &str, arg: &Value) -> bool {
    let ord = match (stored, arg) {
        (Value::Number(x), Value::Number(y)) => {
            x.as_f64().unwrap().partial_cmp(&y.as_f64().unwrap())
        }
        (Value::String(x), Value::String(y)) => Some(x.cmp(y)),
        _ => return false,
    };
    let ord = ord.unwrap();
    match op {
        "$gt" => ord.is_gt(),
        "$gte" => ord.is_ge(),
        "$lt" => ord.is_lt(),
        "$lte" => ord.is_le(),
        other => panic!("reference: unexpected operator {other}"),
    }
}

#[test]
// 60 random filters over 2,000 documents: hours under Miri, and the
// operator tests above already take every evaluation path there.
#[cfg_attr(miri, ignore)]
fn random_filters_agree_with_reference_evaluator() {
    let mut r = SplitMix(0x5EED_F11E_u64);
    let items: Vec<Option<Map<String, Value>>> = (0..2000).map(|_| gen_metadata(&mut r)).collect();
    let (mut hits, mut total) = (0usize, 0usize);
    let mut discriminating = 0;
    for _ in 0..60 {
        let filter_json = gen_filter(&mut r, &items, 0);
        let filter = Filter::parse(&filter_json)
            .unwrap_or_else(|e| panic!("generated filter {filter_json} failed: {e}"));
        let mut these = 0;
        for item in &items {
            let expected = ref_matches(&filter_json, item.as_ref());
            assert_eq!(
                filter.matches(item.as_ref()),
                expected,
                "filter {filter_json} on {item:?}"
            );
            these += usize::from(expected);
        }
        if these > 0 && these < items.len() {
            discriminating += 1;
        }
        hits += these;
        total += items.len();
    }
    // Guard against a generator that only produces trivial filters.
    assert!(
        hits > total / 50 && hits < total * 49 / 50,
        "{hits}/{total}"
    );
    assert!(discriminating >= 30, "{discriminating}");
}
