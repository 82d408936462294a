//! Lectures 6 and 9: a deep ReLU MLP with weights drawn N(0, c/n) — without normalisation, with
//! LayerNorm1d, with BatchNorm1d — and what happens to activations, gradients and weights per
//! layer before and after training.

use needle_core::nn::{BatchNorm1d, Forward, LayerNorm1d, SoftmaxLoss};
use needle_core::optim::{Optimizer, Sgd};
use needle_core::{manual_seed, no_grad, Tensor};

use super::{loss_and_error, Split};

/// Normalisation between layers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Norm {
    /// None.
    None,
    /// LayerNorm1d after each hidden linear layer.
    Layer,
    /// BatchNorm1d after each hidden linear layer.
    Batch,
}

/// Per-layer measurements.
#[derive(Clone, Debug, Default)]
pub struct Profile {
    /// ‖activation‖ (Frobenius, over the batch) after each hidden layer.
    pub activation_norms: Vec<f64>,
    /// ‖∂loss/∂W‖ of each layer's weight.
    pub gradient_norms: Vec<f64>,
    /// Variance of each layer's weight entries.
    pub weight_variances: Vec<f64>,
}

/// What one configuration produced.
#[derive(Clone, Debug)]
pub struct Study {
    /// The variance factor c of N(0, c/n).
    pub c: f64,
    /// The normalisation.
    pub norm: Norm,
    /// Before training.
    pub before: Profile,
    /// After training.
    pub after: Profile,
    /// Test error rate after training.
    pub test_err: f64,
}

struct DeepMlp {
    weights: Vec<Tensor>,
    norms: Vec<Box<dyn Forward>>,
    head: Tensor,
}

impl DeepMlp {
    fn new(depth: usize, width: usize, c: f64, norm: Norm) -> DeepMlp {
        let mut weights = Vec::new();
        let mut fan_in = 784;
        for _ in 0..depth {
            weights.push(
                Tensor::normal(&[fan_in, width], 0.0, (c / fan_in as f64).sqrt())
                    .requires_grad_(true),
            );
            fan_in = width;
        }
        let norms = (0..depth)
            .filter_map(|_| match norm {
                Norm::None => None,
                Norm::Layer => Some(Box::new(LayerNorm1d::new(width)) as Box<dyn Forward>),
                Norm::Batch => Some(Box::new(BatchNorm1d::new(width)) as Box<dyn Forward>),
            })
            .collect();
        let head =
            Tensor::normal(&[width, 10], 0.0, (1.0 / width as f64).sqrt()).requires_grad_(true);
        DeepMlp {
            weights,
            norms,
            head,
        }
    }

    /// Logits and the hidden activations.
    fn forward(&self, x: &Tensor) -> (Tensor, Vec<Tensor>) {
        let mut h = x.clone();
        let mut acts = Vec::new();
        for (i, w) in self.weights.iter().enumerate() {
            let z = h.matmul(w);
            let z = match self.norms.get(i) {
                Some(n) => n.forward(&z),
                None => z,
            };
            h = z.relu();
            acts.push(h.clone());
        }
        (h.matmul(&self.head), acts)
    }

    fn params(&self) -> Vec<Tensor> {
        let mut p = self.weights.clone();
        p.push(self.head.clone());
        for n in &self.norms {
            p.extend(n.parameters());
        }
        p
    }

    fn profile(&self, x: &Tensor, y: &Tensor) -> Profile {
        let (logits, acts) = self.forward(x);
        SoftmaxLoss::new().forward(&logits, y).backward();
        let norm = |t: &Tensor| t.square().sum_all().sqrt().item() as f64;
        let profile = Profile {
            activation_norms: acts.iter().map(norm).collect(),
            gradient_norms: self
                .weights
                .iter()
                .map(|w| w.grad().map_or(0.0, |g| norm(&g)))
                .collect(),
            weight_variances: self
                .weights
                .iter()
                .map(|w| no_grad(|| w.var(&[0, 1], false)).item() as f64)
                .collect(),
        };
        for p in self.params() {
            p.zero_grad();
        }
        profile
    }
}

/// The grid and the training of a study.
#[derive(Clone, Debug)]
pub struct Config {
    /// Hidden layers.
    pub depth: usize,
    /// Units per hidden layer.
    pub width: usize,
    /// Variance factors c of N(0, c/n).
    pub cs: Vec<f64>,
    /// Normalisations to compare.
    pub norms: Vec<Norm>,
    /// SGD steps between the two profiles.
    pub steps: usize,
    /// SGD step size.
    pub lr: f32,
    /// Minibatch size.
    pub batch: usize,
    /// Seed of every configuration's initialisation.
    pub seed: u64,
}

impl Config {
    /// The lectures' grid: 50 layers of 100, c = 1, 2, 3, none / LayerNorm / BatchNorm, with
    /// `steps` SGD steps at lr 0.01, batch 100, seed 0.
    pub fn lectures(steps: usize) -> Config {
        Config {
            depth: 50,
            width: 100,
            cs: vec![1.0, 2.0, 3.0],
            norms: vec![Norm::None, Norm::Layer, Norm::Batch],
            steps,
            lr: 0.01,
            batch: 100,
            seed: 0,
        }
    }
}

/// Runs every (c, norm) configuration: profile on the first training batch, `steps` SGD steps,
/// profile again, test error. Each configuration starts from `manual_seed(seed)`.
pub fn run(train: &Split, test: &Split, config: &Config) -> Vec<Study> {
    let Config {
        depth,
        width,
        steps,
        lr,
        batch,
        seed,
        ..
    } = *config;
    let (cs, norms) = (&config.cs, &config.norms);
    let mut out = Vec::new();
    for &norm in norms {
        for &c in cs {
            manual_seed(seed);
            let net = DeepMlp::new(depth, width, c, norm);
            let (x0, y0) = train.batch(0, batch);
            let before = net.profile(&x0, &y0);
            let mut opt = Sgd::new(net.params(), lr);
            let batches = (train.len() / batch).max(1);
            for s in 0..steps {
                let (x, y) = train.batch((s % batches) * batch, batch);
                opt.zero_grad();
                SoftmaxLoss::new()
                    .forward(&net.forward(&x).0, &y)
                    .backward();
                opt.step();
            }
            let after = net.profile(&x0, &y0);
            for n in &net.norms {
                n.eval();
            }
            let (_, test_err) = loss_and_error(&no_grad(|| net.forward(&test.x).0), &test.y);
            out.push(Study {
                c,
                norm,
                before,
                after,
                test_err,
            });
        }
    }
    out
}
