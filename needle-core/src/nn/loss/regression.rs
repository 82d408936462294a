//! Elementwise regression losses: squared and absolute error.

use super::Reduction;
use crate::labels::require_same_shape;
use crate::module;
use crate::nn::Training;
use crate::tensor::Tensor;

/// Squared error `(input − target)²`, PyTorch's `MSELoss`: input and target are f32 tensors
/// of one shape (no broadcasting), reduced by the mean unless told otherwise.
///
/// ```
/// use needle_core::nn::MSELoss;
/// use needle_core::Tensor;
/// let prediction = Tensor::from_vec(vec![1.0, 2.0, 4.0], &[3]);
/// let target = Tensor::from_vec(vec![1.0, 0.0, 1.0], &[3]);
/// assert_eq!(MSELoss::new().forward(&prediction, &target).item(), 13.0 / 3.0);
/// ```
#[module]
#[derive(Default)]
pub struct MSELoss {
    training: Training,
    #[module(config)]
    reduction: Reduction,
}

impl MSELoss {
    /// The loss, averaged over all elements.
    pub fn new() -> MSELoss {
        MSELoss::default()
    }

    /// The loss with another reduction.
    pub fn with_reduction(reduction: Reduction) -> MSELoss {
        MSELoss {
            training: Training::default(),
            reduction,
        }
    }

    /// How the elementwise losses are combined.
    pub fn reduction(&self) -> Reduction {
        self.reduction
    }

    /// The loss of `input` against `target` (same shape, f32): a 0-d tensor, or the input's
    /// shape with [`Reduction::None`]. Both receive gradients when they require them.
    #[track_caller]
    pub fn forward(&self, input: &Tensor, target: &Tensor) -> Tensor {
        require_same_shape("MSELoss", input, target);
        self.reduction.apply((input - target).square())
    }
}

/// Absolute error `|input − target|`, PyTorch's `L1Loss`: input and target are f32 tensors of
/// one shape, reduced by the mean unless told otherwise. The gradient where they are equal is
/// 0, as PyTorch's `sign`.
///
/// ```
/// use needle_core::nn::{L1Loss, Reduction};
/// use needle_core::Tensor;
/// let prediction = Tensor::from_vec(vec![1.0, 2.0, -4.0], &[3]);
/// let target = Tensor::from_vec(vec![1.0, 0.0, 1.0], &[3]);
/// let loss = L1Loss::with_reduction(Reduction::Sum);
/// assert_eq!(loss.forward(&prediction, &target).item(), 7.0);
/// ```
#[module]
#[derive(Default)]
pub struct L1Loss {
    training: Training,
    #[module(config)]
    reduction: Reduction,
}

impl L1Loss {
    /// The loss, averaged over all elements.
    pub fn new() -> L1Loss {
        L1Loss::default()
    }

    /// The loss with another reduction.
    pub fn with_reduction(reduction: Reduction) -> L1Loss {
        L1Loss {
            training: Training::default(),
            reduction,
        }
    }

    /// How the elementwise losses are combined.
    pub fn reduction(&self) -> Reduction {
        self.reduction
    }

    /// The loss of `input` against `target` (same shape, f32): a 0-d tensor, or the input's
    /// shape with [`Reduction::None`]. Both receive gradients when they require them.
    #[track_caller]
    pub fn forward(&self, input: &Tensor, target: &Tensor) -> Tensor {
        require_same_shape("L1Loss", input, target);
        let d = input - target;
        // |d| as max(d, −d): the two tie at d = 0 and split the gradient evenly, 1/2 − 1/2 = 0,
        // which is PyTorch's sign(0).
        self.reduction.apply(d.maximum(d.neg()))
    }
}
