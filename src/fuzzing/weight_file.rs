//! Target `weight_file`: a GNN model file (`gnn::weights` on the section
//! container, the stack's configuration beside the tensors) loaded from
//! memory as `GnnStack::load` loads a file, then run forward on a
//! four-node graph.
//!
//! Input: `split u32 · model file · configuration` (see
//! [`super::split_input`]). The file's checksums are recomputed, and a
//! non-empty configuration (JSON text) replaces the file's own, so
//! mutations reach the configuration at any length without breaking the
//! container's layout, and reach the tensors behind the checksums.

use super::sample::ScratchDir;
use super::{join_input, split_input, Reached, Seed};
use crate::error::Result;
use crate::file::sections;
use crate::gnn::weights::{self, MODEL_FILE};
use crate::gnn::{Adjacency, GnnStack, Graph, Model, ModelKind, WeightFile, WeightType};
use ndarray::Array2;
use serde_json::{json, Value};

pub fn run(data: &[u8]) -> Reached {
    let Some((file, configuration)) = split_input(data) else {
        return Reached::Refused;
    };
    let mut image = file.to_vec();
    sections::refresh_checksums(&mut image, MODEL_FILE.header_bytes);
    if !configuration.is_empty() {
        match weights::with_metadata(&image, configuration) {
            Ok(rewritten) => image = rewritten,
            Err(_) => return Reached::Refused,
        }
    }
    let Ok(stack) = GnnStack::from_bytes(&image) else {
        return Reached::Refused;
    };
    // A cycle, a node with three neighbours and an isolated one.
    let lists = [vec![1, 2], vec![0], vec![0, 1, 3], vec![]];
    let graph = Graph::new(Adjacency::from_lists(&lists).expect("a valid graph"));
    let features = Array2::from_shape_fn((lists.len(), stack.input_dim()), |(row, col)| {
        ((row * 7 + col * 3) % 11) as f32 / 11.0 - 0.5
    });
    match stack.forward(&graph, features.view()) {
        Ok(output) => {
            assert_eq!(
                output.dim(),
                (lists.len(), stack.output_dim()),
                "a forward pass gives one row of the output width per node"
            );
            Reached::Used
        }
        Err(_) => Reached::Parsed,
    }
}

/// Every layer kind and aggregator, with and without layer norm,
/// residuals and dropout, one stack mixing kinds; each saved as `f32`,
/// `f16` and `int8`, its configuration beside it (and for `f32` once
/// without, as saved).
pub fn seeds() -> Result<Vec<Seed>> {
    let models: [(&str, &str, Value); 6] = [
        (
            "gcn",
            "gcn",
            json!({
                "inputDim": 4,
                "outputDim": 4,
                "layerNorm": true,
                "residual": true,
                "dropout": 0.1,
                "seed": 1,
            }),
        ),
        (
            "gat-concat",
            "gat",
            json!({ "inputDim": 4, "outputDim": 4, "numHeads": 2, "activation": "elu", "seed": 2 }),
        ),
        (
            "gat-mean",
            "gat",
            json!({
                "inputDim": 4,
                "outputDim": 3,
                "numHeads": 2,
                "concatHeads": false,
                "selfLoops": false,
                "seed": 3,
            }),
        ),
        (
            "sage-mean",
            "sage",
            json!({
                "inputDim": 4,
                "hiddenDim": 5,
                "outputDim": 3,
                "sampleSizes": [2, 2],
                "normalize": true,
                "seed": 4,
            }),
        ),
        (
            "sage-lstm",
            "sage",
            json!({
                "inputDim": 3,
                "outputDim": 3,
                "numLayers": 1,
                "aggregator": "lstm",
                "seed": 5,
            }),
        ),
        (
            "sage-max",
            "sage",
            json!({
                "inputDim": 3,
                "outputDim": 2,
                "aggregator": "max",
                "activation": "tanh",
                "layerNorm": true,
                "seed": 6,
            }),
        ),
    ];
    let mut stacks = Vec::new();
    for (name, kind, options) in models {
        stacks.push((
            name,
            Model::from_options(ModelKind::parse(kind)?, &options)?
                .stack()
                .clone(),
        ));
    }
    // GCN, GAT and a summing GraphSAGE block in one stack.
    let blocks = stacks
        .iter()
        .filter(|(name, _)| ["gcn", "gat-concat"].contains(name))
        .flat_map(|(_, stack)| stack.blocks.clone())
        .chain(
            Model::from_options(
                ModelKind::Sage,
                &json!({
                    "inputDim": 4,
                    "outputDim": 2,
                    "numLayers": 1,
                    "aggregator": "sum",
                    "seed": 7,
                }),
            )?
            .stack()
            .blocks
            .clone(),
        )
        .collect();
    stacks.push(("mixed", GnnStack::new(blocks, 8)?));
    let dir = ScratchDir::new("weight-seeds");
    let mut seeds = Vec::new();
    for (name, stack) in &stacks {
        for (type_name, weight_type) in [
            ("f32", WeightType::F32),
            ("f16", WeightType::F16),
            ("int8", WeightType::Int8),
        ] {
            let path = dir.0.join(format!("{name}-{type_name}.hgnnmodel"));
            stack.save(&path, weight_type)?;
            let file = std::fs::read(&path)
                .map_err(|e| crate::error::Error::io("cannot read", &path, e))?;
            let configuration = WeightFile::from_bytes(&file)?
                .metadata()
                .as_bytes()
                .to_vec();
            seeds.push((
                format!("{name}-{type_name}"),
                join_input(&file, &configuration),
            ));
            if weight_type == WeightType::F32 {
                // The file's own configuration.
                seeds.push((
                    format!("{name}-{type_name}-as-saved"),
                    join_input(&file, &[]),
                ));
            }
        }
    }
    Ok(seeds)
}
