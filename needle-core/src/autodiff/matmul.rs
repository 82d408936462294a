//! Gradient rule of the matrix product.

use super::rule::Rule;
use crate::tensor::Tensor;

/// The adjoints of both operands of `a @ b` given the rule's output adjoint `g`.
#[track_caller]
pub(super) fn gradients(r: &Rule) -> Vec<Option<Tensor>> {
    let g = r.g;
    vec![
        r.need(0).then(|| g.matmul(&r.x(1).t())),
        r.need(1).then(|| r.x(0).t().matmul(g)),
    ]
}
