//! The generated GEMM: values against an f64 reference on edge shapes (partial tiles, several
//! depth blocks, the threaded path), transposed and batched operands inside compiled programs,
//! the per-shape measured choice, and the micro-kernel's machine code.

use needle::jit::gemm::{
    gemm_choices, matmul_generated, micro_kernel, with_gemm_policy, GemmImpl, GemmPolicy,
    MEASURE_AFTER, PARALLEL_MACS, TILE,
};
use needle::{manual_seed, with_mode, Mode, Tensor};

/// Values in [-1, 1) from needle's seeded generator.
fn values(len: usize, seed: u64) -> Vec<f32> {
    manual_seed(seed);
    Tensor::uniform(&[len], -1.0, 1.0).to_vec()
}

/// Asserts `c ≈ a·b` per element within 1e-5 of `Σ|a||b|` (the rounding bound of any order).
fn assert_product(a: &[f32], b: &[f32], c: &[f32], [m, n, k]: [usize; 3]) {
    for i in 0..m {
        for j in 0..n {
            let (mut exact, mut magnitude) = (0.0f64, 0.0f64);
            for p in 0..k {
                let t = a[i * k + p] as f64 * b[p * n + j] as f64;
                exact += t;
                magnitude += t.abs();
            }
            let got = c[i * n + j] as f64;
            assert!(
                (got - exact).abs() <= 1e-5 * magnitude + 1e-30,
                "{m}x{n}x{k}: c[{i}][{j}] = {got}, expected {exact}"
            );
        }
    }
}

#[test]
fn generated_gemm_matches_an_f64_reference_on_edge_shapes() {
    let (mr, nr) = TILE;
    let shapes = [
        [1, 1, 1],
        [1, 64, 64],
        [mr, nr, 4],
        [mr + 1, nr + 1, 5],
        [mr - 1, nr - 1, 3],
        [3 * mr + 2, 2 * nr + 3, 17],
        [17, 10, 255],
        [9, 33, 256],
        [33, 9, 257],
        [20, 12, 600],
        [100, 10, 100],
        [7, 5000, 3],
    ];
    for (s, &[m, n, k]) in shapes.iter().enumerate() {
        let a = values(m * k, 2 * s as u64 + 1);
        let b = values(k * n, 2 * s as u64 + 2);
        let mut c = vec![f32::NAN; m * n];
        matmul_generated(&a, &b, &mut c, [m, n, k]);
        assert_product(&a, &b, &c, [m, n, k]);
    }
}

#[test]
fn the_threaded_path_of_the_generated_gemm_is_exact_to_rounding() {
    // Above PARALLEL_MACS the row blocks are split across the pool; odd sizes leave a short
    // last block on one thread.
    let [m, n, k] = [263, 201, 331];
    assert!(m * n * k >= PARALLEL_MACS);
    let a = values(m * k, 11);
    let b = values(k * n, 12);
    let mut c = vec![0.0; m * n];
    matmul_generated(&a, &b, &mut c, [m, n, k]);
    assert_product(&a, &b, &c, [m, n, k]);
    let mut again = vec![0.0; m * n];
    matmul_generated(&a, &b, &mut again, [m, n, k]);
    assert_eq!(c, again, "the threaded GEMM is deterministic");
}

#[test]
fn compiled_programs_read_transposed_sliced_and_batched_operands_through_the_generated_gemm() {
    let cases = |_: ()| -> Vec<Vec<f32>> {
        manual_seed(5);
        let a = Tensor::randn(&[13, 9]);
        let b = Tensor::randn(&[11, 13]);
        let c = Tensor::randn(&[3, 6, 7]);
        let d = Tensor::randn(&[7, 5]);
        vec![
            a.t().matmul(&b.t()).to_vec(),
            b.slice(0, 1, 11, 2).matmul(&a).to_vec(),
            c.matmul(&d).to_vec(),
            (a.t().matmul(&a) + 1.0).relu().to_vec(),
        ]
    };
    let eager = with_mode(Mode::Eager, || cases(()));
    for checked in [false, true] {
        let generated = with_gemm_policy(GemmPolicy::Generated, || {
            needle::jit::with_checked(checked, || with_mode(Mode::Jit, || cases(())))
        });
        for (e, g) in eager.iter().zip(&generated) {
            assert_eq!(e.len(), g.len());
            for (x, y) in e.iter().zip(g) {
                assert!((x - y).abs() <= 1e-5 * (1.0 + x.abs()), "{e:?}\n{g:?}");
            }
        }
    }
}

