//! Reverse-mode automatic differentiation over the graph.
//!
//! Each op's gradient is written with tensor ops, so gradients are graph nodes like any other:
//! lazy, fusable by the JIT together with the forward pass and the optimizer update, and —
//! with [`Tensor::backward_create_graph`] — differentiable again.

use std::collections::HashMap;

use crate::mark::Marking;
use crate::mode::{enable_grad, no_grad};
use crate::node::{BackwardScope, NodeRef};
use crate::op::{BinaryOp, Op, ReduceOp, ScalarOp, UnaryOp};
use crate::pending::register_pending_value;
use crate::shape::fmt_shape;
use crate::tensor::Tensor;

/// Nodes reachable from `roots` in post-order (inputs before the nodes that use them, left
/// operand's subtree before the right one's), as the course's `find_topo_sort`. Iterative, so
/// arbitrarily deep graphs do not overflow the stack.
pub fn topo_order(roots: &[&Tensor]) -> Vec<Tensor> {
    let nodes: Vec<NodeRef> = roots.iter().map(|t| t.node()).collect();
    topo_nodes(&nodes, |_| true)
        .into_iter()
        .map(|n| match n.owner() {
            Some(cell) => Tensor(cell),
            None => Tensor::view_of(n),
        })
        .collect()
}

/// Post-order over nodes accepted by `follow` (a rejected node is neither listed nor entered).
pub fn topo_nodes(roots: &[NodeRef], follow: impl Fn(&NodeRef) -> bool) -> Vec<NodeRef> {
    match Marking::begin() {
        Some(marks) => topo_with(roots, &follow, |n| {
            let seen = marks.get(n).is_some();
            marks.set(n, 0);
            !seen
        }),
        // A nested call (a `follow` that sorts again) gets a table of its own.
        None => {
            let mut visited = rustc_hash::FxHashSet::default();
            topo_with(roots, &follow, |n| visited.insert(n.id()))
        }
    }
}

/// The traversal of [`topo_nodes`]; `first_visit` marks a node and tells whether it was
/// unmarked.
fn topo_with(
    roots: &[NodeRef],
    follow: &impl Fn(&NodeRef) -> bool,
    mut first_visit: impl FnMut(&NodeRef) -> bool,
) -> Vec<NodeRef> {
    // Capacities for a small model's step, saving the first few regrowths.
    let mut order = Vec::with_capacity(128);
    // (node, next input index to visit)
    let mut stack: Vec<(NodeRef, usize)> = Vec::with_capacity(32);
    for root in roots {
        if !follow(root) || !first_visit(root) {
            continue;
        }
        stack.push((root.clone(), 0));
        while let Some((node, next)) = stack.pop() {
            let child = node.with_inputs(|inputs| inputs.get(next).cloned());
            match child {
                Some(child) => {
                    stack.push((node, next + 1));
                    if follow(&child) && first_visit(&child) {
                        stack.push((child, 0));
                    }
                }
                None => order.push(node),
            }
        }
    }
    order
}

/// Runs backward from `root` (see [`Tensor::backward`]).
#[track_caller]
pub(crate) fn backward(root: &Tensor, out_grad: Option<&Tensor>, create_graph: bool) {
    let root_node = root.node();
    assert!(
        root_node.requires_grad(),
        "backward: this tensor does not require grad (no input of its graph requires grad, \
         or it was computed under no_grad)"
    );
    let seed = match out_grad {
        Some(g) => {
            assert!(
                g.shape() == root_node.shape(),
                "backward: output gradient of shape {} does not match output of shape {}",
                fmt_shape(&g.shape()),
                fmt_shape(root_node.shape())
            );
            g.clone()
        }
        None => {
            assert!(
                root.numel() == 1,
                "backward: output of shape {} is not a scalar; pass an output gradient with backward_with",
                fmt_shape(root_node.shape())
            );
            Tensor::ones(root_node.shape())
        }
    };
    let order = topo_nodes(std::slice::from_ref(&root_node), |n| n.requires_grad());
    refuse_superseded("backward", &order);
    let mut store = |node: &NodeRef, adjoint: &Tensor| {
        let Some(owner) = node.owner() else { return };
        let owner = Tensor(owner);
        if *node.op() == Op::Leaf || owner.retains_grad() {
            // Computed with the next realization (the step's program in JIT mode), like a
            // pending assignment: a stored gradient is then a value, not a graph that keeps
            // the step's forward and backward nodes alive until the next `zero_grad`, and
            // reading it after the step costs nothing.
            register_pending_value(&adjoint.node());
            owner.set_grad(Some(adjoint.clone()));
        }
    };
    let seeds = vec![(root_node.id(), seed)];
    propagate(&order, seeds, create_graph, &|_| true, &mut store);
}

