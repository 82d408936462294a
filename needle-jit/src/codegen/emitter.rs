//! The emitter: the state of one function being built, and what every step needs from it —
//! slot records, addresses (checked or not) and loop nests.

use cranelift_codegen::ir::condcodes::IntCC;
use cranelift_codegen::ir::{types, Block, FuncRef, InstBuilder, MemFlagsData, Value};
use cranelift_frontend::FunctionBuilder;

use crate::abi::args;
use crate::schedule::{Access, Elem, Kernel};

/// Where an access's data starts, resolved at the beginning of a step.
#[derive(Clone, Copy)]
pub(crate) struct Base {
    /// Address of the access's element 0 (`slot pointer + (slot offset + offset)·size`).
    pub(crate) ptr: Value,
    /// The slot's pointer.
    pub(crate) slot_ptr: Value,
    /// Element index of the access's element 0 within the slot's buffer.
    pub(crate) first: Value,
    /// The buffer's length in elements.
    pub(crate) len: Value,
    /// Bytes per element.
    pub(crate) size: i64,
}

/// Emits the steps of a program into one function.
pub(crate) struct Emitter<'a, 'f> {
    /// The function being built.
    pub(crate) b: &'a mut FunctionBuilder<'f>,
    /// The argument block's address.
    pub(crate) args: Value,
    /// The scalar helpers, by symbol name.
    pub(crate) helpers: &'a [(&'static str, FuncRef)],
    /// The pairwise sum of a gathered run ([`super::helpers::needle_pairwise_sum`]), in
    /// functions that hold reductions.
    pub(crate) pairwise: Option<FuncRef>,
    /// Checked mode: every access compares its index with the buffer's length.
    pub(crate) checked: bool,
    /// Out-of-bounds exit (checked mode), with (step, access, index, length).
    pub(crate) oob: Block,
    /// The step being emitted (named by an out-of-bounds report).
    pub(crate) step: usize,
    /// While emitting a reduction's epilogue: loads of this slot read this value instead.
    pub(crate) substitute: Option<(usize, Value)>,
    /// For one half of a kernel split across threads: the range of the outermost loop.
    pub(crate) outer_range: Option<(Value, Value)>,
    /// While emitting the innermost axis of a vectorized elementwise kernel: what was
    /// resolved once per row (see [`Row`]).
    pub(crate) row: Option<Row>,
}

/// The per-row part of a vectorized elementwise kernel, computed before its innermost loop so
/// that the loop body holds only what changes per element. (Small kernels compile at
/// `opt_level=none`, where Cranelift hoists nothing: without this, every element recomputed
/// every address from all its axes and rematerialized every constant.)
pub(crate) struct Row {
    /// Per input: its address at the row's first element, or its value when it is constant
    /// along the row (a broadcast), loaded once.
    pub(crate) inputs: Vec<RowInput>,
    /// Per output: its address at the row's first element.
    pub(crate) outputs: Vec<Value>,
    /// Byte offset of the current element within the row.
    pub(crate) offset: Option<Value>,
    /// Vector constants of the kernel (by their bits), materialized once.
    pub(crate) constants: Vec<(u32, Value)>,
}

/// An input of a vectorized row: its address at the row's first element, or its value when constant along the row.
#[derive(Clone, Copy)]
pub(crate) enum RowInput {
    Pointer(Value),
    Invariant { scalar: Value, vector: Value },
}

impl Emitter<'_, '_> {
    /// Loads word `word` of the argument block.
    pub(crate) fn load_arg(&mut self, word: usize) -> Value {
        // Not `readonly`: host steps rewrite slot records between kernels.
        self.b.ins().load(
            types::I64,
            MemFlagsData::trusted(),
            self.args,
            (word * 8) as i32,
        )
    }

    /// Resolves `access` (of elements of `elem`) at the current position.
    pub(crate) fn base(&mut self, access: &Access, elem: Elem) -> Base {
        let record = args::SLOTS + 3 * access.slot;
        let slot_ptr = self.load_arg(record);
        let offset = self.load_arg(record + 1);
        let len = self.load_arg(record + 2);
        let first = self.b.ins().iadd_imm_s(offset, access.offset as i64);
        let size = elem.size() as i64;
        let bytes = self.b.ins().imul_imm_s(first, size);
        let ptr = self.b.ins().iadd(slot_ptr, bytes);
        Base {
            ptr,
            slot_ptr,
            first,
            len,
            size,
        }
    }

