//! Recomputation, part of placement: an elementwise value that several steps read is
//! computed again inside each of them, instead of stored once and loaded by each, when that
//! costs no more memory traffic — when it is a short chain of cheap ops over at most one
//! full-size value (anything else it reads being a per-channel or scalar broadcast).
//!
//! A consumer then reads that one value where it would have read the stored result: the
//! same traffic, minus the store and the pass that wrote it. BatchNorm is where this counts:
//! `x − mean`, the normalized value and its affine output, and in the backward pass the
//! gradient scaled by γ and by 1/σ, each read by two to four reductions and loops, are no
//! longer written out (two passes of three a layer in the forward pass). Recomputed values
//! have the same bits: an elementwise op is a function of its operands, whichever loop runs
//! it.

use needle_core::op::{Op, ScalarOp, UnaryOp};
use needle_core::shape::numel;

use super::place::{is_elementwise, is_reduce};
use super::planner::Planner;

/// Ops (the value's and those inlined into it) a recomputed value may take: each consumer
/// repeats them, and a long chain would cost more than the load it saves.
const MAX_RECOMPUTED_OPS: usize = 8;

/// A value read at fewer than one element in this many of the result's (a per-channel
/// statistic broadcast over a batch of images) stays in cache: it does not count as a
/// full-size read.
const BROADCAST_RATIO: usize = 8;

/// Whether an elementwise op costs a few cycles at most: no call to a math function.
fn is_cheap(op: &Op) -> bool {
    match op {
        Op::Unary(u) => matches!(
            u,
            UnaryOp::Neg | UnaryOp::Relu | UnaryOp::Abs | UnaryOp::Sqrt
        ),
        Op::Scalar(s, _) => !matches!(s, ScalarOp::Pow),
        Op::Binary(_) => true,
        _ => false,
    }
}

impl Planner<'_> {
    /// Whether node `i` is recomputed by each of its consumers (see the module
    /// documentation). Called when `i` is placed, after the values it reads.
    pub(super) fn recomputed(&self, i: usize) -> bool {
        let graph = self.graph;
        let consumers = &self.consumers[i];
        let reads_in_place =
            |c: usize| is_elementwise(graph, c) || (is_reduce(graph, c) && graph.inputs(c) == [i]);
        if !is_elementwise(graph, i)
            || graph.wanted[i]
            || self.keep_compact[i]
            || consumers.len() < 2
            || !consumers.iter().all(|&c| reads_in_place(c))
        {
            return false;
        }
        let size = numel(self.shape(i));
        // The nodes computed in the chain, and the full-size values they read (by slot).
        let mut ops = 0;
        let mut full_size: Vec<usize> = Vec::new();
        let mut pending = vec![i];
        let mut seen = vec![i];
        while let Some(j) = pending.pop() {
            if j == i || self.inlinable[j] {
                ops += 1;
                if ops > MAX_RECOMPUTED_OPS || !is_cheap(graph.nodes[j].op()) {
                    return false;
                }
                for &src in graph.inputs(j) {
                    if !seen.contains(&src) {
                        seen.push(src);
                        pending.push(src);
                    }
                }
                continue;
            }
            let Some(access) = &self.plan.access[j] else {
                return false;
            };
            let read: usize = self
                .shape(j)
                .iter()
                .zip(&access.strides)
                .filter(|(_, &s)| s != 0)
                .map(|(&n, _)| n)
                .product();
            if read.saturating_mul(BROADCAST_RATIO) > size && !full_size.contains(&access.slot) {
                full_size.push(access.slot);
            }
        }
        full_size.len() <= 1
    }
}
