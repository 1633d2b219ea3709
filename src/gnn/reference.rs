//! f64 reference forward passes for the gradient checks (`gradcheck.rs`):
//! each layer written from its definition with plain loops over nodes,
//! edges and features. They read only the graph's edge lists and the
//! layer's parameter values (cast to f64) and call none of the crate's
//! kernels (`matmul`, `aggregate`, GCN normalisation, self loops), so a
//! backward pass checked against them is checked against the mathematics,
//! not against the forward code it was derived with.

use super::gradcheck::{to_f64, Tensors};
use super::{
    Activation, Adjacency, Aggregation, Gat, Gcn, LayerNorm, Linear, LstmAggregator,
    NeighborAggregator, Sage,
};
use ndarray::{Array1, Array2};

pub type Mat = Array2<f64>;
pub type Vector = Array1<f64>;

/// Each destination's incoming edges, `(source, weight)` in row order.
pub type Edges = Vec<Vec<(usize, f64)>>;

/// The edge lists of `graph`, read from its rows (weight 1 when
/// unweighted).
pub fn edges(graph: &Adjacency) -> Edges {
    (0..graph.num_nodes())
        .map(|i| {
            let weights = graph.weights(i);
            graph
                .sources(i)
                .iter()
                .enumerate()
                .map(|(k, &j)| (j as usize, weights.map_or(1.0, |w| w[k] as f64)))
                .collect()
        })
        .collect()
}

/// `edges` with an edge `i → i` of weight 1 appended to every row that has
/// none (`A + I` where `A` has no loop).
pub fn with_self_loops(edges: &Edges) -> Edges {
    edges
        .iter()
        .enumerate()
        .map(|(i, row)| {
            let mut row = row.clone();
            if !row.iter().any(|&(j, _)| j == i) {
                row.push((i, 1.0));
            }
            row
        })
        .collect()
}

/// The activation's definition (GELU in its tanh approximation, as the
/// crate defines it).
pub fn activate(activation: Activation, x: f64) -> f64 {
    match activation {
        Activation::None => x,
        Activation::Relu => x.max(0.0),
        Activation::LeakyRelu(slope) => {
            if x > 0.0 {
                x
            } else {
                slope as f64 * x
            }
        }
        Activation::Elu(alpha) => {
            if x > 0.0 {
                x
            } else {
                alpha as f64 * (x.exp() - 1.0)
            }
        }
        Activation::Gelu => {
            let c = (2.0 / std::f64::consts::PI).sqrt();
            0.5 * x * (1.0 + (c * (x + 0.044715 * x * x * x)).tanh())
        }
        Activation::Tanh => x.tanh(),
    }
}

/// How far `x` is from a point where the activation's derivative jumps
/// (infinite for smooth ones): finite differences are only valid farther
/// away than their step.
pub fn kink_distance(activation: Activation, x: f64) -> f64 {
    match activation {
        Activation::Relu | Activation::LeakyRelu(_) => x.abs(),
        Activation::Elu(alpha) if alpha != 1.0 => x.abs(),
        _ => f64::INFINITY,
    }
}

/// `x · w`, element by element.
pub fn matmul(x: &Mat, w: &Mat) -> Mat {
    assert_eq!(x.ncols(), w.nrows(), "reference product shapes");
    Mat::from_shape_fn((x.nrows(), w.ncols()), |(i, o)| {
        (0..x.ncols()).map(|k| x[[i, k]] * w[[k, o]]).sum()
    })
}

/// `x · w + b`.
pub fn linear(x: &Mat, w: &Mat, b: Option<&Vector>) -> Mat {
    let mut y = matmul(x, w);
    if let Some(b) = b {
        for mut row in y.rows_mut() {
            row.iter_mut().zip(b).for_each(|(y, b)| *y += b);
        }
    }
    y
}

/// A linear map's weight and bias as f64.
fn weight_and_bias(linear: &Linear) -> (Mat, Option<Vector>) {
    (
        to_f64(&linear.weight.view()),
        linear.bias.as_ref().map(to_f64),
    )
}

/// `output[i][c] = reduce over edges (j, w) of row i of w · x[j][c]`
/// (0 for a row without edges).
pub fn aggregate(edges: &Edges, x: &Mat, aggregation: Aggregation) -> Mat {
    Mat::from_shape_fn((edges.len(), x.ncols()), |(i, c)| {
        let messages = edges[i].iter().map(|&(j, w)| w * x[[j, c]]);
        if edges[i].is_empty() {
            return 0.0;
        }
        match aggregation {
            Aggregation::Sum => messages.sum(),
            Aggregation::Mean => messages.sum::<f64>() / edges[i].len() as f64,
            Aggregation::Max => messages.fold(f64::NEG_INFINITY, f64::max),
        }
    })
}

