//! The elementwise loops the unary, scalar and binary kernels share. Each allocates exactly
//! its result and fills it in logical order; compact operands take a straight slice loop the
//! compiler vectorizes. A kernel passes its op's function as a type of its own (see
//! [`UnaryKernel`](crate::op::UnaryKernel)), so each op gets its own inlined loop.

use super::rows::for_each_row;
use crate::storage::Realized;

/// `f` of every element of `x`, as a compact tensor of `x`'s shape.
pub(super) fn map1(x: &Realized, f: impl Fn(f32) -> f32) -> Realized {
    let shape = &x.layout.shape;
    if let Some(src) = x.contiguous_f32() {
        return Realized::from_f32(src.iter().map(|&v| f(v)).collect(), shape);
    }
    let data = x.buffer.as_f32();
    let mut out = Vec::with_capacity(x.layout.numel());
    for_each_row(
        shape,
        &[&x.layout.strides],
        &[x.layout.offset],
        |pos, len| {
            let stride = *x.layout.strides.last().unwrap_or(&1);
            let mut p = pos[0];
            for _ in 0..len {
                out.push(f(data[p as usize]));
                p += stride;
            }
        },
    );
    Realized::from_f32(out, shape)
}

/// `f` of the elements of `a` and `b` (equal shapes) pairwise, as a compact tensor.
pub(super) fn map2(a: &Realized, b: &Realized, f: impl Fn(f32, f32) -> f32) -> Realized {
    let shape = &a.layout.shape;
    if let (Some(sa), Some(sb)) = (a.contiguous_f32(), b.contiguous_f32()) {
        return Realized::from_f32(sa.iter().zip(sb).map(|(&x, &y)| f(x, y)).collect(), shape);
    }
    let (da, db) = (a.buffer.as_f32(), b.buffer.as_f32());
    let (la, lb) = (&a.layout, &b.layout);
    let inner_a = *la.strides.last().unwrap_or(&1);
    let inner_b = *lb.strides.last().unwrap_or(&1);
    let mut out = Vec::with_capacity(la.numel());
    for_each_row(
        shape,
        &[&la.strides, &lb.strides],
        &[la.offset, lb.offset],
        |pos, len| {
            let (pa, pb) = (pos[0] as usize, pos[1] as usize);
            match (inner_a, inner_b) {
                (1, 1) => out.extend(
                    da[pa..pa + len]
                        .iter()
                        .zip(&db[pb..pb + len])
                        .map(|(&x, &y)| f(x, y)),
                ),
                (1, 0) => {
                    let y = db[pb];
                    out.extend(da[pa..pa + len].iter().map(|&x| f(x, y)));
                }
                (0, 1) => {
                    let x = da[pa];
                    out.extend(db[pb..pb + len].iter().map(|&y| f(x, y)));
                }
                _ => {
                    let (mut ia, mut ib) = (pos[0], pos[1]);
                    for _ in 0..len {
                        out.push(f(da[ia as usize], db[ib as usize]));
                        ia += inner_a;
                        ib += inner_b;
                    }
                }
            }
        },
    );
    Realized::from_f32(out, shape)
}
