//! Lecture 6: what each optimizer does. First the lecture's picture, an elongated 2-D convex
//! quadratic with the paths of gradient descent (small, bouncing and too large steps), Newton's
//! method (full and damped steps, Hessian by second-order autodiff), momentum with and without
//! bias correction, Nesterov, and Adam with and without bias correction. Then the same MLP
//! trained on MNIST with each optimizer at its best learning rate from a stated grid.
//!
//! `cargo run --release --example optimizers -- [--mode jit|eager|lazy] [--epochs N] [--tune-steps N] [--prefix PATH]`
//!
//! Writes PATH.svg (MNIST loss curves), PATH_quadratic.svg (paths over the contours) and
//! PATH_quadratic_gap.svg (f − f* by step); PATH defaults to `optimizers`.

use std::path::{Path, PathBuf};

use needle::data::Mnist;
use needle::experiments::optimizers::quadratic::{self, Trajectory};
use needle::experiments::optimizers::{compare, grid, steps_to_reach, tail_mean, tune, NAMES};
use needle::experiments::Split;
use needle::plot::{panel_chart, Layout, Panel, Series};
use needle::Mode;

/// Steps of every method on the quadratic.
const QUADRATIC_STEPS: usize = 40;
/// The training loss (50-step mean) whose first crossing the MNIST table reports.
const TARGET_LOSS: f64 = 0.3;

fn main() {
    needle::init();
    let (mut mode, mut epochs, mut tune_steps) = (Mode::Jit, 2usize, 300usize);
    let mut prefix = String::from("optimizers");
    for (flag, value) in needle::cli::flag_pairs() {
        match flag.as_str() {
            "--mode" => mode = needle::cli::mode(&value),
            "--epochs" => epochs = needle::cli::positive(&flag, &value),
            "--tune-steps" => tune_steps = needle::cli::positive(&flag, &value),
            "--prefix" => prefix = value,
            other => needle::cli::fail(&format!("unknown flag {other}")),
        }
    }
    needle::set_mode(mode);
    quadratic_part(&prefix, mode);
    mnist_part(&prefix, mode, epochs, tune_steps);
}

/// Groups trajectories into panels in order of first appearance.
fn panels(runs: &[Trajectory], points: impl Fn(&Trajectory) -> Vec<(f64, f64)>) -> Vec<Panel> {
    let mut out: Vec<Panel> = Vec::new();
    for r in runs {
        let series = Series {
            name: r.name.clone(),
            points: points(r),
        };
        match out.iter_mut().find(|p| p.title == r.group) {
            Some(p) => p.series.push(series),
            None => out.push(Panel {
                title: r.group.clone(),
                series: vec![series],
            }),
        }
    }
    out
}

fn quadratic_part(prefix: &str, mode: Mode) {
    println!(
        "f(x) = ½xᵀAx + bᵀx, A = {:?} (eigenvalues 20 and 1), b = {:?}; minimum {:?}, start {:?}; {QUADRATIC_STEPS} steps, mode {mode:?}",
        quadratic::A, quadratic::B, quadratic::MINIMUM, quadratic::START
    );
    let runs = quadratic::run(QUADRATIC_STEPS);
    println!("distance to the minimum after t steps:");
    let ts = [1usize, 2, 5, 10, 20, 40];
    print!("{:<32}", "method");
    for t in ts {
        print!(" {:>9}", format!("t={t}"));
    }
    println!(" {:>11}", "f − f* end");
    for r in &runs {
        let d = r.distances();
        print!("{:<32}", r.name);
        for t in ts {
            print!(" {:>9.3e}", d[t]);
        }
        println!(" {:>11.3e}", r.gaps()[QUADRATIC_STEPS]);
    }
    let (m, s) = (quadratic::MINIMUM, 5.0);
    let layout = Layout {
        window: Some(((m[0] - s, m[0] + s), (m[1] - s, m[1] + s))),
        background: &quadratic::contours(&[0.1, 0.5, 2.0, 8.0, 32.0, 128.0]),
        mark: Some((m[0], m[1])),
        markers: true,
    };
    let path = PathBuf::from(format!("{prefix}_quadratic.svg"));
    let paths = panels(&runs, |r| r.points.iter().map(|p| (p[0], p[1])).collect());
    report(
        &path,
        panel_chart(
            &path,
            "paths on an elongated quadratic bowl (contours grey, minimum ×)",
            "x₁",
            "x₂",
            &paths,
            &layout,
        ),
    );
    let path = PathBuf::from(format!("{prefix}_quadratic_gap.svg"));
    // f − f* reaches 0 in f32 for Newton's full step; floor it so the log axis can show it.
    let gaps = panels(&runs, |r| {
        r.gaps()
            .iter()
            .enumerate()
            .map(|(t, &g)| (t as f64, g.max(1e-12)))
            .collect()
    });
    report(
        &path,
        panel_chart(
            &path,
            "f(x_t) − f* on the quadratic (an exact 0 is drawn at 1e-12)",
            "step",
            "f − f*",
            &gaps,
            &Layout::default(),
        ),
    );
}

