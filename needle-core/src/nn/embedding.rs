//! Embedding: a lookup table of learned vectors, indexed by i64 ids.

use crate::dtype::DType;
use crate::module;
use crate::nn::{Forward, Module, Training};
use crate::shape::fmt_shape;
use crate::tensor::Tensor;

/// `torch.nn.Embedding`: a weight of shape (num_embeddings, embedding_dim), initialised from
/// N(0, 1) as PyTorch does; the input is i64 ids of any shape, the output that shape with
/// `embedding_dim` appended. Built on [`Tensor::index_select`], so the weight's gradient adds
/// the output's gradient into the rows looked up (repeated ids accumulate).
///
/// ```
/// use needle_core::nn::{Embedding, Forward};
/// use needle_core::Tensor;
/// let table = Embedding::new(10, 4);
/// let ids = Tensor::from_vec_i64(vec![1, 7, 7], &[3]);
/// assert_eq!(table.forward(&ids).shape().as_slice(), &[3, 4]);
/// ```
#[module]
pub struct Embedding {
    /// (num_embeddings, embedding_dim).
    pub weight: Tensor,
    training: Training,
    #[module(config)]
    num_embeddings: usize,
    #[module(config)]
    embedding_dim: usize,
}

impl Embedding {
    /// A table of `num_embeddings` vectors of size `embedding_dim`, drawn from N(0, 1).
    #[track_caller]
    pub fn new(num_embeddings: usize, embedding_dim: usize) -> Embedding {
        let weight = crate::init::randn(&[num_embeddings, embedding_dim], 0.0, 1.0);
        weight.realize();
        Embedding {
            weight: weight.detach().requires_grad_(true),
            training: Training::default(),
            num_embeddings,
            embedding_dim,
        }
    }
}

impl Forward for Embedding {
    /// The rows of the weight at `ids` (i64, any shape); an id outside
    /// `0..num_embeddings` panics when the value is computed.
    #[track_caller]
    fn forward(&self, ids: &Tensor) -> Tensor {
        if ids.dtype() != DType::I64 {
            panic!(
                "{}({}): input must be i64 ids, got {} {}",
                self.type_name(),
                self.extra_repr(),
                ids.dtype(),
                fmt_shape(&ids.shape())
            );
        }
        let shape = ids.shape();
        let rows = self.weight.index_select(0, &ids.reshape(&[ids.numel()]));
        let mut out_shape = shape.to_vec();
        out_shape.push(self.embedding_dim);
        rows.reshape(&out_shape)
    }
}
