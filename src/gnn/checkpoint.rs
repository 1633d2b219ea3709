//! Saving a [`GnnStack`] to a model file and loading it back: its
//! configuration as JSON beside the weights (`weights.rs`), every
//! parameter under a stable name.

use super::model::BlockSpec;
use super::norm::Dropout;
use super::sage::NeighborAggregator;
use super::stack::{GnnStack, StackBlock, StackLayer};
use super::tensor::Matrix;
use super::weights::{save_weights, WeightFile, WeightType};
use crate::error::{Error, Result};
use ndarray::{Array1, Array2, ArrayView2, Axis};
use serde_json::{json, Value};
use std::path::Path;

const FORMAT: &str = "hnsw-gnn/gnn-stack";
/// Version 2 stores each block's options in the words of its JS class.
const FORMAT_VERSION: u64 = 2;

fn row(vector: &Array1<f32>) -> ArrayView2<'_, f32> {
    vector.view().insert_axis(Axis(0))
}

impl GnnStack {
    /// The configuration, as stored beside the weights: each block's
    /// options in the words its JS class reads (see `options.rs`).
    pub fn config(&self) -> Value {
        let blocks: Vec<Value> = self.blocks.iter().map(StackBlock::options).collect();
        json!({
            "format": FORMAT,
            "version": FORMAT_VERSION,
            "sampleSeed": self.sample_seed.to_string(),
            "blocks": blocks,
        })
    }

