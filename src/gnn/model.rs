//! Ready-made stacks with the shapes the JS classes expose: one GCN layer,
//! one multi-head GAT layer, and a GraphSAGE model of several layers.

use super::gat::Gat;
use super::gcn::Gcn;
use super::norm::{Dropout, LayerNorm};
use super::sage::Sage;
use super::stack::{GnnStack, StackBlock, StackLayer};
use super::tensor::Activation;
use crate::error::{Error, Result};

/// Bounds that keep a mistyped option from building a model that cannot fit.
pub const MAX_LAYERS: usize = 64;
pub const MAX_HEADS: usize = 256;

/// What surrounds every layer of a model.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct BlockOptions {
    pub residual: bool,
    pub layer_norm: bool,
    /// Training-only dropout rate on each layer's output.
    pub dropout: f32,
}

impl Default for BlockOptions {
    fn default() -> Self {
        BlockOptions {
            residual: false,
            layer_norm: false,
            dropout: 0.0,
        }
    }
}

impl BlockOptions {
    fn wrap(&self, layer: StackLayer, seed: u64) -> Result<StackBlock> {
        let width = layer.output_dim();
        let mut block = StackBlock::new(layer);
        block.residual = self.residual;
        block.norm = self.layer_norm.then(|| LayerNorm::new(width));
        if self.dropout > 0.0 {
            block.dropout = Some(Dropout::new(self.dropout, seed)?);
        }
        Ok(block)
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct GcnOptions {
    pub input_dim: usize,
    pub output_dim: usize,
    pub activation: Activation,
    pub self_loops: bool,
    pub block: BlockOptions,
    pub seed: u64,
}

#[derive(Clone, Debug, PartialEq)]
pub struct GatOptions {
    pub input_dim: usize,
    /// The layer's output width: `heads × head width` when concatenating,
    /// the head width when averaging.
    pub output_dim: usize,
    pub heads: usize,
    pub concat_heads: bool,
    pub negative_slope: f32,
    pub activation: Activation,
    pub self_loops: bool,
    pub block: BlockOptions,
    pub seed: u64,
}

#[derive(Clone, Debug, PartialEq)]
pub struct SageOptions {
    pub input_dim: usize,
    /// Width between layers.
    pub hidden_dim: usize,
    pub output_dim: usize,
    pub num_layers: usize,
    /// `'mean' | 'sum' | 'max' | 'lstm'`.
    pub aggregator: String,
    /// Neighbours sampled per hop from the targets outwards (`[10, 5]`: 10
    /// of each target's neighbours, then 5 of each of theirs), as in PyG's
    /// `NeighborLoader`; empty for every neighbour.
    pub sample_sizes: Vec<usize>,
    pub normalize: bool,
    /// Between layers; the last layer has none.
    pub activation: Activation,
    pub block: BlockOptions,
    pub seed: u64,
}

impl GnnStack {
    pub fn gcn(options: &GcnOptions) -> Result<GnnStack> {
        let mut layer = Gcn::new(
            options.input_dim,
            options.output_dim,
            options.activation,
            options.seed,
        )?;
        layer.self_loops = options.self_loops;
        let block = options.block.wrap(StackLayer::Gcn(layer), options.seed)?;
        GnnStack::new(vec![block], options.seed)
    }

    pub fn gat(options: &GatOptions) -> Result<GnnStack> {
        let heads = options.heads;
        if heads == 0 || heads > MAX_HEADS {
            return Err(Error::invalid_argument(format!(
                "numHeads must be 1 to {MAX_HEADS}, got {heads}"
            )));
        }
        let head_dim = if options.concat_heads {
            if !options.output_dim.is_multiple_of(heads) {
                return Err(Error::invalid_argument(format!(
                    "outputDim {} is not divisible by numHeads {heads}; concatenated heads split the output evenly",
                    options.output_dim
                )));
            }
            options.output_dim / heads
        } else {
            options.output_dim
        };
        if !(options.negative_slope.is_finite() && options.negative_slope >= 0.0) {
            return Err(Error::invalid_argument(format!(
                "leakyReluSlope must be a finite number ≥ 0, got {}",
                options.negative_slope
            )));
        }
        let mut layer = Gat::new(
            options.input_dim,
            head_dim,
            heads,
            options.concat_heads,
            options.activation,
            options.seed,
        )?;
        layer.negative_slope = options.negative_slope;
        layer.self_loops = options.self_loops;
        let block = options.block.wrap(StackLayer::Gat(layer), options.seed)?;
        GnnStack::new(vec![block], options.seed)
    }

    pub fn graph_sage(options: &SageOptions) -> Result<GnnStack> {
        let layers = options.num_layers;
        if layers == 0 || layers > MAX_LAYERS {
            return Err(Error::invalid_argument(format!(
                "numLayers must be 1 to {MAX_LAYERS}, got {layers}"
            )));
        }
        if !options.sample_sizes.is_empty() && options.sample_sizes.len() != layers {
            return Err(Error::invalid_argument(format!(
                "sampleSizes has {} entries for {layers} layers; give one per layer",
                options.sample_sizes.len()
            )));
        }
        let blocks = (0..layers)
            .map(|l| {
                let input = if l == 0 {
                    options.input_dim
                } else {
                    options.hidden_dim
                };
                let last = l + 1 == layers;
                let output = if last {
                    options.output_dim
                } else {
                    options.hidden_dim
                };
                let activation = if last {
                    Activation::None
                } else {
                    options.activation
                };
                let seed = options.seed.wrapping_add(l as u64 * 0x9E37_79B9);
                let mut layer = Sage::new(input, output, &options.aggregator, activation, seed)?;
                layer.normalize = options.normalize;
                let mut block = options.block.wrap(StackLayer::Sage(layer), seed)?;
                // Hop h from the targets is layer (layers - 1 - h).
                block.sample_size = options.sample_sizes.get(layers - 1 - l).copied();
                if block.residual && input != output {
                    // Residuals skip only the layers that keep their width.
                    block.residual = false;
                }
                Ok(block)
            })
            .collect::<Result<Vec<_>>>()?;
        GnnStack::new(blocks, options.seed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn models_have_the_requested_shapes_and_refuse_bad_options() {
        let sage = GnnStack::graph_sage(&SageOptions {
            input_dim: 128,
            hidden_dim: 128,
            output_dim: 64,
            num_layers: 2,
            aggregator: "mean".into(),
            sample_sizes: vec![10, 5],
            normalize: false,
            activation: Activation::Relu,
            block: BlockOptions {
                residual: true,
                ..Default::default()
            },
            seed: 1,
        })
        .unwrap();
        assert_eq!((sage.input_dim(), sage.output_dim()), (128, 64));
        // The first layer is the outer hop: 5 neighbours; the last 10.
        let sizes: Vec<_> = sage.blocks.iter().map(|b| b.sample_size).collect();
        assert_eq!(sizes, [Some(5), Some(10)]);
        assert!(sage.blocks[0].residual && !sage.blocks[1].residual);
        let gat = |output_dim, concat_heads| {
            GnnStack::gat(&GatOptions {
                input_dim: 16,
                output_dim,
                heads: 4,
                concat_heads,
                negative_slope: 0.2,
                activation: Activation::None,
                self_loops: true,
                block: BlockOptions::default(),
                seed: 2,
            })
        };
        assert_eq!(gat(32, true).unwrap().output_dim(), 32);
        assert_eq!(gat(6, false).unwrap().output_dim(), 6);
        assert_eq!(gat(30, true).unwrap_err().code(), "ERR_INVALID_ARGUMENT");
    }
}
