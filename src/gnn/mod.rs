//! Graph neural network layers that run directly on the HNSW graph (or any
//! CSR adjacency), on `ndarray` `f32` matrices.
//!
//! Everything is built on one message-passing engine ([`propagate`]): a
//! layer says only what differs — GCN its normalisation, GAT its attention
//! weights, GraphSAGE its concatenation of self and neighbours — and keeps
//! its backward pass next to its forward pass.
//!
//! | file | holds |
//! |---|---|
//! | `adjacency.rs` | `Adjacency`: CSR rows, weights, self loops, transpose |
//! | `sample.rs` | neighbour sampling and minibatch blocks |
//! | `propagate.rs` | the engine: `aggregate` (sum, mean, max) forward and backward |
//! | `tensor.rs` | `Matrix` (owned or mapped, with its packed copy), `Linear`, activations |
//! | `buffers.rs` | large output buffers kept for reuse (fresh pages fault on first write) |
//! | `gather/` | the gather of message passing per instruction set, from `f32` or `f16` rows |
//! | `dense/` | the dense products: register-tiled SGEMM kernels per instruction set, packed weights |
//! | `gcn.rs`, `gat.rs`, `sage.rs`, `lstm.rs` | the layers, forward and backward side by side |
//! | `norm.rs` | layer normalisation and dropout |
//! | `loss.rs`, `optim.rs` | losses (BPR, cross-entropy, MSE) and optimisers (SGD, AdamW) |
//! | `stack.rs` | `GnnStack`: blocks chained with residuals, norms and dropout; `Graph` with cached derived forms |
//! | `training.rs` | a full-batch node-classification step (forward, cross-entropy, backward, AdamW); the training benchmark's models |
//! | `options.rs` | every layer's and model's options: defaults, limits, parsing |
//! | `model.rs` | blocks built from options; `Model`, the stacks the JS classes expose |
//! | `checkpoint.rs` | a stack's configuration and named tensors, saved and loaded |
//! | `weights.rs` | the model file: tensors as `f32`, `f16` or `int8` on the section container |
//! | `quantize.rs` | half precision and per-row `int8` encodings |

pub mod adjacency;
pub mod buffers;
pub mod checkpoint;
pub mod dense;
pub mod gat;
pub mod gather;
pub mod gcn;
#[cfg(test)]
mod gradcheck;
pub mod loss;
pub mod lstm;
pub mod model;
pub mod norm;
pub mod optim;
pub mod options;
pub mod propagate;
pub mod quantize;
#[cfg(test)]
mod reference;
pub mod sage;
pub mod sample;
pub mod stack;
pub mod tensor;
pub mod training;
pub mod weights;

pub use adjacency::Adjacency;
pub use gat::{Gat, GatCache, GatGradients};
pub use gcn::{Gcn, GcnCache, GcnGraph};
pub use lstm::{LstmAggregator, LstmCache, LstmGradients};
pub use model::{AttentionPass, Model, ModelKind};
pub use norm::{Dropout, LayerNorm, LayerNormCache, LayerNormGradients};
pub use optim::{Adam, Optimizer, Sgd};
pub use options::{BlockOptions, GatOptions, GcnOptions, SageLayerOptions, SageOptions};
pub use propagate::{aggregate, aggregate_backward, weighted_sum, Aggregated, Aggregation};
pub use sage::{NeighborAggregator, Sage, SageAggregator, SageCache, SageGradients};
pub use sample::Minibatch;
pub use stack::check_finite;
pub use stack::{
    BlockGradients, GnnStack, Graph, LayerGradients, StackBlock, StackCache, StackGradients,
    StackLayer,
};
pub use tensor::{Activation, Linear, LinearGradients, Matrix};
pub use weights::{save_weights, WeightFile, WeightType};

use crate::error::Result;
use ndarray::{Array2, ArrayView2};

/// What every layer offers: a training forward pass that keeps what its
/// backward pass needs, and inference on top of it.
pub trait Layer {
    /// The form of the graph the layer propagates over.
    type Graph;
    /// What the forward pass keeps for the backward pass.
    type Cache;

    /// The training forward pass over `features` the layer may keep: the
    /// cache holds the input itself, not a copy of it (a stack hands each
    /// block's output to the next block this way).
    fn forward_train_owned(
        &self,
        graph: &Self::Graph,
        features: Array2<f32>,
    ) -> Result<(Array2<f32>, Self::Cache)>;

    /// [`Layer::forward_train_owned`] on a copy of borrowed features.
    fn forward_train(
        &self,
        graph: &Self::Graph,
        features: ArrayView2<'_, f32>,
    ) -> Result<(Array2<f32>, Self::Cache)> {
        self.forward_train_owned(graph, buffers::copy_of(features))
    }

    fn forward(&self, graph: &Self::Graph, features: ArrayView2<'_, f32>) -> Result<Array2<f32>> {
        Ok(self.forward_train(graph, features)?.0)
    }
}

#[cfg(test)]
mod engine_tests;
#[cfg(test)]
mod stack_tests;
#[cfg(test)]
mod tests;
