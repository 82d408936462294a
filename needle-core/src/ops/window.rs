//! The window family's `Tensor` methods: [`Tensor::im2col`] and its adjoint
//! [`Tensor::col2im`], the two halves of a convolution as one matrix product.

use crate::dtype::DType;
use crate::op::{Op, Window};
use crate::shape::{fmt_shape, Dims};
use crate::tensor::Tensor;
use smallvec::smallvec;

/// Panics, naming `op`, unless `window` has a positive kernel, stride and dilation and fits
/// the spatial axes of NCHW `shape` (padding included). Returns the output's (Ho, Wo).
#[track_caller]
fn check_window(op: &str, window: Window, shape: &[usize]) -> (usize, usize) {
    if window.kernel == 0 || window.stride == 0 || window.dilation == 0 {
        panic!("{op}: kernel, stride and dilation must be positive, got {window:?}");
    }
    if shape.len() != 4 {
        panic!(
            "{op}: the image shape must be (N, C, H, W), got {}",
            fmt_shape(shape)
        );
    }
    match (window.output_size(shape[2]), window.output_size(shape[3])) {
        (Some(ho), Some(wo)) => (ho, wo),
        _ => panic!(
            "{op}: images of shape {} are too small for a window spanning {} with padding {}",
            fmt_shape(shape),
            window.span(),
            window.padding
        ),
    }
}

/// The im2col matrix shape of NCHW images of `shape`, checked with a checked product (it
/// sizes an allocation).
#[track_caller]
fn columns_shape(op: &str, window: Window, shape: &[usize]) -> [usize; 2] {
    let (ho, wo) = check_window(op, window, shape);
    let rows = [window.kernel, window.kernel, shape[1]]
        .iter()
        .try_fold(1usize, |a, &b| a.checked_mul(b));
    let cols = [shape[0], ho, wo]
        .iter()
        .try_fold(1usize, |a, &b| a.checked_mul(b));
    match (rows, cols) {
        (Some(r), Some(c)) if r.checked_mul(c).is_some() => [r, c],
        _ => panic!(
            "{op}: the column matrix of images {} with a {}×{} window has more elements than \
             fit in memory",
            fmt_shape(shape),
            window.kernel,
            window.kernel
        ),
    }
}

impl Tensor {
    /// im2col: the (k·k·C, N·Ho·Wo) matrix of every window position of the (N, C, H, W)
    /// images `self` — row (kh, kw, c), column (n, ho, wo) holds
    /// `self[n, c, ho·s + kh·d − p, wo·s + kw·d − p]`, zero in the padding — so that a
    /// convolution with weights `w` of shape (C_out, k·k·C) is `w.matmul(&cols)`. Its
    /// gradient is [`col2im`](Tensor::col2im).
    ///
    /// ```
    /// use needle_core::{op::Window, Tensor};
    /// let x = Tensor::from_vec((1..=4).map(|v| v as f32).collect(), &[1, 1, 2, 2]);
    /// let w = Window { kernel: 2, stride: 1, padding: 1, dilation: 1 };
    /// let cols = x.im2col(w); // 4 taps × 9 positions
    /// assert_eq!(cols.shape(), vec![4, 9]);
    /// // Tap (0, 0) sees the image shifted down and right by one.
    /// assert_eq!(cols.to_vec()[..9], [0.0, 0.0, 0.0, 0.0, 1.0, 2.0, 0.0, 3.0, 4.0]);
    /// ```
    #[track_caller]
    pub fn im2col(&self, window: Window) -> Tensor {
        if self.dtype() != DType::F32 {
            panic!("im2col: images must be f32, got {}", self.dtype());
        }
        let shape = columns_shape("im2col", window, &self.shape());
        Tensor::record(
            Op::Im2col(window),
            smallvec![self.node()],
            Dims::from_slice(&shape),
            DType::F32,
        )
    }

    /// col2im, the adjoint of [`im2col`](Tensor::im2col): from a (k·k·C, N·Ho·Wo) matrix,
    /// the (N, C, H, W) tensor of `shape` whose every element is the sum (taps in (kh, kw)
    /// order) of the entries im2col would copy from it. Its gradient is im2col.
    ///
    /// ```
    /// use needle_core::{op::Window, Tensor};
    /// let w = Window { kernel: 2, stride: 1, padding: 0, dilation: 1 };
    /// let ones = Tensor::ones(&[4, 4]); // 4 taps × 2·2 positions over a 3×3 image
    /// // How many windows cover each pixel.
    /// let counts = ones.col2im(w, &[1, 1, 3, 3]);
    /// assert_eq!(counts.to_vec(), vec![1.0, 2.0, 1.0, 2.0, 4.0, 2.0, 1.0, 2.0, 1.0]);
    /// ```
    #[track_caller]
    pub fn col2im(&self, window: Window, shape: &[usize]) -> Tensor {
        if self.dtype() != DType::F32 {
            panic!("col2im: columns must be f32, got {}", self.dtype());
        }
        let expected = columns_shape("col2im", window, shape);
        if self.shape()[..] != expected {
            panic!(
                "col2im: columns of shape {} for images {} (expected {})",
                fmt_shape(&self.shape()),
                fmt_shape(shape),
                fmt_shape(&expected)
            );
        }
        Tensor::record(
            Op::Col2im(window),
            smallvec![self.node()],
            Dims::from_slice(shape),
            DType::F32,
        )
    }
}
