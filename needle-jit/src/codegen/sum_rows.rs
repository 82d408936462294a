//! Sums split across threads. A sum that keeps an axis outside its runs — BatchNorm's
//! statistics per channel, a bias gradient — is computed by rows of its outermost kept axis
//! (the walk `schedule/sum_run.rs` decides): each thread takes whole outputs, in a row-range
//! function of its own ([`crate::abi::RowsFn`]) that the run stage calls on every thread, and
//! the program then runs the step's epilogue. Runs are summed inline or, when gathered, each
//! row in a run buffer of its own.

use cranelift_codegen::ir::{InstBuilder, MemFlagsData};

use super::emitter::{Base, Emitter};
use super::lower;
use super::sum::{Fused, SumOf};
use crate::abi::OUTPUT_ACCESS;
use crate::schedule::sum_run::reordered;
use crate::schedule::{Kernel, Plan, StepKind};

/// The rows step `s` of `plan` is split into across threads, as the plan decided (see
/// `schedule/sum_run.rs`); never in checked mode, where the threads would record errors in
/// one block.
pub fn split_sum_rows(plan: &Plan, s: usize, checked: bool) -> Option<usize> {
    match plan.steps[s].kind {
        StepKind::Reduce { split, .. } if !checked => split,
        _ => None,
    }
}

impl Emitter<'_, '_> {
    /// The rows `outer_range` of the outermost kept axis of the sums of `body` over `axes`
    /// (each of `sums` into its output, compact over the kept shape): those outputs set to
    /// 0, then their runs added in logical order (gathered runs in row `r`'s part of each
    /// sum's run buffer).
    pub(super) fn sum_rows(&mut self, body: &Kernel, axes: &[usize], sums: &[SumOf]) {
        let r = reordered(body, axes).expect("split_sum_rows accepted this sum");
        let range = self.outer_range.expect("a row range");
        let rows = r.kernel.shape[0];
        let zero = self.b.ins().f32const(0.0);
        let outs: Vec<Base> = sums.iter().map(|s| self.slot_base(s.out)).collect();
        let mut index = Vec::new();
        self.loops(&[rows, r.row_outputs], &mut index, &mut |e, i| {
            let strides = [r.row_outputs as isize, 1];
            for out in &outs {
                let addr = e.address(out, i, &strides, OUTPUT_ACCESS);
                e.b.ins().store(MemFlagsData::trusted(), zero, addr, 0);
            }
        });
        self.outer_range = Some(range);
        let fused = Fused {
            kernel: &r.kernel,
            bases: self.bases(&r.kernel),
            outs: self.output_bases(&r.kernel),
            strides: r.store_strides.clone(),
            values: sums.iter().map(|s| s.value).collect(),
        };
        let vector = !self.checked && lower::vectorizable(&r.kernel);
        let runs: Vec<Option<usize>> = sums.iter().map(|s| s.run).collect();
        self.add_runs(&fused, &outs, &r.out_strides, r.run, vector, &runs, true);
    }
}
