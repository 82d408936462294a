//! Dropout.

use crate::module;
use crate::nn::{Forward, Training};
use crate::tensor::Tensor;

/// In training, zeroes each element with probability p and scales the rest by 1/(1−p), with
/// one uniform draw over the whole shape (keep where the draw ≤ 1−p, as the course); identity
/// in evaluation.
#[module]
pub struct Dropout {
    training: Training,
    #[module(config)]
    p: f64,
}

impl Dropout {
    /// Drop probability `p` in [0, 1) (f64, so that 1 − p is formed in double precision
    /// from the value written, as in the course and PyTorch).
    #[track_caller]
    pub fn new(p: f64) -> Dropout {
        assert!(
            (0.0..1.0).contains(&p),
            "Dropout: p = {p} is outside [0, 1)"
        );
        Dropout {
            training: Training::default(),
            p,
        }
    }
}

impl Forward for Dropout {
    #[track_caller]
    fn forward(&self, x: &Tensor) -> Tensor {
        if !self.training.get() {
            return x.clone();
        }
        // 1 − p in double, as the course's Python computes it: the draw is compared with it
        // in double and the scale is its rounding to f32.
        let keep = 1.0 - self.p;
        let mask = Tensor::randb(&x.shape(), keep);
        &(x * &mask) / keep as f32
    }
}
