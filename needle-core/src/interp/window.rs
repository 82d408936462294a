//! Kernels of the window family: im2col and col2im (see [`Op::Im2col`](crate::op::Op)).
//!
//! Both are public because the JIT runs these same functions on its own buffers, so a
//! convolution gives the same bits in every mode. Work is split across threads by output
//! rows (im2col) or output planes (col2im); each element is written by one thread, and
//! col2im adds a plane's taps in (kh, kw) order whatever the split, so results never depend
//! on it.

use std::sync::Mutex;

use crate::layout::Layout;
use crate::op::Window;
use crate::shape::numel;
use crate::storage::Realized;
use crate::threads::{run_chunks, threads};

/// Below this many output elements a kernel runs on the calling thread alone.
const PARALLEL_ELEMENTS: usize = 1 << 15;

/// Chunks per thread, so that a thread slowed down by another process takes fewer.
const CHUNKS_PER_THREAD: usize = 4;

/// Runs `body(first_unit, chunk)` over `dst` cut into consecutive units of `unit_len`
/// elements, several units per chunk, chunks spread over the threads.
fn split_units(dst: &mut [f32], unit_len: usize, body: &(dyn Fn(usize, &mut [f32]) + Sync)) {
    let units = dst.len().checked_div(unit_len).unwrap_or(0);
    if units == 0 {
        return;
    }
    let per_chunk = if dst.len() < PARALLEL_ELEMENTS {
        units
    } else {
        units.div_ceil(threads() * CHUNKS_PER_THREAD)
    };
    // Each chunk behind a lock of its own: threads take disjoint chunks, so the locks are
    // never contended; they let the chunks be handed out without unsafe code.
    let chunks: Vec<Mutex<&mut [f32]>> = dst
        .chunks_mut(per_chunk * unit_len)
        .map(Mutex::new)
        .collect();
    run_chunks(chunks.len(), 1, &|start, end| {
        for (c, chunk) in chunks.iter().enumerate().take(end).skip(start) {
            let mut chunk = chunk.lock().expect("a chunk is only taken once");
            body(c * per_chunk, &mut chunk);
        }
        0
    });
}

/// Panics unless every element `layout` addresses lies inside `data` (the JIT hands its
/// kernels raw buffers; indexing is checked too, this names the op in the message).
fn check_extent(op: &str, data: &[f32], layout: &Layout) {
    if let Some((lo, hi)) = layout.extent() {
        assert!(
            lo >= 0 && (hi as usize) < data.len(),
            "{op}: a view of shape {:?} reads elements {lo}..={hi} of a buffer of {}",
            layout.shape,
            data.len()
        );
    }
}

/// Writes the im2col matrix of `x` — (N, C, H, W) data at `layout` in `data` — into `dst`,
/// (k·k·C, N·Ho·Wo) row-major: row (kh, kw, c), column (n, ho, wo) holds
/// `x[n, c, ho·s + kh·d − p, wo·s + kw·d − p]`, or 0 in the padding.
///
/// Panics when `dst` does not have that size or `layout` leaves `data`.
pub fn im2col_into(data: &[f32], layout: &Layout, window: Window, dst: &mut [f32]) {
    check_extent("im2col", data, layout);
    let [n, c, h, w]: [usize; 4] = layout.shape[..].try_into().expect("NCHW input");
    let [sn, sc, sh, sw]: [isize; 4] = layout.strides[..].try_into().expect("NCHW strides");
    let (ho, wo) = (
        window.output_size(h).expect("window fits"),
        window.output_size(w).expect("window fits"),
    );
    let k = window.kernel;
    let row_len = n * ho * wo;
    assert_eq!(dst.len(), k * k * c * row_len, "im2col: output size");
    let s = window.stride as isize;
    split_units(dst, row_len, &|first_row, rows| {
        for (r, row) in rows.chunks_exact_mut(row_len).enumerate() {
            let r = first_row + r;
            let (kh, kw, ch) = (r / (k * c), (r / c) % k, r % c);
            let (h0, h_valid) = window.tap_range(kh, h, ho);
            let (w0, w_valid) = window.tap_range(kw, w, wo);
            // Offset of the first column inside the image along w, and the step between
            // columns.
            let first_column = (w_valid.start as isize * s + w0) * sw;
            let step = s * sw;
            let mut lines = row.chunks_exact_mut(wo);
            for img in 0..n {
                let image = layout.offset as isize + img as isize * sn + ch as isize * sc;
                for oh in 0..ho {
                    let out = lines.next().expect("n·ho lines of wo");
                    if !h_valid.contains(&oh) {
                        zero(out);
                        continue;
                    }
                    let (left, rest) = out.split_at_mut(w_valid.start);
                    let (inside, right) = rest.split_at_mut(w_valid.len());
                    zero(left);
                    zero(right);
                    let at = image + (oh as isize * s + h0) * sh + first_column;
                    copy_strided(inside, data, at, step);
                }
            }
        }
    });
}

