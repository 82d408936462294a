//! Optimizers, schedules and clipping: update rules against hand-computed values, `.grad`
//! untouched, eager == lazy bit for bit, and flat graph memory over 1,000 steps.

mod common;

use needle::nn::{
    mlp_resnet, BatchNorm1d, Forward, Linear, Module, Norm, ReLU, Sequential, SoftmaxLoss,
};
use needle::optim::{
    clip_grad_norm, Adam, AdamW, CosineAnnealing, LinearWarmup, LrSchedule, Momentum, Optimizer,
    Sgd, StepLr,
};
use needle::{live_nodes, manual_seed, with_mode, Mode, Tensor};

/// One parameter w with loss Σ (w·x)² for a fixed x, so the gradient is 2x²w.
fn quadratic_steps(mut opt: impl Optimizer, w: &Tensor, steps: usize) -> Vec<f32> {
    let x = Tensor::from_vec(vec![1.0, 2.0], &[2]);
    for _ in 0..steps {
        opt.zero_grad();
        (w * &x).square().sum_all().backward();
        opt.step();
    }
    w.to_vec()
}

fn param() -> Tensor {
    Tensor::from_vec(vec![1.0, -0.5], &[2]).requires_grad_(true)
}

/// The same rules written out in f64 on the host.
fn reference(steps: usize, update: &mut dyn FnMut(usize, f64, f64) -> f64) -> Vec<f32> {
    let x = [1.0f64, 2.0];
    let mut w = [1.0f64, -0.5];
    for t in 0..steps {
        for i in 0..2 {
            let g = 2.0 * x[i] * x[i] * w[i];
            w[i] = update(t * 2 + i, w[i], g);
        }
    }
    w.iter().map(|&v| v as f32).collect()
}

fn assert_near(a: &[f32], b: &[f32]) {
    for (x, y) in a.iter().zip(b) {
        assert!((x - y).abs() <= 1e-5 * (1.0 + y.abs()), "{a:?} vs {b:?}");
    }
}

#[test]
fn sgd_rules_match_the_course_and_pytorch() {
    for mode in common::MODES {
        with_mode(mode, || {
            let w = param();
            let got = quadratic_steps(Sgd::new(vec![w.clone()], 0.1).weight_decay(0.01), &w, 3);
            assert_near(&got, &reference(3, &mut |_, w, g| w - 0.1 * (g + 0.01 * w)));

            let mut u = [0.0f64; 2];
            let w = param();
            let got = quadratic_steps(
                Sgd::new(vec![w.clone()], 0.1).momentum(0.9, Momentum::Ema),
                &w,
                3,
            );
            let want = reference(3, &mut |k, w, g| {
                u[k % 2] = 0.9 * u[k % 2] + 0.1 * g;
                w - 0.1 * u[k % 2]
            });
            assert_near(&got, &want);

            let mut u = [0.0f64; 2];
            let w = param();
            let opt =
                Sgd::new(vec![w.clone()], 0.05).momentum(0.9, Momentum::Classic { nesterov: true });
            let got = quadratic_steps(opt, &w, 3);
            let want = reference(3, &mut |k, w, g| {
                u[k % 2] = 0.9 * u[k % 2] + g;
                w - 0.05 * (g + 0.9 * u[k % 2])
            });
            assert_near(&got, &want);
        });
    }
}

/// The lecture's unbiased momentum, u_t / (1 − βᵗ), and Nesterov in the EMA form, biased and
/// unbiased, against the rules written out in f64 over three steps.
#[test]
fn ema_momentum_and_nesterov_with_and_without_bias_correction() {
    for mode in common::MODES {
        with_mode(mode, || {
            for (kind, unbiased) in [
                (Momentum::Ema, true),
                (Momentum::Nesterov, false),
                (Momentum::Nesterov, true),
            ] {
                let mut u = [0.0f64; 2];
                let w = param();
                let opt = Sgd::new(vec![w.clone()], 0.1)
                    .momentum(0.9, kind)
                    .bias_correction(unbiased);
                let got = quadratic_steps(opt, &w, 3);
                let want = reference(3, &mut |k, w, g| {
                    let t = (k / 2 + 1) as i32;
                    u[k % 2] = 0.9 * u[k % 2] + 0.1 * g;
                    let c = if unbiased { 1.0 - 0.9f64.powi(t) } else { 1.0 };
                    let d = match kind {
                        Momentum::Nesterov => 0.9 * u[k % 2] / c + 0.1 * g,
                        _ => u[k % 2] / c,
                    };
                    w - 0.1 * d
                });
                assert_near(&got, &want);
            }
        });
    }
}

