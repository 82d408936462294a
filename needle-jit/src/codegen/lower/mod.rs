//! Lowering of fused expressions, op family by op family: one element (scalar f32) or four consecutive elements (f32x4) at a time.
//!
//! Every op has exactly the interpreter's semantics: IEEE arithmetic and sqrt are exact in
//! both forms; relu, maximum and the comparison masks use compare-and-select with the
//! interpreter's NaN rules; transcendental functions call the interpreter's own scalar
//! functions (once per lane in vector code), so results are bit-identical to eager mode.
//!
//! [`unary`], [`scalar`] (an op with a constant) and [`binary`] each give the scalar and the
//! f32x4 lowering of their family; this module walks an expression and dispatches, and calls
//! the host helpers of transcendental ops (once per lane in vector code).

pub mod binary;
pub mod scalar;
pub mod unary;
pub mod vector;

use cranelift_codegen::ir::{types, InstBuilder, MemFlagsData, Value};
use needle_core::op::{BinaryOp, ScalarOp, UnaryOp};

use super::emitter::{Base, Emitter, RowInput};
use super::helpers;
use crate::schedule::{Expr, Kernel};
use scalar::scalar_as_binary;

/// Lanes of the vector loop.
pub const LANES: usize = 4;

/// True when the innermost loop can run f32x4: every input reads its innermost axis
/// contiguously or broadcast, and the axis is long enough to fill a vector.
pub fn vectorizable(kernel: &Kernel) -> bool {
    kernel.shape.last().is_some_and(|&n| n >= LANES)
        && kernel
            .inputs
            .iter()
            .all(|a| matches!(a.strides.last(), Some(0) | Some(1)))
}

/// The vector constants `kernel`'s expressions use (see [`Emitter::splat`]), with repeats.
pub fn vector_constants(kernel: &Kernel) -> Vec<f32> {
    let mut out = Vec::new();
    for e in &kernel.exprs {
        match *e {
            _ if Emitter::helper_of(e).is_some() => {}
            Expr::Unary(UnaryOp::Relu, _) => out.push(0.0),
            Expr::Scalar(ScalarOp::RDiv, c, _) => out.push(c),
            Expr::Scalar(op, c, _) => {
                out.push(c);
                if comparison_op(scalar_as_binary(op)) {
                    out.extend([1.0, 0.0]);
                }
            }
            Expr::Binary(op, _, _) if comparison_op(op) => out.extend([1.0, 0.0]),
            Expr::Binary(BinaryOp::Mask, _, _) => out.push(0.0),
            _ => {}
        }
    }
    out
}

/// Whether `op` is a comparison (its result a 1/0 mask): the core's one rule.
fn comparison_op(op: BinaryOp) -> bool {
    op.is_comparison()
}

impl Emitter<'_, '_> {
    /// Calls the helper `name`.
    pub(super) fn call(&mut self, name: &str, args: &[Value]) -> Value {
        let f = self
            .helpers
            .iter()
            .find(|(n, _)| *n == name)
            .expect("declared helper")
            .1;
        let inst = self.b.ins().call(f, args);
        self.b.inst_results(inst)[0]
    }

