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

extern crate self as needle_core;

pub mod autodiff;
mod autograd;
pub mod backend;
pub mod checkpoint;
pub mod data;
mod display;
pub mod dtype;
pub mod init;
pub mod interp;
mod labels;
pub mod layout;
pub mod mark;
pub mod metrics;
pub mod mode;
pub mod nn;
pub mod node;
pub mod op;
mod ops;
pub mod optim;
pub mod pending;
pub mod pool;
pub mod random;
pub mod shape;
pub mod storage;
mod tensor;
pub mod threads;

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
