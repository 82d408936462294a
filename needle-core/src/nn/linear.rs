//! Fully connected layer.

use crate::dtype::DType;
use crate::init::{kaiming_uniform, Nonlinearity};
use crate::module;
use crate::nn::{Forward, Module, Training};
use crate::shape::fmt_shape;
use crate::tensor::Tensor;

/// `y = x @ W + b` with W of shape (in, out) and b of shape (1, out), initialised as the course
/// does: W = kaiming_uniform(in, out), then b = kaiming_uniform(out, 1) reshaped — weight drawn
/// before bias, so seeded runs reproduce the course's numbers. Works on N-D input (…, in),
/// including a single sample (in,).
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

impl Linear {
    /// Panics at the caller's line unless `x` is f32 with `in_features` on its last axis,
    /// naming the layer and the input's shape: the matmul's own error would name only the
    /// weight's shape. An input with more than two axes most often is an image batch that was
    /// meant to be flattened, so the message says how, and to what shape.
    #[track_caller]
    fn check_input(&self, x: &Tensor) {
        let layer = || format!("{}({})", self.type_name(), self.extra_repr());
        let shape = x.shape();
        if x.dtype() != DType::F32 {
            panic!(
                "{}: input must be f32, got {} {} (convert with .to_f32())",
                layer(),
                x.dtype(),
                fmt_shape(&shape)
            );
        }
        let Some(&width) = shape.last() else {
            panic!(
                "{}: input must have at least one axis, got shape []",
                layer()
            );
        };
        if width == self.in_features {
            return;
        }
        let mut message = format!(
            "{}: the last axis of input {} has size {width}, not in_features = {}",
            layer(),
            fmt_shape(&shape),
            self.in_features
        );
        if shape.len() > 2 {
            let flat = [shape[0], shape[1..].iter().product()];
            message += &format!(
                "; to use it as (batch, features), flatten it first: x.flatten(1, -1) has \
                 shape {}",
                fmt_shape(&flat)
            );
        }
        panic!("{message}");
    }
}

impl Forward for Linear {
    #[track_caller]
    fn forward(&self, x: &Tensor) -> Tensor {
        self.check_input(x);
        let y = x.matmul(&self.weight);
        match &self.bias {
            // A 1-D input (in,) gives (out,), as in PyTorch: the (1, out) bias cannot
            // broadcast to it without dropping its leading axis.
            Some(b) if y.ndim() == 1 => &y + &b.reshape(&[self.out_features]),
            Some(b) => &y + &b.broadcast_to(&y.shape()),
            None => y,
        }
    }
}
