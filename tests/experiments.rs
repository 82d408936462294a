//! The lecture experiments' core functions on small MNIST subsets.

use std::path::Path;

use needle::data::Mnist;
use needle::experiments::init_study::{self, Norm};
use needle::experiments::manual_nets::{softmax_regression, two_layer, Gradients, Schedule};
use needle::experiments::optimizers::quadratic;
use needle::experiments::{optimizers, Split};
use needle::{with_mode, Mode};

fn splits(n_train: usize, n_test: usize) -> (Mnist, Split, Split) {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("data/mnist");
    let train = Mnist::load_split(&dir, true).unwrap();
    let test = Mnist::load_split(&dir, false).unwrap();
    let (tr, te) = (
        Split::from_mnist(&train, Some(n_train)),
        Split::from_mnist(&test, Some(n_test)),
    );
    (train, tr, te)
}

#[test]
fn manual_and_autodiff_gradients_give_the_same_training() {
    let (_, train, test) = splits(1000, 500);
    with_mode(Mode::Jit, || {
        let run = Schedule {
            epochs: 2,
            lr: 0.2,
            batch: 100,
        };
        let a = softmax_regression(&train, &test, &run, Gradients::Manual);
        let b = softmax_regression(&train, &test, &run, Gradients::Autodiff);
        let c = two_layer(&train, &test, 50, 0, &run, Gradients::Manual);
        let d = two_layer(&train, &test, 50, 0, &run, Gradients::Autodiff);
        for (x, y) in a.iter().zip(&b).chain(c.iter().zip(&d)) {
            for (p, q) in [(x.train_loss, y.train_loss), (x.test_loss, y.test_loss)] {
                assert!(
                    (p - q).abs() <= 1e-5 * (1.0 + q.abs()),
                    "manual {x:?} vs autodiff {y:?}"
                );
            }
        }
        assert!(c[1].train_loss < c[0].train_loss);
    });
}

#[test]
fn softmax_regression_reproduces_the_course_first_epoch() {
    // hw0's train_softmax(epochs=10, lr=0.2, batch=100), epoch 0 on the full data:
    // train loss 0.35134, train err 0.10182, test loss 0.33588, test err 0.09400.
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("data/mnist");
    let train = Split::from_mnist(&Mnist::load_split(&dir, true).unwrap(), None);
    let test = Split::from_mnist(&Mnist::load_split(&dir, false).unwrap(), None);
    let rows = with_mode(Mode::Jit, || {
        softmax_regression(
            &train,
            &test,
            &Schedule {
                epochs: 1,
                lr: 0.2,
                batch: 100,
            },
            Gradients::Manual,
        )
    });
    let r = rows[0];
    assert!(
        (r.train_loss - 0.35134).abs() < 1e-4 && (r.test_loss - 0.33588).abs() < 1e-4,
        "{r:?}"
    );
    assert!(
        (r.train_err - 0.10182).abs() < 1e-4 && (r.test_err - 0.09400).abs() < 1e-4,
        "{r:?}"
    );
}

#[test]
fn activation_norms_follow_the_initialisation_scale() {
    let (_, train, test) = splits(200, 100);
    let studies = with_mode(Mode::Jit, || {
        let config = init_study::Config {
            eval_every: 2,
            ..init_study::Config::lectures(2)
        };
        init_study::run(&train, &test, &config)
    });
    assert_eq!(studies.len(), 9);
    let ratio = |i: usize| {
        let a = &studies[i].before.activation_norms;
        a[49] / a[0]
    };
    // Without normalisation, ReLU halves the variance per layer: c = 1 shrinks the activations
    // by more than 10⁴ over 50 layers (2^-24.5 ≈ 4e-8 in expectation), c = 2 keeps, c = 3 grows
    // them.
    assert!(ratio(0) < 1e-4, "c=1: {}", ratio(0));
    assert!((0.05..20.0).contains(&ratio(1)), "c=2: {}", ratio(1));
    assert!(ratio(2) > 1e3, "c=3: {}", ratio(2));
    // With LayerNorm or BatchNorm every layer's activations stay within 2×, whatever c.
    for s in &studies[3..] {
        let a = &s.before.activation_norms;
        let (lo, hi) = a
            .iter()
            .fold((f64::MAX, 0.0f64), |(lo, hi), &v| (lo.min(v), hi.max(v)));
        assert!(
            hi / lo < 2.0,
            "{:?} c={}: norms from {lo} to {hi}",
            s.norm,
            s.c
        );
    }
    for s in &studies {
        assert_eq!(
            s.outcome,
            init_study::Outcome::Budget,
            "{:?} c={}",
            s.norm,
            s.c
        );
        assert_eq!(s.errors.len(), 2);
    }
}

