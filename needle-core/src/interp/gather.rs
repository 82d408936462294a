//! Gather and its adjoint scatter-add along an axis (i64 indices; in the JIT these run as
//! host steps calling these kernels).

use super::movement::compact;
use crate::shape::{contiguous_strides, numel};
use crate::storage::Realized;

/// The offset in `data_strides` of index position `pos` (row-major multi-index of
/// `index_shape`) with its coordinate on `axis` replaced by the index's value there.
/// Panics, naming `op`, when that value is outside `0..axis_len`.
fn source_offsets(
    op: &str,
    indices: &[i64],
    index_shape: &[usize],
    data_strides: &[isize],
    axis: usize,
    axis_len: usize,
) -> Vec<usize> {
    let mut coords = vec![0usize; index_shape.len()];
    let mut out = Vec::with_capacity(indices.len());
    for &v in indices {
        if v < 0 || v as usize >= axis_len {
            panic!("{op}: index {v} is out of range for axis {axis} of size {axis_len}");
        }
        let offset: isize = coords
            .iter()
            .enumerate()
            .map(|(d, &c)| {
                let c = if d == axis { v as usize } else { c };
                c as isize * data_strides[d]
            })
            .sum();
        out.push(offset as usize);
        // Next row-major position.
        for d in (0..coords.len()).rev() {
            coords[d] += 1;
            if coords[d] < index_shape[d] {
                break;
            }
            coords[d] = 0;
        }
    }
    out
}

/// `out[p] = data[p with axis coordinate index[p]]`, of the index's shape.
pub(super) fn gather(data: &Realized, index: &Realized, axis: usize) -> Realized {
    let data = compact(data);
    let index = compact(index);
    let shape = data.layout.shape.clone();
    let index_shape = index.layout.shape.clone();
    let offsets = source_offsets(
        "gather",
        index.buffer.as_i64(),
        &index_shape,
        &contiguous_strides(&shape),
        axis,
        shape[axis],
    );
    let values = data.buffer.as_f32();
    Realized::from_f32(offsets.iter().map(|&o| values[o]).collect(), &index_shape)
}

/// Zeros of `out_shape` with `values[p]` added at `p with axis coordinate index[p]`, in the
/// index's row-major order (so repeated indices accumulate in that order).
pub(super) fn scatter_add(
    index: &Realized,
    values: &Realized,
    axis: usize,
    out_shape: &[usize],
) -> Realized {
    let index = compact(index);
    let values = compact(values);
    let offsets = source_offsets(
        "scatter_add",
        index.buffer.as_i64(),
        &index.layout.shape,
        &contiguous_strides(out_shape),
        axis,
        out_shape[axis],
    );
    let mut out = vec![0.0f32; numel(out_shape)];
    for (&o, &v) in offsets.iter().zip(values.buffer.as_f32()) {
        out[o] += v;
    }
    Realized::from_f32(out, out_shape)
}