#[test]
fn a_row_times_a_transposed_matrix_runs_as_the_product_of_the_transposes() {
    // Batch-1 backward: the output gradient times a weight read as its transpose. The
    // specialized product computes Cᵀ = Bᵀ·Aᵀ (rows of dot products) into C's place.
    let cases = || -> Vec<Vec<f32>> {
        manual_seed(9);
        let g = Tensor::randn(&[1, 13]);
        let w = Tensor::randn(&[11, 13]);
        let v = Tensor::randn(&[5, 13]);
        vec![
            g.matmul(&w.t()).to_vec(),
            (g.matmul(&w.t()) * 2.0 + 1.0).relu().to_vec(),
            g.matmul(&v.t()).to_vec(),
        ]
    };
    let eager = with_mode(Mode::Eager, cases);
    let generated = with_gemm_policy(GemmPolicy::Generated, || {
        with_mode(Mode::Jit, || {
            let out = cases();
            let program = needle::jit::last_program().expect("a program ran");
            assert!(
                program
                    .function_times
                    .iter()
                    .any(|(label, _)| label.contains("specialized matmul")),
                "{:?}",
                program.function_times
            );
            out
        })
    });
    for (e, g) in eager.iter().zip(&generated) {
        assert_eq!(e.len(), g.len());
        for (x, y) in e.iter().zip(g) {
            assert!((x - y).abs() <= 1e-5 * (1.0 + x.abs()), "{e:?}\n{g:?}");
        }
    }
}

#[test]
fn the_measured_policy_records_one_choice_per_shape_and_keeps_it() {
    let run = || {
        manual_seed(9);
        let a = Tensor::randn(&[37, 41]);
        let b = Tensor::randn(&[41, 43]);
        a.matmul(&b).to_vec()
    };
    let eager = with_mode(Mode::Eager, run);
    let (early, first, second) = with_gemm_policy(GemmPolicy::Measure, || {
        with_mode(Mode::Jit, || {
            let early: Vec<Vec<f32>> = (0..MEASURE_AFTER).map(|_| run()).collect();
            assert!(
                !gemm_choices()
                    .iter()
                    .any(|c| (c.shape.m, c.shape.n, c.shape.k) == (37, 43, 41)),
                "measured before {MEASURE_AFTER} products"
            );
            (early, run(), run())
        })
    });
    // The gemm crate until the shape is measured: eager mode's bits.
    for e in &early {
        assert_eq!(e, &eager);
    }
    let choice = gemm_choices()
        .into_iter()
        .find(|c| (c.shape.m, c.shape.n, c.shape.k) == (37, 43, 41))
        .expect("a choice for 37x43x41");
    assert!(choice.library.as_nanos() > 0 && choice.generated.as_nanos() > 0);
    // The measuring run's result comes from the chosen implementation, like every later one.
    assert_eq!(first, second);
    if choice.chosen == GemmImpl::Library {
        assert_eq!(first, eager);
    }
    for (x, y) in first.iter().zip(&eager) {
        assert!((x - y).abs() <= 1e-5 * (1.0 + y.abs()));
    }
}

#[cfg(target_arch = "x86_64")]
#[test]
fn the_micro_kernel_keeps_its_tile_in_registers() {
    let kernel = micro_kernel().expect("the micro-kernel compiles on this host");
    let code = &kernel.disassembly;
    // A spill or reload addresses the stack frame.
    let spills: Vec<&str> = code
        .lines()
        .filter(|l| l.contains("(%rsp") || l.contains("(%rbp"))
        .collect();
    assert!(
        spills.is_empty(),
        "stack traffic in the micro-kernel:\n{spills:#?}\n{code}"
    );
    // One multiply-add per accumulator per depth step: four unrolled steps plus the remainder
    // loop's one.
    let accumulators = kernel.mr * kernel.nr / 4;
    let multiply_adds = if kernel.fma {
        code.matches("vfmadd").count()
    } else {
        code.matches("vmulps").count()
    };
    assert_eq!(multiply_adds, 5 * accumulators, "{code}");
}

/// The library GEMM every mode calls (`needle::core::interp::gemm_raw`) on the products it
/// splits across threads, against the f64 reference: large wide products with a column-major
/// right operand (split as the transposed product: a weight gradient's small result computed
/// aside and copied, a larger one written through transposed strides) or a row-major one
/// (split by rows), and products of many columns (split by columns, as a first convolution's
/// forward product).
#[test]
fn the_library_gemm_splits_wide_products_by_columns_exactly_to_rounding() {
    let cases = [
        [32, 144, 4000],
        [40, 1700, 300],
        [24, 900, 900],
        [16, 5000, 60],
    ];
    for (case, [m, n, k]) in cases.into_iter().enumerate() {
        let a = values(m * k, 10 + case as u64);
        let b = values(k * n, 20 + case as u64);
        // B column-major: element (p, j) at j·k + p.
        let mut b_columns = vec![0.0; k * n];
        for p in 0..k {
            for j in 0..n {
                b_columns[j * k + p] = b[p * n + j];
            }
        }
        for (layout, operand, (rs, cs)) in [
            ("column-major", &b_columns, (1, k as isize)),
            ("row-major", &b, (n as isize, 1)),
        ] {
            let mut c = vec![f32::NAN; m * n];
            // SAFETY: c holds m·n elements; a (m×k row-major) and the operand (k×n with
            // these strides) are read inside their buffers; k > 0.
            unsafe {
                needle::core::interp::gemm_raw(
                    [m, n, k],
                    c.as_mut_ptr(),
                    (a.as_ptr(), k as isize, 1),
                    (operand.as_ptr(), rs, cs),
                )
            };
            assert!(
                c.iter().all(|v| v.is_finite()),
                "case {case}, {layout}: every element written"
            );
            assert_product(&a, &b, &c, [m, n, k]);
        }
    }
}
