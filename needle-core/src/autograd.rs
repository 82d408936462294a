//! Gradients as return values: [`grad`], PyTorch's `torch.autograd.grad`.
//!
//! `backward` stores gradients on the leaves, where the next `backward` overwrites them;
//! higher-order work (Hessian-vector products, gradient penalties, meta-learning) wants the
//! gradient as a tensor of its own, leaving every `.grad()` as it was.

use rustc_hash::{FxHashMap, FxHashSet};

use crate::autodiff::{propagate, refuse_superseded};
use crate::node::NodeRef;
use crate::pending::register_pending_value;
use crate::shape::fmt_shape;
use crate::tensor::Tensor;
use crate::walk::topo_nodes;

/// The gradients of the sum of `outputs` with respect to each of `inputs`, in the order of
/// `inputs`, like PyTorch's `torch.autograd.grad(outputs, inputs, create_graph=...)`.
///
/// Nothing's [`grad()`](Tensor::grad) changes. Each output must be a one-element tensor that
/// requires grad (for a vector-Jacobian product, pass `(y * v).sum_all()`); each input must
/// require grad and be used by some output through differentiable ops (PyTorch's default,
/// `allow_unused=False`). An input may be an intermediate result, not only a leaf.
///
/// With `create_graph` the gradients are recorded with history, so they can be differentiated
/// again (a Hessian-vector product is the gradient of `(g · v).sum_all()`); without it they
/// are plain values. Like [`Tensor::backward`], `grad` refuses a graph that reads a parameter
/// updated since it was recorded.
///
/// ```
/// use needle_core::{grad, Tensor};
/// let x = Tensor::from_vec(vec![1.0, 2.0], &[2]).requires_grad_(true);
/// let y = x.powf(3.0).sum_all(); // Σ x³
/// let g = grad(&[&y], &[&x], true); // 3x² = [3, 12], with history
/// let hv = grad(&[&(&g[0] * &Tensor::from_vec(vec![1.0, 1.0], &[2])).sum_all()], &[&x], false);
/// assert_eq!(g[0].to_vec(), vec![3.0, 12.0]);
/// assert_eq!(hv[0].to_vec(), vec![6.0, 12.0]); // H·v = 6x ⊙ v
/// assert!(x.grad().is_none());
/// ```
#[track_caller]
pub fn grad(outputs: &[&Tensor], inputs: &[&Tensor], create_graph: bool) -> Vec<Tensor> {
    assert!(!outputs.is_empty(), "grad: no outputs to differentiate");
    for (i, out) in outputs.iter().enumerate() {
        assert!(
            out.requires_grad(),
            "grad: output {i} (shape {}) does not require grad (no input of its graph \
             requires grad, or it was computed under no_grad)",
            fmt_shape(&out.shape())
        );
        assert!(
            out.numel() == 1,
            "grad: output {i} of shape {} is not a scalar; for a vector-Jacobian product \
             differentiate `(output * v).sum_all()`",
            fmt_shape(&out.shape())
        );
    }
    let input_nodes: Vec<NodeRef> = inputs.iter().map(|t| t.node()).collect();
    for (j, node) in input_nodes.iter().enumerate() {
        assert!(
            node.requires_grad(),
            "grad: input {j} (shape {}) does not require grad; create it with \
             `.requires_grad_(true)`",
            fmt_shape(node.shape())
        );
    }
    let roots: Vec<NodeRef> = outputs.iter().map(|t| t.node()).collect();
    let order = topo_nodes(&roots, |n| n.requires_grad());
    refuse_superseded("grad", &order);

    // Only adjoints on a path to an input matter; `order` lists inputs before their users, so
    // one pass finds every node that leads to an input.
    let wanted_ids: FxHashSet<u64> = input_nodes.iter().map(|n| n.id()).collect();
    let mut leads: FxHashSet<u64> = FxHashSet::default();
    for node in &order {
        let reaches = wanted_ids.contains(&node.id())
            || node.with_inputs(|ins| ins.iter().any(|i| leads.contains(&i.id())));
        if reaches {
            leads.insert(node.id());
        }
    }
    for (j, node) in input_nodes.iter().enumerate() {
        assert!(
            leads.contains(&node.id()),
            "grad: input {j} (shape {}) is not used by the outputs through differentiable \
             ops, so they have no gradient with respect to it (was the output computed from \
             this tensor, or from an earlier value of it?)",
            fmt_shape(node.shape())
        );
    }

    let seeds = roots
        .iter()
        .map(|n| (n.id(), Tensor::ones(n.shape())))
        .collect();
    let mut found: FxHashMap<u64, Tensor> = FxHashMap::default();
    let mut collect = |node: &NodeRef, adjoint: &Tensor| {
        if wanted_ids.contains(&node.id()) {
            found.insert(node.id(), adjoint.clone());
        }
    };
    propagate(
        &order,
        seeds,
        create_graph,
        &|n| leads.contains(&n.id()),
        &mut collect,
    );
    input_nodes
        .iter()
        .map(|node| {
            // No adjoint arrives only through ops without a gradient for that input (a zero
            // gradient, as PyTorch's `materialize_grads`).
            let g = found
                .get(&node.id())
                .cloned()
                .unwrap_or_else(|| Tensor::zeros(node.shape()));
            // Like the gradients `backward` stores: computed with the next realization, so the
            // graph behind them is released then.
            register_pending_value(&g.node());
            g
        })
        .collect()
}
