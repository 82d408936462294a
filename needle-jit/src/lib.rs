//! needle-jit: the Cranelift backend of needle-rs.
//!
//! In [`Mode::Jit`](needle_core::Mode::Jit), reading a value hands the pending graph — usually
//! a whole training step: forward, backward and optimizer update — to this backend:
//!
//! 1. [`graph`](crate::Graph) collects the pending nodes and computes a structural key (ops,
//!    shapes, strides, dtypes, constants; inputs by position, never by value).
//! 2. On a cache miss, [`Plan::new`] schedules the graph: elementwise chains (with their
//!    broadcasts and strided views) fuse into loop nests, elementwise producers fuse into the
//!    reductions that consume them, matmuls call the GEMM, and intermediates share an arena by
//!    liveness. Code generation turns the whole plan into **one** Cranelift function taking
//!    one argument block.
//! 3. The program runs; requested values get buffers of their own.
//!
//! Results are bit-identical to eager mode. Counters are in [`stats`], the schedule of the
//! last program in [`last_program`]; `NEEDLE_DEBUG=jit` prints schedules, compile times and
//! why a recompile happened (`jit-ir` adds the Cranelift IR). `NEEDLE_JIT_CHECKED=1` (or
//! [`set_checked`]) compiles bounds checks into every access.
//!
//! ```
//! needle_jit::install();
//! needle_core::with_mode(needle_core::Mode::Jit, || {
//!     let x = needle_core::Tensor::from_vec(vec![1.0, -2.0], &[2]);
//!     assert_eq!(((&x * 2.0).relu() + 1.0).to_vec(), vec![3.0, 1.0]);
//! });
//! let program = needle_jit::last_program().unwrap();
//! assert_eq!(program.plan.steps.len(), 1); // mul, relu and add in one loop
//! ```

#![warn(missing_docs)]

pub mod cache;
mod codegen;
pub mod gemm;
mod graph;
mod host;
mod kernel;
mod math;
mod plan;
mod runtime;
mod stats;

pub use graph::Graph;
pub use kernel::{Access, Expr, Kernel};
pub use plan::{Donation, Elem, NodeInfo, Placement, Plan, Slot, SlotKind, Step, StepKind};
pub use runtime::{
    cached_programs, checked, clear_cache, last_program, reset_stats, set_cache_capacity,
    set_checked, set_keep_ir, set_tiered, stats, tiered, with_checked, JitBackend, JitStats,
    ProgramInfo, TIERED_MIN_STEPS,
};

/// Registers the JIT as the backend of `Mode::Jit` (idempotent).
pub fn install() {
    needle_core::register_jit_backend(Box::new(JitBackend));
}
