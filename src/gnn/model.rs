//! Blocks built from their options, and [`Model`]: a stack of one of the
//! shapes the JS classes expose (`GCNLayer`, `GATLayer`, `GraphSAGE`) with
//! everything those classes do — forward passes, attention, minibatches,
//! saving and loading weights — so the bindings only convert arguments.

use super::adjacency::Adjacency;
use super::gat::Gat;
use super::gcn::Gcn;
use super::norm::{Dropout, LayerNorm};
use super::options::{BlockOptions, GatOptions, GcnOptions, SageLayerOptions, SageOptions};
use super::sage::{Sage, SageAggregator};
use super::stack::{Attention, GnnStack, Graph, StackBlock, StackLayer};
use super::weights::WeightType;
use crate::error::{Error, Result};
use ndarray::{Array2, ArrayView2};
use serde_json::Value;
use std::path::Path;

impl BlockOptions {
    /// `layer` with what these options put around it.
    fn wrap(&self, layer: StackLayer, sample_size: Option<usize>, seed: u64) -> Result<StackBlock> {
        let width = layer.output_dim();
        let mut block = StackBlock::new(layer);
        block.residual = self.residual;
        block.norm = self.layer_norm.then(|| LayerNorm::new(width));
        if self.dropout > 0.0 {
            block.dropout = Some(Dropout::new(self.dropout, seed)?);
        }
        block.sample_size = sample_size;
        Ok(block)
    }

    fn of(block: &StackBlock) -> BlockOptions {
        BlockOptions {
            residual: block.residual,
            layer_norm: block.norm.is_some(),
            dropout: block.dropout.as_ref().map_or(0.0, Dropout::rate),
        }
    }
}

impl StackBlock {
    pub fn gcn(options: &GcnOptions) -> Result<StackBlock> {
        let mut layer = Gcn::new(
            options.input_dim,
            options.output_dim,
            options.activation,
            options.seed,
        )?;
        layer.self_loops = options.self_loops;
        options
            .block
            .wrap(StackLayer::Gcn(layer), None, options.seed)
    }

    pub fn gat(options: &GatOptions) -> Result<StackBlock> {
        let mut layer = Gat::new(
            options.input_dim,
            options.head_dim()?,
            options.heads,
            options.concat_heads,
            options.activation,
            options.seed,
        )?;
        layer.negative_slope = options.negative_slope;
        layer.self_loops = options.self_loops;
        options
            .block
            .wrap(StackLayer::Gat(layer), None, options.seed)
    }

    pub fn sage(options: &SageLayerOptions) -> Result<StackBlock> {
        let mut layer = Sage::new(
            options.input_dim,
            options.output_dim,
            options.aggregator,
            options.activation,
            options.seed,
        )?;
        layer.normalize = options.normalize;
        options
            .block
            .wrap(StackLayer::Sage(layer), options.sample_size, options.seed)
    }

    /// The block's options, in the words [`StackBlock::from_options`]
    /// reads, with its `type`: what a model file stores per block.
    pub fn options(&self) -> Value {
        let block = BlockOptions::of(self);
        let (kind, mut options) = match &self.layer {
            StackLayer::Gcn(l) => (
                "gcn",
                GcnOptions {
                    input_dim: l.linear.input_dim(),
                    output_dim: l.linear.output_dim(),
                    activation: l.activation,
                    self_loops: l.self_loops,
                    block,
                    seed: 0,
                }
                .to_options(),
            ),
            StackLayer::Gat(l) => (
                "gat",
                GatOptions {
                    input_dim: l.projection.input_dim(),
                    output_dim: l.bias.len(),
                    heads: l.heads,
                    concat_heads: l.concat_heads,
                    negative_slope: l.negative_slope,
                    activation: l.activation,
                    self_loops: l.self_loops,
                    block,
                    seed: 0,
                }
                .to_options(),
            ),
            StackLayer::Sage(l) => (
                "sage",
                SageLayerOptions {
                    input_dim: l.self_linear.input_dim(),
                    output_dim: l.self_linear.output_dim(),
                    aggregator: l.aggregator.kind(),
                    normalize: l.normalize,
                    activation: l.activation,
                    sample_size: self.sample_size,
                    block,
                    seed: 0,
                }
                .to_options(),
            ),
        };
        if let Value::Object(map) = &mut options {
            map.insert("type".into(), Value::from(kind));
        }
        options
    }

