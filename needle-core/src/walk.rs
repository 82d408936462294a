//! Graph walks: the topological order every pass over a graph uses (autodiff, the
//! interpreter, the JIT's collection of pending nodes).

use crate::mark::Marking;
use crate::node::NodeRef;

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
