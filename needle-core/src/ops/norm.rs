//! Vector norms over a set of axes: composites of `abs`, products, sums, `max` and `sqrt`,
//! each in the order numpy computes it (so the results equal numpy's bit for bit).

use crate::ops::{require_f32, resolve_axes};
use crate::tensor::Tensor;

impl Tensor {
    /// The vector `p`-norm over `axes` (as `torch.linalg.vector_norm`; negative axes count
    /// from the end), for `p` = 1 (`Σ|x|`), 2 (`√Σx²`) or `f32::INFINITY` (`max |x|`);
    /// `keepdim` keeps the axes with size 1. Sums run in numpy's pairwise order, so the
    /// result equals `np.sum(np.abs(x), axis)`, `np.sqrt(np.sum(x*x, axis))` and
    /// `np.max(np.abs(x), axis)` bit for bit. The gradient is PyTorch's, except at a slice
    /// of zeros for p = 2, where it is NaN (the derivative of √ at 0) and PyTorch's is 0.
    ///
    /// ```
    /// use needle_core::Tensor;
    /// let x = Tensor::from_vec(vec![3.0, -4.0, 0.0, 1.0, -2.0, 2.0], &[2, 3]);
    /// assert_eq!(x.norm(2.0, &[1], false).to_vec(), vec![5.0, 3.0]);
    /// assert_eq!(x.norm(1.0, &[1], false).to_vec(), vec![7.0, 5.0]);
    /// assert_eq!(x.norm(f32::INFINITY, &[1], false).to_vec(), vec![4.0, 2.0]);
    /// ```
    #[track_caller]
    pub fn norm(&self, p: f32, axes: &[isize], keepdim: bool) -> Tensor {
        require_f32(|| "norm", self.dtype());
        resolve_axes("norm", axes, &self.shape());
        if p == 1.0 {
            self.abs().sum(axes, keepdim)
        } else if p == 2.0 {
            self.square().sum(axes, keepdim).sqrt()
        } else if p == f32::INFINITY {
            self.abs().max(axes, keepdim)
        } else {
            panic!("norm: p = {p} is not supported (1, 2 or inf)")
        }
    }

    /// The vector `p`-norm of all elements, a 0-d tensor (as [`Tensor::norm`]).
    ///
    /// ```
    /// use needle_core::Tensor;
    /// let x = Tensor::from_vec(vec![3.0, -4.0], &[2]);
    /// assert_eq!(x.norm_all(2.0).item(), 5.0);
    /// ```
    #[track_caller]
    pub fn norm_all(&self, p: f32) -> Tensor {
        let axes: Vec<isize> = (0..self.ndim() as isize).collect();
        self.norm(p, &axes, false)
    }
}
