//! Shape-specialized matrix products: for the small and odd products of real models (a
//! classifier's 10 columns, a residual block's 50, a batch of 100), a function generated for
//! the exact `m×k · k×n` and operand strides of one matmul step.
//!
//! The packed GEMM ([`crate::gemm`]) pays for packing and for padding every tile to 4×8, which
//! on a 100×10 product is most of the work. Here the operands fit in L1/L2 and are read where
//! they are: per block of 4 rows of A and 8 columns of B, 8 f32x4 accumulators; per depth
//! step two unaligned B loads, four A broadcasts and eight FMAs, every address an immediate
//! offset from two pointers (the strides are constants). A 4-column block takes the next 4
//! columns, and the last `n % 4` columns run as scalar accumulators, so no lane is wasted on
//! padding; the last `m % 4` rows run one at a time. The depth loop is unrolled four steps
//! with the remainder (known at compile time) emitted straight. As for the micro-kernel, these
//! functions compile at `opt_level=none` (../shared/CRANELIFT.md).
//!
//! The function is a [`crate::abi::RowsFn`] computing rows `start..end` of the product (sums in
//! depth order from zero, one FMA per step), where `start` is a multiple of 4 and `end` is a
//! multiple of 4 or `m`; the host step runs it and the matmul's epilogue on blocks of rows
//! ([`crate::gemm`] chooses it per shape by measurement).

use cranelift_codegen::ir::condcodes::IntCC;
use cranelift_codegen::ir::{types, InstBuilder, MemFlagsData, Value};
use cranelift_frontend::Variable;

use super::emitter::Emitter;
use crate::schedule::Access;
use crate::schedule::{Elem, Plan, StepKind};

/// Products below this many multiply-adds get a specialized function (larger ones split across
/// threads, which the packed GEMM and the gemm crate do).
pub const SPECIALIZED_MACS: usize = crate::gemm::PARALLEL_MACS;

/// Rows of a register block.
const MR: usize = 4;
/// f32x4 accumulators per row in a full column block.
const VECTORS: usize = 2;
/// Depth steps per loop iteration.
const UNROLL: usize = 4;

/// A specialized product: operands and sizes.
pub struct SmallProduct {
    /// Left operand (`m×k`).
    pub a: Access,
    /// Right operand (`k×n`).
    pub b: Access,
    /// The output slot (compact `m×n`).
    pub out: usize,
    /// `[m, n, k]`.
    pub mnk: [usize; 3],
    /// Rows of this product per row of the step's own: 1, or the step's `n` when the product
    /// is the step's transposed (see [`small_product`]).
    pub rows_per_step_row: usize,
}

/// The specialized product of step `s`, when it has one: a 2-D product below
/// [`SPECIALIZED_MACS`] whose B rows are contiguous (or that has fewer than 4 columns), with
/// strides small enough for immediate offsets. A single row times a transposed matrix (a
/// batch-1 backward pass: the gradient times a weight read as its transpose) becomes the
/// product of the transposes, `Cᵀ = Bᵀ·Aᵀ`: `n` rows of dot products along contiguous
/// memory, written where the one row of `C` goes (an `n×1` result has the `1×n` layout).
/// Otherwise that product would go through the packed GEMM, whose packing is most of the
/// work at this size.
pub fn small_product(plan: &Plan, s: usize) -> Option<SmallProduct> {
    let step = &plan.steps[s];
    let StepKind::MatMul { a, b, k, .. } = &step.kind else {
        return None;
    };
    let [m, n] = plan.nodes[step.node].shape[..] else {
        return None;
    };
    let k = *k;
    let small_strides = a
        .strides
        .iter()
        .chain(&b.strides)
        .all(|s| s.abs() < 1 << 24);
    if m * n * k >= SPECIALIZED_MACS || m * n * k == 0 || !small_strides {
        return None;
    }
    if b.strides[1] == 1 || n < 4 {
        return Some(SmallProduct {
            a: a.clone(),
            b: b.clone(),
            out: step.out,
            mnk: [m, n, k],
            rows_per_step_row: 1,
        });
    }
    let transposed = |x: &Access| Access {
        slot: x.slot,
        offset: x.offset,
        strides: vec![x.strides[1], x.strides[0]],
    };
    (m == 1 && b.strides[0] == 1).then(|| SmallProduct {
        a: transposed(b),
        b: transposed(a),
        out: step.out,
        mnk: [n, 1, k],
        rows_per_step_row: n,
    })
}

/// Addressing of one product, constant over the function.
struct Operands {
    a: Value,
    b: Value,
    c: Value,
    /// Strides in bytes: A rows and columns, B rows and columns.
    a_rs: i64,
    a_cs: i64,
    b_rs: i64,
    b_cs: i64,
    n: usize,
    k: usize,
    fma: bool,
}

