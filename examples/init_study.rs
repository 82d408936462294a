//! Lectures 6 and 9: a 50-layer ReLU MLP of width 100 on MNIST with weights N(0, c/n) for
//! c = 1, 2, 3, without normalisation, with LayerNorm1d and with BatchNorm1d: per-layer
//! activation norms, gradient norms and weight variances before and after training.
//!
//! `cargo run --release --example init_study -- [--mode jit|eager|lazy] [--steps N] [--prefix PATH]`

use std::path::Path;

use needle::data::Mnist;
use needle::experiments::init_study::{run, Config, Norm, Profile, Study};
use needle::experiments::Split;
use needle::plot::{panel_chart, Layout, Panel, Series};
use needle::Mode;

/// SGD step size of every configuration.
const LR: f32 = 0.01;

fn main() {
    needle::init();
    let (mut mode, mut steps, mut prefix) = (Mode::Jit, 200usize, String::from("init_study"));
    for (flag, value) in needle::cli::flag_pairs() {
        match flag.as_str() {
            "--mode" => mode = needle::cli::mode(&value),
            "--steps" => steps = needle::cli::positive(&flag, &value),
            "--prefix" => prefix = value,
            other => needle::cli::fail(&format!("unknown flag {other}")),
        }
    }
    needle::set_mode(mode);
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("data/mnist");
    let train = Split::from_mnist(&Mnist::load_split(&dir, true).expect("MNIST"), Some(20_000));
    let test = Split::from_mnist(&Mnist::load_split(&dir, false).expect("MNIST"), None);
    println!("50 × Linear(100) + ReLU, weights N(0, c/n), SGD lr {LR}, batch 100, {steps} steps, mode {mode:?}");
    let config = Config {
        lr: LR,
        ..Config::lectures(steps)
    };
    let studies = run(&train, &test, &config);
    println!(
        "{:<8} {:>4} | {:>14} {:>14} | {:>14} {:>14} | {:>8}",
        "norm", "c", "‖act₁‖", "‖act₅₀‖", "‖∇W₁‖", "‖∇W₅₀‖", "test err"
    );
    for s in &studies {
        let b = &s.before;
        println!(
            "{:<8} {:>4} | {:>14.4e} {:>14.4e} | {:>14.4e} {:>14.4e} | {:>7.2}%",
            format!("{:?}", s.norm),
            s.c,
            b.activation_norms[0],
            b.activation_norms[49],
            b.gradient_norms[0],
            b.gradient_norms[49],
            100.0 * s.test_err
        );
    }
    // One panel per normalisation (c = 1, 2, 3 in each, the same style for the same c), so no
    // curve hides another; values spanning orders of magnitude get a log axis.
    let plot =
        |what: &str, pick: fn(&Profile) -> &Vec<f64>, when: &str, f: fn(&Study) -> &Profile| {
            let mut panels: Vec<Panel> = Vec::new();
            for s in &studies {
                let title = match s.norm {
                    Norm::None => "no normalisation".to_string(),
                    other => format!("{other:?}Norm"),
                };
                let values = pick(f(s));
                // A diverged run has no finite values to draw: its legend entry says so.
                let diverged = if values.iter().all(|v| v.is_finite()) {
                    ""
                } else {
                    " (not finite)"
                };
                let series = Series {
                    name: format!("c = {}{diverged}", s.c),
                    points: values
                        .iter()
                        .enumerate()
                        .map(|(i, &v)| ((i + 1) as f64, v))
                        .collect(),
                };
                match panels.iter_mut().find(|p| p.title == title) {
                    Some(p) => p.series.push(series),
                    None => panels.push(Panel {
                        title,
                        series: vec![series],
                    }),
                }
            }
            let path = format!("{prefix}_{}_{when}.svg", what.replace(' ', "_"));
            match panel_chart(
                Path::new(&path),
                &format!("{what} per layer, {when} training"),
                "layer",
                what,
                &panels,
                &Layout::default(),
            ) {
                Ok(()) => println!("plot written to {path}"),
                Err(e) => eprintln!("plot failed: {e}"),
            }
        };
    for (when, f) in [
        ("before", (|s: &Study| &s.before) as fn(&Study) -> &Profile),
        ("after", |s: &Study| &s.after),
    ] {
        plot("activation norm", |p| &p.activation_norms, when, f);
        plot("gradient norm", |p| &p.gradient_norms, when, f);
        plot("weight variance", |p| &p.weight_variances, when, f);
    }
}
