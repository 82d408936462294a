//! The generated GEMM against the gemm crate, in one process, alternating rounds:
//! `cargo bench --bench gemm [-- --rounds N --tiles]`.
//!
//! Rows: W3's square products and the products of W1/W2's training steps (forward and the
//! backward's transposed reads), each called the way compiled programs call them (threaded
//! above `PARALLEL_MACS` multiply-adds). `--tiles` adds other micro-kernel tiles, to show why
//! [`needle_jit::gemm::TILE`] is the one used.

use std::time::Instant;

use needle_jit::gemm::{matmul_with, MicroKernel, PARALLEL_MACS, TILE};

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    v[v.len() / 2]
}

/// Operand values in [-1, 1) from needle's seeded generator.
fn values(len: usize, seed: u64) -> Vec<f32> {
    needle::manual_seed(seed);
    needle::Tensor::uniform(&[len], -1.0, 1.0).to_vec()
}

/// Seconds per call of `f`, best of a short burst (repeats so each burst lasts ≥ 2 ms).
fn seconds(f: &mut dyn FnMut()) -> f64 {
    let start = Instant::now();
    f();
    let once = start.elapsed().as_secs_f64();
    let reps = ((2e-3 / once.max(1e-9)) as usize).clamp(1, 1000);
    let start = Instant::now();
    for _ in 0..reps {
        f();
    }
    start.elapsed().as_secs_f64() / reps as f64
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let rounds: usize = args
        .iter()
        .position(|a| a == "--rounds")
        .and_then(|i| args.get(i + 1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(5);
    let tiles: Vec<(usize, usize)> = if args.iter().any(|a| a == "--tiles") {
        vec![TILE, (8, 4), (6, 8), (4, 12), (3, 16), (2, 16)]
    } else {
        vec![TILE]
    };
    let kernels: Vec<MicroKernel> = tiles
        .iter()
        .map(|&(mr, nr)| MicroKernel::compile(mr, nr).expect("micro-kernel compiles"))
        .collect();
    for k in &kernels {
        println!("micro-kernel {}", k.describe());
    }
    // (label, m, n, k)
    let shapes: [(&str, usize, usize, usize); 10] = [
        ("W3 n=256", 256, 256, 256),
        ("W3 n=1024", 1024, 1024, 1024),
        ("W3 n=2048", 2048, 2048, 2048),
        ("W1 x·W1", 128, 512, 784),
        ("W1 h·W2", 128, 10, 512),
        ("W1 xᵀ·g (dW1)", 784, 512, 128),
        ("W2 x·W", 100, 100, 784),
        ("W2 h·W (100→50)", 100, 50, 100),
        ("W2 h·W (→10)", 100, 10, 100),
        ("W4 x·W b1", 1, 64, 64),
    ];
    let mut table: Vec<Vec<Vec<f64>>> = vec![vec![Vec::new(); 1 + kernels.len()]; shapes.len()];
    for round in 0..rounds {
        for (s, &(_, m, n, k)) in shapes.iter().enumerate() {
            let a = values(m * k, 1);
            let b = values(k * n, 2);
            let mut c = vec![0.0f32; m * n];
            let flops = 2.0 * (m * n * k) as f64;
            let parallel = m * n * k >= PARALLEL_MACS;
            let t = seconds(&mut || {
                // SAFETY: compact row-major operands of the stated shapes, k > 0, `c` holds
                // m·n elements and overlaps nothing.
                unsafe {
                    needle_core::interp::gemm_raw(
                        [m, n, k],
                        c.as_mut_ptr(),
                        (a.as_ptr(), k as isize, 1),
                        (b.as_ptr(), n as isize, 1),
                    )
                }
            });
            table[s][0].push(flops / t / 1e9);
            let reference = c.clone();
            for (i, kernel) in kernels.iter().enumerate() {
                let t = seconds(&mut || matmul_with(kernel, &a, &b, &mut c, [m, n, k], parallel));
                table[s][1 + i].push(flops / t / 1e9);
                let worst = c
                    .iter()
                    .zip(&reference)
                    .map(|(x, y)| (x - y).abs() / (1.0 + y.abs()))
                    .fold(0.0f32, f32::max);
                assert!(
                    worst < 1e-4,
                    "tile {}x{} differs by {worst}",
                    kernel.mr,
                    kernel.nr
                );
            }
        }
        eprintln!("round {}/{rounds} done", round + 1);
    }
    let mut header = "| product | m×n×k | threads | gemm crate GFLOP/s |".to_string();
    let mut rule = "| --- | --- | --- | --- |".to_string();
    for k in &kernels {
        header += &format!(" generated {}x{} | ratio |", k.mr, k.nr);
        rule += " --- | --- |";
    }
    println!("{header}\n{rule}");
    for (s, &(label, m, n, k)) in shapes.iter().enumerate() {
        let library = median(table[s][0].clone());
        let mut line = format!(
            "| {label} | {m}×{n}×{k} | {} | {library:.1} |",
            if m * n * k >= PARALLEL_MACS { 2 } else { 1 }
        );
        for i in 0..kernels.len() {
            let generated = median(table[s][1 + i].clone());
            line += &format!(" {generated:.1} | {:.2}x |", generated / library);
        }
        println!("{line}");
    }
}
