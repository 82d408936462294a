//! The course's MLP ResNet (hw2): residual blocks of two linear layers with normalisation,
//! ReLU and dropout.

use crate::nn::{BatchNorm1d, Dropout, Forward, LayerNorm1d, Linear, ReLU, Residual, Sequential};

/// Which normalisation layer a block uses.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Norm {
    /// [`BatchNorm1d`] (the course's default).
    #[default]
    BatchNorm,
    /// [`LayerNorm1d`].
    LayerNorm,
}

impl Norm {
    fn layer(self, dim: usize) -> Box<dyn Forward> {
        match self {
            Norm::BatchNorm => Box::new(BatchNorm1d::new(dim)),
            Norm::LayerNorm => Box::new(LayerNorm1d::new(dim)),
        }
    }
}

/// `Residual(Linear(dim, hidden) → norm → ReLU → Dropout(p) → Linear(hidden, dim) → norm) → ReLU`.
pub fn residual_block(dim: usize, hidden: usize, norm: Norm, drop_prob: f64) -> Sequential {
    let inner = Sequential::from_layers(vec![
        Box::new(Linear::new(dim, hidden)),
        norm.layer(hidden),
        Box::new(ReLU::new()),
        Box::new(Dropout::new(drop_prob)),
        Box::new(Linear::new(hidden, dim)),
        norm.layer(dim),
    ]);
    Sequential::new()
        .push(Residual::new(inner))
        .push(ReLU::new())
}

/// `Linear(dim, hidden) → ReLU → num_blocks × residual_block(hidden, hidden/2) → Linear(hidden,
/// classes)`; the course's defaults are hidden 100, 3 blocks, 10 classes, batch norm, p = 0.1.
///
/// ```
/// use needle_core::nn::{mlp_resnet, Module, Norm};
/// assert_eq!(mlp_resnet(784, 100, 3, 10, Norm::BatchNorm, 0.1).num_parameters(), 110_860);
/// ```
pub fn mlp_resnet(
    dim: usize,
    hidden: usize,
    num_blocks: usize,
    num_classes: usize,
    norm: Norm,
    drop_prob: f64,
) -> Sequential {
    let mut net = Sequential::new()
        .push(Linear::new(dim, hidden))
        .push(ReLU::new());
    for _ in 0..num_blocks {
        net = net.push(residual_block(hidden, hidden / 2, norm, drop_prob));
    }
    net.push(Linear::new(hidden, num_classes))
}
