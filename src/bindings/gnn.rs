//! GNN layers and graphs for JS. `GnnModel` is one native class behind
//! `GCNLayer`, `GATLayer` and `GraphSAGE` (index.js subclasses it); the
//! layer kind decides which options are read and which methods apply.

use super::error::{call, ErrorCode};
use super::task::Job;
use crate::error::Error;
use crate::gnn::{
    Activation, Adjacency, BlockOptions, GatOptions, GcnOptions, GnnStack, Graph, SageOptions,
    StackLayer, WeightType,
};
use crate::Result as CoreResult;
use napi::bindgen_prelude::*;
use napi_derive::napi;
use ndarray::{Array2, ArrayView2};
use serde_json::{Map, Value};
use std::path::PathBuf;
use std::sync::{Arc, RwLock};

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
            data: Float32Array::new(data),
            rows: rows as u32,
            cols: cols as u32,
        }
    }
}

/// Compressed sparse rows: node `i`'s neighbours are
/// `targets[offsets[i]] .. targets[offsets[i + 1]]`.
#[napi(object)]
pub struct CsrGraph {
    pub offsets: Uint32Array,
    pub targets: Uint32Array,
}

/// Features as passed from JS, read in place.
pub struct Features {
    data: Float32Array,
    rows: usize,
    cols: usize,
}

impl Features {
    /// A bare `Float32Array` is `length / cols` rows of `cols` values.
    fn new(features: Either<Float32Array, Matrix>, cols: usize) -> CoreResult<Features> {
        let (data, rows, cols) = match features {
            Either::A(data) => {
                if data.len() % cols != 0 {
                    return Err(Error::ShapeMismatch(format!(
                        "{} feature values are not a whole number of {cols}-wide rows",
                        data.len()
                    )));
                }
                let rows = data.len() / cols;
                (data, rows, cols)
            }
            Either::B(m) => (
                data_of(m.data, m.rows as usize, m.cols as usize)?,
                m.rows as usize,
                m.cols as usize,
            ),
        };
        Ok(Features { data, rows, cols })
    }

    fn view(&self) -> ArrayView2<'_, f32> {
        ArrayView2::from_shape((self.rows, self.cols), &self.data[..]).expect("length checked")
    }
}

fn data_of(data: Float32Array, rows: usize, cols: usize) -> CoreResult<Float32Array> {
    if rows.checked_mul(cols) != Some(data.len()) {
        return Err(Error::ShapeMismatch(format!(
            "a {rows} × {cols} matrix needs {} values, data has {}",
            rows.saturating_mul(cols),
            data.len()
        )));
    }
    Ok(data)
}

/// A graph argument: a `Graph` (its derived forms are cached across calls),
/// CSR arrays, or one neighbour list per node.
pub enum GraphInput {
    Shared(Arc<Graph>),
    Csr(Uint32Array, Uint32Array),
    Lists(Vec<Vec<f64>>),
}

type GraphArg<'a> = Either3<ClassInstance<'a, JsGraph>, CsrGraph, Vec<Vec<f64>>>;

impl GraphInput {
    fn new(arg: GraphArg<'_>) -> GraphInput {
        match arg {
            Either3::A(graph) => GraphInput::Shared(graph.inner.clone()),
            Either3::B(csr) => GraphInput::Csr(csr.offsets, csr.targets),
            Either3::C(lists) => GraphInput::Lists(lists),
        }
    }

    /// Validates and builds the graph (on the calling thread: a worker for
    /// async methods).
    fn resolve(self) -> CoreResult<Arc<Graph>> {
        Ok(match self {
            GraphInput::Shared(graph) => graph,
            GraphInput::Csr(offsets, targets) => {
                Arc::new(Graph::new(adjacency_from_csr(&offsets, &targets)?))
            }
            GraphInput::Lists(lists) => Arc::new(Graph::new(adjacency_from_lists(&lists)?)),
        })
    }
}

