//! GraphSAGE's LSTM aggregator: each node runs an LSTM over its sources'
//! features, in the order of its adjacency row (HNSW lists are nearest
//! first; sampled rows keep that order), and takes the last hidden state.
//! Gates are laid out `[input | forget | cell | output]`:
//!
//! ```text
//! z_t = x_t · W_in + b + h_{t-1} · W_hidden
//! c_t = σ(z_f) ⊙ c_{t-1} + σ(z_i) ⊙ tanh(z_g)
//! h_t = σ(z_o) ⊙ tanh(c_t)
//! ```
//!
//! `x · W_in + b` is one matrix product over all source nodes, shared by
//! every edge that reads the node; only the recurrence runs per edge, in
//! parallel over destination rows. Backward is backpropagation through
//! each row's sequence, with the per-edge input gradients summed back to
//! their sources over the transposed graph.

use super::adjacency::{check_rows, edge_rows, Adjacency};
use super::tensor::{Linear, LinearGradients};
use crate::error::Result;
use ndarray::{Array2, ArrayView2};
use rayon::prelude::*;

#[derive(Clone, Debug, PartialEq)]
pub struct LstmAggregator {
    /// `input_dim → 4 · hidden`, with the gates' bias.
    pub input: Linear,
    /// `hidden → 4 · hidden`, no bias.
    pub hidden: Linear,
}

/// What [`LstmAggregator::backward`] needs, and the output.
#[derive(Clone, Debug)]
pub struct LstmCache {
    pub output: Array2<f32>,
    /// `(edges, 4 · hidden)`: gate activations per step, in CSR order.
    gates: Array2<f32>,
    /// `(edges, hidden)`: cell and hidden state after each step.
    cells: Array2<f32>,
    hiddens: Array2<f32>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct LstmGradients {
    pub input: LinearGradients,
    pub hidden: Array2<f32>,
}

impl LstmGradients {
    /// In the order of [`LstmAggregator::parameters_mut`].
    pub fn slices(&self) -> Vec<&[f32]> {
        let mut slices = self.input.slices();
        slices.push(self.hidden.as_slice().expect("gradients are contiguous"));
        slices
    }
}

fn sigmoid(x: f32) -> f32 {
    1.0 / (1.0 + (-x).exp())
}

impl LstmAggregator {
    /// The hidden width equals the input width, as in GraphSAGE.
    pub fn new(input_dim: usize, seed: u64) -> Result<LstmAggregator> {
        let mut input = Linear::new(input_dim, 4 * input_dim, true, seed)?;
        // A forget-gate bias of 1 keeps early gradients alive (Jozefowicz
        // et al., 2015).
        if let Some(bias) = input.bias.as_mut() {
            bias.slice_mut(ndarray::s![input_dim..2 * input_dim])
                .fill(1.0);
        }
        Ok(LstmAggregator {
            input,
            hidden: Linear::new(input_dim, 4 * input_dim, false, seed ^ 0x157D)?,
        })
    }

    pub fn width(&self) -> usize {
        self.hidden.input_dim()
    }

    pub fn parameters_mut(&mut self) -> Vec<&mut [f32]> {
        let mut parameters = self.input.parameters_mut();
        parameters.extend(self.hidden.parameters_mut());
        parameters
    }