fn mnist_part(prefix: &str, mode: Mode, epochs: usize, tune_steps: usize) {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("data/mnist");
    let train = Mnist::load_split(&dir, true).expect("MNIST");
    let test = Split::from_mnist(&Mnist::load_split(&dir, false).expect("MNIST"), None);
    println!();
    println!("MNIST, MLP 784-100-10, batch 100, seed 0, mode {mode:?}, momentum β 0.9");
    println!(
        "learning rate search: {tune_steps} steps per rate, score = mean loss of the last 50 steps"
    );
    let tunings = tune(&train, 100, tune_steps, 100, 0);
    for t in &tunings {
        let scores: Vec<String> = t
            .scores
            .iter()
            .map(|(lr, s)| format!("{lr}: {s:.3}"))
            .collect();
        println!("  {:<30} {}  -> lr {}", t.name, scores.join(", "), t.best);
    }
    let lrs: Vec<f32> = tunings.iter().map(|t| t.best).collect();
    println!(
        "grids: {:?} (SGD family), {:?} (Adam)",
        grid("SGD"),
        grid("Adam")
    );
    println!("{epochs} epochs at the chosen rates:");
    let runs = compare(&train, &test, 100, (epochs, 100, 0), &lrs);
    println!(
        "{:<30} {:>7} {:>11} {:>10} {:>9} {:>22}",
        "optimizer",
        "lr",
        "final loss",
        "train err",
        "test err",
        format!("steps to loss {TARGET_LOSS}")
    );
    for r in &runs {
        let reach = steps_to_reach(&r.losses, TARGET_LOSS, 50)
            .map_or_else(|| "not reached".to_string(), |s| s.to_string());
        println!(
            "{:<30} {:>7} {:>11.4} {:>9.2}% {:>8.2}% {:>22}",
            r.name,
            r.lr,
            tail_mean(&r.losses, 100),
            100.0 * r.train_err,
            100.0 * r.test_err,
            reach
        );
    }
    // 50-step moving averages, one panel per family so no curve hides another.
    let smooth = |losses: &[f64]| -> Vec<(f64, f64)> {
        losses
            .windows(50)
            .enumerate()
            .step_by(10)
            .map(|(i, w)| ((i + 50) as f64, w.iter().sum::<f64>() / 50.0))
            .collect()
    };
    let families: [(&str, &[&str]); 3] = [
        ("SGD and the course's EMA momentum", &NAMES[..5]),
        ("SGD and PyTorch's momentum", &["SGD", NAMES[5], NAMES[6]]),
        ("SGD and Adam", &["SGD", NAMES[7], NAMES[8]]),
    ];
    let panels: Vec<Panel> = families
        .iter()
        .map(|(title, names)| Panel {
            title: title.to_string(),
            series: names
                .iter()
                .map(|n| {
                    let r = runs.iter().find(|r| r.name == *n).expect("every name runs");
                    Series {
                        name: format!("{} (lr {})", r.name, r.lr),
                        points: smooth(&r.losses),
                    }
                })
                .collect(),
        })
        .collect();
    let path = PathBuf::from(format!("{prefix}.svg"));
    report(
        &path,
        panel_chart(
            &path,
            "MNIST training loss (50-step average), each optimizer at its best grid rate",
            "step",
            "loss",
            &panels,
            &Layout::default(),
        ),
    );
}

fn report(path: &Path, result: Result<(), String>) {
    match result {
        Ok(()) => println!("plot written to {}", path.display()),
        Err(e) => eprintln!("plot failed: {e}"),
    }
}
