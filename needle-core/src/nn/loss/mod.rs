//! Losses, with PyTorch's names, shapes and reductions.
//!
//! | loss | input | target | per-element loss |
//! |---|---|---|---|
//! | [`SoftmaxLoss`] (`CrossEntropyLoss`) | logits (N, C) | i64 classes (N,) | `logsumexp(x) − x[y]` per row |
//! | [`NLLLoss`] | log-probabilities (N, C) | i64 classes (N,) | `−x[y]` per row |
//! | [`MSELoss`] | any shape | same shape | `(x − y)²` |
//! | [`L1Loss`] | any shape | same shape | `|x − y|` |
//! | [`BCEWithLogitsLoss`] | logits, any shape | probabilities, same shape | `−y log σ(x) − (1 − y) log(1 − σ(x))` |
//!
//! Each takes a [`Reduction`]: the mean of the per-element (per-row) losses by default, their
//! sum, or the unreduced tensor. Arguments are checked at the call: a wrong dtype, shape or
//! label panics at the caller's line naming the loss.

mod binary;
mod classification;
mod regression;

pub use binary::BCEWithLogitsLoss;
pub use classification::{NLLLoss, SoftmaxLoss};
pub use regression::{L1Loss, MSELoss};

use crate::tensor::Tensor;

/// How a loss combines the losses of the elements (or rows) of a batch, PyTorch's `reduction`.
///
/// ```
/// use needle_core::nn::{MSELoss, Reduction};
/// use needle_core::Tensor;
/// let x = Tensor::from_vec(vec![1.0, 2.0], &[2]);
/// let y = Tensor::from_vec(vec![0.0, 0.0], &[2]);
/// assert_eq!(MSELoss::new().forward(&x, &y).item(), 2.5);
/// assert_eq!(MSELoss::with_reduction(Reduction::Sum).forward(&x, &y).item(), 5.0);
/// assert_eq!(MSELoss::with_reduction(Reduction::None).forward(&x, &y).to_vec(), vec![1.0, 4.0]);
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum Reduction {
    /// The mean, a 0-d tensor (PyTorch's `'mean'`, the default). An empty batch gives NaN.
    #[default]
    Mean,
    /// The sum, a 0-d tensor (`'sum'`). An empty batch gives 0.
    Sum,
    /// No reduction (`'none'`): one loss per element, or per row for the classification losses.
    None,
}

impl Reduction {
    /// Reduces elementwise losses.
    #[track_caller]
    pub(crate) fn apply(self, losses: Tensor) -> Tensor {
        match self {
            Reduction::Mean => losses.mean_all(),
            Reduction::Sum => losses.sum_all(),
            Reduction::None => losses,
        }
    }
}
