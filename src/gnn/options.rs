//! The options of every layer and model: their defaults, their limits, and
//! how they read from and write to JS-shaped options objects (camelCase
//! keys, unknown keys refused). A model file stores each block's options
//! in the same words (`checkpoint.rs`), and reading them back goes through
//! the same parsers, so every default exists once: here.

use super::sage::SageAggregator;
use super::tensor::Activation;
use crate::error::{Error, Result};
use crate::options::OptionsReader;
use crate::rng::SplitMix64;
use serde_json::{json, Map, Value};

/// Bounds that keep a mistyped option from building a model that cannot fit.
pub const MAX_LAYERS: usize = 64;
pub const MAX_HEADS: usize = 256;
/// Widest layer input or output.
pub const MAX_WIDTH: usize = 1 << 24;

/// The keys every layer and model takes.
const COMMON: [&str; 8] = [
    "inputDim",
    "outputDim",
    "activation",
    "activationParameter",
    "residual",
    "layerNorm",
    "dropout",
    "seed",
];

/// What surrounds every layer of a model.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct BlockOptions {
    /// Add the layer's input to its output (equal widths only).
    pub residual: bool,
    pub layer_norm: bool,
    /// Training-only dropout rate on each layer's output.
    pub dropout: f32,
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

/// A GraphSAGE model: `num_layers` layers, `hidden_dim` wide between them.
#[derive(Clone, Debug, PartialEq)]
pub struct SageOptions {
    pub input_dim: usize,
    /// Width between layers.
    pub hidden_dim: usize,
    pub output_dim: usize,
    pub num_layers: usize,
    pub aggregator: SageAggregator,
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

/// One GraphSAGE layer, as a model file describes each block of a stack.
#[derive(Clone, Debug, PartialEq)]
pub struct SageLayerOptions {
    pub input_dim: usize,
    pub output_dim: usize,
    pub aggregator: SageAggregator,
    pub normalize: bool,
    pub activation: Activation,
    /// Neighbours sampled for this layer (`None`: all of them).
    pub sample_size: Option<usize>,
    pub block: BlockOptions,
    pub seed: u64,
}

impl GcnOptions {
    /// Every default: ReLU, self loops.
    pub fn new(input_dim: usize, output_dim: usize) -> GcnOptions {
        GcnOptions {
            input_dim,
            output_dim,
            activation: Activation::Relu,
            self_loops: true,
            block: BlockOptions::default(),
            seed: 0,
        }
    }

    /// The options of `new GCNLayer({...})`.
    pub fn from_options(value: &Value) -> Result<GcnOptions> {
        let o = reader(value, "GCNLayer options", &["selfLoops"])?;
        let (input_dim, output_dim) = dims(&o)?;
        let defaults = GcnOptions::new(input_dim, output_dim);
        Ok(GcnOptions {
            activation: activation(&o, defaults.activation)?,
            self_loops: o.flag("selfLoops")?.unwrap_or(defaults.self_loops),
            block: block(&o)?,
            seed: seed(&o)?,
            ..defaults
        })
    }

    /// Every option but the seed, spelled as [`GcnOptions::from_options`]
    /// reads it.
    pub fn to_options(&self) -> Value {
        let mut options = common(
            self.input_dim,
            self.output_dim,
            self.activation,
            &self.block,
        );
        options.insert("selfLoops".into(), json!(self.self_loops));
        Value::Object(options)
    }
}

impl GatOptions {
    /// Every default: one head, concatenated, LeakyReLU slope 0.2 on the
    /// scores, no activation, self loops.
    pub fn new(input_dim: usize, output_dim: usize) -> GatOptions {
        GatOptions {
            input_dim,
            output_dim,
            heads: 1,
            concat_heads: true,
            negative_slope: 0.2,
            activation: Activation::None,
            self_loops: true,
            block: BlockOptions::default(),
            seed: 0,
        }
    }

