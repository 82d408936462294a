//! Data: checked dataset files, datasets, transforms and batching loaders.

mod array;
mod dataset;
mod error;
pub mod idx;
mod loader;
pub mod mnist;
pub mod transform;

pub use array::{Array, ArrayData};
pub use dataset::{ArrayDataset, Dataset, MnistDataset};
pub use error::DataError;
pub use loader::{Batches, DataLoader};
pub use mnist::Mnist;
pub use transform::{Compose, Normalize, RandomCrop, RandomFlipHorizontal, Transform};
