//! JS values ↔ core types. Every check here is about the *shape* of JS input;
//! semantic validation (dimensions, NaN, ranges) lives in the core.

use crate::db::{Hit, Item, Metadata, NewItem, SearchOptions, SearchResults};
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
#[napi(object)]
pub struct SearchOptionsInput {
    /// How many hits to return (default 10, at most 100000).
    pub k: Option<f64>,
    /// Beam width for this query (default: the database's `efSearch`).
    /// Larger is slower and more accurate; it is raised to `k` if smaller.
    pub ef_search: Option<f64>,
    /// A metadata filter, e.g. `{ color: 'red', price: { $lt: 20 } }`.
    /// Operators: `$eq $ne $gt $gte $lt $lte $in $nin $and $or`.
    #[napi(ts_type = "Record<string, unknown>")]
    pub filter: Option<Value>,
}

pub fn search_options(input: Option<SearchOptionsInput>) -> Result<SearchOptions> {
    let Some(input) = input else {
        return Ok(SearchOptions {
            k: 10,
            ..SearchOptions::default()
        });
    };
    Ok(SearchOptions {
        k: count("k", input.k, 10)?,
        ef_search: input
            .ef_search
            .map(|ef| count("efSearch", Some(ef), 0))
            .transpose()?,
        filter: input.filter.as_ref().map(Filter::parse).transpose()?,
    })
}

/// One search hit.
#[napi(object, object_from_js = false)]
pub struct SearchHit {
    pub id: String,
    /// Higher is closer: cosine similarity, dot product, or the negated
    /// squared euclidean distance.
    pub score: f64,
    /// Lower is closer: `1 - cosine`, `-dot`, or the squared euclidean
    /// distance.
    pub distance: f64,
    /// The item's metadata, or `null`.
    #[napi(ts_type = "Record<string, unknown> | null")]
    pub metadata: Value,
}

/// What a search returns.
#[napi(object, object_from_js = false)]
pub struct SearchResult {
    /// Names this search for later feedback; unique per search.
    pub search_id: String,
    /// Closest first.
    pub hits: Vec<SearchHit>,
}

fn metadata_value(metadata: Option<std::sync::Arc<Metadata>>) -> Value {
    metadata.map_or(Value::Null, |m| Value::Object((*m).clone()))
}

pub fn search_result(results: SearchResults) -> SearchResult {
    SearchResult {
        search_id: results.search_id,
        hits: results.hits.into_iter().map(search_hit).collect(),
    }
}

fn search_hit(hit: Hit) -> SearchHit {
    SearchHit {
        id: hit.id.to_string(),
        score: hit.score as f64,
        distance: hit.distance as f64,
        metadata: metadata_value(hit.metadata),
    }
}

pub fn search_results(results: Vec<SearchResults>) -> Vec<SearchResult> {
    results.into_iter().map(search_result).collect()
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