    /// The options of `new GATLayer({...})`.
    pub fn from_options(value: &Value) -> Result<GatOptions> {
        let extra = ["numHeads", "concatHeads", "leakyReluSlope", "selfLoops"];
        let o = reader(value, "GATLayer options", &extra)?;
        let (input_dim, output_dim) = dims(&o)?;
        let defaults = GatOptions::new(input_dim, output_dim);
        let options = GatOptions {
            heads: o.count("numHeads")?.unwrap_or(defaults.heads),
            concat_heads: o.flag("concatHeads")?.unwrap_or(defaults.concat_heads),
            negative_slope: o
                .number("leakyReluSlope")?
                .map_or(defaults.negative_slope, |s| s as f32),
            activation: activation(&o, defaults.activation)?,
            self_loops: o.flag("selfLoops")?.unwrap_or(defaults.self_loops),
            block: block(&o)?,
            seed: seed(&o)?,
            ..defaults
        };
        options.head_dim()?;
        Ok(options)
    }

    pub fn to_options(&self) -> Value {
        let mut options = common(
            self.input_dim,
            self.output_dim,
            self.activation,
            &self.block,
        );
        options.insert("numHeads".into(), json!(self.heads));
        options.insert("concatHeads".into(), json!(self.concat_heads));
        options.insert("leakyReluSlope".into(), json!(self.negative_slope));
        options.insert("selfLoops".into(), json!(self.self_loops));
        Value::Object(options)
    }

    /// The width of one head, checking the heads against the output.
    pub fn head_dim(&self) -> Result<usize> {
        let heads = self.heads;
        if heads == 0 || heads > MAX_HEADS {
            return Err(Error::invalid_argument(format!(
                "numHeads must be 1 to {MAX_HEADS}, got {heads}"
            )));
        }
        if !(self.negative_slope.is_finite() && self.negative_slope >= 0.0) {
            return Err(Error::invalid_argument(format!(
                "leakyReluSlope must be a finite number ≥ 0, got {}",
                self.negative_slope
            )));
        }
        if !self.concat_heads {
            return Ok(self.output_dim);
        }
        if !self.output_dim.is_multiple_of(heads) {
            return Err(Error::invalid_argument(format!(
                "outputDim {} is not divisible by numHeads {heads}; concatenated heads split the output evenly",
                self.output_dim
            )));
        }
        Ok(self.output_dim / heads)
    }
}

impl SageOptions {
    /// Every default: two layers as wide as the input, mean aggregation,
    /// ReLU between layers, every neighbour.
    pub fn new(input_dim: usize, output_dim: usize) -> SageOptions {
        SageOptions {
            input_dim,
            hidden_dim: input_dim,
            output_dim,
            num_layers: 2,
            aggregator: SageAggregator::Mean,
            sample_sizes: Vec::new(),
            normalize: false,
            activation: Activation::Relu,
            block: BlockOptions::default(),
            seed: 0,
        }
    }

    /// The options of `new GraphSAGE({...})`.
    pub fn from_options(value: &Value) -> Result<SageOptions> {
        let extra = [
            "hiddenDim",
            "numLayers",
            "aggregator",
            "sampleSizes",
            "normalize",
        ];
        let o = reader(value, "GraphSAGE options", &extra)?;
        let (input_dim, output_dim) = dims(&o)?;
        let defaults = SageOptions::new(input_dim, output_dim);
        let options = SageOptions {
            hidden_dim: width(&o, "hiddenDim")?.unwrap_or(defaults.hidden_dim),
            num_layers: o.count("numLayers")?.unwrap_or(defaults.num_layers),
            aggregator: o
                .text("aggregator")?
                .map_or(Ok(defaults.aggregator), SageAggregator::parse)?,
            sample_sizes: o.counts("sampleSizes")?.unwrap_or_default(),
            normalize: o.flag("normalize")?.unwrap_or(defaults.normalize),
            activation: activation(&o, defaults.activation)?,
            block: block(&o)?,
            seed: seed(&o)?,
            ..defaults
        };
        options.layers()?;
        Ok(options)
    }

