//! Gradient rules of the scalar family (one arm per op of `op/scalar.rs`).

use super::rule::Rule;
use crate::op::ScalarOp;
use crate::tensor::Tensor;

/// The adjoint of the input of `op` with constant `c`, given the rule's output adjoint `g`;
/// `None` for a comparison (a 0/1 mask, flat wherever it is differentiable: recording
/// leaves its result out of the gradient graph, see [`crate::op::Op::is_differentiable`]).
#[track_caller]
pub(super) fn gradient(op: ScalarOp, c: f32, r: &Rule) -> Option<Tensor> {
    let g = r.g;
    match op {
        ScalarOp::Add => Some(g.clone()),
        ScalarOp::Mul => Some(g * c),
        ScalarOp::Div => Some(g / c),
        ScalarOp::RDiv => Some(-(g * &r.y()) / &r.x(0)),
        ScalarOp::Pow if c == 0.0 => Some(g.zeros_like()),
        ScalarOp::Pow => Some(g * &(r.x(0).powf(c - 1.0) * c)),
        ScalarOp::Max => {
            let a = r.x(0);
            let mask = a.gt(c) + a.eq(c) * 0.5;
            Some(g * &mask)
        }
        ScalarOp::Eq | ScalarOp::Ne | ScalarOp::Gt | ScalarOp::Ge | ScalarOp::Lt | ScalarOp::Le => {
            None
        }
    }
}
