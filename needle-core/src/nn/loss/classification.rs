//! Losses of class scores against integer labels: softmax cross-entropy and negative
//! log-likelihood.

use super::Reduction;
use crate::labels::class_label_mask;
use crate::module;
use crate::nn::Training;
use crate::tensor::Tensor;

/// Softmax cross-entropy of logits (N, C) against i64 class labels (N,), PyTorch's
/// `CrossEntropyLoss`. The mean is computed as the course does:
/// (Σ logsumexp(Z, axis 1) − Σ Z[i, yᵢ]) / N, with the max-subtracted logsumexp so it stays
/// finite; `Sum` drops the division and `None` gives the (N,) per-row losses.
///
/// ```
/// use needle_core::nn::{Reduction, SoftmaxLoss};
/// use needle_core::Tensor;
/// let logits = Tensor::from_vec(vec![0.0, 0.0, 3.0, 1.0], &[2, 2]);
/// let labels = Tensor::from_vec_i64(vec![1, 0], &[2]);
/// let loss = SoftmaxLoss::new().forward(&logits, &labels);
/// assert!((loss.item() - 0.4100).abs() < 1e-4); // (ln 2 + ln(1 + e⁻²)) / 2
/// let rows = SoftmaxLoss::with_reduction(Reduction::None).forward(&logits, &labels);
/// assert_eq!(rows.shape(), vec![2]);
/// ```
#[module]
#[derive(Default)]
pub struct SoftmaxLoss {
    training: Training,
    #[module(config)]
    reduction: Reduction,
}

impl SoftmaxLoss {
    /// The loss, averaged over the batch.
    pub fn new() -> SoftmaxLoss {
        SoftmaxLoss::default()
    }

    /// The loss with another reduction.
    pub fn with_reduction(reduction: Reduction) -> SoftmaxLoss {
        SoftmaxLoss {
            training: Training::default(),
            reduction,
        }
    }

    /// How the per-row losses are combined.
    pub fn reduction(&self) -> Reduction {
        self.reduction
    }

    /// The loss of `logits` (N, C) for i64 `labels` (N,) in `0..C`: a 0-d tensor, or (N,) with
    /// [`Reduction::None`]. Panics at the caller's line on f32 labels, mismatched shapes or a
    /// label outside `0..C`.
    #[track_caller]
    pub fn forward(&self, logits: &Tensor, labels: &Tensor) -> Tensor {
        // The true class's logit is picked with a mask, not a product with the one-hot rows:
        // 0 · ±inf would make a row with an infinite logit elsewhere NaN (PyTorch: ±inf).
        let mask = class_label_mask("SoftmaxLoss", "logits", logits, labels);
        let shape = logits.shape();
        let lse = logits.logsumexp(&[1], false);
        match self.reduction {
            Reduction::Mean => (lse.sum_all() - logits.masked(&mask).sum_all()) / shape[0] as f32,
            Reduction::Sum => lse.sum_all() - logits.masked(&mask).sum_all(),
            Reduction::None => lse - logits.masked(&mask).sum(&[1], false),
        }
    }
}

/// Negative log-likelihood of log-probabilities (N, C) against i64 class labels (N,),
/// PyTorch's `NLLLoss`: the per-row loss is `−input[i, yᵢ]`. Feed it
/// [`Tensor::log_softmax`] of logits over axis 1; together they are [`SoftmaxLoss`].
/// Every label must be a class (there is no `ignore_index`).
///
/// ```
/// use needle_core::nn::NLLLoss;
/// use needle_core::Tensor;
/// let logits = Tensor::from_vec(vec![0.0, 0.0, 3.0, 1.0], &[2, 2]);
/// let labels = Tensor::from_vec_i64(vec![1, 0], &[2]);
/// let loss = NLLLoss::new().forward(&logits.log_softmax(1), &labels);
/// assert!((loss.item() - 0.4100).abs() < 1e-4);
/// ```
#[module]
#[derive(Default)]
pub struct NLLLoss {
    training: Training,
    #[module(config)]
    reduction: Reduction,
}

impl NLLLoss {
    /// The loss, averaged over the batch.
    pub fn new() -> NLLLoss {
        NLLLoss::default()
    }

    /// The loss with another reduction.
    pub fn with_reduction(reduction: Reduction) -> NLLLoss {
        NLLLoss {
            training: Training::default(),
            reduction,
        }
    }

    /// How the per-row losses are combined.
    pub fn reduction(&self) -> Reduction {
        self.reduction
    }

    /// The loss of `log_probs` (N, C) for i64 `labels` (N,) in `0..C`: a 0-d tensor, or (N,)
    /// with [`Reduction::None`]. Panics at the caller's line as [`SoftmaxLoss::forward`].
    #[track_caller]
    pub fn forward(&self, log_probs: &Tensor, labels: &Tensor) -> Tensor {
        let mask = class_label_mask("NLLLoss", "log-probabilities", log_probs, labels);
        let picked = log_probs.masked(&mask);
        match self.reduction {
            Reduction::Mean => -picked.sum_all() / log_probs.shape()[0] as f32,
            Reduction::Sum => -picked.sum_all(),
            Reduction::None => -picked.sum(&[1], false),
        }
    }
}
