//! The primitive operations a graph node can hold, by family.
//!
//! The set is kept small on purpose: composite ops (softmax, logsumexp, norms, losses) are
//! functions of these, so backends (interpreter, JIT) only implement this list.
//!
//! Each family has one file per layer, named after it: the op's definition and reference
//! maths here (`op/unary.rs`: one line per op giving its name and f32 function), its gradient
//! rules in `autodiff/<family>.rs`, its interpreter kernel in `interp/<family>.rs` and its
//! `Tensor` methods in `ops/<family>.rs`. The families: `unary`, `scalar` (a tensor and a
//! constant), `binary`, `reduce`, `matmul` and `movement` (reshape, permute, expand, slice,
//! flip, pad, concat, cast, gather, scatter_add) and `window` (im2col and its adjoint
//! col2im, with the [`Window`] they slide); `matmul`, `movement` and `window` have no enum
//! of their own, their ops are variants of [`Op`], as is [`Op::Cumsum`] (a scan: kernel in
//! `interp/cumsum.rs`, gradient in `autodiff/reduce.rs`, method in `ops/reduce.rs`). The
//! comparisons of the binary and scalar families share [`Comparison`].
//!
//! Adding an op to a family with a table (`unary`, `scalar`, `binary`): its line in the
//! table (the interpreter's kernel follows from it, through [`UnaryKernel`] or
//! [`BinaryKernel`]), its rule in `autodiff/<family>.rs`, its `Tensor` method in
//! `ops/<family>.rs`, its lowering in needle-jit, and its case in `tests/op_coverage.rs` —
//! each match that must handle it fails to compile until it does.

#[macro_use]
mod table;
mod binary;
mod compare;
mod reduce;
mod scalar;
mod unary;
mod window;

pub use binary::BinaryOp;
pub use compare::Comparison;
pub use reduce::ReduceOp;
pub use scalar::ScalarOp;
pub use table::{BinaryKernel, UnaryKernel};
pub use unary::UnaryOp;
pub use window::Window;

use crate::dtype::DType;

/// A node's operation. The node's own shape completes the description (e.g. the target shape
/// of `Reshape` and `Expand`, the sizes of `Slice`).
#[derive(Clone, Debug, PartialEq)]
pub enum Op {
    /// Data with no computation: realized, or (one input) the pending value assigned to a
    /// variable. Gradients stop here.
    Leaf,
    /// Elementwise unary function.
    Unary(UnaryOp),
    /// Elementwise function with a constant.
    Scalar(ScalarOp, f32),
    /// Elementwise binary function of equal shapes.
    Binary(BinaryOp),
    /// Reduction over the listed axes, kept with size 1.
    Reduce(ReduceOp, Vec<usize>),
    /// `[..., m, k] @ [..., k, n]` with identical batch axes.
    MatMul,
    /// Same elements, new shape (a view when the layout allows it).
    Reshape,
    /// Axis `i` of the output is axis `perm[i]` of the input (a view).
    Permute(Vec<usize>),
    /// NumPy broadcast to the node's shape (a view with stride 0).
    Expand,
    /// Per axis: start and step; sizes are the node's shape (a view).
    Slice {
        /// First index taken on each axis.
        starts: Vec<usize>,
        /// Step on each axis (≥ 1).
        steps: Vec<usize>,
    },
    /// Reverse along the listed axes (a view with negative strides).
    Flip(Vec<usize>),
    /// Zero padding per axis: (before, after, interior) — interior inserts that many zeros
    /// between neighbours (dilation), which makes it the exact adjoint of a stepped slice.
    Pad(Vec<(usize, usize, usize)>),
    /// Concatenation of all inputs along an axis.
    Concat(usize),
    /// Element type conversion.
    Cast(DType),
    /// `torch.gather` along an axis: inputs (f32 data, i64 index); the output has the
    /// index's shape and takes, at each position, the data element whose coordinate on the
    /// axis is the index's value there (its other coordinates the position's own).
    Gather(usize),
    /// The adjoint of [`Op::Gather`]: inputs (i64 index, f32 values of the index's shape);
    /// the output (the node's shape) is zeros with each value added at the position
    /// `Gather` would read it from, in the index's row-major order.
    ScatterAdd(usize),
    /// Running sum along an axis, accumulated in f32 in order (numpy's `cumsum`).
    Cumsum(usize),
    /// im2col: (N, C, H, W) data → the (k·k·C, N·Ho·Wo) matrix whose row (kh, kw, c) and
    /// column (n, ho, wo) holds `x[n, c, ho·s + kh·d − p, wo·s + kw·d − p]` (zero where that
    /// falls in the padding), so that a convolution is one matrix product.
    Im2col(Window),
    /// col2im, the adjoint of [`Op::Im2col`]: a (k·k·C, N·Ho·Wo) matrix → the node's shape
    /// (N, C, H, W), each element the sum, in (kh, kw) order, of the entries im2col would
    /// have copied from it.
    Col2im(Window),
}

