//! The benchmark workloads of shared/bench/WORKLOADS.md for needle-rs in eager, lazy
//! (interpreter), JIT and captured mode (JIT with each step captured once and replayed,
//! `needle::jit::capture`): `cargo bench --bench workloads [-- --rounds N --quick --only W1,W7
//! --json FILE]`. `--json` also writes the medians as `{"<row>": {"eager": …, "lazy": …,
//! "jit": …, "captured": …}, …}`, one key per row of the table, named as its first column.
//!
//! Every (workload, mode) runs in a fresh child process — which also measures the cold start
//! (W5) and the peak memory of each — and rounds alternate the modes, since this machine's
//! speed drifts. The table gives medians over rounds and the JIT/eager ratio from the same run.

// The graph allocates and frees thousands of small nodes per step; mimalloc makes that about
// 30 % cheaper than glibc's malloc (W4), so the benchmarks measure needle, not the allocator.
// Applications choose their allocator: the README shows the two lines.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

use std::path::Path;
use std::process::Command;
use std::time::Instant;

use needle::data::Mnist;
use needle::nn::{
    mlp_resnet, BatchNorm2d, Conv2d, Conv2dOptions, Flatten, Forward, Linear, Module, Norm, ReLU,
    Sequential, SoftmaxLoss,
};
use needle::optim::{Adam, Optimizer, Sgd};
use needle::{manual_seed, no_grad, set_mode, Mode, Tensor};

/// The modes each workload runs in: a mode, and whether steps are captured (JIT only).
const MODES: [(&str, Mode, bool); 4] = [
    ("eager", Mode::Eager, false),
    ("lazy", Mode::Lazy, false),
    ("jit", Mode::Jit, false),
    ("captured", Mode::Jit, true),
];

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    if v.is_empty() {
        f64::NAN
    } else {
        v[v.len() / 2]
    }
}

fn peak_rss_mib() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .map(str::to_string)
        })
        .and_then(|l| {
            l.split_whitespace()
                .nth(1)
                .and_then(|v| v.parse::<f64>().ok())
        })
        .map_or(f64::NAN, |kib| kib / 1024.0)
}

fn mnist_train() -> Mnist {
    Mnist::load_split(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("data/mnist"),
        true,
    )
    .expect("shipped MNIST")
}

/// Times `steps` training steps after `warmup`; returns the median ms/step.
fn time_steps(warmup: usize, steps: usize, mut step: impl FnMut(usize)) -> f64 {
    for i in 0..warmup {
        step(i);
    }
    let mut times = Vec::with_capacity(steps);
    for i in 0..steps {
        let t = Instant::now();
        step(warmup + i);
        times.push(t.elapsed().as_secs_f64() * 1e3);
    }
    median(times)
}

fn batch(data: &Mnist, i: usize, b: usize) -> (Tensor, Tensor) {
    let n = data.len() / b;
    let s = (i % n) * b;
    let x = Tensor::from_slice(&data.images[s * 784..(s + b) * 784], &[b, 784]);
    let y = Tensor::from_vec_i64(
        data.labels[s..s + b].iter().map(|&l| l as i64).collect(),
        &[b],
    );
    (x, y)
}

// Not inlined, so that a profiler can collect exactly one step (callgrind --toggle-collect).
#[inline(never)]
fn train_step(model: &dyn Forward, opt: &mut dyn Optimizer, x: &Tensor, y: &Tensor) -> f32 {
    opt.zero_grad();
    let loss = SoftmaxLoss::new().forward(&model.forward(x), y);
    loss.backward();
    opt.step();
    loss.item()
}

/// One batch-1 forward pass without gradients, realized (W4's inference figure).
#[inline(never)]
fn infer_step(model: &dyn Forward, x: &Tensor) -> Tensor {
    no_grad(|| model.forward(x).realize().clone())
}

/// A training step on (x, y) that returns the loss's value.
type Trainer<'a> = Box<dyn FnMut(&Tensor, &Tensor) -> f32 + 'a>;

/// A training step on (x, y) returning the loss's value: [`train_step`], or, when `captured`,
/// the same step captured once and replayed.
fn trainer<'a>(model: &'a dyn Forward, opt: &'a mut dyn Optimizer, captured: bool) -> Trainer<'a> {
    if !captured {
        return Box::new(move |x, y| train_step(model, opt, x, y));
    }
    let mut step = needle::jit::capture(move |b: &[&Tensor]| {
        opt.zero_grad();
        let loss = SoftmaxLoss::new().forward(&model.forward(b[0]), b[1]);
        loss.backward();
        opt.step();
        loss
    });
    Box::new(move |x, y| step.call(&[x, y]).item())
}

