//! Sums in numpy's order, accumulated in f32 in the output slot, with the producer fused in —
//! the interpreter's order (see [`needle_core::interp::pairwise`]), so the bits are the same.
//!
//! The input's size-1 axes are dropped and neighbouring axes of the same kind (reduced or
//! kept) merged where every input walks them as one stretch. Then:
//! - without a trailing run (the innermost axis is kept) each element is added to its output
//!   in logical order, four consecutive outputs at a time in f32x4; a 2-D sum over axis 0
//!   keeps four columns' sums in a register across the rows instead of in memory;
//! - a run along the innermost axis of at most [`INLINE_RUN`] elements is summed by generated
//!   code: its split points are known here, and each leaf keeps its eight partial sums in two
//!   f32x4 registers (eight scalars in checked mode; IEEE lane arithmetic gives the same bits);
//! - any other run (longer, or over several axes that do not merge) is written to the run
//!   buffer and summed by the interpreter's own [`pairwise_sum`] (a host call).
//!
//! Sibling sums (several entries of one body over the same axes, see `StepKind::Reduce`) share
//! the walk: each has its own accumulators, partial sums and run buffer, and adds its elements
//! in the order it would alone.
//!
//! [`pairwise_sum`]: needle_core::interp::pairwise::pairwise_sum

use cranelift_codegen::ir::{types, InstBuilder, MemFlagsData, Value};
use needle_core::interp::pairwise::{run_start, split, PARTIALS};
use needle_core::shape::{contiguous_strides, numel};

use super::emitter::{Base, Emitter};
use super::lower;
use crate::abi::{OUTPUT_ACCESS, RUN_ACCESS};
use crate::schedule::sum_run::{merged, INLINE_RUN};
use crate::schedule::{Kernel, Step, StepKind};

/// The fused producer of a sum: its kernel with resolved buffers, and the entries summed
/// (several for sibling sums over the same loop, see `StepKind::Reduce`).
pub(super) struct Fused<'k> {
    pub(super) kernel: &'k Kernel,
    pub(super) bases: Vec<Base>,
    pub(super) outs: Vec<(usize, Base)>,
    /// Compact strides of the kernel's shape (where its outputs are stored).
    pub(super) strides: Vec<isize>,
    pub(super) values: Vec<usize>,
}

/// One of the sums a loop computes: the summed entry of the body, its output slot and its
/// run buffer.
#[derive(Clone, Copy)]
pub(super) struct SumOf {
    pub(super) value: usize,
    pub(super) out: usize,
    pub(super) run: Option<usize>,
}

/// The sums step `step` (a reduction) computes: its own, then its siblings'.
pub(super) fn sums_of(step: &Step) -> Vec<SumOf> {
    let StepKind::Reduce {
        value,
        run,
        siblings,
        ..
    } = &step.kind
    else {
        unreachable!("a reduction step")
    };
    std::iter::once(SumOf {
        value: *value,
        out: step.out,
        run: *run,
    })
    .chain(siblings.iter().map(|s| SumOf {
        value: s.value,
        out: s.out,
        run: s.run,
    }))
    .collect()
}

impl Fused<'_> {
    /// The summed values at `full` (storing the kernel's outputs there); inside a row (see
    /// [`Emitter::begin_row`]) `full`'s last entry is the element of the row.
    fn scalar(&self, e: &mut Emitter, full: &[Value]) -> Vec<Value> {
        let values = if e.row.is_some() {
            e.set_row_offset(full);
            let values = e.scalar_expr(self.kernel, &self.bases, full);
            e.store_row(&values, &self.outs, MemFlagsData::trusted());
            values
        } else {
            let values = e.scalar_expr(self.kernel, &self.bases, full);
            e.store_outputs(
                &values,
                &self.outs,
                full,
                &self.strides,
                MemFlagsData::trusted(),
            );
            values
        };
        self.values.iter().map(|&v| values[v]).collect()
    }

    /// The summed values at `full` and the three following elements of the innermost axis.
    fn vector(&self, e: &mut Emitter, full: &[Value]) -> Vec<Value> {
        // Not 16-byte aligned in general.
        let flags = MemFlagsData::new().with_notrap();
        let values = if e.row.is_some() {
            e.set_row_offset(full);
            let values = e.vector_expr(self.kernel, &self.bases, full);
            e.store_row(&values, &self.outs, flags);
            values
        } else {
            let values = e.vector_expr(self.kernel, &self.bases, full);
            e.store_outputs(&values, &self.outs, full, &self.strides, flags);
            values
        };
        self.values.iter().map(|&v| values[v]).collect()
    }
}

