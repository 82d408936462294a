//! Losses.

use crate::module;
use crate::nn::Training;
use crate::tensor::Tensor;

/// Mean softmax cross-entropy of logits (N, k) against integer labels (N,), computed as the
/// course does: (Σ logsumexp(Z, axis 1) − Σ Z ⊙ one_hot(y)) / N, with the max-subtracted
/// logsumexp so it stays finite.
#[module]
#[derive(Default)]
pub struct SoftmaxLoss {
    training: Training,
}

impl SoftmaxLoss {
    /// The loss.
    pub fn new() -> SoftmaxLoss {
        SoftmaxLoss::default()
    }

    /// The loss of `logits` for `labels`, a 0-d tensor.
    #[track_caller]
    pub fn forward(&self, logits: &Tensor, labels: &Tensor) -> Tensor {
        let shape = logits.shape();
        assert!(
            shape.len() == 2 && labels.shape() == [shape[0]],
            "SoftmaxLoss: logits {:?} and labels {:?} must be (N, k) and (N,)",
            shape,
            labels.shape()
        );
        let onehot = Tensor::one_hot(shape[1], labels);
        // The true class's logit is picked with a mask, not a product with the one-hot rows:
        // 0 · ±inf would make a row with an infinite logit elsewhere NaN (PyTorch: ±inf).
        (logits.logsumexp(&[1], false).sum_all() - logits.masked(&onehot).sum_all())
            / shape[0] as f32
    }
}
