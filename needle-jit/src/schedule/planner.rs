//! The scheduler's state while it builds a plan: the graph, the plan so far, which nodes are
//! inlined, and the expression memo of the kernel being built.

use rustc_hash::FxHashMap;

use super::plan::Plan;
use crate::collect::Graph;

/// The scheduler's state while it builds a plan; each pass adds its methods from its file.
pub(super) struct Planner<'g> {
    /// The graph being scheduled.
    pub(super) graph: &'g Graph,
    /// The plan so far.
    pub(super) plan: Plan,
    /// Per node: computed inside its consumer's loop, never stored (the one consumer's, or
    /// each consumer's when it is recomputed: see `recompute.rs`).
    pub(super) inlinable: Vec<bool>,
    /// Expression index of each node already emitted into the kernel being built.
    pub(super) memo: FxHashMap<usize, usize>,
    /// Per slot written in a 2-D order of its own — a matmul's product, an elementwise
    /// step walking one (see `Planner::in_product_order`) — that order's shape.
    pub(super) product_order: FxHashMap<usize, [usize; 2]>,
    /// Per node: its value must be stored compact, being a variable's new value, which the
    /// next step reads as an input: stored in another order it would change the next
    /// program's key and could not take the old value's buffer. (A value the caller asked
    /// for may come in the product's order: a convolution's output is such a view in every
    /// mode.)
    pub(super) keep_compact: Vec<bool>,
    /// Per node: the nodes that read it.
    pub(super) consumers: Vec<Vec<usize>>,
}