    /// A fresh block from [`StackBlock::options`]' words (weights from
    /// `seed`).
    pub fn from_options(options: &Value, seed: u64) -> Result<StackBlock> {
        BlockSpec::parse(options, seed)?.build()
    }
}

/// A block's options as read from [`StackBlock::options`]' words, before
/// any weights exist: what a model file's reader checks the file's tensors
/// against before building (a block's options can ask for gigabytes).
pub(super) enum BlockSpec {
    Gcn(GcnOptions),
    Gat(GatOptions),
    Sage(SageLayerOptions),
}

impl BlockSpec {
    pub fn parse(options: &Value, seed: u64) -> Result<BlockSpec> {
        let mut options = options.clone();
        let kind = options
            .as_object_mut()
            .and_then(|map| map.remove("type"))
            .and_then(|kind| kind.as_str().map(str::to_string))
            .ok_or_else(|| Error::invalid_argument("a block's options need a \"type\""))?;
        if let Value::Object(map) = &mut options {
            map.insert("seed".into(), Value::from(seed));
        }
        match kind.as_str() {
            "gcn" => Ok(BlockSpec::Gcn(GcnOptions::from_options(&options)?)),
            "gat" => Ok(BlockSpec::Gat(GatOptions::from_options(&options)?)),
            "sage" => Ok(BlockSpec::Sage(SageLayerOptions::from_options(&options)?)),
            other => Err(Error::invalid_argument(format!(
                "unknown layer type {other:?}"
            ))),
        }
    }

    /// The block, with weights drawn from the options' seed.
    pub fn build(&self) -> Result<StackBlock> {
        match self {
            BlockSpec::Gcn(options) => StackBlock::gcn(options),
            BlockSpec::Gat(options) => StackBlock::gat(options),
            BlockSpec::Sage(options) => StackBlock::sage(options),
        }
    }

    /// The weight matrices such a block holds, by their names in a model
    /// file, with their shapes.
    pub fn matrix_shapes(&self) -> Result<Vec<(&'static str, (usize, usize))>> {
        Ok(match self {
            BlockSpec::Gcn(o) => vec![("weight", (o.input_dim, o.output_dim))],
            BlockSpec::Gat(o) => vec![
                ("weight", (o.input_dim, o.heads * o.head_dim()?)),
                ("attention_source", (o.heads, o.head_dim()?)),
                ("attention_destination", (o.heads, o.head_dim()?)),
            ],
            BlockSpec::Sage(o) => {
                let (input, output) = (o.input_dim, o.output_dim);
                let mut shapes = vec![
                    ("weight", (input, output)),
                    ("neighbor_weight", (input, output)),
                ];
                if o.aggregator == SageAggregator::Lstm {
                    shapes.push(("lstm_input_weight", (input, 4 * input)));
                    shapes.push(("lstm_hidden_weight", (input, 4 * input)));
                }
                shapes
            }
        })
    }
}

impl GnnStack {
    pub fn gcn(options: &GcnOptions) -> Result<GnnStack> {
        GnnStack::new(vec![StackBlock::gcn(options)?], options.seed)
    }

    pub fn gat(options: &GatOptions) -> Result<GnnStack> {
        GnnStack::new(vec![StackBlock::gat(options)?], options.seed)
    }

    pub fn graph_sage(options: &SageOptions) -> Result<GnnStack> {
        let blocks = options
            .layers()?
            .iter()
            .map(StackBlock::sage)
            .collect::<Result<Vec<_>>>()?;
        GnnStack::new(blocks, options.seed)
    }
}

/// The shapes of stack the JS classes expose.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ModelKind {
    /// One GCN block.
    Gcn,
    /// One GAT block.
    Gat,
    /// GraphSAGE blocks only.
    Sage,
}

impl ModelKind {
    pub fn parse(name: &str) -> Result<ModelKind> {
        match name {
            "gcn" => Ok(ModelKind::Gcn),
            "gat" => Ok(ModelKind::Gat),
            "sage" => Ok(ModelKind::Sage),
            other => Err(Error::invalid_argument(format!(
                "unknown model kind {other:?}; expected 'gcn', 'gat' or 'sage'"
            ))),
        }
    }

