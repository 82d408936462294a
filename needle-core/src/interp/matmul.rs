//! Matrix products through the `gemm` crate, reading strided (transposed, broadcast) operands
//! in place; multithreaded above a size where the fork/join pays for itself.

use crate::layout::Layout;
use crate::shape::numel;
use crate::storage::Realized;

/// Below this many multiply-adds (16.8M) a product stays on the calling thread: a fork/join
/// costs tens of microseconds on a 2-core machine, and splitting W2's 100×784×100 products
/// (7.8M) made its training step 13–40 % slower than running them on one core (measured in
/// alternating runs, eager and JIT alike, with rayon; split by rows on our own threads, the
/// W2 JIT step still went from 1.47 to 1.75 ms).
pub const PARALLEL_THRESHOLD: usize = 1 << 24;

/// Results up to which a product split by columns is computed transposed in a buffer of its
/// own and copied (see [`gemm_raw`]).
const TRANSPOSED_ASIDE: usize = 1 << 16;

/// Fewest columns a wide product needs to be split by columns.
const SPLIT_MIN_COLUMNS: usize = 1 << 12;

/// Multiply-adds from which a wide product (at least [`SPLIT_MIN_COLUMNS`] columns) is split:
/// its packing and writing of many columns pay for the fork/join sooner (a first
/// convolution's (16, 50,176) product of inner size 9 has 7.2M).
const PARALLEL_THRESHOLD_WIDE: usize = 1 << 22;

/// Fewest rows a large product needs to be split by rows (two chunks of a multiple of 8).
const SPLIT_MIN_ROWS: usize = 16;

fn compact_if_negative(x: &Realized) -> Realized {
    if x.layout.strides.iter().any(|&s| s < 0) {
        Realized::from_f32(x.to_f32_vec(), &x.layout.shape)
    } else {
        x.clone()
    }
}

pub(super) fn matmul(a: &Realized, b: &Realized, out_shape: &[usize]) -> Realized {
    let (a, b) = (compact_if_negative(a), compact_if_negative(b));
    let nd = out_shape.len();
    let (m, n) = (out_shape[nd - 2], out_shape[nd - 1]);
    let k = a.layout.shape[nd - 1];
    let batch_shape = &out_shape[..nd - 2];
    let batches = numel(batch_shape);
    let mut out = vec![0.0f32; numel(out_shape)];
    if m * n == 0 || batches == 0 {
        return Realized::from_f32(out, out_shape);
    }
    let (la, lb): (&Layout, &Layout) = (&a.layout, &b.layout);
    let (a_rs, a_cs) = (la.strides[nd - 2], la.strides[nd - 1]);
    let (b_rs, b_cs) = (lb.strides[nd - 2], lb.strides[nd - 1]);
    let (da, db) = (a.buffer.as_f32(), b.buffer.as_f32());
    let mut batch_index = vec![0usize; batch_shape.len()];
    for batch in 0..batches {
        let a_off: isize = la.offset as isize
            + batch_index
                .iter()
                .zip(&la.strides)
                .map(|(&i, &s)| i as isize * s)
                .sum::<isize>();
        let b_off: isize = lb.offset as isize
            + batch_index
                .iter()
                .zip(&lb.strides)
                .map(|(&i, &s)| i as isize * s)
                .sum::<isize>();
        let dst = &mut out[batch * m * n..(batch + 1) * m * n];
        if k == 0 {
            // Empty inner dimension: the product is all zeros (already).
        } else {
            // Every index the product touches lies inside its buffer: the layouts were derived
            // from in-bounds views, and the extremes are checked here before handing raw
            // pointers to the GEMM.
            let a_last = a_off + (m as isize - 1) * a_rs + (k as isize - 1) * a_cs;
            let b_last = b_off + (k as isize - 1) * b_rs + (n as isize - 1) * b_cs;
            assert!(
                a_off >= 0 && (a_last as usize) < da.len(),
                "matmul: left operand view out of bounds"
            );
            assert!(
                b_off >= 0 && (b_last as usize) < db.len(),
                "matmul: right operand view out of bounds"
            );
            // SAFETY: strides are non-negative (compacted above), so the first and last
            // elements bound every address read; both were checked against the buffers. `dst`
            // is an exclusive m×n row-major slice.
            unsafe {
                gemm_raw(
                    [m, n, k],
                    dst.as_mut_ptr(),
                    (da.as_ptr().offset(a_off), a_rs, a_cs),
                    (db.as_ptr().offset(b_off), b_rs, b_cs),
                );
            }
        }
        for ax in (0..batch_index.len()).rev() {
            batch_index[ax] += 1;
            if batch_index[ax] < batch_shape[ax] {
                break;
            }
            batch_index[ax] = 0;
        }
    }
    Realized::from_f32(out, out_shape)
}