impl Emitter<'_, '_> {
    /// Sums each of `sums`' entries of `body` over `axes` into its output (compact over the
    /// kept shape), in one walk of the body.
    pub(super) fn sum(&mut self, body: &Kernel, axes: &[usize], sums: &[SumOf]) {
        let n_out: usize = (0..body.shape.len())
            .filter(|a| !axes.contains(a))
            .map(|a| body.shape[a])
            .product();
        let zero = self.b.ins().f32const(0.0);
        let outs: Vec<Base> = sums.iter().map(|s| self.slot_base(s.out)).collect();
        let runs: Vec<Option<usize>> = sums.iter().map(|s| s.run).collect();
        if body.shape.contains(&0) {
            for out in &outs {
                self.fill(out, n_out, zero);
            }
            return;
        }
        let (kernel, reduced) = merged(body, axes);
        let nd = kernel.shape.len();
        let mut out_strides = vec![0isize; nd];
        let mut size = 1;
        for a in (0..nd).rev().filter(|&a| !reduced[a]) {
            out_strides[a] = size;
            size *= kernel.shape[a] as isize;
        }
        let fused = Fused {
            kernel: &kernel,
            bases: self.bases(&kernel),
            outs: self.output_bases(&kernel),
            strides: contiguous_strides(&kernel.shape),
            values: sums.iter().map(|s| s.value).collect(),
        };
        let vector = !self.checked && lower::vectorizable(&kernel);
        let start = run_start(&kernel.shape, |a| reduced[a]);
        if start.is_none() && vector && reduced == [true, false] {
            self.column_sums(&fused, &outs);
            return;
        }
        for out in &outs {
            self.fill(out, n_out, zero);
        }
        match start {
            None => self.add_elements(&fused, &outs, &out_strides, vector),
            Some(start) => {
                self.add_runs(&fused, &outs, &out_strides, start, vector, &runs, false);
            }
        }
    }

    /// `out[o] += x` for every element in logical order (the innermost axis is kept, so four
    /// consecutive elements go to four consecutive outputs).
    fn add_elements(&mut self, fused: &Fused, outs: &[Base], out_strides: &[isize], vector: bool) {
        let shape = &fused.kernel.shape;
        let mut add = |e: &mut Self, full: &[Value]| {
            let values = fused.scalar(e, full);
            for (out, v) in outs.iter().zip(values) {
                e.accumulate(out, full, out_strides, v, false);
            }
        };
        let mut index = Vec::new();
        if !vector {
            self.loops(shape, &mut index, &mut add);
            return;
        }
        self.vector_rows(
            fused,
            &mut index,
            &mut |e, full| {
                let values = fused.vector(e, full);
                for (out, v) in outs.iter().zip(values) {
                    e.accumulate(out, full, out_strides, v, true);
                }
            },
            &mut add,
        );
    }

    /// Walks the fused kernel's rows below `index` (its axes after `index`, but the innermost), each
    /// with its per-row addresses resolved once: `vector` at every four elements that fit,
    /// `scalar` for the rest.
    fn vector_rows(
        &mut self,
        fused: &Fused,
        index: &mut Vec<Value>,
        vector: &mut dyn FnMut(&mut Self, &[Value]),
        scalar: &mut dyn FnMut(&mut Self, &[Value]),
    ) {
        let shape = &fused.kernel.shape;
        let nd = shape.len();
        self.loops(&shape[..nd - 1], index, &mut |e, outer| {
            let row = e.begin_row(
                fused.kernel,
                &fused.bases,
                &fused.outs,
                &fused.strides,
                outer,
            );
            e.row = Some(row);
            e.vector_loop(shape[nd - 1] as i64, 1, outer, vector, scalar);
            e.row = None;
        });
    }

