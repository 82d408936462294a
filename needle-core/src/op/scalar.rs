//! The scalar family: elementwise functions of a tensor and a constant `c` baked into the
//! op, one line per op (name and f32 function of `(x, c)`; a comparison names its
//! [`Comparison`](super::Comparison)). Its gradient rules are in `autodiff/scalar.rs`, its
//! kernel in `interp/scalar.rs`; its `Tensor` methods are those of `ops/binary.rs` given a
//! number, and `ops/scalar.rs`.

use super::binary::maximum;

binary_table! {
    /// Elementwise functions of a tensor and a constant scalar `c` baked into the op.
    ScalarOp {
        arithmetic {
            /// x + c
            Add => "add_scalar", |x, c| x + c;
            /// x · c
            Mul => "mul_scalar", |x, c| x * c;
            /// x / c
            Div => "div_scalar", |x, c| x / c;
            /// c / x
            RDiv => "rdiv_scalar", |x, c| c / x;
            /// xᶜ
            Pow => "pow_scalar", pow;
            /// max(x, c)
            Max => "max_scalar", maximum;
        }
        comparisons {
            /// 1 if x == c else 0
            Eq => "eq_scalar";
            /// 1 if x != c else 0
            Ne => "ne_scalar";
            /// 1 if x > c else 0
            Gt => "gt_scalar";
            /// 1 if x >= c else 0
            Ge => "ge_scalar";
            /// 1 if x < c else 0
            Lt => "lt_scalar";
            /// 1 if x <= c else 0
            Le => "le_scalar";
        }
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
