//! Shape arithmetic shared by recording (shape inference) and the kernels.

/// A tensor shape: the size of each axis, outermost first.
pub type Shape = Vec<usize>;

/// A shape stored inline up to four axes: what graph nodes keep (recording an op then
/// allocates no shape).
pub type Dims = smallvec::SmallVec<[usize; 4]>;

/// Most elements a tensor may have: at eight bytes an element (i64 data, f64 scratch) its
/// buffer must still fit in `isize`, the limit of a Rust allocation, and every byte offset
/// the JIT computes must fit in an `i64`.
pub const MAX_NUMEL: usize = (isize::MAX as usize) / 8;

/// Number of elements of a shape (1 for a 0-d shape). Panics when the product overflows:
/// every shape a tensor can have was checked with [`checked_numel`] when it was made, so
/// this only fires on a shape that never became a tensor.
#[track_caller]
pub fn numel(shape: &[usize]) -> usize {
    match shape.iter().try_fold(1usize, |acc, &d| acc.checked_mul(d)) {
        Some(n) => n,
        None => panic!("shape {shape:?} has more elements than usize can count"),
    }
}

/// The number of elements of `shape`, or `None` when the shape cannot be a tensor: the
/// product of its sizes (a size 0 counted as 1, so that strides and offsets computed from
/// the other sizes cannot overflow either) exceeds [`MAX_NUMEL`].
///
/// ```
/// use needle_core::shape::checked_numel;
/// assert_eq!(checked_numel(&[2, 3]), Some(6));
/// assert_eq!(checked_numel(&[1 << 40, 1 << 40]), None);
/// assert_eq!(checked_numel(&[1 << 40, 1 << 40, 0]), None);
/// ```
pub fn checked_numel(shape: &[usize]) -> Option<usize> {
    let extent = shape
        .iter()
        .try_fold(1usize, |acc, &d| acc.checked_mul(d.max(1)))?;
    (extent <= MAX_NUMEL).then(|| shape.iter().product())
}

/// [`checked_numel`], or a panic at the caller's line naming `op` and the shape.
#[track_caller]
pub(crate) fn valid_numel(op: &str, shape: &[usize]) -> usize {
    match checked_numel(shape) {
        Some(n) => n,
        None => panic!(
            "{op}: shape {shape:?} has too many elements (a tensor holds at most {MAX_NUMEL}; \
             the product of the sizes overflows or exceeds it)"
        ),
    }
}

/// Row-major (C order) strides, in elements, of a compact tensor of `shape`.
pub fn contiguous_strides(shape: &[usize]) -> Vec<isize> {
    let mut strides = vec![0isize; shape.len()];
    let mut acc = 1isize;
    for (s, &d) in strides.iter_mut().zip(shape).rev() {
        *s = acc;
        acc *= d.max(1) as isize;
    }
    strides
}

/// NumPy broadcasting of two shapes: aligned from the right, sizes equal or one of them 1.
/// Returns `None` when they are not broadcastable.
pub fn broadcast_shapes(a: &[usize], b: &[usize]) -> Option<Shape> {
    broadcast_dims(a, b).map(Dims::into_vec)
}

/// Collects sizes into [`Dims`] by pushing (SmallVec's `collect` and `extend` cost several
/// times as much on the two to four axes of a typical shape).
pub(crate) fn dims_of(sizes: impl IntoIterator<Item = usize>) -> Dims {
    let mut dims = Dims::new();
    for size in sizes {
        dims.push(size);
    }
    dims
}

/// [`broadcast_shapes`] as [`Dims`].
pub(crate) fn broadcast_dims(a: &[usize], b: &[usize]) -> Option<Dims> {
    if a == b {
        // Most binary ops of a model (and all of its backward pass but the broadcasts).
        return Some(Dims::from_slice(a));
    }
    let n = a.len().max(b.len());
    let mut out: Dims = smallvec::smallvec![0; n];
    for i in 0..n {
        let da = if i + a.len() >= n {
            a[i + a.len() - n]
        } else {
            1
        };
        let db = if i + b.len() >= n {
            b[i + b.len() - n]
        } else {
            1
        };
        out[i] = match (da, db) {
            (x, y) if x == y => x,
            (1, y) => y,
            (x, 1) => x,
            _ => return None,
        };
    }
    Some(out)
}

/// True when `from` can be broadcast to `to` (NumPy rules, `to` may have more axes).
pub fn can_broadcast_to(from: &[usize], to: &[usize]) -> bool {
    if from.len() > to.len() {
        return false;
    }
    let lead = to.len() - from.len();
    from.iter()
        .zip(&to[lead..])
        .all(|(&f, &t)| f == t || f == 1)
}

/// Resolves a possibly negative axis against `ndim`, `None` when out of range.
pub fn resolve_axis(axis: isize, ndim: usize) -> Option<usize> {
    let n = ndim as isize;
    let a = if axis < 0 { axis + n } else { axis };
    (0..n).contains(&a).then_some(a as usize)
}

/// Unwraps `value` or panics with `message()` at the caller's caller: closures cannot carry
/// `#[track_caller]`, so `unwrap_or_else(|| panic!(..))` would report the library's line.
#[track_caller]
pub(crate) fn or_panic<T>(value: Option<T>, message: impl FnOnce() -> String) -> T {
    match value {
        Some(v) => v,
        None => panic!("{}", message()),
    }
}

/// Formats a shape like `[2, 3]` for error messages.
pub fn fmt_shape(shape: &[usize]) -> String {
    format!("{shape:?}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn broadcasting_follows_numpy() {
        assert_eq!(broadcast_shapes(&[3, 1], &[4]), Some(vec![3, 4]));
        assert_eq!(broadcast_shapes(&[], &[2, 2]), Some(vec![2, 2]));
        assert_eq!(
            broadcast_shapes(&[6, 1, 5, 4], &[6, 5, 1]),
            Some(vec![6, 6, 5, 4])
        );
        assert_eq!(broadcast_shapes(&[3], &[4]), None);
        assert!(can_broadcast_to(&[1, 3], &[2, 2, 3]));
        assert!(!can_broadcast_to(&[2, 3], &[3, 3]));
    }

    #[test]
    fn strides_are_row_major() {
        assert_eq!(contiguous_strides(&[2, 3, 4]), vec![12, 4, 1]);
        assert_eq!(contiguous_strides(&[]), Vec::<isize>::new());
        assert_eq!(resolve_axis(-1, 3), Some(2));
        assert_eq!(resolve_axis(3, 3), None);
    }
}
