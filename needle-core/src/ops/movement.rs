//! Movement ops: views (reshape, permute, transpose, broadcast, slice, flip), the copies
//! that cannot be views (pad, concat, and what is built from them) and dtype conversion.

use crate::node::Inputs;
use crate::op::Op;
use crate::ops::resolve_axes;
use crate::shape::{can_broadcast_to, fmt_shape, numel, or_panic, resolve_axis, valid_numel, Dims};
use crate::tensor::Tensor;
use smallvec::smallvec;

impl Tensor {
    #[track_caller]
    fn axis(&self, op: &str, axis: isize) -> usize {
        or_panic(resolve_axis(axis, self.ndim()), || {
            format!(
                "{op}: axis {axis} is out of range for shape {}",
                fmt_shape(&self.shape())
            )
        })
    }

    /// Same elements in a new shape (a view of compact data; a copy otherwise).
    #[track_caller]
    pub fn reshape(&self, shape: &[usize]) -> Tensor {
        let node = self.node();
        if node.shape() == shape {
            return self.clone();
        }
        let target = valid_numel("reshape", shape);
        assert!(
            numel(node.shape()) == target,
            "reshape: cannot reshape {} ({} elements) into {} ({target} elements)",
            fmt_shape(node.shape()),
            numel(node.shape()),
            fmt_shape(shape),
        );
        let dtype = node.dtype();
        Tensor::record(Op::Reshape, smallvec![node], Dims::from_slice(shape), dtype)
    }

    /// Flattens axes `start..=end` into one (negative axes count from the end).
    #[track_caller]
    pub fn flatten(&self, start: isize, end: isize) -> Tensor {
        let shape = self.shape();
        if shape.is_empty() {
            return self.reshape(&[1]);
        }
        let (s, e) = (self.axis("flatten", start), self.axis("flatten", end));
        assert!(
            s <= e,
            "flatten: start axis {start} is after end axis {end}"
        );
        let mut out = shape[..s].to_vec();
        out.push(shape[s..=e].iter().product());
        out.extend_from_slice(&shape[e + 1..]);
        self.reshape(&out)
    }

    /// Inserts an axis of size 1 at `axis` (which may equal `ndim`).
    #[track_caller]
    pub fn unsqueeze(&self, axis: isize) -> Tensor {
        let mut shape = self.shape();
        let a = or_panic(resolve_axis(axis, shape.len() + 1), || {
            format!(
                "unsqueeze: axis {axis} is out of range for shape {}",
                fmt_shape(&shape)
            )
        });
        shape.insert(a, 1);
        self.reshape(&shape)
    }

    /// Removes the listed axes, which must have size 1.
    #[track_caller]
    pub fn squeeze(&self, axes: &[isize]) -> Tensor {
        let shape = self.shape();
        let axes = resolve_axes("squeeze", axes, &shape);
        for &a in &axes {
            assert!(
                shape[a] == 1,
                "squeeze: axis {a} of shape {} has size {}",
                fmt_shape(&shape),
                shape[a]
            );
        }
        let out: Vec<usize> = shape
            .iter()
            .enumerate()
            .filter(|(i, _)| !axes.contains(i))
            .map(|(_, &d)| d)
            .collect();
        self.reshape(&out)
    }

    /// Reorders axes: axis `i` of the result is axis `perm[i]` of `self` (a view).
    #[track_caller]
    pub fn permute(&self, perm: &[usize]) -> Tensor {
        self.permute_owned(perm.to_vec())
    }

    /// [`Tensor::permute`] taking the permutation the op keeps.
    #[track_caller]
    fn permute_owned(&self, perm: Vec<usize>) -> Tensor {
        let node = self.node();
        let shape = node.shape();
        let mut seen = smallvec::SmallVec::<[bool; 8]>::from_elem(false, shape.len());
        assert!(
            perm.len() == shape.len()
                && perm
                    .iter()
                    .all(|&p| p < shape.len() && !std::mem::replace(&mut seen[p], true)),
            "permute: {perm:?} is not a permutation of the axes of shape {}",
            fmt_shape(shape)
        );
        if perm.iter().enumerate().all(|(i, &p)| i == p) {
            return self.clone();
        }
        let out = crate::shape::dims_of(perm.iter().map(|&p| shape[p]));
        let dtype = node.dtype();
        Tensor::record(Op::Permute(perm), smallvec![node.clone()], out, dtype)
    }

    /// Swaps two axes (a view).
    #[track_caller]
    pub fn transpose(&self, i: isize, j: isize) -> Tensor {
        let (i, j) = (self.axis("transpose", i), self.axis("transpose", j));
        let mut perm: Vec<usize> = (0..self.ndim()).collect();
        perm.swap(i, j);
        self.permute_owned(perm)
    }