fn adjacency_from_csr(offsets: &[u32], targets: &[u32]) -> CoreResult<Adjacency> {
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

fn adjacency_from_lists(lists: &[Vec<f64>]) -> CoreResult<Adjacency> {
    let lists = lists
        .iter()
        .enumerate()
        .map(|(i, list)| {
            list.iter()
                .map(|&j| node_index(j, || format!("node {i} lists neighbour {j}")))
                .collect::<CoreResult<Vec<u32>>>()
        })
        .collect::<CoreResult<Vec<_>>>()?;
    Adjacency::from_lists(&lists)
}

/// A JS number that must be a node index (a whole number in `u32`);
/// `what` names it in the error.
fn node_index(value: f64, what: impl FnOnce() -> String) -> CoreResult<u32> {
    if value.fract() == 0.0 && (0.0..u32::MAX as f64).contains(&value) {
        Ok(value as u32)
    } else {
        Err(Error::InvalidGraph(format!(
            "{} is not a node index",
            what()
        )))
    }
}

/// A graph for the GNN layers, validated once; what a layer derives from
/// it (self loops, normalisation, transpose) is cached, so pass the same
/// `Graph` to repeated calls. `db.graph()` returns one with `ids`.
#[napi(js_name = "Graph")]
pub struct JsGraph {
    inner: Arc<Graph>,
    ids: Option<Vec<Arc<str>>>,
}

impl JsGraph {
    pub fn from_snapshot(adjacency: Adjacency, ids: Vec<Arc<str>>) -> JsGraph {
        JsGraph {
            inner: Arc::new(Graph::new(adjacency)),
            ids: Some(ids),
        }
    }
}

#[napi]
impl JsGraph {
    /// From CSR arrays or one neighbour list per node (`ERR_INVALID_GRAPH`
    /// for out-of-range ids or inconsistent offsets).
    #[napi(constructor, ts_args_type = "adjacency: CsrGraph | number[][]")]
    pub fn new(adjacency: Either<CsrGraph, Vec<Vec<f64>>>) -> Result<Self, ErrorCode> {
        call(|| {
            let adjacency = match adjacency {
                Either::A(csr) => adjacency_from_csr(&csr.offsets, &csr.targets)?,
                Either::B(lists) => adjacency_from_lists(&lists)?,
            };
            Ok(JsGraph {
                inner: Arc::new(Graph::new(adjacency)),
                ids: None,
            })
        })
    }

    #[napi(getter)]
    pub fn num_nodes(&self) -> u32 {
        self.inner.num_nodes() as u32
    }

    #[napi(getter)]
    pub fn num_edges(&self) -> u32 {
        self.inner.adjacency().num_edges() as u32
    }

    /// The item id of each node, for a graph from `db.graph()`.
    #[napi(getter)]
    pub fn ids(&self) -> Option<Vec<String>> {
        self.ids
            .as_ref()
            .map(|ids| ids.iter().map(|id| id.to_string()).collect())
    }

    /// A copy of the CSR arrays.
    #[napi]
    pub fn csr(&self) -> CsrGraph {
        csr_of(self.inner.adjacency())
    }
}

fn csr_of(adjacency: &Adjacency) -> CsrGraph {
    let (offsets, sources) = adjacency.csr();
    CsrGraph {
        offsets: Uint32Array::new(offsets.iter().map(|&o| o as u32).collect()),
        targets: Uint32Array::new(sources.to_vec()),
    }
}

/// A GAT forward pass with its attention weights.
#[napi(object)]
pub struct AttentionOutput {
    pub output: Matrix,
    /// `(edges × heads)` row-major: the weight of edge `e` in head `h` is
    /// `attention[e * heads + h]`, edges in the order of `graph`.
    pub attention: Float32Array,
    pub heads: u32,
    /// The graph attended over: the input plus self loops (unless
    /// `selfLoops: false`).
    pub graph: CsrGraph,
}

pub struct AttentionResult {
    output: Array2<f32>,
    attention: Array2<f32>,
    graph: Arc<Graph>,
    self_loops: bool,
}

fn attention_output(result: AttentionResult) -> AttentionOutput {
    let heads = result.attention.ncols() as u32;
    AttentionOutput {
        output: Matrix::from_array(result.output),
        attention: Matrix::from_array(result.attention).data,
        heads,
        graph: csr_of(result.graph.attention_graph(result.self_loops)),
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    Gcn,
    Gat,
    Sage,
}

impl Kind {
    fn parse(name: &str) -> CoreResult<Kind> {
        match name {
            "gcn" => Ok(Kind::Gcn),
            "gat" => Ok(Kind::Gat),
            "sage" => Ok(Kind::Sage),
            other => Err(Error::invalid_argument(format!(
                "unknown layer kind {other:?}"
            ))),
        }
    }

    fn class(self) -> &'static str {
        match self {
            Kind::Gcn => "GCNLayer",
            Kind::Gat => "GATLayer",
            Kind::Sage => "GraphSAGE",
        }
    }

    /// Which class a stack from a weight file fits: one GCN or GAT block,
    /// or GraphSAGE blocks only (`None`: another stack built in Rust).
    fn of(stack: &GnnStack) -> Option<Kind> {
        match stack.blocks.as_slice() {
            [only] if matches!(only.layer, StackLayer::Gcn(_)) => Some(Kind::Gcn),
            [only] if matches!(only.layer, StackLayer::Gat(_)) => Some(Kind::Gat),
            blocks
                if blocks
                    .iter()
                    .all(|b| matches!(b.layer, StackLayer::Sage(_))) =>
            {
                Some(Kind::Sage)
            }
            _ => None,
        }
    }
}

/// The native class behind `GCNLayer`, `GATLayer` and `GraphSAGE`.
#[napi(js_name = "GnnModel")]
pub struct JsGnnModel {
    kind: Kind,
    stack: Arc<RwLock<Arc<GnnStack>>>,
}

type Shared = Arc<GnnStack>;

impl JsGnnModel {
    fn current(&self) -> Shared {
        self.stack.read().unwrap_or_else(|e| e.into_inner()).clone()
    }

    fn features(&self, features: Either<Float32Array, Matrix>) -> CoreResult<Features> {
        Features::new(features, self.current().input_dim())
    }

    fn require(&self, kind: Kind, method: &str) -> CoreResult<()> {
        if self.kind != kind {
            return Err(Error::invalid_argument(format!(
                "{method} is a {} method; this is a {}",
                kind.class(),
                self.kind.class()
            )));
        }
        Ok(())
    }
}

fn forward(stack: &GnnStack, features: &Features, graph: GraphInput) -> CoreResult<Array2<f32>> {
    let graph = graph.resolve()?;
    stack.forward(&graph, features.view())
}

fn forward_with_attention(
    stack: &GnnStack,
    features: &Features,
    graph: GraphInput,
) -> CoreResult<AttentionResult> {
    let graph = graph.resolve()?;
    let (output, mut attention) = stack.forward_with_attention(&graph, features.view())?;
    let self_loops = match &stack.blocks[0].layer {
        StackLayer::Gat(l) => l.self_loops,
        _ => return Err(Error::Internal("a GAT model without a GAT layer".into())),
    };
    let attention = attention
        .swap_remove(0)
        .ok_or_else(|| Error::Internal("no attention weights".into()))?;
    Ok(AttentionResult {
        output,
        attention,
        graph,
        self_loops,
    })
}

fn batch_nodes(nodes: Either<Uint32Array, Vec<f64>>) -> CoreResult<Vec<u32>> {
    match nodes {
        Either::A(nodes) => Ok(nodes.to_vec()),
        Either::B(nodes) => nodes
            .iter()
            .map(|&n| node_index(n, || format!("batch node {n}")))
            .collect(),
    }
}

fn forward_minibatch(
    stack: &GnnStack,
    features: &Features,
    graph: GraphInput,
    nodes: &[u32],
) -> CoreResult<Array2<f32>> {
    let graph = graph.resolve()?;
    stack.forward_minibatch(graph.adjacency(), features.view(), nodes)
}

fn weight_type(options: Option<SaveWeightsOptions>) -> CoreResult<WeightType> {
    WeightType::parse(
        options
            .and_then(|o| o.weight_type)
            .as_deref()
            .unwrap_or("f32"),
    )
}

fn load(kind: Kind, current: &GnnStack, path: &str) -> CoreResult<GnnStack> {
    let loaded = GnnStack::load(&PathBuf::from(path))?;
    let found = Kind::of(&loaded);
    if found != Some(kind) {
        return Err(Error::invalid_argument(format!(
            "{path} holds weights for {}, not for a {}",
            found.map_or("a stack of mixed GNN layers".to_string(), |k| format!(
                "a {}",
                k.class()
            )),
            kind.class()
        )));
    }
    if (loaded.input_dim(), loaded.output_dim()) != (current.input_dim(), current.output_dim()) {
        return Err(Error::ShapeMismatch(format!(
            "{path} maps {} → {} features; this layer maps {} → {}",
            loaded.input_dim(),
            loaded.output_dim(),
            current.input_dim(),
            current.output_dim()
        )));
    }
    Ok(loaded)
}

#[napi(object)]
pub struct SaveWeightsOptions {
    /// `'f32'` (default, exact), `'f16'` or `'int8'` (per-row scale).
    #[napi(ts_type = "'f32' | 'f16' | 'int8'")]
    pub weight_type: Option<String>,
}

#[napi]
impl JsGnnModel {
    #[napi(
        constructor,
        ts_args_type = "kind: 'gcn' | 'gat' | 'sage', options: object"
    )]
    pub fn new(kind: String, options: Value) -> Result<Self, ErrorCode> {
        call(|| {
            let kind = Kind::parse(&kind)?;
            let stack = build(kind, &options)?;
            Ok(JsGnnModel {
                kind,
                stack: Arc::new(RwLock::new(Arc::new(stack))),
            })
        })
    }

    #[napi(getter)]
    pub fn input_dim(&self) -> u32 {
        self.current().input_dim() as u32
    }

    #[napi(getter)]
    pub fn output_dim(&self) -> u32 {
        self.current().output_dim() as u32
    }

    /// The configuration, as saved with the weights.
    #[napi(getter)]
    pub fn config(&self) -> Value {
        self.current().config()
    }

    /// A copy of every parameter by name (`"0.weight"` is layer 0's
    /// `inputDim × outputDim` weight; vectors are one-row matrices).
    #[napi(ts_return_type = "Record<string, Matrix>")]
    pub fn weights(&self) -> std::collections::HashMap<String, Matrix> {
        self.current()
            .named_tensors()
            .into_iter()
            .map(|(name, view)| (name, Matrix::from_array(view.to_owned())))
            .collect()
    }

    /// Whether any weight matrix is read in place from a mapped file.
    #[napi(getter)]
    pub fn weights_mapped(&self) -> bool {
        self.current().blocks.iter().any(|b| match &b.layer {
            StackLayer::Gcn(l) => l.linear.weight.is_mapped(),
            StackLayer::Gat(l) => l.projection.weight.is_mapped(),
            StackLayer::Sage(l) => l.self_linear.weight.is_mapped(),
        })
    }

    #[napi(
        ts_args_type = "features: Float32Array | Matrix, graph: Graph | CsrGraph | number[][]",
        ts_return_type = "Promise<Matrix>"
    )]
    pub fn forward(
        &self,
        features: Either<Float32Array, Matrix>,
        graph: GraphArg<'_>,
    ) -> Result<AsyncTask<Job<Array2<f32>, Matrix>>, ErrorCode> {
        let features = call(|| self.features(features))?;
        let (stack, graph) = (self.current(), GraphInput::new(graph));
        Ok(Job::spawn(
            move || forward(&stack, &features, graph),
            Matrix::from_array,
        ))
    }

    #[napi(ts_args_type = "features: Float32Array | Matrix, graph: Graph | CsrGraph | number[][]")]
    pub fn forward_sync(
        &self,
        features: Either<Float32Array, Matrix>,
        graph: GraphArg<'_>,
    ) -> Result<Matrix, ErrorCode> {
        call(|| {
            let features = self.features(features)?;
            forward(&self.current(), &features, GraphInput::new(graph)).map(Matrix::from_array)
        })
    }

    #[napi(
        ts_args_type = "features: Float32Array | Matrix, graph: Graph | CsrGraph | number[][]",
        ts_return_type = "Promise<AttentionOutput>"
    )]
    pub fn forward_with_attention(
        &self,
        features: Either<Float32Array, Matrix>,
        graph: GraphArg<'_>,
    ) -> Result<AsyncTask<Job<AttentionResult, AttentionOutput>>, ErrorCode> {
        let features = call(|| {
            self.require(Kind::Gat, "forwardWithAttention")?;
            self.features(features)
        })?;
        let (stack, graph) = (self.current(), GraphInput::new(graph));
        Ok(Job::spawn(
            move || forward_with_attention(&stack, &features, graph),
            attention_output,
        ))
    }

    #[napi(ts_args_type = "features: Float32Array | Matrix, graph: Graph | CsrGraph | number[][]")]
    pub fn forward_with_attention_sync(
        &self,
        features: Either<Float32Array, Matrix>,
        graph: GraphArg<'_>,
    ) -> Result<AttentionOutput, ErrorCode> {
        call(|| {
            self.require(Kind::Gat, "forwardWithAttentionSync")?;
            let features = self.features(features)?;
            forward_with_attention(&self.current(), &features, GraphInput::new(graph))
                .map(attention_output)
        })
    }

    #[napi(
        ts_args_type = "features: Float32Array | Matrix, graph: Graph | CsrGraph | number[][], batch: Uint32Array | number[]",
        ts_return_type = "Promise<Matrix>"
    )]
    pub fn forward_minibatch(
        &self,
        features: Either<Float32Array, Matrix>,
        graph: GraphArg<'_>,
        batch: Either<Uint32Array, Vec<f64>>,
    ) -> Result<AsyncTask<Job<Array2<f32>, Matrix>>, ErrorCode> {
        let (features, nodes) = call(|| {
            self.require(Kind::Sage, "forwardMinibatch")?;
            Ok((self.features(features)?, batch_nodes(batch)?))
        })?;
        let (stack, graph) = (self.current(), GraphInput::new(graph));
        Ok(Job::spawn(
            move || forward_minibatch(&stack, &features, graph, &nodes),
            Matrix::from_array,
        ))
    }

    #[napi(
        ts_args_type = "features: Float32Array | Matrix, graph: Graph | CsrGraph | number[][], batch: Uint32Array | number[]"
    )]
    pub fn forward_minibatch_sync(
        &self,
        features: Either<Float32Array, Matrix>,
        graph: GraphArg<'_>,
        batch: Either<Uint32Array, Vec<f64>>,
    ) -> Result<Matrix, ErrorCode> {
        call(|| {
            self.require(Kind::Sage, "forwardMinibatchSync")?;
            let (features, nodes) = (self.features(features)?, batch_nodes(batch)?);
            forward_minibatch(&self.current(), &features, GraphInput::new(graph), &nodes)
                .map(Matrix::from_array)
        })
    }

    #[napi(ts_return_type = "Promise<void>")]
    pub fn save_weights(
        &self,
        path: String,
        options: Option<SaveWeightsOptions>,
    ) -> Result<AsyncTask<Job<(), ()>>, ErrorCode> {
        let weight_type = call(|| weight_type(options))?;
        let stack = self.current();
        Ok(Job::spawn(
            move || stack.save(&PathBuf::from(path), weight_type).map(|_| ()),
            |()| (),
        ))
    }

    #[napi]
    pub fn save_weights_sync(
        &self,
        path: String,
        options: Option<SaveWeightsOptions>,
    ) -> Result<(), ErrorCode> {
        call(|| {
            self.current()
                .save(&PathBuf::from(path), weight_type(options)?)
                .map(|_| ())
        })
    }

    #[napi(ts_return_type = "Promise<void>")]
    pub fn load_weights(&self, path: String) -> AsyncTask<Job<(), ()>> {
        let (kind, slot) = (self.kind, self.stack.clone());
        Job::spawn(
            move || {
                let current = slot.read().unwrap_or_else(|e| e.into_inner()).clone();
                let loaded = load(kind, &current, &path)?;
                *slot.write().unwrap_or_else(|e| e.into_inner()) = Arc::new(loaded);
                Ok(())
            },
            |()| (),
        )
    }

    #[napi]
    pub fn load_weights_sync(&self, path: String) -> Result<(), ErrorCode> {
        call(|| {
            let loaded = load(self.kind, &self.current(), &path)?;
            *self.stack.write().unwrap_or_else(|e| e.into_inner()) = Arc::new(loaded);
            Ok(())
        })
    }
}

