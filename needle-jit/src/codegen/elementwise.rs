//! Fused elementwise steps: a loop nest over the kernel's shape, whose innermost axis runs
//! f32x4 (with its per-row part resolved once per row) when every input allows, then a
//! scalar tail; each element's expression comes from [`super::lower`].

use cranelift_codegen::ir::condcodes::IntCC;
use cranelift_codegen::ir::{types, InstBuilder, MemFlagsData, Value};

use super::emitter::{Base, Emitter, Row, RowInput};
use super::lower;
use crate::abi::OUTPUT_ACCESS;
use crate::schedule::Kernel;

impl Emitter<'_, '_> {
    /// A fused elementwise kernel storing its outputs compactly.
    pub(crate) fn elementwise(&mut self, kernel: &Kernel) {
        let bases = self.bases(kernel);
        let outs = self.output_bases(kernel);
        let out_strides = needle_core::shape::contiguous_strides(&kernel.shape);
        let vector = !self.checked && lower::vectorizable(kernel);
        let outer = if vector {
            &kernel.shape[..kernel.shape.len() - 1]
        } else {
            &kernel.shape[..]
        };
        let mut index = Vec::new();
        self.loops(outer, &mut index, &mut |e, index| {
            if vector {
                e.vector_row(kernel, &bases, &outs, &out_strides, index);
            } else {
                let values = e.scalar_expr(kernel, &bases, index);
                e.store_outputs(&values, &outs, index, &out_strides, MemFlagsData::trusted());
            }
        });
    }

    /// Stores `values` at `index` of each output.
    pub(crate) fn store_outputs(
        &mut self,
        values: &[Value],
        outs: &[(usize, Base)],
        index: &[Value],
        strides: &[isize],
        flags: MemFlagsData,
    ) {
        for (expr, base) in outs {
            let addr = self.address(base, index, strides, OUTPUT_ACCESS);
            self.b.ins().store(flags, values[*expr], addr, 0);
        }
    }

    /// The innermost axis of a vectorizable kernel: f32x4 steps, then a scalar tail.
    pub(crate) fn vector_row(
        &mut self,
        kernel: &Kernel,
        bases: &[Base],
        outs: &[(usize, Base)],
        out_strides: &[isize],
        index: &[Value],
    ) {
        let n = *kernel
            .shape
            .last()
            .expect("vectorized kernels have an axis") as i64;
        // Two vectors per iteration on long rows (memory-bound kernels gain from fewer
        // branches); one on short ones, whose compile time matters more.
        let unroll = if kernel.shape.iter().product::<usize>() >= 1 << 16 {
            2
        } else {
            1
        };
        let row = self.begin_row(kernel, bases, outs, out_strides, index);
        self.row = Some(row);
        self.vector_loop(
            n,
            unroll,
            index,
            &mut |e, full| {
                e.set_row_offset(full);
                let values = e.vector_expr(kernel, bases, full);
                // Not 16-byte aligned in general: no `aligned` flag.
                e.store_row(&values, outs, MemFlagsData::new().with_notrap());
            },
            &mut |e, full| {
                e.set_row_offset(full);
                let values = e.scalar_expr(kernel, bases, full);
                e.store_row(&values, outs, MemFlagsData::trusted());
            },
        );
        self.row = None;
    }

    /// Resolves everything of `kernel` that is the same along the row at `index` (all axes
    /// but the innermost): addresses, broadcast inputs, vector constants.
    pub(crate) fn begin_row(
        &mut self,
        kernel: &Kernel,
        bases: &[Base],
        outs: &[(usize, Base)],
        out_strides: &[isize],
        index: &[Value],
    ) -> Row {
        debug_assert!(!self.checked, "vector rows are unchecked");
        let outer = index.len();
        let mut inputs = Vec::with_capacity(kernel.inputs.len());
        for (i, (access, base)) in kernel.inputs.iter().zip(bases).enumerate() {
            let ptr = self.address(base, index, &access.strides[..outer], i as u64);
            inputs.push(if access.strides[outer] == 0 {
                let scalar =
                    self.b
                        .ins()
                        .load(types::F32, MemFlagsData::new().with_notrap(), ptr, 0);
                let vector = self.b.ins().splat(types::F32X4, scalar);
                RowInput::Invariant { scalar, vector }
            } else {
                RowInput::Pointer(ptr)
            });
        }
        let outputs = outs
            .iter()
            .map(|(_, base)| self.address(base, index, &out_strides[..outer], OUTPUT_ACCESS))
            .collect();
        let mut constants: Vec<(u32, Value)> = Vec::new();
        for c in lower::vector_constants(kernel) {
            if !constants.iter().any(|&(bits, _)| bits == c.to_bits()) {
                let k = self.b.ins().f32const(c);
                let v = self.b.ins().splat(types::F32X4, k);
                constants.push((c.to_bits(), v));
            }
        }
        Row {
            inputs,
            outputs,
            offset: None,
            constants,
        }
    }

