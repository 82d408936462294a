//! Ops with a constant (`x + c`, `c / x`, `x > c`, ...): the constant as the right operand of
//! the binary op of the same name, except `RDiv` (the constant on the left) and `Pow` (a host
//! helper).

use cranelift_codegen::ir::{InstBuilder, Value};
use needle_core::op::{BinaryOp, ScalarOp};

use crate::codegen::emitter::Emitter;

impl Emitter<'_, '_> {
    /// `op` with constant `c` on one element.
    pub(super) fn scalar_with_constant(&mut self, op: ScalarOp, c: f32, x: Value) -> Value {
        let k = self.b.ins().f32const(c);
        match op {
            ScalarOp::RDiv => self.b.ins().fdiv(k, x),
            _ => self.scalar_binary(scalar_as_binary(op), x, k),
        }
    }

    /// `op` with constant `c` on four lanes.
    pub(super) fn vector_with_constant(&mut self, op: ScalarOp, c: f32, x: Value) -> Value {
        let k = self.splat(c);
        match op {
            ScalarOp::RDiv => self.b.ins().fdiv(k, x),
            _ => self.vector_binary(scalar_as_binary(op), x, k),
        }
    }
}

/// The binary op a scalar op applies with the constant as right operand (all but `RDiv` and
/// `Pow`, which are handled separately).
pub(super) fn scalar_as_binary(op: ScalarOp) -> BinaryOp {
    match op {
        ScalarOp::Add => BinaryOp::Add,
        ScalarOp::Mul => BinaryOp::Mul,
        ScalarOp::Div => BinaryOp::Div,
        ScalarOp::Max => BinaryOp::Max,
        ScalarOp::Eq => BinaryOp::Eq,
        ScalarOp::Ne => BinaryOp::Ne,
        ScalarOp::Gt => BinaryOp::Gt,
        ScalarOp::Ge => BinaryOp::Ge,
        ScalarOp::Lt => BinaryOp::Lt,
        ScalarOp::Le => BinaryOp::Le,
        ScalarOp::RDiv | ScalarOp::Pow => unreachable!("handled by the caller"),
    }
}