/// Zeros `out` element by element (the stretches are a few elements: no call to memset).
fn zero(out: &mut [f32]) {
    for v in out {
        *v = 0.0;
    }
}

/// `out[j] = data[at + j·step]`.
fn copy_strided(out: &mut [f32], data: &[f32], at: isize, step: isize) {
    let Some(last) = out.len().checked_sub(1) else {
        return;
    };
    if step == 1 {
        out.copy_from_slice(&data[at as usize..at as usize + out.len()]);
    } else if step > 0 {
        // One bounds check for the stretch, none per element.
        let src = &data[at as usize..=at as usize + last * step as usize];
        for (v, &x) in out.iter_mut().zip(src.iter().step_by(step as usize)) {
            *v = x;
        }
    } else {
        for (j, v) in out.iter_mut().enumerate() {
            *v = data[(at + j as isize * step) as usize];
        }
    }
}

/// Writes into `dst`, (N, C, H, W) row-major of `shape`, the col2im of the
/// (k·k·C, N·Ho·Wo) matrix at `layout` in `data`: each element of `dst` is the sum, taps
/// in (kh, kw) order starting from 0, of the matrix entries [`im2col_into`] would copy from
/// it.
///
/// Panics when the sizes disagree or `layout` leaves `data`.
pub fn col2im_into(
    data: &[f32],
    layout: &Layout,
    window: Window,
    shape: &[usize],
    dst: &mut [f32],
) {
    check_extent("col2im", data, layout);
    let [n, c, h, w]: [usize; 4] = shape.try_into().expect("NCHW output");
    let (ho, wo) = (
        window.output_size(h).expect("window fits"),
        window.output_size(w).expect("window fits"),
    );
    let k = window.kernel;
    assert_eq!(
        layout.shape[..],
        [k * k * c, n * ho * wo],
        "col2im: input shape"
    );
    assert_eq!(dst.len(), numel(shape), "col2im: output size");
    let [rs, cs]: [isize; 2] = layout.strides[..].try_into().expect("a matrix");
    let s = window.stride;
    split_units(dst, h * w, &|first_plane, planes| {
        for (p, plane) in planes.chunks_exact_mut(h * w).enumerate() {
            let (img, ch) = ((first_plane + p) / c, (first_plane + p) % c);
            plane.fill(0.0);
            for kh in 0..k {
                let (h0, h_valid) = window.tap_range(kh, h, ho);
                for kw in 0..k {
                    let (w0, w_valid) = window.tap_range(kw, w, wo);
                    if w_valid.is_empty() {
                        continue;
                    }
                    let row = layout.offset as isize + ((kh * k + kw) * c + ch) as isize * rs;
                    let x0 = (w_valid.start * s) as isize + w0;
                    let span = (w_valid.len() - 1) * s + 1;
                    for oh in h_valid.clone() {
                        let y = (oh * s) as isize + h0;
                        let start = y as usize * w + x0 as usize;
                        let line = &mut plane[start..start + span];
                        let column = ((img * ho + oh) * wo + w_valid.start) as isize;
                        add_strided(line, s, data, row + column * cs, cs, w_valid.len());
                    }
                }
            }
        }
    });
}

/// `line[j·s] += data[at + j·step]` for `j < len`, in order.
fn add_strided(line: &mut [f32], s: usize, data: &[f32], at: isize, step: isize, len: usize) {
    if step == 1 {
        let src = &data[at as usize..at as usize + len];
        if s == 1 {
            for (t, &v) in line.iter_mut().zip(src) {
                *t += v;
            }
        } else {
            for (t, &v) in line.iter_mut().step_by(s).zip(src) {
                *t += v;
            }
        }
    } else {
        for (j, t) in line.iter_mut().step_by(s).take(len).enumerate() {
            *t += data[(at + j as isize * step) as usize];
        }
    }
}

/// The interpreter's im2col of `x` (f32) into a new buffer of `shape`.
pub(super) fn im2col(x: &Realized, window: Window, shape: &[usize]) -> Realized {
    let mut out = vec![0.0; numel(shape)];
    im2col_into(x.buffer.as_f32(), &x.layout, window, &mut out);
    Realized::from_f32(out, shape)
}

/// The interpreter's col2im of `x` (f32) into a new buffer of `shape`.
pub(super) fn col2im(x: &Realized, window: Window, shape: &[usize]) -> Realized {
    let mut out = vec![0.0; numel(shape)];
    col2im_into(x.buffer.as_f32(), &x.layout, window, shape, &mut out);
    Realized::from_f32(out, shape)
}