/// Unbiased momentum's first update is lr·g (the biased EMA's is lr·(1−β)·g, Nesterov's
/// biased one lr·(1−β²)·g): gradient 1, lr 0.5, from 0.
#[test]
fn unbiased_momentum_first_update_is_lr_times_gradient() {
    for mode in common::MODES {
        with_mode(mode, || {
            for (kind, unbiased, want) in [
                (Momentum::Ema, true, -0.5),
                (Momentum::Nesterov, true, -0.5),
                (Momentum::Ema, false, -0.05),
                (Momentum::Nesterov, false, -0.095),
            ] {
                let w = Tensor::zeros(&[1]).requires_grad_(true);
                let mut sgd = Sgd::new(vec![w.clone()], 0.5)
                    .momentum(0.9, kind)
                    .bias_correction(unbiased);
                w.sum_all().backward();
                sgd.step();
                let got = w.to_vec()[0];
                assert!(
                    (got - want).abs() <= 1e-7,
                    "{mode:?} {kind:?} unbiased={unbiased}: {got} vs {want}"
                );
                if unbiased {
                    assert_eq!(got, -0.5, "{mode:?} {kind:?}: exactly lr·g");
                }
            }
        });
    }
}

/// The step count behind the correction is saved and restored with the velocity: a restored
/// optimizer continues exactly as the original.
#[test]
fn unbiased_momentum_state_round_trips() {
    let run = |split: bool| {
        let w = param();
        let make = |w: &Tensor| {
            Sgd::new(vec![w.clone()], 0.1)
                .momentum(0.9, Momentum::Ema)
                .bias_correction(true)
        };
        let mut opt = make(&w);
        let x = Tensor::from_vec(vec![1.0, 2.0], &[2]);
        for step in 0..4 {
            if split && step == 2 {
                let state: std::collections::HashMap<_, _> = opt.state().into_iter().collect();
                assert_eq!(state["sgd.step"].item(), 2.0);
                opt = make(&w);
                opt.load_state(&state).unwrap();
            }
            opt.zero_grad();
            (&w * &x).square().sum_all().backward();
            opt.step();
        }
        w.to_vec()
    };
    assert_eq!(run(true), run(false));

    // Velocity saved without correction has no step count to resume the correction from.
    let w = param();
    let mut biased = Sgd::new(vec![w.clone()], 0.1).momentum(0.9, Momentum::Ema);
    w.sum_all().backward();
    biased.step();
    let state: std::collections::HashMap<_, _> = biased.state().into_iter().collect();
    let mut unbiased = Sgd::new(vec![w.clone()], 0.1)
        .momentum(0.9, Momentum::Ema)
        .bias_correction(true);
    let err = unbiased.load_state(&state).unwrap_err();
    assert_eq!(
        err.to_string(),
        "optimizer state \"sgd.step\": missing (bias correction needs the step count)"
    );
    let mut bad = state.clone();
    bad.insert("sgd.step".into(), Tensor::scalar(1.5));
    assert_eq!(
        unbiased.load_state(&bad).unwrap_err().to_string(),
        "optimizer state \"sgd.step\": expected one whole step count >= 0, found f32 [] holding 1.5"
    );
}

#[test]
#[should_panic(expected = "bias correction is defined for the EMA momentum forms")]
fn pytorch_momentum_has_no_bias_correction() {
    let w = param();
    let mut opt = Sgd::new(vec![w.clone()], 0.1)
        .momentum(0.9, Momentum::Classic { nesterov: false })
        .bias_correction(true);
    w.sum_all().backward();
    opt.step();
}