/// One `m×k · k×n` product into a compact row-major `m×n` destination, with the operands read
/// through (pointer, row stride, column stride) in elements: the single GEMM call of every
/// backend, so the interpreter and the JIT's compiled programs give identical bits.
/// Multithreaded from [`PARALLEL_THRESHOLD`] multiply-adds (from 2^22 for products of at
/// least 4,096 columns): by rows, by columns for wide products, or as the transposed product
/// when the wide right operand is column-major. The split depends only on the shape, the
/// strides and the number of threads.
///
/// # Safety
/// `dst` must be valid for `m·n` writes; every element `a + i·rs + p·cs` (`i < m`, `p < k`)
/// and `b + p·rs + j·cs` (`p < k`, `j < n`) must be readable; strides must be non-negative;
/// `k > 0`.
pub unsafe fn gemm_raw(
    [m, n, k]: [usize; 3],
    dst: *mut f32,
    (a, a_rs, a_cs): (*const f32, isize, isize),
    (b, b_rs, b_cs): (*const f32, isize, isize),
) {
    let large = m * n * k >= PARALLEL_THRESHOLD;
    if large && n > m && n >= SPLIT_MIN_ROWS && k > 1 && b_rs == 1 && b_cs > 1 {
        // Wider than tall with a column-major B (a convolution's weight gradient, whose B is
        // the transposed im2col matrix): split as rows of the transposed product C^T =
        // B^T·A^T, each thread packing its part of B^T along its contiguous rows. W7's second
        // convolution's weight gradient, (32, 144) over k = 12,544: 1.0-1.3 ms split by rows
        // (both threads packing all of B), 1.0-1.1 ms split by columns, 0.65-0.69 ms so
        // (2-core EPYC, alternating runs).
        // The gemm crate writes a column-major destination by turning the problem back, so a
        // small C^T is computed row-major aside and transposed into `dst` (a weight gradient's
        // few thousand elements).
        if m * n <= TRANSPOSED_ASIDE {
            let mut transposed = vec![0.0f32; m * n];
            // SAFETY: `transposed` holds the n×m result; the operands as the caller's.
            unsafe {
                split(
                    Split::Rows,
                    [n, m, k],
                    (transposed.as_mut_ptr(), m as isize, 1),
                    (b, b_cs, b_rs),
                    (a, a_cs, a_rs),
                )
            };
            for (j, row) in transposed.chunks_exact(m).enumerate() {
                for (i, &v) in row.iter().enumerate() {
                    // SAFETY: i < m, j < n: inside the caller's m·n destination.
                    unsafe { *dst.add(i * n + j) = v };
                }
            }
            return;
        }
        // SAFETY: the transposed reading of the caller's operands and `dst` (see
        // `split`).
        unsafe {
            split(
                Split::Rows,
                [n, m, k],
                (dst, 1, n as isize),
                (b, b_cs, b_rs),
                (a, a_cs, a_rs),
            )
        };
        return;
    }
    let by = if n > m && n >= SPLIT_MIN_COLUMNS && (large || m * n * k >= PARALLEL_THRESHOLD_WIDE) {
        Some(Split::Columns)
    } else if large && m >= SPLIT_MIN_ROWS {
        Some(Split::Rows)
    } else {
        None
    };
    if let Some(by) = by {
        // SAFETY: forwarded from the caller's contract.
        unsafe {
            split(
                by,
                [m, n, k],
                (dst, n as isize, 1),
                (a, a_rs, a_cs),
                (b, b_rs, b_cs),
            )
        };
        return;
    }
    // A large product of a few long rows: the gemm crate splits it by columns itself.
    let parallelism = if large {
        gemm::Parallelism::Rayon(0)
    } else {
        gemm::Parallelism::None
    };
    // SAFETY: forwarded from the caller's contract.
    unsafe {
        gemm_rows(
            [m, n, k],
            (dst, n as isize, 1),
            (a, a_rs, a_cs),
            (b, b_rs, b_cs),
            parallelism,
        )
    }
}