    /// The sums over the rows of a 2-D kernel (its column sums) into `out`, four columns at a
    /// time in an f32x4 register with the rows inner (a scalar loop per leftover column). Each
    /// column still adds its rows in order to `+0.0`, as the element-by-element walk does;
    /// the output is written once per column instead of loaded and stored for every element.
    fn column_sums(&mut self, fused: &Fused, outs: &[Base]) {
        let cols = fused.kernel.shape[1] as i64;
        let vector_cols = cols - cols % 4;
        let mut col_index = Vec::new();
        self.loops(
            &[(vector_cols / 4) as usize],
            &mut col_index,
            &mut |e, block| {
                let col = e.b.ins().imul_imm_s(block[0], 4);
                e.column_block(fused, outs, col, true);
            },
        );
        for c in vector_cols..cols {
            let col = self.b.ins().iconst(types::I64, c);
            self.column_block(fused, outs, col, false);
        }
    }

    /// The sums over the rows of column `col` — and the three after it when `vector`, in an
    /// f32x4 — stored into `outs`, one register per fused sum.
    fn column_block(&mut self, fused: &Fused, outs: &[Base], col: Value, vector: bool) {
        let rows = fused.kernel.shape[0] as i64;
        let zero = self.b.ins().f32const(0.0);
        let (ty, zero, flags) = if vector {
            let zero = self.b.ins().splat(types::F32X4, zero);
            (types::F32X4, zero, MemFlagsData::new().with_notrap())
        } else {
            (types::F32, zero, MemFlagsData::trusted())
        };
        let n = outs.len();
        let sums = self.row_loop(rows, &vec![ty; n], &vec![zero; n], &mut |e, r, sums| {
            let values = if vector {
                fused.vector(e, &[r, col])
            } else {
                fused.scalar(e, &[r, col])
            };
            sums.iter()
                .zip(values)
                .map(|(&s, v)| e.b.ins().fadd(s, v))
                .collect()
        });
        for (out, sum) in outs.iter().zip(sums) {
            let addr = self.address(out, &[col], &[1], OUTPUT_ACCESS);
            self.b.ins().store(flags, sum, addr, 0);
        }
    }

    /// `out[index] += v` (an f32x4 over four consecutive outputs when `vector`).
    fn accumulate(
        &mut self,
        out: &Base,
        index: &[Value],
        strides: &[isize],
        v: Value,
        vector: bool,
    ) {
        let addr = self.address(out, index, strides, OUTPUT_ACCESS);
        let (ty, flags) = if vector {
            // Not 16-byte aligned in general.
            (types::F32X4, MemFlagsData::new().with_notrap())
        } else {
            (types::F32, MemFlagsData::trusted())
        };
        let old = self.b.ins().load(ty, flags, addr, 0);
        let new = self.b.ins().fadd(old, v);
        self.b.ins().store(flags, new, addr, 0);
    }