/// Lecture 6: training moves each layer's weights only a little from their initialisation, and
/// (lecture 9) leaves the weight variance where it was.
#[test]
fn trained_weights_stay_close_to_their_initialisation() {
    let (_, train, test) = splits(2000, 500);
    let studies = with_mode(Mode::Jit, || {
        let config = init_study::Config {
            cs: vec![2.0],
            norms: vec![Norm::None, Norm::Layer],
            eval_every: 100,
            target_err: 0.0,
            ..init_study::Config::lectures(200)
        };
        init_study::run(&train, &test, &config)
    });
    for s in &studies {
        let (first, last) = (s.errors[0].1, s.errors.last().unwrap().1);
        assert!(
            last < first - 0.2,
            "{:?}: test errors {:?}, did not train",
            s.norm,
            s.errors
        );
        for (i, &d) in s.weight_change.iter().enumerate() {
            assert!(
                d > 0.0 && d < 0.1,
                "{:?} layer {}: ‖ΔW‖/‖W₀‖ = {d}",
                s.norm,
                i + 1
            );
        }
        for (b, a) in s
            .before
            .weight_variances
            .iter()
            .zip(&s.after.weight_variances)
        {
            assert!(
                (a / b - 1.0).abs() < 0.1,
                "{:?}: variance {b} → {a}",
                s.norm
            );
        }
    }
    // ‖(3, 4) − (0, 4)‖ / ‖(0, 4)‖ = 3 / 4.
    assert_eq!(init_study::relative_change(&[3.0, 4.0], &[0.0, 4.0]), 0.75);
}

#[test]
fn training_stops_at_the_target_error() {
    let (_, train, test) = splits(200, 100);
    let studies = with_mode(Mode::Jit, || {
        let config = init_study::Config {
            cs: vec![2.0],
            norms: vec![Norm::Layer],
            target_err: 1.01,
            eval_every: 3,
            ..init_study::Config::lectures(10)
        };
        init_study::run(&train, &test, &config)
    });
    // Any error is under 101 %: the first evaluation, after 3 steps, ends the training.
    assert_eq!(studies[0].outcome, init_study::Outcome::Reached(3));
    assert_eq!(studies[0].errors.len(), 2);
}

#[test]
fn every_optimizer_trains() {
    let (train, _, test) = splits(10, 500);
    let small = {
        let mut m = train.clone();
        m.images.truncate(1000 * 784);
        m.labels.truncate(1000);
        m
    };
    let lrs: Vec<f32> = optimizers::NAMES
        .iter()
        .map(|n| if n.starts_with("Adam") { 1e-3 } else { 0.03 })
        .collect();
    let runs = with_mode(Mode::Jit, || {
        optimizers::compare(&small, &test, 32, (2, 50, 0), &lrs)
    });
    assert_eq!(runs.len(), optimizers::NAMES.len());
    for r in &runs {
        let (first, last) = (
            r.losses[..5].iter().sum::<f64>(),
            r.losses[r.losses.len() - 5..].iter().sum::<f64>(),
        );
        assert!(last < first, "{} did not reduce the loss", r.name);
    }
    for (a, b) in [(1, 2), (3, 4), (7, 8)] {
        assert_ne!(
            runs[a].losses, runs[b].losses,
            "bias correction changes the steps of {}",
            runs[a].name
        );
    }
}

