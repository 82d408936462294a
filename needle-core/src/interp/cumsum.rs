//! The running sum along an axis, accumulated in f32 in order (numpy's `cumsum`).

use super::movement::compact;
use crate::shape::contiguous_strides;
use crate::storage::Realized;

/// `out[…, i, …] = Σ_{j ≤ i} x[…, j, …]` along `axis`, added one element at a time.
pub(super) fn cumsum(x: &Realized, axis: usize) -> Realized {
    let x = compact(x);
    let shape = x.layout.shape.clone();
    let mut out = x.buffer.as_f32().to_vec();
    let len = shape[axis];
    let stride = contiguous_strides(&shape)[axis] as usize;
    if len > 1 {
        let block = len * stride;
        for start in (0..out.len()).step_by(block) {
            for i in 1..len {
                for k in 0..stride {
                    let at = start + i * stride + k;
                    out[at] += out[at - stride];
                }
            }
        }
    }
    Realized::from_f32(out, &shape)
}
