//! needle-jit: the Cranelift backend of needle-rs.
//!
//! In [`Mode::Jit`](needle_core::Mode::Jit), reading a value hands the pending graph to this
//! backend. It fuses chains of elementwise ops (with their broadcasts and strided views) into
//! single loop nests compiled to native code with Cranelift and cached by the kernel's structure;
//! the other ops (reductions, matmul, padding, concatenation) run through the interpreter's
//! kernels — a documented per-node fallback, so every graph runs and gives the interpreter's
//! results. Call [`install`] once (the `needle` facade does it in `needle::init`).
//!
//! ```
//! needle_jit::install();
//! needle_core::with_mode(needle_core::Mode::Jit, || {
//!     let x = needle_core::Tensor::from_vec(vec![1.0, -2.0], &[2]);
//!     assert_eq!(((&x * 2.0).relu() + 1.0).to_vec(), vec![3.0, 1.0]);
//! });
//! ```

mod codegen;
mod kernel;
mod math;
mod runtime;
mod schedule;

pub use kernel::{Expr, InputLayout, Kernel};
pub use runtime::{reset_stats, stats, JitBackend, JitStats};

/// Registers the JIT as the backend of `Mode::Jit` (idempotent).
pub fn install() {
    needle_core::register_jit_backend(Box::new(JitBackend));
}