#[test]
fn adam_and_adamw_rules() {
    for mode in common::MODES {
        with_mode(mode, || {
            let adam = |decoupled: bool| {
                let (mut m, mut v) = ([0.0f64; 2], [0.0f64; 2]);
                reference(4, &mut move |k, w, g| {
                    let t = (k / 2 + 1) as i32;
                    let i = k % 2;
                    let g = if decoupled { g } else { g + 0.01 * w };
                    m[i] = 0.9 * m[i] + 0.1 * g;
                    v[i] = 0.999 * v[i] + 0.001 * g * g;
                    let mh = m[i] / (1.0 - 0.9f64.powi(t));
                    let vh = v[i] / (1.0 - 0.999f64.powi(t));
                    let d = mh / (vh.sqrt() + 1e-8);
                    if decoupled {
                        w - 0.1 * (d + 0.01 * w)
                    } else {
                        w - 0.1 * d
                    }
                })
            };
            let w = param();
            let got = quadratic_steps(Adam::new(vec![w.clone()], 0.1).weight_decay(0.01), &w, 4);
            assert_near(&got, &adam(false));
            let w = param();
            let got = quadratic_steps(AdamW::new(vec![w.clone()], 0.1, 0.01), &w, 4);
            assert_near(&got, &adam(true));
        });
    }
}

#[test]
fn step_never_modifies_the_gradient() {
    let w = param();
    let mut opt = Adam::new(vec![w.clone()], 0.1).weight_decay(0.5);
    (&w * 3.0).sum_all().backward();
    let before = w.grad().unwrap();
    let values = before.to_vec();
    opt.step();
    let after = w.grad().unwrap();
    assert!(after.same_handle(&before));
    assert_eq!(after.to_vec(), values);
}

fn small_model() -> Sequential {
    Sequential::new()
        .push(Linear::new(6, 8))
        .push(BatchNorm1d::new(8))
        .push(ReLU::new())
        .push(Linear::new(8, 3))
}

fn train_steps(
    model: &Sequential,
    opt: &mut dyn Optimizer,
    steps: usize,
    mut after_step: impl FnMut(usize),
) -> Vec<f32> {
    let x = Tensor::randn(&[16, 6]);
    let y = Tensor::randint(0, 3, &[16]);
    let mut losses = Vec::new();
    for step in 0..steps {
        opt.zero_grad();
        let loss = SoftmaxLoss::new().forward(&model.forward(&x), &y);
        loss.backward();
        opt.step();
        losses.push(loss.item());
        after_step(step);
    }
    losses
}

#[test]
fn thousand_steps_keep_live_nodes_flat() {
    for mode in common::MODES {
        with_mode(mode, || {
            for use_adam in [false, true] {
                manual_seed(0);
                let model = small_model();
                let mut opt: Box<dyn Optimizer> = if use_adam {
                    Box::new(Adam::new(model.parameters(), 1e-2).weight_decay(1e-3))
                } else {
                    Box::new(Sgd::new(model.parameters(), 0.1).momentum(0.9, Momentum::Ema))
                };
                let mut counts = Vec::new();
                // A held loss keeps two more nodes when compiled code computed it than when
                // the interpreter did (tiered compilation): on a loaded machine the background
                // compile can outlast the first sample, so a step the interpreter ran waits.
                let mut interpreted = needle::jit::stats().interpreted_runs;
                let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
                let losses = train_steps(&model, opt.as_mut(), 1000, |step| {
                    let now = needle::jit::stats().interpreted_runs;
                    if now > interpreted && std::time::Instant::now() < deadline {
                        std::thread::sleep(std::time::Duration::from_millis(2));
                    }
                    interpreted = now;
                    if step >= 10 && step % 100 == 0 {
                        counts.push(live_nodes());
                    }
                });
                let (lo, hi) = (counts.iter().min().unwrap(), counts.iter().max().unwrap());
                assert_eq!(lo, hi, "{mode:?}, adam={use_adam}: live nodes {counts:?}");
                assert!(
                    losses[999] < losses[0],
                    "training did not reduce the loss: {} -> {}",
                    losses[0],
                    losses[999]
                );
            }
        });
    }
}

