//! Parameter initialisation with the course's formulas, drawing from the global seeded
//! stream (so `manual_seed` reproduces the course's numbers). Every function returns a tensor
//! that does not require grad; shapes are `(fan_in, fan_out)` unless given.

use crate::tensor::Tensor;

/// The nonlinearity a Kaiming initialisation is tuned for, which sets its gain.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Nonlinearity {
    /// ReLU: gain √2 (the course's only choice).
    #[default]
    Relu,
    /// tanh: gain 5/3 (PyTorch's value).
    Tanh,
    /// Identity / sigmoid-free linear layers: gain 1.
    Linear,
}

impl Nonlinearity {
    /// The recommended gain.
    pub fn gain(self) -> f64 {
        match self {
            Nonlinearity::Relu => 2f64.sqrt(),
            Nonlinearity::Tanh => 5.0 / 3.0,
            Nonlinearity::Linear => 1.0,
        }
    }
}

/// U(low, high) samples (numpy's `rand·(high−low)+low`, computed in f64).
#[track_caller]
pub fn rand(shape: &[usize], low: f64, high: f64) -> Tensor {
    Tensor::uniform(shape, low, high)
}

/// N(mean, std²) samples (`randn·std+mean`, computed in f64).
#[track_caller]
pub fn randn(shape: &[usize], mean: f64, std: f64) -> Tensor {
    Tensor::normal(shape, mean, std)
}

/// A tensor filled with `c`.
#[track_caller]
pub fn constant(shape: &[usize], c: f32) -> Tensor {
    Tensor::full(shape, c)
}

/// Ones.
#[track_caller]
pub fn ones(shape: &[usize]) -> Tensor {
    Tensor::ones(shape)
}

/// Zeros.
#[track_caller]
pub fn zeros(shape: &[usize]) -> Tensor {
    Tensor::zeros(shape)
}

/// 0/1 values, 1 where a uniform draw is ≤ p.
#[track_caller]
pub fn randb(shape: &[usize], p: f64) -> Tensor {
    Tensor::randb(shape, p)
}

/// Rows of the n×n identity selected by integer labels.
#[track_caller]
pub fn one_hot(n: usize, labels: &Tensor) -> Tensor {
    Tensor::one_hot(n, labels)
}

/// U(−a, a) with a = gain·√(6/(fan_in+fan_out)), shape (fan_in, fan_out).
#[track_caller]
pub fn xavier_uniform(fan_in: usize, fan_out: usize, gain: f64) -> Tensor {
    let a = gain * (6.0 / (fan_in + fan_out) as f64).sqrt();
    rand(&[fan_in, fan_out], -a, a)
}

/// N(0, σ²) with σ = gain·√(2/(fan_in+fan_out)), shape (fan_in, fan_out).
#[track_caller]
pub fn xavier_normal(fan_in: usize, fan_out: usize, gain: f64) -> Tensor {
    let std = gain * (2.0 / (fan_in + fan_out) as f64).sqrt();
    randn(&[fan_in, fan_out], 0.0, std)
}

/// U(−b, b) with b = gain·√(3/fan_in) (√(6/fan_in) for ReLU), shape (fan_in, fan_out).
///
/// ```
/// needle_core::manual_seed(42);
/// let w = needle_core::init::kaiming_uniform(3, 5, Default::default());
/// assert!((w.to_vec()[0] - -0.35485414).abs() < 1e-6);
/// ```
#[track_caller]
pub fn kaiming_uniform(fan_in: usize, fan_out: usize, nonlinearity: Nonlinearity) -> Tensor {
    kaiming_uniform_shape(fan_in, &[fan_in, fan_out], nonlinearity)
}

/// Kaiming uniform with an explicit shape (convolution kernels: fan_in = Cin·K²).
#[track_caller]
pub fn kaiming_uniform_shape(fan_in: usize, shape: &[usize], nonlinearity: Nonlinearity) -> Tensor {
    let bound = nonlinearity.gain() * (3.0 / fan_in as f64).sqrt();
    rand(shape, -bound, bound)
}

/// N(0, σ²) with σ = gain/√fan_in, shape (fan_in, fan_out).
#[track_caller]
pub fn kaiming_normal(fan_in: usize, fan_out: usize, nonlinearity: Nonlinearity) -> Tensor {
    let std = nonlinearity.gain() / (fan_in as f64).sqrt();
    randn(&[fan_in, fan_out], 0.0, std)
}