    /// The last hidden state of each row's sequence (zeros for a row
    /// without sources), with what backward needs.
    pub fn forward_train(
        &self,
        graph: &Adjacency,
        features: ArrayView2<'_, f32>,
    ) -> Result<LstmCache> {
        check_rows(&features, graph.num_sources(), "the feature matrix")?;
        let width = self.width();
        let projected = self.input.forward(features)?;
        let hidden_weight = self.hidden.weight.view();
        let edges = graph.num_edges();
        let mut output = Array2::<f32>::zeros((graph.num_nodes(), width));
        let mut gates = Array2::<f32>::zeros((edges, 4 * width));
        let mut cells = Array2::<f32>::zeros((edges, width));
        let mut hiddens = Array2::<f32>::zeros((edges, width));
        let gate_rows = edge_rows(graph, gates.as_slice_mut().expect("fresh"), 4 * width);
        let cell_rows = edge_rows(graph, cells.as_slice_mut().expect("fresh"), width);
        let hidden_rows = edge_rows(graph, hiddens.as_slice_mut().expect("fresh"), width);
        output
            .as_slice_mut()
            .expect("fresh")
            .par_chunks_mut(width)
            .zip(gate_rows)
            .zip(cell_rows)
            .zip(hidden_rows)
            .enumerate()
            .for_each(|(node, (((output, row_gates), row_cells), row_hiddens))| {
                let mut z = vec![0f32; 4 * width];
                let mut h = vec![0f32; width];
                let mut c = vec![0f32; width];
                for (t, &j) in graph.sources(node).iter().enumerate() {
                    z.copy_from_slice(projected.row(j as usize).as_slice().expect("fresh"));
                    for (k, &hk) in h.iter().enumerate() {
                        if hk != 0.0 {
                            let weights = hidden_weight.row(k);
                            for (z, &w) in z.iter_mut().zip(weights.iter()) {
                                *z += hk * w;
                            }
                        }
                    }
                    let step_gates = &mut row_gates[t * 4 * width..(t + 1) * 4 * width];
                    for (u, &zu) in z.iter().enumerate() {
                        step_gates[u] = if u / width == 2 {
                            zu.tanh()
                        } else {
                            sigmoid(zu)
                        };
                    }
                    let (i, rest) = step_gates.split_at(width);
                    let (f, rest) = rest.split_at(width);
                    let (g, o) = rest.split_at(width);
                    for k in 0..width {
                        c[k] = f[k] * c[k] + i[k] * g[k];
                        h[k] = o[k] * c[k].tanh();
                    }
                    row_cells[t * width..(t + 1) * width].copy_from_slice(&c);
                    row_hiddens[t * width..(t + 1) * width].copy_from_slice(&h);
                }
                output.copy_from_slice(&h);
            });
        Ok(LstmCache {
            output,
            gates,
            cells,
            hiddens,
        })
    }

