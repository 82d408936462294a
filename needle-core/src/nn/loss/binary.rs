//! Binary cross-entropy on logits.

use super::Reduction;
use crate::labels::require_same_shape;
use crate::module;
use crate::nn::Training;
use crate::tensor::Tensor;

/// Binary cross-entropy of logits `x` against target probabilities `y` (same shape, f32),
/// PyTorch's `BCEWithLogitsLoss`: `−y log σ(x) − (1 − y) log(1 − σ(x))`, computed without
/// forming σ(x) as `max(x, 0) − x·y + log(1 + exp(−|x|))`, so it stays finite for every finite
/// logit (the naive formula gives inf or NaN once σ(x) rounds to 0 or 1, near |x| ≈ 17 in f32).
/// The gradient is `σ(x) − y`, also at x = 0.
///
/// ```
/// use needle_core::nn::{BCEWithLogitsLoss, Reduction};
/// use needle_core::Tensor;
/// let logits = Tensor::from_vec(vec![100.0, -100.0, 0.0], &[3]);
/// let target = Tensor::from_vec(vec![0.0, 0.0, 1.0], &[3]);
/// let loss = BCEWithLogitsLoss::with_reduction(Reduction::None).forward(&logits, &target);
/// assert_eq!(loss.to_vec()[..2], [100.0, 0.0]);
/// assert!((loss.to_vec()[2] - std::f32::consts::LN_2).abs() < 1e-7);
/// ```
#[module]
#[derive(Default)]
pub struct BCEWithLogitsLoss {
    training: Training,
    #[module(config)]
    reduction: Reduction,
}

impl BCEWithLogitsLoss {
    /// The loss, averaged over all elements.
    pub fn new() -> BCEWithLogitsLoss {
        BCEWithLogitsLoss::default()
    }

    /// The loss with another reduction.
    pub fn with_reduction(reduction: Reduction) -> BCEWithLogitsLoss {
        BCEWithLogitsLoss {
            training: Training::default(),
            reduction,
        }
    }

    /// How the elementwise losses are combined.
    pub fn reduction(&self) -> Reduction {
        self.reduction
    }

    /// The loss of `logits` against `target` probabilities (same shape, f32): a 0-d tensor, or
    /// the logits' shape with [`Reduction::None`].
    #[track_caller]
    pub fn forward(&self, logits: &Tensor, target: &Tensor) -> Tensor {
        require_same_shape("BCEWithLogitsLoss", logits, target);
        // log(1 + eˣ) = m + log(e⁻ᵐ + eˣ⁻ᵐ) for any constant m; with m = max(x, 0) the two
        // exponentials are exactly exp(−|x|) and 1, so the value is the formula above bit for
        // bit, and because m is detached (a constant, as in logsumexp) the gradient is
        // eˣ⁻ᵐ / (e⁻ᵐ + eˣ⁻ᵐ) = σ(x) everywhere. Writing max(x, 0) and |x| as ops instead
        // would differentiate both kinks at x = 0 and give −y there, not 1/2 − y.
        let m = logits.relu().detach();
        let softplus = (-&m).exp() + (logits - &m).exp();
        self.reduction
            .apply((&m - &(logits * target)) + softplus.log())
    }
}