    /// The helper implementing a transcendental op, if `e` is one.
    fn helper_of(e: &Expr) -> Option<&'static str> {
        match e {
            Expr::Unary(op, _) => helpers::unary_helper(*op),
            Expr::Scalar(ScalarOp::Pow, _, _) => Some(helpers::POWF),
            _ => None,
        }
    }

    /// Every entry of the expression at `index` (one value per axis).
    pub(crate) fn scalar_expr(
        &mut self,
        kernel: &Kernel,
        bases: &[Base],
        index: &[Value],
    ) -> Vec<Value> {
        let mut values: Vec<Value> = Vec::with_capacity(kernel.exprs.len());
        for e in &kernel.exprs {
            let v = match *e {
                Expr::Input(i)
                    if self
                        .substitute
                        .is_some_and(|(s, _)| s == kernel.inputs[i].slot) =>
                {
                    self.substitute.expect("checked").1
                }
                Expr::Input(i) => match self.row_input(i) {
                    Some((RowInput::Invariant { scalar, .. }, _)) => scalar,
                    Some((RowInput::Pointer(ptr), offset)) => {
                        let addr = self.b.ins().iadd(ptr, offset);
                        self.b
                            .ins()
                            .load(types::F32, MemFlagsData::trusted(), addr, 0)
                    }
                    None => {
                        let strides = &kernel.inputs[i].strides;
                        let addr = self.address(&bases[i], index, strides, i as u64);
                        self.b
                            .ins()
                            .load(types::F32, MemFlagsData::trusted(), addr, 0)
                    }
                },
                _ => self.scalar_op(e, &values),
            };
            values.push(v);
        }
        values
    }

    fn scalar_op(&mut self, e: &Expr, values: &[Value]) -> Value {
        if let Some(name) = Self::helper_of(e) {
            return match *e {
                Expr::Scalar(_, c, a) => {
                    let k = self.b.ins().f32const(c);
                    self.call(name, &[values[a], k])
                }
                Expr::Unary(_, a) => self.call(name, &[values[a]]),
                _ => unreachable!(),
            };
        }
        match *e {
            Expr::Unary(op, a) => self.scalar_unary(op, values[a]),
            Expr::Scalar(op, c, a) => self.scalar_with_constant(op, c, values[a]),
            Expr::Binary(op, x, y) => self.scalar_binary(op, values[x], values[y]),
            Expr::Input(_) => unreachable!("loads are emitted by the caller"),
        }
    }

    /// Every entry of the expression at `index` and the three following elements of the
    /// innermost axis.
    pub(crate) fn vector_expr(
        &mut self,
        kernel: &Kernel,
        bases: &[Base],
        index: &[Value],
    ) -> Vec<Value> {
        let flags = MemFlagsData::new().with_notrap();
        let mut values: Vec<Value> = Vec::with_capacity(kernel.exprs.len());
        for e in &kernel.exprs {
            let v = match *e {
                Expr::Input(i) => match self.row_input(i) {
                    Some((RowInput::Invariant { vector, .. }, _)) => vector,
                    Some((RowInput::Pointer(ptr), offset)) => {
                        let addr = self.b.ins().iadd(ptr, offset);
                        self.b.ins().load(types::F32X4, flags, addr, 0)
                    }
                    None => self.vector_input(kernel, bases, index, i),
                },
                _ if Self::helper_of(e).is_some() => self.per_lane(e, &values),
                Expr::Unary(op, a) => self.vector_unary(op, values[a]),
                Expr::Scalar(op, c, a) => self.vector_with_constant(op, c, values[a]),
                Expr::Binary(op, x, y) => self.vector_binary(op, values[x], values[y]),
            };
            values.push(v);
        }
        values
    }

    /// Input `i` at `index` and the three following elements of the innermost axis.
    fn vector_input(
        &mut self,
        kernel: &Kernel,
        bases: &[Base],
        index: &[Value],
        i: usize,
    ) -> Value {
        let flags = MemFlagsData::new().with_notrap();
        let strides = &kernel.inputs[i].strides;
        let addr = self.address(&bases[i], index, strides, i as u64);
        if strides.last() == Some(&0) {
            let x = self.b.ins().load(types::F32, flags, addr, 0);
            self.b.ins().splat(types::F32X4, x)
        } else {
            self.b.ins().load(types::F32X4, flags, addr, 0)
        }
    }

    /// Input `i` as resolved for the current row, with the current element's byte offset.
    fn row_input(&self, i: usize) -> Option<(RowInput, Value)> {
        let row = self.row.as_ref()?;
        Some((row.inputs[i], row.offset.expect("an element of the row")))
    }

    /// A transcendental op on each lane through the scalar helper.
    fn per_lane(&mut self, e: &Expr, values: &[Value]) -> Value {
        let (src, scalar_e) = match *e {
            Expr::Unary(u, a) => (a, Expr::Unary(u, 0)),
            Expr::Scalar(s, c, a) => (a, Expr::Scalar(s, c, 0)),
            _ => unreachable!("only unary and scalar ops call helpers"),
        };
        let mut out = values[src];
        for lane in 0..LANES as u8 {
            let x = self.b.ins().extractlane(values[src], lane);
            let r = self.scalar_op(&scalar_e, &[x]);
            out = self.b.ins().insertlane(out, r, lane);
        }
        out
    }
}
