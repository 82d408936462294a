//! Movement kernels that need a new buffer: reshapes of non-compact views, padding, concat
//! and dtype casts. Generic over the element type, since labels (i64) move too.

use super::rows::for_each_row;
use crate::dtype::DType;
use crate::layout::Layout;
use crate::shape::{contiguous_strides, numel};
use crate::storage::{Buffer, Realized};

fn gather<T: Copy>(data: &[T], layout: &Layout) -> Vec<T> {
    let mut out = Vec::with_capacity(layout.numel());
    let inner = *layout.strides.last().unwrap_or(&1);
    for_each_row(
        &layout.shape,
        &[&layout.strides],
        &[layout.offset],
        |pos, len| {
            let mut p = pos[0];
            if inner == 1 {
                out.extend_from_slice(&data[p as usize..p as usize + len]);
            } else {
                for _ in 0..len {
                    out.push(data[p as usize]);
                    p += inner;
                }
            }
        },
    );
    out
}

/// A compact copy of any view.
pub(crate) fn compact(x: &Realized) -> Realized {
    let shape = &x.layout.shape;
    match &*x.buffer {
        Buffer::F32(d) => Realized::from_f32(gather(d, &x.layout), shape),
        Buffer::I64(d) => Realized::from_i64(gather(d, &x.layout), shape),
    }
}

pub(super) fn reshape(x: &Realized, shape: &[usize]) -> Realized {
    match x.layout.reshape(shape) {
        Some(layout) => x.with_layout(layout),
        None => {
            let c = compact(x);
            c.with_layout(Layout::contiguous(shape))
        }
    }
}

/// Writes `src` (logical order) into `dst` at the positions of `layout` (a view of `dst`).
fn scatter<T: Copy>(src: &[T], dst: &mut [T], layout: &Layout) {
    let mut i = 0;
    let inner = *layout.strides.last().unwrap_or(&1);
    for_each_row(
        &layout.shape,
        &[&layout.strides],
        &[layout.offset],
        |pos, len| {
            let mut p = pos[0];
            for _ in 0..len {
                dst[p as usize] = src[i];
                i += 1;
                p += inner;
            }
        },
    );
}

fn pad_typed<T: Copy + Default>(
    src: &[T],
    spec: &[(usize, usize, usize)],
    out_shape: &[usize],
    in_shape: &[usize],
) -> Vec<T> {
    let mut out = vec![T::default(); numel(out_shape)];
    let strides = contiguous_strides(out_shape);
    let offset: isize = spec
        .iter()
        .zip(&strides)
        .map(|(&(b, _, _), &s)| b as isize * s)
        .sum();
    let target = Layout {
        shape: in_shape.to_vec(),
        strides: strides
            .iter()
            .zip(spec)
            .map(|(&s, &(_, _, i))| s * (i as isize + 1))
            .collect(),
        offset: offset as usize,
    };
    scatter(src, &mut out, &target);
    out
}

pub(super) fn pad(x: &Realized, spec: &[(usize, usize, usize)], out_shape: &[usize]) -> Realized {
    let c = compact(x);
    let in_shape = &x.layout.shape;
    match &*c.buffer {
        Buffer::F32(d) => Realized::from_f32(pad_typed(d, spec, out_shape, in_shape), out_shape),
        Buffer::I64(d) => Realized::from_i64(pad_typed(d, spec, out_shape, in_shape), out_shape),
    }
}

fn concat_typed<T: Copy + Default>(
    parts: &[Vec<T>],
    shapes: &[&[usize]],
    axis: usize,
    out_shape: &[usize],
) -> Vec<T> {
    let mut out = vec![T::default(); numel(out_shape)];
    let strides = contiguous_strides(out_shape);
    let mut start = 0usize;
    for (part, shape) in parts.iter().zip(shapes) {
        let target = Layout {
            shape: shape.to_vec(),
            strides: strides.clone(),
            offset: start * strides[axis] as usize,
        };
        scatter(part, &mut out, &target);
        start += shape[axis];
    }
    out
}

pub(super) fn concat(inputs: &[Realized], axis: usize, out_shape: &[usize]) -> Realized {
    let shapes: Vec<&[usize]> = inputs.iter().map(|x| x.layout.shape.as_slice()).collect();
    match inputs[0].buffer.dtype() {
        DType::F32 => {
            let parts: Vec<Vec<f32>> = inputs
                .iter()
                .map(|x| gather(x.buffer.as_f32(), &x.layout))
                .collect();
            Realized::from_f32(concat_typed(&parts, &shapes, axis, out_shape), out_shape)
        }
        DType::I64 => {
            let parts: Vec<Vec<i64>> = inputs
                .iter()
                .map(|x| gather(x.buffer.as_i64(), &x.layout))
                .collect();
            Realized::from_i64(concat_typed(&parts, &shapes, axis, out_shape), out_shape)
        }
    }
}

pub(super) fn cast(x: &Realized, dtype: DType) -> Realized {
    let shape = &x.layout.shape;
    match (&*x.buffer, dtype) {
        (Buffer::F32(_), DType::F32) | (Buffer::I64(_), DType::I64) => x.clone(),
        (Buffer::F32(d), DType::I64) => Realized::from_i64(
            gather(d, &x.layout).into_iter().map(|v| v as i64).collect(),
            shape,
        ),
        (Buffer::I64(d), DType::F32) => Realized::from_f32(
            gather(d, &x.layout).into_iter().map(|v| v as f32).collect(),
            shape,
        ),
    }
}