    /// Every parameter under its name in the weight file (vectors as
    /// one-row matrices): `"{block}.weight"`, `"{block}.bias"`, and per
    /// kind `attention_source`/`attention_destination` (GAT),
    /// `neighbor_weight` and `lstm_*` (GraphSAGE), `norm_gain`/`norm_shift`.
    pub fn named_tensors(&self) -> Vec<(String, ArrayView2<'_, f32>)> {
        let mut tensors: Vec<(String, ArrayView2<'_, f32>)> = Vec::new();
        for (i, block) in self.blocks.iter().enumerate() {
            let mut add = |name: &str, view| {
                tensors.push((format!("{i}.{name}"), view));
            };
            match &block.layer {
                StackLayer::Gcn(l) => {
                    add("weight", l.linear.weight.view());
                    if let Some(bias) = &l.linear.bias {
                        add("bias", row(bias));
                    }
                }
                StackLayer::Gat(l) => {
                    add("weight", l.projection.weight.view());
                    add("attention_source", l.attention_source.view());
                    add("attention_destination", l.attention_destination.view());
                    add("bias", row(&l.bias));
                }
                StackLayer::Sage(l) => {
                    add("weight", l.self_linear.weight.view());
                    if let Some(bias) = &l.self_linear.bias {
                        add("bias", row(bias));
                    }
                    add("neighbor_weight", l.neighbor_linear.weight.view());
                    if let NeighborAggregator::Lstm(lstm) = &l.aggregator {
                        add("lstm_input_weight", lstm.input.weight.view());
                        if let Some(bias) = &lstm.input.bias {
                            add("lstm_bias", row(bias));
                        }
                        add("lstm_hidden_weight", lstm.hidden.weight.view());
                    }
                }
            }
            if let Some(norm) = &block.norm {
                add("norm_gain", row(&norm.gain));
                add("norm_shift", row(&norm.shift));
            }
        }
        tensors
    }

    /// Writes the configuration and weights to `path` atomically, as
    /// `weight_type` (`f16` and `int8` shrink the file 2× and ~4×).
    pub fn save(&self, path: &Path, weight_type: WeightType) -> Result<u64> {
        let tensors = self.named_tensors();
        let views: Vec<(&str, ArrayView2<'_, f32>)> = tensors
            .iter()
            .map(|(n, v)| (n.as_str(), v.view()))
            .collect();
        save_weights(path, &self.config().to_string(), &views, weight_type)
    }

    /// A stack from a weight file. `f32` weight matrices are read in place
    /// from the mapping (outputs bit-identical to the saved stack's);
    /// `f16`/`int8` ones are decoded into memory.
    pub fn load(path: &Path) -> Result<GnnStack> {
        GnnStack::from_weight_file(&WeightFile::open(path)?, &path.display().to_string())
    }

    /// A stack from a model file's image held in memory (decoded as
    /// [`GnnStack::load`] decodes a file).
    pub fn from_bytes(bytes: &[u8]) -> Result<GnnStack> {
        GnnStack::from_weight_file(&WeightFile::from_bytes(bytes)?, "the model image")
    }

    /// A stack from a checked weight file; `source` names it in errors.
    fn from_weight_file(file: &WeightFile, source: &str) -> Result<GnnStack> {
        let config: Value = serde_json::from_str(file.metadata())
            .map_err(|e| Error::corrupt("model metadata", format!("not JSON: {e}")))?;
        let bad = |why: String| Error::corrupt("model metadata", why);
        if config["format"] != FORMAT {
            return Err(Error::UnsupportedFormat(format!(
                "{source} holds {}, not a GNN model",
                config["format"]
            )));
        }
        if config["version"].as_u64() != Some(FORMAT_VERSION) {
            return Err(Error::UnsupportedFormat(format!(
                "GNN model version {}; this hnsw-gnn reads {FORMAT_VERSION}",
                config["version"]
            )));
        }
        let sample_seed = config["sampleSeed"]
            .as_str()
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| bad("no sampleSeed".into()))?;
        let blocks = config["blocks"]
            .as_array()
            .ok_or_else(|| bad("no blocks".into()))?
            .iter()
            .enumerate()
            .map(|(i, c)| load_block(file, i, c))
            .collect::<Result<Vec<_>>>()?;
        GnnStack::new(blocks, sample_seed)
            .map_err(|e| bad(format!("the layers do not fit together: {e}")))
    }
}

/// Block `i` of a model file: built from its stored options by the same
/// parsers (and defaults) as a layer built from JS, then given the file's
/// tensors, each of which must exist with the shape the options imply.
/// The weight matrices' shapes are checked before the block is built:
/// building allocates what the options ask for, and a few bytes of options
/// can ask for gigabytes that the file does not hold.
fn load_block(file: &WeightFile, i: usize, config: &Value) -> Result<StackBlock> {
    let bad = |why: String| Error::corrupt("model metadata", format!("layer {i}: {why}"));
    let spec = BlockSpec::parse(config, 0).map_err(|e| bad(e.to_string()))?;
    for (name, shape) in spec.matrix_shapes().map_err(|e| bad(e.to_string()))? {
        let stored = file.shape(&format!("{i}.{name}"))?;
        if stored != shape {
            return Err(bad(format!("{name} is {stored:?}, expected {shape:?}")));
        }
    }
    let mut block = spec.build().map_err(|e| bad(e.to_string()))?;
    let matrix = |name: &str, shape: (usize, usize)| -> Result<Matrix> {
        let m = file.matrix(&format!("{i}.{name}"))?;
        if m.view().dim() != shape {
            return Err(bad(format!(
                "{name} is {:?}, expected {shape:?}",
                m.view().dim()
            )));
        }
        Ok(m)
    };
    let vector = |name: &str, len: usize| -> Result<Array1<f32>> {
        Ok(matrix(name, (1, len))?.view().row(0).to_owned())
    };
    let owned = |name: &str, shape: (usize, usize)| -> Result<Array2<f32>> {
        Ok(matrix(name, shape)?.view().to_owned())
    };
    let (input, output) = (block.layer.input_dim(), block.layer.output_dim());
    match &mut block.layer {
        StackLayer::Gcn(l) => {
            l.linear.weight = matrix("weight", (input, output))?;
            l.linear.bias = Some(vector("bias", output)?);
        }
        StackLayer::Gat(l) => {
            let shape = l.attention_source.dim();
            l.projection.weight = matrix("weight", (input, shape.0 * shape.1))?;
            l.attention_source = owned("attention_source", shape)?;
            l.attention_destination = owned("attention_destination", shape)?;
            l.bias = vector("bias", output)?;
        }
        StackLayer::Sage(l) => {
            l.self_linear.weight = matrix("weight", (input, output))?;
            l.self_linear.bias = Some(vector("bias", output)?);
            l.neighbor_linear.weight = matrix("neighbor_weight", (input, output))?;
            if let NeighborAggregator::Lstm(lstm) = &mut l.aggregator {
                lstm.input.weight = matrix("lstm_input_weight", (input, 4 * input))?;
                lstm.input.bias = Some(vector("lstm_bias", 4 * input)?);
                lstm.hidden.weight = matrix("lstm_hidden_weight", (input, 4 * input))?;
            }
        }
    }
    if let Some(norm) = &mut block.norm {
        norm.gain = vector("norm_gain", output)?;
        norm.shift = vector("norm_shift", output)?;
    }
    // Dropout masks are seeded per block, as a fresh model's are.
    if let Some(dropout) = &block.dropout {
        block.dropout = Some(Dropout::new(dropout.rate(), i as u64)?);
    }
    Ok(block)
}
