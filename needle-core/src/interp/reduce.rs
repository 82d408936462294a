//! Reductions: every input element is folded into its output slot in logical order. Sums
//! accumulate in f32 in numpy's order (see [`super::pairwise`]): pairwise over each trailing
//! run of reduced axes, element by element otherwise.

use super::pairwise::{pairwise_sum, run_start};
use super::rows::for_each_row;
use crate::op::ReduceOp;
use crate::shape::{contiguous_strides, numel};
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
        ReduceOp::Sum => sum(axes, x, &out_strides, n_out),
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

/// The sums over `axes` of `x` into `n_out` outputs (`out_strides`: the output's strides over
/// the input's axes, 0 on reduced ones).
fn sum(axes: &[usize], x: &Realized, out_strides: &[isize], n_out: usize) -> Vec<f32> {
    let mut out = vec![0.0f32; n_out];
    let shape = &x.layout.shape;
    if numel(shape) == 0 {
        return out;
    }
    let data = x.buffer.as_f32();
    let in_strides = &x.layout.strides;
    let inner = |strides: &[isize]| strides.last().copied().unwrap_or(0);
    let Some(start) = run_start(shape, |a| axes.contains(&a)) else {
        let (in_inner, out_inner) = (inner(in_strides), inner(out_strides));
        let strides: [&[isize]; 2] = [in_strides, out_strides];
        for_each_row(shape, &strides, &[x.layout.offset, 0], |pos, len| {
            let (mut i, mut o) = (pos[0], pos[1]);
            for _ in 0..len {
                out[o as usize] += data[i as usize];
                i += in_inner;
                o += out_inner;
            }
        });
        return out;
    };
    let (run_shape, run_strides) = (&shape[start..], &in_strides[start..]);
    let run_len = numel(run_shape);
    // A run that is one stretch of memory is summed in place; any other is gathered first.
    let contiguous = run_shape
        .iter()
        .zip(run_strides)
        .rev()
        .filter(|(&d, _)| d > 1)
        .try_fold(1isize, |expected, (&d, &s)| {
            (s == expected).then_some(expected * d as isize)
        })
        .is_some();
    let mut run = Vec::with_capacity(if contiguous { 0 } else { run_len });
    let mut run_sum = |first: isize| {
        if contiguous {
            // Its elements are the `run_len` consecutive ones from `first`.
            pairwise_sum(&data[first as usize..first as usize + run_len])
        } else {
            run.clear();
            for_each_row(run_shape, &[run_strides], &[first as usize], |pos, len| {
                let (mut i, step) = (pos[0], inner(run_strides));
                for _ in 0..len {
                    run.push(data[i as usize]);
                    i += step;
                }
            });
            pairwise_sum(&run)
        }
    };
    let (outer_shape, outer_in, outer_out) =
        (&shape[..start], &in_strides[..start], &out_strides[..start]);
    let strides: [&[isize]; 2] = [outer_in, outer_out];
    for_each_row(outer_shape, &strides, &[x.layout.offset, 0], |pos, len| {
        let (mut i, mut o) = (pos[0], pos[1]);
        let (in_step, out_step) = (inner(outer_in), inner(outer_out));
        for _ in 0..len {
            out[o as usize] += run_sum(i);
            i += in_step;
            o += out_step;
        }
    });
    out
}
