//! The JIT backend: kernel caching, compile-once training loops, and differential testing
//! against the interpreter on random graphs (forward and backward).

mod common;

use needle::jit::{reset_stats, stats};
use needle::nn::{mlp_resnet, Forward, Module, Norm, SoftmaxLoss};
use needle::optim::{Adam, Optimizer};
use needle::{manual_seed, with_mode, Mode, Tensor};

#[test]
fn fused_kernels_are_compiled_once_and_cached() {
    with_mode(Mode::Jit, || {
        let x = Tensor::from_vec(vec![1.0, -2.0, 3.0, -4.0], &[2, 2]);
        let b = Tensor::from_vec(vec![10.0, 20.0], &[2]);
        let f = |x: &Tensor| ((x * 2.0 + &b).relu() - 1.0).sigmoid();
        reset_stats();
        let first = f(&x).to_vec();
        let after_first = stats();
        assert_eq!(
            after_first.compilations, 1,
            "one fused kernel for the whole chain: {after_first:?}"
        );
        let again = f(&Tensor::from_vec(vec![5.0, 6.0, 7.0, 8.0], &[2, 2])).to_vec();
        let after_second = stats();
        assert_eq!(
            after_second.compilations, 1,
            "same structure, new data: no recompilation"
        );
        assert_eq!(after_second.cache_hits, 1);
        let eager = with_mode(Mode::Eager, || f(&x).to_vec());
        assert_eq!(first, eager);
        assert_eq!(again.len(), 4);
    });
}

#[test]
fn a_training_loop_compiles_only_in_its_first_steps() {
    with_mode(Mode::Jit, || {
        manual_seed(0);
        let model = mlp_resnet(20, 16, 2, 5, Norm::BatchNorm, 0.1);
        let mut opt = Adam::new(model.parameters(), 1e-3).weight_decay(1e-3);
        let x = Tensor::randn(&[10, 20]);
        let y = Tensor::randint(0, 5, &[10]);
        let mut compilations = Vec::new();
        reset_stats();
        for _ in 0..20 {
            opt.zero_grad();
            let loss = SoftmaxLoss::new().forward(&model.forward(&x), &y);
            loss.backward();
            opt.step();
            loss.item();
            compilations.push(stats().compilations);
        }
        // Adam's step counter, the learning rate and dropout masks are inputs, not constants.
        assert!(compilations[1] > 0);
        assert_eq!(
            compilations[2], compilations[19],
            "recompiled during training: {compilations:?}"
        );
    });
}

/// A small deterministic generator for graph structure (data comes from the seeded stream).
struct Lcg(u64);

impl Lcg {
    fn next(&mut self, n: usize) -> usize {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        ((self.0 >> 33) % n as u64) as usize
    }

    fn scalar(&mut self) -> f32 {
        [0.5, -1.5, 2.0, 0.25, -0.75][self.next(5)]
    }
}

const DIMS: [usize; 4] = [1, 2, 3, 5];

/// Builds a random graph of `steps` ops over 2-D tensors, runs backward, and returns the loss
/// and every leaf's gradient.
fn random_graph(seed: u64, steps: usize) -> Vec<Tensor> {
    let mut g = Lcg(seed);
    manual_seed(seed as u32 as u64);
    let leaves: Vec<Tensor> = (0..3)
        .map(|_| Tensor::randn(&[DIMS[g.next(4)], DIMS[g.next(4)]]).requires_grad_(true))
        .collect();
    let mut pool = leaves.clone();
    for _ in 0..steps {
        let t = pool[g.next(pool.len())].clone();
        let (r, c) = (t.shape()[0], t.shape()[1]);
        let new = match g.next(8) {
            0 => match g.next(7) {
                0 => t.neg(),
                1 => t.tanh(),
                2 => t.sigmoid(),
                3 => t.relu(),
                4 => (&t * 0.3).exp(),
                5 => (&t * &t + 1.0).log(),
                _ => (&t * &t + 0.5).sqrt(),
            },
            1 => match g.next(6) {
                0 => &t + g.scalar(),
                1 => &t * g.scalar(),
                2 => &t / g.scalar(),
                3 => g.scalar() - &t,
                4 => t.maximum(g.scalar()),
                _ => t.powf(2.0),
            },
            2 => {
                let u = pool[g.next(pool.len())].clone();
                if needle::shape::broadcast_shapes(&t.shape(), &u.shape()).is_none() {
                    continue;
                }
                match g.next(5) {
                    0 => &t + &u,
                    1 => &t - &u,
                    2 => &t * &u,
                    3 => t.maximum(&u),
                    _ => &t / &(&u * &u + 1.0),
                }
            }
            3 => match g.next(4) {
                0 => t.t(),
                1 => t.flip(&[g.next(2) as isize]),
                2 if r > 1 => t.slice(0, g.next(r - 1), r, 1 + g.next(2)),
                _ => t.broadcast_to(&[
                    if r == 1 { DIMS[g.next(4)] } else { r },
                    if c == 1 { DIMS[g.next(4)] } else { c },
                ]),
            },
            4 => match g.next(3) {
                0 => t.sum(&[g.next(2) as isize], true),
                1 => t.max(&[g.next(2) as isize], true),
                _ => t.logsumexp(&[1], true),
            },
            5 => {
                let candidates: Vec<Tensor> =
                    pool.iter().filter(|u| u.shape()[0] == c).cloned().collect();
                if candidates.is_empty() {
                    continue;
                }
                t.matmul(&candidates[g.next(candidates.len())])
            }
            6 => &t * &t.gt(g.scalar()),
            _ => t.softmax(g.next(2) as isize),
        };
        pool.push(new);
    }
    let mut loss = Tensor::scalar(0.0);
    for (i, t) in pool.iter().enumerate() {
        loss = &loss + &(&t.sum_all() * (1.0 / (1 + i % 3) as f32));
    }
    loss.backward();
    let mut out = vec![loss];
    out.extend(
        leaves
            .iter()
            .map(|l| l.grad().unwrap_or_else(|| l.zeros_like())),
    );
    out
}

#[test]
fn random_graphs_agree_with_the_interpreter() {
    let graphs: u64 = std::env::var("NEEDLE_FUZZ_GRAPHS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(600);
    for seed in 0..graphs {
        let interp: Vec<Vec<f32>> = with_mode(Mode::Lazy, || {
            random_graph(seed, 12).iter().map(|t| t.to_vec()).collect()
        });
        let jit: Vec<Vec<f32>> = with_mode(Mode::Jit, || {
            random_graph(seed, 12).iter().map(|t| t.to_vec()).collect()
        });
        for (k, (a, b)) in interp.iter().zip(&jit).enumerate() {
            let same = a.len() == b.len()
                && a.iter()
                    .zip(b)
                    .all(|(x, y)| x.to_bits() == y.to_bits() || (x.is_nan() && y.is_nan()));
            assert!(
                same,
                "graph {seed}, output {k}: interpreter {a:?} vs JIT {b:?}"
            );
        }
    }
}
