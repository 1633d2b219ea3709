//! JS values ↔ core types: vectors, items, packed search results, matrices
//! and graphs. Every check here is about the *shape* of JS input; semantic
//! validation (dimensions, NaN, ranges, options) lives in the core.

use super::graph::JsGraph;
use crate::db::{Item, Metadata, NewItem, NewItems, SearchResults};
use crate::error::{Error, Result};
use crate::gnn::{Adjacency, Graph};
use napi::bindgen_prelude::*;
use napi_derive::napi;
use ndarray::{Array2, ArrayView2};
use serde_json::{Number, Value};
use std::sync::Arc;

/// A vector argument: `Float32Array` (read in place) or `number[]`.
pub type VectorArg<'a> = Either<Float32ArraySlice<'a>, Vec<f64>>;

/// `vector`'s values: the `Float32Array` itself, or `owned` filled from the
/// numbers.
pub fn vector_slice<'a>(vector: &'a VectorArg<'_>, owned: &'a mut Vec<f32>) -> &'a [f32] {
    match vector {
        Either::A(slice) => slice,
        Either::B(numbers) => {
            owned.clear();
            owned.extend(numbers.iter().map(|&x| x as f32));
            owned
        }
    }
}

pub fn vector_owned(vector: &VectorArg<'_>) -> Vec<f32> {
    match vector {
        Either::A(array) => array.to_vec(),
        Either::B(numbers) => numbers.iter().map(|&x| x as f32).collect(),
    }
}

/// Largest integer a JS number holds exactly: 2^53 − 1.
const MAX_SAFE_INTEGER: u64 = (1 << 53) - 1;

/// Metadata and filters arrive as JSON text that index.js made with
/// `JSON.stringify` (see `jsonText` there), so what is stored is exactly
/// what JSON makes of the value, and what JSON would drop or change
/// silently was refused before it got here. (Reading the object through
/// Node-API instead stored a `Date` as `{}` and turned a `BigInt` into a
/// 64-bit integer.)
/// `error` makes the error for text that does not parse (metadata and
/// filters fail with different codes).
pub fn json_from_js(text: &str, what: &str, error: fn(String) -> Error) -> Result<Value> {
    let mut value = serde_json::from_str(text).map_err(|e| {
        // serde_json's own limit; metadata and filters have lower ones,
        // checked once the value is read.
        if e.to_string().starts_with("recursion limit exceeded") {
            error(format!("{what} is nested deeper than 128 levels"))
        } else {
            error(format!("{what} is not JSON text: {e}"))
        }
    })?;
    as_js_numbers(&mut value);
    Ok(value)
}

/// Integers past ±(2^53 − 1) in JSON text are the JS numbers (doubles)
/// `JSON.stringify` printed them from. serde_json reads them as 64-bit
/// integers, which Node-API would hand back as `BigInt`s: keep the doubles.
/// (Recursion is bounded by serde_json's depth limit.)
fn as_js_numbers(value: &mut Value) {
    match value {
        Value::Number(n) if !n.is_f64() => {
            let exact = n
                .as_i64()
                .is_some_and(|i| i.unsigned_abs() <= MAX_SAFE_INTEGER);
            if let (false, Some(double)) = (exact, n.as_f64().and_then(Number::from_f64)) {
                *n = double;
            }
        }
        Value::Array(items) => items.iter_mut().for_each(as_js_numbers),
        Value::Object(fields) => fields.values_mut().for_each(as_js_numbers),
        _ => {}
    }
}

/// Metadata as index.js passes it: JSON text of a plain object or `null`,
/// or absent.
pub fn metadata_from_js(text: Option<&str>) -> Result<Option<Metadata>> {
    let value = text
        .map(|text| json_from_js(text, "metadata", Error::InvalidArgument))
        .transpose()?;
    crate::db::metadata_from_value(value)
}

/// An item as passed to `insert`, `insertBatch` and `upsert`. Its vector is
/// read in place and copied once, into the batch handed to the core.
#[napi(object, object_to_js = false)]
pub struct ItemInput<'a> {
    /// A unique id; a UUID v4 is generated when omitted.
    pub id: Option<String>,
    pub vector: VectorArg<'a>,
    /// JSON text of a plain object or `null` (see `json_from_js`).
    pub metadata: Option<String>,
}

impl ItemInput<'_> {
    pub fn into_core(self) -> Result<NewItem> {
        Ok(NewItem {
            vector: vector_owned(&self.vector),
            id: self.id,
            metadata: metadata_from_js(self.metadata.as_deref())?,
        })
    }
}