/// The reverse pass: visits `order` (nodes that require grad, inputs before their users)
/// backwards, starting from the adjoints in `seeds` (node id, adjoint; repeated ids add up),
/// hands every node's total adjoint to `sink`, and sends adjoints on to the inputs for which
/// `wanted` holds. Gradients are recorded with history when `create_graph` is set.
pub(crate) fn propagate(
    order: &[NodeRef],
    seeds: Vec<(u64, Tensor)>,
    create_graph: bool,
    wanted: &dyn Fn(&NodeRef) -> bool,
    sink: &mut dyn FnMut(&NodeRef, &Tensor),
) {
    let run = || {
        let mut adjoints: HashMap<u64, Tensor, rustc_hash::FxBuildHasher> = HashMap::default();
        for (id, seed) in seeds {
            let sum = match adjoints.remove(&id) {
                Some(existing) => &existing + &seed,
                None => seed,
            };
            adjoints.insert(id, sum);
        }
        for node in order.iter().rev() {
            let Some(adjoint) = adjoints.remove(&node.id()) else {
                continue;
            };
            sink(node, &adjoint);
            if *node.op() == Op::Leaf {
                continue;
            }
            let inputs = node.input_nodes();
            if !inputs.iter().any(|i| i.requires_grad() && wanted(i)) {
                continue;
            }
            // The gradient's nodes carry the forward node's line (debug output, errors).
            let scope = BackwardScope::enter(node);
            let parts = input_gradients(node, &inputs, &adjoint, wanted);
            drop(scope);
            for (input, part) in inputs.iter().zip(parts) {
                let Some(part) = part else { continue };
                if !input.requires_grad() || !wanted(input) {
                    continue;
                }
                let sum = match adjoints.remove(&input.id()) {
                    Some(existing) => {
                        let _scope = BackwardScope::enter(input);
                        &existing + &part
                    }
                    None => part,
                };
                adjoints.insert(input.id(), sum);
            }
        }
    };
    if create_graph {
        enable_grad(run)
    } else {
        no_grad(run)
    }
}

/// Panics, at the caller's line, when a node of `order` (a graph about to be differentiated)
/// is the old value of a variable that has since been updated: the gradient would be taken at
/// parameters the model no longer has. The same check in every mode (in JIT mode the old
/// buffer may even have been reused for the new value).
#[track_caller]
pub(crate) fn refuse_superseded(what: &str, order: &[NodeRef]) {
    for node in order {
        if let Some(update) = node.superseded_by() {
            panic!(
                "{what}: the graph reads a parameter of shape {} that `{}` at {} has since \
                 updated, so its gradient would be taken at the old value (PyTorch: one of the \
                 variables needed for gradient computation has been modified by an inplace \
                 operation). Run the forward pass again after the update, or call {what} \
                 before it",
                fmt_shape(node.shape()),
                update.by,
                update.at,
            );
        }
    }
}

