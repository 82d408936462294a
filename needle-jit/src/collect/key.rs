//! The structural key's parts: one record per node (op with its constants, dtype, shape,
//! inputs by position; for inputs dtype, shape and strides).

use needle_core::op::Op;
use needle_core::DType;

/// The part of `key` that belongs to node `i`.
pub fn node_key<'k>(key: &'k [u64], starts: &[usize], i: usize) -> &'k [u64] {
    let end = starts.get(i + 1).copied().unwrap_or(key.len());
    &key[starts[i]..end]
}

/// Appends a dtype and shape to the key.
pub(super) fn push_shape(key: &mut Vec<u64>, dtype: DType, shape: &[usize]) {
    key.push(dtype as u64);
    key.push(shape.len() as u64);
    key.extend(shape.iter().map(|&d| d as u64));
}

/// Appends an op, with its constants by their bits, to the key.
pub(super) fn op_key(op: &Op, key: &mut Vec<u64>) {
    match op {
        Op::Leaf => key.push(1),
        Op::Unary(u) => key.extend([2, *u as u64]),
        Op::Scalar(s, c) => key.extend([3, *s as u64, c.to_bits() as u64]),
        Op::Binary(b) => key.extend([4, *b as u64]),
        Op::Reduce(r, axes) => {
            key.extend([5, *r as u64, axes.len() as u64]);
            key.extend(axes.iter().map(|&a| a as u64));
        }
        Op::MatMul => key.push(6),
        Op::Reshape => key.push(7),
        Op::Permute(p) => {
            key.extend([8, p.len() as u64]);
            key.extend(p.iter().map(|&a| a as u64));
        }
        Op::Expand => key.push(9),
        Op::Slice { starts, steps } => {
            key.extend([10, starts.len() as u64]);
            key.extend(starts.iter().chain(steps).map(|&a| a as u64));
        }
        Op::Flip(axes) => {
            key.extend([11, axes.len() as u64]);
            key.extend(axes.iter().map(|&a| a as u64));
        }
        Op::Pad(spec) => {
            key.extend([12, spec.len() as u64]);
            for &(a, b, c) in spec {
                key.extend([a as u64, b as u64, c as u64]);
            }
        }
        Op::Concat(axis) => key.extend([13, *axis as u64]),
        Op::Cast(d) => key.extend([14, *d as u64]),
        Op::Gather(axis) => key.extend([15, *axis as u64]),
        Op::ScatterAdd(axis) => key.extend([16, *axis as u64]),
        Op::Cumsum(axis) => key.extend([17, *axis as u64]),
        Op::Im2col(w) | Op::Col2im(w) => {
            key.push(if matches!(op, Op::Im2col(_)) { 18 } else { 19 });
            key.extend([w.kernel, w.stride, w.padding, w.dilation].map(|v| v as u64));
        }
    }
}
