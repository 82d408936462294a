//! Strided views: how a tensor's logical elements map onto a flat buffer.
//!
//! Every movement op (reshape of compact data, permute, broadcast, slice, flip) is a pure
//! transformation of a [`Layout`]; the buffer is shared, never copied.

use crate::shape::{contiguous_strides, numel, Shape};

/// Shape + strides (in elements, may be 0 for broadcasts or negative for flips) + offset.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Layout {
    /// Size of each axis.
    pub shape: Shape,
    /// Distance in elements between neighbours along each axis.
    pub strides: Vec<isize>,
    /// Position of the first logical element in the buffer.
    pub offset: usize,
}

impl Layout {
    /// A compact row-major layout starting at element 0.
    pub fn contiguous(shape: &[usize]) -> Layout {
        Layout {
            shape: shape.to_vec(),
            strides: contiguous_strides(shape),
            offset: 0,
        }
    }

    /// Number of logical elements.
    pub fn numel(&self) -> usize {
        numel(&self.shape)
    }

    /// True when logical elements are consecutive in memory in row-major order
    /// (axes of size 1 may have any stride). The offset may be non-zero.
    pub fn is_contiguous(&self) -> bool {
        let mut expected = 1isize;
        for (&d, &s) in self.shape.iter().zip(&self.strides).rev() {
            if d == 1 {
                continue;
            }
            if s != expected {
                return false;
            }
            expected *= d as isize;
        }
        true
    }

    /// Layout with axes reordered: axis `i` of the result is axis `perm[i]` of `self`.
    pub fn permute(&self, perm: &[usize]) -> Layout {
        Layout {
            shape: perm.iter().map(|&p| self.shape[p]).collect(),
            strides: perm.iter().map(|&p| self.strides[p]).collect(),
            offset: self.offset,
        }
    }

    /// Broadcast view to `shape` (stride 0 on new and expanded axes). The caller has checked
    /// that the shapes are broadcast-compatible.
    pub fn expand(&self, shape: &[usize]) -> Layout {
        let lead = shape.len() - self.shape.len();
        let mut strides = vec![0isize; shape.len()];
        for i in 0..self.shape.len() {
            strides[lead + i] = if self.shape[i] == shape[lead + i] {
                self.strides[i]
            } else {
                0
            };
        }
        Layout {
            shape: shape.to_vec(),
            strides,
            offset: self.offset,
        }
    }

    /// Sub-view: along each axis, `shape[i]` elements starting at `starts[i]` with step `steps[i]`.
    pub fn slice(&self, starts: &[usize], steps: &[usize], shape: &[usize]) -> Layout {
        let mut offset = self.offset as isize;
        for (i, &st) in starts.iter().enumerate() {
            if shape[i] > 0 {
                offset += st as isize * self.strides[i];
            }
        }
        if shape.contains(&0) {
            // Nothing is read: an offset past the buffer's end must not be either.
            offset = 0;
        }
        Layout {
            shape: shape.to_vec(),
            strides: self
                .strides
                .iter()
                .zip(steps)
                .map(|(&s, &k)| s * k as isize)
                .collect(),
            offset: offset as usize,
        }
    }

    /// Reversed along `axes` (negative strides, offset moved to the last element).
    pub fn flip(&self, axes: &[usize]) -> Layout {
        let mut out = self.clone();
        let mut offset = self.offset as isize;
        for &a in axes {
            if self.shape[a] > 0 {
                offset += (self.shape[a] as isize - 1) * self.strides[a];
            }
            out.strides[a] = -self.strides[a];
        }
        out.offset = offset as usize;
        out
    }

    /// Reshape without copying when the data allows it: compact layouts always, and layouts
    /// whose merged/split axes are themselves contiguous runs (NumPy's no-copy rule).
    /// Returns `None` when a copy is required.
    pub fn reshape(&self, shape: &[usize]) -> Option<Layout> {
        if self.is_contiguous() {
            return Some(Layout {
                shape: shape.to_vec(),
                strides: contiguous_strides(shape),
                offset: self.offset,
            });
        }
        if numel(shape) == 0 {
            return None;
        }
        // Group old axes (ignoring size-1) and new axes into runs of equal element count; each
        // old run must be internally contiguous, then the new run gets strides derived from it.
        let old: Vec<(usize, isize)> = self
            .shape
            .iter()
            .zip(&self.strides)
            .filter(|(&d, _)| d != 1)
            .map(|(&d, &s)| (d, s))
            .collect();
        let mut new_strides = vec![0isize; shape.len()];
        let (mut oi, mut ni) = (0usize, 0usize);
        while ni < shape.len() {
            if shape[ni] == 1 {
                new_strides[ni] = 0;
                ni += 1;
                continue;
            }
            if oi >= old.len() {
                return None;
            }
            let (o_start, n_start) = (oi, ni);
            let mut o_prod = old[oi].0;
            let mut n_prod = shape[ni];
            while o_prod != n_prod {
                if o_prod < n_prod {
                    oi += 1;
                    if oi >= old.len() {
                        return None;
                    }
                    o_prod *= old[oi].0;
                } else {
                    ni += 1;
                    while ni < shape.len() && shape[ni] == 1 {
                        ni += 1;
                    }
                    if ni >= shape.len() {
                        return None;
                    }
                    n_prod *= shape[ni];
                }
            }
            for k in o_start..oi {
                if old[k].1 != old[k + 1].1 * old[k + 1].0 as isize {
                    return None;
                }
            }
            let mut stride = old[oi].1;
            for k in (n_start..=ni).rev() {
                if shape[k] == 1 {
                    continue;
                }
                new_strides[k] = stride;
                stride *= shape[k] as isize;
            }
            oi += 1;
            ni += 1;
        }
        if oi != old.len() {
            return None;
        }
        Some(Layout {
            shape: shape.to_vec(),
            strides: new_strides,
            offset: self.offset,
        })
    }

