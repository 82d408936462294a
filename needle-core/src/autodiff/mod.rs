//! Reverse-mode automatic differentiation over the graph.
//!
//! This file is the reverse pass (`backward`, `propagate`); the gradient rules are in one
//! file per op family (`unary`, `scalar`, `binary`, `reduce`, `matmul`, `movement`, `window`; see
//! [`crate::op`]), each a function of the forward node and its output's adjoint (`rule::Rule`).
//!
//! Each op's gradient is written with tensor ops, so gradients are graph nodes like any other:
//! lazy, fusable by the JIT together with the forward pass and the optimizer update, and —
//! with [`Tensor::backward_create_graph`] — differentiable again.

use std::collections::HashMap;

mod binary;
mod matmul;
mod movement;
mod reduce;
mod rule;
mod scalar;
mod unary;
mod window;

use rule::Rule;

use crate::mode::{enable_grad, no_grad};
use crate::node::{BackwardScope, NodeRef};
use crate::op::Op;
use crate::shape::fmt_shape;
use crate::tensor::Tensor;

use crate::walk::topo_nodes;

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
            // `set_grad` registers it to be computed with the next realization (the step's
            // program in JIT mode), like a pending assignment: a stored gradient is then a
            // value, not a graph that keeps the step's forward and backward nodes alive until
            // the next `zero_grad`, and reading it after the step costs nothing.
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
/// mode). The rules are in one file per op family.
#[track_caller]
fn input_gradients(
    node: &NodeRef,
    inputs: &[NodeRef],
    g: &Tensor,
    wanted: &dyn Fn(&NodeRef) -> bool,
) -> Vec<Option<Tensor>> {
    let rule = Rule {
        node,
        inputs,
        g,
        wanted,
    };
    match node.op() {
        // Gradients stop at data.
        Op::Leaf => vec![None; inputs.len()],
        Op::Unary(u) => vec![Some(unary::gradient(*u, &rule))],
        Op::Scalar(s, c) => vec![scalar::gradient(*s, *c, &rule)],
        Op::Binary(b) => binary::gradients(*b, &rule),
        Op::Reduce(r, axes) => vec![Some(reduce::gradient(*r, axes, &rule))],
        Op::MatMul => matmul::gradients(&rule),
        Op::Cumsum(axis) => vec![Some(reduce::cumsum_gradient(*axis, &rule))],
        Op::Im2col(w) => vec![Some(window::im2col_gradient(*w, &rule))],
        Op::Col2im(w) => vec![Some(window::col2im_gradient(*w, &rule))],
        op @ (Op::Reshape
        | Op::Permute(_)
        | Op::Expand
        | Op::Slice { .. }
        | Op::Flip(_)
        | Op::Pad(_)
        | Op::Concat(_)
        | Op::Cast(_)
        | Op::Gather(_)
        | Op::ScatterAdd(_)) => movement::gradients(op, &rule),
    }
}

impl Tensor {
    /// Runs reverse-mode autodiff from this scalar (one-element) tensor: every leaf that
    /// requires grad receives `.grad()` (overwritten, not accumulated), and so does every
    /// tensor that called [`retain_grad`](Self::retain_grad). Gradients are graph nodes but
    /// carry no history; use [`backward_create_graph`](Self::backward_create_graph) to
    /// differentiate them again.
    #[track_caller]
    pub fn backward(&self) {
        backward(self, None, false);
    }

    /// Like [`backward`](Self::backward) with an explicit output gradient (any shape).
    #[track_caller]
    pub fn backward_with(&self, out_grad: &Tensor) {
        backward(self, Some(out_grad), false);
    }

    /// Like [`backward`](Self::backward), but gradients are recorded with history so they can
    /// be differentiated again (higher-order gradients). As in PyTorch, a stored gradient then
    /// references its variable's graph until it is cleared or overwritten.
    #[track_caller]
    pub fn backward_create_graph(&self) {
        backward(self, None, true);
    }
}
