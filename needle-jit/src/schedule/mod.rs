//! Stage 2, schedule: which graph node is computed by which step of the program, and in which buffer
//! every value lives. The plan is plain data ([`Plan`]), printed by `NEEDLE_DEBUG=jit` and
//! returned by [`crate::last_program`].
//!
//! Rules:
//! - Views (reshape of a viewable layout, permute, broadcast, slice, flip) and pending
//!   assignments cost nothing: they only change how consumers address the buffer.
//! - An elementwise node is *inlined* into its consumer when that consumer is elementwise or a
//!   reduction of it, it has no other consumer and nobody asked for its value. It is then never
//!   written to memory. A node with several such consumers is written once and read by each,
//!   unless it is a short chain of cheap ops over at most one full-size value (the rest
//!   broadcasts): then each consumer recomputes it, reading that value where it would have
//!   read the stored one ([`recompute`]: BatchNorm's `x − mean` and normalized values). Such
//!   a value read through views (slices, permutations, flips, reshapes that split axes) is
//!   computed inside those readers' loops too, each view composed with its input accesses:
//!   average pooling runs with its producer (an eval-mode BatchNorm and ReLU) in its loop.
//! - Matmul is a call to the GEMM (reading transposed operands through strides). Its epilogue
//!   (bias, activation, a gradient's mask: the elementwise step that reads the product at the
//!   element it computes) joins the matmul step: the generated GEMM runs it on each block of
//!   rows as soon as the block is final, while it is in cache; after the gemm crate it runs as
//!   a pass over the result.
//! - im2col and col2im are window steps: the interpreter's functions for them, called on the
//!   program's buffers.
//! - An elementwise step that reads a 2-D product through a permuted view (a convolution's
//!   NCHW view of its channel-major product) walks the product's order and stores its result
//!   so ([`product_order`]): it can then be the product's epilogue. Not for a variable's new
//!   value, nor when a later product would read it with other strides than eager mode's.
//! - A sum joins an earlier sum over the same shape and axes that reads some of the same data
//!   once everything it reads exists by then: one walk computes both, each adding its
//!   elements in its own order (BatchNorm's backward: four per-channel sums in two passes).
//! - Sums with a kept axis outside their runs are split across threads by rows of that axis
//!   ([`sum_run`]), each output adding its runs in the interpreter's order.
//! - Padding, concatenation, casts and anything on i64 data run the interpreter's kernel for
//!   that node from inside the program (the documented per-node fallback).
//! - Intermediate buffers live in an arena owned by the compiled program, reused across steps
//!   by liveness; values the caller asked for (and values the interpreter must see) get buffers
//!   of their own.
//!
//! Receives a collected [`Graph`]; hands on a [`Plan`], which code generation compiles and the
//! run stage binds. The passes run in this order, one file each:
//! [`place`] (steps, inlining, views, host steps; [`product_order`], [`recompute`]) → [`fuse`] (multi-output fusion, epilogues,
//! producers joining reductions, sibling sums) → [`dead_stores`] → [`arena`] (scratch memory by liveness)
//! → [`donation`] (which outputs may take an input's buffer). [`describe`] prints a plan.

pub mod arena;
pub mod dead_stores;
pub mod describe;
pub mod donation;
pub mod fuse;
pub mod kernel;
pub mod place;
pub mod plan;
mod planner;
pub mod product_order;
pub mod recompute;
pub mod sum_run;

pub use kernel::{Access, Expr, Kernel};
pub use plan::{
    Donation, Elem, NodeInfo, Placement, Plan, SiblingSum, Slot, SlotKind, Step, StepKind, WindowOp,
};

use rustc_hash::FxHashMap;

use crate::collect::Graph;
use place::is_elementwise;
use place::is_reduce;
use planner::Planner;

/// Elements up to which a value computed from the program's inputs alone is placed first.
const EARLY_ELEMENTS: usize = 4096;

/// The order nodes are placed in: the graph's (inputs before consumers), except that the
/// program's inputs, small elementwise values computed from them alone — a BatchNorm's per-channel
/// factors in eval mode, a learning rate's schedule — and views of these come first. A
/// product's epilogue can only read values computed before the product, so this is what lets
/// an eval-mode BatchNorm and its ReLU run as a convolution's epilogue.
fn placement_order(graph: &Graph) -> Vec<usize> {
    let n = graph.nodes.len();
    let mut early = vec![false; n];
    for i in 0..n {
        let inputs = graph.inputs(i);
        let ready = |j: &usize| graph.is_input[*j] || early[*j];
        let node = &graph.nodes[i];
        early[i] = graph.is_input[i]
            || (!inputs.is_empty()
                && inputs.iter().all(ready)
                && ((is_elementwise(graph, i)
                    && needle_core::shape::numel(node.shape()) <= EARLY_ELEMENTS)
                    || node.op().is_view()));
    }
    (0..n)
        .filter(|&i| early[i])
        .chain((0..n).filter(|&i| !early[i]))
        .collect()
}

impl Plan {
    /// Schedules `graph`.
    pub fn new(graph: &Graph) -> Plan {
        let n = graph.nodes.len();
        let mut consumers: Vec<Vec<usize>> = vec![Vec::new(); n];
        for c in 0..n {
            for &i in graph.inputs(c) {
                if consumers[i].last() != Some(&c) {
                    consumers[i].push(c);
                }
            }
        }
        let inlinable = (0..n)
            .map(|i| {
                is_elementwise(graph, i)
                    && !graph.wanted[i]
                    && matches!(consumers[i].as_slice(), [c] if is_elementwise(graph, *c) || is_reduce(graph, *c))
            })
            .collect();
        let keep_compact = (0..n)
            .map(|i| {
                consumers[i].iter().any(|&c| {
                    let node = &graph.nodes[c];
                    node.op().is_pending_assignment(graph.inputs(c).len())
                })
            })
            .collect();
        let nodes = graph
            .nodes
            .iter()
            .enumerate()
            .map(|(i, node)| NodeInfo {
                op: if graph.is_input[i] {
                    "input".into()
                } else {
                    node.op().name()
                },
                shape: node.shape().to_vec(),
                origin: node.origin().to_string(),
                backward_of: node.backward_of(),
                placement: Placement::Input,
            })
            .collect();
        let mut planner = Planner {
            graph,
            plan: Plan {
                nodes,
                access: vec![None; n],
                slots: Vec::new(),
                steps: Vec::new(),
                arena_bytes: 0,
                donations: Vec::new(),
                last_read: Vec::new(),
                wanted: (0..n).filter(|&i| graph.wanted[i]).collect(),
            },
            inlinable,
            memo: FxHashMap::default(),
            product_order: FxHashMap::default(),
            keep_compact,
            consumers,
        };
        for i in placement_order(graph) {
            planner.place(i);
        }
        planner.mark_owned();
        planner.merge_kernels();
        planner.drop_dead_stores();
        planner.decide_splits();
        planner.finish_placements();
        planner.assign_memory();
        planner.find_donations();
        planner.plan
    }
}
