//! needle-rs: a deep-learning library with lazy tensor graphs, reverse-mode autodiff, and
//! whole training steps JIT-compiled with Cranelift.
//!
//! This facade re-exports the crates; `use needle::prelude::*` brings in what a model needs.

pub use needle_core as core;
pub use needle_core::*;
pub use needle_jit as jit;
pub use needle_macros as macros;

/// The names a model file needs.
pub mod prelude {
    pub use needle_core::nn::{Forward, Module};
    pub use needle_core::optim::Optimizer;
    pub use needle_core::{manual_seed, module, no_grad, set_mode, Mode, Tensor};
}
