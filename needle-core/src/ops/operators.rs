//! `+ − · /` and unary `−` for `Tensor` and `&Tensor` against tensors and `f32`, in both
//! orders (`c − t` is `c − t`, not `t − c`).

use std::ops::{Add, Div, Mul, Neg, Sub};

use crate::tensor::Tensor;

macro_rules! tensor_binary_operators {
    ($trait:ident, $method:ident) => {
        impl $trait<&Tensor> for &Tensor {
            type Output = Tensor;
            #[track_caller]
            fn $method(self, rhs: &Tensor) -> Tensor {
                Tensor::$method(self, rhs)
            }
        }
        impl $trait<Tensor> for &Tensor {
            type Output = Tensor;
            #[track_caller]
            fn $method(self, rhs: Tensor) -> Tensor {
                Tensor::$method(self, &rhs)
            }
        }
        impl $trait<&Tensor> for Tensor {
            type Output = Tensor;
            #[track_caller]
            fn $method(self, rhs: &Tensor) -> Tensor {
                Tensor::$method(&self, rhs)
            }
        }
        impl $trait<Tensor> for Tensor {
            type Output = Tensor;
            #[track_caller]
            fn $method(self, rhs: Tensor) -> Tensor {
                Tensor::$method(&self, &rhs)
            }
        }
        impl $trait<f32> for &Tensor {
            type Output = Tensor;
            #[track_caller]
            fn $method(self, rhs: f32) -> Tensor {
                Tensor::$method(self, rhs)
            }
        }
        impl $trait<f32> for Tensor {
            type Output = Tensor;
            #[track_caller]
            fn $method(self, rhs: f32) -> Tensor {
                Tensor::$method(&self, rhs)
            }
        }
    };
}

tensor_binary_operators!(Add, add);
tensor_binary_operators!(Sub, sub);
tensor_binary_operators!(Mul, mul);
tensor_binary_operators!(Div, div);

macro_rules! scalar_lhs_operators {
    ($trait:ident, $method:ident, |$c:ident, $t:ident| $body:expr) => {
        impl $trait<&Tensor> for f32 {
            type Output = Tensor;
            #[track_caller]
            fn $method(self, rhs: &Tensor) -> Tensor {
                let ($c, $t) = (self, rhs);
                $body
            }
        }
        impl $trait<Tensor> for f32 {
            type Output = Tensor;
            #[track_caller]
            fn $method(self, rhs: Tensor) -> Tensor {
                let ($c, $t) = (self, &rhs);
                $body
            }
        }
    };
}

scalar_lhs_operators!(Add, add, |c, t| t.add(c));
scalar_lhs_operators!(Sub, sub, |c, t| t.rsub_scalar(c));
scalar_lhs_operators!(Mul, mul, |c, t| t.mul(c));
scalar_lhs_operators!(Div, div, |c, t| t.rdiv_scalar(c));

impl Neg for &Tensor {
    type Output = Tensor;
    #[track_caller]
    fn neg(self) -> Tensor {
        Tensor::neg(self)
    }
}

impl Neg for Tensor {
    type Output = Tensor;
    #[track_caller]
    fn neg(self) -> Tensor {
        Tensor::neg(&self)
    }
}
