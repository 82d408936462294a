//! The course's lecture experiments as library functions (the `manual_nets`, `optimizers`,
//! `init_study`, `fourier_features` and `detach_lesson` examples print and plot them; tests run
//! them on small subsets).

pub mod detach_lesson;
pub mod fourier_features;
pub mod init_study;
pub mod manual_nets;
pub mod optimizers;

use needle_core::data::Mnist;
use needle_core::metrics::count_correct;
use needle_core::{no_grad, Tensor};

/// A split as tensors: images (n, 784) in [0, 1] and i64 labels (n,).
#[derive(Clone)]
pub struct Split {
    /// Images, one row each.
    pub x: Tensor,
    /// Labels.
    pub y: Tensor,
}

impl Split {
    /// The first `limit` items of an MNIST split (all when `None`).
    pub fn from_mnist(data: &Mnist, limit: Option<usize>) -> Split {
        let n = limit.unwrap_or(data.len()).min(data.len());
        let px = data.pixels();
        Split {
            x: Tensor::from_slice(&data.images[..n * px], &[n, px]),
            y: Tensor::from_vec_i64(data.labels[..n].iter().map(|&l| l as i64).collect(), &[n]),
        }
    }

    /// Number of items.
    pub fn len(&self) -> usize {
        self.x.shape()[0]
    }

    /// True when empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Rows `start..start+len` (views, no copy).
    pub fn batch(&self, start: usize, len: usize) -> (Tensor, Tensor) {
        (self.x.narrow(0, start, len), self.y.narrow(0, start, len))
    }
}

/// Mean softmax loss and error rate of `logits` for `labels`, read back as numbers. A row whose
/// logits are not all finite counts as an error (its loss shows as inf or NaN); ties go to the
/// first class, as numpy's argmax ([`count_correct`]).
pub fn loss_and_error(logits: &Tensor, labels: &Tensor) -> (f64, f64) {
    no_grad(|| {
        let (n, k) = (logits.shape()[0], logits.shape()[1]);
        let onehot = Tensor::one_hot(k, labels);
        let loss =
            (logits.logsumexp(&[1], false).sum_all() - (logits * &onehot).sum_all()) / n as f32;
        let wrong = n - count_correct(logits, labels);
        (loss.item() as f64, wrong as f64 / n.max(1) as f64)
    })
}

/// One row of a per-epoch table.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct EpochRow {
    /// Mean loss on the training split after the epoch.
    pub train_loss: f64,
    /// Error rate on the training split.
    pub train_err: f64,
    /// Mean loss on the test split.
    pub test_loss: f64,
    /// Error rate on the test split.
    pub test_err: f64,
}
