//! Optimizers (the course's `optim`), learning-rate schedules and gradient clipping.
//!
//! Updates are recorded on detached values and given to the parameters with
//! [`Tensor::assign`](crate::Tensor::assign): the step's graph is released after it runs, the
//! stored `.grad` is never modified, and in lazy/JIT mode the whole update stays pending and runs
//! in the same program as the forward and backward pass. Everything that changes between steps
//! (learning rate, Adam's bias corrections) enters the graph as a 0-d input tensor rather than a
//! constant, so a compiled step is reused.

mod adam;
mod clip;
mod schedule;
mod sgd;

pub use adam::{Adam, AdamW};
pub use clip::clip_grad_norm;
pub use schedule::{ConstantLr, CosineAnnealing, LinearWarmup, LrSchedule, StepLr};
pub use sgd::{Momentum, Sgd};

use crate::tensor::Tensor;

/// Something that updates parameters from their gradients.
pub trait Optimizer {
    /// Applies one update to every parameter that has a gradient.
    fn step(&mut self);
    /// The parameters being optimized.
    fn params(&self) -> &[Tensor];
    /// The current learning rate.
    fn lr(&self) -> f32;
    /// Changes the learning rate (for schedules).
    fn set_lr(&mut self, lr: f32);
    /// Named optimizer state (momentum buffers, moments, step counter) for checkpoints.
    fn state(&self) -> Vec<(String, Tensor)>;
    /// Clears every parameter's gradient (the course's `reset_grad`).
    fn zero_grad(&self) {
        for p in self.params() {
            p.zero_grad();
        }
    }
}

/// The gradient with L2 weight decay folded in, on detached values: `g + wd·θ`.
pub(crate) fn decayed_gradient(param: &Tensor, grad: &Tensor, weight_decay: f32) -> Tensor {
    let grad = grad.detach();
    if weight_decay == 0.0 {
        grad
    } else {
        &grad + &(&param.detach() * weight_decay)
    }
}
