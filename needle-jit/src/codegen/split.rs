//! Function splitting: which steps share a chunk function (a large program is split so two
//! threads compile it), and which kernels get a row-range function of their own (steps split
//! across threads at run time, matmul epilogues).

use super::functions::RowsBody;
use super::sum::sums_of;
use super::sum_rows::split_sum_rows;
use crate::schedule::{Kernel, Plan, StepKind};

/// Below this many steps a program is one function compiled on the calling thread; above,
/// its steps are split into chunk functions compiled on two threads (Cranelift compiles a
/// function on one core, and a program of a hundred kernels takes tens of milliseconds).
const PARALLEL_STEPS: usize = 12;
/// Chunk functions per program above [`PARALLEL_STEPS`]: more than the two threads, so a
/// chunk of heavy kernels does not leave one thread idle.
const CHUNKS: usize = 6;

/// True when step `kernel` is split across threads (never in checked mode, where both halves
/// would record errors in one block).
pub fn parallel_step(kernel: &Kernel, checked: bool) -> bool {
    !checked && kernel.parallel()
}

/// The kernel of step `s` that is compiled as a [`RowsFn`](crate::abi::RowsFn), if any: a split elementwise step
/// or a matmul's epilogue (in checked mode too: its checks report through the block).
pub fn rows_kernel(plan: &Plan, s: usize, checked: bool) -> Option<&Kernel> {
    match &plan.steps[s].kind {
        StepKind::Elementwise(k) if parallel_step(k, checked) => Some(k),
        StepKind::MatMul {
            epilogue: Some(k), ..
        } => Some(k),
        _ => None,
    }
}

/// What step `s` compiles as a [`RowsFn`](crate::abi::RowsFn), if anything: a kernel of
/// [`rows_kernel`], or the rows of a sum split across threads ([`split_sum_rows`]).
pub(super) fn rows_body(plan: &Plan, s: usize, checked: bool) -> Option<RowsBody<'_>> {
    if let Some(k) = rows_kernel(plan, s, checked) {
        return Some(RowsBody::Kernel(k));
    }
    split_sum_rows(plan, s, checked)?;
    let step = &plan.steps[s];
    match &step.kind {
        StepKind::Reduce { axes, body, .. } => Some(RowsBody::Sum(body, axes, sums_of(step))),
        _ => None,
    }
}

/// Consecutive step ranges of about equal weight (fused expressions dominate compile time).
pub(super) fn split(plan: &Plan) -> Vec<std::ops::Range<usize>> {
    let n = plan.steps.len();
    if n < PARALLEL_STEPS {
        return std::iter::once(0..n).collect();
    }
    let weight = |s: &crate::schedule::Step| -> usize {
        match &s.kind {
            StepKind::Elementwise(k) => 4 + k.exprs.len(),
            StepKind::Reduce { body, epilogue, .. } => {
                8 + body.exprs.len() + epilogue.as_ref().map_or(0, |k| k.exprs.len())
            }
            // The epilogue is a function of its own.
            _ => 1,
        }
    };
    let total: usize = plan.steps.iter().map(weight).sum();
    let target = total.div_ceil(CHUNKS);
    let mut chunks = Vec::new();
    let (mut start, mut acc) = (0, 0);
    for (i, s) in plan.steps.iter().enumerate() {
        acc += weight(s);
        if acc >= target && chunks.len() + 1 < CHUNKS {
            chunks.push(start..i + 1);
            start = i + 1;
            acc = 0;
        }
    }
    if start < n {
        chunks.push(start..n);
    }
    chunks
}
