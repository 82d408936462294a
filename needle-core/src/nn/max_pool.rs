//! Max pooling over square windows of NCHW input.

use crate::module;
use crate::nn::window::Window;
use crate::nn::{Forward, Module, Training};
use crate::tensor::Tensor;

/// The maximum of each k×k window of (N, C, H, W) input, windows `stride` apart (default k),
/// giving (N, C, ⌊(H − k)/s⌋ + 1, ⌊(W − k)/s⌋ + 1) as PyTorch's `max_pool2d` without padding.
/// The gradient goes to the window's maximum; where several elements tie for it, it is shared
/// equally among them, as [`Tensor::max`] does (PyTorch gives it all to the first).
#[module]
pub struct MaxPool2d {
    training: Training,
    #[module(config)]
    kernel_size: usize,
    #[module(config)]
    stride: usize,
}

impl MaxPool2d {
    /// Windows of `kernel_size`, not overlapping (stride = kernel_size).
    #[track_caller]
    pub fn new(kernel_size: usize) -> MaxPool2d {
        MaxPool2d::with_stride(kernel_size, kernel_size)
    }

    /// Windows of `kernel_size`, `stride` apart.
    #[track_caller]
    pub fn with_stride(kernel_size: usize, stride: usize) -> MaxPool2d {
        Window::pooling("MaxPool2d", kernel_size, stride);
        MaxPool2d {
            training: Training::default(),
            kernel_size,
            stride,
        }
    }
}

impl Forward for MaxPool2d {
    #[track_caller]
    fn forward(&self, x: &Tensor) -> Tensor {
        let window = Window::pooling(&self.type_name(), self.kernel_size, self.stride);
        let layer = format!("{}({})", self.type_name(), self.extra_repr());
        let (ho, wo) = window.check_nchw(&layer, &x.shape(), x.dtype(), None);
        let (n, c) = (x.shape()[0], x.shape()[1]);
        // The windows as im2col columns, one window-tap row per (tap, channel): one pass
        // over x (a window step in the JIT, no interpreter gather), then the maximum over the
        // taps, whose gradient rule handles ties; its gradient goes back through col2im.
        let taps = self.kernel_size * self.kernel_size;
        x.im2col(window)
            .reshape(&[taps, c * n * ho * wo])
            .max(&[0], false)
            .reshape(&[c, n, ho, wo])
            .permute(&[1, 0, 2, 3])
    }
}
