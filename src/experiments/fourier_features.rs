//! Lecture 3: random Fourier features. A fixed random map φ(x) = cos(Wx + b) (W Gaussian,
//! b uniform on [0, 2π)) turns a linear classifier into a nonlinear one; the comparison is a
//! one-hidden-layer ReLU network of the same width whose first layer is trained too.
//!
//! Both are trained with plain minibatch SGD on the softmax loss, minibatches in order (the
//! course's setup); the only difference is which parameters move.

use needle_core::{manual_seed, no_grad, Tensor};

use super::{loss_and_error, Split};

/// The fixed random map φ(x) = √(2/D) cos(x W + b) of D = `width` features (rows of `x` are
/// inputs). The √(2/D) is Rahimi and Recht's: φ(x)·φ(y) then approximates the kernel whatever
/// D is, so one learning rate serves every width.
pub struct FourierMap {
    /// (d, width) with entries N(0, σ²): σ is the inverse bandwidth of the Gaussian kernel
    /// the features approximate, k(x, y) = exp(−σ²‖x − y‖²/2).
    pub w: Tensor,
    /// (width,) phases, uniform on [0, 2π).
    pub b: Tensor,
}

impl FourierMap {
    /// Draws W and b from the seeded stream after `manual_seed(seed)`.
    pub fn new(inputs: usize, width: usize, sigma: f32, seed: u64) -> FourierMap {
        manual_seed(seed);
        let w = (Tensor::randn(&[inputs, width]) * sigma).detach();
        let b = (Tensor::rand(&[width]) * std::f32::consts::TAU).detach();
        FourierMap { w, b }
    }

    /// Number of features.
    pub fn width(&self) -> usize {
        self.b.shape()[0]
    }

    /// φ(x) for a batch (n, d) → (n, width); constant (no gradient reaches W or b).
    pub fn apply(&self, x: &Tensor) -> Tensor {
        (x.matmul(&self.w) + &self.b).cos() * (2.0 / self.width() as f32).sqrt()
    }
}

/// Training settings shared by every model of a sweep.
#[derive(Clone, Copy, Debug)]
pub struct Sgd {
    /// Passes over the training split.
    pub epochs: usize,
    /// Step size of the softmax regression on raw pixels.
    pub lr_pixels: f32,
    /// Step size of the softmax regression on random Fourier features.
    pub lr_fourier: f32,
    /// Step size of the ReLU network.
    pub lr_net: f32,
    /// Minibatch size.
    pub batch: usize,
}

/// The result of one trained model.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Outcome {
    /// Number of trained parameters (weights and biases that SGD moves).
    pub trained_params: usize,
    /// Error rate on the training split.
    pub train_err: f64,
    /// Error rate on the test split.
    pub test_err: f64,
}

/// One width of the sweep: the random-feature classifier and the ReLU network side by side.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct WidthRow {
    /// D, the number of features / hidden units.
    pub width: usize,
    /// Softmax regression on cos(Wx + b).
    pub fourier: Outcome,
    /// ReLU(x W1 + b1) W2 + b2, all four trained.
    pub relu_net: Outcome,
}

fn softmax_loss(logits: &Tensor, y: &Tensor) -> Tensor {
    let n = logits.shape()[0] as f32;
    let onehot = Tensor::one_hot(logits.shape()[1], y);
    (logits.logsumexp(&[1], false).sum_all() - (logits * &onehot).sum_all()) / n
}

/// Minibatch SGD of `params` on the softmax loss of `model`, then its errors on both splits.
fn fit(
    train: &Split,
    test: &Split,
    params: &[Tensor],
    epochs: usize,
    lr: f32,
    batch: usize,
    model: impl Fn(&Tensor) -> Tensor,
) -> Outcome {
    // Captured in JIT mode: traced on the first batches, then replayed (the same bits).
    let mut step = needle_jit::capture(|b: &[&Tensor]| {
        softmax_loss(&model(b[0]), b[1]).backward();
        // The update runs on detached values (the detach lesson): the graph of this step
        // is freed before the next one is recorded.
        no_grad(|| {
            for p in params {
                let g = p.grad().expect("every parameter is in the loss");
                p.assign(&(&p.detach() - &(&g * lr)));
            }
        });
    });
    for _ in 0..epochs {
        for b in 0..train.len() / batch {
            let (x, y) = train.batch(b * batch, batch);
            step.call(&[&x, &y]);
        }
    }
    drop(step);
    Outcome {
        trained_params: params.iter().map(Tensor::numel).sum(),
        train_err: error(train, &model),
        test_err: error(test, &model),
    }
}

