//! Output buffers of a run: fresh (recycled or uninitialized) for slots the program fills,
//! initialized for slots an interpreter step reads while the program runs.

use std::sync::Arc;

use needle_core::storage::Buffer;

use crate::schedule::Elem;

/// A buffer for an output slot read by an interpreter step during the run (so it must be a
/// tensor value from the start): recycled when the pool has one, else zeroed.
pub(super) fn initialized_buffer(elem: Elem, len: usize) -> (Arc<Buffer>, u64) {
    let mut buffer = Arc::new(match elem {
        // Every element is written by the program: a recycled buffer's stale contents never
        // show.
        Elem::F32 => {
            Buffer::F32(needle_core::pool::take_f32(len).unwrap_or_else(|| vec![0.0; len]))
        }
        Elem::I64 => Buffer::I64(vec![0; len]),
    });
    let ptr = match Arc::get_mut(&mut buffer).expect("just created") {
        Buffer::F32(v) => v.as_mut_ptr() as u64,
        Buffer::I64(v) => v.as_mut_ptr() as u64,
    };
    (buffer, ptr)
}

/// An f32 output buffer the program fills: recycled, or allocated without initializing (the
/// elements are counted in with `set_len` once the program has written all of them). Checked
/// programs get NaNs instead, so an element the program failed to write shows in the tests
/// that compare their results.
pub(super) fn output_buffer(len: usize, checked: bool) -> Vec<f32> {
    if checked {
        return vec![f32::NAN; len];
    }
    needle_core::pool::take_f32(len).unwrap_or_else(|| Vec::with_capacity(len))
}
