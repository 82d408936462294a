//! Gradient rules of the unary family (one arm per op of `op/unary.rs`).

use super::rule::Rule;
use crate::op::UnaryOp;
use crate::tensor::Tensor;

/// The adjoint of the input of `op` given the rule's output adjoint `g`.
#[track_caller]
pub(super) fn gradient(op: UnaryOp, r: &Rule) -> Tensor {
    let g = r.g;
    match op {
        UnaryOp::Neg => g.neg(),
        UnaryOp::Exp => g * &r.y(),
        UnaryOp::Log => g / &r.x(0),
        UnaryOp::Sqrt => g / &(r.y() * 2.0),
        // PyTorch's threshold_backward: 0 where x ≤ 0 even for an infinite g.
        UnaryOp::Relu => g.masked(&r.x(0).gt(0.0)),
        UnaryOp::Tanh => {
            let t = r.y();
            g * &(&t * &t).rsub_scalar(1.0)
        }
        UnaryOp::Sigmoid => {
            let s = r.y();
            g * &(&s * &s.rsub_scalar(1.0))
        }
        UnaryOp::Sin => g * &r.x(0).cos(),
        UnaryOp::Cos => -(g * &r.x(0).sin()),
        // PyTorch's `g · sign(x)`: 0 at x = 0 (sign(±0) = 0). At a NaN x both comparisons
        // are false, so the gradient is 0 where PyTorch's is NaN.
        UnaryOp::Abs => {
            let x = r.x(0);
            g.masked(&x.gt(0.0)) - g.masked(&x.lt(0.0))
        }
    }
}
