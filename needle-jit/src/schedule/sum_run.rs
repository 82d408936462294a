//! Which sums need a run buffer: a scheduling decision (the buffer is a scratch slot of the
//! plan) that code generation follows (see `codegen/sum.rs`).

use needle_core::interp::pairwise::run_start;
use needle_core::shape::numel;

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
