//! What clicks say, as the trainer reads them: how strong the users'
//! position bias is, how much each learned part is worth next to the base
//! score, and whether the learned part separates clicked from not clicked
//! better than chance — the guardrail. Everything here works on plain
//! numbers, so each piece is tested on its own.

/// One held-back session: per shown item (holes left out), the base
/// score, the learned parts `[⟨q, e_i⟩, m_i(q), cos(T q, h_i)]`, and
/// whether it was clicked.
pub struct Judgement {
    pub base: Vec<f32>,
    pub parts: Vec<[f32; 3]>,
    pub clicked: Vec<bool>,
}

impl Judgement {
    /// Every (clicked, not clicked) pair of shown items.
    fn pairs(&self) -> impl Iterator<Item = (usize, usize)> + '_ {
        let n = self.clicked.len();
        (0..n)
            .filter(|&a| self.clicked[a])
            .flat_map(move |a| (0..n).filter(|&b| !self.clicked[b]).map(move |b| (a, b)))
    }
}

/// The exponent η of click-through ∝ rank^-η fitted (least squares on
/// logs) to click rates per position: what the users' position bias is, at
/// most (relevance falls with rank too). Clicks that ignore position
/// (random ones) give η ≈ 0.
pub fn position_bias(shown: &[f64; 10], clicked: &[f64; 10]) -> f32 {
    let points: Vec<(f64, f64)> = (0..10)
        .filter(|&r| shown[r] >= 20.0 && clicked[r] > 0.0)
        .map(|r| (((r + 1) as f64).ln(), (clicked[r] / shown[r]).ln()))
        .collect();
    if points.len() < 3 {
        return 0.0;
    }
    let n = points.len() as f64;
    let mx = points.iter().map(|p| p.0).sum::<f64>() / n;
    let my = points.iter().map(|p| p.1).sum::<f64>() / n;
    let sxy: f64 = points.iter().map(|p| (p.0 - mx) * (p.1 - my)).sum();
    let sxx: f64 = points.iter().map(|p| (p.0 - mx) * (p.0 - mx)).sum();
    if sxx <= 0.0 {
        return 0.0;
    }
    (-sxy / sxx).clamp(0.0, 4.0) as f32
}

/// How well δ = blend · parts orders a session's clicked items above its
/// shown-and-not-clicked ones: the share of pairs in the right order, ties
/// counting half; `None` without a pair. Position plays no part, so clicks
/// that ignore the items give 0.5 in expectation whatever the model.
pub fn session_auc(j: &Judgement, blend: super::model::Blend) -> Option<f64> {
    let delta: Vec<f32> = j
        .parts
        .iter()
        .map(|f| blend.encoding * f[0] + blend.memory * f[1] + blend.metric * f[2])
        .collect();
    let (mut right, mut pairs) = (0.0f64, 0usize);
    for (a, b) in j.pairs() {
        pairs += 1;
        right += match delta[a].total_cmp(&delta[b]) {
            std::cmp::Ordering::Greater => 1.0,
            std::cmp::Ordering::Equal => 0.5,
            std::cmp::Ordering::Less => 0.0,
        };
    }
    (pairs > 0).then(|| right / pairs as f64)
}

/// Mean per-session AUC minus one half, and its z over the standard error
/// across sessions (capped at ±100, reached when every session agrees).
pub fn auc_test(aucs: &[f64]) -> (f64, f64) {
    if aucs.len() < 2 {
        return (0.0, 0.0);
    }
    let n = aucs.len() as f64;
    let mean = aucs.iter().sum::<f64>() / n;
    let var = aucs.iter().map(|a| (a - mean) * (a - mean)).sum::<f64>() / (n - 1.0);
    let gain = mean - 0.5;
    let z = if var > 0.0 {
        (gain / (var / n).sqrt()).clamp(-100.0, 100.0)
    } else {
        gain.signum() * 100.0
    };
    (gain, z)
}

/// Features of one pair: differences of the base score and of each
/// learned part. (A position term to soak up position bias was tried: the
/// shown order follows the base score, so the two are nearly collinear
/// and the base score's weight became unstable.)
const FEATURES: usize = 4;