#[test]
fn tuning_picks_the_lowest_final_loss_of_the_grid() {
    let (train, _, _) = splits(10, 10);
    let small = {
        let mut m = train.clone();
        m.images.truncate(500 * 784);
        m.labels.truncate(500);
        m
    };
    let tunings = with_mode(Mode::Jit, || optimizers::tune(&small, 16, 60, 50, 0));
    assert_eq!(tunings.len(), optimizers::NAMES.len());
    for t in &tunings {
        let grid = optimizers::grid(&t.name);
        assert_eq!(t.scores.iter().map(|s| s.0).collect::<Vec<_>>(), grid);
        let lowest = t.scores.iter().map(|s| s.1).fold(f64::INFINITY, f64::min);
        assert_eq!(
            t.scores.iter().find(|s| s.0 == t.best).unwrap().1,
            lowest,
            "{t:?}"
        );
    }
    assert_eq!(
        optimizers::steps_to_reach(&[3.0, 2.0, 1.0, 0.5], 1.5, 2),
        Some(3)
    );
    assert_eq!(optimizers::steps_to_reach(&[3.0, 2.0], 1.0, 2), None);
}

/// Lecture 6's claims on its quadratic, in every mode, with the same iterates in each.
#[test]
fn the_quadratic_shows_the_lecture_claims() {
    let runs = [Mode::Eager, Mode::Lazy, Mode::Jit].map(|m| with_mode(m, || quadratic::run(40)));
    for r in &runs[1..] {
        for (a, b) in r.iter().zip(&runs[0]) {
            assert_eq!(a.points, b.points, "{}: modes differ", a.name);
        }
    }
    let by_name = |n: &str| runs[2].iter().find(|r| r.name == n).unwrap().clone();
    // Gradient descent past 2/λ_max = 0.1 bounces further out every other step.
    let d = by_name("GD lr 0.102 (diverges)").distances();
    assert!(
        d[40] > 2.0 * d[0] && d[40] > d[30] && d[30] > d[20],
        "{d:?}"
    );
    // A small step crawls: after 40 steps more than half the way is left.
    let d = by_name("GD lr 0.01 (crawls)").distances();
    assert!(d[40] > 0.5 * d[0], "{d:?}");
    // One full Newton step lands on the minimum of a quadratic (to f32 rounding).
    let newton = by_name("Newton, full step");
    let m = quadratic::MINIMUM;
    assert!(
        (newton.points[1][0] - m[0]).abs() < 1e-6 && (newton.points[1][1] - m[1]).abs() < 1e-6,
        "{:?}",
        newton.points[1]
    );
    // A damped step α moves a fraction α of the way each step.
    let d = by_name("Newton, damped step 0.3").distances();
    assert!((d[1] / d[0] - 0.7).abs() < 1e-5, "{d:?}");
    // Unbiased momentum's first update is lr·g (g at the start, by hand: A·x0 + b).
    let g = [10.5 * -2.0 - 1.0, 9.5 * -2.0 + 1.0];
    let first = by_name("unbiased momentum").points[1];
    for i in 0..2 {
        let want = quadratic::START[i] - 0.2 * g[i];
        assert!((first[i] - want).abs() < 1e-5, "{first:?} vs {want}");
    }
    // The biased one moves (1 − β) of that.
    let first = by_name("momentum").points[1];
    assert!(
        (first[0] - (quadratic::START[0] - 0.02 * g[0])).abs() < 1e-5,
        "{first:?}"
    );
}

#[test]
fn newton_hessian_comes_from_second_order_autodiff() {
    for mode in [Mode::Eager, Mode::Jit] {
        with_mode(mode, || {
            let x = needle::Tensor::from_vec(vec![0.5, 2.0], &[2]).requires_grad_(true);
            let (g, h) = quadratic::gradient_and_hessian(&x);
            assert_eq!(h, quadratic::A, "{mode:?}");
            assert_eq!(
                g,
                [10.5 * 0.5 + 9.5 * 2.0 - 1.0, 9.5 * 0.5 + 10.5 * 2.0 + 1.0]
            );
        });
    }
}
