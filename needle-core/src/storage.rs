//! Realized data: a shared flat buffer plus the strided view that reads it.

use std::sync::Arc;

use crate::dtype::DType;
use crate::layout::Layout;

/// `len` copies of `value`, or a panic at the caller's line naming `what` and the bytes asked
/// for when the memory cannot be had (where `vec!` would abort the process).
#[track_caller]
pub fn filled_vec<T: Clone>(len: usize, value: T, what: impl FnOnce() -> String) -> Vec<T> {
    let mut v = Vec::new();
    if v.try_reserve_exact(len).is_err() {
        alloc_failed(len.saturating_mul(std::mem::size_of::<T>()), &what());
    }
    v.resize(len, value);
    v
}

/// Smallest request (in bytes) that [`ensure_allocatable`] tries first: below it a failed
/// allocation means the machine is out of memory anyway.
pub const PROBE_BYTES: usize = 1 << 26;

/// Panics at the caller's line, naming `what` and the size, when `bytes` cannot be allocated
/// right now: kernels allocate with `Vec`, which aborts the process on failure, so backends
/// ask first for every result of at least [`PROBE_BYTES`].
#[track_caller]
pub fn ensure_allocatable(bytes: usize, what: impl FnOnce() -> String) {
    if bytes < PROBE_BYTES {
        return;
    }
    let mut probe: Vec<u8> = Vec::new();
    if probe.try_reserve_exact(bytes).is_err() {
        alloc_failed(bytes, &what());
    }
}

#[track_caller]
fn alloc_failed(bytes: usize, what: &str) -> ! {
    panic!(
        "{what}: cannot allocate {bytes} bytes ({:.1} GiB): out of memory",
        bytes as f64 / (1u64 << 30) as f64
    )
}

/// A flat, immutable buffer of elements. Shared (`Arc`) between all views of it, and `Send`
/// so data loaders and worker threads can produce and read it.
#[derive(Debug, PartialEq)]
pub enum Buffer {
    /// f32 elements.
    F32(Vec<f32>),
    /// i64 elements.
    I64(Vec<i64>),
}

impl Drop for Buffer {
    fn drop(&mut self) {
        if let Buffer::F32(v) = self {
            if v.len() >= crate::pool::MIN_LEN {
                crate::pool::give_f32(std::mem::take(v));
            }
        }
    }
}

impl Buffer {
    /// The element type.
    pub fn dtype(&self) -> DType {
        match self {
            Buffer::F32(_) => DType::F32,
            Buffer::I64(_) => DType::I64,
        }
    }

    /// Number of elements in the buffer (not of any view of it).
    pub fn len(&self) -> usize {
        match self {
            Buffer::F32(v) => v.len(),
            Buffer::I64(v) => v.len(),
        }
    }

    /// True when the buffer holds no element.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The f32 elements; panics naming the dtype when the buffer is not f32.
    #[track_caller]
    pub fn as_f32(&self) -> &[f32] {
        match self {
            Buffer::F32(v) => v,
            Buffer::I64(_) => panic!("expected an f32 buffer, found i64"),
        }
    }

    /// The f32 elements for writing; panics naming the dtype when the buffer is not f32.
    #[track_caller]
    pub fn as_f32_mut(&mut self) -> &mut [f32] {
        match self {
            Buffer::F32(v) => v,
            Buffer::I64(_) => panic!("expected an f32 buffer, found i64"),
        }
    }

    /// The i64 elements for writing; panics naming the dtype when the buffer is not i64.
    #[track_caller]
    pub fn as_i64_mut(&mut self) -> &mut [i64] {
        match self {
            Buffer::I64(v) => v,
            Buffer::F32(_) => panic!("expected an i64 buffer, found f32"),
        }
    }

    /// The i64 elements; panics naming the dtype when the buffer is not i64.
    #[track_caller]
    pub fn as_i64(&self) -> &[i64] {
        match self {
            Buffer::I64(v) => v,
            Buffer::F32(_) => panic!("expected an i64 buffer, found f32"),
        }
    }
}

/// A realized tensor value: buffer + layout.
#[derive(Clone, Debug)]
pub struct Realized {
    /// The shared buffer.
    pub buffer: Arc<Buffer>,
    /// How the logical elements map onto the buffer.
    pub layout: Layout,
}

impl Realized {
    /// A compact f32 value.
    pub fn from_f32(data: Vec<f32>, shape: &[usize]) -> Realized {
        debug_assert_eq!(data.len(), crate::shape::numel(shape));
        Realized {
            buffer: Arc::new(Buffer::F32(data)),
            layout: Layout::contiguous(shape),
        }
    }

    /// A compact i64 value.
    pub fn from_i64(data: Vec<i64>, shape: &[usize]) -> Realized {
        debug_assert_eq!(data.len(), crate::shape::numel(shape));
        Realized {
            buffer: Arc::new(Buffer::I64(data)),
            layout: Layout::contiguous(shape),
        }
    }

    /// Same buffer, another view of it.
    pub fn with_layout(&self, layout: Layout) -> Realized {
        Realized {
            buffer: self.buffer.clone(),
            layout,
        }
    }

    /// The elements as f32 in logical row-major order (a copy only when the view is strided).
    /// Panics naming the shape when the copy cannot be allocated (a broadcast view can be
    /// far larger than its buffer).
    #[track_caller]
    pub fn to_f32_vec(&self) -> Vec<f32> {
        let data = self.buffer.as_f32();
        if self.layout.numel() == 0 {
            // An empty view's offset may point past the buffer's end.
            return Vec::new();
        }
        ensure_allocatable(self.layout.numel() * 4, || {
            format!("to_vec of a view of shape {:?}", self.layout.shape)
        });
        if self.layout.is_contiguous() {
            let start = self.layout.offset;
            return data[start..start + self.layout.numel()].to_vec();
        }
        self.layout.offsets().map(|i| data[i]).collect()
    }

    /// The elements as i64 in logical row-major order (see [`Realized::to_f32_vec`]).
    #[track_caller]
    pub fn to_i64_vec(&self) -> Vec<i64> {
        let data = self.buffer.as_i64();
        if self.layout.numel() == 0 {
            return Vec::new();
        }
        ensure_allocatable(self.layout.numel() * 8, || {
            format!("to_vec_i64 of a view of shape {:?}", self.layout.shape)
        });
        if self.layout.is_contiguous() {
            let start = self.layout.offset;
            return data[start..start + self.layout.numel()].to_vec();
        }
        self.layout.offsets().map(|i| data[i]).collect()
    }

    /// The compact f32 slice when the view is contiguous.
    pub fn contiguous_f32(&self) -> Option<&[f32]> {
        if self.layout.numel() == 0 {
            return Some(&[]);
        }
        self.layout.is_contiguous().then(|| {
            let start = self.layout.offset;
            &self.buffer.as_f32()[start..start + self.layout.numel()]
        })
    }
}
