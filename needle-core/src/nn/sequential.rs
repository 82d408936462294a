//! Containers: a chain of layers, and a residual connection around one.

use crate::module;
use crate::nn::{Forward, Training};
use crate::tensor::Tensor;

/// Layers applied in order; they may be of different types.
///
/// ```
/// use needle_core::nn::{Linear, Module, ReLU, Sequential};
/// let net = Sequential::new().push(Linear::new(4, 8)).push(ReLU::new()).push(Linear::new(8, 2));
/// assert_eq!(net.num_parameters(), 4 * 8 + 8 + 8 * 2 + 2);
/// ```
#[module]
#[derive(Default)]
pub struct Sequential {
    /// The layers, in application order.
    pub layers: Vec<Box<dyn Forward>>,
    training: Training,
}

impl Sequential {
    /// An empty chain.
    pub fn new() -> Sequential {
        Sequential::default()
    }

    /// The chain with `layer` appended.
    pub fn push(mut self, layer: impl Forward + 'static) -> Sequential {
        self.layers.push(Box::new(layer));
        self
    }

    /// A chain of already boxed layers.
    pub fn from_layers(layers: Vec<Box<dyn Forward>>) -> Sequential {
        Sequential {
            layers,
            training: Training::default(),
        }
    }
}

impl Forward for Sequential {
    #[track_caller]
    fn forward(&self, x: &Tensor) -> Tensor {
        let mut h = x.clone();
        for layer in &self.layers {
            h = layer.forward(&h);
        }
        h
    }
}

/// `fn(x) + x`.
#[module]
pub struct Residual {
    /// The wrapped function.
    pub inner: Box<dyn Forward>,
    training: Training,
}

impl Residual {
    /// Wraps `inner` in a skip connection.
    pub fn new(inner: impl Forward + 'static) -> Residual {
        Residual {
            inner: Box::new(inner),
            training: Training::default(),
        }
    }
}

impl Forward for Residual {
    #[track_caller]
    fn forward(&self, x: &Tensor) -> Tensor {
        &self.inner.forward(x) + x
    }
}
