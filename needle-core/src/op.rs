//! The primitive operations a graph node can hold.
//!
//! The set is kept small on purpose: composite ops (softmax, logsumexp, norms, losses) are
//! functions of these, so backends (interpreter, JIT) only implement this list.

use crate::dtype::DType;

/// Elementwise functions of one input.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum UnaryOp {
    /// −x
    Neg,
    /// eˣ
    Exp,
    /// ln x
    Log,
    /// √x
    Sqrt,
    /// max(x, 0)
    Relu,
    /// tanh x
    Tanh,
    /// 1 / (1 + e⁻ˣ)
    Sigmoid,
    /// sin x
    Sin,
    /// cos x
    Cos,
}

/// Elementwise functions of a tensor and a constant scalar `c` baked into the op.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ScalarOp {
    /// x + c
    Add,
    /// x · c
    Mul,
    /// x / c
    Div,
    /// c / x
    RDiv,
    /// xᶜ
    Pow,
    /// max(x, c)
    Max,
    /// 1 if x == c else 0
    Eq,
    /// 1 if x != c else 0
    Ne,
    /// 1 if x > c else 0
    Gt,
    /// 1 if x >= c else 0
    Ge,
    /// 1 if x < c else 0
    Lt,
    /// 1 if x <= c else 0
    Le,
}

/// Elementwise functions of two equally shaped inputs (broadcasts are explicit views).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum BinaryOp {
    /// a + b
    Add,
    /// a − b
    Sub,
    /// a · b
    Mul,
    /// a / b
    Div,
    /// max(a, b)
    Max,
    /// a where b ≠ 0, else 0 (`torch.where(b, a, 0)`): unlike `a · b`, a masked-out
    /// infinity or NaN gives 0.
    Mask,
    /// 1 if a == b else 0
    Eq,
    /// 1 if a != b else 0
    Ne,
    /// 1 if a > b else 0
    Gt,
    /// 1 if a >= b else 0
    Ge,
    /// 1 if a < b else 0
    Lt,
    /// 1 if a <= b else 0
    Le,
}

impl BinaryOp {
    /// Comparisons produce 0/1 masks and have no gradient.
    pub fn is_comparison(self) -> bool {
        !matches!(
            self,
            BinaryOp::Add
                | BinaryOp::Sub
                | BinaryOp::Mul
                | BinaryOp::Div
                | BinaryOp::Max
                | BinaryOp::Mask
        )
    }
}

impl ScalarOp {
    /// Comparisons produce 0/1 masks and have no gradient.
    pub fn is_comparison(self) -> bool {
        matches!(
            self,
            ScalarOp::Eq | ScalarOp::Ne | ScalarOp::Gt | ScalarOp::Ge | ScalarOp::Lt | ScalarOp::Le
        )
    }
}

/// Reductions over a set of axes (the output keeps them with size 1).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ReduceOp {
    /// Σ
    Sum,
    /// max
    Max,
}

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
}

impl UnaryOp {
    /// The op's name in messages and debug output.
    pub fn name(self) -> &'static str {
        match self {
            UnaryOp::Neg => "neg",
            UnaryOp::Exp => "exp",
            UnaryOp::Log => "log",
            UnaryOp::Sqrt => "sqrt",
            UnaryOp::Relu => "relu",
            UnaryOp::Tanh => "tanh",
            UnaryOp::Sigmoid => "sigmoid",
            UnaryOp::Sin => "sin",
            UnaryOp::Cos => "cos",
        }
    }
}

impl ScalarOp {
    /// The op's name in messages and debug output, without its constant (`mul_scalar`).
    pub fn name(self) -> &'static str {
        match self {
            ScalarOp::Add => "add_scalar",
            ScalarOp::Mul => "mul_scalar",
            ScalarOp::Div => "div_scalar",
            ScalarOp::RDiv => "rdiv_scalar",
            ScalarOp::Pow => "pow_scalar",
            ScalarOp::Max => "max_scalar",
            ScalarOp::Eq => "eq_scalar",
            ScalarOp::Ne => "ne_scalar",
            ScalarOp::Gt => "gt_scalar",
            ScalarOp::Ge => "ge_scalar",
            ScalarOp::Lt => "lt_scalar",
            ScalarOp::Le => "le_scalar",
        }
    }
}

impl BinaryOp {
    /// The op's name in messages and debug output.
    pub fn name(self) -> &'static str {
        match self {
            BinaryOp::Add => "add",
            BinaryOp::Sub => "sub",
            BinaryOp::Mul => "mul",
            BinaryOp::Div => "div",
            BinaryOp::Max => "max",
            BinaryOp::Mask => "mask",
            BinaryOp::Eq => "eq",
            BinaryOp::Ne => "ne",
            BinaryOp::Gt => "gt",
            BinaryOp::Ge => "ge",
            BinaryOp::Lt => "lt",
            BinaryOp::Le => "le",
        }
    }
}

impl ReduceOp {
    /// The op's name in messages and debug output.
    pub fn name(self) -> &'static str {
        match self {
            ReduceOp::Sum => "sum",
            ReduceOp::Max => "max",
        }
    }
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
        }
    }

    /// Movement ops whose result can share the input's buffer.
    pub fn is_view(&self) -> bool {
        matches!(
            self,
            Op::Reshape | Op::Permute(_) | Op::Expand | Op::Slice { .. } | Op::Flip(_)
        )
    }
}