/// The smallest gap between a max aggregation's winning message and any
/// other message that would move differently under a nudge (another
/// source or weight; a repeated edge is the same function and cannot
/// straddle a tie). Finite differences of a max are valid only where this
/// exceeds their step.
pub fn max_tie_margin(edges: &Edges, x: &Mat) -> f64 {
    let mut margin = f64::INFINITY;
    for row in edges {
        for c in 0..x.ncols() {
            let message = |&(j, w): &(usize, f64)| w * x[[j, c]];
            let Some(best) = row.iter().max_by(|a, b| message(a).total_cmp(&message(b))) else {
                continue;
            };
            for edge in row {
                if edge != best {
                    margin = margin.min(message(best) - message(edge));
                }
            }
        }
    }
    margin
}

/// Graph convolution: `σ(Σ_j w_ij / sqrt(d_i d_j) · x_j W + b)` over the
/// rows of `A` (plus a loop where a node has none, if `self_loops`), with
/// `d` a node's weighted in-degree in that graph (a node of degree 0
/// contributes nothing).
#[derive(Clone)]
pub struct GcnRef {
    pub weight: Mat,
    pub bias: Option<Vector>,
    pub activation: Activation,
    pub self_loops: bool,
}

impl GcnRef {
    pub fn of(layer: &Gcn) -> GcnRef {
        let (weight, bias) = weight_and_bias(&layer.linear);
        GcnRef {
            weight,
            bias,
            activation: layer.activation,
            self_loops: layer.self_loops,
        }
    }

    pub fn pre_activation(&self, edges: &Edges, x: &Mat) -> Mat {
        let rows = if self.self_loops {
            with_self_loops(edges)
        } else {
            edges.clone()
        };
        let degree: Vec<f64> = rows
            .iter()
            .map(|row| row.iter().map(|&(_, w)| w).sum())
            .collect();
        let inverse_sqrt = |d: f64| if d > 0.0 { 1.0 / d.sqrt() } else { 0.0 };
        let projected = matmul(x, &self.weight);
        let mut out = Mat::zeros((rows.len(), self.weight.ncols()));
        for (i, row) in rows.iter().enumerate() {
            for &(j, w) in row {
                let coefficient = w * inverse_sqrt(degree[i]) * inverse_sqrt(degree[j]);
                for o in 0..out.ncols() {
                    out[[i, o]] += coefficient * projected[[j, o]];
                }
            }
            if let Some(bias) = &self.bias {
                for o in 0..out.ncols() {
                    out[[i, o]] += bias[o];
                }
            }
        }
        out
    }

    pub fn forward(&self, edges: &Edges, x: &Mat) -> Mat {
        self.pre_activation(edges, x)
            .mapv(|v| activate(self.activation, v))
    }
}

impl Tensors for GcnRef {
    fn tensors_mut(&mut self) -> Vec<&mut [f64]> {
        let mut tensors = self.weight.tensors_mut();
        tensors.extend(self.bias.tensors_mut());
        tensors
    }
}

/// Multi-head graph attention: per head `h`, `z = x W` restricted to the
/// head's columns, `e_ij = LeakyReLU(a_src · z_j + a_dst · z_i)` over the
/// edges of row `i` (edge weights play no part), `α = softmax_j e_ij`,
/// `out_i = Σ α_ij z_j`; heads concatenated or averaged, then bias and
/// activation. A row without edges gets the bias alone.
#[derive(Clone)]
pub struct GatRef {
    pub projection: Mat,
    pub attention_source: Mat,
    pub attention_destination: Mat,
    pub bias: Vector,
    pub heads: usize,
    pub concat_heads: bool,
    pub negative_slope: f64,
    pub activation: Activation,
}

impl GatRef {
    pub fn of(layer: &Gat) -> GatRef {
        assert!(layer.projection.bias.is_none(), "GAT adds its bias last");
        GatRef {
            projection: to_f64(&layer.projection.weight.view()),
            attention_source: to_f64(&layer.attention_source),
            attention_destination: to_f64(&layer.attention_destination),
            bias: to_f64(&layer.bias),
            heads: layer.heads,
            concat_heads: layer.concat_heads,
            negative_slope: layer.negative_slope as f64,
            activation: layer.activation,
        }
    }

    pub fn forward(&self, edges: &Edges, x: &Mat) -> Mat {
        self.forward_with_margin(edges, x).0
    }

