//! Recording of tensor ops: shape inference (panicking at the caller's line on a mismatch),
//! explicit broadcast views, and the Rust operator overloads.

mod elementwise;
mod matmul;
mod movement;
mod operators;
mod reduce;

pub use elementwise::Operand;

use crate::dtype::DType;
use crate::shape::{fmt_shape, or_panic, resolve_axis};

/// Panics (at the user's line) unless the tensor is f32: arithmetic is defined on f32 only.
#[track_caller]
pub(crate) fn require_f32(op: &str, dtype: DType) {
    assert!(
        dtype == DType::F32,
        "{op}: dtype {dtype} is not supported (arithmetic is f32; convert with .to_f32())"
    );
}

/// Resolves user axes (negative counts from the end), sorted and deduplicated.
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
    out.dedup();
    out
}