/// Pairwise logistic regression (no intercept, L2 1e-3 on standardised
/// features, Newton steps) of clicked-over-not-clicked on the pair
/// features; returns each learned part's weight relative to the base
/// score's. When clicks do not follow the base score at all, every part
/// that predicts them gets +∞ (the caller caps it).
pub fn fit_blend(sessions: &[&Judgement]) -> [f32; 3] {
    const F: usize = FEATURES;
    let pairs: Vec<[f64; F]> = sessions
        .iter()
        .flat_map(|j| {
            j.pairs().map(move |(a, b)| {
                let (fa, fb) = (&j.parts[a], &j.parts[b]);
                [
                    (j.base[a] - j.base[b]) as f64,
                    (fa[0] - fb[0]) as f64,
                    (fa[1] - fb[1]) as f64,
                    (fa[2] - fb[2]) as f64,
                ]
            })
        })
        .collect();
    if pairs.len() < 20 {
        return [0.0; 3];
    }
    let n = pairs.len() as f64;
    let spread: Vec<f64> = (0..F)
        .map(|k| {
            (pairs.iter().map(|x| x[k] * x[k]).sum::<f64>() / n)
                .sqrt()
                .max(1e-12)
        })
        .collect();
    let mut w = [0.0f64; F];
    for _ in 0..25 {
        let mut gradient = vec![0.0f64; F];
        let mut hessian = vec![vec![0.0f64; F]; F];
        for x in &pairs {
            let z: Vec<f64> = x.iter().zip(&spread).map(|(x, s)| x / s).collect();
            let margin: f64 = w.iter().zip(&z).map(|(w, z)| w * z).sum();
            let p = 1.0 / (1.0 + (-margin).exp());
            for (k, row) in hessian.iter_mut().enumerate() {
                gradient[k] += (1.0 - p) * z[k];
                for (l, h) in row.iter_mut().enumerate() {
                    *h += p * (1.0 - p) * z[k] * z[l];
                }
            }
        }
        for (k, row) in hessian.iter_mut().enumerate() {
            gradient[k] = gradient[k] / n - 1e-3 * w[k];
            for (l, h) in row.iter_mut().enumerate() {
                *h = *h / n + if k == l { 1e-3 } else { 0.0 };
            }
        }
        let Some(step) = solve(hessian, gradient) else {
            break;
        };
        w.iter_mut().zip(&step).for_each(|(w, s)| *w += s);
        if step.iter().map(|s| s.abs()).fold(0.0, f64::max) < 1e-6 {
            break;
        }
    }
    let raw: Vec<f64> = w.iter().zip(&spread).map(|(w, s)| w / s).collect();
    if raw.iter().any(|x| !x.is_finite()) {
        return [0.0; 3];
    }
    if raw[0] <= 0.0 {
        return [1, 2, 3].map(|k| if raw[k] > 0.0 { f32::INFINITY } else { 0.0 });
    }
    [1, 2, 3].map(|k| (raw[k] / raw[0]) as f32)
}

/// Solves the small system `a x = b` by Gaussian elimination with partial
/// pivoting; `None` if singular.
fn solve(mut a: Vec<Vec<f64>>, mut b: Vec<f64>) -> Option<Vec<f64>> {
    let n = b.len();
    for col in 0..n {
        let pivot = (col..n).max_by(|&i, &j| a[i][col].abs().total_cmp(&a[j][col].abs()))?;
        if a[pivot][col].abs() < 1e-12 {
            return None;
        }
        a.swap(col, pivot);
        b.swap(col, pivot);
        let pivot_row = a[col].clone();
        for row in col + 1..n {
            let f = a[row][col] / pivot_row[col];
            for (x, p) in a[row][col..].iter_mut().zip(&pivot_row[col..]) {
                *x -= f * p;
            }
            b[row] -= f * b[col];
        }
    }
    let mut x = vec![0.0f64; n];
    for row in (0..n).rev() {
        let s: f64 = (row + 1..n).map(|k| a[row][k] * x[k]).sum();
        x[row] = (b[row] - s) / a[row][row];
    }
    Some(x)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::learn::Blend;
    use crate::rng::SplitMix64;

    /// Sessions of 10 shown items where an item is clicked with probability
    /// rising with `part` (a learned signal) and not with position.
    fn sessions(signal: f32, seed: u64) -> Vec<Judgement> {
        let mut rng = SplitMix64::new(seed);
        (0..400)
            .map(|_| {
                let base: Vec<f32> = (0..10).map(|r| 0.9 - 0.01 * r as f32).collect();
                let parts: Vec<[f32; 3]> = (0..10).map(|_| [0.0, 0.0, rng.gaussian()]).collect();
                let clicked = parts
                    .iter()
                    .map(|p| rng.next_f32() < 0.2 + signal * p[2].clamp(-1.0, 1.0) * 0.15)
                    .collect();
                Judgement {
                    base,
                    parts,
                    clicked,
                }
            })
            .collect()
    }

    #[test]
    fn the_guardrail_passes_a_real_signal_and_not_noise() {
        let blend = Blend {
            encoding: 0.0,
            memory: 0.0,
            metric: 1.0,
        };
        let aucs = |js: &[Judgement]| {
            js.iter()
                .filter_map(|j| session_auc(j, blend))
                .collect::<Vec<_>>()
        };
        let (gain, z) = auc_test(&aucs(&sessions(1.0, 1)));
        assert!(gain > 0.05 && z > 5.0, "signal: gain {gain}, z {z}");
        let mut passed = 0;
        for seed in 0..100 {
            let (_, z) = auc_test(&aucs(&sessions(0.0, 100 + seed)));
            passed += (z >= 2.33) as u32;
        }
        assert!(
            passed <= 5,
            "noise passed {passed} of 100 times at z >= 2.33"
        );
    }

    #[test]
    fn the_blend_fit_weighs_a_predictive_part_and_not_a_useless_one() {
        let js = sessions(1.0, 2);
        let refs: Vec<&Judgement> = js.iter().collect();
        let w = fit_blend(&refs);
        assert!(w[2] > 0.0, "the predictive part gets weight: {w:?}");
        assert_eq!(w[0], 0.0, "a constant part gets none");
    }

    #[test]
    fn position_bias_is_found_only_where_clicks_follow_position() {
        let shown = [1000.0; 10];
        let biased: [f64; 10] = std::array::from_fn(|r| 300.0 / ((r + 1) as f64).powf(0.8));
        assert!((position_bias(&shown, &biased) - 0.8).abs() < 1e-3);
        assert!(position_bias(&shown, &[100.0; 10]).abs() < 1e-6);
    }
}
