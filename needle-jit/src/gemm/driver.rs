//! The packed, cache-blocked GEMM around the generated micro-kernel (the Goto/BLIS loop nest).
//!
//! For each block of `NC` columns and `kc ≤ KC` depth, the B block is packed once into
//! `NR`-wide k-major panels (zero-padded); for each block of `mc ≤ MC` rows (the loop split
//! across threads), the A block is packed into `MR`-tall k-major panels and every `MR×NR` tile
//! of C runs the micro-kernel. Packing reads the operands through their strides, so transposed
//! operands cost nothing extra. `MC·KC` floats of A (96 KiB) stay in L2, a `KC×NR` B panel
//! (8 KiB) in L1.

use std::cell::RefCell;
use std::sync::atomic::{AtomicU32, Ordering::Relaxed};

use super::microkernel::MicroKernel;

/// Work on rows `start..end` of a product, run as soon as those rows are final (a matmul's
/// fused epilogue, see [`crate::StepKind::MatMul`]). Returns a status; the first
/// non-zero one is the product's.
pub(crate) type RowsDone<'a> = &'a (dyn Fn(usize, usize) -> u32 + Sync);

/// Rows of A packed per block (rounded to the tile height).
const MC: usize = 96;
/// Depth per block (balanced: `k` is cut into equal blocks of at most this).
const KC: usize = 256;
/// Columns of B packed per block.
const NC: usize = 4096;

/// A matrix operand: pointer to element (0, 0) and strides in elements.
#[derive(Clone, Copy, Debug)]
pub struct Operand {
    /// Element (0, 0).
    pub ptr: *const f32,
    /// Row stride (elements).
    pub rs: isize,
    /// Column stride (elements).
    pub cs: isize,
}

thread_local! {
    // Packing buffers, reused across calls: allocating them per call costs page faults
    // (../shared/CRANELIFT.md).
    static PACK_A: RefCell<Vec<f32>> = const { RefCell::new(Vec::new()) };
    static PACK_B: RefCell<Vec<f32>> = const { RefCell::new(Vec::new()) };
}

/// `dst (m×n, row-major, compact) = a (m×k) · b (k×n)`, on the calling thread or split by
/// rows across threads ([`needle_core::threads`]). `epilogue` runs on each block of rows
/// right after its last depth block, by the thread that computed it, while the block is
/// still in cache. Returns
/// the first non-zero status of the epilogue (zero without one).
///
/// # Safety
/// `dst` must be valid for `m·n` writes and not overlap the operands; every element
/// `a.ptr + i·a.rs + p·a.cs` (`i < m`, `p < k`) and `b.ptr + p·b.rs + j·b.cs` (`p < k`,
/// `j < n`) must be readable. `m`, `n`, `k` > 0.
pub unsafe fn sgemm(
    kernel: &MicroKernel,
    [m, n, k]: [usize; 3],
    dst: *mut f32,
    a: Operand,
    b: Operand,
    parallel: bool,
    epilogue: Option<RowsDone>,
) -> u32 {
    let status = AtomicU32::new(0);
    let (mr, nr) = (kernel.mr, kernel.nr);
    let depth_blocks = k.div_ceil(KC);
    let kc_max = k.div_ceil(depth_blocks);
    let row_blocks = if parallel {
        m.div_ceil(MC).max(2)
    } else {
        m.div_ceil(MC)
    };
    let mc = m.div_ceil(row_blocks).div_ceil(mr) * mr;
    let row_blocks = m.div_ceil(mc);
    // Raw pointers are not Send; the call outlives the parallel loop.
    let (dst_addr, a_addr, a_rs, a_cs) = (dst as usize, a.ptr as usize, a.rs, a.cs);
    PACK_B.with(|pack_b| {
        let mut pack_b = pack_b.borrow_mut();
        for jc in (0..n).step_by(NC) {
            let nc = NC.min(n - jc);
            let panels = nc.div_ceil(nr);
            for (block, pc) in (0..k).step_by(kc_max).enumerate() {
                let kc = kc_max.min(k - pc);
                pack_b.resize(panels * nr * kc, 0.0);
                // SAFETY: rows pc..pc+kc and columns jc..jc+nc lie inside b (caller).
                unsafe { pack_panels_b(&mut pack_b, b, pc, kc, jc, nc, nr) };
                let packed_b: &[f32] = &pack_b;
                let last = jc + nc == n && pc + kc == k;
                let run_rows = |ib: usize| {
                    let ic = ib * mc;
                    let rows = mc.min(m - ic);
                    let a = Operand {
                        ptr: a_addr as *const f32,
                        rs: a_rs,
                        cs: a_cs,
                    };
                    // SAFETY: forwarded from the caller; row block `ic` is written by this
                    // closure only (blocks partition the rows).
                    unsafe {
                        block_product(
                            kernel,
                            [ic, rows, pc, kc, jc, nc],
                            n,
                            dst_addr as *mut f32,
                            a,
                            packed_b,
                            block > 0,
                        )
                    }
                    if let (true, Some(f)) = (last, epilogue) {
                        let done = f(ic, ic + rows);
                        if done != 0 {
                            // Keep the first failure.
                            let _ = status.compare_exchange(0, done, Relaxed, Relaxed);
                        }
                    }
                };
                if parallel && row_blocks > 1 {
                    needle_core::threads::run_chunks(row_blocks, 1, &|first, end| {
                        (first..end).for_each(run_rows);
                        0
                    });
                } else {
                    (0..row_blocks).for_each(run_rows);
                }
            }
        }
    });
    status.into_inner()
}