    /// The JS class of the kind.
    pub fn class(self) -> &'static str {
        match self {
            ModelKind::Gcn => "GCNLayer",
            ModelKind::Gat => "GATLayer",
            ModelKind::Sage => "GraphSAGE",
        }
    }

    /// The kind a stack has, if any (`None`: another stack built in Rust).
    pub fn of(stack: &GnnStack) -> Option<ModelKind> {
        match stack.blocks.as_slice() {
            [only] if matches!(only.layer, StackLayer::Gcn(_)) => Some(ModelKind::Gcn),
            [only] if matches!(only.layer, StackLayer::Gat(_)) => Some(ModelKind::Gat),
            blocks
                if blocks
                    .iter()
                    .all(|b| matches!(b.layer, StackLayer::Sage(_))) =>
            {
                Some(ModelKind::Sage)
            }
            _ => None,
        }
    }
}

/// A GAT forward pass with its attention weights.
pub struct AttentionPass {
    pub output: Array2<f32>,
    /// `(edges, heads)`, per edge of `graph`.
    pub attention: Attention,
    /// The graph attended over: the input plus self loops unless the layer
    /// was built without them.
    pub graph: Adjacency,
}

/// A stack of one [`ModelKind`].
#[derive(Clone, Debug)]
pub struct Model {
    kind: ModelKind,
    stack: GnnStack,
}

impl Model {
    /// A fresh model from the options of the kind's JS class.
    pub fn from_options(kind: ModelKind, options: &Value) -> Result<Model> {
        let stack = match kind {
            ModelKind::Gcn => GnnStack::gcn(&GcnOptions::from_options(options)?)?,
            ModelKind::Gat => GnnStack::gat(&GatOptions::from_options(options)?)?,
            ModelKind::Sage => GnnStack::graph_sage(&SageOptions::from_options(options)?)?,
        };
        Ok(Model { kind, stack })
    }

    pub fn kind(&self) -> ModelKind {
        self.kind
    }

    pub fn stack(&self) -> &GnnStack {
        &self.stack
    }

    /// Whether any weight matrix is read in place from a mapped file.
    pub fn weights_mapped(&self) -> bool {
        self.stack.blocks.iter().any(|b| match &b.layer {
            StackLayer::Gcn(l) => l.linear.weight.is_mapped(),
            StackLayer::Gat(l) => l.projection.weight.is_mapped(),
            StackLayer::Sage(l) => l.self_linear.weight.is_mapped(),
        })
    }

    /// Fails unless this model is of `kind`: `method` belongs to that
    /// kind's class only.
    pub fn require(&self, kind: ModelKind, method: &str) -> Result<()> {
        if self.kind != kind {
            return Err(Error::invalid_argument(format!(
                "{method} is a {} method; this is a {}",
                kind.class(),
                self.kind.class()
            )));
        }
        Ok(())
    }

    pub fn forward(&self, graph: &Graph, features: ArrayView2<'_, f32>) -> Result<Array2<f32>> {
        self.stack.forward(graph, features)
    }

    /// A GAT model's forward pass with its attention weights.
    pub fn forward_with_attention(
        &self,
        graph: &Graph,
        features: ArrayView2<'_, f32>,
    ) -> Result<AttentionPass> {
        self.require(ModelKind::Gat, "forwardWithAttention")?;
        let StackLayer::Gat(layer) = &self.stack.blocks[0].layer else {
            return Err(Error::Internal("a GAT model without a GAT layer".into()));
        };
        let (output, mut attention) = self.stack.forward_with_attention(graph, features)?;
        let attention = attention
            .swap_remove(0)
            .ok_or_else(|| Error::Internal("a GAT layer returned no attention".into()))?;
        Ok(AttentionPass {
            output,
            attention,
            graph: graph.attention_graph(layer.self_loops).clone(),
        })
    }

