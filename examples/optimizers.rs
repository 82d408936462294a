//! Lecture 6: the same MLP trained on MNIST with SGD, SGD with momentum (the course's EMA form
//! and PyTorch's), Nesterov, and Adam with and without bias correction, from one initialisation.
//!
//! `cargo run --release --example optimizers -- [--mode jit|eager|lazy] [--epochs N] [--plot FILE.svg]`

use std::path::{Path, PathBuf};

use needle::data::Mnist;
use needle::experiments::optimizers::compare;
use needle::experiments::Split;
use needle::plot::{line_chart, Series};
use needle::Mode;

fn main() {
    needle::init();
    let (mut mode, mut epochs, mut plot) = (Mode::Jit, 2usize, PathBuf::from("optimizers.svg"));
    for (flag, value) in needle::cli::flag_pairs() {
        match flag.as_str() {
            "--mode" => mode = needle::cli::mode(&value),
            "--epochs" => epochs = needle::cli::positive(&flag, &value),
            "--plot" => plot = PathBuf::from(value),
            other => needle::cli::fail(&format!("unknown flag {other}")),
        }
    }
    needle::set_mode(mode);
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("data/mnist");
    let train = Mnist::load_split(&dir, true).expect("MNIST");
    let test = Split::from_mnist(&Mnist::load_split(&dir, false).expect("MNIST"), None);
    println!("MLP 784-100-10, batch 100, {epochs} epochs, seed 0, mode {mode:?}");
    let runs = compare(&train, &test, 100, epochs, 100, 0);
    println!(
        "{:<32} {:>12} {:>10} {:>9}",
        "optimizer", "final loss", "train err", "test err"
    );
    for r in &runs {
        let tail = &r.losses[r.losses.len().saturating_sub(100)..];
        let final_loss = tail.iter().sum::<f64>() / tail.len().max(1) as f64;
        println!(
            "{:<32} {:>12.4} {:>9.2}% {:>8.2}%",
            r.name,
            final_loss,
            100.0 * r.train_err,
            100.0 * r.test_err
        );
    }
    // Moving average over 50 steps so the curves are readable.
    let series: Vec<Series> = runs
        .iter()
        .map(|r| Series {
            name: r.name.clone(),
            points: r
                .losses
                .windows(50)
                .enumerate()
                .step_by(10)
                .map(|(i, w)| ((i + 50) as f64, w.iter().sum::<f64>() / 50.0))
                .collect(),
        })
        .collect();
    match line_chart(
        &plot,
        "training loss by optimizer (50-step average)",
        "step",
        "loss",
        &series,
    ) {
        Ok(()) => println!("plot written to {}", plot.display()),
        Err(e) => eprintln!("plot failed: {e}"),
    }
}
