//! Minimum, and the index of the maximum and minimum along an axis: composites of the
//! reduce, binary and cast primitives, exact in every mode (no new primitive).

use crate::ops::{require_f32, resolve_axes};
use crate::shape::fmt_shape;
use crate::tensor::Tensor;

impl Tensor {
    /// Minimum over `axes` (negative axes count from the end); `keepdim` keeps them with
    /// size 1. Computed as `−max(−self)`, which is exact (negation only flips the sign bit),
    /// so NaN wins as in `np.min`; the gradient is split evenly between tied minima, as
    /// `torch.amin`'s (its zeros are −0, the negation of `max`'s, where PyTorch's are +0).
    ///
    /// ```
    /// use needle_core::Tensor;
    /// let x = Tensor::from_vec(vec![3.0, -1.0, 2.0, 5.0], &[2, 2]);
    /// assert_eq!(x.min(&[1], false).to_vec(), vec![-1.0, 2.0]);
    /// ```
    #[track_caller]
    pub fn min(&self, axes: &[isize], keepdim: bool) -> Tensor {
        let shape = self.shape();
        let resolved = resolve_axes("min", axes, &shape);
        require_f32(|| "min", self.dtype());
        if let Some(&a) = resolved.iter().find(|&&a| shape[a] == 0) {
            panic!(
                "min: cannot reduce over an axis of size 0 (axis {a} of shape {}): the \
                 minimum of nothing is undefined",
                fmt_shape(&shape)
            );
        }
        self.neg().max(axes, keepdim).neg()
    }

    /// Minimum of all elements, a 0-d tensor (as [`Tensor::min`]).
    ///
    /// ```
    /// use needle_core::Tensor;
    /// let x = Tensor::from_vec(vec![3.0, -1.0, 2.0], &[3]);
    /// assert_eq!(x.min_all().item(), -1.0);
    /// ```
    #[track_caller]
    pub fn min_all(&self) -> Tensor {
        let axes: Vec<isize> = (0..self.ndim() as isize).collect();
        self.min(&axes, false)
    }

    /// The index (i64) of the maximum along `axis`, as `np.argmax`/`torch.argmax`: the first
    /// of tied maxima, and the first NaN if there is one (NaN is the maximum). `keepdim`
    /// keeps the axis with size 1. No gradient (an index is flat in the input).
    ///
    /// Computed from primitives: the positions equal to the maximum (or NaN) select
    /// `n − i` for index `i`, whose maximum is `n − first`; every value is an integer below
    /// 2²⁴, exact in f32, and the result is cast to i64.
    ///
    /// ```
    /// use needle_core::Tensor;
    /// let x = Tensor::from_vec(vec![1.0, 7.0, 7.0, 4.0, f32::NAN, 0.0], &[2, 3]);
    /// assert_eq!(x.argmax(1, false).to_vec_i64(), vec![1, 1]);
    /// ```
    #[track_caller]
    pub fn argmax(&self, axis: isize, keepdim: bool) -> Tensor {
        self.arg_extreme("argmax", axis, keepdim, false)
    }

    /// The index (i64) of the minimum along `axis`, as `np.argmin`/`torch.argmin`: the first
    /// of tied minima, and the first NaN if there is one. No gradient.
    ///
    /// ```
    /// use needle_core::Tensor;
    /// let x = Tensor::from_vec(vec![1.0, -7.0, -7.0, 4.0], &[4]);
    /// assert_eq!(x.argmin(0, false).to_vec_i64(), vec![1]);
    /// ```
    #[track_caller]
    pub fn argmin(&self, axis: isize, keepdim: bool) -> Tensor {
        self.arg_extreme("argmin", axis, keepdim, true)
    }

    /// [`Tensor::argmax`] of `self`, or of `−self` for the minimum (NaN stays NaN).
    #[track_caller]
    fn arg_extreme(&self, name: &str, axis: isize, keepdim: bool, minimum: bool) -> Tensor {
        require_f32(|| name, self.dtype());
        let shape = self.shape();
        let a = resolve_axes(name, &[axis], &shape)[0];
        let n = shape[a];
        if n == 0 {
            panic!(
                "{name}: cannot take the index over an axis of size 0 (axis {a} of shape {})",
                fmt_shape(&shape)
            );
        }
        assert!(
            n < 1 << 24,
            "{name}: axis {a} of shape {} is too long for exact f32 indices (at most 2^24 − 1)",
            fmt_shape(&shape)
        );
        let x = self.detach();
        let x = if minimum { x.neg() } else { x };
        let top = x.max(&[axis], true);
        // Where the maximum is NaN no element equals it, and the NaNs are the hits.
        let hit = x.eq(&top).maximum(x.ne(&x));
        let mut along = vec![1; shape.len()];
        along[a] = n;
        let countdown = Tensor::arange(n as f32, 0.0, -1.0).reshape(&along);
        let first = countdown
            .masked(&hit)
            .max(&[axis], keepdim)
            .rsub_scalar(n as f32);
        first.cast(crate::DType::I64)
    }
}
