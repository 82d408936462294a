//! Lecture 6: one MLP trained on MNIST with different optimizers from the same initialisation,
//! each at its best learning rate from a small grid; the 2-D quadratic of the same lecture is in
//! [`quadratic`].

pub mod quadratic;

use needle_core::data::{DataLoader, Mnist, MnistDataset};
use needle_core::nn::{Forward, Linear, Module, ReLU, Sequential, SoftmaxLoss};
use needle_core::optim::{Adam, Momentum, Optimizer, Sgd};
use needle_core::{manual_seed, no_grad, Tensor};

use super::{loss_and_error, Split};

/// The optimizers compared (momentum β 0.9 throughout).
pub const NAMES: [&str; 9] = [
    "SGD",
    "momentum (EMA)",
    "unbiased momentum (EMA)",
    "Nesterov (EMA)",
    "unbiased Nesterov (EMA)",
    "momentum (PyTorch)",
    "Nesterov (PyTorch)",
    "Adam",
    "Adam without bias correction",
];

/// Learning rates tried for the SGD family. PyTorch's momentum sums gradients where the EMA
/// forms average them, so its lr r takes the steps of the EMA form at lr 10·r (β = 0.9): the
/// grid spans both.
pub const SGD_GRID: [f32; 6] = [0.01, 0.03, 0.1, 0.3, 1.0, 3.0];
/// Learning rates tried for Adam.
pub const ADAM_GRID: [f32; 5] = [3e-4, 1e-3, 3e-3, 1e-2, 3e-2];

/// The grid of learning rates tried for optimizer `name`.
pub fn grid(name: &str) -> &'static [f32] {
    if name.starts_with("Adam") {
        &ADAM_GRID
    } else {
        &SGD_GRID
    }
}

fn optimizer(name: &str, params: Vec<Tensor>, lr: f32) -> Box<dyn Optimizer> {
    let sgd = |kind, unbiased| {
        Box::new(
            Sgd::new(params.clone(), lr)
                .momentum(0.9, kind)
                .bias_correction(unbiased),
        ) as Box<dyn Optimizer>
    };
    match name {
        "SGD" => Box::new(Sgd::new(params, lr)),
        "momentum (EMA)" => sgd(Momentum::Ema, false),
        "unbiased momentum (EMA)" => sgd(Momentum::Ema, true),
        "Nesterov (EMA)" => sgd(Momentum::Nesterov, false),
        "unbiased Nesterov (EMA)" => sgd(Momentum::Nesterov, true),
        "momentum (PyTorch)" => sgd(Momentum::Classic { nesterov: false }, false),
        "Nesterov (PyTorch)" => sgd(Momentum::Classic { nesterov: true }, false),
        "Adam" => Box::new(Adam::new(params, lr)),
        "Adam without bias correction" => Box::new(Adam::new(params, lr).bias_correction(false)),
        other => panic!("optimizers: unknown optimizer {other:?} (known: {NAMES:?})"),
    }
}

/// Trains MLP 784-`hidden`-10 from `manual_seed(seed)` with optimizer `name` at `lr` for
/// `steps` steps of `batch` (reshuffling each epoch); returns the model and every step's loss.
fn train_steps(
    train: &Mnist,
    hidden: usize,
    name: &str,
    lr: f32,
    (steps, batch, seed): (usize, usize, u64),
) -> (Sequential, Vec<f64>) {
    manual_seed(seed);
    let model = Sequential::new()
        .push(Linear::new(784, hidden))
        .push(ReLU::new())
        .push(Linear::new(hidden, 10));
    let mut opt = optimizer(name, model.parameters(), lr);
    let loader = DataLoader::new(MnistDataset::new(train.clone()), batch)
        .shuffle(true)
        .drop_last(true);
    let mut losses = Vec::with_capacity(steps);
    // Captured in JIT mode: traced on the first batches, then replayed (the same bits).
    let mut step = needle_jit::capture(|b: &[&Tensor]| {
        opt.zero_grad();
        let loss = SoftmaxLoss::new().forward(&model.forward(b[0]), b[1]);
        loss.backward();
        opt.step();
        loss
    });
    while losses.len() < steps {
        for b in loader.iter().take(steps - losses.len()) {
            let n = b[0].shape()[0];
            let loss = step.call(&[&b[0].reshape(&[n, 784]), &b[1]]);
            losses.push(loss.item() as f64);
        }
    }
    drop(step);
    (model, losses)
}