    /// Swaps the last two axes (the course's default transpose).
    #[track_caller]
    pub fn t(&self) -> Tensor {
        assert!(
            self.ndim() >= 2,
            "t: needs at least 2 axes, shape is {}",
            fmt_shape(&self.shape())
        );
        self.transpose(-2, -1)
    }

    /// NumPy broadcast to `shape` (a view with stride 0 on repeated axes).
    #[track_caller]
    pub fn broadcast_to(&self, shape: &[usize]) -> Tensor {
        let node = self.node();
        if node.shape() == shape {
            return self.clone();
        }
        assert!(
            can_broadcast_to(node.shape(), shape),
            "broadcast_to: shape {} cannot be broadcast to {}",
            fmt_shape(node.shape()),
            fmt_shape(shape)
        );
        let dtype = node.dtype();
        Tensor::record(Op::Expand, smallvec![node], Dims::from_slice(shape), dtype)
    }

    /// Elements `start, start+step, …` below `end` along `axis` (a view). `end` is clamped
    /// to the axis size, like Python slicing with non-negative bounds.
    #[track_caller]
    pub fn slice(&self, axis: isize, start: usize, end: usize, step: usize) -> Tensor {
        let a = self.axis("slice", axis);
        let node = self.node();
        let shape = node.shape().to_vec();
        assert!(step >= 1, "slice: step must be at least 1");
        let end = end.min(shape[a]);
        assert!(
            start <= end,
            "slice: start {start} is past end {end} on axis {a} of shape {}",
            fmt_shape(&shape)
        );
        let mut starts = vec![0; shape.len()];
        let mut steps = vec![1; shape.len()];
        starts[a] = start;
        steps[a] = step;
        let mut out = shape.clone();
        out[a] = (end - start).div_ceil(step);
        if out == shape {
            return self.clone();
        }
        let dtype = node.dtype();
        Tensor::record(
            Op::Slice { starts, steps },
            smallvec![node],
            Dims::from_vec(out),
            dtype,
        )
    }

    /// `len` elements from `start` along `axis` (a view), like `torch.narrow`.
    #[track_caller]
    pub fn narrow(&self, axis: isize, start: usize, len: usize) -> Tensor {
        let a = self.axis("narrow", axis);
        let size = self.shape()[a];
        assert!(
            start + len <= size,
            "narrow: range {start}..{} is outside axis {a} of size {size}",
            start + len
        );
        self.slice(axis, start, start + len, 1)
    }

    /// Reverses the order of elements along `axes` (a view).
    #[track_caller]
    pub fn flip(&self, axes: &[isize]) -> Tensor {
        let node = self.node();
        let axes = resolve_axes("flip", axes, node.shape());
        if axes.is_empty() {
            return self.clone();
        }
        let shape = Dims::from_slice(node.shape());
        let dtype = node.dtype();
        Tensor::record(Op::Flip(axes), smallvec![node], shape, dtype)
    }

    /// Zero padding: `(before, after)` elements on each axis (one pair per axis).
    #[track_caller]
    pub fn pad(&self, padding: &[(usize, usize)]) -> Tensor {
        let spec: Vec<(usize, usize, usize)> = padding.iter().map(|&(b, a)| (b, a, 0)).collect();
        self.pad_dilate(&spec)
    }

    /// Inserts `dilation` zeros after every element along each of `axes` (the course's
    /// `dilate`, trailing zeros included).
    #[track_caller]
    pub fn dilate(&self, axes: &[isize], dilation: usize) -> Tensor {
        let shape = self.shape();
        let axes = resolve_axes("dilate", axes, &shape);
        let spec: Vec<(usize, usize, usize)> = (0..shape.len())
            .map(|i| {
                if axes.contains(&i) && shape[i] > 0 {
                    (0, dilation, dilation)
                } else {
                    (0, 0, 0)
                }
            })
            .collect();
        self.pad_dilate(&spec)
    }

    /// General zero padding `(before, after, interior)` per axis; interior inserts zeros
    /// between neighbours. The adjoint of a stepped slice.
    #[track_caller]
    pub fn pad_dilate(&self, spec: &[(usize, usize, usize)]) -> Tensor {
        let node = self.node();
        let shape = node.shape().to_vec();
        assert!(
            spec.len() == shape.len(),
            "pad: {} (before, after) pairs given for shape {} with {} axes",
            spec.len(),
            fmt_shape(&shape),
            shape.len()
        );
        if spec.iter().all(|&(b, a, i)| b == 0 && a == 0 && i == 0) {
            return self.clone();
        }
        let out: Vec<usize> = shape
            .iter()
            .zip(spec)
            .map(|(&d, &(b, a, i))| b + a + d + d.saturating_sub(1) * i)
            .collect();
        let dtype = node.dtype();
        Tensor::record(
            Op::Pad(spec.to_vec()),
            smallvec![node],
            Dims::from_vec(out),
            dtype,
        )
    }

