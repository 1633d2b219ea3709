//! `Filter`: a filter compiled once per query, and the form it compiles to.

use std::collections::HashSet;

use serde_json::{Map, Value};

use crate::error::Result;

/// Deepest `$and`/`$or` nesting and deepest operand value accepted.
// 32 rather than more: a filter nested 64 `$and` levels deep is 128 JSON
// levels, where the Node-API conversion refuses it before it gets here.
pub(super) const MAX_DEPTH: usize = 32;

/// From this many strings on, `$in`/`$nin` look strings up in a hash set;
/// below it a linear scan of short strings beats hashing the probe.
pub(super) const HASH_THRESHOLD: usize = 16;

/// A compiled metadata filter; see the [module docs](self) for the grammar.
#[derive(Clone, Debug)]
pub struct Filter {
    pub(super) root: Node,
}

impl Filter {
    /// Validates and compiles `filter`. Fails with
    /// [`Error::InvalidFilter`] naming the offending field, operator or value.
    pub fn parse(filter: &Value) -> Result<Filter> {
        Ok(Filter {
            root: super::parse::parse_filter(filter, "filter", 0)?,
        })
    }

    /// Whether an item with this metadata passes the filter; `None` means
    /// the item has no metadata, i.e. every field is missing.
    pub fn matches(&self, metadata: Option<&Map<String, Value>>) -> bool {
        self.root.eval(metadata)
    }
}

#[derive(Clone, Debug)]
pub(super) enum Node {
    /// Empty means "match everything".
    And(Box<[Node]>),
    Or(Box<[Node]>),
    /// All conditions share one path lookup.
    Field {
        path: Box<[Box<str>]>,
        conds: Box<[Cond]>,
    },
}

#[derive(Clone, Debug)]
pub(super) enum Cond {
    /// `$eq` (as a one-element set) and `$in`.
    In(ValueSet),
    /// `$ne` and `$nin`.
    NotIn(ValueSet),
    Cmp(CmpOp, Bound),
}

#[derive(Clone, Copy, Debug)]
pub(super) enum CmpOp {
    Gt,
    Gte,
    Lt,
    Lte,
}

#[derive(Clone, Debug)]
pub(super) enum Bound {
    Num(f64),
    Str(Box<str>),
}

/// The operands of `$eq`/`$in`, bucketed by JSON type so a probe only looks
/// at candidates of its own type.
#[derive(Clone, Debug)]
pub(super) struct ValueSet {
    pub(super) null: bool,
    pub(super) true_: bool,
    pub(super) false_: bool,
    /// Sorted by `total_cmp`, deduplicated, `-0.0` folded into `0.0`.
    pub(super) nums: Box<[f64]>,
    pub(super) strs: StrSet,
    pub(super) objects: Box<[Map<String, Value>]>,
    pub(super) arrays: Box<[Vec<Value>]>,
}

#[derive(Clone, Debug)]
pub(super) enum StrSet {
    List(Box<[Box<str>]>),
    Hash(HashSet<Box<str>>),
}
