//! Normalisation layers with the course's conventions: biased variance, eps 1e-5, and for
//! batch norm running statistics with momentum 0.1 updated outside the graph.

use crate::module;
use crate::nn::{Forward, Training};
use crate::tensor::Tensor;

/// Per-row normalisation over the last axis: `w ⊙ (x − E[x]) / √(Var[x] + eps) + b`, the same
/// in training and evaluation.
#[module]
pub struct LayerNorm1d {
    /// Scale (dim,), initially ones.
    pub weight: Tensor,
    /// Shift (dim,), initially zeros.
    pub bias: Tensor,
    training: Training,
    #[module(config)]
    dim: usize,
    #[module(config)]
    eps: f32,
}

impl LayerNorm1d {
    /// A layer over `dim` features with eps 1e-5.
    pub fn new(dim: usize) -> LayerNorm1d {
        LayerNorm1d::with_eps(dim, 1e-5)
    }

    /// A layer with a chosen eps.
    pub fn with_eps(dim: usize, eps: f32) -> LayerNorm1d {
        LayerNorm1d {
            weight: Tensor::ones(&[dim]).requires_grad_(true),
            bias: Tensor::zeros(&[dim]).requires_grad_(true),
            training: Training::default(),
            dim,
            eps,
        }
    }
}

impl Forward for LayerNorm1d {
    #[track_caller]
    fn forward(&self, x: &Tensor) -> Tensor {
        let shape = x.shape();
        let mean = x.mean(&[-1], true);
        let centered = x - &mean;
        let var = centered.square().mean(&[-1], true);
        let normalized = &centered / &(var + self.eps).sqrt();
        &(&self.weight.broadcast_to(&shape) * &normalized) + &self.bias.broadcast_to(&shape)
    }
}

/// Batch normalisation over axis 0 of (N, dim) input. Training uses the batch mean and biased
/// variance and updates `running_mean` / `running_var` as `(1−m)·old + m·new` on detached
/// values; evaluation uses the running statistics.
#[module]
pub struct BatchNorm1d {
    /// Scale (dim,), initially ones.
    pub weight: Tensor,
    /// Shift (dim,), initially zeros.
    pub bias: Tensor,
    /// Running mean (dim,), initially zeros.
    #[module(buffer)]
    pub running_mean: Tensor,
    /// Running (biased) variance (dim,), initially ones.
    #[module(buffer)]
    pub running_var: Tensor,
    training: Training,
    #[module(config)]
    dim: usize,
    #[module(config)]
    eps: f32,
    #[module(config)]
    momentum: f64,
}

impl BatchNorm1d {
    /// A layer over `dim` features, eps 1e-5, momentum 0.1.
    pub fn new(dim: usize) -> BatchNorm1d {
        BatchNorm1d::with_options(dim, 1e-5, 0.1)
    }

    /// A layer with chosen eps and momentum (f64: 1 − momentum is formed in double and
    /// rounded once, as in the course).
    pub fn with_options(dim: usize, eps: f32, momentum: f64) -> BatchNorm1d {
        BatchNorm1d {
            weight: Tensor::ones(&[dim]).requires_grad_(true),
            bias: Tensor::zeros(&[dim]).requires_grad_(true),
            running_mean: Tensor::zeros(&[dim]),
            running_var: Tensor::ones(&[dim]),
            training: Training::default(),
            dim,
            eps,
            momentum,
        }
    }
}

impl Forward for BatchNorm1d {
    #[track_caller]
    fn forward(&self, x: &Tensor) -> Tensor {
        let shape = x.shape();
        let (mean, var) = if self.training.get() {
            let mean = x.mean(&[0], true);
            let var = (x - &mean).square().mean(&[0], true);
            update_running_stat(&self.running_mean, &mean, self.momentum);
            update_running_stat(&self.running_var, &var, self.momentum);
            (mean, var)
        } else {
            (
                self.running_mean.reshape(&[1, self.dim]),
                self.running_var.reshape(&[1, self.dim]),
            )
        };
        let normalized = &(x - &mean) / &(var + self.eps).sqrt();
        &(&self.weight.broadcast_to(&shape) * &normalized) + &self.bias.broadcast_to(&shape)
    }
}

/// The course's running-statistic update, outside the graph: `running ← (1 − m)·running +
/// m·batch` with `batch` (of the same element count) detached, 1 − m formed in f64 and
/// rounded once. Shared by the batch norms of every rank.
pub(super) fn update_running_stat(running: &Tensor, batch: &Tensor, momentum: f64) {
    let (m, rest) = (momentum as f32, (1.0 - momentum) as f32);
    let batch = batch.detach().reshape(&running.shape());
    running.assign(&(&(&running.detach() * rest) + &(&batch * m)));
}
