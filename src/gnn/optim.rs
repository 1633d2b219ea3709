//! Optimisers over a layer's parameters, handed over as flat `f32` slices
//! with their gradients in the same order every step.

/// Updates parameters in place from their gradients.
pub trait Optimizer {
    fn step(&mut self, parameters: &mut [&mut [f32]], gradients: &[&[f32]]);
}

/// Plain gradient descent with L2 weight decay added to the gradient.
#[derive(Clone, Debug)]
pub struct Sgd {
    pub learning_rate: f32,
    pub weight_decay: f32,
}

impl Optimizer for Sgd {
    fn step(&mut self, parameters: &mut [&mut [f32]], gradients: &[&[f32]]) {
        for (parameter, gradient) in parameters.iter_mut().zip(gradients) {
            for (p, &g) in parameter.iter_mut().zip(gradient.iter()) {
                *p -= self.learning_rate * (g + self.weight_decay * *p);
            }
        }
    }
}

/// Adam (Kingma & Ba) with decoupled weight decay (AdamW: the decay shrinks
/// weights directly rather than passing through the adaptive scaling).
#[derive(Clone, Debug)]
pub struct Adam {
    pub learning_rate: f32,
    pub beta1: f32,
    pub beta2: f32,
    pub epsilon: f32,
    pub weight_decay: f32,
    steps: i32,
    first_moments: Vec<Vec<f32>>,
    second_moments: Vec<Vec<f32>>,
}

impl Adam {
    pub fn new(learning_rate: f32) -> Adam {
        Adam {
            learning_rate,
            beta1: 0.9,
            beta2: 0.999,
            epsilon: 1e-8,
            weight_decay: 0.0,
            steps: 0,
            first_moments: Vec::new(),
            second_moments: Vec::new(),
        }
    }
}

impl Optimizer for Adam {
    fn step(&mut self, parameters: &mut [&mut [f32]], gradients: &[&[f32]]) {
        if self.first_moments.len() != parameters.len() {
            self.first_moments = parameters.iter().map(|p| vec![0.0; p.len()]).collect();
            self.second_moments = self.first_moments.clone();
            self.steps = 0;
        }
        self.steps = self.steps.saturating_add(1);
        let correction1 = 1.0 - self.beta1.powi(self.steps);
        let correction2 = 1.0 - self.beta2.powi(self.steps);
        for (i, (parameter, gradient)) in parameters.iter_mut().zip(gradients).enumerate() {
            let (m, v) = (&mut self.first_moments[i], &mut self.second_moments[i]);
            for (((p, &g), m), v) in parameter
                .iter_mut()
                .zip(gradient.iter())
                .zip(m.iter_mut())
                .zip(v.iter_mut())
            {
                *m = self.beta1 * *m + (1.0 - self.beta1) * g;
                *v = self.beta2 * *v + (1.0 - self.beta2) * g * g;
                let update = (*m / correction1) / ((*v / correction2).sqrt() + self.epsilon);
                *p -= self.learning_rate * (update + self.weight_decay * *p);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Both minimise a badly scaled quadratic from the same start.
    #[test]
    fn sgd_and_adam_minimise_a_quadratic() {
        let loss_and_gradient = |x: &[f32]| {
            let scales = [1.0f32, 10.0];
            let loss: f32 = x
                .iter()
                .zip(scales)
                .map(|(x, s)| s * (x - 3.0).powi(2))
                .sum();
            let gradient: Vec<f32> = x
                .iter()
                .zip(scales)
                .map(|(x, s)| 2.0 * s * (x - 3.0))
                .collect();
            (loss, gradient)
        };
        let mut optimizers: Vec<Box<dyn Optimizer>> = vec![
            Box::new(Sgd {
                learning_rate: 0.04,
                weight_decay: 0.0,
            }),
            Box::new(Adam::new(0.1)),
        ];
        for optimizer in &mut optimizers {
            let mut x = vec![0.0f32, 0.0];
            let start = loss_and_gradient(&x).0;
            for _ in 0..500 {
                let (_, gradient) = loss_and_gradient(&x);
                optimizer.step(&mut [&mut x], &[&gradient]);
            }
            let end = loss_and_gradient(&x).0;
            assert!(end < start * 1e-4, "loss {start} → {end}, x = {x:?}");
        }
    }

    #[test]
    fn weight_decay_pulls_weights_toward_zero() {
        let mut x = vec![5.0f32];
        let mut sgd = Sgd {
            learning_rate: 0.1,
            weight_decay: 0.5,
        };
        sgd.step(&mut [&mut x], &[&[0.0]]);
        assert!((x[0] - 4.75).abs() < 1e-6);
        let mut adam = Adam {
            weight_decay: 0.5,
            ..Adam::new(0.1)
        };
        let mut y = vec![5.0f32];
        adam.step(&mut [&mut y], &[&[0.0]]);
        assert!((y[0] - 4.75).abs() < 1e-6, "{y:?}");
    }
}
