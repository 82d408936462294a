//! Neural-network layers (the course's `nn`), each declared with `#[module]`.

mod activation;
mod dropout;
mod embedding;
mod linear;
mod loss;
mod module;
mod norm;
mod resnet;
mod sequential;

pub use activation::{Flatten, Identity, ReLU, Sigmoid, Tanh};
pub use dropout::Dropout;
pub use embedding::Embedding;
pub use linear::Linear;
pub use loss::{BCEWithLogitsLoss, L1Loss, MSELoss, NLLLoss, Reduction, SoftmaxLoss};
pub use module::{as_dyn_module, join_name, Forward, Module, Training};
pub use norm::{BatchNorm1d, LayerNorm1d};
pub use resnet::{mlp_resnet, residual_block, Norm};
pub use sequential::{Residual, Sequential};
