//! Elementwise kernels. Each allocates exactly its result and fills it in logical order;
//! compact operands take a straight slice loop the compiler vectorizes.

use super::for_each_row;
use crate::op::{BinaryOp, ScalarOp, UnaryOp};
use crate::storage::Realized;

fn mask(b: bool) -> f32 {
    if b {
        1.0
    } else {
        0.0
    }
}

/// Scalar semantics shared by every backend (the JIT's differential tests compare to these).
pub fn unary_fn(op: UnaryOp) -> fn(f32) -> f32 {
    match op {
        UnaryOp::Neg => |x| -x,
        UnaryOp::Exp => f32::exp,
        UnaryOp::Log => f32::ln,
        UnaryOp::Sqrt => f32::sqrt,
        // numpy's maximum(x, 0): NaN stays NaN, −0 becomes +0.
        UnaryOp::Relu => |x| if x > 0.0 || x.is_nan() { x } else { 0.0 },
        UnaryOp::Tanh => f32::tanh,
        UnaryOp::Sigmoid => |x| 1.0 / (1.0 + (-x).exp()),
        UnaryOp::Sin => f32::sin,
        UnaryOp::Cos => f32::cos,
    }
}

/// Binary scalar semantics shared by every backend.
pub fn binary_fn(op: BinaryOp) -> fn(f32, f32) -> f32 {
    match op {
        BinaryOp::Add => |a, b| a + b,
        BinaryOp::Sub => |a, b| a - b,
        BinaryOp::Mul => |a, b| a * b,
        BinaryOp::Div => |a, b| a / b,
        BinaryOp::Max => |a, b| if a.is_nan() || a > b { a } else { b },
        BinaryOp::Mask => |a, b| if b != 0.0 { a } else { 0.0 },
        BinaryOp::Eq => |a, b| mask(a == b),
        BinaryOp::Ne => |a, b| mask(a != b),
        BinaryOp::Gt => |a, b| mask(a > b),
        BinaryOp::Ge => |a, b| mask(a >= b),
        BinaryOp::Lt => |a, b| mask(a < b),
        BinaryOp::Le => |a, b| mask(a <= b),
    }
}

/// `xᶜ` as numpy and PyTorch compute it: the exponents 0.5, 2 and −1 are `sqrt`, `x·x` and
/// `1/x` (so `(−inf)^0.5` is NaN and `(−0)^0.5` is −0, as `sqrt` gives), others `powf`.
fn pow(x: f32, c: f32) -> f32 {
    if c == 0.5 {
        x.sqrt()
    } else if c == 2.0 {
        x * x
    } else if c == -1.0 {
        1.0 / x
    } else {
        x.powf(c)
    }
}

/// `x ∘ c` for a scalar op, as a binary function of (x, c).
pub fn scalar_fn(op: ScalarOp) -> fn(f32, f32) -> f32 {
    match op {
        ScalarOp::Add => binary_fn(BinaryOp::Add),
        ScalarOp::Mul => binary_fn(BinaryOp::Mul),
        ScalarOp::Div => binary_fn(BinaryOp::Div),
        ScalarOp::RDiv => |x, c| c / x,
        ScalarOp::Pow => pow,
        ScalarOp::Max => binary_fn(BinaryOp::Max),
        ScalarOp::Eq => binary_fn(BinaryOp::Eq),
        ScalarOp::Ne => binary_fn(BinaryOp::Ne),
        ScalarOp::Gt => binary_fn(BinaryOp::Gt),
        ScalarOp::Ge => binary_fn(BinaryOp::Ge),
        ScalarOp::Lt => binary_fn(BinaryOp::Lt),
        ScalarOp::Le => binary_fn(BinaryOp::Le),
    }
}

fn map1(x: &Realized, f: impl Fn(f32) -> f32) -> Realized {
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

// Each arm instantiates the loop with its own closure, so the compiler inlines and vectorizes
// the operation instead of calling through a function pointer per element.
pub(super) fn unary(op: UnaryOp, x: &Realized) -> Realized {
    match op {
        UnaryOp::Neg => map1(x, |v| -v),
        UnaryOp::Exp => map1(x, f32::exp),
        UnaryOp::Log => map1(x, f32::ln),
        UnaryOp::Sqrt => map1(x, f32::sqrt),
        UnaryOp::Relu => map1(x, |v| if v > 0.0 || v.is_nan() { v } else { 0.0 }),
        UnaryOp::Tanh => map1(x, f32::tanh),
        UnaryOp::Sigmoid => map1(x, |v| 1.0 / (1.0 + (-v).exp())),
        UnaryOp::Sin => map1(x, f32::sin),
        UnaryOp::Cos => map1(x, f32::cos),
    }
}

pub(super) fn scalar(op: ScalarOp, c: f32, x: &Realized) -> Realized {
    match op {
        ScalarOp::Add => map1(x, |v| v + c),
        ScalarOp::Mul => map1(x, |v| v * c),
        ScalarOp::Div => map1(x, |v| v / c),
        ScalarOp::RDiv => map1(x, |v| c / v),
        ScalarOp::Max => map1(x, |v| if v.is_nan() || v > c { v } else { c }),
        _ => {
            let f = scalar_fn(op);
            map1(x, |v| f(v, c))
        }
    }
}

pub(super) fn binary(op: BinaryOp, a: &Realized, b: &Realized) -> Realized {
    match op {
        BinaryOp::Add => map2(a, b, |x, y| x + y),
        BinaryOp::Sub => map2(a, b, |x, y| x - y),
        BinaryOp::Mul => map2(a, b, |x, y| x * y),
        BinaryOp::Div => map2(a, b, |x, y| x / y),
        _ => map2(a, b, binary_fn(op)),
    }
}

fn map2(a: &Realized, b: &Realized, f: impl Fn(f32, f32) -> f32) -> Realized {
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
