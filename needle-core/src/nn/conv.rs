//! Two-dimensional convolution on NCHW input, computed as one matrix product with the im2col
//! matrix of its input ([`Tensor::im2col`]), so its gradients come from autodiff: the
//! weight's is a product with the same matrix, the input's a product folded back by col2im.

use crate::dtype::DType;
use crate::init::{kaiming_uniform_shape, rand, Nonlinearity};
use crate::module;
use crate::nn::window::Window;
use crate::nn::{Forward, Module, Training};
use crate::tensor::Tensor;

/// The hyper-parameters of a [`Conv2d`] besides its channel counts and kernel size.
/// `Conv2dOptions::default()` is PyTorch's `nn.Conv2d` default: stride 1, padding 0,
/// dilation 1, with bias.
///
/// ```
/// use needle_core::nn::{Conv2d, Conv2dOptions};
/// let conv = Conv2d::with_options(3, 8, 3, Conv2dOptions::default().stride(2).padding(1));
/// assert_eq!(conv.forward_shape(&[4, 3, 9, 9]), vec![4, 8, 5, 5]);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Conv2dOptions {
    /// Step between output positions, on both spatial axes.
    pub stride: usize,
    /// Zeros added on each side of both spatial axes.
    pub padding: usize,
    /// Spacing of the kernel's taps (1: adjacent).
    pub dilation: usize,
    /// Whether the layer adds a per-channel bias.
    pub bias: bool,
}

impl Default for Conv2dOptions {
    fn default() -> Self {
        Conv2dOptions {
            stride: 1,
            padding: 0,
            dilation: 1,
            bias: true,
        }
    }
}

impl Conv2dOptions {
    /// With this stride.
    pub fn stride(self, stride: usize) -> Self {
        Conv2dOptions { stride, ..self }
    }

    /// With this padding.
    pub fn padding(self, padding: usize) -> Self {
        Conv2dOptions { padding, ..self }
    }

    /// With this dilation.
    pub fn dilation(self, dilation: usize) -> Self {
        Conv2dOptions { dilation, ..self }
    }

    /// With or without bias.
    pub fn bias(self, bias: bool) -> Self {
        Conv2dOptions { bias, ..self }
    }
}

/// Cross-correlation of (N, C_in, H, W) input with C_out square kernels, giving
/// (N, C_out, H_o, W_o) with H_o = ⌊(H + 2p − d(k−1) − 1)/s⌋ + 1, as PyTorch's `conv2d`.
///
/// The weight is stored in the course's layout (k, k, C_in, C_out) — PyTorch's
/// (C_out, C_in, k, k) is its permutation (3, 2, 0, 1) — and drawn as the course's hw4 draws
/// it: Kaiming uniform over fan-in C_in·k² (bound √(6/fan_in)), then the bias (C_out,) from
/// U(−1/√fan_in, 1/√fan_in). Weight before bias, so seeded runs reproduce the course.
#[module]
pub struct Conv2d {
    /// (kernel_size, kernel_size, in_channels, out_channels).
    pub weight: Tensor,
    /// (out_channels,), absent when built without bias.
    pub bias: Option<Tensor>,
    training: Training,
    #[module(config)]
    in_channels: usize,
    #[module(config)]
    out_channels: usize,
    #[module(config)]
    kernel_size: usize,
    #[module(config)]
    stride: usize,
    #[module(config)]
    padding: usize,
    #[module(config)]
    dilation: usize,
}

impl Conv2d {
    /// The course's `nn.Conv(in, out, k)`: stride 1, padding k/2 (the same spatial size for
    /// odd k), with bias. PyTorch's default padding 0 is [`Conv2dOptions::default`].
    #[track_caller]
    pub fn new(in_channels: usize, out_channels: usize, kernel_size: usize) -> Conv2d {
        let options = Conv2dOptions::default().padding(kernel_size / 2);
        Conv2d::with_options(in_channels, out_channels, kernel_size, options)
    }

