//! Reductions and the numerically stable composites built on them.

use crate::op::{Op, ReduceOp};
use crate::ops::{require_f32, resolve_axes};
use crate::tensor::Tensor;

impl Tensor {
    #[track_caller]
    fn reduce(&self, op: ReduceOp, axes: &[usize], keepdim: bool) -> Tensor {
        let node = self.node();
        require_f32(|| format!("{op:?}").to_lowercase(), node.dtype());
        let in_shape = crate::shape::Dims::from_slice(node.shape());
        if op == ReduceOp::Max {
            if let Some(&a) = axes.iter().find(|&&a| in_shape[a] == 0) {
                panic!(
                    "max: cannot reduce over an axis of size 0 (axis {a} of shape {:?}): \
                     the maximum of nothing is undefined",
                    in_shape.as_slice()
                );
            }
        }
        let mut kept = in_shape.clone();
        for &a in axes {
            kept[a] = 1;
        }
        let reduced = if axes.is_empty() {
            self.clone()
        } else {
            Tensor::record(
                Op::Reduce(op, axes.to_vec()),
                smallvec::smallvec![node],
                kept,
                crate::DType::F32,
            )
        };
        if keepdim {
            reduced
        } else {
            let squeezed = crate::shape::dims_of(
                in_shape
                    .iter()
                    .enumerate()
                    .filter(|(i, _)| !axes.contains(i))
                    .map(|(_, &d)| d),
            );
            reduced.reshape(&squeezed)
        }
    }

    /// Sum over `axes` (negative axes count from the end); `keepdim` keeps them with size 1.
    /// Accumulates in f32 in numpy's order (pairwise over contiguous runs, `interp/pairwise.rs`): the result
    /// equals `np.sum` bit for bit on the same C-contiguous f32 data, in every mode.
    ///
    /// ```
    /// use needle_core::Tensor;
    /// let x = Tensor::from_vec(vec![1.0, 2.0, 3.0, 4.0], &[2, 2]);
    /// assert_eq!(x.sum(&[1], false).to_vec(), vec![3.0, 7.0]);
    /// ```
    #[track_caller]
    pub fn sum(&self, axes: &[isize], keepdim: bool) -> Tensor {
        let axes = resolve_axes("sum", axes, &self.shape());
        self.reduce(ReduceOp::Sum, &axes, keepdim)
    }

    /// Sum of all elements, a 0-d tensor (in numpy's order, as [`Tensor::sum`]).
    #[track_caller]
    pub fn sum_all(&self) -> Tensor {
        let axes: Vec<usize> = (0..self.ndim()).collect();
        self.reduce(ReduceOp::Sum, &axes, false)
    }

    /// Maximum over `axes` (the gradient is split evenly between tied maxima).
    #[track_caller]
    pub fn max(&self, axes: &[isize], keepdim: bool) -> Tensor {
        let axes = resolve_axes("max", axes, &self.shape());
        self.reduce(ReduceOp::Max, &axes, keepdim)
    }

    /// Maximum of all elements, a 0-d tensor.
    #[track_caller]
    pub fn max_all(&self) -> Tensor {
        let axes: Vec<usize> = (0..self.ndim()).collect();
        self.reduce(ReduceOp::Max, &axes, false)
    }

    /// Mean over `axes`: the sum divided by the count in f32, which is `np.mean`'s result on
    /// f32 data (for counts below 2^24, exact in f32).
    #[track_caller]
    pub fn mean(&self, axes: &[isize], keepdim: bool) -> Tensor {
        let shape = self.shape();
        let resolved = resolve_axes("mean", axes, &shape);
        let count: usize = resolved.iter().map(|&a| shape[a]).product();
        self.reduce(ReduceOp::Sum, &resolved, keepdim) / count as f32
    }

    /// Mean of all elements, a 0-d tensor (as [`Tensor::mean`]).
    #[track_caller]
    pub fn mean_all(&self) -> Tensor {
        let n = self.numel();
        self.sum_all() / n as f32
    }

    /// Biased variance (÷N) over `axes`, as the course's normalization layers use.
    #[track_caller]
    pub fn var(&self, axes: &[isize], keepdim: bool) -> Tensor {
        let mean = self.mean(axes, true);
        (self - &mean).square().mean(axes, keepdim)
    }

    /// `log Σ exp` over `axes`, computed as `log Σ exp(x − m) + m` with `m` the (detached)
    /// maximum so it stays finite for huge inputs; the gradient is the softmax.
    #[track_caller]
    pub fn logsumexp(&self, axes: &[isize], keepdim: bool) -> Tensor {
        let shape = self.shape();
        let resolved = resolve_axes("logsumexp", axes, &shape);
        if resolved.iter().any(|&a| shape[a] == 0) {
            // log Σ over nothing is log 0 = −inf (PyTorch); there is no maximum to shift by.
            return self.exp().reduce(ReduceOp::Sum, &resolved, keepdim).log();
        }
        let m = self.reduce(ReduceOp::Max, &resolved, true).detach();
        // An infinite maximum is clamped to the largest finite value, as PyTorch replaces it
        // by 0: shifting by ±inf would give inf − inf = NaN, where the answer is +inf (a +inf
        // element) or −inf (all elements −inf). A NaN maximum stays NaN.
        let m = -(-m.maximum(f32::MIN)).maximum(f32::MIN);
        let shifted = (self - &m)
            .exp()
            .reduce(ReduceOp::Sum, &resolved, true)
            .log()
            + &m;
        if keepdim {
            shifted
        } else {
            let squeezed: Vec<usize> = shape
                .iter()
                .enumerate()
                .filter(|(i, _)| !resolved.contains(i))
                .map(|(_, &d)| d)
                .collect();
            shifted.reshape(&squeezed)
        }
    }

    /// Running sum along `axis` (negative counts from the end), as `np.cumsum`: accumulated
    /// in f32 in order, so it equals numpy's bits (PyTorch accumulates float in double and
    /// can differ in the last place). The gradient is the running sum of the output's
    /// gradient from the end. In the JIT it runs as a host step (the interpreter's kernel).
    ///
    /// ```
    /// use needle_core::Tensor;
    /// let x = Tensor::from_vec(vec![1.0, 2.0, 3.0, 4.0, 5.0, 6.0], &[2, 3]);
    /// assert_eq!(x.cumsum(1).to_vec(), vec![1.0, 3.0, 6.0, 4.0, 9.0, 15.0]);
    /// ```
    #[track_caller]
    pub fn cumsum(&self, axis: isize) -> Tensor {
        let node = self.node();
        require_f32(|| "cumsum", node.dtype());
        let a = resolve_axes("cumsum", &[axis], node.shape())[0];
        let shape = crate::shape::Dims::from_slice(node.shape());
        Tensor::record(
            Op::Cumsum(a),
            smallvec::smallvec![node],
            shape,
            crate::DType::F32,
        )
    }

    /// Softmax along `axis` (max-subtracted).
    #[track_caller]
    pub fn softmax(&self, axis: isize) -> Tensor {
        let shape = self.shape();
        let a = resolve_axes("softmax", &[axis], &shape)[0];
        if shape[a] == 0 {
            // Nothing to normalize: an empty result of the same shape (PyTorch).
            return self.exp();
        }
        let m = self.max(&[axis], true).detach();
        let e = (self - &m).exp();
        let s = e.sum(&[axis], true);
        e / s
    }

    /// `x − logsumexp(x)` along `axis`.
    #[track_caller]
    pub fn log_softmax(&self, axis: isize) -> Tensor {
        self - &self.logsumexp(&[axis], true)
    }
}