    /// Gradients of the parameters and of the input features, given the
    /// gradient of the output.
    pub fn backward(
        &self,
        graph: &Adjacency,
        features: ArrayView2<'_, f32>,
        cache: &LstmCache,
        output_gradient: ArrayView2<'_, f32>,
    ) -> Result<(Array2<f32>, LstmGradients)> {
        check_rows(&output_gradient, graph.num_nodes(), "the output gradient")?;
        let width = self.width();
        let hidden_weight = self.hidden.weight.view();
        // dz per edge, written by the row that owns the edge.
        let mut step_gradients = Array2::<f32>::zeros((graph.num_edges(), 4 * width));
        let hidden_gradient = edge_rows(
            graph,
            step_gradients.as_slice_mut().expect("fresh"),
            4 * width,
        )
        .into_par_iter()
        .enumerate()
        .fold(
            || Array2::<f32>::zeros((width, 4 * width)),
            |mut hidden_gradient, (node, row_gradients)| {
                let range = graph.edge_range(node);
                let steps = range.len();
                let mut dh = output_gradient.row(node).to_vec();
                let mut dc = vec![0f32; width];
                let mut dh_previous = vec![0f32; width];
                for t in (0..steps).rev() {
                    let e = range.start + t;
                    let gates = cache.gates.row(e);
                    let c = cache.cells.row(e);
                    let dz = &mut row_gradients[t * 4 * width..(t + 1) * 4 * width];
                    for k in 0..width {
                        let (i, f, g, o) = (
                            gates[k],
                            gates[width + k],
                            gates[2 * width + k],
                            gates[3 * width + k],
                        );
                        let c_previous = if t > 0 { cache.cells[[e - 1, k]] } else { 0.0 };
                        let tanh_c = c[k].tanh();
                        dc[k] += dh[k] * o * (1.0 - tanh_c * tanh_c);
                        dz[k] = dc[k] * g * i * (1.0 - i);
                        dz[width + k] = dc[k] * c_previous * f * (1.0 - f);
                        dz[2 * width + k] = dc[k] * i * (1.0 - g * g);
                        dz[3 * width + k] = dh[k] * tanh_c * o * (1.0 - o);
                        dc[k] *= f;
                    }
                    if t > 0 {
                        let h_previous = cache.hiddens.row(e - 1);
                        for (k, &hk) in h_previous.iter().enumerate() {
                            let weights = hidden_weight.row(k);
                            let mut sum = 0.0;
                            for ((gw, &w), &d) in hidden_gradient
                                .row_mut(k)
                                .iter_mut()
                                .zip(weights.iter())
                                .zip(dz.iter())
                            {
                                *gw += hk * d;
                                sum += w * d;
                            }
                            dh_previous[k] = sum;
                        }
                        std::mem::swap(&mut dh, &mut dh_previous);
                    }
                }
                hidden_gradient
            },
        )
        .reduce(|| Array2::<f32>::zeros((width, 4 * width)), |a, b| a + b);
        // Each edge's dz flows to the projection of its source.
        let (transposed, original_edge) = graph.transpose_edges();
        let mut projected_gradient = Array2::<f32>::zeros((graph.num_sources(), 4 * width));
        projected_gradient
            .as_slice_mut()
            .expect("fresh")
            .par_chunks_mut(4 * width)
            .enumerate()
            .for_each(|(j, out)| {
                for e in transposed.edge_range(j) {
                    let step = step_gradients.row(original_edge[e] as usize);
                    for (o, &g) in out.iter_mut().zip(step.iter()) {
                        *o += g;
                    }
                }
            });
        let (input_gradient, input) = self.input.backward(features, projected_gradient.view());
        Ok((
            input_gradient,
            LstmGradients {
                input,
                hidden: hidden_gradient,
            },
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gnn::gradcheck::{
        flat, numeric_gradients, probe_loss, random_matrix, to_f64, GradCheck,
    };
    use crate::gnn::reference::{edges, LstmRef};
    use crate::rng::SplitMix64;

    #[test]
    fn lstm_backward_matches_an_f64_reference_for_input_and_every_weight() {
        let mut check = GradCheck::new("lstm backward");
        for seed in 0..5 {
            let mut rng = SplitMix64::new(seed);
            let (nodes, width) = (5 + rng.below(6), 2 + rng.below(4));
            // Rows of 0 to 4 sources with repeats; row 0 stays empty.
            let lists: Vec<Vec<u32>> = (0..nodes)
                .map(|i| {
                    let length = if i == 0 { 0 } else { rng.below(5) };
                    (0..length).map(|_| rng.below(nodes) as u32).collect()
                })
                .collect();
            let graph = Adjacency::from_lists(&lists).unwrap();
            let edges = edges(&graph);
            let mut lstm = LstmAggregator::new(width, seed).unwrap();
            for w in lstm.hidden.weight.make_mut().iter_mut() {
                *w *= 3.0; // a strong recurrence, so dh through time matters
            }
            let x = random_matrix(nodes, width, &mut rng);
            let probe = random_matrix(nodes, width, &mut rng);
            let cache = lstm.forward_train(&graph, x.view()).unwrap();
            assert!(cache.output.row(0).iter().all(|&v| v == 0.0));
            let (dx, grads) = lstm
                .backward(&graph, x.view(), &cache, probe.view())
                .unwrap();
            let what = format!("seed {seed} width {width}");
            let point = (to_f64(&x), LstmRef::of(&lstm));
            let reference = |(x, lstm): &(Array2<f64>, LstmRef)| lstm.forward(&edges, x);
            check.forward(&what, &cache.output, &reference(&point));
            let probe = to_f64(&probe);
            let numeric = numeric_gradients(&point, |p| probe_loss(&reference(p), &probe));
            check.tensors(
                &what,
                &["dx", "dW_in", "db", "dW_hidden"],
                &[
                    flat(&dx),
                    flat(&grads.input.weight),
                    flat(grads.input.bias.as_ref().unwrap()),
                    flat(&grads.hidden),
                ],
                &numeric,
            );
        }
        check.finish();
    }

    #[test]
    fn the_sequence_order_matters_and_matches_a_step_by_step_lstm() {
        let mut rng = SplitMix64::new(4);
        let lstm = LstmAggregator::new(2, 9).unwrap();
        let x = Array2::from_shape_fn((3, 2), |_| rng.gaussian());
        let forward = Adjacency::from_lists(&[vec![1, 2], vec![], vec![]]).unwrap();
        let reverse = Adjacency::from_lists(&[vec![2, 1], vec![], vec![]]).unwrap();
        let a = lstm.forward_train(&forward, x.view()).unwrap().output;
        let b = lstm.forward_train(&reverse, x.view()).unwrap().output;
        assert!((&a - &b).iter().any(|d| d.abs() > 1e-4));
        // The textbook recurrence, written out for the one row.
        let (w_in, w_h) = (lstm.input.weight.view(), lstm.hidden.weight.view());
        let bias = lstm.input.bias.as_ref().unwrap();
        let (mut h, mut c) = ([0f32; 2], [0f32; 2]);
        for j in [1, 2] {
            let mut z = [0f32; 8];
            for (u, z) in z.iter_mut().enumerate() {
                *z = bias[u]
                    + (0..2).map(|k| x[[j, k]] * w_in[[k, u]]).sum::<f32>()
                    + (0..2).map(|k| h[k] * w_h[[k, u]]).sum::<f32>();
            }
            for k in 0..2 {
                c[k] = sigmoid(z[2 + k]) * c[k] + sigmoid(z[k]) * z[4 + k].tanh();
                h[k] = sigmoid(z[6 + k]) * c[k].tanh();
            }
        }
        for k in 0..2 {
            assert!((a[[0, k]] - h[k]).abs() < 1e-5, "{} vs {}", a[[0, k]], h[k]);
        }
    }
}