    /// Sets the current element of the row from the full index `full`.
    pub(crate) fn set_row_offset(&mut self, full: &[Value]) {
        let at = *full.last().expect("an innermost index");
        let offset = self.b.ins().imul_imm_s(at, 4);
        self.row.as_mut().expect("inside a row").offset = Some(offset);
    }

    /// Stores `values` at the current element of the row's outputs.
    pub(crate) fn store_row(
        &mut self,
        values: &[Value],
        outs: &[(usize, Base)],
        flags: MemFlagsData,
    ) {
        let row = self.row.as_ref().expect("inside a row");
        let offset = row.offset.expect("an element of the row");
        for ((expr, _), &ptr) in outs.iter().zip(&row.outputs) {
            let addr = self.b.ins().iadd(ptr, offset);
            self.b.ins().store(flags, values[*expr], addr, 0);
        }
    }

    /// A loop over the innermost axis (length `n`, outer position `index`): `vector` at
    /// every multiple of four that fits (`unroll` of them per iteration), then `scalar` for
    /// the remaining elements (not emitted when four divides `n`).
    pub(crate) fn vector_loop(
        &mut self,
        n: i64,
        unroll: i64,
        index: &[Value],
        vector: &mut dyn FnMut(&mut Self, &[Value]),
        scalar: &mut dyn FnMut(&mut Self, &[Value]),
    ) {
        const LANES: i64 = lower::LANES as i64;
        let step = LANES * unroll;
        let (head, body, after) = (
            self.b.create_block(),
            self.b.create_block(),
            self.b.create_block(),
        );
        self.b.append_block_param(head, types::I64);
        let zero = self.b.ins().iconst(types::I64, 0);
        self.b.ins().jump(head, &[zero.into()]);
        self.b.switch_to_block(head);
        let i = self.b.block_params(head)[0];
        let end = self.b.ins().iadd_imm_s(i, step);
        let fits = self
            .b
            .ins()
            .icmp_imm_s(IntCC::SignedLessThanOrEqual, end, n);
        self.b.ins().brif(fits, body, &[], after, &[]);
        self.b.switch_to_block(body);
        let mut full = index.to_vec();
        for u in 0..unroll {
            let at = if u == 0 {
                i
            } else {
                self.b.ins().iadd_imm_s(i, u * LANES)
            };
            full.push(at);
            vector(self, &full);
            full.pop();
        }
        self.b.ins().jump(head, &[end.into()]);
        self.b.switch_to_block(after);
        // The length is known: the remainder is straight-line vectors, then scalars (none
        // when four divides the length).
        let mut pos = n - n % step;
        while pos + LANES <= n {
            let at = self.b.ins().iconst(types::I64, pos);
            full.push(at);
            vector(self, &full);
            full.pop();
            pos += LANES;
        }
        if pos < n {
            let start = self.b.ins().iconst(types::I64, pos);
            let (shead, sbody, exit) = (
                self.b.create_block(),
                self.b.create_block(),
                self.b.create_block(),
            );
            self.b.append_block_param(shead, types::I64);
            self.b.ins().jump(shead, &[start.into()]);
            self.b.switch_to_block(shead);
            let j = self.b.block_params(shead)[0];
            let more = self.b.ins().icmp_imm_s(IntCC::SignedLessThan, j, n);
            self.b.ins().brif(more, sbody, &[], exit, &[]);
            self.b.switch_to_block(sbody);
            full.push(j);
            scalar(self, &full);
            full.pop();
            let next = self.b.ins().iadd_imm_s(j, 1);
            self.b.ins().jump(shead, &[next.into()]);
            self.b.switch_to_block(exit);
        }
    }
}
