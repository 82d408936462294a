//! Unary ops: negation, square root, absolute value and relu as instructions (relu keeps NaN, as the
//! interpreter's `maximum(x, 0)`); the transcendental ones call the interpreter's scalar
//! functions (see [`super::Emitter::helper_of`]).

use cranelift_codegen::ir::condcodes::FloatCC;
use cranelift_codegen::ir::{InstBuilder, Value};
use needle_core::op::UnaryOp;

use crate::codegen::emitter::Emitter;

impl Emitter<'_, '_> {
    /// `op` on one element.
    pub(super) fn scalar_unary(&mut self, op: UnaryOp, x: Value) -> Value {
        match op {
            UnaryOp::Neg => self.b.ins().fneg(x),
            UnaryOp::Sqrt => self.b.ins().sqrt(x),
            // Clears the sign bit, as f32::abs.
            UnaryOp::Abs => self.b.ins().fabs(x),
            UnaryOp::Relu => {
                // NaN is kept, as in the interpreter (numpy's maximum(x, 0)).
                let zero = self.b.ins().f32const(0.0);
                let keep = self.b.ins().fcmp(FloatCC::UnorderedOrGreaterThan, x, zero);
                self.b.ins().select(keep, x, zero)
            }
            _ => unreachable!("transcendental ops call helpers"),
        }
    }

    /// `op` on four lanes.
    pub(super) fn vector_unary(&mut self, op: UnaryOp, x: Value) -> Value {
        match op {
            UnaryOp::Neg => self.b.ins().fneg(x),
            UnaryOp::Sqrt => self.b.ins().sqrt(x),
            UnaryOp::Abs => self.b.ins().fabs(x),
            UnaryOp::Relu => {
                let zero = self.splat(0.0);
                let keep = self.b.ins().fcmp(FloatCC::UnorderedOrGreaterThan, x, zero);
                self.vselect(keep, x, zero)
            }
            _ => unreachable!("transcendental ops run per lane"),
        }
    }
}