/// The message-passing engine on its own: row `i` of the result reduces
/// the features of node `i`'s neighbours with `'sum'`, `'mean'` or `'max'`
/// (zeros for a node without neighbours). A bare `Float32Array` holds one
/// row per node.
#[napi(
    ts_args_type = "features: Float32Array | Matrix, graph: Graph | CsrGraph | number[][], aggregation: 'sum' | 'mean' | 'max'",
    ts_return_type = "Promise<Matrix>"
)]
pub fn aggregate(
    features: Either<Float32Array, Matrix>,
    graph: GraphArg<'_>,
    aggregation: String,
) -> Result<AsyncTask<Job<Array2<f32>, Matrix>>, ErrorCode> {
    let (graph, features, aggregation) =
        call(|| aggregate_arguments(features, graph, &aggregation))?;
    Ok(Job::spawn(
        move || Ok(crate::gnn::aggregate(graph.adjacency(), features.view(), aggregation)?.output),
        Matrix::from_array,
    ))
}

#[napi(
    ts_args_type = "features: Float32Array | Matrix, graph: Graph | CsrGraph | number[][], aggregation: 'sum' | 'mean' | 'max'"
)]
pub fn aggregate_sync(
    features: Either<Float32Array, Matrix>,
    graph: GraphArg<'_>,
    aggregation: String,
) -> Result<Matrix, ErrorCode> {
    call(|| {
        let (graph, features, aggregation) = aggregate_arguments(features, graph, &aggregation)?;
        let aggregated = crate::gnn::aggregate(graph.adjacency(), features.view(), aggregation)?;
        Ok(Matrix::from_array(aggregated.output))
    })
}

