//! Graph neural network layers that run directly on the HNSW graph (or any
//! CSR adjacency), on `ndarray` `f32` matrices.
//!
//! Everything is built on one message-passing engine ([`propagate`]): a
//! layer says only what differs — GCN its normalisation, GAT its attention
//! weights, GraphSAGE its concatenation of self and neighbours — and keeps
//! its backward pass next to its forward pass.

pub mod gat;
pub mod gcn;
#[cfg(test)]
mod gradcheck;
pub mod loss;
pub mod lstm;
pub mod model;
pub mod norm;
pub mod optim;
pub mod order;
pub mod propagate;
pub mod quantize;
pub mod sage;
pub mod stack;
pub mod tensor;
pub mod weights;

pub use gat::{Gat, GatCache, GatGradients};
pub use gcn::{Gcn, GcnCache, GcnGraph};
pub use lstm::{LstmAggregator, LstmCache, LstmGradients};
pub use model::{BlockOptions, GatOptions, GcnOptions, SageOptions};
pub use norm::{Dropout, LayerNorm, LayerNormCache, LayerNormGradients};
pub use optim::{Adam, Optimizer, Sgd};
pub use propagate::{
    aggregate, aggregate_backward, weighted_sum, Adjacency, Aggregated, Aggregation, Minibatch,
};
pub use sage::{NeighborAggregator, Sage, SageCache, SageGradients};
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

    fn forward_train(
        &self,
        graph: &Self::Graph,
        features: ArrayView2<'_, f32>,
    ) -> Result<(Array2<f32>, Self::Cache)>;

    fn forward(&self, graph: &Self::Graph, features: ArrayView2<'_, f32>) -> Result<Array2<f32>> {
        Ok(self.forward_train(graph, features)?.0)
    }
}

#[cfg(test)]
mod tests;