    /// `out[o] = out[o] + pairwise(run)` for every run (axes `start..` of the kernel), runs in
    /// logical order, for each of the fused sums (`outs`, `runs`: their outputs and run
    /// buffers).
    /// `by_rows`: a split sum's rows (see [`super::sum_rows`]), whose gathered runs go to
    /// their row's part of the run buffer (`len` elements per row of axis 0).
    #[allow(clippy::too_many_arguments)]
    pub(super) fn add_runs(
        &mut self,
        fused: &Fused,
        outs: &[Base],
        out_strides: &[isize],
        start: usize,
        vector: bool,
        runs: &[Option<usize>],
        by_rows: bool,
    ) {
        let shape = &fused.kernel.shape;
        let len = numel(&shape[start..]);
        let inline = shape.len() - start == 1 && len <= INLINE_RUN;
        let buffers: Option<Vec<Base>> = (!inline).then(|| {
            runs.iter()
                .map(|run| {
                    self.slot_base(run.expect("the plan gives a run buffer to sums that gather"))
                })
                .collect()
        });
        let mut index = Vec::new();
        self.loops(&shape[..start], &mut index, &mut |e, outer| {
            let totals = match &buffers {
                None => {
                    if vector {
                        let row = e.begin_row(
                            fused.kernel,
                            &fused.bases,
                            &fused.outs,
                            &fused.strides,
                            outer,
                        );
                        e.row = Some(row);
                    }
                    let totals = e.pairwise(fused, outer, 0, len, vector);
                    e.row = None;
                    totals
                }
                Some(buffers) if by_rows => {
                    let first = e.b.ins().imul_imm_s(outer[0], len as i64);
                    let rows: Vec<Base> = buffers
                        .iter()
                        .map(|buffer| {
                            let mut row = *buffer;
                            let bytes = e.b.ins().imul_imm_s(first, buffer.size);
                            row.ptr = e.b.ins().iadd(buffer.ptr, bytes);
                            row.first = e.b.ins().iadd(buffer.first, first);
                            row
                        })
                        .collect();
                    e.gathered_run(fused, outer, &rows, vector)
                }
                Some(buffers) => e.gathered_run(fused, outer, buffers, vector),
            };
            for (out, total) in outs.iter().zip(totals) {
                e.accumulate(out, outer, &out_strides[..start], total, false);
            }
        });
    }

    /// The pairwise sums of the `n` elements of the innermost axis from `first` on (at the
    /// outer position `outer`), split where [`split`] says, one per fused sum.
    fn pairwise(
        &mut self,
        fused: &Fused,
        outer: &[Value],
        first: usize,
        n: usize,
        vector: bool,
    ) -> Vec<Value> {
        match split(n) {
            Some(h) => {
                let left = self.pairwise(fused, outer, first, h, vector);
                let right = self.pairwise(fused, outer, first + h, n - h, vector);
                left.into_iter()
                    .zip(right)
                    .map(|(l, r)| self.b.ins().fadd(l, r))
                    .collect()
            }
            None => self.leaf(fused, outer, first, n, vector),
        }
    }

