//! Lecture 8: a parameter updated without `detach` keeps every earlier step's graph alive;
//! with `detach` (or `no_grad` and `assign`, as the optimizers do) the graph is freed each step.
//! Prints live graph nodes and resident memory per step for each way.
//!
//! `cargo run --release --example detach_lesson -- [--mode jit|eager|lazy] [--steps N]
//!  [--size N] [--every N]`

use needle::experiments::detach_lesson::{run, Update};
use needle::Mode;

fn mib(bytes: Option<u64>) -> String {
    bytes.map_or("n/a".into(), |b| {
        format!("{:.1}", b as f64 / (1 << 20) as f64)
    })
}

fn mib_delta(bytes: Option<u64>, start: Option<u64>) -> String {
    match (bytes, start) {
        (Some(b), Some(s)) => format!("{:+.1}", (b as f64 - s as f64) / (1 << 20) as f64),
        _ => "n/a".into(),
    }
}

fn main() {
    needle::init();
    let (mut mode, mut steps, mut size, mut every) = (Mode::Jit, 60usize, 512usize, 10usize);
    for (flag, value) in needle::cli::flag_pairs() {
        match flag.as_str() {
            "--mode" => mode = needle::cli::mode(&value),
            "--steps" => steps = needle::cli::positive(&flag, &value),
            "--size" => size = needle::cli::positive(&flag, &value),
            "--every" => every = needle::cli::positive(&flag, &value),
            other => needle::cli::fail(&format!("unknown flag {other}")),
        }
    }
    needle::set_mode(mode);
    println!(
        "least squares, w {size}×{size} ({:.1} MiB), {steps} gradient steps, mode {mode:?}",
        (size * size * 4) as f64 / (1 << 20) as f64
    );
    println!(
        "(memory freed by one run stays in the allocator's heap for the next: compare the \
         growth within each run)"
    );
    for how in Update::ALL {
        let records = run(how, steps, size, 0);
        println!("\n{}", how.code());
        println!(
            "{:>5} {:>12} {:>11} {:>9} {:>14}",
            "step", "loss", "live nodes", "RSS MiB", "RSS − step 1"
        );
        let rss0 = records[0].rss_bytes;
        for r in records
            .iter()
            .filter(|r| r.step == 1 || r.step % every == 0 || r.step == steps)
        {
            println!(
                "{:>5} {:>12.4} {:>11} {:>9} {:>14}",
                r.step,
                r.loss,
                r.live_nodes,
                mib(r.rss_bytes),
                mib_delta(r.rss_bytes, rss0)
            );
        }
        let (first, last) = (records[0], records[records.len() - 1]);
        println!(
            "live nodes {} → {} ({:+.1} per step)",
            first.live_nodes,
            last.live_nodes,
            (last.live_nodes as f64 - first.live_nodes as f64) / (steps.max(2) - 1) as f64
        );
    }
}
