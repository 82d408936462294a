//! Reductions with their elementwise producer fused in.
//!
//! The loops follow the interpreter's order exactly, so results are bit-identical. Max folds
//! each element into its output in logical order with the interpreter's NaN rule; sums follow
//! numpy's order in f32 (see [`super::sum`]). The output slot is the accumulator; an epilogue
//! then runs over the finished result.

use cranelift_codegen::ir::condcodes::{FloatCC, IntCC};
use cranelift_codegen::ir::{types, InstBuilder, MemFlagsData, Value};
use needle_core::op::ReduceOp;
use needle_core::shape::contiguous_strides;

use super::emitter::{Base, Emitter};
use super::sum::SumOf;
use crate::abi::OUTPUT_ACCESS;
use crate::schedule::Kernel;

/// The body of [`Emitter::row_loop`]: (emitter, row, carried values) to the next carried values.
pub(super) type RowBody<'b, E> = dyn FnMut(&mut E, Value, &[Value]) -> Vec<Value> + 'b;

impl Emitter<'_, '_> {
    /// Reduces `body` over `axes` into the output of each of `sums` (compact over the kept
    /// shape; one, or sibling sums over one loop), then runs `epilogue` on the result (its
    /// loads of the first sum's output read the value just computed; of the others, their
    /// finished outputs).
    pub(super) fn reduce(
        &mut self,
        op: ReduceOp,
        axes: &[usize],
        body: &Kernel,
        sums: &[SumOf],
        epilogue: Option<&Kernel>,
    ) {
        // A 0-d input is one row of one element (as in the interpreter).
        let mut body = body.clone();
        if body.shape.is_empty() {
            body.shape.push(1);
            for a in &mut body.inputs {
                a.strides.push(0);
            }
        }
        match op {
            ReduceOp::Max => {
                let [only] = sums else {
                    unreachable!("only sums have siblings")
                };
                let out_base = self.slot_base(only.out);
                self.max(&body, axes, only.value, &out_base)
            }
            ReduceOp::Sum => self.sum(&body, axes, sums),
        }
        if let Some(epi) = epilogue {
            self.reduce_epilogue(epi, sums[0].out);
        }
    }

    /// Runs `epilogue` over the finished result of the reduction whose output slot is `out`.
    pub(super) fn reduce_epilogue(&mut self, epilogue: &Kernel, out: usize) {
        let out_base = self.slot_base(out);
        self.finalize(epilogue, out, |e, index, strides| {
            let addr = e.address(&out_base, index, strides, OUTPUT_ACCESS);
            e.b.ins().load(types::F32, MemFlagsData::trusted(), addr, 0)
        });
    }

    /// The maximum over `axes`: each element folded into its output in logical order.
    fn max(&mut self, body: &Kernel, axes: &[usize], value: usize, out_base: &Base) {
        let mut out_shape = body.shape.clone();
        for &a in axes {
            out_shape[a] = 1;
        }
        let mut out_strides = contiguous_strides(&out_shape);
        for &a in axes {
            out_strides[a] = 0;
        }
        let bases = self.bases(body);
        let body_outs = self.output_bases(body);
        let body_strides = contiguous_strides(&body.shape);
        let init = self.b.ins().f32const(f32::NEG_INFINITY);
        self.fill(out_base, out_shape.iter().product(), init);
        let mut index = Vec::new();
        self.loops(&body.shape, &mut index, &mut |e, index| {
            let values = e.scalar_expr(body, &bases, index);
            let flags = MemFlagsData::trusted();
            e.store_outputs(&values, &body_outs, index, &body_strides, flags);
            let v = values[value];
            let addr = e.address(out_base, index, &out_strides, OUTPUT_ACCESS);
            let cur = e.b.ins().load(types::F32, flags, addr, 0);
            // The interpreter's maximum(cur, v): keep cur only when it is NaN or greater,
            // so NaN wins and of −0 and +0 the later one.
            let gt = e.b.ins().fcmp(FloatCC::GreaterThan, cur, v);
            let nan = e.b.ins().fcmp(FloatCC::Unordered, cur, cur);
            let keep = e.b.ins().bor(gt, nan);
            let new = e.b.ins().select(keep, cur, v);
            e.b.ins().store(flags, new, addr, 0);
        });
    }

    /// Runs `epilogue` over the reduction's output, with `result(index, strides)` giving the
    /// reduced value at a position (strides: the compact strides of the epilogue's shape).
    fn finalize(
        &mut self,
        epilogue: &Kernel,
        out_slot: usize,
        result: impl Fn(&mut Self, &[Value], &[isize]) -> Value,
    ) {
        let bases = self.bases(epilogue);
        let outs = self.output_bases(epilogue);
        let strides = contiguous_strides(&epilogue.shape);
        let mut index = Vec::new();
        self.loops(&epilogue.shape, &mut index, &mut |e, index| {
            let r = result(e, index, &strides);
            e.substitute = Some((out_slot, r));
            let values = e.scalar_expr(epilogue, &bases, index);
            e.substitute = None;
            e.store_outputs(&values, &outs, index, &strides, MemFlagsData::trusted());
        });
    }

    /// Stores the f32 `value` into the first `n` elements of the output `base`.
    pub(super) fn fill(&mut self, base: &Base, n: usize, value: Value) {
        let mut index = Vec::new();
        self.loops(&[n], &mut index, &mut |e, i| {
            let addr = e.address(base, i, &[1], OUTPUT_ACCESS);
            e.b.ins().store(MemFlagsData::trusted(), value, addr, 0);
        });
    }

    /// A loop over `n` rows carrying values of `types` (starting at `init`): `body(row,
    /// carried)` returns the carried values of the next row; returns those after the last.
    pub(super) fn row_loop(
        &mut self,
        n: i64,
        types: &[cranelift_codegen::ir::Type],
        init: &[Value],
        body: &mut RowBody<'_, Self>,
    ) -> Vec<Value> {
        let (header, inner, exit) = (
            self.b.create_block(),
            self.b.create_block(),
            self.b.create_block(),
        );
        self.b.append_block_param(header, types::I64);
        for &t in types {
            self.b.append_block_param(header, t);
            self.b.append_block_param(exit, t);
        }
        let zero = self.b.ins().iconst(types::I64, 0);
        let start: Vec<_> = std::iter::once(zero)
            .chain(init.iter().copied())
            .map(Into::into)
            .collect();
        self.b.ins().jump(header, &start);
        self.b.switch_to_block(header);
        let params = self.b.block_params(header).to_vec();
        let (r, carried) = (params[0], &params[1..]);
        let more = self.b.ins().icmp_imm_s(IntCC::SignedLessThan, r, n);
        let out: Vec<_> = carried.iter().map(|&v| v.into()).collect();
        self.b.ins().brif(more, inner, &[], exit, &out);
        self.b.switch_to_block(inner);
        let next_carried = body(self, r, carried);
        let next = self.b.ins().iadd_imm_s(r, 1);
        let args: Vec<_> = std::iter::once(next)
            .chain(next_carried)
            .map(Into::into)
            .collect();
        self.b.ins().jump(header, &args);
        self.b.switch_to_block(exit);
        self.b.block_params(exit).to_vec()
    }
}
