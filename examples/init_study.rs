//! Lectures 6 and 9: a 50-layer ReLU MLP on MNIST with weights N(0, c/n) for c = 1, 2, 3,
//! without normalisation, with LayerNorm1d and with BatchNorm1d, each trained with Adam until its
//! test error is under 5 % (or the step budget is spent): per-layer activation norms, gradient
//! norms and weight variances before and after training, and how far each layer's weights moved,
//! ‖W − W₀‖ / ‖W₀‖.
//!
//! `cargo run --release --example init_study -- [--mode jit|eager|lazy] [--width N] [--max-steps N]
//! [--lr X] [--train N] [--cs 1,2,3] [--norms none,layer,batch] [--prefix PATH]`

use std::path::Path;

use needle::data::Mnist;
use needle::experiments::init_study::{run, Config, Norm, Outcome, Study};
use needle::experiments::Split;
use needle::plot::{panel_chart, Layout, Panel, Series};
use needle::Mode;

fn main() {
    needle::init();
    let mut config = Config::lectures(6000);
    let (mut mode, mut prefix, mut n_train) = (Mode::Jit, String::from("init_study"), 60_000);
    for (flag, value) in needle::cli::flag_pairs() {
        match flag.as_str() {
            "--mode" => mode = needle::cli::mode(&value),
            "--width" => config.width = needle::cli::positive(&flag, &value),
            "--max-steps" => config.max_steps = needle::cli::positive(&flag, &value),
            "--lr" => config.lr = needle::cli::number(&flag, &value),
            "--train" => n_train = needle::cli::positive(&flag, &value),
            "--cs" => {
                config.cs = value
                    .split(',')
                    .map(|c| needle::cli::number(&flag, c))
                    .collect()
            }
            "--norms" => {
                config.norms = value
                    .split(',')
                    .map(|n| match n {
                        "none" => Norm::None,
                        "layer" => Norm::Layer,
                        "batch" => Norm::Batch,
                        other => needle::cli::fail(&format!(
                            "--norms: {other} is not one of none, layer, batch"
                        )),
                    })
                    .collect()
            }
            "--prefix" => prefix = value,
            other => needle::cli::fail(&format!("unknown flag {other}")),
        }
    }
    needle::set_mode(mode);
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("data/mnist");
    let train = Split::from_mnist(
        &Mnist::load_split(&dir, true).expect("MNIST"),
        Some(n_train),
    );
    let test = Split::from_mnist(&Mnist::load_split(&dir, false).expect("MNIST"), None);
    println!(
        "{} × Linear({}) + ReLU, weights N(0, c/n), Adam lr {}, batch {}, until test error < {} % \
         (checked every {} steps) or {} steps, {} training images, mode {mode:?}",
        config.depth,
        config.width,
        config.lr,
        config.batch,
        100.0 * config.target_err,
        config.eval_every,
        config.max_steps,
        train.len()
    );
    let started = std::time::Instant::now();
    let studies = run(&train, &test, &config);
    let last = config.depth - 1;
    println!(
        "{:<6} {:>3} | {:>21} | {:>21} | {:>19} | {:>15} | {:>8} | outcome",
        "norm",
        "c",
        "‖act₁‖ → ‖act₅₀‖ init",
        "trained",
        "‖∇W₁‖, ‖∇W₅₀‖ init",
        "mean ‖ΔW‖/‖W₀‖",
        "test err"
    );
    for s in &studies {
        let (b, a) = (&s.before, &s.after);
        let mean_change = s.weight_change.iter().sum::<f64>() / s.weight_change.len() as f64;
        println!(
            "{:<6} {:>3} | {:>9.3e} → {:>9.3e} | {:>9.3e} → {:>9.3e} | {:>9.2e} {:>9.2e} | {:>15.4} | {:>7.2}% | {}",
            format!("{:?}", s.norm),
            s.c,
            b.activation_norms[0],
            b.activation_norms[last],
            a.activation_norms[0],
            a.activation_norms[last],
            b.gradient_norms[0],
            b.gradient_norms[last],
            mean_change,
            100.0 * s.test_err,
            describe(s)
        );
    }
    println!(
        "{:<6} {:>3} | weight variance per layer (min–max), before → after",
        "norm", "c"
    );
    for s in &studies {
        let range = |v: &[f64]| {
            let lo = v.iter().cloned().fold(f64::INFINITY, f64::min);
            let hi = v.iter().cloned().fold(0.0, f64::max);
            format!("{lo:.3e}–{hi:.3e}")
        };
        println!(
            "{:<6} {:>3} | {} → {}",
            format!("{:?}", s.norm),
            s.c,
            range(&s.before.weight_variances),
            range(&s.after.weight_variances)
        );
    }
    println!("{:.0} s", started.elapsed().as_secs_f64());
    plot(&studies, &prefix);
}

/// The outcome, and whether the network learned at all: ten classes make 90 % test error
/// chance level, so a run still above 80 % when its budget is spent did not learn.
fn describe(s: &Study) -> String {
    match s.outcome {
        Outcome::Budget if s.test_err > 0.8 => {
            "budget spent, did not learn (test error near chance)".to_string()
        }
        other => other.to_string(),
    }
}

/// One chart per quantity, one panel per normalisation, before and after training of each c
/// drawn as separate series (every series its own colour and dash).
fn plot(studies: &[Study], prefix: &str) {
    type Pick = fn(&Study) -> Vec<(&'static str, &Vec<f64>)>;
    let charts: [(&str, Pick); 4] = [
        ("activation norm", |s| {
            vec![
                ("init", &s.before.activation_norms),
                ("trained", &s.after.activation_norms),
            ]
        }),
        ("gradient norm", |s| {
            vec![
                ("init", &s.before.gradient_norms),
                ("trained", &s.after.gradient_norms),
            ]
        }),
        ("weight variance", |s| {
            vec![
                ("init", &s.before.weight_variances),
                ("trained", &s.after.weight_variances),
            ]
        }),
        ("relative weight change", |s| {
            vec![("‖W − W₀‖ / ‖W₀‖", &s.weight_change)]
        }),
    ];
    for (what, pick) in charts {
        let mut panels: Vec<Panel> = Vec::new();
        for s in studies {
            let title = match s.norm {
                Norm::None => "no normalisation".to_string(),
                other => format!("{other:?}Norm"),
            };
            for (when, values) in pick(s) {
                // A diverged run has no finite values to draw: its legend entry says so.
                let not_finite = if values.iter().all(|v| v.is_finite()) {
                    ""
                } else {
                    " (not finite)"
                };
                let series = Series {
                    name: format!("c = {}, {when}{not_finite}", s.c),
                    points: values
                        .iter()
                        .enumerate()
                        .map(|(i, &v)| ((i + 1) as f64, v))
                        .collect(),
                };
                match panels.iter_mut().find(|p| p.title == title) {
                    Some(p) => p.series.push(series),
                    None => panels.push(Panel {
                        title: title.clone(),
                        series: vec![series],
                    }),
                }
            }
        }
        let path = format!("{prefix}_{}.svg", what.replace(' ', "_"));
        match panel_chart(
            Path::new(&path),
            &if what == "relative weight change" {
                "relative weight change ‖W − W₀‖ / ‖W₀‖ per layer after training".to_string()
            } else {
                format!("{what} per layer, at initialisation and after training")
            },
            "layer",
            what,
            &panels,
            &Layout::default(),
        ) {
            Ok(()) => println!("plot written to {path}"),
            Err(e) => eprintln!("plot failed: {e}"),
        }
    }
}
