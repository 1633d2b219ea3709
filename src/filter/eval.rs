//! Evaluating a compiled filter against an item's metadata: no allocation,
//! no formatting, no re-parsing.

use super::compiled::{Bound, CmpOp, Cond, Node, StrSet, ValueSet};
use super::parse::canon;
use serde_json::{Map, Value};
use std::cmp::Ordering;

impl Node {
    pub(super) fn eval(&self, metadata: Option<&Map<String, Value>>) -> bool {
        match self {
            Node::And(children) => children.iter().all(|c| c.eval(metadata)),
            Node::Or(children) => children.iter().any(|c| c.eval(metadata)),
            Node::Field { path, conds } => {
                let stored = metadata.and_then(|m| lookup(m, path));
                conds.iter().all(|c| c.eval(stored))
            }
        }
    }
}

fn lookup<'a>(metadata: &'a Map<String, Value>, path: &[Box<str>]) -> Option<&'a Value> {
    let (first, rest) = path.split_first()?;
    let mut value = metadata.get(&**first)?;
    for segment in rest {
        value = value.as_object()?.get(&**segment)?;
    }
    Some(value)
}

impl Cond {
    fn eval(&self, stored: Option<&Value>) -> bool {
        match self {
            Cond::In(set) => stored.is_some_and(|v| set.contains(v)),
            Cond::NotIn(set) => !stored.is_some_and(|v| set.contains(v)),
            Cond::Cmp(op, bound) => stored.is_some_and(|v| match v {
                Value::Array(items) => items.iter().any(|item| compare(*op, bound, item)),
                other => compare(*op, bound, other),
            }),
        }
    }
}

fn compare(op: CmpOp, bound: &Bound, stored: &Value) -> bool {
    let ordering = match (stored, bound) {
        (Value::Number(n), Bound::Num(b)) => n.as_f64().and_then(|x| x.partial_cmp(b)),
        (Value::String(s), Bound::Str(b)) => Some(s.as_str().cmp(b)),
        _ => None,
    };
    match (op, ordering) {
        (_, None) => false,
        (CmpOp::Gt, Some(o)) => o == Ordering::Greater,
        (CmpOp::Gte, Some(o)) => o != Ordering::Less,
        (CmpOp::Lt, Some(o)) => o == Ordering::Less,
        (CmpOp::Lte, Some(o)) => o != Ordering::Greater,
    }
}

impl ValueSet {
    /// `$in` semantics: the stored value equals some operand, or the stored
    /// value is an array with an element equal to some non-array operand.
    fn contains(&self, stored: &Value) -> bool {
        match stored {
            Value::Array(items) => {
                self.arrays.iter().any(|a| array_eq(items, a))
                    || items.iter().any(|item| self.contains_non_array(item))
            }
            other => self.contains_non_array(other),
        }
    }

    /// Compares against the scalar and object operands only.
    fn contains_non_array(&self, v: &Value) -> bool {
        match v {
            Value::Null => self.null,
            Value::Bool(b) => {
                if *b {
                    self.true_
                } else {
                    self.false_
                }
            }
            Value::Number(n) => match n.as_f64() {
                Some(x) => {
                    let x = canon(x);
                    self.nums.binary_search_by(|p| p.total_cmp(&x)).is_ok()
                }
                None => false,
            },
            Value::String(s) => match &self.strs {
                StrSet::List(list) => list.iter().any(|c| **c == **s),
                StrSet::Hash(hash) => hash.contains(s.as_str()),
            },
            Value::Object(m) => self.objects.iter().any(|o| object_eq(m, o)),
            // An array nested in a stored array only matches an array
            // operand as a whole, never element-wise.
            Value::Array(_) => false,
        }
    }
}

/// Recursion is bounded by the operand's depth, which parsing limits.
pub(super) fn deep_eq(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Null, Value::Null) => true,
        (Value::Bool(x), Value::Bool(y)) => x == y,
        (Value::Number(x), Value::Number(y)) => match (x.as_f64(), y.as_f64()) {
            (Some(x), Some(y)) => x == y,
            _ => false,
        },
        (Value::String(x), Value::String(y)) => x == y,
        (Value::Array(x), Value::Array(y)) => array_eq(x, y),
        (Value::Object(x), Value::Object(y)) => object_eq(x, y),
        _ => false,
    }
}

fn array_eq(a: &[Value], b: &[Value]) -> bool {
    a.len() == b.len() && a.iter().zip(b).all(|(x, y)| deep_eq(x, y))
}

fn object_eq(a: &Map<String, Value>, b: &Map<String, Value>) -> bool {
    a.len() == b.len()
        && a.iter()
            .all(|(k, x)| b.get(k).is_some_and(|y| deep_eq(x, y)))
}
