//! Validating and compiling a filter's JSON into a [`Filter`]'s nodes: every
//! error names the offending field, operator or value.

use super::compiled::{Bound, CmpOp, Cond, Node, StrSet, ValueSet, HASH_THRESHOLD, MAX_DEPTH};
use crate::error::{short_json as describe, Error, Result};
use serde_json::Value;

pub(super) fn parse_filter(value: &Value, at: &str, depth: usize) -> Result<Node> {
    if depth > MAX_DEPTH {
        // Not naming `at`: at this depth it is a wall of "$and[0]."s.
        return Err(Error::invalid_filter(format!(
            "$and/$or nested deeper than {MAX_DEPTH} levels"
        )));
    }
    let Value::Object(map) = value else {
        return Err(Error::invalid_filter(format!(
            "{at} must be an object, got {}",
            describe(value)
        )));
    };
    let mut clauses = Vec::with_capacity(map.len());
    for (key, operand) in map {
        match key.as_str() {
            "$and" => {
                for child in parse_list(key, operand, at, depth)? {
                    push_and(&mut clauses, child);
                }
            }
            "$or" => {
                let mut children = parse_list(key, operand, at, depth)?;
                if children.len() == 1 {
                    // A one-armed $or is just its arm.
                    if let Some(only) = children.pop() {
                        push_and(&mut clauses, only);
                    }
                } else {
                    clauses.push(Node::Or(children.into_boxed_slice()));
                }
            }
            op if op.starts_with('$') => {
                return Err(Error::invalid_filter(format!(
                    "unknown operator \"{op}\" in {at} (only $and and $or may appear outside a field)"
                )));
            }
            field => clauses.push(parse_field(field, operand)?),
        }
    }
    Ok(if clauses.len() == 1 {
        clauses.pop().unwrap_or(Node::And(Box::new([])))
    } else {
        Node::And(clauses.into_boxed_slice())
    })
}

/// Flattens nested ANDs so evaluation walks one level.
fn push_and(clauses: &mut Vec<Node>, node: Node) {
    match node {
        Node::And(children) => clauses.extend(children.into_vec()),
        other => clauses.push(other),
    }
}

fn parse_list(key: &str, operand: &Value, at: &str, depth: usize) -> Result<Vec<Node>> {
    let items = match operand {
        Value::Array(items) if !items.is_empty() => items,
        _ => {
            return Err(Error::invalid_filter(format!(
                "{key} in {at} needs a non-empty array of filter objects, got {}",
                describe(operand)
            )))
        }
    };
    let prefix = if at == "filter" {
        String::new()
    } else {
        format!("{at}.")
    };
    items
        .iter()
        .enumerate()
        .map(|(i, item)| parse_filter(item, &format!("{prefix}{key}[{i}]"), depth + 1))
        .collect()
}

fn parse_field(field: &str, operand: &Value) -> Result<Node> {
    let path = parse_path(field)?;
    let conds = match operand {
        Value::Object(ops) if ops.keys().any(|k| k.starts_with('$')) => {
            if let Some(plain) = ops.keys().find(|k| !k.starts_with('$')) {
                let op = ops.keys().find(|k| k.starts_with('$')).map_or("", |k| k);
                return Err(Error::invalid_filter(format!(
                    "field \"{field}\" mixes operator \"{op}\" with plain key \"{plain}\"; \
                     use either an operator object or a literal object"
                )));
            }
            ops.iter()
                .map(|(op, arg)| parse_op(field, op, arg))
                .collect::<Result<Vec<_>>>()?
        }
        _ => vec![Cond::In(ValueSet::build(
            field,
            "$eq",
            std::slice::from_ref(operand),
        )?)],
    };
    Ok(Node::Field {
        path,
        conds: conds.into_boxed_slice(),
    })
}

fn parse_path(field: &str) -> Result<Box<[Box<str>]>> {
    if field.is_empty() {
        return Err(Error::invalid_filter("empty field name"));
    }
    if field.split('.').any(str::is_empty) {
        return Err(Error::invalid_filter(format!(
            "field \"{field}\" has an empty path segment"
        )));
    }
    Ok(field.split('.').map(Box::from).collect())
}

