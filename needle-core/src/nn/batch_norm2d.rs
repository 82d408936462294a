//! Batch normalisation of NCHW input per channel, with the course's conventions (as
//! [`BatchNorm1d`](crate::nn::BatchNorm1d)): biased variance, eps 1e-5, momentum 0.1.

use super::norm::update_running_stat;
use crate::module;
use crate::nn::{Forward, Module, Training};
use crate::shape::fmt_shape;
use crate::tensor::Tensor;

/// Batch normalisation of (N, C, H, W) input over axes N, H and W for each channel. Training
/// uses the batch mean and biased variance and updates `running_mean` / `running_var` as
/// `(1−m)·old + m·new` on detached values; evaluation uses the running statistics.
///
/// The course builds it as BatchNorm1d over the (N·H·W, C) matrix of the NHWC-transposed
/// input; this reduces over axes (0, 2, 3) in place instead, the same statistics without the
/// transposing copy.
#[module]
pub struct BatchNorm2d {
    /// Scale (C,), initially ones.
    pub weight: Tensor,
    /// Shift (C,), initially zeros.
    pub bias: Tensor,
    /// Running mean (C,), initially zeros.
    #[module(buffer)]
    pub running_mean: Tensor,
    /// Running (biased) variance (C,), initially ones.
    #[module(buffer)]
    pub running_var: Tensor,
    training: Training,
    #[module(config)]
    num_features: usize,
    #[module(config)]
    eps: f32,
    #[module(config)]
    momentum: f64,
}

impl BatchNorm2d {
    /// A layer over `num_features` channels, eps 1e-5, momentum 0.1.
    pub fn new(num_features: usize) -> BatchNorm2d {
        BatchNorm2d::with_options(num_features, 1e-5, 0.1)
    }

    /// A layer with chosen eps and momentum (f64: 1 − momentum is formed in double and
    /// rounded once, as in the course).
    pub fn with_options(num_features: usize, eps: f32, momentum: f64) -> BatchNorm2d {
        BatchNorm2d {
            weight: Tensor::ones(&[num_features]).requires_grad_(true),
            bias: Tensor::zeros(&[num_features]).requires_grad_(true),
            running_mean: Tensor::zeros(&[num_features]),
            running_var: Tensor::ones(&[num_features]),
            training: Training::default(),
            num_features,
            eps,
            momentum,
        }
    }

    #[track_caller]
    fn check_input(&self, x: &Tensor) {
        let shape = x.shape();
        if shape.len() != 4 || shape[1] != self.num_features {
            panic!(
                "{}({}): input must be (N, {}, H, W), got shape {}",
                self.type_name(),
                self.extra_repr(),
                self.num_features,
                fmt_shape(&shape)
            );
        }
    }
}

impl Forward for BatchNorm2d {
    #[track_caller]
    fn forward(&self, x: &Tensor) -> Tensor {
        self.check_input(x);
        let shape = x.shape();
        let channel = [1, self.num_features, 1, 1];
        let (mean, var) = if self.training.get() {
            let mean = x.mean(&[0, 2, 3], true);
            let var = (x - &mean.broadcast_to(&shape))
                .square()
                .mean(&[0, 2, 3], true);
            update_running_stat(&self.running_mean, &mean, self.momentum);
            update_running_stat(&self.running_var, &var, self.momentum);
            (mean, var)
        } else {
            (
                self.running_mean.reshape(&channel),
                self.running_var.reshape(&channel),
            )
        };
        let centered = x - &mean.broadcast_to(&shape);
        let normalized = &centered / &(var + self.eps).sqrt().broadcast_to(&shape);
        let weight = self.weight.reshape(&channel).broadcast_to(&shape);
        let bias = self.bias.reshape(&channel).broadcast_to(&shape);
        &(&weight * &normalized) + &bias
    }
}
