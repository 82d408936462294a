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
        for (r, row) in rows.chunks_mut(row_len).enumerate() {
            let r = first_row + r;
            let (kh, kw, ch) = (r / (k * c), (r / c) % k, r % c);
            let (h0, h_valid) = window.tap_range(kh, h, ho);
            let (w0, w_valid) = window.tap_range(kw, w, wo);
            for (line, out) in row.chunks_mut(wo).enumerate() {
                let (img, oh) = (line / ho, line % ho);
                if !h_valid.contains(&oh) {
                    out.fill(0.0);
                    continue;
                }
                out[..w_valid.start].fill(0.0);
                out[w_valid.end..].fill(0.0);
                let y = oh as isize * s + h0;
                let base = layout.offset as isize + img as isize * sn + ch as isize * sc + y * sh;
                let step = s * sw;
                let at = base + (w_valid.start as isize * s + w0) * sw;
                let out = &mut out[w_valid.clone()];
                if out.is_empty() {
                    continue;
                }
                if step == 1 {
                    out.copy_from_slice(&data[at as usize..at as usize + out.len()]);
                } else if step > 0 {
                    // One bounds check for the stretch, none per element.
                    let last = at as usize + (out.len() - 1) * step as usize;
                    let src = data[at as usize..=last].iter().step_by(step as usize);
                    for (v, &x) in out.iter_mut().zip(src) {
                        *v = x;
                    }
                } else {
                    let mut at = at;
                    for v in out {
                        *v = data[at as usize];
                        at += step;
                    }
                }
            }
        }
    });
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
        for (p, plane) in planes.chunks_mut(h * w).enumerate() {
            let (img, ch) = ((first_plane + p) / c, (first_plane + p) % c);
            plane.fill(0.0);
            for kh in 0..k {
                let (h0, h_valid) = window.tap_range(kh, h, ho);
                for kw in 0..k {
                    let (w0, w_valid) = window.tap_range(kw, w, wo);
                    let row = layout.offset as isize + ((kh * k + kw) * c + ch) as isize * rs;
                    if w_valid.is_empty() {
                        continue;
                    }
                    let x0 = (w_valid.start * s) as isize + w0;
                    for oh in h_valid.clone() {
                        let y = (oh * s) as isize + h0;
                        let line = &mut plane[y as usize * w + x0 as usize..(y as usize + 1) * w];
                        let column = ((img * ho + oh) * wo + w_valid.start) as isize;
                        let first = row + column * cs;
                        let targets = line.iter_mut().step_by(s);
                        if cs == 1 {
                            let src = &data[first as usize..first as usize + w_valid.len()];
                            for (t, &v) in targets.zip(src) {
                                *t += v;
                            }
                        } else {
                            for (j, t) in targets.take(w_valid.len()).enumerate() {
                                *t += data[(first + j as isize * cs) as usize];
                            }
                        }
                    }
                }
            }
        }
    });
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