fn parse_op(field: &str, op: &str, arg: &Value) -> Result<Cond> {
    Ok(match op {
        "$eq" => Cond::In(ValueSet::build(field, op, std::slice::from_ref(arg))?),
        "$ne" => Cond::NotIn(ValueSet::build(field, op, std::slice::from_ref(arg))?),
        "$in" | "$nin" => {
            let Value::Array(items) = arg else {
                return Err(Error::invalid_filter(format!(
                    "{op} on field \"{field}\" needs an array, got {}",
                    describe(arg)
                )));
            };
            let set = ValueSet::build(field, op, items)?;
            if op == "$in" {
                Cond::In(set)
            } else {
                Cond::NotIn(set)
            }
        }
        "$gt" | "$gte" | "$lt" | "$lte" => {
            let cmp = match op {
                "$gt" => CmpOp::Gt,
                "$gte" => CmpOp::Gte,
                "$lt" => CmpOp::Lt,
                _ => CmpOp::Lte,
            };
            let bound = match arg {
                Value::Number(n) => Bound::Num(number(field, op, n)?),
                Value::String(s) => Bound::Str(s.as_str().into()),
                _ => {
                    return Err(Error::invalid_filter(format!(
                        "{op} on field \"{field}\" needs a number or string, got {}",
                        describe(arg)
                    )))
                }
            };
            Cond::Cmp(cmp, bound)
        }
        _ => {
            return Err(Error::invalid_filter(format!(
                "unknown operator \"{op}\" on field \"{field}\""
            )))
        }
    })
}

fn number(field: &str, op: &str, n: &serde_json::Number) -> Result<f64> {
    // Only `None` with serde_json's arbitrary_precision feature.
    n.as_f64().ok_or_else(|| {
        Error::invalid_filter(format!(
            "{op} on field \"{field}\": number {n} is not representable as f64"
        ))
    })
}

/// Folds `-0.0` into `0.0` so `total_cmp` agrees with `==` on zeros.
pub(super) fn canon(x: f64) -> f64 {
    x + 0.0
}

impl ValueSet {
    fn build(field: &str, op: &str, operands: &[Value]) -> Result<ValueSet> {
        let mut set = ValueSet {
            null: false,
            true_: false,
            false_: false,
            nums: Box::new([]),
            strs: StrSet::List(Box::new([])),
            objects: Box::new([]),
            arrays: Box::new([]),
        };
        let mut nums = Vec::new();
        let mut strs: Vec<Box<str>> = Vec::new();
        let mut objects = Vec::new();
        let mut arrays = Vec::new();
        for operand in operands {
            if nesting(operand, MAX_DEPTH).is_none() {
                return Err(Error::invalid_filter(format!(
                    "{op} on field \"{field}\": operand nested deeper than {MAX_DEPTH} levels"
                )));
            }
            match operand {
                Value::Null => set.null = true,
                Value::Bool(true) => set.true_ = true,
                Value::Bool(false) => set.false_ = true,
                Value::Number(n) => nums.push(canon(number(field, op, n)?)),
                Value::String(s) => strs.push(s.as_str().into()),
                Value::Object(m) => objects.push(m.clone()),
                Value::Array(a) => arrays.push(a.clone()),
            }
        }
        nums.sort_by(f64::total_cmp);
        nums.dedup();
        strs.sort();
        strs.dedup();
        set.nums = nums.into_boxed_slice();
        set.strs = if strs.len() >= HASH_THRESHOLD {
            StrSet::Hash(strs.into_iter().collect())
        } else {
            StrSet::List(strs.into_boxed_slice())
        };
        set.objects = objects.into_boxed_slice();
        set.arrays = arrays.into_boxed_slice();
        Ok(set)
    }
}

/// Returns the nesting depth of `v` if it is at most `limit`.
fn nesting(v: &Value, limit: usize) -> Option<usize> {
    let children: Box<dyn Iterator<Item = &Value>> = match v {
        Value::Array(a) => Box::new(a.iter()),
        Value::Object(m) => Box::new(m.values()),
        _ => return Some(0),
    };
    let limit = limit.checked_sub(1)?;
    let mut deepest = 0;
    for child in children {
        deepest = deepest.max(nesting(child, limit)?);
    }
    Some(deepest + 1)
}
