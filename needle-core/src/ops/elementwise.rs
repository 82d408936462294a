//! Elementwise ops: unary functions, ops with a scalar, and broadcasting binary ops.

use crate::op::{BinaryOp, Op, ScalarOp, UnaryOp};
use crate::ops::require_f32;
use crate::shape::{broadcast_dims, fmt_shape, or_panic, Dims};
use crate::tensor::Tensor;
use smallvec::smallvec;

/// The right-hand side of a binary op: another tensor or a plain number.
pub enum Operand {
    /// A tensor (broadcast with NumPy rules).
    Tensor(Tensor),
    /// A constant.
    Scalar(f32),
}

impl From<f32> for Operand {
    fn from(v: f32) -> Self {
        Operand::Scalar(v)
    }
}

impl From<Tensor> for Operand {
    fn from(t: Tensor) -> Self {
        Operand::Tensor(t)
    }
}

impl From<&Tensor> for Operand {
    fn from(t: &Tensor) -> Self {
        Operand::Tensor(t.clone())
    }
}

impl Tensor {
    #[track_caller]
    pub(crate) fn unary(&self, op: UnaryOp) -> Tensor {
        let node = self.node();
        require_f32(|| Op::Unary(op).name(), node.dtype());
        let shape = Dims::from_slice(node.shape());
        Tensor::record(Op::Unary(op), smallvec![node], shape, crate::DType::F32)
    }

    #[track_caller]
    pub(crate) fn scalar_op(&self, op: ScalarOp, c: f32) -> Tensor {
        let node = self.node();
        require_f32(|| Op::Scalar(op, c).name(), node.dtype());
        let shape = Dims::from_slice(node.shape());
        Tensor::record(Op::Scalar(op, c), smallvec![node], shape, crate::DType::F32)
    }

    /// Binary op of two tensors with NumPy broadcasting (inserting explicit broadcast views).
    #[track_caller]
    pub(crate) fn binary(&self, op: BinaryOp, other: &Tensor) -> Tensor {
        let name = || Op::Binary(op).name();
        let (a, b) = (self.node(), other.node());
        require_f32(name, a.dtype());
        require_f32(name, b.dtype());
        let shape = or_panic(broadcast_dims(a.shape(), b.shape()), || {
            format!(
                "{}: shapes {} and {} are not broadcastable",
                name(),
                fmt_shape(a.shape()),
                fmt_shape(b.shape())
            )
        });
        let a = if a.shape() == shape.as_slice() {
            a
        } else {
            self.broadcast_to(&shape).node()
        };
        let b = if b.shape() == shape.as_slice() {
            b
        } else {
            other.broadcast_to(&shape).node()
        };
        Tensor::record(Op::Binary(op), smallvec![a, b], shape, crate::DType::F32)
    }

    #[track_caller]
    fn dispatch(&self, rhs: Operand, tensor_op: BinaryOp, scalar_op: ScalarOp) -> Tensor {
        match rhs {
            Operand::Tensor(t) => self.binary(tensor_op, &t),
            Operand::Scalar(c) => self.scalar_op(scalar_op, c),
        }
    }

    /// `self + rhs` (tensor with broadcasting, or scalar).
    #[track_caller]
    pub fn add(&self, rhs: impl Into<Operand>) -> Tensor {
        self.dispatch(rhs.into(), BinaryOp::Add, ScalarOp::Add)
    }

    /// `self − rhs`.
    #[track_caller]
    pub fn sub(&self, rhs: impl Into<Operand>) -> Tensor {
        match rhs.into() {
            Operand::Tensor(t) => self.binary(BinaryOp::Sub, &t),
            Operand::Scalar(c) => self.scalar_op(ScalarOp::Add, -c),
        }
    }

    /// `self · rhs` (elementwise).
    #[track_caller]
    pub fn mul(&self, rhs: impl Into<Operand>) -> Tensor {
        self.dispatch(rhs.into(), BinaryOp::Mul, ScalarOp::Mul)
    }

    /// `self / rhs` (elementwise).
    #[track_caller]
    pub fn div(&self, rhs: impl Into<Operand>) -> Tensor {
        self.dispatch(rhs.into(), BinaryOp::Div, ScalarOp::Div)
    }

    /// `c − self`.
    #[track_caller]
    pub fn rsub_scalar(&self, c: f32) -> Tensor {
        self.neg().scalar_op(ScalarOp::Add, c)
    }

    /// `c / self`.
    #[track_caller]
    pub fn rdiv_scalar(&self, c: f32) -> Tensor {
        self.scalar_op(ScalarOp::RDiv, c)
    }

    /// Elementwise maximum (ties split the gradient evenly, as PyTorch does).
    #[track_caller]
    pub fn maximum(&self, rhs: impl Into<Operand>) -> Tensor {
        self.dispatch(rhs.into(), BinaryOp::Max, ScalarOp::Max)
    }

    /// `self` where `mask` is non-zero, 0 elsewhere (`torch.where(mask, self, 0)`); `mask`
    /// broadcasts and gets no gradient. Unlike `self * mask`, a masked-out infinity or NaN
    /// gives 0, not NaN.
    ///
    /// ```
    /// use needle_core::Tensor;
    /// let x = Tensor::from_vec(vec![f32::INFINITY, 2.0], &[2]);
    /// let keep = Tensor::from_vec(vec![0.0, 1.0], &[2]);
    /// assert_eq!(x.masked(&keep).to_vec(), vec![0.0, 2.0]);
    /// ```
    #[track_caller]
    pub fn masked(&self, mask: &Tensor) -> Tensor {
        self.binary(BinaryOp::Mask, mask)
    }