    /// Joins tensors along an existing axis; all other sizes must match.
    #[track_caller]
    pub fn concat(tensors: &[Tensor], axis: isize) -> Tensor {
        assert!(!tensors.is_empty(), "concat: no tensors given");
        let first = tensors[0].shape();
        let a = tensors[0].axis("concat", axis);
        let dtype = tensors[0].dtype();
        let mut out = first.clone();
        out[a] = 0;
        for (i, t) in tensors.iter().enumerate() {
            let s = t.shape();
            let compatible = s.len() == first.len()
                && s.iter()
                    .zip(&first)
                    .enumerate()
                    .all(|(d, (x, y))| d == a || x == y)
                && t.dtype() == dtype;
            assert!(
                compatible,
                "concat: tensor {i} has shape {} {}, incompatible with {} {} along axis {a}",
                fmt_shape(&s),
                t.dtype(),
                fmt_shape(&first),
                dtype
            );
            out[a] += s[a];
        }
        if tensors.len() == 1 {
            return tensors[0].clone();
        }
        let nodes = tensors.iter().map(|t| t.node()).collect();
        Tensor::record(
            Op::Concat(a),
            Inputs::from_vec(nodes),
            Dims::from_vec(out),
            dtype,
        )
    }

    /// Stacks equally shaped tensors along a new axis.
    #[track_caller]
    pub fn stack(tensors: &[Tensor], axis: isize) -> Tensor {
        assert!(!tensors.is_empty(), "stack: no tensors given");
        let shape = tensors[0].shape();
        for (i, t) in tensors.iter().enumerate() {
            assert!(
                t.shape() == shape,
                "stack: tensor {i} has shape {}, expected {}",
                fmt_shape(&t.shape()),
                fmt_shape(&shape)
            );
        }
        let a = or_panic(resolve_axis(axis, shape.len() + 1), || {
            format!(
                "stack: axis {axis} is out of range for shape {}",
                fmt_shape(&shape)
            )
        });
        let parts: Vec<Tensor> = tensors.iter().map(|t| t.unsqueeze(a as isize)).collect();
        Tensor::concat(&parts, a as isize)
    }

    /// Splits into chunks of `size` along `axis` (the last may be shorter), like `torch.split`.
    #[track_caller]
    pub fn split(&self, size: usize, axis: isize) -> Vec<Tensor> {
        assert!(size > 0, "split: chunk size must be positive");
        let a = self.axis("split", axis);
        let n = self.shape()[a];
        (0..n)
            .step_by(size)
            .map(|s| self.narrow(a as isize, s, size.min(n - s)))
            .collect()
    }

    /// Splits into the `n` slices along `axis`, removing it (the course's `split`).
    #[track_caller]
    pub fn unbind(&self, axis: isize) -> Vec<Tensor> {
        let a = self.axis("unbind", axis);
        let n = self.shape()[a];
        (0..n)
            .map(|i| self.narrow(a as isize, i, 1).squeeze(&[a as isize]))
            .collect()
    }
}

impl Tensor {
    /// A multi-axis stepped slice (the adjoint of `pad_dilate`).
    #[track_caller]
    pub(crate) fn slice_multi(
        &self,
        starts: Vec<usize>,
        steps: Vec<usize>,
        shape: Vec<usize>,
    ) -> Tensor {
        let node = self.node();
        if node.shape() == shape.as_slice() && starts.iter().all(|&s| s == 0) {
            return self.clone();
        }
        let dtype = node.dtype();
        Tensor::record(
            Op::Slice { starts, steps },
            smallvec::smallvec![node],
            crate::shape::Dims::from_vec(shape),
            dtype,
        )
    }
}

impl Tensor {
    /// Converts to f32 (identity on f32 tensors).
    #[track_caller]
    pub fn to_f32(&self) -> Tensor {
        self.cast(crate::DType::F32)
    }

    /// Converts to another dtype (f32 → i64 truncates toward zero). No gradient.
    #[track_caller]
    pub fn cast(&self, dtype: crate::DType) -> Tensor {
        let node = self.node();
        if node.dtype() == dtype {
            return self.clone();
        }
        let shape = Dims::from_slice(node.shape());
        Tensor::record(Op::Cast(dtype), smallvec![node], shape, dtype)
    }
}
