//! needle-jit: the Cranelift backend of needle-rs.
//!
//! In [`Mode::Jit`](needle_core::Mode::Jit), reading a value hands the pending graph — usually
//! a whole training step: forward, backward and optimizer update — to this backend. The
//! modules are the stages the graph passes through, in this order:
//!
//! 1. `collect` — pending nodes in execution order and their structural key: a [`Graph`].
//! 2. `schedule` — placement, fusion, dead stores, arena, donation candidates: a [`Plan`].
//! 3. `codegen` — the whole plan as **one** Cranelift function over one argument block.
//! 4. `run` — program cache and tiering, binding buffers, running, host steps.
//! 5. [`capture()`] — a whole step traced once and replayed: a [`CapturedStep`].
//!
//! How the stages fit with needle-core, and how to add an op: `docs/ARCHITECTURE.md` in the
//! repository.
//!
//! Beside the stages: [`gemm`] (the matrix products host steps call), `abi` (argument block
//! and status codes), `config` (environment variables and switches), [`stats`] (counters).
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

// The stages, in the order the data takes (one group each, so the order stays).
mod collect;

mod schedule;

mod codegen;

mod run;

pub mod capture;

// Beside the stages.
mod abi;
mod config;
pub mod gemm;
mod stats;

pub use capture::{capture, CapturedStep, StepOutputs, MAX_CAPTURES};
pub use collect::Graph;
pub use config::{
    capture_enabled, checked, set_capture, set_checked, set_keep_ir, set_tiered, tiered,
    with_checked, TIERED_MIN_STEPS,
};
pub use run::cache::{self, cached_programs, clear_cache, set_cache_capacity};
pub use run::program::{last_program, ProgramInfo};
pub use run::JitBackend;
pub use schedule::{
    Access, Donation, Elem, Expr, Kernel, NodeInfo, Placement, Plan, SiblingSum, Slot, SlotKind,
    Step, StepKind, WindowOp,
};
pub use stats::{reset_stats, stats, JitStats};

/// Registers the JIT as the backend of `Mode::Jit` (idempotent).
pub fn install() {
    needle_core::register_jit_backend(Box::new(JitBackend));
}