    /// The output, and the smallest `|a_src · z_j + a_dst · z_i|` over the
    /// edges and heads: how far the scores are from LeakyReLU's kink.
    pub fn forward_with_margin(&self, edges: &Edges, x: &Mat) -> (Mat, f64) {
        let z = matmul(x, &self.projection);
        let width = self.attention_source.ncols();
        let score = |attention: &Mat, node: usize, h: usize| -> f64 {
            (0..width)
                .map(|c| attention[[h, c]] * z[[node, h * width + c]])
                .sum()
        };
        let mut out = Mat::zeros((edges.len(), self.bias.len()));
        let mut margin = f64::INFINITY;
        for (i, row) in edges.iter().enumerate() {
            for h in 0..self.heads {
                let destination = score(&self.attention_destination, i, h);
                let raw: Vec<f64> = row
                    .iter()
                    .map(|&(j, _)| score(&self.attention_source, j, h) + destination)
                    .collect();
                margin = raw.iter().fold(margin, |m, e| m.min(e.abs()));
                let e: Vec<f64> = raw
                    .iter()
                    .map(|&e| activate(Activation::LeakyRelu(self.negative_slope as f32), e))
                    .collect();
                let max = e.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
                let total: f64 = e.iter().map(|e| (e - max).exp()).sum();
                for (k, &(j, _)) in row.iter().enumerate() {
                    let alpha = (e[k] - max).exp() / total;
                    for c in 0..width {
                        let message = alpha * z[[j, h * width + c]];
                        if self.concat_heads {
                            out[[i, h * width + c]] += message;
                        } else {
                            out[[i, c]] += message / self.heads as f64;
                        }
                    }
                }
            }
            for o in 0..self.bias.len() {
                out[[i, o]] = activate(self.activation, out[[i, o]] + self.bias[o]);
            }
        }
        (out, margin)
    }
}

impl Tensors for GatRef {
    fn tensors_mut(&mut self) -> Vec<&mut [f64]> {
        let mut tensors = self.projection.tensors_mut();
        tensors.extend(self.attention_source.tensors_mut());
        tensors.extend(self.attention_destination.tensors_mut());
        tensors.extend(self.bias.tensors_mut());
        tensors
    }
}

fn sigmoid(x: f64) -> f64 {
    1.0 / (1.0 + (-x).exp())
}

/// The LSTM aggregator: per destination, an LSTM over its sources' features
/// in row order (edge weights play no part), gates `[i | f | g | o]`,
///
/// ```text
/// z = x_j W_in + b + h W_hidden
/// c = σ(z_f) c + σ(z_i) tanh(z_g),   h = σ(z_o) tanh(c)
/// ```
///
/// from `h = c = 0`; the output is the last `h` (0 for a row without edges).
#[derive(Clone)]
pub struct LstmRef {
    pub input_weight: Mat,
    pub input_bias: Option<Vector>,
    pub hidden_weight: Mat,
}

impl LstmRef {
    pub fn of(lstm: &LstmAggregator) -> LstmRef {
        let (input_weight, input_bias) = weight_and_bias(&lstm.input);
        assert!(lstm.hidden.bias.is_none(), "the gates' bias is the input's");
        LstmRef {
            input_weight,
            input_bias,
            hidden_weight: to_f64(&lstm.hidden.weight.view()),
        }
    }

    pub fn forward(&self, edges: &Edges, x: &Mat) -> Mat {
        let width = self.hidden_weight.nrows();
        let mut out = Mat::zeros((edges.len(), width));
        for (i, row) in edges.iter().enumerate() {
            let (mut h, mut c) = (vec![0.0; width], vec![0.0; width]);
            for &(j, _) in row {
                let z: Vec<f64> = (0..4 * width)
                    .map(|u| {
                        let input: f64 = (0..x.ncols())
                            .map(|k| x[[j, k]] * self.input_weight[[k, u]])
                            .sum();
                        let recurrent: f64 =
                            (0..width).map(|k| h[k] * self.hidden_weight[[k, u]]).sum();
                        let bias = self.input_bias.as_ref().map_or(0.0, |b| b[u]);
                        input + bias + recurrent
                    })
                    .collect();
                for k in 0..width {
                    let input_gate = sigmoid(z[k]);
                    let forget_gate = sigmoid(z[width + k]);
                    let candidate = z[2 * width + k].tanh();
                    let output_gate = sigmoid(z[3 * width + k]);
                    c[k] = forget_gate * c[k] + input_gate * candidate;
                    h[k] = output_gate * c[k].tanh();
                }
            }
            for k in 0..width {
                out[[i, k]] = h[k];
            }
        }
        out
    }
}