    /// Buffer index of every logical element, in row-major logical order.
    pub fn offsets(&self) -> OffsetIter<'_> {
        OffsetIter::new(self)
    }

    /// Smallest and largest buffer index touched (inclusive), `None` for an empty view.
    pub fn extent(&self) -> Option<(isize, isize)> {
        if self.numel() == 0 {
            return None;
        }
        let (mut lo, mut hi) = (self.offset as isize, self.offset as isize);
        for (&d, &s) in self.shape.iter().zip(&self.strides) {
            let span = (d as isize - 1) * s;
            if span < 0 {
                lo += span;
            } else {
                hi += span;
            }
        }
        Some((lo, hi))
    }
}

/// Iterator over buffer indices of a strided view in logical row-major order.
pub struct OffsetIter<'a> {
    layout: &'a Layout,
    index: Vec<usize>,
    pos: isize,
    remaining: usize,
}

impl<'a> OffsetIter<'a> {
    fn new(layout: &'a Layout) -> Self {
        OffsetIter {
            layout,
            index: vec![0; layout.shape.len()],
            pos: layout.offset as isize,
            remaining: layout.numel(),
        }
    }
}

impl Iterator for OffsetIter<'_> {
    type Item = usize;

    fn next(&mut self) -> Option<usize> {
        if self.remaining == 0 {
            return None;
        }
        let current = self.pos as usize;
        self.remaining -= 1;
        if self.remaining > 0 {
            for ax in (0..self.index.len()).rev() {
                self.index[ax] += 1;
                self.pos += self.layout.strides[ax];
                if self.index[ax] < self.layout.shape[ax] {
                    break;
                }
                self.pos -= self.layout.strides[ax] * self.layout.shape[ax] as isize;
                self.index[ax] = 0;
            }
        }
        Some(current)
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (self.remaining, Some(self.remaining))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn permute_and_flip_offsets() {
        let l = Layout::contiguous(&[2, 3]);
        let t = l.permute(&[1, 0]);
        assert_eq!(t.offsets().collect::<Vec<_>>(), vec![0, 3, 1, 4, 2, 5]);
        let f = l.flip(&[1]);
        assert_eq!(f.offsets().collect::<Vec<_>>(), vec![2, 1, 0, 5, 4, 3]);
        assert!(!t.is_contiguous());
    }

    #[test]
    fn reshape_without_copy_when_runs_are_contiguous() {
        // (4, 6) sliced to columns 0..3 then reshaped (4, 3) -> (2, 2, 3) keeps the view.
        let l = Layout::contiguous(&[4, 6]).slice(&[0, 0], &[1, 1], &[4, 3]);
        let r = l.reshape(&[2, 2, 3]).unwrap();
        assert_eq!(r.strides, vec![12, 6, 1]);
        // Merging the sliced rows is impossible without a copy.
        assert!(l.reshape(&[12]).is_none());
        let t = Layout::contiguous(&[2, 3]).permute(&[1, 0]);
        assert!(t.reshape(&[6]).is_none());
        assert_eq!(t.reshape(&[3, 1, 2]).unwrap().strides, vec![1, 0, 3]);
    }

    #[test]
    fn slice_with_step_and_extent() {
        let l = Layout::contiguous(&[10]).slice(&[1], &[3], &[3]);
        assert_eq!(l.offsets().collect::<Vec<_>>(), vec![1, 4, 7]);
        assert_eq!(l.extent(), Some((1, 7)));
        let e = Layout::contiguous(&[3]).expand(&[2, 3]);
        assert_eq!(e.offsets().collect::<Vec<_>>(), vec![0, 1, 2, 0, 1, 2]);
    }
}
