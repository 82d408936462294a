//! needle-core: tensors, the lazy graph, reverse-mode autodiff, and eager / interpreter
//! execution — the whole needle-rs library except code generation.
//!
//! ```
//! use needle_core::{manual_seed, Tensor};
//! manual_seed(0);
//! let w = Tensor::randn(&[3, 2]).requires_grad_(true);
//! let x = Tensor::ones(&[4, 3]);
//! let loss = x.matmul(&w).relu().sum_all();
//! loss.backward();
//! assert_eq!(w.grad().unwrap().shape(), vec![3, 2]);
//! ```
//!
//! What a model uses: [`Tensor`] (its methods are the ops), [`nn`], [`optim`], [`init`],
//! [`data`], [`checkpoint`], the mode and gradient switches ([`Mode`], [`no_grad`]) and
//! [`manual_seed`]. [`backend`] and [`op`] are the interface of a compiling backend (the
//! primitive ops a graph holds). The graph's internals (`node`, `autodiff`, `interp`,
//! `layout`, `shape`, `storage`, `pool`, `mark`, `threads`, `walk`) are public only because
//! needle-jit uses them; they are hidden from this documentation and are not a stable
//! interface.
//!
//! How this crate's layers and needle-jit's stages fit together, and how to add an op:
//! `docs/ARCHITECTURE.md` in the repository.
//!
//! The modules form layers, each using only those before it (no file imports one that
//! imports it back): `dtype`, `shape`, `layout` → `storage`, `pool`, `threads` → `op` (the
//! ops by family, see [`op`]), `node` (graph nodes and the variables naming them), `mark` →
//! `walk` (topological order) → `interp` (kernels per op family) → `capture` (what a traced
//! step records), `pending`, `backend` (realizing graphs) → `tensor` and `ops` (the `Tensor`
//! API, per op family) → `autodiff` (gradient rules per op family) → `nn`, `optim`, `data`,
//! `checkpoint`, `metrics`.

#![warn(missing_docs)]

extern crate self as needle_core;

// The internals below are `pub` for needle-jit and needle's own tests, and `doc(hidden)`
// because a user should not build on them: they change with the engine.
#[doc(hidden)]
pub mod autodiff;
mod autograd;
pub mod backend;
#[doc(hidden)]
pub mod capture;
pub mod checkpoint;
pub mod data;
mod display;
pub mod dtype;
pub mod init;
#[doc(hidden)]
pub mod interp;
mod labels;
#[doc(hidden)]
pub mod layout;
#[doc(hidden)]
pub mod mark;
pub mod metrics;
pub mod mode;
pub mod nn;
#[doc(hidden)]
pub mod node;
pub mod op;
mod ops;
pub mod optim;
pub mod pending;
#[doc(hidden)]
pub mod pool;
pub mod random;
#[doc(hidden)]
pub mod shape;
#[doc(hidden)]
pub mod storage;
mod tensor;
#[doc(hidden)]
pub mod threads;
#[doc(hidden)]
pub mod walk;

pub use autodiff::topo_order;
pub use autograd::grad;
pub use backend::{register_jit_backend, Backend, BackendError};
pub use dtype::DType;
pub use mode::{
    enable_grad, is_grad_enabled, mode, no_grad, set_mode, with_mode, Mode, NoGradGuard,
};
pub use needle_macros::module;
pub use node::live_nodes;
pub use ops::Operand;
pub use random::manual_seed;
pub use tensor::Tensor;