impl Emitter<'_, '_> {
    /// Rows `outer_range` of `p`'s product into its output slot. `fma`: the host has FMA
    /// (otherwise a multiply and an add, as the micro-kernel does).
    pub(super) fn small_matmul(&mut self, p: &SmallProduct, fma: bool) {
        let (start, end) = self.outer_range.take().expect("a row range");
        // The host passes rows of the step's product.
        let scale = p.rows_per_step_row as i64;
        let (start, end) = if scale == 1 {
            (start, end)
        } else {
            (
                self.b.ins().imul_imm_s(start, scale),
                self.b.ins().imul_imm_s(end, scale),
            )
        };
        let [_, n, k] = p.mnk;
        let out = Access {
            slot: p.out,
            strides: Vec::new(),
            offset: 0,
        };
        let ops = Operands {
            a: self.base(&p.a, Elem::F32).ptr,
            b: self.base(&p.b, Elem::F32).ptr,
            c: self.base(&out, Elem::F32).ptr,
            a_rs: 4 * p.a.strides[0] as i64,
            a_cs: 4 * p.a.strides[1] as i64,
            b_rs: 4 * p.b.strides[0] as i64,
            b_cs: 4 * p.b.strides[1] as i64,
            n,
            k,
            fma,
        };
        let row = self.b.declare_var(types::I64);
        self.b.def_var(row, start);
        // Blocks of MR rows while they fit, then single rows. Callers pass ranges of whole
        // blocks except at the end of the product, so a block size that cannot occur is not
        // emitted.
        let m = p.mnk[0];
        let sizes = [MR, 1].into_iter().filter(|&rows| {
            if rows == MR {
                m >= MR
            } else {
                !m.is_multiple_of(MR)
            }
        });
        for rows in sizes {
            let head = self.b.create_block();
            let body = self.b.create_block();
            let exit = self.b.create_block();
            self.b.ins().jump(head, &[]);
            self.b.switch_to_block(head);
            let i = self.b.use_var(row);
            let last = self.b.ins().iadd_imm_s(i, rows as i64);
            let fits = self.b.ins().icmp(IntCC::SignedLessThanOrEqual, last, end);
            self.b.ins().brif(fits, body, &[], exit, &[]);
            self.b.switch_to_block(body);
            let i = self.b.use_var(row);
            self.row_block(&ops, rows, i);
            self.advance(row, rows as i64);
            self.b.ins().jump(head, &[]);
            self.b.switch_to_block(exit);
        }
    }

    /// Rows `row..row + rows` of the product, all columns.
    fn row_block(&mut self, ops: &Operands, rows: usize, row: Value) {
        let a_off = self.b.ins().imul_imm_s(row, ops.a_rs);
        let a_row = self.b.ins().iadd(ops.a, a_off);
        let c_off = self.b.ins().imul_imm_s(row, 4 * ops.n as i64);
        let c_row = self.b.ins().iadd(ops.c, c_off);
        let wide = 4 * VECTORS;
        let panels = if ops.b_cs == 4 { ops.n / wide } else { 0 };
        if panels > 0 {
            // A loop over the full column blocks: B and C pointers step by a block.
            let b_col = self.b.declare_var(types::I64);
            let c_col = self.b.declare_var(types::I64);
            self.b.def_var(b_col, ops.b);
            self.b.def_var(c_col, c_row);
            self.counted_loop(panels, |e| {
                let (bp, cp) = (e.b.use_var(b_col), e.b.use_var(c_col));
                e.tile(ops, rows, VECTORS, a_row, bp, cp);
                e.advance(b_col, ops.b_cs * wide as i64);
                e.advance(c_col, 4 * wide as i64);
            });
        }
        let mut col = panels * wide;
        if ops.n - col >= 4 && ops.b_cs == 4 {
            let bp = self.b.ins().iadd_imm_s(ops.b, ops.b_cs * col as i64);
            let cp = self.b.ins().iadd_imm_s(c_row, 4 * col as i64);
            self.tile(ops, rows, 1, a_row, bp, cp);
            col += 4;
        }
        for j in col..ops.n {
            let bp = self.b.ins().iadd_imm_s(ops.b, ops.b_cs * j as i64);
            let cp = self.b.ins().iadd_imm_s(c_row, 4 * j as i64);
            self.tile(ops, rows, 0, a_row, bp, cp);
        }
    }