    /// Elementwise minimum, `−max(−a, −b)`.
    #[track_caller]
    pub fn minimum(&self, rhs: impl Into<Operand>) -> Tensor {
        match rhs.into() {
            Operand::Tensor(t) => self.neg().maximum(t.neg()).neg(),
            Operand::Scalar(c) => self.neg().maximum(-c).neg(),
        }
    }

    /// Clamps into `[lo, hi]`.
    #[track_caller]
    pub fn clamp(&self, lo: f32, hi: f32) -> Tensor {
        self.maximum(lo).minimum(hi)
    }

    /// `selfⁿ` with a constant exponent.
    #[track_caller]
    pub fn powf(&self, exponent: f32) -> Tensor {
        self.scalar_op(ScalarOp::Pow, exponent)
    }

    /// `self²`.
    #[track_caller]
    pub fn square(&self) -> Tensor {
        self.mul(self)
    }

    /// `−self`.
    #[track_caller]
    pub fn neg(&self) -> Tensor {
        self.unary(UnaryOp::Neg)
    }

    /// `eˢᵉˡᶠ`.
    #[track_caller]
    pub fn exp(&self) -> Tensor {
        self.unary(UnaryOp::Exp)
    }

    /// Natural logarithm.
    #[track_caller]
    pub fn log(&self) -> Tensor {
        self.unary(UnaryOp::Log)
    }

    /// Square root.
    #[track_caller]
    pub fn sqrt(&self) -> Tensor {
        self.unary(UnaryOp::Sqrt)
    }

    /// `max(self, 0)`; the gradient at 0 is 0.
    #[track_caller]
    pub fn relu(&self) -> Tensor {
        self.unary(UnaryOp::Relu)
    }

    /// Hyperbolic tangent.
    #[track_caller]
    pub fn tanh(&self) -> Tensor {
        self.unary(UnaryOp::Tanh)
    }

    /// Logistic sigmoid `1/(1+e⁻ˣ)`.
    #[track_caller]
    pub fn sigmoid(&self) -> Tensor {
        self.unary(UnaryOp::Sigmoid)
    }

    /// Sine, in radians (the gradient is `cos`).
    ///
    /// ```
    /// use needle_core::Tensor;
    /// let x = Tensor::from_vec(vec![0.0, std::f32::consts::FRAC_PI_2], &[2]);
    /// assert_eq!(x.sin().to_vec(), vec![0.0, 1.0]);
    /// ```
    #[track_caller]
    pub fn sin(&self) -> Tensor {
        self.unary(UnaryOp::Sin)
    }

    /// Cosine, in radians (the gradient is `−sin`).
    ///
    /// ```
    /// use needle_core::Tensor;
    /// let x = Tensor::from_vec(vec![0.0, std::f32::consts::PI], &[2]);
    /// assert_eq!(x.cos().to_vec(), vec![1.0, -1.0]);
    /// ```
    #[track_caller]
    pub fn cos(&self) -> Tensor {
        self.unary(UnaryOp::Cos)
    }

    /// 1.0 where equal, else 0.0 (no gradient).
    #[track_caller]
    pub fn eq(&self, rhs: impl Into<Operand>) -> Tensor {
        self.dispatch(rhs.into(), BinaryOp::Eq, ScalarOp::Eq)
    }

    /// 1.0 where different, else 0.0 (no gradient).
    #[track_caller]
    pub fn ne(&self, rhs: impl Into<Operand>) -> Tensor {
        self.dispatch(rhs.into(), BinaryOp::Ne, ScalarOp::Ne)
    }

    /// 1.0 where `self > rhs` (no gradient).
    #[track_caller]
    pub fn gt(&self, rhs: impl Into<Operand>) -> Tensor {
        self.dispatch(rhs.into(), BinaryOp::Gt, ScalarOp::Gt)
    }

    /// 1.0 where `self >= rhs` (no gradient).
    #[track_caller]
    pub fn ge(&self, rhs: impl Into<Operand>) -> Tensor {
        self.dispatch(rhs.into(), BinaryOp::Ge, ScalarOp::Ge)
    }

    /// 1.0 where `self < rhs` (no gradient).
    #[track_caller]
    pub fn lt(&self, rhs: impl Into<Operand>) -> Tensor {
        self.dispatch(rhs.into(), BinaryOp::Lt, ScalarOp::Lt)
    }

    /// 1.0 where `self <= rhs` (no gradient).
    #[track_caller]
    pub fn le(&self, rhs: impl Into<Operand>) -> Tensor {
        self.dispatch(rhs.into(), BinaryOp::Le, ScalarOp::Le)
    }

    /// Converts to f32 (identity on f32 tensors).
    #[track_caller]
    pub fn to_f32(&self) -> Tensor {
        self.cast(crate::DType::F32)
    }

    /// Converts to another dtype (f32 → i64 truncates toward zero). No gradient.
    #[track_caller]
    pub fn cast(&self, dtype: crate::DType) -> Tensor {
        let node = self.node();
        if node.dtype() == dtype {
            return self.clone();
        }
        let shape = Dims::from_slice(node.shape());
        Tensor::record(Op::Cast(dtype), smallvec![node], shape, dtype)
    }
}
