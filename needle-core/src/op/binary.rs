//! The binary family: elementwise functions of two equally shaped inputs, one line per op
//! (name and f32 function; a comparison names its [`Comparison`](super::Comparison)). Its
//! gradient rules are in `autodiff/binary.rs`, its kernel in `interp/binary.rs`, its `Tensor`
//! methods in `ops/binary.rs`.

binary_table! {
    /// Elementwise functions of two equally shaped inputs (broadcasts are explicit views).
    BinaryOp {
        arithmetic {
            /// a + b
            Add => "add", |a, b| a + b;
            /// a − b
            Sub => "sub", |a, b| a - b;
            /// a · b
            Mul => "mul", |a, b| a * b;
            /// a / b
            Div => "div", |a, b| a / b;
            /// max(a, b), as numpy's `maximum`: NaN when either is NaN.
            Max => "max", maximum;
            /// a where b ≠ 0, else 0 (`torch.where(b, a, 0)`): unlike `a · b`, a masked-out
            /// infinity or NaN gives 0.
            Mask => "mask", |a, b| if b != 0.0 { a } else { 0.0 };
        }
        comparisons {
            /// 1 if a == b else 0
            Eq => "eq";
            /// 1 if a != b else 0
            Ne => "ne";
            /// 1 if a > b else 0
            Gt => "gt";
            /// 1 if a >= b else 0
            Ge => "ge";
            /// 1 if a < b else 0
            Lt => "lt";
            /// 1 if a <= b else 0
            Le => "le";
        }
    }
}

/// numpy's `maximum(a, b)`: `a` when it is NaN or larger, else `b` (so a NaN `b` wins too).
#[inline]
pub(crate) fn maximum(a: f32, b: f32) -> f32 {
    if a.is_nan() || a > b {
        a
    } else {
        b
    }
}
