//! Gradient rules of the movement family: each is the adjoint movement (reshape back,
//! inverse permutation, sum over broadcast axes, pad what a slice dropped, …).

use super::rule::Rule;
use crate::op::Op;
use crate::tensor::Tensor;

/// The adjoints of the inputs of the movement op `op` given the rule's output adjoint `g`
/// (`None` for inputs that want none). A cast has none: its result is an integer tensor,
/// or the input itself.
///
/// Panics on an op of another family.
#[track_caller]
pub(super) fn gradients(op: &Op, r: &Rule) -> Vec<Option<Tensor>> {
    let g = r.g;
    match op {
        Op::Reshape => vec![Some(g.reshape(r.input_shape(0)))],
        Op::Permute(perm) => {
            let mut inverse = vec![0; perm.len()];
            for (i, &p) in perm.iter().enumerate() {
                inverse[p] = i;
            }
            vec![Some(g.permute(&inverse))]
        }
        Op::Expand => {
            let in_shape = r.input_shape(0);
            let out_shape = r.node.shape();
            let lead = out_shape.len() - in_shape.len();
            let axes: Vec<isize> = (0..out_shape.len())
                .filter(|&i| i < lead || (in_shape[i - lead] == 1 && out_shape[i] != 1))
                .map(|i| i as isize)
                .collect();
            vec![Some(g.sum(&axes, true).reshape(in_shape))]
        }
        Op::Slice { starts, steps } => {
            let in_shape = r.input_shape(0);
            let out_shape = r.node.shape();
            if out_shape.contains(&0) {
                return vec![Some(Tensor::zeros(in_shape))];
            }
            let spec: Vec<(usize, usize, usize)> = (0..in_shape.len())
                .map(|i| {
                    let last = starts[i] + (out_shape[i] - 1) * steps[i];
                    (starts[i], in_shape[i] - 1 - last, steps[i] - 1)
                })
                .collect();
            vec![Some(g.pad_dilate(&spec))]
        }
        Op::Flip(axes) => {
            let axes: Vec<isize> = axes.iter().map(|&a| a as isize).collect();
            vec![Some(g.flip(&axes))]
        }
        Op::Pad(spec) => {
            let in_shape = r.input_shape(0).to_vec();
            let starts: Vec<usize> = spec.iter().map(|&(b, _, _)| b).collect();
            let steps: Vec<usize> = spec.iter().map(|&(_, _, i)| i + 1).collect();
            vec![Some(g.slice_multi(starts, steps, in_shape))]
        }
        Op::Concat(axis) => {
            let mut start = 0;
            (0..r.inputs.len())
                .map(|i| {
                    let len = r.input_shape(i)[*axis];
                    let part = r.need(i).then(|| g.narrow(*axis as isize, start, len));
                    start += len;
                    part
                })
                .collect()
        }
        Op::Cast(_) => vec![None],
        // The index (an integer input) gets none.
        Op::Gather(axis) => {
            let index = r.x(1);
            let shape = r.input_shape(0).to_vec();
            let data = r
                .need(0)
                .then(|| Tensor::zeros_scatter_add(&shape, *axis as isize, &index, g));
            vec![data, None]
        }
        Op::ScatterAdd(axis) => {
            let values = r.need(1).then(|| g.gather(*axis as isize, &r.x(0)));
            vec![None, values]
        }
        Op::Leaf
        | Op::Unary(_)
        | Op::Scalar(..)
        | Op::Binary(_)
        | Op::Reduce(..)
        | Op::MatMul
        | Op::Cumsum(_)
        | Op::Im2col(_)
        | Op::Col2im(_) => {
            unreachable!("{} is not a movement op", op.name())
        }
    }
}
