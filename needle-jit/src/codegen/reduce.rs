//! Reductions with their elementwise producer fused in.
//!
//! The loops follow the interpreter's order exactly, so sums are bit-identical: the input is
//! walked in logical order one innermost row at a time; when the innermost axis is reduced, a
//! row is summed in an f64 register and then added to its output's f64 accumulator, otherwise
//! each element is added to its own output's accumulator (consecutive outputs, independent
//! chains). The accumulators are rounded to f32 once at the end. Max folds each element into
//! its output in logical order with the interpreter's NaN rule.

use cranelift_codegen::ir::condcodes::{FloatCC, IntCC};
use cranelift_codegen::ir::{types, Endianness, InstBuilder, MemFlagsData, Value};
use needle_core::op::ReduceOp;
use needle_core::shape::contiguous_strides;

use super::{Emitter, ACCUMULATOR_ACCESS, OUTPUT_ACCESS};
use crate::kernel::{Access, Kernel};
use crate::plan::Elem;

/// The body of [`Emitter::row_loop`]: (emitter, row, carried values) to the next carried values.
type RowBody<'b, E> = dyn FnMut(&mut E, Value, &[Value]) -> Vec<Value> + 'b;

impl Emitter<'_, '_> {
    /// Reduces `body` over `axes` into `out` (compact over the kept shape).
    pub(super) fn reduce(
        &mut self,
        op: ReduceOp,
        axes: &[usize],
        (body, value): (&Kernel, usize),
        (out, store): (usize, bool),
        acc: Option<usize>,
        epilogue: Option<&Kernel>,
    ) {
        let out_slot = out;
        let out = &Access {
            slot: out,
            strides: Vec::new(),
            offset: 0,
        };
        // A 0-d input is one row of one element (as in the interpreter).
        let mut body = body.clone();
        if body.shape.is_empty() {
            body.shape.push(1);
            for a in &mut body.inputs {
                a.strides.push(0);
            }
        }
        let nd = body.shape.len();
        let mut out_shape = body.shape.clone();
        for &a in axes {
            out_shape[a] = 1;
        }
        let mut out_strides = contiguous_strides(&out_shape);
        for &a in axes {
            out_strides[a] = 0;
        }
        let n_out = out_shape.iter().product::<usize>();
        let bases = self.bases(&body);
        let body_outs = self.output_bases(&body);
        let body_strides = contiguous_strides(&body.shape);
        let produce = |e: &mut Self, index: &[Value]| {
            let values = e.scalar_expr(&body, &bases, index);
            e.store_outputs(
                &values,
                &body_outs,
                index,
                &body_strides,
                MemFlagsData::trusted(),
            );
            values[value]
        };
        let out_base = self.base(out, Elem::F32);
        let flat = [1isize];
        match op {
            ReduceOp::Max => {
                let init = self.b.ins().f32const(f32::NEG_INFINITY);
                self.fill(&out_base, n_out, init, OUTPUT_ACCESS);
                let mut index = Vec::new();
                self.loops(&body.shape, &mut index, &mut |e, index| {
                    let v = produce(e, index);
                    let addr = e.address(&out_base, index, &out_strides, OUTPUT_ACCESS);
                    let flags = MemFlagsData::trusted();
                    let cur = e.b.ins().load(types::F32, flags, addr, 0);
                    // The interpreter's maximum(cur, v): keep cur only when it is NaN or
                    // greater, so NaN wins and of −0 and +0 the later one.
                    let gt = e.b.ins().fcmp(FloatCC::GreaterThan, cur, v);
                    let nan = e.b.ins().fcmp(FloatCC::Unordered, cur, cur);
                    let keep = e.b.ins().bor(gt, nan);
                    let new = e.b.ins().select(keep, cur, v);
                    e.b.ins().store(flags, new, addr, 0);
                });
                if let Some(epi) = epilogue {
                    self.finalize(epi, out_slot, |e, index, strides| {
                        let addr = e.address(&out_base, index, strides, OUTPUT_ACCESS);
                        e.b.ins().load(types::F32, MemFlagsData::trusted(), addr, 0)
                    });
                }
            }
            ReduceOp::Sum => {
                let acc = Access {
                    slot: acc.expect("sums have an accumulator"),
                    strides: Vec::new(),
                    offset: 0,
                };
                let acc_base = self.base(&acc, Elem::F64);
                let zero = self.b.ins().f64const(0.0);
                self.fill(&acc_base, n_out, zero, ACCUMULATOR_ACCESS);
                let inner = body.shape[nd - 1] as i64;
                let inner_reduced = out_strides[nd - 1] == 0;
                let vector = !self.checked && !inner_reduced && super::expr::vectorizable(&body);
                let mut index = Vec::new();
                if vector && nd == 2 && axes == [0] {
                    self.column_sums(&body, &bases, &body_outs, value, &acc_base);
                } else {
                    self.loops(&body.shape[..nd - 1], &mut index, &mut |e, outer| {
                        if inner_reduced {
                            let zero_index = e.b.ins().iconst(types::I64, 0);
                            let mut at = outer.to_vec();
                            at.push(zero_index);
                            let addr = e.address(&acc_base, &at, &out_strides, ACCUMULATOR_ACCESS);
                            let row = e.row_sum(outer, inner, &produce);
                            let flags = MemFlagsData::trusted();
                            let old = e.b.ins().load(types::F64, flags, addr, 0);
                            let new = e.b.ins().fadd(old, row);
                            e.b.ins().store(flags, new, addr, 0);
                        } else {
                            let mut scalar = |e: &mut Self, full: &[Value]| {
                                let v = produce(e, full);
                                let v = e.b.ins().fpromote(types::F64, v);
                                let addr =
                                    e.address(&acc_base, full, &out_strides, ACCUMULATOR_ACCESS);
                                let flags = MemFlagsData::trusted();
                                let old = e.b.ins().load(types::F64, flags, addr, 0);
                                let new = e.b.ins().fadd(old, v);
                                e.b.ins().store(flags, new, addr, 0);
                            };
                            if vector {
                                // Consecutive outputs are independent sums: four lanes at a time,
                                // each added in f64 exactly as the scalar loop does.
                                e.vector_loop(
                                    inner,
                                    1,
                                    outer,
                                    &mut |e, full| {
                                        let values = e.vector_expr(&body, &bases, full);
                                        let unaligned = MemFlagsData::new().with_notrap();
                                        e.store_outputs(
                                            &values,
                                            &body_outs,
                                            full,
                                            &body_strides,
                                            unaligned,
                                        );
                                        let v = values[value];
                                        let low = e.b.ins().fvpromote_low(v);
                                        let high = e.high_half(v);
                                        let high = e.b.ins().fvpromote_low(high);
                                        let addr = e.address(
                                            &acc_base,
                                            full,
                                            &out_strides,
                                            ACCUMULATOR_ACCESS,
                                        );
                                        for (half, offset) in [(low, 0), (high, 16)] {
                                            let old = e.b.ins().load(
                                                types::F64X2,
                                                unaligned,
                                                addr,
                                                offset,
                                            );
                                            let new = e.b.ins().fadd(old, half);
                                            e.b.ins().store(unaligned, new, addr, offset);
                                        }
                                    },
                                    &mut scalar,
                                );
                            } else {
                                let mut index = outer.to_vec();
                                e.loops(&body.shape[..nd], &mut index, &mut scalar);
                            }
                        }
                    });
                }
                // Round once (then run the epilogue on the result).
                let round = |e: &mut Self, index: &[Value], strides: &[isize]| {
                    let flags = MemFlagsData::trusted();
                    let src = e.address(&acc_base, index, strides, ACCUMULATOR_ACCESS);
                    let v = e.b.ins().load(types::F64, flags, src, 0);
                    let v = e.b.ins().fdemote(types::F32, v);
                    if store {
                        let dst = e.address(&out_base, index, strides, OUTPUT_ACCESS);
                        e.b.ins().store(flags, v, dst, 0);
                    }
                    v
                };
                match epilogue {
                    Some(epi) => self.finalize(epi, out_slot, round),
                    None => {
                        let mut index = Vec::new();
                        self.loops(&[n_out], &mut index, &mut |e, i| {
                            round(e, i, &flat);
                        });
                    }
                }
            }
        }
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

    /// Lanes 2 and 3 of an f32x4 moved to lanes 0 and 1 (for `fvpromote_low`).
    fn high_half(&mut self, v: Value) -> Value {
        let little = MemFlagsData::new().with_endianness(Endianness::Little);
        let bytes = self.b.ins().bitcast(types::I8X16, little, v);
        let mask: Vec<u8> = (8..16).chain(8..16).collect();
        let mask = self.b.func.dfg.immediates.push(mask.into());
        let moved = self.b.ins().shuffle(bytes, bytes, mask);
        self.b.ins().bitcast(types::F32X4, little, moved)
    }

    /// Stores `value` into the first `n` elements of `base`.
    fn fill(&mut self, base: &super::Base, n: usize, value: Value, access: u64) {
        let mut index = Vec::new();
        self.loops(&[n], &mut index, &mut |e, i| {
            let addr = e.address(base, i, &[1], access);
            e.b.ins().store(MemFlagsData::trusted(), value, addr, 0);
        });
    }

    /// The sums over the rows of a 2-D `body` (its column sums) into the accumulators, four
    /// columns at a time in f64 registers with the rows inner (a scalar loop per leftover
    /// column). Each column still adds its rows in order from an f64 zero, as the row-major
    /// walk does, so the sums are identical; the accumulators are written once per column
    /// instead of loaded and stored for every element.
    fn column_sums(
        &mut self,
        body: &Kernel,
        bases: &[super::Base],
        body_outs: &[(usize, super::Base)],
        value: usize,
        acc_base: &super::Base,
    ) {
        let (rows, cols) = (body.shape[0] as i64, body.shape[1] as i64);
        let body_strides = contiguous_strides(&body.shape);
        let flags = MemFlagsData::new().with_notrap();
        let vector_cols = cols - cols % 4;
        // Four columns: (row, low pair, high pair) carried around the row loop.
        let mut col_index = Vec::new();
        self.loops(
            &[(vector_cols / 4) as usize],
            &mut col_index,
            &mut |e, block| {
                let col = e.b.ins().imul_imm_s(block[0], 4);
                let zero = e.b.ins().f64const(0.0);
                let zero = e.b.ins().splat(types::F64X2, zero);
                let sums = e.row_loop(
                    rows,
                    &[types::F64X2, types::F64X2],
                    &[zero, zero],
                    &mut |e, r, sums| {
                        let values = e.vector_expr(body, bases, &[r, col]);
                        e.store_outputs(&values, body_outs, &[r, col], &body_strides, flags);
                        let v = values[value];
                        let low = e.b.ins().fvpromote_low(v);
                        let high = e.high_half(v);
                        let high = e.b.ins().fvpromote_low(high);
                        vec![e.b.ins().fadd(sums[0], low), e.b.ins().fadd(sums[1], high)]
                    },
                );
                let addr = e.address(acc_base, &[col], &[1], ACCUMULATOR_ACCESS);
                e.b.ins().store(flags, sums[0], addr, 0);
                e.b.ins().store(flags, sums[1], addr, 16);
            },
        );
        for c in vector_cols..cols {
            let col = self.b.ins().iconst(types::I64, c);
            let zero = self.b.ins().f64const(0.0);
            let sums = self.row_loop(rows, &[types::F64], &[zero], &mut |e, r, sums| {
                let values = e.scalar_expr(body, bases, &[r, col]);
                e.store_outputs(
                    &values,
                    body_outs,
                    &[r, col],
                    &body_strides,
                    MemFlagsData::trusted(),
                );
                let v = e.b.ins().fpromote(types::F64, values[value]);
                vec![e.b.ins().fadd(sums[0], v)]
            });
            let addr = self.address(acc_base, &[col], &[1], ACCUMULATOR_ACCESS);
            self.b
                .ins()
                .store(MemFlagsData::trusted(), sums[0], addr, 0);
        }
    }

    /// A loop over `n` rows carrying values of `types` (starting at `init`): `body(row,
    /// carried)` returns the carried values of the next row; returns those after the last.
    fn row_loop(
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

    /// Σ over the innermost axis of `body` at the outer position `outer`, in f64, in order.
    fn row_sum(
        &mut self,
        outer: &[Value],
        n: i64,
        produce: &dyn Fn(&mut Self, &[Value]) -> Value,
    ) -> Value {
        let header = self.b.create_block();
        let inner = self.b.create_block();
        let exit = self.b.create_block();
        self.b.append_block_param(header, types::I64);
        self.b.append_block_param(header, types::F64);
        self.b.append_block_param(exit, types::F64);
        let zero = self.b.ins().iconst(types::I64, 0);
        let start = self.b.ins().f64const(0.0);
        self.b.ins().jump(header, &[zero.into(), start.into()]);
        self.b.switch_to_block(header);
        let j = self.b.block_params(header)[0];
        let s = self.b.block_params(header)[1];
        let more = self.b.ins().icmp_imm_s(IntCC::SignedLessThan, j, n);
        self.b.ins().brif(more, inner, &[], exit, &[s.into()]);
        self.b.switch_to_block(inner);
        let mut index = outer.to_vec();
        index.push(j);
        let v = produce(self, &index);
        let v = self.b.ins().fpromote(types::F64, v);
        let s2 = self.b.ins().fadd(s, v);
        let next = self.b.ins().iadd_imm_s(j, 1);
        self.b.ins().jump(header, &[next.into(), s2.into()]);
        self.b.switch_to_block(exit);
        self.b.block_params(exit)[0]
    }
}