fn aggregate_arguments(
    features: Either<Float32Array, Matrix>,
    graph: GraphArg<'_>,
    aggregation: &str,
) -> CoreResult<(Arc<Graph>, Features, crate::gnn::Aggregation)> {
    let aggregation = crate::gnn::Aggregation::parse(aggregation)?;
    let graph = GraphInput::new(graph).resolve()?;
    let nodes = graph.num_nodes();
    let cols = match &features {
        Either::A(data) if nodes > 0 => data.len() / nodes,
        Either::A(_) => 1,
        Either::B(m) => m.cols as usize,
    };
    let features = Features::new(features, cols.max(1))?;
    Ok((graph, features, aggregation))
}

/// `a · b` for row-major `m × k` and `k × n` matrices, with the kernel the
/// layers use: the benchmark's dense reference.
#[doc(hidden)]
#[napi(js_name = "_sgemm", skip_typescript)]
pub fn sgemm(
    a: Float32Array,
    b: Float32Array,
    m: u32,
    k: u32,
    n: u32,
) -> Result<Float32Array, ErrorCode> {
    call(|| {
        let (m, k, n) = (m as usize, k as usize, n as usize);
        let a = ArrayView2::from_shape((m, k), &a[..])
            .map_err(|e| Error::ShapeMismatch(e.to_string()))?;
        let b = ArrayView2::from_shape((k, n), &b[..])
            .map_err(|e| Error::ShapeMismatch(e.to_string()))?;
        Ok(Matrix::from_array(crate::gnn::tensor::matmul(a, b)).data)
    })
}

