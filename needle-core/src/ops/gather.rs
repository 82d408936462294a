//! Indexing by integer tensors along an axis: `gather` and its adjoint `zeros_scatter_add`
//! (primitives: the index is i64 data, so in the JIT they are host steps running the
//! interpreter's kernels), and `index_select`, a gather through a broadcast view of the
//! index.

use crate::dtype::DType;
use crate::op::Op;
use crate::ops::{require_f32, resolve_axes};
use crate::shape::{fmt_shape, Dims};
use crate::tensor::Tensor;
use smallvec::smallvec;

/// Panics, naming `op`, unless `index` is i64 with `shape`'s number of axes and no axis but
/// `axis` longer than `shape`'s (PyTorch's rule for gather and scatter).
#[track_caller]
fn check_index(op: &str, shape: &[usize], index: &Tensor, axis: usize) {
    if index.dtype() != DType::I64 {
        panic!("{op}: the index must be i64, not {}", index.dtype());
    }
    let index_shape = index.shape();
    let fits = index_shape.len() == shape.len()
        && (0..shape.len()).all(|d| d == axis || index_shape[d] <= shape[d]);
    if !fits {
        panic!(
            "{op}: index shape {} does not fit shape {} (same number of axes, no longer \
             except on axis {axis})",
            fmt_shape(&index_shape),
            fmt_shape(shape)
        );
    }
}

impl Tensor {
    /// `torch.gather(self, axis, index)`: an output of `index`'s shape (i64, as many axes as
    /// `self`, no axis but `axis` longer) whose element at each position is `self`'s element
    /// at that position with its `axis` coordinate replaced by the index's value. An index
    /// outside `0..self.shape()[axis]` panics when the value is computed. The gradient adds
    /// the output's gradient back at the gathered positions (repeats accumulate).
    ///
    /// ```
    /// use needle_core::Tensor;
    /// let x = Tensor::from_vec(vec![1.0, 2.0, 3.0, 4.0, 5.0, 6.0], &[2, 3]);
    /// let index = Tensor::from_vec_i64(vec![2, 0, 1, 1], &[2, 2]);
    /// assert_eq!(x.gather(1, &index).to_vec(), vec![3.0, 1.0, 5.0, 5.0]);
    /// ```
    #[track_caller]
    pub fn gather(&self, axis: isize, index: &Tensor) -> Tensor {
        let node = self.node();
        require_f32(|| "gather", node.dtype());
        let axis = resolve_axes("gather", &[axis], node.shape())[0];
        check_index("gather", node.shape(), index, axis);
        let index = index.node();
        let shape = Dims::from_slice(index.shape());
        Tensor::record(Op::Gather(axis), smallvec![node, index], shape, DType::F32)
    }

    /// `torch.zeros(shape).scatter_add(axis, index, values)`: zeros with each element of
    /// `values` (f32, `index`'s shape) added at its own position with the `axis` coordinate
    /// replaced by the index's value — the adjoint of [`Tensor::gather`]. Repeated indices
    /// accumulate in the index's row-major order.
    ///
    /// ```
    /// use needle_core::Tensor;
    /// let index = Tensor::from_vec_i64(vec![0, 2, 0], &[3]);
    /// let values = Tensor::from_vec(vec![1.0, 2.0, 3.0], &[3]);
    /// let y = Tensor::zeros_scatter_add(&[4], 0, &index, &values);
    /// assert_eq!(y.to_vec(), vec![4.0, 0.0, 2.0, 0.0]);
    /// ```
    #[track_caller]
    pub fn zeros_scatter_add(
        shape: &[usize],
        axis: isize,
        index: &Tensor,
        values: &Tensor,
    ) -> Tensor {
        require_f32(|| "scatter_add", values.dtype());
        let axis = resolve_axes("scatter_add", &[axis], shape)[0];
        check_index("scatter_add", shape, index, axis);
        if values.shape().as_slice() != index.shape().as_slice() {
            panic!(
                "scatter_add: values of shape {} for an index of shape {} (they must match)",
                fmt_shape(&values.shape()),
                fmt_shape(&index.shape())
            );
        }
        Tensor::record(
            Op::ScatterAdd(axis),
            smallvec![index.node(), values.node()],
            Dims::from_slice(shape),
            DType::F32,
        )
    }

    /// `torch.index_select(self, axis, index)`: the slices of `self` along `axis` at the
    /// positions in `index` (1-d i64, repeats allowed), in that order. A
    /// [`gather`](Tensor::gather) through a broadcast view of the index (no copy of it);
    /// the gradient adds back into the selected slices (`index_add`).
    ///
    /// ```
    /// use needle_core::Tensor;
    /// let x = Tensor::from_vec(vec![1.0, 2.0, 3.0, 4.0, 5.0, 6.0], &[3, 2]);
    /// let rows = Tensor::from_vec_i64(vec![2, 0, 2], &[3]);
    /// assert_eq!(x.index_select(0, &rows).to_vec(), vec![5.0, 6.0, 1.0, 2.0, 5.0, 6.0]);
    /// ```
    #[track_caller]
    pub fn index_select(&self, axis: isize, index: &Tensor) -> Tensor {
        let shape = self.shape();
        let a = resolve_axes("index_select", &[axis], &shape)[0];
        if index.dtype() != DType::I64 || index.ndim() != 1 {
            panic!(
                "index_select: the index must be 1-d i64, not {} of shape {}",
                index.dtype(),
                fmt_shape(&index.shape())
            );
        }
        let mut along = vec![1; shape.len()];
        along[a] = index.numel();
        let mut out_shape = shape.to_vec();
        out_shape[a] = index.numel();
        self.gather(a as isize, &index.reshape(&along).broadcast_to(&out_shape))
    }
}
