//! Recycling of large f32 buffers.
//!
//! A fresh multi-megabyte `Vec` costs a page fault per 4 KiB on first touch — for a fused
//! elementwise kernel, more than computing the result. Buffers of at least [`MIN_LEN`]
//! elements are therefore handed back here when their last view is dropped, and backends that
//! overwrite every element (the JIT's outputs) take them back instead of allocating. The pool
//! holds at most [`MAX_BYTES`]; beyond that, buffers are freed as usual.

use std::collections::HashMap;
use std::sync::Mutex;

/// Smallest buffer (in elements) worth recycling: below it, the allocator is as fast.
pub const MIN_LEN: usize = 1 << 14;
/// Most bytes the pool keeps.
pub const MAX_BYTES: usize = 256 << 20;
/// Most buffers kept per length.
const PER_LEN: usize = 8;

#[derive(Default)]
struct Pool {
    by_len: HashMap<usize, Vec<Vec<f32>>>,
    bytes: usize,
}

static POOL: Mutex<Option<Pool>> = Mutex::new(None);

/// A recycled buffer of exactly `len` elements (with stale contents), if one is pooled.
pub fn take_f32(len: usize) -> Option<Vec<f32>> {
    if len < MIN_LEN {
        return None;
    }
    let mut guard = POOL.lock().ok()?;
    let pool = guard.as_mut()?;
    let v = pool.by_len.get_mut(&len)?.pop()?;
    pool.bytes -= len * 4;
    Some(v)
}

/// Offers a buffer no tensor uses any more to the pool.
pub(crate) fn give_f32(v: Vec<f32>) {
    let len = v.len();
    if len < MIN_LEN || v.capacity() != len {
        return;
    }
    let Ok(mut guard) = POOL.lock() else {
        return;
    };
    let pool = guard.get_or_insert_with(Pool::default);
    if pool.bytes + len * 4 > MAX_BYTES {
        return;
    }
    let list = pool.by_len.entry(len).or_default();
    if list.len() < PER_LEN {
        list.push(v);
        pool.bytes += len * 4;
    }
}

/// Bytes currently pooled.
pub fn pooled_bytes() -> usize {
    POOL.lock()
        .ok()
        .and_then(|g| g.as_ref().map(|p| p.bytes))
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dropped_large_buffers_come_back_small_ones_do_not() {
        let big = crate::storage::Buffer::F32(vec![1.5; MIN_LEN + 3]);
        let small = crate::storage::Buffer::F32(vec![1.5; 10]);
        drop(small);
        assert!(take_f32(10).is_none());
        drop(big);
        let again = take_f32(MIN_LEN + 3).expect("recycled");
        assert_eq!(again.len(), MIN_LEN + 3);
        assert!(take_f32(MIN_LEN + 3).is_none(), "handed out once");
    }
}
