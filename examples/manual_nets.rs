//! Lecture 3 / homework 0: softmax regression and a two-layer ReLU network on MNIST, trained
//! with hand-derived gradients and with autodiff; both give the same numbers.
//!
//! `cargo run --release --example manual_nets -- [--mode jit|eager|lazy] [--epochs-softmax N]
//!  [--epochs-nn N] [--hidden H] [--plot FILE.svg]`

use std::path::{Path, PathBuf};

use needle::data::Mnist;
use needle::experiments::manual_nets::{softmax_regression, two_layer, Gradients, Schedule};
use needle::experiments::{EpochRow, Split};
use needle::plot::{line_chart, Series};
use needle::Mode;

fn table(title: &str, manual: &[EpochRow], auto: &[EpochRow]) {
    println!("\n{title}");
    println!(
        "{:>5} | {:>10} {:>9} {:>10} {:>9} | {:>12}",
        "epoch", "train loss", "train err", "test loss", "test err", "autodiff Δ"
    );
    for (e, (m, a)) in manual.iter().zip(auto).enumerate() {
        let diff = [
            m.train_loss - a.train_loss,
            m.test_loss - a.test_loss,
            m.train_err - a.train_err,
            m.test_err - a.test_err,
        ]
        .iter()
        .fold(0.0f64, |acc, d| acc.max(d.abs()));
        println!(
            "{:>5} | {:>10.5} {:>8.2}% {:>10.5} {:>8.2}% | {:>12.2e}",
            e,
            m.train_loss,
            100.0 * m.train_err,
            m.test_loss,
            100.0 * m.test_err,
            diff
        );
    }
}

fn main() {
    needle::init();
    let mut mode = Mode::Jit;
    let (mut epochs_softmax, mut epochs_nn, mut hidden) = (10usize, 20usize, 400usize);
    let mut plot: Option<PathBuf> = None;
    for (flag, value) in needle::cli::flag_pairs() {
        match flag.as_str() {
            "--mode" => mode = needle::cli::mode(&value),
            "--epochs-softmax" => epochs_softmax = needle::cli::positive(&flag, &value),
            "--epochs-nn" => epochs_nn = needle::cli::positive(&flag, &value),
            "--hidden" => hidden = needle::cli::positive(&flag, &value),
            "--plot" => plot = Some(PathBuf::from(value)),
            other => needle::cli::fail(&format!("unknown flag {other}")),
        }
    }
    needle::set_mode(mode);
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("data/mnist");
    let train = Split::from_mnist(&Mnist::load_split(&dir, true).expect("MNIST"), None);
    let test = Split::from_mnist(&Mnist::load_split(&dir, false).expect("MNIST"), None);
    println!("mode {mode:?}; minibatches of 100 in order, lr 0.2 (the course's hw0 setup)");
    let run = |epochs| Schedule {
        epochs,
        lr: 0.2,
        batch: 100,
    };
    let sm_manual = softmax_regression(&train, &test, &run(epochs_softmax), Gradients::Manual);
    let sm_auto = softmax_regression(&train, &test, &run(epochs_softmax), Gradients::Autodiff);
    table("softmax regression (θ = 0)", &sm_manual, &sm_auto);
    let nn_manual = two_layer(&train, &test, hidden, 0, &run(epochs_nn), Gradients::Manual);
    let nn_auto = two_layer(
        &train,
        &test,
        hidden,
        0,
        &run(epochs_nn),
        Gradients::Autodiff,
    );
    table(
        &format!("two-layer ReLU network, hidden {hidden}, seed 0"),
        &nn_manual,
        &nn_auto,
    );
    let path = plot.unwrap_or_else(|| PathBuf::from("manual_nets.svg"));
    let curve = |name: &str, rows: &[EpochRow], f: fn(&EpochRow) -> f64| Series {
        name: name.into(),
        points: rows
            .iter()
            .enumerate()
            .map(|(e, r)| ((e + 1) as f64, 100.0 * f(r)))
            .collect(),
    };
    let series = [
        curve("softmax train err", &sm_manual, |r| r.train_err),
        curve("softmax test err", &sm_manual, |r| r.test_err),
        curve("2-layer train err", &nn_manual, |r| r.train_err),
        curve("2-layer test err", &nn_manual, |r| r.test_err),
    ];
    match line_chart(
        &path,
        "MNIST error, manual gradients",
        "epoch",
        "error %",
        &series,
    ) {
        Ok(()) => println!("\nplot written to {}", path.display()),
        Err(e) => eprintln!("plot failed: {e}"),
    }
}