/// One row block: packs `rows × kc` of A at (`ic`, `pc`) and runs every tile against the
/// packed B block.
///
/// # Safety
/// As [`sgemm`]; `packed_b` holds the packed B block of this (`jc`, `pc`).
unsafe fn block_product(
    kernel: &MicroKernel,
    [ic, rows, pc, kc, jc, nc]: [usize; 6],
    ldd: usize,
    dst: *mut f32,
    a: Operand,
    packed_b: &[f32],
    accumulate: bool,
) {
    let (mr, nr) = (kernel.mr, kernel.nr);
    let entry = kernel.entry();
    PACK_A.with(|pack_a| {
        let mut pack_a = pack_a.borrow_mut();
        let row_panels = rows.div_ceil(mr);
        pack_a.resize(row_panels * mr * kc, 0.0);
        // SAFETY: rows ic..ic+rows, columns pc..pc+kc lie inside a (caller).
        unsafe { pack_panels_a(&mut pack_a, a, ic, rows, pc, kc, mr) };
        let mut edge = vec![0.0f32; mr * nr];
        for (jp, b_panel) in packed_b.chunks_exact(nr * kc).enumerate() {
            let j = jc + jp * nr;
            let cols = nr.min(jc + nc - j);
            for (ip, a_panel) in pack_a.chunks_exact(mr * kc).enumerate() {
                let i = ic + ip * mr;
                let tile_rows = mr.min(ic + rows - i);
                // SAFETY: (i, j) is inside the m×n destination (i < ic + rows ≤ m,
                // j < jc + nc ≤ n).
                let c = unsafe { dst.add(i * ldd + j) };
                if tile_rows == mr && cols == nr {
                    // SAFETY: the panels hold kc·MR and kc·NR floats; the full tile's rows
                    // i..i+MR and columns j..j+NR are inside dst.
                    unsafe {
                        entry(
                            a_panel.as_ptr(),
                            b_panel.as_ptr(),
                            c,
                            (ldd * 4) as i64,
                            kc as i64,
                            accumulate as i64,
                        )
                    };
                } else {
                    // A partial tile runs on a local MR×NR copy.
                    for r in 0..tile_rows {
                        for col in 0..cols {
                            // SAFETY: row r < tile_rows and column col < cols are inside dst.
                            edge[r * nr + col] = if accumulate {
                                unsafe { *c.add(r * ldd + col) }
                            } else {
                                0.0
                            };
                        }
                    }
                    // SAFETY: `edge` is an MR×NR tile with row stride NR floats.
                    unsafe {
                        entry(
                            a_panel.as_ptr(),
                            b_panel.as_ptr(),
                            edge.as_mut_ptr(),
                            (nr * 4) as i64,
                            kc as i64,
                            1,
                        )
                    };
                    for r in 0..tile_rows {
                        for col in 0..cols {
                            // SAFETY: as above.
                            unsafe { *c.add(r * ldd + col) = edge[r * nr + col] };
                        }
                    }
                }
            }
        }
    });
}

/// Packs rows `i0..i0+rows`, columns `p0..p0+kc` of `a` into `mr`-tall k-major panels,
/// zero-padding the last panel's missing rows.
///
/// # Safety
/// Every element read must be inside `a`'s buffer.
unsafe fn pack_panels_a(
    out: &mut [f32],
    a: Operand,
    i0: usize,
    rows: usize,
    p0: usize,
    kc: usize,
    mr: usize,
) {
    for (panel, chunk) in out.chunks_exact_mut(mr * kc).enumerate() {
        let valid = mr.min(rows - panel * mr);
        // SAFETY: (i0 + panel·mr + i, p0) for i < valid is inside a (caller).
        let bases: Vec<*const f32> = (0..valid)
            .map(|i| unsafe {
                a.ptr
                    .offset((i0 + panel * mr + i) as isize * a.rs + p0 as isize * a.cs)
            })
            .collect();
        for (p, column) in chunk.chunks_exact_mut(mr).enumerate() {
            let step = p as isize * a.cs;
            for (x, base) in column.iter_mut().zip(&bases) {
                // SAFETY: (row, p0 + p) with p < kc is inside a (caller).
                *x = unsafe { *base.offset(step) };
            }
            column[valid..].fill(0.0);
        }
    }
}

/// Packs rows `p0..p0+kc`, columns `j0..j0+cols` of `b` into `nr`-wide k-major panels,
/// zero-padding the last panel's missing columns.
///
/// # Safety
/// Every element read must be inside `b`'s buffer.
unsafe fn pack_panels_b(
    out: &mut [f32],
    b: Operand,
    p0: usize,
    kc: usize,
    j0: usize,
    cols: usize,
    nr: usize,
) {
    for (panel, chunk) in out.chunks_exact_mut(nr * kc).enumerate() {
        let first = j0 + panel * nr;
        let width = nr.min(j0 + cols - first);
        for p in 0..kc {
            let row = &mut chunk[p * nr..(p + 1) * nr];
            // SAFETY: (p0 + p, first + j) for j < width is inside b (caller).
            let base = unsafe {
                b.ptr
                    .offset((p0 + p) as isize * b.rs + first as isize * b.cs)
            };
            if b.cs == 1 {
                // SAFETY: `width` consecutive elements of one row, inside b.
                row[..width].copy_from_slice(unsafe { std::slice::from_raw_parts(base, width) });
            } else {
                for (j, x) in row[..width].iter_mut().enumerate() {
                    *x = unsafe { *base.offset(j as isize * b.cs) };
                }
            }
            row[width..].fill(0.0);
        }
    }
}