    /// One `rows × (4·vectors)` tile (`vectors = 0`: one scalar column) over the whole
    /// depth, stored to `c`.
    fn tile(
        &mut self,
        ops: &Operands,
        rows: usize,
        vectors: usize,
        a_row: Value,
        b_col: Value,
        c: Value,
    ) {
        let ty = if vectors == 0 {
            types::F32
        } else {
            types::F32X4
        };
        let lanes = vectors.max(1);
        let zero = self.b.ins().f32const(0.0);
        let zero = if vectors == 0 {
            zero
        } else {
            self.b.ins().splat(types::F32X4, zero)
        };
        let accs: Vec<Variable> = (0..rows * lanes)
            .map(|_| {
                let v = self.b.declare_var(ty);
                self.b.def_var(v, zero);
                v
            })
            .collect();
        let ap = self.b.declare_var(types::I64);
        let bp = self.b.declare_var(types::I64);
        self.b.def_var(ap, a_row);
        self.b.def_var(bp, b_col);
        let full = ops.k / UNROLL;
        if full > 0 {
            self.counted_loop(full, |e| {
                for step in 0..UNROLL {
                    e.depth_step(ops, rows, vectors, step, (ap, bp), &accs);
                }
                e.advance(ap, ops.a_cs * UNROLL as i64);
                e.advance(bp, ops.b_rs * UNROLL as i64);
            });
        }
        for step in 0..ops.k % UNROLL {
            self.depth_step(ops, rows, vectors, step, (ap, bp), &accs);
        }
        let flags = MemFlagsData::trusted();
        for r in 0..rows {
            for v in 0..lanes {
                let x = self.b.use_var(accs[r * lanes + v]);
                let offset = 4 * (r * ops.n + 4 * v) as i32;
                self.b.ins().store(flags, x, c, offset);
            }
        }
    }

    /// Runs `body` `count` times in a top-tested loop on a counter (at opt_level=none a
    /// top-tested loop lets the broadcasts fold into memory operands).
    fn counted_loop(&mut self, count: usize, body: impl FnOnce(&mut Self)) {
        let left = self.b.declare_var(types::I64);
        let start = self.b.ins().iconst(types::I64, count as i64);
        self.b.def_var(left, start);
        let head = self.b.create_block();
        let inner = self.b.create_block();
        let exit = self.b.create_block();
        self.b.ins().jump(head, &[]);
        self.b.switch_to_block(head);
        let l = self.b.use_var(left);
        let more = self.b.ins().icmp_imm_s(IntCC::SignedGreaterThan, l, 0);
        self.b.ins().brif(more, inner, &[], exit, &[]);
        self.b.switch_to_block(inner);
        body(self);
        self.advance(left, -1);
        self.b.ins().jump(head, &[]);
        self.b.switch_to_block(exit);
    }

    /// Adds `by` to the integer variable `var`.
    fn advance(&mut self, var: Variable, by: i64) {
        let v = self.b.use_var(var);
        let v = self.b.ins().iadd_imm_s(v, by);
        self.b.def_var(var, v);
    }

    /// Depth step `step` (from the pointers) of a tile: B loads, then per row one broadcast
    /// of A and one FMA per accumulator.
    fn depth_step(
        &mut self,
        ops: &Operands,
        rows: usize,
        vectors: usize,
        step: usize,
        (ap, bp): (Variable, Variable),
        accs: &[Variable],
    ) {
        let flags = MemFlagsData::trusted().with_readonly();
        let a_ptr = self.b.use_var(ap);
        let b_ptr = self.b.use_var(bp);
        let b_step = ops.b_rs * step as i64;
        let lanes = vectors.max(1);
        let row: Vec<Value> = (0..lanes)
            .map(|v| {
                let ty = if vectors == 0 {
                    types::F32
                } else {
                    types::F32X4
                };
                self.b
                    .ins()
                    .load(ty, flags, b_ptr, (b_step + 16 * v as i64) as i32)
            })
            .collect();
        for r in 0..rows {
            let offset = ops.a_cs * step as i64 + ops.a_rs * r as i64;
            for (v, &bv) in row.iter().enumerate() {
                // Its own load and broadcast per use: at opt_level=none the load folds into
                // the broadcast (as in the micro-kernel).
                let a = self.b.ins().load(types::F32, flags, a_ptr, offset as i32);
                let a = if vectors == 0 {
                    a
                } else {
                    self.b.ins().splat(types::F32X4, a)
                };
                let acc = self.b.use_var(accs[r * lanes + v]);
                let next = if ops.fma {
                    self.b.ins().fma(a, bv, acc)
                } else {
                    let p = self.b.ins().fmul(a, bv);
                    self.b.ins().fadd(p, acc)
                };
                self.b.def_var(accs[r * lanes + v], next);
            }
        }
    }
}