/// Runs one workload in this process and prints `key=value` lines for the parent.
fn child(workload: &str, quick: bool) {
    let started = Instant::now();
    let captured = std::env::var_os("NEEDLE_BENCH_CAPTURE").is_some();
    manual_seed(0);
    let scale = if quick { 10 } else { 1 };
    match workload {
        "W1" => {
            let data = mnist_train();
            let model = Sequential::new()
                .push(Linear::new(784, 512))
                .push(ReLU::new())
                .push(Linear::new(512, 10));
            let mut opt = Sgd::new(model.parameters(), 0.1);
            let mut step = trainer(&model, &mut opt, captured);
            let ms = time_steps(10, 468 / scale, |i| {
                let (x, y) = batch(&data, i, 128);
                step(&x, &y);
            });
            println!("ms={ms}\nrate={}", 128.0 / ms * 1e3);
        }
        "W2" | "W5" => {
            let data = mnist_train();
            let load = started.elapsed().as_secs_f64();
            let t0 = Instant::now();
            let model = mlp_resnet(784, 100, 3, 10, Norm::BatchNorm, 0.1);
            let mut opt = Adam::new(model.parameters(), 1e-3).weight_decay(1e-3);
            if workload == "W5" {
                let (x, y) = batch(&data, 0, 100);
                train_step(&model, &mut opt, &x, &y);
                println!(
                    "ms={}\nload_ms={}",
                    t0.elapsed().as_secs_f64() * 1e3,
                    load * 1e3
                );
            } else {
                let mut step = trainer(&model, &mut opt, captured);
                let ms = time_steps(10, 600 / scale, |i| {
                    let (x, y) = batch(&data, i, 100);
                    step(&x, &y);
                });
                println!("ms={ms}\nrate={}", 100.0 / ms * 1e3);
            }
        }
        w if w.starts_with("W3-") => {
            let n: usize = w[3..].parse().expect("W3-<n>");
            let (a, b) = (Tensor::randn(&[n, n]), Tensor::randn(&[n, n]));
            let runs = if n >= 2048 { 3 } else { 10 };
            let ms = time_steps(1, runs, |_| {
                a.matmul(&b).realize();
            });
            println!(
                "ms={ms}\ngflops={}",
                2.0 * (n as f64).powi(3) / (ms * 1e-3) / 1e9
            );
        }
        "W4" => {
            let model = Sequential::new()
                .push(Linear::new(64, 64))
                .push(ReLU::new())
                .push(Linear::new(64, 10));
            let mut opt = Sgd::new(model.parameters(), 0.1);
            let x = Tensor::randn(&[1, 64]);
            let y = Tensor::from_vec_i64(vec![3], &[1]);
            let mut step = trainer(&model, &mut opt, captured);
            let train_ms = time_steps(100, 2000 / scale, |_| {
                step(&x, &y);
            });
            drop(step);
            let mut infer = needle::jit::capture(|b: &[&Tensor]| no_grad(|| model.forward(b[0])));
            let infer_ms = time_steps(100, 2000 / scale, |_| {
                if captured {
                    infer.call(&[&x]);
                } else {
                    infer_step(&model, &x);
                }
            });
            println!("ms={train_ms}\ninfer_us={}", infer_ms * 1e3);
        }
        "W6" => {
            let n = 4096;
            let x = Tensor::randn(&[n, n]);
            let (w, b) = (Tensor::randn(&[n]), Tensor::randn(&[n]));
            let s = Tensor::scalar(0.5);
            let fused = || {
                ((&x * &w + &b).maximum(0.0) * &s).realize();
            };
            // The reference: the same computation as a plain Rust loop on two threads, writing
            // ordinary stores into a reused (already faulted-in) output, timed in this process.
            let (xv, wv, bv) = (x.to_vec(), w.to_vec(), b.to_vec());
            let mut out = vec![0.0f32; n * n];
            let mut native = || {
                let (top, bottom) = out.split_at_mut(n * n / 2);
                std::thread::scope(|scope| {
                    for (half, rows) in [(0, top), (1, bottom)] {
                        let (xv, wv, bv) = (&xv, &wv, &bv);
                        scope.spawn(move || {
                            let first = half * n / 2;
                            for (r, row) in rows.chunks_mut(n).enumerate() {
                                let xr = &xv[(first + r) * n..(first + r + 1) * n];
                                for (((o, &xi), &wi), &bi) in row.iter_mut().zip(xr).zip(wv).zip(bv)
                                {
                                    *o = (xi * wi + bi).max(0.0) * 0.5;
                                }
                            }
                        });
                    }
                });
                std::hint::black_box(&out);
            };
            // Alternating runs, so that a noisy stretch of the host hits both alike.
            fused();
            native();
            let (mut fused_ms, mut native_times) = (Vec::new(), Vec::new());
            for _ in 0..(15 / scale).max(3) {
                let t = Instant::now();
                fused();
                fused_ms.push(t.elapsed().as_secs_f64() * 1e3);
                let t = Instant::now();
                native();
                native_times.push(t.elapsed().as_secs_f64() * 1e3);
            }
            let (ms, native_ms) = (median(fused_ms), median(native_times));
            let gbps = |ms: f64| (2 * n * n * 4) as f64 / (ms * 1e-3) / 1e9;
            println!(
                "ms={ms}\ngbps={}\nnative_gbps={}",
                gbps(ms),
                gbps(native_ms)
            );
        }
        "W7" => {
            // shared/bench/WORKLOADS.md's CNN on the shipped MNIST images (not synthetic data).
            let data = mnist_train();
            let conv = |cin, cout, stride| {
                Conv2d::with_options(
                    cin,
                    cout,
                    3,
                    Conv2dOptions::default().stride(stride).padding(1),
                )
            };
            let model = Sequential::new()
                .push(conv(1, 16, 1))
                .push(BatchNorm2d::new(16))
                .push(ReLU::new())
                .push(conv(16, 32, 2))
                .push(BatchNorm2d::new(32))
                .push(ReLU::new())
                .push(conv(32, 64, 2))
                .push(BatchNorm2d::new(64))
                .push(ReLU::new())
                .push(Flatten::new())
                .push(Linear::new(64 * 7 * 7, 10));
            let mut opt = Adam::new(model.parameters(), 1e-3);
            let mut step = trainer(&model, &mut opt, captured);
            let ms = time_steps(10, 200 / scale, |i| {
                let (x, y) = batch(&data, i, 64);
                step(&x.reshape(&[64, 1, 28, 28]), &y);
            });
            println!("ms={ms}\nrate={}", 64.0 / ms * 1e3);
        }
        other => panic!("unknown workload {other}"),
    }
    println!("peak_mib={}", peak_rss_mib());
}

