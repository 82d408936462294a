//! Data: reading datasets from disk with checked formats.

mod error;
pub mod idx;
pub mod mnist;

pub use error::DataError;
pub use mnist::Mnist;
