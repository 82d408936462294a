//! The pieces of a compiled program: how a kernel reads a buffer ([`Access`]) and the fused
//! elementwise expression it evaluates per element ([`Kernel`]).

use needle_core::op::{BinaryOp, Op, ScalarOp, UnaryOp};

/// One operation of a fused expression, in evaluation order (operands refer to earlier entries
/// by index).
#[derive(Clone, Debug, PartialEq)]
pub enum Expr {
    /// Load kernel input `i` (see [`Kernel::inputs`]) at the current index.
    Input(usize),
    /// Unary function of an earlier entry.
    Unary(UnaryOp, usize),
    /// Function of an earlier entry and a constant.
    Scalar(ScalarOp, f32, usize),
    /// Binary function of two earlier entries.
    Binary(BinaryOp, usize, usize),
}

impl Expr {
    /// The graph op this entry computes (`None` for loads).
    pub fn op(&self) -> Option<Op> {
        match *self {
            Expr::Input(_) => None,
            Expr::Unary(u, _) => Some(Op::Unary(u)),
            Expr::Scalar(s, c, _) => Some(Op::Scalar(s, c)),
            Expr::Binary(b, _, _) => Some(Op::Binary(b)),
        }
    }
}

/// How generated code addresses a value inside a buffer slot of the program: element
/// `slot_offset + offset + Σ index[i]·strides[i]`, where `slot_offset` is the slot's runtime
/// offset (non-zero only for views handed in by the caller).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Access {
    /// The program's buffer slot.
    pub slot: usize,
    /// Stride per axis of the reading loop, in elements (0 on broadcast axes, negative when
    /// flipped).
    pub strides: Vec<isize>,
    /// Element offset relative to the slot's own offset.
    pub offset: isize,
}

/// A fused elementwise computation over `shape`: the expression is evaluated for every index
/// of the shape, reading each input through its [`Access`].
#[derive(Clone, Debug, PartialEq)]
pub struct Kernel {
    /// Iteration shape (for an elementwise step, the output's; for a reduction, its input's).
    pub shape: Vec<usize>,
    /// The buffers read, with one stride per axis of `shape`.
    pub inputs: Vec<Access>,
    /// The expression; the last entry is the result.
    pub exprs: Vec<Expr>,
}

impl Kernel {
    /// The ops of the expression, comma-separated (for debug output).
    pub fn ops(&self) -> String {
        let ops: Vec<String> = self
            .exprs
            .iter()
            .filter_map(|e| e.op().map(|o| o.name()))
            .collect();
        if ops.is_empty() {
            "copy".into()
        } else {
            ops.join(",")
        }
    }

    /// Merges neighbouring axes that every input walks as one run, and drops size-1 axes, so
    /// most kernels become one flat loop. The output is compact, so its axes always merge.
    /// Only for elementwise kernels: a reduction's row structure fixes its summation order.
    pub fn collapsed(mut self) -> Kernel {
        let mut shape: Vec<usize> = Vec::new();
        let mut strides: Vec<Vec<isize>> = vec![Vec::new(); self.inputs.len()];
        for (axis, &size) in self.shape.iter().enumerate() {
            if size == 1 {
                continue;
            }
            let mergeable = !shape.is_empty()
                && self.inputs.iter().zip(&strides).all(|(a, acc)| {
                    *acc.last().expect("same length") == a.strides[axis] * size as isize
                });
            if mergeable {
                *shape.last_mut().expect("non-empty") *= size;
                for (a, acc) in self.inputs.iter().zip(strides.iter_mut()) {
                    *acc.last_mut().expect("non-empty") = a.strides[axis];
                }
            } else {
                shape.push(size);
                for (a, acc) in self.inputs.iter().zip(strides.iter_mut()) {
                    acc.push(a.strides[axis]);
                }
            }
        }
        if self.shape.contains(&0) {
            shape = vec![0];
            strides = vec![vec![0]; self.inputs.len()];
        }
        for (a, s) in self.inputs.iter_mut().zip(strides) {
            a.strides = s;
        }
        self.shape = shape;
        self
    }
}