#[test]
fn eager_and_lazy_train_mlp_resnet_identically() {
    let run = |mode| {
        with_mode(mode, || {
            manual_seed(4);
            let model = mlp_resnet(20, 16, 2, 5, Norm::BatchNorm, 0.1);
            let mut opt = Adam::new(model.parameters(), 1e-3).weight_decay(1e-3);
            let x = Tensor::randn(&[10, 20]);
            let y = Tensor::randint(0, 5, &[10]);
            let mut losses = Vec::new();
            for _ in 0..5 {
                opt.zero_grad();
                let loss = SoftmaxLoss::new().forward(&model.forward(&x), &y);
                loss.backward();
                opt.step();
                losses.push(loss.item());
            }
            let params: Vec<f32> = model.parameters().iter().flat_map(|p| p.to_vec()).collect();
            (losses, params)
        })
    };
    let (a, b) = (run(Mode::Eager), run(Mode::Lazy));
    assert_eq!(
        a.0.iter().map(|v| v.to_bits()).collect::<Vec<_>>(),
        b.0.iter().map(|v| v.to_bits()).collect::<Vec<_>>()
    );
    assert!(a
        .1
        .iter()
        .zip(&b.1)
        .all(|(x, y)| x.to_bits() == y.to_bits()));
}

#[test]
fn schedules() {
    let step = StepLr {
        base: 1.0,
        step_size: 10,
        gamma: 0.5,
    };
    assert_eq!(
        (step.lr(0), step.lr(9), step.lr(10), step.lr(25)),
        (1.0, 1.0, 0.5, 0.25)
    );
    let cos = CosineAnnealing {
        base: 1.0,
        min: 0.0,
        period: 100,
    };
    assert!(
        (cos.lr(0) - 1.0).abs() < 1e-6
            && (cos.lr(50) - 0.5).abs() < 1e-6
            && cos.lr(100).abs() < 1e-6
    );
    let warm = LinearWarmup {
        warmup: 4,
        then: StepLr {
            base: 0.8,
            step_size: 100,
            gamma: 0.1,
        },
    };
    assert_eq!((warm.lr(0), warm.lr(3), warm.lr(4)), (0.2, 0.8, 0.8));
}

#[test]
fn clipping_scales_to_the_global_norm() {
    let a = Tensor::from_vec(vec![1.0], &[1]).requires_grad_(true);
    let b = Tensor::from_vec(vec![1.0], &[1]).requires_grad_(true);
    (&(&a * 3.0) + &(&b * 4.0)).sum_all().backward();
    let norm = clip_grad_norm(&[a.clone(), b.clone()], 1.0);
    assert!((norm.item() - 5.0).abs() < 1e-6);
    assert!((a.grad().unwrap().item() - 0.6).abs() < 1e-5);
    assert!((b.grad().unwrap().item() - 0.8).abs() < 1e-5);
    let norm = clip_grad_norm(&[a.clone(), b.clone()], 10.0);
    assert!((norm.item() - 1.0).abs() < 1e-4);
    assert!((a.grad().unwrap().item() - 0.6).abs() < 1e-5);
}

/// 1 − β is formed in double and rounded once (PyTorch, the course): 1 − 0.9f32 in f32 is
/// 0.100000024, which made the first Adam step from 0 with lr 1 and gradient 1 −1.0000068.
#[test]
fn one_minus_beta_is_rounded_once() {
    for mode in common::MODES {
        with_mode(mode, || {
            let w = Tensor::zeros(&[1]).requires_grad_(true);
            let mut adam = Adam::new(vec![w.clone()], 1.0);
            w.sum_all().backward();
            adam.step();
            assert_eq!(w.to_vec(), vec![-1.0], "{mode:?}: Adam");

            let w = Tensor::zeros(&[1]).requires_grad_(true);
            let mut sgd = Sgd::new(vec![w.clone()], 1.0).momentum(0.9, Momentum::Ema);
            w.sum_all().backward();
            sgd.step();
            // torch: buf = 0.9 * 0 + (1 - 0.9) * 1 in f32 = 0.1f32.
            assert_eq!(w.to_vec(), vec![-0.1], "{mode:?}: SGD EMA momentum");

            // BatchNorm's running variance (1 at first; the batch's is 0) with momentum 0.97:
            // 0.03 · 1, not 0.029999971.
            let bn = BatchNorm1d::with_options(1, 1e-5, 0.97);
            bn.forward(&Tensor::from_vec(vec![1.0, 1.0], &[2, 1]))
                .realize();
            assert_eq!(bn.running_var.to_vec(), vec![0.03], "{mode:?}: BatchNorm");
        });
    }
}
