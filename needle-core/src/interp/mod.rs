//! The interpreter: runs a graph node by node with the eager kernels.
//!
//! Eager mode calls `compute_node` as each op is recorded; lazy mode hands a pending graph to
//! [`Interpreter`]. Both use the same kernels in the same order, so their results are
//! bit-identical.
//!
//! One kernel file per op family (`unary`, `scalar`, `binary`, `reduce`, `matmul`,
//! `movement`, `window`; see [`crate::op`]), over the shared loops of `elementwise`, `rows` and
//! `pairwise`. The interpreter's [`Backend`](crate::Backend) implementation is in
//! `backend.rs`, which realizes graphs with it.

mod binary;
mod cumsum;
pub mod elementwise;
mod gather;
mod matmul;
pub use matmul::{gemm_raw, PARALLEL_THRESHOLD};
mod movement;
pub mod pairwise;
mod reduce;
mod rows;
mod scalar;
mod unary;
pub mod window;

use crate::node::{Node, NodeRef};
use crate::op::Op;
use crate::storage::Realized;
use crate::walk::topo_nodes;

/// The reference backend: one kernel call per node, views as views.
pub struct Interpreter;

impl Interpreter {
    /// Computes every unrealized node `outputs` need, inputs first.
    pub fn run(&self, outputs: &[NodeRef]) {
        for node in topo_nodes(outputs, |n| !n.is_realized()) {
            let value = evaluate(&node);
            node.set_value(value);
        }
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
        Interpreter.run(&pending);
    }
    let value = evaluate(node);
    node.set_value(value);
}

/// The value of `node` from its (realized) inputs.
#[track_caller]
pub fn evaluate(node: &Node) -> Realized {
    if !node.op().aliases_input(node.num_inputs()) {
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
    evaluate_op(node.op(), &inputs, node.shape())
}

/// The value of `op` over the values `inputs`, of shape `shape`: [`evaluate`] without a
/// node (a replayed step's interpreter steps, whose inputs are its slots' buffers).
pub fn evaluate_op(op: &Op, inputs: &[Realized], shape: &[usize]) -> Realized {
    match op {
        Op::Leaf => inputs[0].clone(),
        Op::Unary(u) => unary::unary(*u, &inputs[0]),
        Op::Scalar(s, c) => scalar::scalar(*s, *c, &inputs[0]),
        Op::Binary(b) => binary::binary(*b, &inputs[0], &inputs[1]),
        Op::Reduce(r, axes) => reduce::reduce(*r, axes, &inputs[0]),
        Op::MatMul => matmul::matmul(&inputs[0], &inputs[1], shape),
        Op::Reshape => movement::reshape(&inputs[0], shape),
        Op::Permute(perm) => inputs[0].with_layout(inputs[0].layout.permute(perm)),
        Op::Expand => inputs[0].with_layout(inputs[0].layout.expand(shape)),
        Op::Slice { starts, steps } => {
            inputs[0].with_layout(inputs[0].layout.slice(starts, steps, shape))
        }
        Op::Flip(axes) => inputs[0].with_layout(inputs[0].layout.flip(axes)),
        Op::Pad(spec) => movement::pad(&inputs[0], spec, shape),
        Op::Concat(axis) => movement::concat(inputs, *axis, shape),
        Op::Cast(dtype) => movement::cast(&inputs[0], *dtype),
        Op::Cumsum(axis) => cumsum::cumsum(&inputs[0], *axis),
        Op::Gather(axis) => gather::gather(&inputs[0], &inputs[1], *axis),
        Op::ScatterAdd(axis) => gather::scatter_add(&inputs[0], &inputs[1], *axis, shape),
        Op::Im2col(w) => window::im2col(&inputs[0], *w, shape),
        Op::Col2im(w) => window::col2im(&inputs[0], *w, shape),
    }
}
