//! Tensors drawn from the global seeded stream (numpy's legacy `RandomState`, draw for
//! draw). Each draw is a host value ([`super::host`]): a captured step draws it again at every
//! replay, in the traced order.

use crate::shape::valid_numel;
use crate::storage::{filled_vec, Realized};
use crate::tensor::Tensor;

impl Tensor {
    /// Uniform samples in [0, 1) from the global seeded stream (numpy's `rand`).
    #[track_caller]
    pub fn rand(shape: &[usize]) -> Tensor {
        Tensor::uniform(shape, 0.0, 1.0)
    }

    /// Uniform samples in [low, high): `rand·(high−low)+low` computed in f64 as numpy does.
    #[track_caller]
    pub fn uniform(shape: &[usize], low: f64, high: f64) -> Tensor {
        Tensor::drawn_f32("uniform", shape, move |out| {
            let mut draws = filled_vec(out.len(), 0.0f64, || "uniform draws".into());
            crate::random::with_global_rng(|r| r.fill_random_sample(&mut draws));
            for (o, &u) in out.iter_mut().zip(&draws) {
                *o = (u * (high - low) + low) as f32;
            }
        })
    }

    /// Standard normal samples from the global seeded stream (numpy's `randn`).
    #[track_caller]
    pub fn randn(shape: &[usize]) -> Tensor {
        Tensor::normal(shape, 0.0, 1.0)
    }

    /// Normal samples `randn·std+mean`, computed in f64 as numpy does.
    #[track_caller]
    pub fn normal(shape: &[usize], mean: f64, std: f64) -> Tensor {
        Tensor::drawn_f32("normal", shape, move |out| {
            let mut draws = filled_vec(out.len(), 0.0f64, || "normal draws".into());
            crate::random::with_global_rng(|r| r.fill_standard_normal(&mut draws));
            for (o, &z) in out.iter_mut().zip(&draws) {
                *o = (z * std + mean) as f32;
            }
        })
    }

    /// Integers uniform in [low, high) as i64 (numpy's legacy `randint`).
    #[track_caller]
    pub fn randint(low: i64, high: i64, shape: &[usize]) -> Tensor {
        assert!(high > low, "randint: empty range [{low}, {high})");
        let n = valid_numel("randint", shape);
        let data = filled_vec(n, 0i64, || format!("randint {shape:?}"));
        Tensor::host_value(Realized::from_i64(data, shape), move |buffer| {
            crate::random::with_global_rng(|r| r.fill_randint(low, high, buffer.as_i64_mut()));
        })
    }

    /// Booleans as 0/1 f32: `rand ≤ p` (the course's `randb`).
    #[track_caller]
    pub fn randb(shape: &[usize], p: f64) -> Tensor {
        Tensor::drawn_f32("randb", shape, move |out| {
            crate::random::with_global_rng(|r| r.fill_bernoulli(out, p));
        })
    }

    /// An f32 tensor of `shape` drawn by `draw` from the global generator; a captured step
    /// draws it again at every replay (see [`Tensor::host_value`]).
    #[track_caller]
    fn drawn_f32(op: &str, shape: &[usize], mut draw: impl FnMut(&mut [f32]) + 'static) -> Tensor {
        let n = valid_numel(op, shape);
        let data = filled_vec(n, 0.0f32, || format!("{op} {shape:?}"));
        Tensor::host_value(Realized::from_f32(data, shape), move |buffer| {
            draw(buffer.as_f32_mut())
        })
    }
}
