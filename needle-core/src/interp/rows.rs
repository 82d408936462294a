//! The strided-iteration engine the kernels share: a walk over a shape's innermost rows with
//! several operands' buffer positions kept in step.

/// Calls `f(row_offsets, len)` for every innermost row of `shape`, where `row_offsets[i]` is
/// operand `i`'s buffer index of the row's first element (operand `i` has `strides[i]` and
/// starts at `offsets[i]`). The shared strided-iteration engine of the kernels.
pub(crate) fn for_each_row(
    shape: &[usize],
    strides: &[&[isize]],
    offsets: &[usize],
    mut f: impl FnMut(&[isize], usize),
) {
    let ndim = shape.len();
    if shape.contains(&0) {
        return;
    }
    let mut pos: Vec<isize> = offsets.iter().map(|&o| o as isize).collect();
    if ndim == 0 {
        f(&pos, 1);
        return;
    }
    let inner = shape[ndim - 1];
    let outer = ndim - 1;
    let mut index = vec![0usize; outer];
    loop {
        f(&pos, inner);
        let mut ax = outer;
        loop {
            if ax == 0 {
                return;
            }
            ax -= 1;
            index[ax] += 1;
            for (p, s) in pos.iter_mut().zip(strides) {
                *p += s[ax];
            }
            if index[ax] < shape[ax] {
                break;
            }
            for (p, s) in pos.iter_mut().zip(strides) {
                *p -= s[ax] * shape[ax] as isize;
            }
            index[ax] = 0;
        }
    }
}