// ---- Options ------------------------------------------------------------

/// Reads a plain options object, refusing keys the layer does not know (a
/// typo should not silently fall back to a default).
struct Options<'a> {
    map: &'a Map<String, Value>,
    class: &'static str,
}

impl<'a> Options<'a> {
    fn new(value: &'a Value, class: &'static str, known: &[&str]) -> CoreResult<Options<'a>> {
        let map = value
            .as_object()
            .ok_or_else(|| Error::invalid_argument(format!("{class} needs an options object")))?;
        if let Some(unknown) = map.keys().find(|k| !known.contains(&k.as_str())) {
            return Err(Error::invalid_argument(format!(
                "{class} has no option {unknown:?}; it takes {}",
                known.join(", ")
            )));
        }
        Ok(Options { map, class })
    }

    fn get(&self, key: &str) -> Option<&'a Value> {
        self.map.get(key).filter(|v| !v.is_null())
    }

    fn bad(&self, key: &str, what: &str) -> Error {
        Error::invalid_argument(format!(
            "{}: {key} must be {what}, got {}",
            self.class,
            self.map.get(key).unwrap_or(&Value::Null)
        ))
    }

    fn count(&self, key: &str, default: Option<usize>) -> CoreResult<usize> {
        match self.get(key) {
            None => default.ok_or_else(|| self.bad(key, "a positive integer (required)")),
            Some(v) => v
                .as_u64()
                .filter(|&n| (1..=1 << 24).contains(&n))
                .map(|n| n as usize)
                .ok_or_else(|| self.bad(key, "a positive integer")),
        }
    }

    fn flag(&self, key: &str, default: bool) -> CoreResult<bool> {
        match self.get(key) {
            None => Ok(default),
            Some(v) => v.as_bool().ok_or_else(|| self.bad(key, "a boolean")),
        }
    }

    fn number(&self, key: &str, default: f64) -> CoreResult<f64> {
        match self.get(key) {
            None => Ok(default),
            Some(v) => v
                .as_f64()
                .filter(|x| x.is_finite())
                .ok_or_else(|| self.bad(key, "a finite number")),
        }
    }

    fn text(&self, key: &str, default: &'a str) -> CoreResult<&'a str> {
        match self.get(key) {
            None => Ok(default),
            Some(v) => v.as_str().ok_or_else(|| self.bad(key, "a string")),
        }
    }

    fn activation(&self, default: &str) -> CoreResult<Activation> {
        Activation::parse(self.text("activation", default)?)
    }

    fn block(&self) -> CoreResult<BlockOptions> {
        Ok(BlockOptions {
            residual: self.flag("residual", false)?,
            layer_norm: self.flag("layerNorm", false)?,
            dropout: self.number("dropout", 0.0)? as f32,
        })
    }

    fn seed(&self) -> CoreResult<u64> {
        match self.get("seed") {
            None => Ok(crate::rng::SplitMix64::from_entropy().next_u64()),
            Some(v) => v
                .as_u64()
                .filter(|&s| s < 1 << 53)
                .ok_or_else(|| self.bad("seed", "a non-negative integer")),
        }
    }
}

