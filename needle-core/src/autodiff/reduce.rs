//! Gradient rules of the reduce family (one arm per op of `op/reduce.rs`).

use super::rule::Rule;
use crate::op::ReduceOp;
use crate::tensor::Tensor;

/// The adjoint of the input of `op` over `axes` given the rule's output adjoint `g`.
#[track_caller]
pub(super) fn gradient(op: ReduceOp, axes: &[usize], r: &Rule) -> Tensor {
    let g = r.g;
    let shape = r.input_shape(0).to_vec();
    match op {
        ReduceOp::Sum => g.broadcast_to(&shape),
        ReduceOp::Max => {
            let a = r.x(0);
            let mask = a.eq(r.y().broadcast_to(&shape));
            let iaxes: Vec<isize> = axes.iter().map(|&a| a as isize).collect();
            let count = mask.sum(&iaxes, true);
            (g / &count).broadcast_to(&shape).masked(&mask)
        }
    }
}

/// The adjoint of a running sum along `axis`: the running sum of `g` from the end (each
/// input element feeds every later output).
#[track_caller]
pub(super) fn cumsum_gradient(axis: usize, r: &Rule) -> Tensor {
    let axis = axis as isize;
    r.g.flip(&[axis]).cumsum(axis).flip(&[axis])
}