/// Mean of the last `window` losses, +∞ when one is not finite (a diverged run ranks last).
pub fn tail_mean(losses: &[f64], window: usize) -> f64 {
    let tail = &losses[losses.len().saturating_sub(window)..];
    if tail.is_empty() || !tail.iter().all(|v| v.is_finite()) {
        return f64::INFINITY;
    }
    tail.iter().sum::<f64>() / tail.len() as f64
}

/// The first step after which the mean loss of the last `window` steps is at most `target`.
pub fn steps_to_reach(losses: &[f64], target: f64, window: usize) -> Option<usize> {
    losses
        .windows(window)
        .position(|w| w.iter().sum::<f64>() / window as f64 <= target)
        .map(|i| i + window)
}

/// One optimizer's learning-rate search.
#[derive(Clone, Debug)]
pub struct Tuning {
    /// Optimizer name.
    pub name: String,
    /// Each learning rate tried and its mean loss over the last 50 steps of the budget.
    pub scores: Vec<(f32, f64)>,
    /// The learning rate with the lowest score.
    pub best: f32,
}

/// Tries every learning rate of [`grid`] for each optimizer of [`NAMES`] for `steps` steps
/// (same initialisation and data order for all) and keeps the one with the lowest final loss.
pub fn tune(train: &Mnist, hidden: usize, steps: usize, batch: usize, seed: u64) -> Vec<Tuning> {
    NAMES
        .iter()
        .map(|&name| {
            let scores: Vec<(f32, f64)> = grid(name)
                .iter()
                .map(|&lr| {
                    let (_, losses) = train_steps(train, hidden, name, lr, (steps, batch, seed));
                    (lr, tail_mean(&losses, 50))
                })
                .collect();
            let best = scores
                .iter()
                .min_by(|a, b| a.1.total_cmp(&b.1))
                .map_or(grid(name)[0], |s| s.0);
            Tuning {
                name: name.to_string(),
                scores,
                best,
            }
        })
        .collect()
}

/// What one optimizer's run produced.
#[derive(Clone, Debug)]
pub struct Run {
    /// Optimizer name.
    pub name: String,
    /// Its learning rate.
    pub lr: f32,
    /// Training loss of every step.
    pub losses: Vec<f64>,
    /// Final training error rate (on the training split).
    pub train_err: f64,
    /// Final test error rate.
    pub test_err: f64,
}

/// Trains MLP 784-`hidden`-10 once per optimizer in [`NAMES`] at the matching rate of `lrs`,
/// each from `manual_seed(seed)`, shuffling with the same stream.
pub fn compare(
    train: &Mnist,
    test: &Split,
    hidden: usize,
    (epochs, batch, seed): (usize, usize, u64),
    lrs: &[f32],
) -> Vec<Run> {
    let train_split = Split::from_mnist(train, None);
    let steps = epochs * (train.len() / batch);
    NAMES
        .iter()
        .zip(lrs)
        .map(|(&name, &lr)| {
            let (model, losses) = train_steps(train, hidden, name, lr, (steps, batch, seed));
            let errors = |s: &Split| loss_and_error(&no_grad(|| model.forward(&s.x)), &s.y).1;
            Run {
                name: name.to_string(),
                lr,
                losses,
                train_err: errors(&train_split),
                test_err: errors(test),
            }
        })
        .collect()
}
