//! Gradient rules of the binary family (one arm per op of `op/binary.rs`).

use super::rule::Rule;
use crate::op::BinaryOp;
use crate::tensor::Tensor;

/// The adjoints of both inputs of `op` given the rule's output adjoint `g` (`None` for an
/// input that wants none). Comparisons have none (0/1 masks, flat wherever they are
/// differentiable; see [`crate::op::Op::is_differentiable`]); nor has `Mask`'s mask.
#[track_caller]
pub(super) fn gradients(op: BinaryOp, r: &Rule) -> Vec<Option<Tensor>> {
    let g = r.g;
    let need = |i| r.need(i);
    match op {
        BinaryOp::Add => vec![need(0).then(|| g.clone()), need(1).then(|| g.clone())],
        BinaryOp::Sub => vec![need(0).then(|| g.clone()), need(1).then(|| g.neg())],
        BinaryOp::Mul => vec![need(0).then(|| g * &r.x(1)), need(1).then(|| g * &r.x(0))],
        BinaryOp::Div => {
            let b = r.x(1);
            vec![need(0).then(|| g / &b), need(1).then(|| -(g * &r.y()) / &b)]
        }
        BinaryOp::Mask => vec![need(0).then(|| g.masked(&r.x(1))), None],
        BinaryOp::Max => {
            let (a, b) = (r.x(0), r.x(1));
            let mask = a.gt(&b) + a.eq(&b) * 0.5;
            let ga = g * &mask;
            let gb = g - &ga;
            vec![Some(ga), Some(gb)]
        }
        BinaryOp::Eq | BinaryOp::Ne | BinaryOp::Gt | BinaryOp::Ge | BinaryOp::Lt | BinaryOp::Le => {
            vec![None, None]
        }
    }
}
