//! The interpreter: runs a graph node by node with the eager kernels.
//!
//! Eager mode calls `compute_node` as each op is recorded; lazy mode hands a pending graph to
//! [`Interpreter`]. Both use the same kernels in the same order, so their results are
//! bit-identical.

pub mod elementwise;
mod matmul;
pub use matmul::{gemm_raw, PARALLEL_THRESHOLD};
mod movement;
pub mod pairwise;
mod reduce;

use crate::autodiff::topo_nodes;
use crate::backend::{Backend, BackendError};
use crate::node::{Node, NodeRef};
use crate::op::Op;
use crate::storage::Realized;

/// The reference backend: one kernel call per node, views as views.
pub struct Interpreter;

impl Backend for Interpreter {
    fn name(&self) -> &'static str {
        "interpreter"
    }

    fn realize(&self, outputs: &[NodeRef]) -> Result<(), BackendError> {
        for node in topo_nodes(outputs, |n| !n.is_realized()) {
            let value = evaluate(&node);
            node.set_value(value);
        }
        Ok(())
    }
}

/// Computes one node whose inputs may still be pending (eager mode's entry point).
#[track_caller]
pub(crate) fn compute_node(node: &NodeRef) {
    let pending: Vec<NodeRef> = node
        .inputs()
        .into_iter()
        .filter(|n| !n.is_realized())
        .collect();
    if !pending.is_empty() {
        Interpreter
            .realize(&pending)
            .expect("the interpreter supports every op");
    }
    let value = evaluate(node);
    node.set_value(value);
}

/// The value of `node` from its (realized) inputs.
#[track_caller]
pub fn evaluate(node: &Node) -> Realized {
    if !node.op().is_view() && *node.op() != Op::Leaf {
        // Kernels allocate with `Vec`, which aborts the process on failure.
        let bytes = crate::shape::numel(node.shape()) * node.dtype().size_of();
        crate::storage::ensure_allocatable(bytes, || {
            format!(
                "{} {:?} (recorded at {})",
                node.op().name(),
                node.shape(),
                node.origin()
            )
        });
    }
    let inputs: Vec<Realized> = node
        .inputs()
        .iter()
        .map(|n| n.value().expect("inputs are realized first").clone())
        .collect();
    match node.op() {
        Op::Leaf => inputs[0].clone(),
        Op::Unary(u) => elementwise::unary(*u, &inputs[0]),
        Op::Scalar(s, c) => elementwise::scalar(*s, *c, &inputs[0]),
        Op::Binary(b) => elementwise::binary(*b, &inputs[0], &inputs[1]),
        Op::Reduce(r, axes) => reduce::reduce(*r, axes, &inputs[0]),
        Op::MatMul => matmul::matmul(&inputs[0], &inputs[1], node.shape()),
        Op::Reshape => movement::reshape(&inputs[0], node.shape()),
        Op::Permute(perm) => inputs[0].with_layout(inputs[0].layout.permute(perm)),
        Op::Expand => inputs[0].with_layout(inputs[0].layout.expand(node.shape())),
        Op::Slice { starts, steps } => {
            inputs[0].with_layout(inputs[0].layout.slice(starts, steps, node.shape()))
        }
        Op::Flip(axes) => inputs[0].with_layout(inputs[0].layout.flip(axes)),
        Op::Pad(spec) => movement::pad(&inputs[0], spec, node.shape()),
        Op::Concat(axis) => movement::concat(&inputs, *axis, node.shape()),
        Op::Cast(dtype) => movement::cast(&inputs[0], *dtype),
    }
}

/// Calls `f(row_offsets, len)` for every innermost row of `shape`, where `row_offsets[i]` is
/// operand `i`'s buffer index of the row's first element (operand `i` has `strides[i]` and
/// starts at `offsets[i]`). The shared strided-iteration engine of the kernels.
pub(crate) fn for_each_row(
    shape: &[usize],
    strides: &[&[isize]],
    offsets: &[usize],
    mut f: impl FnMut(&[isize], usize),
) {
    let ndim = shape.len();
    if shape.contains(&0) {
        return;
    }
    let mut pos: Vec<isize> = offsets.iter().map(|&o| o as isize).collect();
    if ndim == 0 {
        f(&pos, 1);
        return;
    }
    let inner = shape[ndim - 1];
    let outer = ndim - 1;
    let mut index = vec![0usize; outer];
    loop {
        f(&pos, inner);
        let mut ax = outer;
        loop {
            if ax == 0 {
                return;
            }
            ax -= 1;
            index[ax] += 1;
            for (p, s) in pos.iter_mut().zip(strides) {
                *p += s[ax];
            }
            if index[ax] < shape[ax] {
                break;
            }
            for (p, s) in pos.iter_mut().zip(strides) {
                *p -= s[ax] * shape[ax] as isize;
            }
            index[ax] = 0;
        }
    }
}