    /// Address of the element at `index` (one value per axis) through `strides`; in checked
    /// mode, first verifies the element index lies in the buffer (`access` names it in the
    /// error).
    pub(crate) fn address(
        &mut self,
        base: &Base,
        index: &[Value],
        strides: &[isize],
        access: u64,
    ) -> Value {
        if !self.checked {
            let mut addr = base.ptr;
            for (&i, &s) in index.iter().zip(strides) {
                if s != 0 {
                    let off = self.b.ins().imul_imm_s(i, s as i64 * base.size);
                    addr = self.b.ins().iadd(addr, off);
                }
            }
            return addr;
        }
        let mut element = base.first;
        for (&i, &s) in index.iter().zip(strides) {
            if s != 0 {
                let off = self.b.ins().imul_imm_s(i, s as i64);
                element = self.b.ins().iadd(element, off);
            }
        }
        // Unsigned: a negative index is a huge one.
        let inside = self
            .b
            .ins()
            .icmp(IntCC::UnsignedLessThan, element, base.len);
        let ok = self.b.create_block();
        let step = self.b.ins().iconst(types::I64, self.step as i64);
        let which = self.b.ins().iconst(types::I64, access as i64);
        self.b.ins().brif(
            inside,
            ok,
            &[],
            self.oob,
            &[step.into(), which.into(), element.into(), base.len.into()],
        );
        self.b.switch_to_block(ok);
        let bytes = self.b.ins().imul_imm_s(element, base.size);
        self.b.ins().iadd(base.slot_ptr, bytes)
    }

    /// One loop per axis of `shape[level..]`, calling `body` with the full index innermost.
    pub(crate) fn loops(
        &mut self,
        shape: &[usize],
        index: &mut Vec<Value>,
        body: &mut dyn FnMut(&mut Self, &[Value]),
    ) {
        let level = index.len();
        if level == shape.len() {
            body(self, index);
            return;
        }
        let header = self.b.create_block();
        let inner = self.b.create_block();
        let exit = self.b.create_block();
        self.b.append_block_param(header, types::I64);
        let range = if level == 0 {
            self.outer_range.take()
        } else {
            None
        };
        let start = match range {
            Some((lo, _)) => lo,
            None => self.b.ins().iconst(types::I64, 0),
        };
        self.b.ins().jump(header, &[start.into()]);
        self.b.switch_to_block(header);
        let i = self.b.block_params(header)[0];
        let more = match range {
            Some((_, hi)) => self.b.ins().icmp(IntCC::SignedLessThan, i, hi),
            None => self
                .b
                .ins()
                .icmp_imm_s(IntCC::SignedLessThan, i, shape[level] as i64),
        };
        self.b.ins().brif(more, inner, &[], exit, &[]);
        self.b.switch_to_block(inner);
        index.push(i);
        self.loops(shape, index, body);
        index.pop();
        let next = self.b.ins().iadd_imm_s(i, 1);
        self.b.ins().jump(header, &[next.into()]);
        self.b.switch_to_block(exit);
    }

    /// The bases of `kernel`'s inputs.
    pub(crate) fn bases(&mut self, kernel: &Kernel) -> Vec<Base> {
        kernel
            .inputs
            .iter()
            .map(|a| self.base(a, Elem::F32))
            .collect()
    }

    /// (expression entry, where it is stored) of each of `kernel`'s outputs.
    pub(crate) fn output_bases(&mut self, kernel: &Kernel) -> Vec<(usize, Base)> {
        kernel
            .outputs
            .iter()
            .map(|o| (o.expr, self.slot_base(o.slot)))
            .collect()
    }

    /// The base of f32 slot `slot` from its first element (an output, a reduction's
    /// accumulator, a run buffer).
    pub(crate) fn slot_base(&mut self, slot: usize) -> Base {
        let access = Access {
            slot,
            strides: Vec::new(),
            offset: 0,
        };
        self.base(&access, Elem::F32)
    }
}