/// The adjoint of each input of `node` given the adjoint `g` of its output (`None` where the
/// op has no gradient for that input, and for inputs that do not require one or are not
/// `wanted`: the input batch of a model's first layer gets no product computed for it, in any
/// mode).
#[track_caller]
fn input_gradients(
    node: &NodeRef,
    inputs: &[NodeRef],
    g: &Tensor,
    wanted: &dyn Fn(&NodeRef) -> bool,
) -> Vec<Option<Tensor>> {
    let x = |i: usize| Tensor::view_of(inputs[i].clone());
    let y = || Tensor::view_of(node.clone());
    // Single-input ops are only visited when their input requires grad and is wanted.
    let need = |i: usize| inputs[i].requires_grad() && wanted(&inputs[i]);
    match node.op() {
        Op::Leaf | Op::Cast(_) => vec![None; inputs.len()],
        Op::Unary(u) => vec![Some(match u {
            UnaryOp::Neg => g.neg(),
            UnaryOp::Exp => g * &y(),
            UnaryOp::Log => g / &x(0),
            UnaryOp::Sqrt => g / &(y() * 2.0),
            // PyTorch's threshold_backward: 0 where x ≤ 0 even for an infinite g.
            UnaryOp::Relu => g.masked(&x(0).gt(0.0)),
            UnaryOp::Tanh => {
                let t = y();
                g * &(&t * &t).rsub_scalar(1.0)
            }
            UnaryOp::Sigmoid => {
                let s = y();
                g * &(&s * &s.rsub_scalar(1.0))
            }
            UnaryOp::Sin => g * &x(0).cos(),
            UnaryOp::Cos => -(g * &x(0).sin()),
        })],
        Op::Scalar(s, c) => {
            let c = *c;
            vec![match s {
                ScalarOp::Add => Some(g.clone()),
                ScalarOp::Mul => Some(g * c),
                ScalarOp::Div => Some(g / c),
                ScalarOp::RDiv => Some(-(g * &y()) / &x(0)),
                ScalarOp::Pow if c == 0.0 => Some(g.zeros_like()),
                ScalarOp::Pow => Some(g * &(x(0).powf(c - 1.0) * c)),
                ScalarOp::Max => {
                    let a = x(0);
                    let mask = a.gt(c) + a.eq(c) * 0.5;
                    Some(g * &mask)
                }
                _ => None,
            }]
        }
        Op::Binary(b) => match b {
            BinaryOp::Add => vec![need(0).then(|| g.clone()), need(1).then(|| g.clone())],
            BinaryOp::Sub => vec![need(0).then(|| g.clone()), need(1).then(|| g.neg())],
            BinaryOp::Mul => vec![need(0).then(|| g * &x(1)), need(1).then(|| g * &x(0))],
            BinaryOp::Div => {
                let b = x(1);
                vec![need(0).then(|| g / &b), need(1).then(|| -(g * &y()) / &b)]
            }
            BinaryOp::Mask => vec![need(0).then(|| g.masked(&x(1))), None],
            BinaryOp::Max => {
                let (a, b) = (x(0), x(1));
                let mask = a.gt(&b) + a.eq(&b) * 0.5;
                let ga = g * &mask;
                let gb = g - &ga;
                vec![Some(ga), Some(gb)]
            }
            _ => vec![None, None],
        },
        Op::Reduce(r, axes) => {
            let shape = inputs[0].shape().to_vec();
            vec![Some(match r {
                ReduceOp::Sum => g.broadcast_to(&shape),
                ReduceOp::Max => {
                    let a = x(0);
                    let mask = a.eq(y().broadcast_to(&shape));
                    let iaxes: Vec<isize> = axes.iter().map(|&a| a as isize).collect();
                    let count = mask.sum(&iaxes, true);
                    (g / &count).broadcast_to(&shape).masked(&mask)
                }
            })]
        }
        Op::MatMul => vec![
            need(0).then(|| g.matmul(&x(1).t())),
            need(1).then(|| x(0).t().matmul(g)),
        ],
        Op::Reshape => vec![Some(g.reshape(inputs[0].shape()))],
        Op::Permute(perm) => {
            let mut inverse = vec![0; perm.len()];
            for (i, &p) in perm.iter().enumerate() {
                inverse[p] = i;
            }
            vec![Some(g.permute(&inverse))]
        }
        Op::Expand => {
            let in_shape = inputs[0].shape();
            let out_shape = node.shape();
            let lead = out_shape.len() - in_shape.len();
            let axes: Vec<isize> = (0..out_shape.len())
                .filter(|&i| i < lead || (in_shape[i - lead] == 1 && out_shape[i] != 1))
                .map(|i| i as isize)
                .collect();
            vec![Some(g.sum(&axes, true).reshape(in_shape))]
        }
        Op::Slice { starts, steps } => {
            let in_shape = inputs[0].shape();
            let out_shape = node.shape();
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
            let in_shape = inputs[0].shape().to_vec();
            let starts: Vec<usize> = spec.iter().map(|&(b, _, _)| b).collect();
            let steps: Vec<usize> = spec.iter().map(|&(_, _, i)| i + 1).collect();
            vec![Some(g.slice_multi(starts, steps, in_shape))]
        }
        Op::Concat(axis) => {
            let mut start = 0;
            inputs
                .iter()
                .map(|inp| {
                    let len = inp.shape()[*axis];
                    let part = (inp.requires_grad() && wanted(inp))
                        .then(|| g.narrow(*axis as isize, start, len));
                    start += len;
                    part
                })
                .collect()
        }
    }
}

impl Tensor {
    /// A multi-axis stepped slice (the adjoint of `pad_dilate`).
    #[track_caller]
    pub(crate) fn slice_multi(
        &self,
        starts: Vec<usize>,
        steps: Vec<usize>,
        shape: Vec<usize>,
    ) -> Tensor {
        let node = self.node();
        if node.shape() == shape.as_slice() && starts.iter().all(|&s| s == 0) {
            return self.clone();
        }
        let dtype = node.dtype();
        Tensor::record(
            Op::Slice { starts, steps },
            smallvec::smallvec![node],
            crate::shape::Dims::from_vec(shape),
            dtype,
        )
    }
}