const COMMON: [&str; 7] = [
    "inputDim",
    "outputDim",
    "activation",
    "residual",
    "layerNorm",
    "seed",
    "dropout",
];

fn build(kind: Kind, value: &Value) -> CoreResult<GnnStack> {
    let class = kind.class();
    let known = |extra: &[&'static str]| -> Vec<&'static str> {
        COMMON.iter().chain(extra).copied().collect()
    };
    match kind {
        Kind::Gcn => {
            let o = Options::new(value, class, &known(&["selfLoops"]))?;
            GnnStack::gcn(&GcnOptions {
                input_dim: o.count("inputDim", None)?,
                output_dim: o.count("outputDim", None)?,
                activation: o.activation("relu")?,
                self_loops: o.flag("selfLoops", true)?,
                block: o.block()?,
                seed: o.seed()?,
            })
        }
        Kind::Gat => {
            let o = Options::new(
                value,
                class,
                &known(&["numHeads", "concatHeads", "leakyReluSlope", "selfLoops"]),
            )?;
            GnnStack::gat(&GatOptions {
                input_dim: o.count("inputDim", None)?,
                output_dim: o.count("outputDim", None)?,
                heads: o.count("numHeads", Some(1))?,
                concat_heads: o.flag("concatHeads", true)?,
                negative_slope: o.number("leakyReluSlope", 0.2)? as f32,
                activation: o.activation("none")?,
                self_loops: o.flag("selfLoops", true)?,
                block: o.block()?,
                seed: o.seed()?,
            })
        }
        Kind::Sage => {
            let o = Options::new(
                value,
                class,
                &known(&[
                    "hiddenDim",
                    "numLayers",
                    "aggregator",
                    "sampleSizes",
                    "normalize",
                ]),
            )?;
            let input_dim = o.count("inputDim", None)?;
            let sample_sizes = match o.get("sampleSizes") {
                None => Vec::new(),
                Some(Value::Array(sizes)) => sizes
                    .iter()
                    .map(|s| {
                        s.as_u64()
                            .filter(|&n| n >= 1)
                            .map(|n| n as usize)
                            .ok_or_else(|| o.bad("sampleSizes", "an array of positive integers"))
                    })
                    .collect::<CoreResult<_>>()?,
                Some(_) => return Err(o.bad("sampleSizes", "an array of positive integers")),
            };
            GnnStack::graph_sage(&SageOptions {
                input_dim,
                hidden_dim: o.count("hiddenDim", Some(input_dim))?,
                output_dim: o.count("outputDim", None)?,
                num_layers: o.count("numLayers", Some(2))?,
                aggregator: o.text("aggregator", "mean")?.to_string(),
                sample_sizes,
                normalize: o.flag("normalize", false)?,
                activation: o.activation("relu")?,
                block: o.block()?,
                seed: o.seed()?,
            })
        }
    }
}
