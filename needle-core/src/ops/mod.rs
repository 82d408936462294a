//! Recording of tensor ops: shape inference (panicking at the caller's line on a mismatch),
//! explicit broadcast views, and the Rust operator overloads.
//!
//! The `Tensor` methods of each op family are in the file named after it (`unary`, `scalar`,
//! `binary`, `reduce`, `matmul`, `movement`, `window`; see [`crate::op`]); `operators` maps
//! `+`, `*`, … onto them.

mod arg_reduce;
mod binary;
mod gather;
mod matmul;
mod movement;
mod norm;
mod operators;
mod reduce;
mod scalar;
mod select;
mod unary;
mod window;

pub use binary::Operand;

use crate::dtype::DType;
use crate::shape::{fmt_shape, or_panic, resolve_axis};

/// Panics (at the user's line) unless the tensor is f32: arithmetic is defined on f32 only.
///
/// `op` names the op for the message; it is only called on failure, since recording runs
/// this for every node and formatting a name costs more than recording one.
#[track_caller]
pub(crate) fn require_f32<N: std::fmt::Display>(op: impl FnOnce() -> N, dtype: DType) {
    if dtype != DType::F32 {
        panic!(
            "{}: dtype {dtype} is not supported (arithmetic is f32; convert with .to_f32())",
            op()
        );
    }
}

/// Resolves user axes (negative counts from the end), sorted; an axis named twice (also as
/// `1` and `-1`) is an error, as in PyTorch.
#[track_caller]
pub(crate) fn resolve_axes(op: &str, axes: &[isize], shape: &[usize]) -> Vec<usize> {
    let mut out = Vec::with_capacity(axes.len());
    for &a in axes {
        out.push(or_panic(resolve_axis(a, shape.len()), || {
            format!(
                "{op}: axis {a} is out of range for shape {}",
                fmt_shape(shape)
            )
        }));
    }
    out.sort_unstable();
    if let Some(pair) = out.windows(2).find(|pair| pair[0] == pair[1]) {
        panic!(
            "{op}: axis {} is repeated in {axes:?} (shape {})",
            pair[0],
            fmt_shape(shape)
        );
    }
    out
}