/// Which axis of a product [`split`] cuts across threads.
#[derive(Clone, Copy)]
enum Split {
    /// Rows: the gemm crate's own threads are rayon's, which the W6 profile caught sharing a
    /// core; split on ours, W1's JIT step went from 3.89 to 3.66 ms (five alternating rounds
    /// on a noisy 2-core VM).
    Rows,
    /// Columns, for a wide product (`n > m`: a convolution's (C_out, N·Ho·Wo) products): each
    /// thread packs the narrow left operand and its own part of the wide right one, where a
    /// split by rows had both pack all of it (W7's second convolution's weight gradient,
    /// (32, 144) over k = 12,544: 1.0-1.3 ms that way, 2-core EPYC).
    Columns,
}

/// `dst = a·b` (m×n, element (i, j) at `dst + i·rs + j·cs`) with its rows or columns split
/// across the caller and the helper threads (see `crate::threads`).
///
/// # Safety
/// The contract of [`gemm_raw`] for this product and destination; chunks write disjoint
/// rows (columns) of `dst`.
unsafe fn split(
    by: Split,
    [m, n, k]: [usize; 3],
    (dst, d_rs, d_cs): (*mut f32, isize, isize),
    (a, a_rs, a_cs): (*const f32, isize, isize),
    (b, b_rs, b_cs): (*const f32, isize, isize),
) {
    let (parts, align) = match by {
        Split::Rows => (m, 8),
        Split::Columns => (n, 16),
    };
    let chunk = parts
        .div_ceil(crate::threads::threads())
        .next_multiple_of(align);
    // Raw pointers are not Sync; run_chunks returns after the last chunk.
    let (d, pa, pb) = (dst as usize, a as usize, b as usize);
    crate::threads::run_chunks(parts, chunk, &|start, end| {
        let s = start as isize;
        let (shape, d_at, a_at, b_at) = match by {
            Split::Rows => ([end - start, n, k], s * d_rs, s * a_rs, 0),
            Split::Columns => ([m, end - start, k], s * d_cs, 0, s * b_cs),
        };
        // SAFETY: rows (columns) start..end of the caller's product, covered by its
        // contract; chunks write disjoint parts of `dst`.
        unsafe {
            gemm_rows(
                shape,
                ((d as *mut f32).offset(d_at), d_rs, d_cs),
                ((pa as *const f32).offset(a_at), a_rs, a_cs),
                ((pb as *const f32).offset(b_at), b_rs, b_cs),
                gemm::Parallelism::None,
            )
        };
        0
    });
}

/// [`gemm_raw`] on one thread or with the gemm crate's own threads.
///
/// # Safety
/// The contract of [`gemm_raw`].
unsafe fn gemm_rows(
    [m, n, k]: [usize; 3],
    (dst, d_rs, d_cs): (*mut f32, isize, isize),
    (a, a_rs, a_cs): (*const f32, isize, isize),
    (b, b_rs, b_cs): (*const f32, isize, isize),
    parallelism: gemm::Parallelism,
) {
    // SAFETY: forwarded from the caller's contract; `read_dst = false` means `dst` is only
    // written.
    unsafe {
        gemm::gemm(
            m,
            n,
            k,
            dst,
            d_cs,
            d_rs,
            false,
            a,
            a_cs,
            a_rs,
            b,
            b_cs,
            b_rs,
            0.0,
            1.0,
            false,
            false,
            false,
            parallelism,
        );
    }
}
