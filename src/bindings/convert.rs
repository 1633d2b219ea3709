//! JS values ↔ core types. Every check here is about the *shape* of JS input;
//! semantic validation (dimensions, NaN, ranges) lives in the core.

use crate::db::{Item, Metadata, NewItem, SearchResults};
use crate::error::{Error, Result};
use crate::filter::Filter;
use napi::bindgen_prelude::*;
use napi_derive::napi;
use serde_json::Value;

/// A vector argument: `Float32Array` (read in place) or `number[]`.
pub type VectorArg<'a> = Either<Float32ArraySlice<'a>, Vec<f64>>;

pub fn vector_slice<'a>(vector: &'a VectorArg<'_>, owned: &'a mut Vec<f32>) -> &'a [f32] {
    match vector {
        Either::A(slice) => slice,
        Either::B(numbers) => {
            *owned = numbers.iter().map(|&x| x as f32).collect();
            owned
        }
    }
}

pub fn vector_owned(vector: &Either<Float32Array, Vec<f64>>) -> Vec<f32> {
    match vector {
        Either::A(array) => array.to_vec(),
        Either::B(numbers) => numbers.iter().map(|&x| x as f32).collect(),
    }
}

/// A count option: a whole number in `min..`, or the default when absent.
pub fn count(name: &str, value: Option<f64>, default: usize) -> Result<usize> {
    let Some(value) = value else {
        return Ok(default);
    };
    if value.fract() != 0.0 || !value.is_finite() || value < 1.0 || value > u32::MAX as f64 {
        return Err(Error::invalid_argument(format!(
            "{name} must be a positive integer, got {value}"
        )));
    }
    Ok(value as usize)
}

pub fn metadata(value: Option<Value>) -> Result<Option<Metadata>> {
    match value {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Object(map)) => Ok(Some(map)),
        Some(other) => Err(Error::invalid_argument(format!(
            "metadata must be a plain object, got {other}"
        ))),
    }
}

/// An item as passed to `insert`, `insertBatch` and `upsert`.
#[napi(object)]
pub struct ItemInput {
    /// A unique id; a UUID v4 is generated when omitted.
    pub id: Option<String>,
    pub vector: Either<Float32Array, Vec<f64>>,
    /// Any plain object; filters match against it.
    #[napi(ts_type = "Record<string, unknown> | null")]
    pub metadata: Option<Value>,
}

impl ItemInput {
    pub fn into_core(self) -> Result<NewItem> {
        Ok(NewItem {
            vector: vector_owned(&self.vector),
            id: self.id,
            metadata: metadata(self.metadata)?,
        })
    }
}

/// Options of `search`, `searchSync` and `searchBatch`.
// Declares the TS type only: index.js reads the fields and passes them
// positionally (see `search_options`).
#[allow(dead_code)]
#[napi(object)]
pub struct SearchOptions {
    /// How many hits to return (default 10, at most 100000).
    pub k: Option<f64>,
    /// Beam width for this query (default: the database's `efSearch`).
    /// Larger is slower and more accurate; it is raised to `k` if smaller.
    pub ef_search: Option<f64>,
    /// A metadata filter, e.g. `{ color: 'red', price: { $lt: 20 } }`.
    /// Operators: `$eq $ne $gt $gte $lt $lte $in $nin $and $or`; a bare
    /// value means `$eq`; dotted names reach into nested objects.
    #[napi(ts_type = "Record<string, unknown>")]
    pub filter: Option<Value>,
}

/// Search options as `index.js` passes them: positionally, because reading
/// named properties through Node-API costs more than the search options are
/// worth.
pub fn search_options(
    k: Option<f64>,
    ef_search: Option<f64>,
    filter: Option<Value>,
) -> Result<crate::db::SearchOptions> {
    Ok(crate::db::SearchOptions {
        k: count("k", k, 10)?,
        ef_search: ef_search
            .map(|ef| count("efSearch", Some(ef), 0))
            .transpose()?,
        filter: filter
            .as_ref()
            .filter(|f| !f.is_null())
            .map(Filter::parse)
            .transpose()?,
    })
}

/// Search results cross into JS in packed form: building `{ id, score,
/// distance, metadata }` objects through Node-API costs about a microsecond
/// each (every property name is re-internalised, every element set through
/// the generic path), while `index.js` builds them in nanoseconds. So the
/// native side writes numbers into a `Float64Array` and all id text into one
/// string, and `index.js` slices them apart.
///
/// Numbers, per result, in a block of `block_len(k)` slots:
/// `[hits n, searchId length, id lengths × k, scores × k, distances × k]`
/// (lengths in UTF-16 code units, as JS strings count them). Text, per
/// result: the search id followed by the hit ids. When any hit has
/// metadata, the native call returns `[text, metadata[]]` instead of `text`.
pub fn block_len(k: usize) -> usize {
    2 + 3 * k
}

pub type PackedText = Either<String, Vec<Value>>;

fn utf16_len(text: &str) -> f64 {
    if text.is_ascii() {
        text.len() as f64
    } else {
        text.encode_utf16().count() as f64
    }
}

/// Writes `results` into `numbers` (one block for `k`) and returns the text.
pub fn pack(results: SearchResults, k: usize, numbers: &mut [f64]) -> Result<PackedText> {
    let n = results.hits.len();
    if numbers.len() < block_len(k) || n > k {
        return Err(Error::Internal(format!(
            "result buffer of {} slots is too small for k = {k}",
            numbers.len()
        )));
    }
    numbers[0] = n as f64;
    numbers[1] = utf16_len(&results.search_id);
    let mut text = results.search_id;
    let any_metadata = results.hits.iter().any(|hit| hit.metadata.is_some());
    let mut metadata = Vec::with_capacity(if any_metadata { n } else { 0 });
    for (i, hit) in results.hits.into_iter().enumerate() {
        numbers[2 + i] = utf16_len(&hit.id);
        numbers[2 + k + i] = hit.score as f64;
        numbers[2 + 2 * k + i] = hit.distance as f64;
        text.push_str(&hit.id);
        if any_metadata {
            metadata.push(metadata_value(hit.metadata));
        }
    }
    Ok(if any_metadata {
        Either::B(vec![Value::String(text), Value::Array(metadata)])
    } else {
        Either::A(text)
    })
}

fn metadata_value(metadata: Option<std::sync::Arc<Metadata>>) -> Value {
    metadata.map_or(Value::Null, |m| Value::Object((*m).clone()))
}

/// Packed results of several searches: blocks laid end to end.
pub fn pack_all(results: Vec<SearchResults>, k: usize) -> Result<(Vec<PackedText>, Vec<f64>)> {
    let mut numbers = vec![0.0; results.len() * block_len(k)];
    let texts = results
        .into_iter()
        .zip(numbers.chunks_mut(block_len(k)))
        .map(|(result, block)| pack(result, k, block))
        .collect::<Result<Vec<_>>>()?;
    Ok((texts, numbers))
}

/// A stored item as returned by `get`.
#[napi(object, object_from_js = false)]
pub struct StoredItem {
    pub id: String,
    /// The stored vector (unit length under the cosine metric).
    pub vector: Float32Array,
    #[napi(ts_type = "Record<string, unknown> | null")]
    pub metadata: Value,
}

pub fn stored_item(item: Option<Item>) -> Option<StoredItem> {
    item.map(|item| StoredItem {
        id: item.id.to_string(),
        vector: Float32Array::new(item.vector),
        metadata: metadata_value(item.metadata),
    })
}
