//! Lecture 6: one MLP trained with different optimizers from the same initialisation.

use needle_core::data::{DataLoader, Mnist, MnistDataset};
use needle_core::nn::{Forward, Linear, Module, ReLU, Sequential, SoftmaxLoss};
use needle_core::optim::{Adam, Momentum, Optimizer, Sgd};
use needle_core::{manual_seed, Tensor};

use super::{loss_and_error, Split};

/// The optimizers compared.
pub const NAMES: [&str; 6] = [
    "SGD",
    "SGD momentum (course EMA)",
    "SGD momentum (PyTorch)",
    "Nesterov",
    "Adam",
    "Adam without bias correction",
];

fn optimizer(name: &str, params: Vec<Tensor>) -> Box<dyn Optimizer> {
    match name {
        "SGD" => Box::new(Sgd::new(params, 0.1)),
        "SGD momentum (course EMA)" => Box::new(Sgd::new(params, 0.1).momentum(0.9, Momentum::Ema)),
        "SGD momentum (PyTorch)" => {
            Box::new(Sgd::new(params, 0.01).momentum(0.9, Momentum::Classic { nesterov: false }))
        }
        "Nesterov" => {
            Box::new(Sgd::new(params, 0.01).momentum(0.9, Momentum::Classic { nesterov: true }))
        }
        "Adam" => Box::new(Adam::new(params, 1e-3)),
        _ => Box::new(Adam::new(params, 1e-3).bias_correction(false)),
    }
}

/// What one optimizer's run produced.
#[derive(Clone, Debug)]
pub struct Run {
    /// Optimizer name.
    pub name: String,
    /// Training loss of every step.
    pub losses: Vec<f64>,
    /// Final training error rate (on the training split).
    pub train_err: f64,
    /// Final test error rate.
    pub test_err: f64,
}

/// Trains MLP 784-`hidden`-10 once per optimizer in [`NAMES`], each from `manual_seed(seed)`,
/// shuffling with the same stream.
pub fn compare(
    train: &Mnist,
    test: &Split,
    hidden: usize,
    epochs: usize,
    batch: usize,
    seed: u64,
) -> Vec<Run> {
    let train_split = Split::from_mnist(train, None);
    NAMES
        .iter()
        .map(|&name| {
            manual_seed(seed);
            let model = Sequential::new()
                .push(Linear::new(784, hidden))
                .push(ReLU::new())
                .push(Linear::new(hidden, 10));
            let mut opt = optimizer(name, model.parameters());
            let loader = DataLoader::new(MnistDataset::new(train.clone()), batch)
                .shuffle(true)
                .drop_last(true);
            let mut losses = Vec::new();
            for _ in 0..epochs {
                for b in loader.iter() {
                    let n = b[0].shape()[0];
                    opt.zero_grad();
                    let loss =
                        SoftmaxLoss::new().forward(&model.forward(&b[0].reshape(&[n, 784])), &b[1]);
                    loss.backward();
                    opt.step();
                    losses.push(loss.item() as f64);
                }
            }
            let (_, train_err) = loss_and_error(
                &needle_core::no_grad(|| model.forward(&train_split.x)),
                &train_split.y,
            );
            let (_, test_err) =
                loss_and_error(&needle_core::no_grad(|| model.forward(&test.x)), &test.y);
            Run {
                name: name.to_string(),
                losses,
                train_err,
                test_err,
            }
        })
        .collect()
}
