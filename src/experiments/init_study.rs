//! Lectures 6 and 9: a deep ReLU MLP with weights drawn N(0, c/n) — without normalisation, with
//! LayerNorm1d, with BatchNorm1d — and what happens to activations, gradients and weights per
//! layer before and after training (to a target test error with Adam), and how far each layer's
//! weights moved from their initialisation.

use needle_core::nn::{BatchNorm1d, Forward, LayerNorm1d, SoftmaxLoss};
use needle_core::optim::{Adam, Optimizer};
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
    /// ‖W − W₀‖ / ‖W₀‖ of each hidden layer's weight after training.
    pub weight_change: Vec<f64>,
    /// Test error rate after training.
    pub test_err: f64,
    /// Test error at each evaluation: (step, error), starting with step 0.
    pub errors: Vec<(usize, f64)>,
    /// How training ended.
    pub outcome: Outcome,
}

/// How a configuration's training ended.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Outcome {
    /// Test error fell under the target after this many steps.
    Reached(usize),
    /// The step budget ran out first; the error reached is the study's `test_err`.
    Budget,
    /// The training loss stopped being finite at this step.
    Diverged(usize),
}

impl std::fmt::Display for Outcome {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Outcome::Reached(s) => write!(f, "reached in {s} steps"),
            Outcome::Budget => write!(f, "budget spent"),
            Outcome::Diverged(s) => write!(f, "diverged at step {s}"),
        }
    }
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
    /// Adam step size.
    pub lr: f32,
    /// Minibatch size.
    pub batch: usize,
    /// Training stops once the test error is under this.
    pub target_err: f64,
    /// At most this many steps per configuration.
    pub max_steps: usize,
    /// Steps between test-error evaluations.
    pub eval_every: usize,
    /// Seed of every configuration's initialisation.
    pub seed: u64,
}

impl Config {
    /// The lectures' grid: 50 layers of 100, c = 1, 2, 3, none / LayerNorm / BatchNorm, trained
    /// with Adam (lr 1e-4, batch 100) until the test error is under 5 % or `max_steps` are spent,
    /// evaluated every 250 steps, seed 0.
    pub fn lectures(max_steps: usize) -> Config {
        Config {
            depth: 50,
            width: 100,
            cs: vec![1.0, 2.0, 3.0],
            norms: vec![Norm::None, Norm::Layer, Norm::Batch],
            lr: 1e-4,
            batch: 100,
            target_err: 0.05,
            max_steps,
            eval_every: 250,
            seed: 0,
        }
    }
}

/// ‖a − b‖ / ‖b‖ of two equally long vectors, in f64.
pub fn relative_change(a: &[f32], b: &[f32]) -> f64 {
    let (mut num, mut den) = (0.0f64, 0.0f64);
    for (&x, &y) in a.iter().zip(b) {
        num += (x as f64 - y as f64).powi(2);
        den += (y as f64).powi(2);
    }
    (num / den).sqrt()
}

/// Test error of `net`, with BatchNorm on its running statistics.
fn test_error(net: &DeepMlp, test: &Split) -> f64 {
    for n in &net.norms {
        n.eval();
    }
    let (_, err) = loss_and_error(&no_grad(|| net.forward(&test.x).0), &test.y);
    for n in &net.norms {
        n.train();
    }
    err
}

/// Runs every (c, norm) configuration: profile on the first training batch, Adam steps until
/// the test error is under `target_err` (checked every `eval_every` steps) or `max_steps` are
/// spent or the loss is not finite, profile again on the same batch, test error. Each
/// configuration starts from `manual_seed(seed)`.
pub fn run(train: &Split, test: &Split, config: &Config) -> Vec<Study> {
    let Config {
        depth,
        width,
        lr,
        batch,
        target_err,
        max_steps,
        eval_every,
        seed,
        ..
    } = *config;
    let (cs, norms) = (&config.cs, &config.norms);
    let mut out = Vec::new();
    for &norm in norms {
        for &c in cs {
            manual_seed(seed);
            let net = DeepMlp::new(depth, width, c, norm);
            let initial: Vec<Vec<f32>> = net.weights.iter().map(|w| w.to_vec()).collect();
            let (x0, y0) = train.batch(0, batch);
            let before = net.profile(&x0, &y0);
            let mut opt = Adam::new(net.params(), lr);
            let batches = (train.len() / batch).max(1);
            let mut errors = vec![(0, test_error(&net, test))];
            let mut outcome = Outcome::Budget;
            // Captured in JIT mode: traced on the first batches, then replayed (the same bits).
            let mut step = needle_jit::capture(|b: &[&Tensor]| {
                opt.zero_grad();
                let loss = SoftmaxLoss::new().forward(&net.forward(b[0]).0, b[1]);
                loss.backward();
                opt.step();
                loss
            });
            for s in 0..max_steps {
                let (x, y) = train.batch((s % batches) * batch, batch);
                let loss = step.call(&[&x, &y]);
                // Reading the loss every step would cut the JIT's step into pieces; a
                // divergence shows at the next evaluation as well.
                if (s + 1) % eval_every == 0 || s + 1 == max_steps {
                    if !(loss.item() as f64).is_finite() {
                        outcome = Outcome::Diverged(s + 1);
                        break;
                    }
                    let err = test_error(&net, test);
                    errors.push((s + 1, err));
                    if err < target_err {
                        outcome = Outcome::Reached(s + 1);
                        break;
                    }
                }
            }
            drop(step);
            let after = net.profile(&x0, &y0);
            let weight_change = net
                .weights
                .iter()
                .zip(&initial)
                .map(|(w, w0)| relative_change(&w.to_vec(), w0))
                .collect();
            let test_err = test_error(&net, test);
            out.push(Study {
                c,
                norm,
                before,
                after,
                weight_change,
                test_err,
                errors,
                outcome,
            });
        }
    }
    out
}