    /// The options of each layer, the first (outermost hop) first.
    pub fn layers(&self) -> Result<Vec<SageLayerOptions>> {
        let layers = self.num_layers;
        if layers == 0 || layers > MAX_LAYERS {
            return Err(Error::invalid_argument(format!(
                "numLayers must be 1 to {MAX_LAYERS}, got {layers}"
            )));
        }
        if !self.sample_sizes.is_empty() && self.sample_sizes.len() != layers {
            return Err(Error::invalid_argument(format!(
                "sampleSizes has {} entries for {layers} layers; give one per layer",
                self.sample_sizes.len()
            )));
        }
        Ok((0..layers)
            .map(|l| {
                let last = l + 1 == layers;
                let input_dim = if l == 0 {
                    self.input_dim
                } else {
                    self.hidden_dim
                };
                let output_dim = if last {
                    self.output_dim
                } else {
                    self.hidden_dim
                };
                let mut block = self.block;
                // Residuals skip only the layers that keep their width.
                block.residual &= input_dim == output_dim;
                SageLayerOptions {
                    input_dim,
                    output_dim,
                    aggregator: self.aggregator,
                    normalize: self.normalize,
                    activation: if last {
                        Activation::None
                    } else {
                        self.activation
                    },
                    // Hop h from the targets is layer (layers - 1 - h).
                    sample_size: self.sample_sizes.get(layers - 1 - l).copied(),
                    block,
                    seed: self.seed.wrapping_add(l as u64 * 0x9E37_79B9),
                }
            })
            .collect())
    }
}

impl SageLayerOptions {
    /// Every default: mean aggregation, no activation, every neighbour.
    pub fn new(input_dim: usize, output_dim: usize) -> SageLayerOptions {
        SageLayerOptions {
            input_dim,
            output_dim,
            aggregator: SageAggregator::Mean,
            normalize: false,
            activation: Activation::None,
            sample_size: None,
            block: BlockOptions::default(),
            seed: 0,
        }
    }

    /// One GraphSAGE layer's options, as a model file stores them.
    pub fn from_options(value: &Value) -> Result<SageLayerOptions> {
        let extra = ["aggregator", "normalize", "sampleSize"];
        let o = reader(value, "GraphSAGE layer options", &extra)?;
        let (input_dim, output_dim) = dims(&o)?;
        let defaults = SageLayerOptions::new(input_dim, output_dim);
        Ok(SageLayerOptions {
            aggregator: o
                .text("aggregator")?
                .map_or(Ok(defaults.aggregator), SageAggregator::parse)?,
            normalize: o.flag("normalize")?.unwrap_or(defaults.normalize),
            activation: activation(&o, defaults.activation)?,
            sample_size: o.count("sampleSize")?,
            block: block(&o)?,
            seed: seed(&o)?,
            ..defaults
        })
    }

