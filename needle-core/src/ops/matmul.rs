//! Matrix products with NumPy semantics: 2-D, batched, broadcast batch axes, 1-D promotion.

use crate::op::Op;
use crate::ops::require_f32;
use crate::shape::{broadcast_dims, fmt_shape, or_panic, Dims};
use crate::tensor::Tensor;

impl Tensor {
    /// Matrix product `self @ rhs` with NumPy's `matmul` rules: the last two axes multiply,
    /// leading (batch) axes broadcast; a 1-D operand is treated as a row (left) or column
    /// (right) vector and that axis is removed from the result.
    ///
    /// ```
    /// use needle_core::Tensor;
    /// let a = Tensor::from_vec(vec![1.0, 2.0, 3.0, 4.0], &[2, 2]);
    /// let b = Tensor::eye(2);
    /// assert_eq!(a.matmul(&b).to_vec(), a.to_vec());
    /// ```
    #[track_caller]
    pub fn matmul(&self, rhs: &Tensor) -> Tensor {
        let (na, nb) = (self.node(), rhs.node());
        let (sa, sb) = (na.shape(), nb.shape());
        require_f32(|| "matmul", self.dtype());
        require_f32(|| "matmul", rhs.dtype());
        assert!(
            !sa.is_empty() && !sb.is_empty(),
            "matmul: operands must have at least one axis, got shapes {} and {}",
            fmt_shape(sa),
            fmt_shape(sb)
        );
        if sa.len() == 1 || sb.len() == 1 {
            return self.matmul_vector(rhs);
        }
        let (m, k) = (sa[sa.len() - 2], sa[sa.len() - 1]);
        let (k2, n) = (sb[sb.len() - 2], sb[sb.len() - 1]);
        assert!(
            k == k2,
            "matmul: shapes {} and {} are not compatible (inner sizes {k} and {k2} differ)",
            fmt_shape(sa),
            fmt_shape(sb)
        );
        // A batched left operand against a plain matrix is one big matrix product: cheaper in
        // every backend, and its weight gradient needs no batch reduction.
        if sb.len() == 2 && sa.len() > 2 {
            let rows: usize = sa[..sa.len() - 1].iter().product();
            let out = self.reshape(&[rows, k]).matmul(rhs);
            let mut shape = sa[..sa.len() - 1].to_vec();
            shape.push(n);
            return out.reshape(&shape);
        }
        let batch = or_panic(
            broadcast_dims(&sa[..sa.len() - 2], &sb[..sb.len() - 2]),
            || {
                format!(
                    "matmul: batch axes of shapes {} and {} are not broadcastable",
                    fmt_shape(sa),
                    fmt_shape(sb)
                )
            },
        );
        let mut a_shape = batch.clone();
        a_shape.push(m);
        a_shape.push(k);
        let mut b_shape = batch.clone();
        b_shape.push(k);
        b_shape.push(n);
        let a = if sa == a_shape.as_slice() {
            na.clone()
        } else {
            self.broadcast_to(&a_shape).node()
        };
        let b = if sb == b_shape.as_slice() {
            nb.clone()
        } else {
            rhs.broadcast_to(&b_shape).node()
        };
        let mut out_shape: Dims = batch;
        out_shape.push(m);
        out_shape.push(n);
        Tensor::record(
            Op::MatMul,
            smallvec::smallvec![a, b],
            out_shape,
            crate::DType::F32,
        )
    }

    /// [`matmul`](Self::matmul) with a 1-D operand, by PyTorch's rules: a 1-D left operand
    /// is a row (its axis removed from the result), a 1-D right operand a column (likewise);
    /// two 1-D operands give their dot product, a 0-d tensor.
    #[track_caller]
    fn matmul_vector(&self, rhs: &Tensor) -> Tensor {
        let (sa, sb) = (self.shape(), rhs.shape());
        let (k, k2) = (sa[sa.len() - 1], sb[sb.len().saturating_sub(2)]);
        assert!(
            k == k2,
            "matmul: shapes {} and {} are not compatible (inner sizes {k} and {k2} differ)",
            fmt_shape(&sa),
            fmt_shape(&sb)
        );
        let a = if sa.len() == 1 {
            self.reshape(&[1, k])
        } else {
            self.clone()
        };
        let b = if sb.len() == 1 {
            rhs.reshape(&[k, 1])
        } else {
            rhs.clone()
        };
        let out = a.matmul(&b);
        let mut shape = out.shape();
        let nd = shape.len();
        match (sa.len() == 1, sb.len() == 1) {
            (true, true) => shape.clear(),
            (true, false) => {
                shape.remove(nd - 2);
            }
            _ => {
                shape.pop();
            }
        }
        out.reshape(&shape)
    }
}
