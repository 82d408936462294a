//! Fully connected layer.

use crate::init::{kaiming_uniform, Nonlinearity};
use crate::module;
use crate::nn::{Forward, Training};
use crate::tensor::Tensor;

/// `y = x @ W + b` with W of shape (in, out) and b of shape (1, out), initialised as the course
/// does: W = kaiming_uniform(in, out), then b = kaiming_uniform(out, 1) reshaped — weight drawn
/// before bias, so seeded runs reproduce the course's numbers. Works on N-D input (…, in).
#[module]
pub struct Linear {
    /// (in_features, out_features).
    pub weight: Tensor,
    /// (1, out_features), absent when built without bias.
    pub bias: Option<Tensor>,
    training: Training,
    #[module(config)]
    in_features: usize,
    #[module(config)]
    out_features: usize,
}

impl Linear {
    /// A layer with bias.
    #[track_caller]
    pub fn new(in_features: usize, out_features: usize) -> Linear {
        Linear::with_bias(in_features, out_features, true)
    }

    /// A layer with or without bias.
    #[track_caller]
    pub fn with_bias(in_features: usize, out_features: usize, bias: bool) -> Linear {
        let weight =
            kaiming_uniform(in_features, out_features, Nonlinearity::Relu).requires_grad_(true);
        let bias = bias.then(|| {
            // Realized now, so that a lazy or JIT training loop's first step does not carry
            // the reshape (and compiles the same program as every later step).
            let bias = kaiming_uniform(out_features, 1, Nonlinearity::Relu)
                .reshape(&[1, out_features])
                .detach();
            bias.realize();
            bias.requires_grad_(true)
        });
        Linear {
            weight,
            bias,
            training: Training::default(),
            in_features,
            out_features,
        }
    }
}

impl Forward for Linear {
    #[track_caller]
    fn forward(&self, x: &Tensor) -> Tensor {
        let y = x.matmul(&self.weight);
        match &self.bias {
            Some(b) => &y + &b.broadcast_to(&y.shape()),
            None => y,
        }
    }
}
