//! Average pooling over square windows of NCHW input.

use crate::module;
use crate::nn::window::Window;
use crate::nn::{Forward, Module, Training};
use crate::tensor::Tensor;

/// The mean of each k×k window of (N, C, H, W) input, windows `stride` apart (default k),
/// giving (N, C, ⌊(H − k)/s⌋ + 1, ⌊(W − k)/s⌋ + 1) as PyTorch's `avg_pool2d` without padding.
#[module]
pub struct AvgPool2d {
    training: Training,
    #[module(config)]
    kernel_size: usize,
    #[module(config)]
    stride: usize,
}

impl AvgPool2d {
    /// Windows of `kernel_size`, not overlapping (stride = kernel_size).
    #[track_caller]
    pub fn new(kernel_size: usize) -> AvgPool2d {
        AvgPool2d::with_stride(kernel_size, kernel_size)
    }

    /// Windows of `kernel_size`, `stride` apart.
    #[track_caller]
    pub fn with_stride(kernel_size: usize, stride: usize) -> AvgPool2d {
        Window::pooling("AvgPool2d", kernel_size, stride);
        AvgPool2d {
            training: Training::default(),
            kernel_size,
            stride,
        }
    }
}

impl Forward for AvgPool2d {
    #[track_caller]
    fn forward(&self, x: &Tensor) -> Tensor {
        let window = Window::pooling(&self.type_name(), self.kernel_size, self.stride);
        let layer = format!("{}({})", self.type_name(), self.extra_repr());
        // A running sum of the k·k strided views, taps in row-major order, then one division
        // by k·k: elementwise ops on views, so nothing is gathered (the JIT fuses the chain
        // into one loop reading x in place).
        let views = window.pooling_taps(&layer, x);
        let sum = views[1..].iter().fold(views[0].clone(), |acc, v| &acc + v);
        &sum / (self.kernel_size * self.kernel_size) as f32
    }
}
