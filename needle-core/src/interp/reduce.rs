//! Reductions: every input element is folded into its output slot in one pass over the input
//! in logical order. Sums accumulate in f64 so long reductions (60,000-row losses) keep f32
//! precision; the result is rounded once.

use super::for_each_row;
use crate::op::ReduceOp;
use crate::shape::contiguous_strides;
use crate::storage::Realized;

pub(super) fn reduce(op: ReduceOp, axes: &[usize], x: &Realized) -> Realized {
    let in_shape = &x.layout.shape;
    let mut out_shape = in_shape.clone();
    for &a in axes {
        out_shape[a] = 1;
    }
    let mut out_strides = contiguous_strides(&out_shape);
    for &a in axes {
        out_strides[a] = 0;
    }
    let n_out: usize = out_shape.iter().product();
    let data = x.buffer.as_f32();
    let in_inner = *x.layout.strides.last().unwrap_or(&1);
    let out_inner = *out_strides.last().unwrap_or(&1);
    let strides: [&[isize]; 2] = [&x.layout.strides, &out_strides];
    let values: Vec<f32> = match op {
        ReduceOp::Sum => {
            let mut acc = vec![0.0f64; n_out];
            for_each_row(in_shape, &strides, &[x.layout.offset, 0], |pos, len| {
                let (mut i, o) = (pos[0], pos[1] as usize);
                if out_inner == 0 {
                    let mut s = 0.0f64;
                    for _ in 0..len {
                        s += data[i as usize] as f64;
                        i += in_inner;
                    }
                    acc[o] += s;
                } else {
                    for slot in &mut acc[o..o + len] {
                        *slot += data[i as usize] as f64;
                        i += in_inner;
                    }
                }
            });
            acc.into_iter().map(|v| v as f32).collect()
        }
        ReduceOp::Max => {
            let mut acc = vec![f32::NEG_INFINITY; n_out];
            // numpy's `maximum.reduce`: slot = maximum(slot, v), so NaN wins and of equal
            // values (−0 and +0) the later one.
            let fold = |slot: &mut f32, v: f32| {
                if !(*slot > v || slot.is_nan()) {
                    *slot = v;
                }
            };
            for_each_row(in_shape, &strides, &[x.layout.offset, 0], |pos, len| {
                let (mut i, mut o) = (pos[0], pos[1] as usize);
                for _ in 0..len {
                    fold(&mut acc[o], data[i as usize]);
                    i += in_inner;
                    o = (o as isize + out_inner) as usize;
                }
            });
            acc
        }
    };
    Realized::from_f32(values, &out_shape)
}