/// Error rate of `model` on `split`, in chunks of 2,000 rows so memory stays small.
fn error(split: &Split, model: &impl Fn(&Tensor) -> Tensor) -> f64 {
    let mut wrong = 0.0;
    let mut start = 0;
    while start < split.len() {
        let len = 2000.min(split.len() - start);
        let (x, y) = split.batch(start, len);
        wrong += loss_and_error(&no_grad(|| model(&x)), &y).1 * len as f64;
        start += len;
    }
    wrong / split.len().max(1) as f64
}

/// Softmax regression (weights and bias from zero, step size `lr`) on the features
/// `features(x)`, of which there are `inputs`.
pub fn softmax_regression(
    train_split: &Split,
    test: &Split,
    run: &Sgd,
    lr: f32,
    features: impl Fn(&Tensor) -> Tensor,
    inputs: usize,
) -> Outcome {
    let theta = Tensor::zeros(&[inputs, 10]).requires_grad_(true);
    let bias = Tensor::zeros(&[10]).requires_grad_(true);
    fit(
        train_split,
        test,
        &[theta.clone(), bias.clone()],
        run.epochs,
        lr,
        run.batch,
        |x| features(x).matmul(&theta) + &bias,
    )
}

/// The raw-pixel baseline: softmax regression on x itself.
pub fn linear_on_pixels(train: &Split, test: &Split, run: &Sgd) -> Outcome {
    let d = train.x.shape()[1];
    softmax_regression(train, test, run, run.lr_pixels, Tensor::clone, d)
}

/// Softmax regression on `width` random Fourier features of inverse bandwidth `sigma`.
pub fn fourier_classifier(
    train: &Split,
    test: &Split,
    run: &Sgd,
    width: usize,
    sigma: f32,
    seed: u64,
) -> Outcome {
    let map = FourierMap::new(train.x.shape()[1], width, sigma, seed);
    softmax_regression(
        train,
        test,
        run,
        run.lr_fourier,
        |x| map.apply(x),
        map.width(),
    )
}

/// One hidden layer of `width` ReLU units, He-initialised (W1 ~ N(0, 2/d), W2 ~ N(0, 1/width),
/// biases zero, after `manual_seed(seed)`), every layer trained.
pub fn relu_net(train: &Split, test: &Split, run: &Sgd, width: usize, seed: u64) -> Outcome {
    manual_seed(seed);
    let d = train.x.shape()[1];
    let w1 = (Tensor::randn(&[d, width]) * (2.0 / d as f32).sqrt())
        .detach()
        .requires_grad_(true);
    let b1 = Tensor::zeros(&[width]).requires_grad_(true);
    let w2 = (Tensor::randn(&[width, 10]) / (width as f32).sqrt())
        .detach()
        .requires_grad_(true);
    let b2 = Tensor::zeros(&[10]).requires_grad_(true);
    let params = [w1.clone(), b1.clone(), w2.clone(), b2.clone()];
    fit(
        train,
        test,
        &params,
        run.epochs,
        run.lr_net,
        run.batch,
        |x| (x.matmul(&w1) + &b1).relu().matmul(&w2) + &b2,
    )
}

/// The sweep: for each width, the random-feature classifier and the ReLU network.
pub fn sweep(
    train: &Split,
    test: &Split,
    run: &Sgd,
    widths: &[usize],
    sigma: f32,
    seed: u64,
) -> Vec<WidthRow> {
    widths
        .iter()
        .map(|&width| WidthRow {
            width,
            fourier: fourier_classifier(train, test, run, width, sigma, seed),
            relu_net: relu_net(train, test, run, width, seed),
        })
        .collect()
}
