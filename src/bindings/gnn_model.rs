//! The `GnnModel` class: the native side of `GCNLayer`, `GATLayer` and
//! `GraphSAGE` (index.js wraps it); `crate::gnn::Model` does the work.

use super::convert::{self, CsrGraph, Features, FeaturesArg, GraphArg, GraphInput, Matrix};
use super::error::{call, ErrorCode};
use super::task::Job;
use crate::gnn::{AttentionPass, Model, ModelKind, WeightType};
use crate::Result as CoreResult;
use napi::bindgen_prelude::*;
use napi_derive::napi;
use ndarray::Array2;
use serde_json::Value;
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, RwLock};

/// A GAT forward pass with its attention weights.
#[napi(object)]
pub struct AttentionOutput {
    pub output: Matrix,
    /// `(edges × heads)` row-major.
    pub attention: Float32Array,
    pub heads: u32,
    /// The graph attended over.
    pub graph: CsrGraph,
}

fn attention_output(pass: AttentionPass) -> AttentionOutput {
    AttentionOutput {
        heads: pass.attention.ncols() as u32,
        output: Matrix::from_array(pass.output),
        attention: Matrix::from_array(pass.attention).data,
        graph: convert::csr_of(&pass.graph),
    }
}

/// The model behind one layer object; `loadWeights` swaps it.
#[napi(js_name = "GnnModel")]
pub struct JsGnnModel {
    model: Arc<RwLock<Arc<Model>>>,
}

impl JsGnnModel {
    fn current(&self) -> Arc<Model> {
        self.model.read().unwrap_or_else(|e| e.into_inner()).clone()
    }

    fn features(&self, features: FeaturesArg) -> CoreResult<Features> {
        Features::new(features, self.current().stack().input_dim())
    }
}

#[napi]
impl JsGnnModel {
    #[napi(constructor)]
    pub fn new(kind: String, options: Option<Value>) -> Result<Self, ErrorCode> {
        call(|| {
            let model =
                Model::from_options(ModelKind::parse(&kind)?, &options.unwrap_or(Value::Null))?;
            Ok(JsGnnModel {
                model: Arc::new(RwLock::new(Arc::new(model))),
            })
        })
    }

    #[napi(getter)]
    pub fn input_dim(&self) -> u32 {
        self.current().stack().input_dim() as u32
    }

    #[napi(getter)]
    pub fn output_dim(&self) -> u32 {
        self.current().stack().output_dim() as u32
    }

    #[napi(getter)]
    pub fn config(&self) -> Value {
        self.current().stack().config()
    }

    #[napi]
    pub fn weights(&self) -> HashMap<String, Matrix> {
        self.current()
            .stack()
            .named_tensors()
            .into_iter()
            .map(|(name, view)| (name, Matrix::from_array(view.to_owned())))
            .collect()
    }

    #[napi(getter)]
    pub fn weights_mapped(&self) -> bool {
        self.current().weights_mapped()
    }

    #[napi]
    pub fn forward(
        &self,
        features: FeaturesArg,
        graph: GraphArg<'_>,
    ) -> Result<AsyncTask<Job<Array2<f32>, Matrix>>, ErrorCode> {
        let features = call(|| self.features(features))?;
        let (model, graph) = (self.current(), GraphInput::new(graph));
        Ok(Job::spawn(
            move || model.forward(&*graph.resolve()?, features.view()),
            Matrix::from_array,
        ))
    }

    #[napi]
    pub fn forward_sync(
        &self,
        features: FeaturesArg,
        graph: GraphArg<'_>,
    ) -> Result<Matrix, ErrorCode> {
        call(|| {
            let features = self.features(features)?;
            let graph = GraphInput::new(graph).resolve()?;
            self.current()
                .forward(&graph, features.view())
                .map(Matrix::from_array)
        })
    }

