//! Splitting a pending graph into fused elementwise kernels and nodes the interpreter runs.
//!
//! An elementwise node is inlined into its consumer when that consumer is elementwise too, it
//! has no other consumer in the graph and nobody asked for its value: then it is never written
//! to memory. Everything else is materialized.

use std::collections::{HashMap, HashSet};

use needle_core::node::{Node, NodeRef};
use needle_core::op::Op;
use needle_core::DType;

use crate::kernel::{Expr, InputLayout, Kernel};

/// Ops the code generator handles.
pub fn is_elementwise(node: &Node) -> bool {
    node.dtype() == DType::F32 && matches!(node.op(), Op::Unary(_) | Op::Scalar(..) | Op::Binary(_))
}

/// Which nodes of `order` (a topological order of unrealized nodes) are inlined.
pub fn inlined(order: &[NodeRef], outputs: &[NodeRef]) -> HashSet<u64> {
    let wanted: HashSet<u64> = outputs.iter().map(|n| n.id()).collect();
    let mut consumers: HashMap<u64, Vec<&NodeRef>> = HashMap::new();
    for n in order {
        for input in n.inputs() {
            if !input.is_realized() {
                consumers.entry(input.id()).or_default().push(n);
            }
        }
    }
    order
        .iter()
        .filter(|n| {
            is_elementwise(n)
                && !wanted.contains(&n.id())
                && matches!(consumers.get(&n.id()).map(Vec::as_slice), Some([c]) if is_elementwise(c))
        })
        .map(|n| n.id())
        .collect()
}

/// The fused kernel computing `root`, with the realized nodes it reads (by slot).
pub fn build_kernel(root: &NodeRef, inlined: &HashSet<u64>) -> (Kernel, Vec<NodeRef>) {
    let mut exprs = Vec::new();
    let mut inputs: Vec<NodeRef> = Vec::new();
    let mut memo: HashMap<u64, usize> = HashMap::new();
    emit(root, true, inlined, &mut exprs, &mut inputs, &mut memo);
    let layouts = inputs
        .iter()
        .map(|n| InputLayout {
            strides: n
                .value()
                .expect("kernel inputs are realized first")
                .layout
                .strides
                .clone(),
        })
        .collect();
    let (shape, layouts) = collapse(root.shape(), layouts);
    let kernel = Kernel {
        shape,
        inputs: layouts,
        exprs,
    };
    (kernel, inputs)
}

/// Merges neighbouring axes that every input walks as one run (and drops size-1 axes), so most
/// kernels become one flat loop with one multiply per input per element. The output is compact,
/// so its axes always merge.
fn collapse(shape: &[usize], layouts: Vec<InputLayout>) -> (Vec<usize>, Vec<InputLayout>) {
    let mut out_shape: Vec<usize> = Vec::new();
    let mut out_strides: Vec<Vec<isize>> = vec![Vec::new(); layouts.len()];
    for (axis, &size) in shape.iter().enumerate() {
        if size == 1 {
            continue;
        }
        let mergeable = !out_shape.is_empty()
            && layouts.iter().zip(&out_strides).all(|(l, acc)| {
                *acc.last().expect("same length") == l.strides[axis] * size as isize
            });
        if mergeable {
            *out_shape.last_mut().expect("non-empty") *= size;
            for (l, acc) in layouts.iter().zip(out_strides.iter_mut()) {
                *acc.last_mut().expect("non-empty") = l.strides[axis];
            }
        } else {
            out_shape.push(size);
            for (l, acc) in layouts.iter().zip(out_strides.iter_mut()) {
                acc.push(l.strides[axis]);
            }
        }
    }
    let layouts = out_strides
        .into_iter()
        .map(|strides| InputLayout { strides })
        .collect();
    (out_shape, layouts)
}

fn emit(
    node: &NodeRef,
    is_root: bool,
    inlined: &HashSet<u64>,
    exprs: &mut Vec<Expr>,
    inputs: &mut Vec<NodeRef>,
    memo: &mut HashMap<u64, usize>,
) -> usize {
    if let Some(&i) = memo.get(&node.id()) {
        return i;
    }
    let expr = if is_root || inlined.contains(&node.id()) {
        let args: Vec<usize> = node
            .inputs()
            .iter()
            .map(|i| emit(i, false, inlined, exprs, inputs, memo))
            .collect();
        match node.op() {
            Op::Unary(u) => Expr::Unary(*u, args[0]),
            Op::Scalar(s, c) => Expr::Scalar(*s, *c, args[0]),
            Op::Binary(b) => Expr::Binary(*b, args[0], args[1]),
            other => unreachable!("only elementwise ops are fused, found {}", other.name()),
        }
    } else {
        let slot = match inputs.iter().position(|n| n.id() == node.id()) {
            Some(s) => s,
            None => {
                inputs.push(node.clone());
                inputs.len() - 1
            }
        };
        Expr::Input(slot)
    };
    exprs.push(expr);
    memo.insert(node.id(), exprs.len() - 1);
    exprs.len() - 1
}