impl Tensors for LstmRef {
    fn tensors_mut(&mut self) -> Vec<&mut [f64]> {
        let mut tensors = self.input_weight.tensors_mut();
        tensors.extend(self.input_bias.tensors_mut());
        tensors.extend(self.hidden_weight.tensors_mut());
        tensors
    }
}

/// How a [`SageRef`] summarises the neighbours.
#[derive(Clone)]
pub enum NeighborsRef {
    Reduce(Aggregation),
    Lstm(LstmRef),
}

/// GraphSAGE: `h = σ(x_i W_self + b + agg(x_N(i)) W_neigh)`, then `h / |h|`
/// if `normalize` (rows of norm ≤ 1e-12 kept). Row `i`'s own features are
/// row `i` of the input (the first rows, for a minibatch block).
#[derive(Clone)]
pub struct SageRef {
    pub self_weight: Mat,
    pub self_bias: Option<Vector>,
    pub neighbor_weight: Mat,
    pub neighbors: NeighborsRef,
    pub activation: Activation,
    pub normalize: bool,
}

impl SageRef {
    pub fn of(layer: &Sage) -> SageRef {
        let (self_weight, self_bias) = weight_and_bias(&layer.self_linear);
        assert!(
            layer.neighbor_linear.bias.is_none(),
            "the layer's bias is the self linear's"
        );
        SageRef {
            self_weight,
            self_bias,
            neighbor_weight: to_f64(&layer.neighbor_linear.weight.view()),
            neighbors: match &layer.aggregator {
                NeighborAggregator::Reduce(aggregation) => NeighborsRef::Reduce(*aggregation),
                NeighborAggregator::Lstm(lstm) => NeighborsRef::Lstm(LstmRef::of(lstm)),
            },
            activation: layer.activation,
            normalize: layer.normalize,
        }
    }

    pub fn forward(&self, edges: &Edges, x: &Mat) -> Mat {
        let rows = edges.len();
        let own = x.slice(ndarray::s![..rows, ..]).to_owned();
        let aggregated = match &self.neighbors {
            NeighborsRef::Reduce(aggregation) => aggregate(edges, x, *aggregation),
            NeighborsRef::Lstm(lstm) => lstm.forward(edges, x),
        };
        let mut h = linear(&own, &self.self_weight, self.self_bias.as_ref())
            + matmul(&aggregated, &self.neighbor_weight);
        h.mapv_inplace(|v| activate(self.activation, v));
        if self.normalize {
            for mut row in h.rows_mut() {
                let norm = row.iter().map(|v| v * v).sum::<f64>().sqrt();
                if norm > 1e-12 {
                    row.mapv_inplace(|v| v / norm);
                }
            }
        }
        h
    }
}

impl Tensors for SageRef {
    fn tensors_mut(&mut self) -> Vec<&mut [f64]> {
        let mut tensors = self.self_weight.tensors_mut();
        tensors.extend(self.self_bias.tensors_mut());
        tensors.extend(self.neighbor_weight.tensors_mut());
        if let NeighborsRef::Lstm(lstm) = &mut self.neighbors {
            tensors.extend(lstm.tensors_mut());
        }
        tensors
    }
}

/// Layer normalisation per row: `γ ⊙ (x − μ) / sqrt(σ² + ε) + β`, with the
/// population variance `σ²`.
#[derive(Clone)]
pub struct NormRef {
    pub gain: Vector,
    pub shift: Vector,
    pub epsilon: f64,
}

impl NormRef {
    pub fn of(norm: &LayerNorm) -> NormRef {
        NormRef {
            gain: to_f64(&norm.gain),
            shift: to_f64(&norm.shift),
            epsilon: norm.epsilon as f64,
        }
    }

    pub fn forward(&self, x: &Mat) -> Mat {
        let n = x.ncols() as f64;
        let mut y = Mat::zeros(x.dim());
        for (i, row) in x.rows().into_iter().enumerate() {
            let mean = row.iter().sum::<f64>() / n;
            let variance = row.iter().map(|v| (v - mean) * (v - mean)).sum::<f64>() / n;
            let scale = 1.0 / (variance + self.epsilon).sqrt();
            for (c, v) in row.iter().enumerate() {
                y[[i, c]] = self.gain[c] * (v - mean) * scale + self.shift[c];
            }
        }
        y
    }
}

impl Tensors for NormRef {
    fn tensors_mut(&mut self) -> Vec<&mut [f64]> {
        let mut tensors = self.gain.tensors_mut();
        tensors.extend(self.shift.tensors_mut());
        tensors
    }
}
