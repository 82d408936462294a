//! Binary ops: IEEE arithmetic as instructions; maximum, mask and the comparisons as
//! compare-and-select with the interpreter's NaN rules. [`float_cc`] is the JIT's one
//! mapping of a comparison to a Cranelift condition.

use cranelift_codegen::ir::condcodes::FloatCC;
use cranelift_codegen::ir::{InstBuilder, Value};
use needle_core::op::{BinaryOp, Comparison};

use crate::codegen::emitter::Emitter;

impl Emitter<'_, '_> {
    /// `op` on one element of each operand.
    pub(super) fn scalar_binary(&mut self, op: BinaryOp, x: Value, y: Value) -> Value {
        let b = &mut self.b;
        let mask = |b: &mut cranelift_frontend::FunctionBuilder, cc: FloatCC| {
            let c = b.ins().fcmp(cc, x, y);
            let one = b.ins().f32const(1.0);
            let zero = b.ins().f32const(0.0);
            b.ins().select(c, one, zero)
        };
        match op {
            BinaryOp::Add => b.ins().fadd(x, y),
            BinaryOp::Sub => b.ins().fsub(x, y),
            BinaryOp::Mul => b.ins().fmul(x, y),
            BinaryOp::Div => b.ins().fdiv(x, y),
            BinaryOp::Max => {
                // The interpreter's `if x is NaN or x > y { x } else { y }`.
                let nan = b.ins().fcmp(FloatCC::Unordered, x, x);
                let gt = b.ins().fcmp(FloatCC::GreaterThan, x, y);
                let c = b.ins().bor(nan, gt);
                b.ins().select(c, x, y)
            }
            BinaryOp::Mask => {
                // The interpreter's `if y != 0 { x } else { 0 }` (NaN ≠ 0: kept).
                let zero = b.ins().f32const(0.0);
                let keep = b.ins().fcmp(FloatCC::NotEqual, y, zero);
                b.ins().select(keep, x, zero)
            }
            other => mask(b, float_cc(comparison_of(other))),
        }
    }

    /// `op` on four lanes of each operand.
    pub(super) fn vector_binary(&mut self, op: BinaryOp, x: Value, y: Value) -> Value {
        match op {
            BinaryOp::Add => self.b.ins().fadd(x, y),
            BinaryOp::Sub => self.b.ins().fsub(x, y),
            BinaryOp::Mul => self.b.ins().fmul(x, y),
            BinaryOp::Div => self.b.ins().fdiv(x, y),
            BinaryOp::Max => {
                let nan = self.b.ins().fcmp(FloatCC::Unordered, x, x);
                let gt = self.b.ins().fcmp(FloatCC::GreaterThan, x, y);
                let c = self.b.ins().bor(nan, gt);
                self.vselect(c, x, y)
            }
            BinaryOp::Mask => {
                let zero = self.splat(0.0);
                let keep = self.b.ins().fcmp(FloatCC::NotEqual, y, zero);
                self.vselect(keep, x, zero)
            }
            other => {
                let c = self.b.ins().fcmp(float_cc(comparison_of(other)), x, y);
                let (one, zero) = (self.splat(1.0), self.splat(0.0));
                self.vselect(c, one, zero)
            }
        }
    }
}

/// The comparison a binary op the arithmetic arms above did not lower computes.
fn comparison_of(op: BinaryOp) -> Comparison {
    op.comparison()
        .unwrap_or_else(|| unreachable!("{op:?} is arithmetic, lowered by its own arm"))
}

/// The Cranelift condition of needle-core's [`Comparison`] (ordered: `Gt` is false when either
/// operand is NaN, as [`Comparison::holds`] says; `Ne` is true then).
pub fn float_cc(comparison: Comparison) -> FloatCC {
    match comparison {
        Comparison::Eq => FloatCC::Equal,
        Comparison::Ne => FloatCC::NotEqual,
        Comparison::Gt => FloatCC::GreaterThan,
        Comparison::Ge => FloatCC::GreaterThanOrEqual,
        Comparison::Lt => FloatCC::LessThan,
        Comparison::Le => FloatCC::LessThanOrEqual,
    }
}