    /// One leaf of a pairwise sum (the rule of [`split`]), per fused sum: eight partial sums
    /// over the full blocks of eight — two f32x4 when `vector` — combined as ((r0+r1)+(r2+r3))
    /// +((r4+r5)+(r6+r7)), then the leftovers in order; a leaf shorter than eight is
    /// `-0.0 + x0 + ...`.
    fn leaf(
        &mut self,
        fused: &Fused,
        outer: &[Value],
        first: usize,
        n: usize,
        vector: bool,
    ) -> Vec<Value> {
        let at = |i: Value| -> Vec<Value> {
            let mut full = outer.to_vec();
            full.push(i);
            full
        };
        let element = |e: &mut Self, i: usize| {
            let i = e.b.ins().iconst(types::I64, i as i64);
            let full = at(i);
            fused.scalar(e, &full)
        };
        let sums = fused.values.len();
        let blocks = n / PARTIALS;
        let mut res: Vec<Value> = if blocks == 0 {
            let start = self.b.ins().f32const(-0.0);
            vec![start; sums]
        } else {
            let lanes = if vector { 2 } else { PARTIALS };
            let width = PARTIALS / lanes;
            let ty = if vector { types::F32X4 } else { types::F32 };
            // The partial sums over block `b` (a loop variable) added to `partials` (lane
            // after lane of each sum in turn), or the first block's values when there are
            // none yet.
            let block = |e: &mut Self, b: Value, partials: Option<&[Value]>| -> Vec<Value> {
                let base = e.b.ins().imul_imm_s(b, PARTIALS as i64);
                let base = e.b.ins().iadd_imm_s(base, first as i64);
                let mut next = vec![Vec::with_capacity(lanes); sums];
                for l in 0..lanes {
                    let i = e.b.ins().iadd_imm_s(base, (l * width) as i64);
                    let full = at(i);
                    let values = if vector {
                        fused.vector(e, &full)
                    } else {
                        fused.scalar(e, &full)
                    };
                    for (v, x) in values.into_iter().enumerate() {
                        next[v].push(match partials {
                            Some(p) => e.b.ins().fadd(p[v * lanes + l], x),
                            None => x,
                        });
                    }
                }
                next.concat()
            };
            let zero = self.b.ins().iconst(types::I64, 0);
            let start = block(self, zero, None);
            let partials = if blocks == 1 {
                start
            } else {
                let types = vec![ty; lanes * sums];
                self.row_loop(
                    (blocks - 1) as i64,
                    &types,
                    &start,
                    &mut |e, b, partials| {
                        let b = e.b.ins().iadd_imm_s(b, 1);
                        block(e, b, Some(partials))
                    },
                )
            };
            partials
                .chunks_exact(lanes)
                .map(|sum| {
                    let r: Vec<Value> = if vector {
                        sum.iter()
                            .flat_map(|&v| (0..lower::LANES as u8).map(move |lane| (v, lane)))
                            .map(|(v, lane)| self.b.ins().extractlane(v, lane))
                            .collect()
                    } else {
                        sum.to_vec()
                    };
                    let add = |e: &mut Self, x: Value, y: Value| e.b.ins().fadd(x, y);
                    let r01 = add(self, r[0], r[1]);
                    let r23 = add(self, r[2], r[3]);
                    let r45 = add(self, r[4], r[5]);
                    let r67 = add(self, r[6], r[7]);
                    let low = add(self, r01, r23);
                    let high = add(self, r45, r67);
                    add(self, low, high)
                })
                .collect()
        };
        for i in first + blocks * PARTIALS..first + n {
            let values = element(self, i);
            for (r, x) in res.iter_mut().zip(values) {
                *r = self.b.ins().fadd(*r, x);
            }
        }
        res
    }

    /// The pairwise sums of the run at `outer` (the kernel's axes after `outer`), one per fused
    /// sum: each sum's elements are written to its buffer in logical order, then summed by the
    /// host helper.
    fn gathered_run(
        &mut self,
        fused: &Fused,
        outer: &[Value],
        buffers: &[Base],
        vector: bool,
    ) -> Vec<Value> {
        let shape = &fused.kernel.shape;
        let start = outer.len();
        let flat = contiguous_strides(&shape[start..]);
        let store = |e: &mut Self, full: &[Value], values: Vec<Value>, flags: MemFlagsData| {
            for (buffer, v) in buffers.iter().zip(values) {
                let addr = e.address(buffer, &full[start..], &flat, RUN_ACCESS);
                e.b.ins().store(flags, v, addr, 0);
            }
        };
        let mut index = outer.to_vec();
        if vector {
            self.vector_rows(
                fused,
                &mut index,
                &mut |e, full| {
                    let v = fused.vector(e, full);
                    store(e, full, v, MemFlagsData::new().with_notrap());
                },
                &mut |e, full| {
                    let v = fused.scalar(e, full);
                    store(e, full, v, MemFlagsData::trusted());
                },
            );
        } else {
            self.loops(shape, &mut index, &mut |e, full| {
                let v = fused.scalar(e, full);
                store(e, full, v, MemFlagsData::trusted());
            });
        }
        let pairwise = self
            .pairwise
            .expect("reductions are emitted in functions that import the pairwise sum");
        let n = self
            .b
            .ins()
            .iconst(types::I64, numel(&shape[start..]) as i64);
        buffers
            .iter()
            .map(|buffer| {
                let call = self.b.ins().call(pairwise, &[buffer.ptr, n]);
                self.b.inst_results(call)[0]
            })
            .collect()
    }
}
