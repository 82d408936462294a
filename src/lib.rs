#![doc = include_str!("../README.md")]
//!
//! # This crate
//!
//! `needle` is the facade: it re-exports needle-core (tensors, [`nn`], [`optim`], [`data`],
//! [`checkpoint`], …; also as [`core`]) and needle-jit (as [`jit`]), adds [`train`] and
//! [`plot`], and `use needle::prelude::*` brings in what a model file needs. Call [`init()`]
//! at the start of a program so `NEEDLE_MODE=jit` finds the JIT backend.

#![warn(missing_docs)]

pub use needle_core as core;
pub use needle_core::*;
pub use needle_jit as jit;
pub use needle_macros as macros;

// The examples' command lines and the course's experiments: public for the examples and tests
// of this package, not part of the library.
#[doc(hidden)]
pub mod cli;
#[doc(hidden)]
pub mod experiments;
pub mod plot;
pub mod train;

/// Installs the JIT backend and applies `NEEDLE_MODE` (eager, lazy or jit) to this thread.
///
/// ```
/// needle::init();
/// ```
pub fn init() {
    needle_jit::install();
    needle_core::set_mode(needle_core::Mode::from_env());
}

/// Sets this thread's execution mode, installing the JIT backend when it is needed.
pub fn set_mode(mode: Mode) {
    if mode == Mode::Jit {
        needle_jit::install();
    }
    needle_core::set_mode(mode);
}

/// Runs `f` in `mode` (installing the JIT backend when needed), then restores the mode.
pub fn with_mode<R>(mode: Mode, f: impl FnOnce() -> R) -> R {
    if mode == Mode::Jit {
        needle_jit::install();
    }
    needle_core::with_mode(mode, f)
}

/// The names a model file needs.
pub mod prelude {
    pub use crate::{set_mode, with_mode};
    pub use needle_core::nn::{Forward, Module};
    pub use needle_core::optim::Optimizer;
    pub use needle_core::{manual_seed, module, no_grad, Mode, Tensor};
}