    /// A GraphSAGE model's rows for `targets` only.
    pub fn forward_minibatch(
        &self,
        graph: &Graph,
        features: ArrayView2<'_, f32>,
        targets: &[u32],
    ) -> Result<Array2<f32>> {
        self.require(ModelKind::Sage, "forwardMinibatch")?;
        self.stack
            .forward_minibatch(graph.adjacency(), features, targets)
    }

    /// Writes the configuration and weights to a model file.
    pub fn save_weights(&self, path: &Path, weight_type: WeightType) -> Result<u64> {
        self.stack.save(path, weight_type)
    }

    /// This model with the weights of the model file at `path`, which must
    /// hold a model of the same kind and widths.
    pub fn load_weights(&self, path: &Path) -> Result<Model> {
        let loaded = GnnStack::load(path)?;
        let found = ModelKind::of(&loaded);
        if found != Some(self.kind) {
            return Err(Error::invalid_argument(format!(
                "{} holds weights for {}, not for a {}",
                path.display(),
                found.map_or("a stack of mixed GNN layers".to_string(), |k| format!(
                    "a {}",
                    k.class()
                )),
                self.kind.class()
            )));
        }
        let (current, widths) = (&self.stack, (loaded.input_dim(), loaded.output_dim()));
        if widths != (current.input_dim(), current.output_dim()) {
            return Err(Error::ShapeMismatch(format!(
                "{} maps {} → {} features; this layer maps {} → {}",
                path.display(),
                widths.0,
                widths.1,
                current.input_dim(),
                current.output_dim()
            )));
        }
        Ok(Model {
            kind: self.kind,
            stack: loaded,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn models_have_the_requested_shapes_and_methods_of_their_kind_only() {
        let sage = Model::from_options(
            ModelKind::Sage,
            &json!({ "inputDim": 128, "outputDim": 64, "sampleSizes": [10, 5], "residual": true }),
        )
        .unwrap();
        let stack = sage.stack();
        assert_eq!((stack.input_dim(), stack.output_dim()), (128, 64));
        let sizes: Vec<_> = stack.blocks.iter().map(|b| b.sample_size).collect();
        assert_eq!(sizes, [Some(5), Some(10)]);
        assert!(stack.blocks[0].residual && !stack.blocks[1].residual);
        assert_eq!(ModelKind::of(stack), Some(ModelKind::Sage));
        let gat = |output_dim, concat_heads| {
            Model::from_options(
                ModelKind::Gat,
                &json!({ "inputDim": 16, "outputDim": output_dim, "numHeads": 4, "concatHeads": concat_heads }),
            )
        };
        assert_eq!(gat(32, true).unwrap().stack().output_dim(), 32);
        assert_eq!(gat(6, false).unwrap().stack().output_dim(), 6);
        assert_eq!(gat(30, true).unwrap_err().code(), "ERR_INVALID_ARGUMENT");
        let error = sage
            .require(ModelKind::Gat, "forwardWithAttention")
            .unwrap_err();
        assert!(
            error
                .to_string()
                .contains("GATLayer method; this is a GraphSAGE"),
            "{error}"
        );
        let unknown = Model::from_options(
            ModelKind::Gcn,
            &json!({ "inputDim": 2, "outputDim": 2, "heads": 2 }),
        );
        assert!(unknown.unwrap_err().to_string().contains("\"heads\""));
    }

    #[test]
    fn a_block_rebuilt_from_its_options_has_the_same_shape_and_settings() {
        for options in [
            json!({ "type": "gcn", "inputDim": 4, "outputDim": 4, "activation": "elu", "activationParameter": 0.5, "residual": true, "layerNorm": true, "dropout": 0.125, "selfLoops": false }),
            json!({ "type": "gat", "inputDim": 4, "outputDim": 6, "numHeads": 3, "concatHeads": true, "leakyReluSlope": 0.25, "selfLoops": true }),
            json!({ "type": "sage", "inputDim": 4, "outputDim": 2, "aggregator": "lstm", "normalize": true, "sampleSize": 3 }),
        ] {
            let block = StackBlock::from_options(&options, 1).unwrap();
            let again = StackBlock::from_options(&block.options(), 2).unwrap();
            assert_eq!(block.options(), again.options(), "{options}");
            for (key, value) in options.as_object().unwrap() {
                assert_eq!(&block.options()[key], value, "{key} of {options}");
            }
        }
    }
}