fn run_child(workload: &str, mode: Mode, captured: bool, quick: bool) -> Vec<(String, f64)> {
    let exe = std::env::current_exe().expect("own path");
    let mut cmd = Command::new(exe);
    cmd.args(["--child", workload])
        .env("NEEDLE_MODE", format!("{mode:?}").to_lowercase());
    if captured {
        cmd.env("NEEDLE_BENCH_CAPTURE", "1");
    }
    if quick {
        cmd.arg("--quick");
    }
    let out = cmd.output().expect("spawn benchmark child");
    if !out.status.success() {
        panic!(
            "{workload} in {mode:?} failed:\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| {
            l.split_once('=')
                .and_then(|(k, v)| v.parse().ok().map(|v| (k.to_string(), v)))
        })
        .collect()
}

/// Writes `text` to `path` atomically (a temporary file beside it, then a rename), so a
/// reader never sees half a file.
fn write_json(path: &Path, text: &str) {
    let tmp = path.with_extension(format!("json.tmp{}", std::process::id()));
    std::fs::write(&tmp, text).unwrap_or_else(|e| panic!("--json: cannot write {tmp:?}: {e}"));
    std::fs::rename(&tmp, path)
        .unwrap_or_else(|e| panic!("--json: cannot rename to {path:?}: {e}"));
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    needle::init();
    let quick = args.iter().any(|a| a == "--quick");
    if let Some(i) = args.iter().position(|a| a == "--child") {
        set_mode(Mode::from_env());
        child(&args[i + 1], quick);
        return;
    }
    let rounds: usize = args
        .iter()
        .position(|a| a == "--rounds")
        .and_then(|i| args.get(i + 1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(3);
    // `--only W1,W7` runs a subset.
    let only: Option<Vec<String>> = args
        .iter()
        .position(|a| a == "--only")
        .and_then(|i| args.get(i + 1))
        .map(|v| v.split(',').map(str::to_string).collect());
    let all_workloads: [(&str, &str, &str); 10] = [
        ("W1", "mlp-train b128", "ms"),
        ("W2", "resnet-train b100 Adam", "ms"),
        ("W3-256", "sgemm n=256", "gflops"),
        ("W3-1024", "sgemm n=1024", "gflops"),
        ("W3-2048", "sgemm n=2048", "gflops"),
        ("W4", "tiny step b1 (µs)", "ms"),
        ("W4", "tiny inference b1 (µs)", "infer_us"),
        ("W5", "cold start to 1st W2 step", "ms"),
        ("W6", "fused elementwise", "gbps"),
        ("W7", "cnn-train b64 Adam", "ms"),
    ];
    let workloads: Vec<(&str, &str, &str)> = all_workloads
        .into_iter()
        .filter(|w| only.as_ref().is_none_or(|o| o.iter().any(|x| x == w.0)))
        .collect();
    let mut results: std::collections::HashMap<(String, String, usize), Vec<f64>> =
        Default::default();
    let mut peaks: std::collections::HashMap<(String, usize), Vec<f64>> = Default::default();
    let unique: Vec<&str> = {
        let mut v: Vec<&str> = workloads.iter().map(|w| w.0).collect();
        v.dedup();
        v
    };
    for round in 0..rounds {
        for w in &unique {
            for (m, &(_, mode, captured)) in MODES.iter().enumerate() {
                // Captured steps exist only where a workload has steps.
                if captured && matches!(*w, "W3-256" | "W3-1024" | "W3-2048" | "W5" | "W6") {
                    continue;
                }
                let out = run_child(w, mode, captured, quick);
                for (k, v) in out {
                    if k == "peak_mib" {
                        peaks.entry((w.to_string(), m)).or_default().push(v);
                    }
                    results.entry((w.to_string(), k, m)).or_default().push(v);
                }
            }
        }
        eprintln!("round {}/{rounds} done", round + 1);
    }
    println!(
        "| workload | unit | eager | lazy | jit | captured | jit/eager | captured/eager | peak \
         MiB (eager/lazy/jit/captured) |\n| --- | --- | --- | --- | --- | --- | --- | --- | --- |"
    );
    let mut json_rows: Vec<String> = Vec::new();
    for &(w, name, key) in &workloads {
        let get = |m: usize| {
            median(
                results
                    .get(&(w.to_string(), key.to_string(), m))
                    .cloned()
                    .unwrap_or_default(),
            )
        };
        let scale = if name.contains("µs") && key == "ms" {
            1e3
        } else {
            1.0
        };
        let (e, l, j, c) = (
            get(0) * scale,
            get(1) * scale,
            get(2) * scale,
            get(3) * scale,
        );
        let unit = match key {
            "gflops" => "GFLOP/s",
            "gbps" => "GB/s",
            "infer_us" => "µs",
            _ if scale > 1.0 => "µs",
            _ => "ms",
        };
        let higher_is_better = matches!(key, "gflops" | "gbps");
        let ratio = |x: f64| if higher_is_better { x / e } else { e / x };
        let peak = |m: usize| median(peaks.get(&(w.to_string(), m)).cloned().unwrap_or_default());
        let or_dash = |v: f64, text: String| if v.is_nan() { "—".to_string() } else { text };
        println!(
            "| {w} {name} | {unit} | {e:.3} | {l:.3} | {j:.3} | {} | {:.2}x | {} | {:.0} / {:.0} / \
             {:.0} / {} |",
            or_dash(c, format!("{c:.3}")),
            ratio(j),
            or_dash(c, format!("{:.2}x", ratio(c))),
            peak(0),
            peak(1),
            peak(2),
            or_dash(peak(3), format!("{:.0}", peak(3)))
        );
        let field = |v: f64| {
            if v.is_nan() {
                "null".to_string()
            } else {
                format!("{v}")
            }
        };
        json_rows.push(format!(
            "  \"{w} {name}\": {{\"unit\": \"{unit}\", \"eager\": {}, \"lazy\": {}, \"jit\": {}, \
             \"captured\": {}}}",
            field(e),
            field(l),
            field(j),
            field(c)
        ));
    }
    if let Some(path) = args
        .iter()
        .position(|a| a == "--json")
        .and_then(|i| args.get(i + 1))
    {
        write_json(
            Path::new(path),
            &format!("{{\n{}\n}}\n", json_rows.join(",\n")),
        );
    }
    if workloads.iter().any(|w| w.0 == "W6") {
        let native = median(
            results
                .get(&("W6".to_string(), "native_gbps".to_string(), 2))
                .cloned()
                .unwrap_or_default(),
        );
        let jit = median(
            results
                .get(&("W6".to_string(), "gbps".to_string(), 2))
                .cloned()
                .unwrap_or_default(),
        );
        println!(
            "\nW6 reference: a plain Rust loop on two threads (ordinary stores, reused output) in \
             the JIT child: {native:.3} GB/s; JIT / native = {:.2}",
            jit / native
        );
    }
}
