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
        // The k·k strided views (no copy) stacked on a new axis 2 (one copy, (N, C, k·k, Ho,
        // Wo)) and reduced over it: the reduction's gradient rule handles ties.
        let views: Vec<Tensor> = window
            .pooling_taps(&layer, x)
            .iter()
            .map(|v| v.unsqueeze(2))
            .collect();
        Tensor::concat(&views, 2).max(&[2], false)
    }
}
