//! Neural-network layers (the course's `nn`), each declared with `#[module]`.

mod activation;
mod avg_pool;
mod batch_norm2d;
mod conv;
mod dropout;
mod linear;
mod loss;
mod max_pool;
mod module;
mod norm;
mod resnet;
mod sequential;
mod window;

pub use activation::{Flatten, Identity, ReLU, Sigmoid, Tanh};
pub use avg_pool::AvgPool2d;
pub use batch_norm2d::BatchNorm2d;
pub use conv::{Conv2d, Conv2dOptions};
pub use dropout::Dropout;
pub use linear::Linear;
pub use loss::{BCEWithLogitsLoss, L1Loss, MSELoss, NLLLoss, Reduction, SoftmaxLoss};
pub use max_pool::MaxPool2d;
pub use module::{as_dyn_module, join_name, Forward, Module, Training};
pub use norm::{BatchNorm1d, LayerNorm1d};
pub use resnet::{mlp_resnet, residual_block, Norm};
pub use sequential::{Residual, Sequential};
