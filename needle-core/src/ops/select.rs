//! Choosing elements: `where_cond` (elementwise choice between two tensors), a composite of
//! the binary family's `Mask` that keeps every bit of the chosen value.

use crate::ops::require_f32;
use crate::shape::{broadcast_dims, fmt_shape};
use crate::tensor::Tensor;

impl Tensor {
    /// `torch.where(cond != 0, a, b)`: `a`'s element where `cond` is non-zero (a NaN
    /// condition counts as true), else `b`'s; the three broadcast together. The chosen value
    /// is kept bit for bit — −0, infinities and NaN — and the other branch never leaks in,
    /// whatever it holds. `cond` gets no gradient; `a` and `b` get the output's gradient
    /// where they were chosen.
    ///
    /// ```
    /// use needle_core::Tensor;
    /// let cond = Tensor::from_vec(vec![1.0, 0.0, 1.0], &[3]);
    /// let a = Tensor::from_vec(vec![-0.0, f32::NAN, 3.0], &[3]);
    /// let b = Tensor::from_vec(vec![f32::INFINITY, 2.0, 9.0], &[3]);
    /// let y = Tensor::where_cond(&cond, &a, &b).to_vec();
    /// assert_eq!(y[0].to_bits(), (-0.0f32).to_bits());
    /// assert_eq!(&y[1..], &[2.0, 3.0]);
    /// ```
    #[track_caller]
    pub fn where_cond(cond: &Tensor, a: &Tensor, b: &Tensor) -> Tensor {
        for t in [cond, a, b] {
            require_f32(|| "where_cond", t.dtype());
        }
        let (c_shape, a_shape, b_shape) = (cond.shape(), a.shape(), b.shape());
        let together =
            broadcast_dims(&c_shape, &a_shape).and_then(|ca| broadcast_dims(&ca, &b_shape));
        if together.is_none() {
            panic!(
                "where_cond: shapes {} (cond), {} (a) and {} (b) are not broadcastable",
                fmt_shape(&c_shape),
                fmt_shape(&a_shape),
                fmt_shape(&b_shape)
            );
        }
        // Each branch is its value where chosen and −0 elsewhere (−mask(−v, c): the mask's
        // +0, negated), and adding −0 changes no value, so the sum is the chosen value's
        // bits — including −0, which `mask(a, c) + mask(b, !c)` would turn into +0.
        let not_cond = cond.eq(0.0);
        let chosen_a = a.neg().masked(cond).neg();
        let chosen_b = b.neg().masked(&not_cond).neg();
        chosen_a + chosen_b
    }
}
