//! A fused elementwise kernel: an expression tree over strided inputs, computed for every
//! element of the output shape in one loop nest.

use needle_core::op::{BinaryOp, Op, ScalarOp, UnaryOp};

/// One operation of the fused expression, in evaluation order (operands refer to earlier
/// entries by index).
#[derive(Clone, Debug, PartialEq)]
pub enum Expr {
    /// Load input `slot` at the current index.
    Input(usize),
    /// Unary function of an earlier entry.
    Unary(UnaryOp, usize),
    /// Function of an earlier entry and a constant.
    Scalar(ScalarOp, f32, usize),
    /// Binary function of two earlier entries.
    Binary(BinaryOp, usize, usize),
}

/// How a kernel reads one input: strides (elements) per output axis.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct InputLayout {
    /// Stride of the input along each output axis (0 for broadcast axes).
    pub strides: Vec<isize>,
}

/// A fused elementwise kernel: what is compiled and cached.
#[derive(Clone, Debug, PartialEq)]
pub struct Kernel {
    /// Output shape (the output is written compact, row-major).
    pub shape: Vec<usize>,
    /// The inputs' access patterns, by slot.
    pub inputs: Vec<InputLayout>,
    /// The expression; the last entry is the output.
    pub exprs: Vec<Expr>,
}

impl Kernel {
    /// A structural key: equal keys compile to the same code. Constants enter by their bits,
    /// input data by slot only (never by value).
    pub fn key(&self) -> Vec<u64> {
        let mut k = vec![self.shape.len() as u64];
        k.extend(self.shape.iter().map(|&d| d as u64));
        k.push(self.inputs.len() as u64);
        for input in &self.inputs {
            k.extend(input.strides.iter().map(|&s| s as u64));
        }
        for e in &self.exprs {
            match e {
                Expr::Input(s) => k.extend([1, *s as u64]),
                Expr::Unary(u, a) => k.extend([2, *u as u64, *a as u64]),
                Expr::Scalar(s, c, a) => k.extend([3, *s as u64, c.to_bits() as u64, *a as u64]),
                Expr::Binary(b, x, y) => k.extend([4, *b as u64, *x as u64, *y as u64]),
            }
        }
        k
    }

    /// A short human-readable description for debug output.
    pub fn describe(&self) -> String {
        let ops: Vec<String> = self
            .exprs
            .iter()
            .filter_map(|e| match e {
                Expr::Input(_) => None,
                Expr::Unary(u, _) => Some(Op::Unary(*u).name()),
                Expr::Scalar(s, c, _) => Some(Op::Scalar(*s, *c).name()),
                Expr::Binary(b, _, _) => Some(Op::Binary(*b).name()),
            })
            .collect();
        format!(
            "fused[{}] {:?} ({} inputs)",
            ops.join(","),
            self.shape,
            self.inputs.len()
        )
    }
}
