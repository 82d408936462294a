//! How a sum walks its input: its axes merged where every input allows, which sums need a
//! run buffer and which are split across threads — scheduling decisions (the buffer is a
//! scratch slot of the plan) that code generation follows (see `codegen/sum.rs` and
//! `codegen/sum_rows.rs`).
//!
//! A split sum is computed by rows of its outermost kept axis, each thread taking whole
//! outputs, with the loops outside the runs reordered: kept axes first, reduced axes after,
//! each in their own order. An output still receives its runs in logical order, the sequence
//! it gets in the interpreter (`out = out + pairwise(run)`), so the bits do not depend on the
//! split or on how the threads shared it. A split sum whose runs are gathered gets a run
//! buffer per row.

use needle_core::interp::pairwise::run_start;
use needle_core::shape::{contiguous_strides, numel};

use needle_core::op::ReduceOp;

use super::kernel::Kernel;
use super::plan::StepKind;
use super::planner::Planner;

/// Runs up to this long are summed by generated code (at most eight leaves); longer ones by
/// the host helper, whose call then costs little next to the run.
pub const INLINE_RUN: usize = 1024;

/// The length of the run buffer a sum of `shape` over `axes` needs: `Some` when its run is
/// longer than [`INLINE_RUN`] or spans several axes longer than 1 (which the generated code
/// gathers unless every input lets them merge).
pub fn run_buffer_len(shape: &[usize], axes: &[usize]) -> Option<usize> {
    let run = &shape[run_start(shape, |a| axes.contains(&a))?..];
    let len = numel(run);
    let axes_in_run = run.iter().filter(|&&d| d > 1).count();
    (len > 0 && (len > INLINE_RUN || axes_in_run > 1)).then_some(len)
}

/// `body` with its size-1 axes dropped and neighbouring axes of the same kind merged where
/// every input walks them as one stretch (its outputs are compact, so theirs always merge),
/// and whether each of its axes is reduced. A body of only size-1 axes keeps one, kept.
pub fn merged(body: &Kernel, axes: &[usize]) -> (Kernel, Vec<bool>) {
    let mut k = body.clone();
    k.shape.clear();
    for a in &mut k.inputs {
        a.strides.clear();
    }
    let mut reduced: Vec<bool> = Vec::new();
    for (axis, &size) in body.shape.iter().enumerate() {
        if size == 1 {
            continue;
        }
        let r = axes.contains(&axis);
        let mergeable = reduced.last() == Some(&r)
            && body.inputs.iter().zip(&k.inputs).all(|(a, m)| {
                *m.strides.last().expect("same axes") == a.strides[axis] * size as isize
            });
        if mergeable {
            *k.shape.last_mut().expect("an axis") *= size;
            for (a, m) in body.inputs.iter().zip(&mut k.inputs) {
                *m.strides.last_mut().expect("an axis") = a.strides[axis];
            }
        } else {
            k.shape.push(size);
            for (a, m) in body.inputs.iter().zip(&mut k.inputs) {
                m.strides.push(a.strides[axis]);
            }
            reduced.push(r);
        }
    }
    if k.shape.is_empty() {
        k.shape.push(1);
        for m in &mut k.inputs {
            m.strides.push(0);
        }
        reduced.push(false);
    }
    (k, reduced)
}

/// A sum's merged kernel with its outer axes reordered (kept, then reduced): how a split sum
/// walks its input.
pub struct Reordered {
    /// The kernel over the reordered axes (the run's axes last).
    pub kernel: Kernel,
    /// The output's strides over the reordered axes (0 on reduced ones).
    pub out_strides: Vec<isize>,
    /// Where the kernel's outputs are stored: the merged kernel's compact strides, reordered.
    pub store_strides: Vec<isize>,
    /// The first axis of the run.
    pub run: usize,
    /// Outputs per row of the outermost kept axis.
    pub row_outputs: usize,
}

/// The reordered form of the sum of `body` over `axes`, when it can be split: it has a run,
/// and an axis of at least two outside the run is kept.
pub fn reordered(body: &Kernel, axes: &[usize]) -> Option<Reordered> {
    if body.shape.is_empty() || body.shape.contains(&0) {
        return None;
    }
    let (kernel, reduced) = merged(body, axes);
    let nd = kernel.shape.len();
    let run = run_start(&kernel.shape, |a| reduced[a])?;
    let order: Vec<usize> = (0..run)
        .filter(|&a| !reduced[a])
        .chain((0..run).filter(|&a| reduced[a]))
        .chain(run..nd)
        .collect();
    if reduced[order[0]] || kernel.shape[order[0]] < 2 {
        return None;
    }
    let mut out_strides = vec![0isize; nd];
    let mut size = 1;
    for a in (0..nd).rev().filter(|&a| !reduced[a]) {
        out_strides[a] = size;
        size *= kernel.shape[a] as isize;
    }
    let compact = contiguous_strides(&kernel.shape);
    let mut permuted = kernel.clone();
    permuted.shape = order.iter().map(|&a| kernel.shape[a]).collect();
    for (p, a) in permuted.inputs.iter_mut().zip(&kernel.inputs) {
        p.strides = order.iter().map(|&o| a.strides[o]).collect();
    }
    Some(Reordered {
        row_outputs: size as usize / kernel.shape[order[0]],
        kernel: permuted,
        out_strides: order.iter().map(|&a| out_strides[a]).collect(),
        store_strides: order.iter().map(|&a| compact[a]).collect(),
        run,
    })
}

/// The rows the sum of `body` over `axes` is split into across threads, when it can be (see
/// the module docs) and is large enough for the split to pay (as elementwise steps: at least
/// [`Kernel::PARALLEL_ELEMENTS`]). Code generation does not split in checked mode, where the
/// threads would record errors in one block.
pub fn split_rows(body: &Kernel, axes: &[usize]) -> Option<usize> {
    splittable(body, axes).map(|r| r.kernel.shape[0])
}

/// The walk of a sum [`split_rows`] splits (the rows: its first axis).
fn splittable(body: &Kernel, axes: &[usize]) -> Option<Reordered> {
    if numel(&body.shape) < Kernel::PARALLEL_ELEMENTS {
        return None;
    }
    reordered(body, axes)
}

impl Planner<'_> {
    /// Records which sums are split across threads ([`split_rows`]), once their bodies are
    /// final (fusion may have joined a producer): those whose runs are summed inline, or
    /// whose run buffer has a part for every row.
    pub(super) fn decide_splits(&mut self) {
        let slots = &self.plan.slots;
        for step in &mut self.plan.steps {
            let StepKind::Reduce {
                op: ReduceOp::Sum,
                axes,
                body,
                run,
                split,
                siblings,
                ..
            } = &mut step.kind
            else {
                continue;
            };
            let runs: Vec<Option<usize>> = std::iter::once(*run)
                .chain(siblings.iter().map(|s| s.run))
                .collect();
            *split = splittable(body, axes).and_then(|r| {
                let rows = r.kernel.shape[0];
                let run_len: usize = r.kernel.shape[r.run..].iter().product();
                let inline = r.run + 1 == r.kernel.shape.len() && run_len <= INLINE_RUN;
                let gathered = || {
                    runs.iter()
                        .all(|run| run.is_some_and(|slot| slots[slot].len >= rows * run_len))
                };
                (inline || gathered()).then_some(rows)
            });
        }
    }
}
