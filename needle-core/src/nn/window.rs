//! The sliding-window geometry shared by convolution and pooling ([`Window`], defined with the
//! window ops in `op/window.rs`): the checks on NCHW input, and the strided views that pick
//! each kernel offset's elements.

use crate::dtype::DType;
use crate::shape::fmt_shape;
use crate::tensor::Tensor;

pub(crate) use crate::op::Window;

impl Window {
    /// A pooling layer's window — `kernel`×`kernel`, `stride` apart, no padding or dilation —
    /// after checking both are positive (`layer` names the layer in the message).
    #[track_caller]
    pub(crate) fn pooling(layer: &str, kernel: usize, stride: usize) -> Window {
        assert!(
            kernel > 0 && stride > 0,
            "{layer}: kernel_size ({kernel}) and stride ({stride}) must be positive"
        );
        Window {
            kernel,
            stride,
            padding: 0,
            dilation: 1,
        }
    }

    /// The k·k tap views of a pooling layer's NCHW input `x` (checked as [`Window::check_nchw`]
    /// does, `layer` naming the layer), each of the output's shape.
    #[track_caller]
    pub(crate) fn pooling_taps(&self, layer: &str, x: &Tensor) -> Vec<Tensor> {
        let out = self.check_nchw(layer, &x.shape(), x.dtype(), None);
        self.tap_views(x, 2, out)
    }

    /// Panics at the caller's line unless an input of this `shape` and `dtype` is f32 NCHW
    /// with `channels` channels (when given) and room for the window; `layer` names the layer
    /// in the message. Returns the output's (H, W).
    #[track_caller]
    pub(crate) fn check_nchw(
        &self,
        layer: &str,
        shape: &[usize],
        dtype: DType,
        channels: Option<usize>,
    ) -> (usize, usize) {
        if dtype != DType::F32 {
            panic!(
                "{layer}: input must be f32, got {dtype} {} (convert with .to_f32())",
                fmt_shape(shape)
            );
        }
        if shape.len() != 4 {
            panic!(
                "{layer}: input must have 4 axes (N, C, H, W), got shape {}",
                fmt_shape(shape)
            );
        }
        if let Some(c) = channels.filter(|&c| c != shape[1]) {
            panic!(
                "{layer}: input {} has {} channels on axis 1, expected {c}",
                fmt_shape(shape),
                shape[1]
            );
        }
        match (self.output_size(shape[2]), self.output_size(shape[3])) {
            (Some(h), Some(w)) => (h, w),
            _ => panic!(
                "{layer}: input {} is too small for a window spanning {} (kernel {}, dilation \
                 {}) with padding {}",
                fmt_shape(shape),
                self.span(),
                self.kernel,
                self.dilation,
                self.padding
            ),
        }
    }

    /// For each kernel offset (kh, kw) in row-major order, the view of `padded` holding the
    /// elements that tap meets at every output position: a stepped slice (no copy) of the
    /// spatial axes `h_axis` and `h_axis + 1`, of size (Ho, Wo) there.
    #[track_caller]
    pub(crate) fn tap_views(
        &self,
        padded: &Tensor,
        h_axis: usize,
        out: (usize, usize),
    ) -> Vec<Tensor> {
        let shape = padded.shape();
        let mut views = Vec::with_capacity(self.kernel * self.kernel);
        for kh in 0..self.kernel {
            for kw in 0..self.kernel {
                let mut starts = vec![0; shape.len()];
                let mut steps = vec![1; shape.len()];
                let mut sizes = shape.clone();
                starts[h_axis] = kh * self.dilation;
                starts[h_axis + 1] = kw * self.dilation;
                steps[h_axis] = self.stride;
                steps[h_axis + 1] = self.stride;
                sizes[h_axis] = out.0;
                sizes[h_axis + 1] = out.1;
                views.push(padded.slice_multi(starts, steps, sizes));
            }
        }
        views
    }
}
