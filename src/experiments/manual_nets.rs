//! Lecture 3 and homework 0: softmax regression and a two-layer ReLU network trained with
//! hand-derived gradients (tensor ops, no autodiff), and the same models trained with autodiff.

use needle_core::{manual_seed, no_grad, Tensor};

use super::{loss_and_error, EpochRow, Split};

/// How gradients are obtained.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Gradients {
    /// Written out by hand: Xᵀ(softmax(Z) − I_y)/B and its two-layer chain.
    Manual,
    /// `loss.backward()`.
    Autodiff,
}

/// Epochs, learning rate and batch size of a run (minibatches in order, as the course).
#[derive(Clone, Copy, Debug)]
pub struct Schedule {
    /// Passes over the training split.
    pub epochs: usize,
    /// Step size.
    pub lr: f32,
    /// Minibatch size.
    pub batch: usize,
}

fn softmax_loss(logits: &Tensor, y: &Tensor) -> Tensor {
    let n = logits.shape()[0] as f32;
    let onehot = Tensor::one_hot(logits.shape()[1], y);
    (logits.logsumexp(&[1], false).sum_all() - (logits * &onehot).sum_all()) / n
}

/// Softmax regression from θ = 0, minibatches in order; the course's `train_softmax`.
pub fn softmax_regression(
    train: &Split,
    test: &Split,
    run: &Schedule,
    how: Gradients,
) -> Vec<EpochRow> {
    let Schedule { epochs, lr, batch } = *run;
    let theta = Tensor::zeros(&[train.x.shape()[1], 10]);
    let theta = if how == Gradients::Autodiff {
        theta.requires_grad_(true)
    } else {
        theta
    };
    (0..epochs)
        .map(|_| {
            for b in 0..train.len() / batch {
                let (x, y) = train.batch(b * batch, batch);
                let grad = match how {
                    Gradients::Manual => {
                        let probs = x.matmul(&theta).softmax(1);
                        x.t().matmul(&(probs - Tensor::one_hot(10, &y))) / batch as f32
                    }
                    Gradients::Autodiff => {
                        softmax_loss(&x.matmul(&theta), &y).backward();
                        theta.grad().expect("gradient")
                    }
                };
                theta.assign(&no_grad(|| &theta.detach() - &(&grad * lr)));
            }
            evaluate(train, test, |x| x.matmul(&theta))
        })
        .collect()
}

/// The two-layer network Z = ReLU(X W1) W2 with W1 = randn(784, h)/√h, W2 = randn(h, 10)/√10
/// after `manual_seed(seed)`; the course's `train_nn`.
pub fn two_layer(
    train: &Split,
    test: &Split,
    hidden: usize,
    seed: u64,
    run: &Schedule,
    how: Gradients,
) -> Vec<EpochRow> {
    let Schedule { epochs, lr, batch } = *run;
    manual_seed(seed);
    let d = train.x.shape()[1];
    let w1 = (Tensor::randn(&[d, hidden]) / (hidden as f32).sqrt()).detach();
    let w2 = (Tensor::randn(&[hidden, 10]) / 10f32.sqrt()).detach();
    let (w1, w2) = match how {
        Gradients::Autodiff => (w1.requires_grad_(true), w2.requires_grad_(true)),
        Gradients::Manual => (w1, w2),
    };
    (0..epochs)
        .map(|_| {
            for b in 0..train.len() / batch {
                let (x, y) = train.batch(b * batch, batch);
                let (g1, g2) = match how {
                    Gradients::Manual => {
                        let z1 = x.matmul(&w1).relu();
                        let g2 = z1.matmul(&w2).softmax(1) - Tensor::one_hot(10, &y);
                        let g1 = z1.gt(0.0) * g2.matmul(&w2.t());
                        (
                            x.t().matmul(&g1) / batch as f32,
                            z1.t().matmul(&g2) / batch as f32,
                        )
                    }
                    Gradients::Autodiff => {
                        softmax_loss(&x.matmul(&w1).relu().matmul(&w2), &y).backward();
                        (w1.grad().expect("gradient"), w2.grad().expect("gradient"))
                    }
                };
                no_grad(|| {
                    w1.assign(&(&w1.detach() - &(&g1 * lr)));
                    w2.assign(&(&w2.detach() - &(&g2 * lr)));
                });
            }
            evaluate(train, test, |x| x.matmul(&w1).relu().matmul(&w2))
        })
        .collect()
}

/// Loss and error on both splits, in chunks so memory stays small.
fn evaluate(train: &Split, test: &Split, model: impl Fn(&Tensor) -> Tensor) -> EpochRow {
    let measure = |split: &Split| {
        let chunk = 10_000.min(split.len()).max(1);
        let (mut loss, mut err) = (0.0, 0.0);
        let mut start = 0;
        while start < split.len() {
            let len = chunk.min(split.len() - start);
            let (x, y) = split.batch(start, len);
            let (l, e) = loss_and_error(&no_grad(|| model(&x)), &y);
            loss += l * len as f64;
            err += e * len as f64;
            start += len;
        }
        (loss / split.len() as f64, err / split.len() as f64)
    };
    let (train_loss, train_err) = measure(train);
    let (test_loss, test_err) = measure(test);
    EpochRow {
        train_loss,
        train_err,
        test_loss,
        test_err,
    }
}
