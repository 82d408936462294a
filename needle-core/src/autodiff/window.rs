//! Gradient rules of the window family: im2col and col2im are linear and each other's
//! adjoint, so each one's gradient is the other applied to the output's adjoint.

use super::rule::Rule;
use crate::op::Window;
use crate::tensor::Tensor;

/// The adjoint of im2col's input: the col2im of `g` back to the input's shape.
pub(super) fn im2col_gradient(window: Window, r: &Rule) -> Tensor {
    r.g.col2im(window, r.input_shape(0))
}

/// The adjoint of col2im's input: the im2col of `g`.
pub(super) fn col2im_gradient(window: Window, r: &Rule) -> Tensor {
    r.g.im2col(window)
}
