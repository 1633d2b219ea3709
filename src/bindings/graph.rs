//! The `Graph` class, and the message-passing engine on its own
//! (`aggregate`).

use super::convert::{self, CsrGraph, Features, FeaturesArg, GraphArg, GraphInput, Matrix};
use super::error::{call, ErrorCode};
use super::task::Job;
use crate::gnn::gather::{HalfMatrix, RowPrecision};
use crate::gnn::{Aggregation, Graph};
use crate::Result as CoreResult;
use napi::bindgen_prelude::*;
use napi_derive::napi;
use ndarray::Array2;
use std::sync::Arc;

/// A graph for the GNN layers, validated once; what a layer derives from
/// it (self loops, normalisation, transpose) is cached across calls.
#[napi(js_name = "Graph")]
pub struct JsGraph {
    inner: Arc<Graph>,
}

impl JsGraph {
    pub fn from_graph(graph: Graph) -> JsGraph {
        JsGraph {
            inner: Arc::new(graph),
        }
    }

    pub fn shared(&self) -> Arc<Graph> {
        self.inner.clone()
    }
}

#[napi]
impl JsGraph {
    #[napi(constructor)]
    pub fn new(
        adjacency: Either<CsrGraph, Vec<Vec<f64>>>,
        options: Option<serde_json::Value>,
    ) -> Result<Self, ErrorCode> {
        call(|| {
            let precision = RowPrecision::from_options(options.as_ref())?;
            let adjacency = match adjacency {
                Either::A(csr) => convert::adjacency_from_csr(&csr.offsets, &csr.targets)?,
                Either::B(lists) => convert::adjacency_from_lists(&lists)?,
            };
            Ok(JsGraph::from_graph(Graph::with_precision(
                adjacency, precision,
            )))
        })
    }

    /// `'f32'` or `'f16'`: how layers store the rows they gather on it.
    #[napi(getter)]
    pub fn precision(&self) -> &'static str {
        self.inner.precision().name()
    }

    #[napi(getter)]
    pub fn num_nodes(&self) -> u32 {
        self.inner.num_nodes() as u32
    }

    #[napi(getter)]
    pub fn num_edges(&self) -> u32 {
        self.inner.adjacency().num_edges() as u32
    }

    #[napi]
    pub fn csr(&self) -> CsrGraph {
        convert::csr_of(self.inner.adjacency())
    }
}

#[napi]
pub fn aggregate(
    features: FeaturesArg,
    graph: GraphArg<'_>,
    aggregation: String,
) -> Result<AsyncTask<Job<Array2<f32>, Matrix>>, ErrorCode> {
    let (graph, features, aggregation) = call(|| arguments(features, graph, &aggregation))?;
    Ok(Job::spawn(
        move || {
            crate::gnn::check_finite(features.view(), None)?;
            Ok(
                crate::gnn::aggregate(graph.resolve()?.adjacency(), features.view(), aggregation)?
                    .output,
            )
        },
        Matrix::from_array,
    ))
}

#[napi]
pub fn aggregate_sync(
    features: FeaturesArg,
    graph: GraphArg<'_>,
    aggregation: String,
) -> Result<Matrix, ErrorCode> {
    call(|| {
        let (graph, features, aggregation) = arguments(features, graph, &aggregation)?;
        crate::gnn::check_finite(features.view(), None)?;
        let aggregated =
            crate::gnn::aggregate(graph.resolve()?.adjacency(), features.view(), aggregation)?;
        Ok(Matrix::from_array(aggregated.output))
    })
}

/// Node features rounded once to half precision, for repeated aggregations
/// that gather half the bytes.
#[napi(js_name = "HalfFeatures")]
pub struct JsHalfFeatures {
    inner: Arc<HalfMatrix>,
}

#[napi]
impl JsHalfFeatures {
    #[napi(constructor)]
    pub fn new(features: Matrix) -> Result<Self, ErrorCode> {
        call(|| {
            let cols = features.cols as usize;
            let features = Features::new(Either::B(features), cols.max(1))?;
            Ok(JsHalfFeatures {
                inner: Arc::new(HalfMatrix::new(features.view())?),
            })
        })
    }

    #[napi(getter)]
    pub fn rows(&self) -> u32 {
        self.inner.rows() as u32
    }

    #[napi(getter)]
    pub fn cols(&self) -> u32 {
        self.inner.cols() as u32
    }

    /// The values widened back to `f32`.
    #[napi]
    pub fn to_matrix(&self) -> Matrix {
        Matrix::from_array(self.inner.to_f32())
    }
}

#[napi]
pub fn aggregate_half(
    features: &JsHalfFeatures,
    graph: GraphArg<'_>,
    aggregation: String,
) -> Result<AsyncTask<Job<Array2<f32>, Matrix>>, ErrorCode> {
    let features = features.inner.clone();
    let (graph, aggregation) =
        call(|| Ok((GraphInput::new(graph), Aggregation::parse(&aggregation)?)))?;
    Ok(Job::spawn(
        move || {
            crate::gnn::propagate::aggregate_half(
                graph.resolve()?.adjacency(),
                &features,
                aggregation,
            )
        },
        Matrix::from_array,
    ))
}

#[napi]
pub fn aggregate_half_sync(
    features: &JsHalfFeatures,
    graph: GraphArg<'_>,
    aggregation: String,
) -> Result<Matrix, ErrorCode> {
    call(|| {
        let aggregation = Aggregation::parse(&aggregation)?;
        let graph = GraphInput::new(graph);
        let output = crate::gnn::propagate::aggregate_half(
            graph.resolve()?.adjacency(),
            &features.inner,
            aggregation,
        )?;
        Ok(Matrix::from_array(output))
    })
}

/// A bare `Float32Array` of features holds one row per node of the graph,
/// so its width comes from the graph's node count.
fn arguments(
    features: FeaturesArg,
    graph: GraphArg<'_>,
    aggregation: &str,
) -> CoreResult<(GraphInput, Features, Aggregation)> {
    let aggregation = Aggregation::parse(aggregation)?;
    let graph = GraphInput::new(graph);
    let rows = match &graph {
        GraphInput::Shared(g) => g.num_nodes(),
        GraphInput::Csr(offsets, _) => offsets.len().saturating_sub(1),
        GraphInput::Lists(lists) => lists.len(),
    };
    let cols = match &features {
        Either::A(data) if rows > 0 => data.len() / rows,
        Either::A(_) => 1,
        Either::B(m) => m.cols as usize,
    };
    let features = Features::new(features, cols.max(1))?;
    Ok((graph, features, aggregation))
}