/// A scalar constant as debug output and messages print it: the shortest digits that read
/// back as the same f32, positional for ordinary magnitudes (`0.5`, `2`, `0.1`) and in
/// scientific notation where positional would be long (`-3.4028235e38` rather than
/// `-340282350000000000000000000000000000000`, `1e-8` rather than `0.00000001`). The
/// thresholds are those of Rust's `{:?}` for floats, without its `.0` on whole numbers.
///
/// ```
/// use needle_core::op::fmt_constant;
/// assert_eq!(fmt_constant(f32::MIN), "-3.4028235e38");
/// assert_eq!(fmt_constant(0.1), "0.1");
/// assert_eq!(fmt_constant(2.0), "2");
/// ```
pub fn fmt_constant(c: f32) -> String {
    let magnitude = c.abs();
    if magnitude.is_finite() && magnitude != 0.0 && !(1e-4..1e16).contains(&magnitude) {
        format!("{c:e}")
    } else {
        format!("{c}")
    }
}

impl Op {
    /// A short name for messages and debug output, with the op's constant or axes
    /// (`mul_scalar(0.5)`, `sum[1]`).
    pub fn name(&self) -> String {
        match self {
            Op::Scalar(s, c) => format!("{}({})", s.name(), fmt_constant(*c)),
            Op::Reduce(r, axes) => format!("{}{axes:?}", r.name()),
            Op::Permute(p) => format!("permute{p:?}"),
            Op::Flip(a) => format!("flip{a:?}"),
            Op::Concat(a) => format!("concat({a})"),
            Op::Cast(d) => format!("cast({d})"),
            Op::Gather(a) => format!("gather({a})"),
            Op::ScatterAdd(a) => format!("scatter_add({a})"),
            Op::Cumsum(a) => format!("cumsum({a})"),
            Op::Im2col(w) | Op::Col2im(w) => format!(
                "{}(k={}, s={}, p={}, d={})",
                self.kind(),
                w.kernel,
                w.stride,
                w.padding,
                w.dilation
            ),
            _ => self.kind().to_string(),
        }
    }

    /// The op's name without its constant, axes or arguments (`mul_scalar`, `sum`, `matmul`):
    /// what gradient nodes name as the forward op they differentiate.
    pub fn kind(&self) -> &'static str {
        match self {
            Op::Leaf => "leaf",
            Op::Unary(u) => u.name(),
            Op::Scalar(s, _) => s.name(),
            Op::Binary(b) => b.name(),
            Op::Reduce(r, _) => r.name(),
            Op::MatMul => "matmul",
            Op::Reshape => "reshape",
            Op::Permute(_) => "permute",
            Op::Expand => "broadcast_to",
            Op::Slice { .. } => "slice",
            Op::Flip(_) => "flip",
            Op::Pad(_) => "pad",
            Op::Concat(_) => "concat",
            Op::Cast(_) => "cast",
            Op::Gather(_) => "gather",
            Op::ScatterAdd(_) => "scatter_add",
            Op::Cumsum(_) => "cumsum",
            Op::Im2col(_) => "im2col",
            Op::Col2im(_) => "col2im",
        }
    }

    /// Movement ops whose result can share the input's buffer.
    pub fn is_view(&self) -> bool {
        matches!(
            self,
            Op::Reshape | Op::Permute(_) | Op::Expand | Op::Slice { .. } | Op::Flip(_)
        )
    }

    /// Whether a node of this op with `num_inputs` inputs attached denotes its first input's
    /// data without computing anything: a view, or a leaf standing for a pending value (a
    /// variable's assignment, a detached result). Such a node shares its input's buffer once
    /// that is realized.
    pub fn aliases_input(&self, num_inputs: usize) -> bool {
        self.is_view() || self.is_pending_assignment(num_inputs)
    }

    /// Whether a node of this op with `num_inputs` inputs is a pending assignment: a
    /// variable's new value, a leaf whose one input computes it.
    pub fn is_pending_assignment(&self, num_inputs: usize) -> bool {
        *self == Op::Leaf && num_inputs == 1
    }

    /// Whether gradients flow through this op: comparisons (0/1 masks, flat almost
    /// everywhere) and casts (to integers, or identity) have none.
    pub fn is_differentiable(&self) -> bool {
        match self {
            Op::Binary(b) => !b.is_comparison(),
            Op::Scalar(s, _) => !s.is_comparison(),
            Op::Cast(_) => false,
            _ => true,
        }
    }
}
