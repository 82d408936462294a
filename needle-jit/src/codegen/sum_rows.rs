//! Sums split across threads. A sum whose runs are summed by generated code (see
//! [`super::sum`]) and which keeps an axis outside its runs — BatchNorm's statistics per
//! channel, say — is computed by rows of its outermost kept axis: each thread takes whole
//! outputs, in a row-range function of its own ([`crate::abi::RowsFn`]) that the run stage
//! calls on every thread, and the program then runs the step's epilogue.
//!
//! The loops outside the runs are reordered, kept axes first and reduced axes after, each in
//! their own order. An output still receives its runs in logical order, the sequence it gets
//! in the interpreter (`out = out + pairwise(run)`), so the bits do not depend on the split
//! or on how the threads shared it.

use cranelift_codegen::ir::{InstBuilder, MemFlagsData};
use needle_core::interp::pairwise::run_start;
use needle_core::shape::{contiguous_strides, numel};

use super::emitter::{Base, Emitter};
use super::lower;
use super::sum::{merged, Fused};
use crate::abi::OUTPUT_ACCESS;
use crate::schedule::sum_run::INLINE_RUN;
use crate::schedule::{Kernel, Plan, StepKind};
use needle_core::op::ReduceOp;

/// A sum's merged kernel with its outer axes reordered (kept, then reduced).
struct Reordered {
    /// The kernel over the reordered axes (the run's axis last).
    kernel: Kernel,
    /// The output's strides over the reordered axes (0 on reduced ones).
    out_strides: Vec<isize>,
    /// Where the kernel's outputs are stored: the merged kernel's compact strides, reordered.
    store_strides: Vec<isize>,
    /// The first axis of the run.
    run: usize,
    /// Outputs per row of the outermost kept axis.
    row_outputs: usize,
}

/// The reordered form of the sum of `body` over `axes`, when it can be split: its run is one
/// axis summed inline, and an axis of at least two outside the run is kept.
fn reordered(body: &Kernel, axes: &[usize]) -> Option<Reordered> {
    if body.shape.is_empty() || body.shape.contains(&0) {
        return None;
    }
    let (kernel, reduced) = merged(body, axes);
    let nd = kernel.shape.len();
    let run = run_start(&kernel.shape, |a| reduced[a])?;
    if run + 1 != nd || kernel.shape[run] > INLINE_RUN {
        return None;
    }
    let order: Vec<usize> = (0..run)
        .filter(|&a| !reduced[a])
        .chain((0..run).filter(|&a| reduced[a]))
        .chain(std::iter::once(run))
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

/// The rows step `s` of `plan` is split into across threads, when it is a sum that can be
/// (see the module docs) large enough for the split to pay (as elementwise steps: at least
/// [`Kernel::PARALLEL_ELEMENTS`]); never in checked mode, where the threads would record
/// errors in one block.
pub fn split_sum_rows(plan: &Plan, s: usize, checked: bool) -> Option<usize> {
    let StepKind::Reduce {
        op: ReduceOp::Sum,
        axes,
        body,
        ..
    } = &plan.steps[s].kind
    else {
        return None;
    };
    if checked || numel(&body.shape) < Kernel::PARALLEL_ELEMENTS {
        return None;
    }
    reordered(body, axes).map(|r| r.kernel.shape[0])
}

impl Emitter<'_, '_> {
    /// The rows `outer_range` of the outermost kept axis of the sum of entry `value` of
    /// `body` over `axes` into `out` (compact over the kept shape): those outputs set to 0,
    /// then their runs added in logical order.
    pub(super) fn sum_rows(&mut self, body: &Kernel, axes: &[usize], value: usize, out: &Base) {
        let r = reordered(body, axes).expect("split_sum_rows accepted this sum");
        let range = self.outer_range.expect("a row range");
        let rows = r.kernel.shape[0];
        let zero = self.b.ins().f32const(0.0);
        let mut index = Vec::new();
        self.loops(&[rows, r.row_outputs], &mut index, &mut |e, i| {
            let strides = [r.row_outputs as isize, 1];
            let addr = e.address(out, i, &strides, OUTPUT_ACCESS);
            e.b.ins().store(MemFlagsData::trusted(), zero, addr, 0);
        });
        self.outer_range = Some(range);
        let fused = Fused {
            kernel: &r.kernel,
            bases: self.bases(&r.kernel),
            outs: self.output_bases(&r.kernel),
            strides: r.store_strides.clone(),
            value,
        };
        let vector = !self.checked && lower::vectorizable(&r.kernel);
        self.add_runs(&fused, out, &r.out_strides, r.run, vector, None);
    }
}
