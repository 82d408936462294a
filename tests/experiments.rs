//! The lecture experiments' core functions on small MNIST subsets.

use std::path::Path;

use needle::data::Mnist;
use needle::experiments::init_study::{self, Norm};
use needle::experiments::manual_nets::{softmax_regression, two_layer, Gradients, Schedule};
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
            norms: vec![Norm::None, Norm::Layer],
            ..init_study::Config::lectures(2)
        };
        init_study::run(&train, &test, &config)
    });
    let ratio = |i: usize| {
        let a = &studies[i].before.activation_norms;
        a[49] / a[0]
    };
    // Without normalisation, ReLU halves the variance per layer: c = 1 shrinks, c = 2 keeps,
    // c = 3 grows the activations over 50 layers.
    assert!(ratio(0) < 1e-3, "c=1: {}", ratio(0));
    assert!((0.05..20.0).contains(&ratio(1)), "c=2: {}", ratio(1));
    assert!(ratio(2) > 1e3, "c=3: {}", ratio(2));
    // With layer norm every layer's activations stay in a band, whatever c.
    for s in &studies[3..] {
        let a = &s.before.activation_norms;
        let (lo, hi) = a
            .iter()
            .fold((f64::MAX, 0.0f64), |(lo, hi), &v| (lo.min(v), hi.max(v)));
        assert!(
            hi / lo < 2.0,
            "LayerNorm c={}: norms from {lo} to {hi}",
            s.c
        );
    }
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
    let runs = with_mode(Mode::Jit, || {
        optimizers::compare(&small, &test, 32, 2, 50, 0)
    });
    assert_eq!(runs.len(), 6);
    for r in &runs {
        let (first, last) = (
            r.losses[..5].iter().sum::<f64>(),
            r.losses[r.losses.len() - 5..].iter().sum::<f64>(),
        );
        assert!(last < first, "{} did not reduce the loss", r.name);
    }
    assert_ne!(
        runs[4].losses, runs[5].losses,
        "bias correction changes Adam's steps"
    );
}
