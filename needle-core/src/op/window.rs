//! The window family: [`Op::Im2col`](super::Op::Im2col) lays out every position of a sliding
//! window over NCHW data as one column of a matrix, so that a convolution is one matrix
//! product; [`Op::Col2im`](super::Op::Col2im), its adjoint, adds such columns back into an
//! NCHW tensor. Kernels in `interp/window.rs` (the JIT calls the same functions), gradients
//! in `autodiff/window.rs`, methods in `ops/window.rs`.

/// A square window over the two spatial axes: kernel size, stride, zero padding on each side
/// and dilation (the spacing of the kernel's taps), with PyTorch's meaning.
///
/// ```
/// use needle_core::op::Window;
/// let w = Window { kernel: 3, stride: 2, padding: 1, dilation: 1 };
/// assert_eq!(w.output_size(28), Some(14));
/// assert_eq!(w.output_size(0), None);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Window {
    /// Taps along each spatial axis.
    pub kernel: usize,
    /// Step between output positions.
    pub stride: usize,
    /// Zeros added before and after each spatial axis.
    pub padding: usize,
    /// Spacing of the taps (1: adjacent).
    pub dilation: usize,
}

impl Window {
    /// The span the kernel's taps cover: dilation·(kernel − 1) + 1.
    pub fn span(&self) -> usize {
        self.dilation * (self.kernel - 1) + 1
    }

    /// Output size along an axis of input size `size`: ⌊(size + 2p − span) / s⌋ + 1, or `None`
    /// when the padded input is smaller than the kernel's span.
    pub fn output_size(&self, size: usize) -> Option<usize> {
        let padded = size + 2 * self.padding;
        (padded >= self.span()).then(|| (padded - self.span()) / self.stride + 1)
    }

    /// For output positions `0..out` along an axis of input size `size`, the input coordinate
    /// tap `t` reads at position `o`, as `o·stride + first`, and the range of `o` for which it
    /// lies inside the input (outside it, the padding reads zero).
    pub fn tap_range(&self, t: usize, size: usize, out: usize) -> (isize, std::ops::Range<usize>) {
        let first = (t * self.dilation) as isize - self.padding as isize;
        let s = self.stride as isize;
        // Smallest o with o·s + first ≥ 0, and the first o with o·s + first ≥ size.
        let lo = if first >= 0 { 0 } else { (-first + s - 1) / s };
        let hi = ((size as isize - first + s - 1) / s).max(0);
        let lo = (lo as usize).min(out);
        (first, lo..(hi as usize).clamp(lo, out))
    }
}
