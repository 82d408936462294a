//! Element types a tensor can hold.

use std::fmt;

/// The element type of a tensor.
///
/// `F32` is the compute dtype: every differentiable op works on it. `I64` carries labels and
/// indices (class labels, `randint`, `arange` of integers); it supports creation, reading,
/// movement ops (views, `concat`, `stack`, `pad`), comparisons' results never produce it, and
/// [`Tensor::to_f32`](crate::Tensor::to_f32) converts it for arithmetic.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum DType {
    /// 32-bit IEEE float, the compute dtype.
    F32,
    /// 64-bit signed integer, for labels and indices.
    I64,
}

impl DType {
    /// Size of one element in bytes.
    pub fn size_of(self) -> usize {
        match self {
            DType::F32 => 4,
            DType::I64 => 8,
        }
    }
}

impl fmt::Display for DType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            DType::F32 => "f32",
            DType::I64 => "i64",
        })
    }
}