    #[napi]
    pub fn forward_with_attention(
        &self,
        features: FeaturesArg,
        graph: GraphArg<'_>,
    ) -> Result<AsyncTask<Job<AttentionPass, AttentionOutput>>, ErrorCode> {
        let features = call(|| {
            self.current()
                .require(ModelKind::Gat, "forwardWithAttention")?;
            self.features(features)
        })?;
        let (model, graph) = (self.current(), GraphInput::new(graph));
        Ok(Job::spawn(
            move || model.forward_with_attention(&*graph.resolve()?, features.view()),
            attention_output,
        ))
    }

    #[napi]
    pub fn forward_with_attention_sync(
        &self,
        features: FeaturesArg,
        graph: GraphArg<'_>,
    ) -> Result<AttentionOutput, ErrorCode> {
        call(|| {
            self.current()
                .require(ModelKind::Gat, "forwardWithAttentionSync")?;
            let features = self.features(features)?;
            let graph = GraphInput::new(graph).resolve()?;
            self.current()
                .forward_with_attention(&graph, features.view())
                .map(attention_output)
        })
    }

    #[napi]
    pub fn forward_minibatch(
        &self,
        features: FeaturesArg,
        graph: GraphArg<'_>,
        batch: Either<Uint32Array, Vec<f64>>,
    ) -> Result<AsyncTask<Job<Array2<f32>, Matrix>>, ErrorCode> {
        let (features, nodes) = call(|| {
            self.current()
                .require(ModelKind::Sage, "forwardMinibatch")?;
            Ok((self.features(features)?, convert::node_indices(batch)?))
        })?;
        let (model, graph) = (self.current(), GraphInput::new(graph));
        Ok(Job::spawn(
            move || model.forward_minibatch(&*graph.resolve()?, features.view(), &nodes),
            Matrix::from_array,
        ))
    }

    #[napi]
    pub fn forward_minibatch_sync(
        &self,
        features: FeaturesArg,
        graph: GraphArg<'_>,
        batch: Either<Uint32Array, Vec<f64>>,
    ) -> Result<Matrix, ErrorCode> {
        call(|| {
            self.current()
                .require(ModelKind::Sage, "forwardMinibatchSync")?;
            let (features, nodes) = (self.features(features)?, convert::node_indices(batch)?);
            let graph = GraphInput::new(graph).resolve()?;
            self.current()
                .forward_minibatch(&graph, features.view(), &nodes)
                .map(Matrix::from_array)
        })
    }

    #[napi]
    pub fn save_weights(
        &self,
        path: String,
        options: Option<Value>,
    ) -> Result<AsyncTask<Job<(), ()>>, ErrorCode> {
        let weight_type = call(|| WeightType::from_options(options.as_ref()))?;
        let model = self.current();
        Ok(Job::spawn(
            move || {
                model
                    .save_weights(&PathBuf::from(path), weight_type)
                    .map(|_| ())
            },
            |()| (),
        ))
    }

    #[napi]
    pub fn save_weights_sync(&self, path: String, options: Option<Value>) -> Result<(), ErrorCode> {
        call(|| {
            let weight_type = WeightType::from_options(options.as_ref())?;
            self.current()
                .save_weights(&PathBuf::from(path), weight_type)
                .map(|_| ())
        })
    }

    #[napi]
    pub fn load_weights(&self, path: String) -> AsyncTask<Job<(), ()>> {
        let slot = self.model.clone();
        Job::spawn(
            move || {
                let current = slot.read().unwrap_or_else(|e| e.into_inner()).clone();
                let loaded = current.load_weights(&PathBuf::from(path))?;
                *slot.write().unwrap_or_else(|e| e.into_inner()) = Arc::new(loaded);
                Ok(())
            },
            |()| (),
        )
    }

    #[napi]
    pub fn load_weights_sync(&self, path: String) -> Result<(), ErrorCode> {
        call(|| {
            let loaded = self.current().load_weights(&PathBuf::from(path))?;
            *self.model.write().unwrap_or_else(|e| e.into_inner()) = Arc::new(loaded);
            Ok(())
        })
    }
}