    /// A layer with chosen stride, padding, dilation and bias.
    #[track_caller]
    pub fn with_options(
        in_channels: usize,
        out_channels: usize,
        kernel_size: usize,
        options: Conv2dOptions,
    ) -> Conv2d {
        assert!(
            in_channels > 0 && out_channels > 0 && kernel_size > 0,
            "Conv2d: in_channels ({in_channels}), out_channels ({out_channels}) and \
             kernel_size ({kernel_size}) must be positive"
        );
        assert!(
            options.stride > 0 && options.dilation > 0,
            "Conv2d: stride ({}) and dilation ({}) must be positive",
            options.stride,
            options.dilation
        );
        let fan_in = in_channels * kernel_size * kernel_size;
        let shape = [kernel_size, kernel_size, in_channels, out_channels];
        let weight = kaiming_uniform_shape(fan_in, &shape, Nonlinearity::Relu).requires_grad_(true);
        let bias = options.bias.then(|| {
            let bound = 1.0 / (fan_in as f64).sqrt();
            rand(&[out_channels], -bound, bound).requires_grad_(true)
        });
        Conv2d {
            weight,
            bias,
            training: Training::default(),
            in_channels,
            out_channels,
            kernel_size,
            stride: options.stride,
            padding: options.padding,
            dilation: options.dilation,
        }
    }

    fn window(&self) -> Window {
        Window {
            kernel: self.kernel_size,
            stride: self.stride,
            padding: self.padding,
            dilation: self.dilation,
        }
    }

    fn layer_name(&self) -> String {
        format!("{}({})", self.type_name(), self.extra_repr())
    }

    /// The output shape for an input of `shape` (panics as `forward` would on a bad one).
    #[track_caller]
    pub fn forward_shape(&self, shape: &[usize]) -> Vec<usize> {
        let name = self.layer_name();
        let channels = Some(self.in_channels);
        let (h, w) = self.window().check_nchw(&name, shape, DType::F32, channels);
        vec![shape[0], self.out_channels, h, w]
    }
}

impl Forward for Conv2d {
    #[track_caller]
    fn forward(&self, x: &Tensor) -> Tensor {
        let window = self.window();
        let channels = Some(self.in_channels);
        let (ho, wo) = window.check_nchw(&self.layer_name(), &x.shape(), x.dtype(), channels);
        let n = x.shape()[0];
        let taps = self.kernel_size * self.kernel_size * self.in_channels;
        // The (k·k·C_in, N·Ho·Wo) im2col matrix times the weight as (C_out, k·k·C_in) — a
        // transposed view of its (k, k, C_in, C_out) storage, rows in the same (kh, kw, c)
        // order — is the output as (C_out, N·Ho·Wo). The GEMM reads 2-D strided operands. A
        // 1×1 kernel at stride 1 without padding reads x itself: (C_in, N·H·W) is a view of
        // x when N = 1 or C_in = 1, and otherwise one plain copy (the reshape). Any other
        // window's columns overlap or skip, so one im2col pass writes them (a copy the GEMM's
        // packing would otherwise make from scattered rows).
        let columns = if self.kernel_size == 1 && self.stride == 1 && self.padding == 0 {
            x.permute(&[1, 0, 2, 3])
                .reshape(&[self.in_channels, n * ho * wo])
        } else {
            x.im2col(window)
        };
        let weight = self
            .weight
            .reshape(&[taps, self.out_channels])
            .transpose(0, 1);
        let mut y = weight.matmul(&columns);
        if let Some(b) = &self.bias {
            // Per output channel, i.e. per row: fused into the product as its epilogue.
            y = &y + &b.reshape(&[self.out_channels, 1]).broadcast_to(&y.shape());
        }
        // NCHW as a view of the channel-major (C_out, N, Ho, Wo) product: a channel's values
        // stay contiguous for BatchNorm's statistics and the next layer's im2col.
        y.reshape(&[self.out_channels, n, ho, wo])
            .permute(&[1, 0, 2, 3])
    }
}