/// `items` laid out end to end for the core: one allocation for all the
/// vectors, which the index then keeps (see `NewItems`).
pub fn items_to_core(items: Vec<ItemInput<'_>>, dimensions: usize) -> Result<NewItems> {
    let mut batch = NewItems {
        ids: Vec::with_capacity(items.len()),
        vectors: Vec::with_capacity(items.len() * dimensions),
        metadata: Vec::with_capacity(items.len()),
    };
    let mut owned = Vec::new();
    for (i, item) in items.into_iter().enumerate() {
        batch.push_vector(vector_slice(&item.vector, &mut owned), dimensions, i)?;
        batch.ids.push(item.id);
        batch
            .metadata
            .push(metadata_from_js(item.metadata.as_deref())?);
    }
    Ok(batch)
}

/// The flat form of `insertBatch`: `vectors` holds `n × dimensions` values,
/// `ids` (when given) and `metadata` (when given) `n` entries each.
pub fn flat_items_to_core(
    ids: Option<Vec<String>>,
    vectors: &[f32],
    metadata: Option<Vec<Option<String>>>,
    dimensions: usize,
) -> Result<NewItems> {
    if !vectors.len().is_multiple_of(dimensions) {
        return Err(Error::BatchShape {
            dimensions,
            len: vectors.len(),
        });
    }
    let count = vectors.len() / dimensions;
    let check_count = |what: &str, len: usize| {
        if len == count {
            Ok(())
        } else {
            Err(Error::invalid_argument(format!(
                "{what} has {len} entries for {count} vectors"
            )))
        }
    };
    let ids = match ids {
        Some(ids) => {
            check_count("ids", ids.len())?;
            ids.into_iter().map(Some).collect()
        }
        None => vec![None; count],
    };
    let metadata = match metadata {
        Some(metadata) => {
            check_count("metadata", metadata.len())?;
            metadata
                .into_iter()
                .map(|text| metadata_from_js(text.as_deref()))
                .collect::<Result<Vec<_>>>()?
        }
        None => Vec::new(),
    };
    Ok(NewItems {
        ids,
        vectors: vectors.to_vec(),
        metadata,
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
/// `[hits n, searchId length, id lengths × k, scores × k, distances × k,
/// base scores × k]`
/// (lengths in UTF-16 code units, as JS strings count them). Text, per
/// result: the search id followed by the hit ids. When any hit has
/// metadata, the native call returns `[text, metadata[]]` instead of `text`.
pub fn block_len(k: usize) -> usize {
    2 + 4 * k
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
        numbers[2 + 3 * k + i] = hit.base_score as f64;
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

/// A row-major `f32` matrix: `data` holds `rows × cols` values.
#[napi(object)]
pub struct Matrix {
    pub data: Float32Array,
    pub rows: u32,
    pub cols: u32,
}

impl Matrix {
    pub fn from_array(array: Array2<f32>) -> Matrix {
        let (rows, cols) = array.dim();
        // Row-major, whatever layout the computation left (concatenated
        // GAT heads come out column-major).
        let array = if array.is_standard_layout() {
            array
        } else {
            array.as_standard_layout().into_owned()
        };
        let (data, _) = array.into_raw_vec_and_offset();
        Matrix {
            data: float32_array(data),
            rows: rows as u32,
            cols: cols as u32,
        }
    }
}

/// `values` handed to JS without a copy; when JS collects the array, a
/// large buffer goes back to the output pool (`gnn::buffers`) instead of
/// to the OS, so the next output does not fault its pages in again.
pub fn float32_array(values: Vec<f32>) -> Float32Array {
    if values.capacity() * 4 < crate::gnn::buffers::MIN_BYTES {
        return Float32Array::new(values);
    }
    let mut values = std::mem::ManuallyDrop::new(values);
    let (data, length, capacity) = (values.as_mut_ptr(), values.len(), values.capacity());
    // SAFETY: `data` is a live allocation of `capacity` floats with `length`
    // initialised, owned by nobody else from here (ManuallyDrop); napi-rs
    // calls the closure once, when the VM frees the array (or after copying
    // it where external buffers are not allowed), and the closure rebuilds
    // the Vec from exactly these parts.
    unsafe {
        Float32Array::with_external_data(data, length, move |data, length| {
            crate::gnn::buffers::recycle(Vec::from_raw_parts(data, length, capacity));
        })
    }
}

/// Compressed sparse rows: node `i`'s neighbours are
/// `targets[offsets[i]] .. targets[offsets[i + 1]]`.
#[napi(object)]
pub struct CsrGraph {
    pub offsets: Uint32Array,
    pub targets: Uint32Array,
}

pub fn csr_of(adjacency: &Adjacency) -> CsrGraph {
    let (offsets, sources) = adjacency.csr();
    CsrGraph {
        offsets: Uint32Array::new(offsets.iter().map(|&o| o as u32).collect()),
        targets: Uint32Array::new(sources.to_vec()),
    }
}

/// Features as passed from JS, read in place.
pub struct Features {
    data: Float32Array,
    rows: usize,
    cols: usize,
}

pub type FeaturesArg = Either<Float32Array, Matrix>;

impl Features {
    /// A bare `Float32Array` is `length / cols` rows of `cols` values.
    pub fn new(features: FeaturesArg, cols: usize) -> Result<Features> {
        let (data, rows, cols) = match features {
            Either::A(data) => {
                if cols == 0 || data.len() % cols != 0 {
                    return Err(Error::ShapeMismatch(format!(
                        "{} feature values are not a whole number of {cols}-wide rows",
                        data.len()
                    )));
                }
                let rows = data.len() / cols;
                (data, rows, cols)
            }
            Either::B(m) => {
                let (rows, cols) = (m.rows as usize, m.cols as usize);
                if rows.checked_mul(cols) != Some(m.data.len()) {
                    return Err(Error::ShapeMismatch(format!(
                        "a {rows} × {cols} matrix needs {} values, data has {}",
                        rows.saturating_mul(cols),
                        m.data.len()
                    )));
                }
                (m.data, rows, cols)
            }
        };
        Ok(Features { data, rows, cols })
    }

    pub fn view(&self) -> ArrayView2<'_, f32> {
        ArrayView2::from_shape((self.rows, self.cols), &self.data[..]).expect("length checked")
    }
}

/// A graph argument: a `Graph` (its derived forms are cached across calls),
/// CSR arrays, or one neighbour list per node.
pub enum GraphInput {
    Shared(Arc<Graph>),
    Csr(Uint32Array, Uint32Array),
    Lists(Vec<Vec<f64>>),
}

pub type GraphArg<'a> = Either3<ClassInstance<'a, JsGraph>, CsrGraph, Vec<Vec<f64>>>;

impl GraphInput {
    pub fn new(arg: GraphArg<'_>) -> GraphInput {
        match arg {
            Either3::A(graph) => GraphInput::Shared(graph.shared()),
            Either3::B(csr) => GraphInput::Csr(csr.offsets, csr.targets),
            Either3::C(lists) => GraphInput::Lists(lists),
        }
    }

    /// Validates and builds the graph (on the calling thread: a worker for
    /// async methods).
    pub fn resolve(self) -> Result<Arc<Graph>> {
        Ok(match self {
            GraphInput::Shared(graph) => graph,
            GraphInput::Csr(offsets, targets) => {
                Arc::new(Graph::new(adjacency_from_csr(&offsets, &targets)?))
            }
            GraphInput::Lists(lists) => Arc::new(Graph::new(adjacency_from_lists(&lists)?)),
        })
    }
}

pub fn adjacency_from_csr(offsets: &[u32], targets: &[u32]) -> Result<Adjacency> {
    if offsets.is_empty() {
        return Err(Error::InvalidGraph(
            "offsets must have one entry per node plus one".into(),
        ));
    }
    Adjacency::from_csr(
        offsets.len() - 1,
        offsets.iter().map(|&o| o as usize).collect(),
        targets.to_vec(),
    )
}

pub fn adjacency_from_lists(lists: &[Vec<f64>]) -> Result<Adjacency> {
    let lists = lists
        .iter()
        .enumerate()
        .map(|(i, list)| {
            list.iter()
                .map(|&j| node_index(j, || format!("node {i} lists neighbour {j}")))
                .collect::<Result<Vec<u32>>>()
        })
        .collect::<Result<Vec<_>>>()?;
    Adjacency::from_lists(&lists)
}

/// Node indices given as a `Uint32Array` or numbers.
pub fn node_indices(nodes: Either<Uint32Array, Vec<f64>>) -> Result<Vec<u32>> {
    match nodes {
        Either::A(nodes) => Ok(nodes.to_vec()),
        Either::B(nodes) => nodes
            .iter()
            .map(|&n| node_index(n, || format!("batch node {n}")))
            .collect(),
    }
}

/// A JS number that must be a node index (a whole number in `u32`);
/// `what` names it in the error.
fn node_index(value: f64, what: impl FnOnce() -> String) -> Result<u32> {
    if value.fract() == 0.0 && (0.0..u32::MAX as f64).contains(&value) {
        Ok(value as u32)
    } else {
        Err(Error::InvalidGraph(format!(
            "{} is not a node index",
            what()
        )))
    }
}