    pub fn to_options(&self) -> Value {
        let mut options = common(
            self.input_dim,
            self.output_dim,
            self.activation,
            &self.block,
        );
        options.insert("aggregator".into(), json!(self.aggregator.name()));
        options.insert("normalize".into(), json!(self.normalize));
        options.insert("sampleSize".into(), json!(self.sample_size));
        Value::Object(options)
    }
}

fn reader<'a>(value: &'a Value, what: &'a str, extra: &[&str]) -> Result<OptionsReader<'a>> {
    let known: Vec<&str> = COMMON.iter().chain(extra).copied().collect();
    if !value.is_object() {
        return Err(Error::invalid_argument(format!(
            "{what} must be an object with at least inputDim and outputDim"
        )));
    }
    OptionsReader::new(Some(value), what, &known)
}

fn width(o: &OptionsReader<'_>, key: &str) -> Result<Option<usize>> {
    match o.count(key)? {
        Some(w) if w > MAX_WIDTH => Err(o.bad(key, &format!("at most {MAX_WIDTH}"))),
        other => Ok(other),
    }
}

fn dims(o: &OptionsReader<'_>) -> Result<(usize, usize)> {
    let required =
        |key| width(o, key)?.ok_or_else(|| o.bad(key, "a positive integer (it is required)"));
    Ok((required("inputDim")?, required("outputDim")?))
}

fn activation(o: &OptionsReader<'_>, default: Activation) -> Result<Activation> {
    let activation = o
        .text("activation")?
        .map_or(Ok(default), Activation::parse)?;
    Ok(match o.number("activationParameter")? {
        Some(parameter) => activation.with_parameter(parameter as f32),
        None => activation,
    })
}

fn block(o: &OptionsReader<'_>) -> Result<BlockOptions> {
    let defaults = BlockOptions::default();
    let dropout = o.number("dropout")?.map_or(defaults.dropout, |d| d as f32);
    if !(0.0..1.0).contains(&dropout) {
        return Err(o.bad("dropout", "a rate in [0, 1)"));
    }
    Ok(BlockOptions {
        residual: o.flag("residual")?.unwrap_or(defaults.residual),
        layer_norm: o.flag("layerNorm")?.unwrap_or(defaults.layer_norm),
        dropout,
    })
}

/// The given seed, or a fresh random one (weights differ per layer built).
fn seed(o: &OptionsReader<'_>) -> Result<u64> {
    Ok(o.seed("seed")?
        .unwrap_or_else(|| SplitMix64::from_entropy().next_u64() >> 11))
}

/// The keys every layer writes: dimensions, activation and block options.
fn common(
    input: usize,
    output: usize,
    activation: Activation,
    block: &BlockOptions,
) -> Map<String, Value> {
    let (name, parameter) = activation.name();
    let mut options = Map::new();
    options.insert("inputDim".into(), json!(input));
    options.insert("outputDim".into(), json!(output));
    options.insert("activation".into(), json!(name));
    if matches!(activation, Activation::LeakyRelu(_) | Activation::Elu(_)) {
        options.insert("activationParameter".into(), json!(parameter));
    }
    options.insert("residual".into(), json!(block.residual));
    options.insert("layerNorm".into(), json!(block.layer_norm));
    options.insert("dropout".into(), json!(block.dropout));
    options
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layer_options_round_trip_through_the_words_they_are_saved_in() {
        let gcn = GcnOptions {
            activation: Activation::LeakyRelu(0.3),
            block: BlockOptions {
                residual: true,
                layer_norm: true,
                dropout: 0.25,
            },
            ..GcnOptions::new(8, 8)
        };
        let back = GcnOptions::from_options(&gcn.to_options()).unwrap();
        assert_eq!(
            back,
            GcnOptions {
                seed: back.seed,
                ..gcn
            }
        );
        let gat = GatOptions {
            heads: 4,
            concat_heads: false,
            negative_slope: 0.1,
            ..GatOptions::new(6, 5)
        };
        let back = GatOptions::from_options(&gat.to_options()).unwrap();
        assert_eq!(
            back,
            GatOptions {
                seed: back.seed,
                ..gat
            }
        );
        let sage = SageLayerOptions {
            aggregator: SageAggregator::Lstm,
            sample_size: Some(7),
            normalize: true,
            ..SageLayerOptions::new(4, 3)
        };
        let back = SageLayerOptions::from_options(&sage.to_options()).unwrap();
        assert_eq!(
            back,
            SageLayerOptions {
                seed: back.seed,
                ..sage
            }
        );
    }

    #[test]
    fn graphsage_options_expand_into_layers_and_refuse_bad_values() {
        let options = SageOptions::from_options(&json!({
            "inputDim": 128, "outputDim": 64, "sampleSizes": [10, 5], "residual": true, "seed": 1
        }))
        .unwrap();
        let layers = options.layers().unwrap();
        // The first layer is the outer hop: 5 neighbours; the last 10.
        let sizes: Vec<_> = layers.iter().map(|l| l.sample_size).collect();
        assert_eq!(sizes, [Some(5), Some(10)]);
        assert!(layers[0].block.residual && !layers[1].block.residual);
        assert_eq!(
            (layers[0].activation, layers[1].activation),
            (Activation::Relu, Activation::None)
        );
        for bad in [
            json!({ "inputDim": 4, "outputDim": 2, "numLayers": 0 }),
            json!({ "inputDim": 4, "outputDim": 2, "sampleSizes": [1] }),
            json!({ "inputDim": 4, "outputDim": 2, "aggregator": "median" }),
            json!({ "inputDim": 4, "outputDim": 2, "dropout": 1.5 }),
            json!({ "inputDim": 4, "outputDim": 2, "hiddenDims": 8 }),
            json!({ "inputDim": 4 }),
            json!("sage"),
        ] {
            let error = SageOptions::from_options(&bad).unwrap_err();
            assert_eq!(error.code(), "ERR_INVALID_ARGUMENT", "{bad}: {error}");
        }
        let error =
            GatOptions::from_options(&json!({ "inputDim": 4, "outputDim": 6, "numHeads": 4 }))
                .unwrap_err();
        assert!(error.to_string().contains("not divisible"), "{error}");
    }
}
