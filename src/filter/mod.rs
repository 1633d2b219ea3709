//! Mongo/Pinecone-style metadata filters.
//!
//! An item's metadata is a plain JSON object. A filter is a JSON object that
//! is compiled once per query by [`Filter::parse`] and then evaluated with
//! [`Filter::matches`] for every candidate the HNSW traversal touches, so
//! evaluation never allocates, formats or re-parses anything.
//!
//! # Grammar
//!
//! ```text
//! filter    := { clause, ... }                 all clauses ANDed; {} matches everything
//! clause    := "$and": [filter, ...]           non-empty array; all must match
//!            | "$or":  [filter, ...]           non-empty array; at least one must match
//!            | field: value                    same as field: { "$eq": value }
//!            | field: { op: operand, ... }     every key starts with "$"; all ANDed
//! op        := $eq | $ne | $gt | $gte | $lt | $lte | $in | $nin
//! field     := name | name "." field           dotted path into nested objects
//! ```
//!
//! Any other `$`-key is an error, both at the top level (`$not`, `$nor`, ...)
//! and inside an operator object. An object value whose keys all lack a `$`
//! (including `{}`) is a literal to compare by deep equality; an object
//! mixing `$` and plain keys is an error.
//!
//! # Semantics
//!
//! * **Paths.** `"a.b"` looks up key `b` inside the object stored under `a`.
//!   Paths do not descend into arrays, and a key that itself contains a `.`
//!   cannot be addressed. Empty names and empty segments (`"a..b"`) are
//!   errors.
//! * **Equality** (`$eq`, bare values, `$in` elements) is deep JSON equality
//!   where numbers compare as `f64` (`1 == 1.0`) and object key order is
//!   irrelevant. When the stored value is an array and the operand is not,
//!   it matches if any element equals the operand (`{tags: "red"}` matches
//!   `tags: ["red", "blue"]`); an array operand must equal the whole array.
//! * **`$in: [a, b, ...]`** is `$eq: a OR $eq: b OR ...`; `$in: []` matches
//!   nothing. `$ne` and `$nin` are exact negations of `$eq` and `$in`.
//! * **Comparisons** `$gt $gte $lt $lte` take a number or a string operand.
//!   Numbers compare as `f64`, strings by Unicode code point (byte order of
//!   UTF-8, which differs from JS `<` only for characters beyond U+FFFF). A
//!   stored value of another type is simply not matched; a stored array
//!   matches if any element does (as in MongoDB).
//! * **Missing fields** (and `matches(None)`, an item without metadata) fail
//!   `$eq $gt $gte $lt $lte $in` and pass `$ne $nin`. Unlike MongoDB,
//!   `{field: null}` does not match a missing field; it matches only a
//!   stored `null`.
//!
//! `$and`/`$or` nesting and operand values are limited to 32 levels, so a
//! hostile filter cannot overflow the stack during parsing or evaluation.

//!
//! | file | holds |
//! |---|---|
//! | `compiled.rs` | `Filter` and the compiled form it evaluates |
//! | `parse.rs` | validation and compilation of a filter's JSON |
//! | `eval.rs` | evaluation against an item's metadata |

mod compiled;
mod eval;
mod parse;

pub use compiled::Filter;

#[cfg(test)]
mod tests;
