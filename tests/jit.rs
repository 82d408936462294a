//! The JIT backend: program caching, compile-once training loops, the schedule as data, and
//! differential testing against the interpreter on random graphs (forward and backward, in
//! unchecked and checked mode).

mod common;

use needle::jit::gemm::{with_gemm_policy, GemmPolicy};
use needle::jit::{reset_stats, stats};
use needle::nn::{mlp_resnet, Forward, Module, Norm, SoftmaxLoss};
use needle::optim::{Adam, Optimizer};
use needle::{manual_seed, with_mode, Mode, Tensor};

#[test]
fn fused_kernels_are_compiled_once_and_cached() {
    with_mode(Mode::Jit, || {
        let x = Tensor::from_vec(vec![1.0, -2.0, 3.0, -4.0], &[2, 2]);
        let b = Tensor::from_vec(vec![10.0, 20.0], &[2]);
        let f = |x: &Tensor| ((x * 2.0 + &b).relu() - 1.0).sigmoid();
        reset_stats();
        let first = f(&x).to_vec();
        let after_first = stats();
        assert_eq!(
            after_first.compilations, 1,
            "one fused kernel for the whole chain: {after_first:?}"
        );
        let again = f(&Tensor::from_vec(vec![5.0, 6.0, 7.0, 8.0], &[2, 2])).to_vec();
        let after_second = stats();
        assert_eq!(
            after_second.compilations, 1,
            "same structure, new data: no recompilation"
        );
        assert_eq!(after_second.cache_hits, 1);
        let eager = with_mode(Mode::Eager, || f(&x).to_vec());
        assert_eq!(first, eager);
        assert_eq!(again.len(), 4);
    });
}

#[test]
fn the_cache_keeps_the_most_recently_used_programs_within_its_bound() {
    with_mode(Mode::Jit, || {
        needle::jit::clear_cache();
        needle::jit::set_cache_capacity(2);
        reset_stats();
        let f = |n: usize| {
            let x = Tensor::arange(0.0, n as f32, 1.0);
            (&x * 2.0 + 1.0).to_vec()
        };
        let expected = |n: usize| (0..n).map(|i| i as f32 * 2.0 + 1.0).collect::<Vec<_>>();
        for n in [3, 4, 3, 5] {
            assert_eq!(f(n), expected(n));
        }
        let s = stats();
        assert_eq!(
            (s.compilations, s.cache_hits, s.evictions),
            (3, 1, 1),
            "shape 4 (used longest ago) made room for 5: {s:?}"
        );
        assert_eq!(needle::jit::cached_programs(), 2);
        // The evicted program's code was freed; compiling it again works and agrees.
        assert_eq!(f(4), expected(4));
        assert_eq!(stats().compilations, 4);
        assert_eq!(f(5), expected(5), "5 stayed cached");
        assert_eq!(stats().compilations, 4);
        needle::jit::set_cache_capacity(needle::jit::cache::DEFAULT_CAPACITY);
    });
}

#[test]
fn a_hundred_training_steps_compile_once_plus_once_for_a_short_batch() {
    with_mode(Mode::Jit, || {
        manual_seed(0);
        let model = mlp_resnet(20, 16, 2, 5, Norm::BatchNorm, 0.1);
        let mut opt = Adam::new(model.parameters(), 1e-3).weight_decay(1e-3);
        let data = Tensor::randn(&[1007, 20]);
        let labels = Tensor::randint(0, 5, &[1007]);
        let mut compilations = Vec::new();
        reset_stats();
        for i in 0..101 {
            let rows = if i < 100 { 10 } else { 7 };
            let x = data.slice(0, i * 10, i * 10 + rows, 1);
            let y = labels.slice(0, i * 10, i * 10 + rows, 1);
            opt.zero_grad();
            let loss = SoftmaxLoss::new().forward(&model.forward(&x), &y);
            loss.backward();
            opt.step();
            loss.item();
            compilations.push(stats().compilations);
        }
        // Adam's step counter, the learning rate, the batch's offset in the data and dropout
        // masks are inputs, not constants: one program serves every full batch.
        assert_eq!(compilations[0], 1, "{:?}", stats());
        assert_eq!(
            compilations[99], 1,
            "recompiled during training: {compilations:?}"
        );
        assert_eq!(compilations[100], 2, "the short last batch compiles once");
        let s = stats();
        assert_eq!(s.cache_hits, 99);
        // The first steps may run in the interpreter while the code is generated.
        assert_eq!(s.programs_run + s.interpreted_runs, 101, "{s:?}");
    });
}

/// Losses of `steps` MLPResNet+Adam steps on one batch, and this thread's counters after.
/// With `wait`, a step that found no compiled code yet is followed by a pause (up to 30 s in
/// all), so the background compile finishes before the last steps even on a loaded machine.
fn resnet_losses(steps: usize, wait: bool) -> (Vec<u32>, needle::jit::JitStats) {
    with_mode(Mode::Jit, || {
        manual_seed(3);
        let model = mlp_resnet(30, 20, 2, 5, Norm::BatchNorm, 0.1);
        let mut opt = Adam::new(model.parameters(), 1e-3).weight_decay(1e-3);
        let x = Tensor::randn(&[16, 30]);
        let y = Tensor::randint(0, 5, &[16]);
        reset_stats();
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
        let losses = (0..steps)
            .map(|_| {
                opt.zero_grad();
                let loss = SoftmaxLoss::new().forward(&model.forward(&x), &y);
                loss.backward();
                opt.step();
                let bits = loss.item().to_bits();
                if wait && stats().programs_run == 0 && std::time::Instant::now() < deadline {
                    std::thread::sleep(std::time::Duration::from_millis(20));
                }
                bits
            })
            .collect();
        (losses, stats())
    })
}

#[test]
fn tiered_compilation_interprets_until_the_code_is_ready_with_identical_results() {
    needle::jit::clear_cache();
    needle::jit::set_tiered(false);
    let (direct, s) = resnet_losses(30, false);
    assert_eq!((s.interpreted_runs, s.programs_run), (0, 30));
    needle::jit::clear_cache();
    needle::jit::set_tiered(true);
    let (tiered, s) = resnet_losses(30, true);
    // The step's program is large enough to compile in the background: the first step is
    // interpreted, later ones run the compiled code.
    assert!(needle::jit::last_program().unwrap().plan.steps.len() >= needle::jit::TIERED_MIN_STEPS);
    assert!(s.interpreted_runs >= 1, "{s:?}");
    assert!(s.programs_run >= 1, "the compiled code never ran: {s:?}");
    assert_eq!(s.compilations, 1);
    assert_eq!(
        direct, tiered,
        "interpreted and compiled steps give the same bits"
    );
}

#[test]
fn a_reduction_joins_the_producer_it_shares_with_another_consumer() {
    // softmax over axis 0: exp(x - max) is read by the sum and by the division, so it is
    // stored; the sum's loop computes and stores it. A regression test: the joined step once
    // shared arena space between the stored value and the accumulator.
    let f = || {
        manual_seed(3);
        let x = Tensor::randn(&[2, 5]);
        let m = x.max(&[0], true);
        let y = (&x - &m.broadcast_to(&[2, 5])).exp();
        let s = y.sum(&[0], true);
        let d = &y / &s.broadcast_to(&[2, 5]);
        vec![d.sum_all()]
    };
    common::in_both_modes(f);
    with_mode(Mode::Jit, || {
        f()[0].realize();
    });
    let program = needle::jit::last_program().expect("a program ran");
    let kinds: Vec<String> = program
        .plan
        .steps
        .iter()
        .map(|s| match &s.kind {
            needle::jit::StepKind::Reduce { body, .. } => format!("reduce[{}]", body.ops()),
            other => format!("{other:?}"),
        })
        .collect();
    assert_eq!(
        kinds,
        ["reduce[copy]", "reduce[sub,exp]", "reduce[div]"],
        "{}",
        program.plan.describe()
    );
}

#[test]
fn the_schedule_and_the_ir_are_available_as_data() {
    needle::jit::set_keep_ir(true);
    let out = with_mode(Mode::Jit, || {
        let x = Tensor::from_vec(vec![1.0, -2.0, 3.0, -4.0], &[2, 2]);
        let w = Tensor::from_vec(vec![0.5, 1.0, -1.0, 2.0], &[2, 2]);
        let h = x.matmul(&w).relu();
        (&h * 3.0).sum(&[1], true).to_vec()
    });
    needle::jit::set_keep_ir(false);
    assert_eq!(out, vec![7.5, 16.5]);
    let program = needle::jit::last_program().expect("a program ran");
    let plan = &program.plan;
    // matmul, then relu and the scaling fused into the reduction.
    assert_eq!(plan.steps.len(), 2, "{}", plan.describe());
    assert!(matches!(
        plan.steps[0].kind,
        needle::jit::StepKind::MatMul { .. }
    ));
    let text = plan.describe();
    assert!(
        text.contains("relu") && text.contains("tests/jit.rs"),
        "{text}"
    );
    let relu = plan
        .nodes
        .iter()
        .find(|n| n.op == "relu")
        .expect("relu node");
    assert_eq!(relu.placement, needle::jit::Placement::Inlined(1));
    // One function for the steps of this small program and one for the product specialized
    // to its 2x2x2 shape, each with its code generation time.
    let labels: Vec<&str> = program
        .function_times
        .iter()
        .map(|(l, _)| l.as_str())
        .collect();
    assert_eq!(
        labels,
        [
            "chunk0 (steps 0..2)",
            "product0 (step 0, specialized matmul)"
        ]
    );
    assert!(program
        .function_times
        .iter()
        .all(|(_, t)| *t <= program.compile_time));
    let ir = program.ir.expect("IR kept");
    assert!(ir.contains("function") && ir.contains("call"), "{ir}");
}

/// A small deterministic generator for graph structure (data comes from the seeded stream).
struct Lcg(u64);

impl Lcg {
    fn next(&mut self, n: usize) -> usize {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        ((self.0 >> 33) % n as u64) as usize
    }

    fn scalar(&mut self) -> f32 {
        [0.5, -1.5, 2.0, 0.25, -0.75][self.next(5)]
    }
}

/// Axis sizes of the generated tensors: empty axes and size-1 axes (broadcasts, k = 0 and
/// k = 1 products) included.
const DIMS: [usize; 5] = [0, 1, 2, 3, 5];

/// Values that every op must treat as numpy does, in every mode.
const SPECIAL: [f32; 5] = [f32::NAN, f32::INFINITY, f32::NEG_INFINITY, -0.0, 0.0];

/// A random leaf: normal samples, in one graph of three with about one element in five
/// replaced by NaN, ±inf or ±0.
fn random_leaf(g: &mut Lcg) -> Tensor {
    let shape = [DIMS[g.next(DIMS.len())], DIMS[g.next(DIMS.len())]];
    let mut data = Tensor::randn(&shape).to_vec();
    if g.next(3) == 0 {
        for v in &mut data {
            if g.next(5) == 0 {
                *v = SPECIAL[g.next(SPECIAL.len())];
            }
        }
    }
    Tensor::from_vec(data, &shape).requires_grad_(true)
}

/// Builds a random graph of `steps` ops over 2-D tensors, runs backward, and returns the loss
/// and every leaf's gradient.
fn random_graph(seed: u64, steps: usize) -> Vec<Tensor> {
    let mut g = Lcg(seed);
    manual_seed(seed as u32 as u64);
    let leaves: Vec<Tensor> = (0..3).map(|_| random_leaf(&mut g)).collect();
    let mut pool = leaves.clone();
    for _ in 0..steps {
        let t = pool[g.next(pool.len())].clone();
        let (r, c) = (t.shape()[0], t.shape()[1]);
        let new = match g.next(8) {
            0 => match g.next(9) {
                0 => t.neg(),
                1 => t.tanh(),
                2 => t.sigmoid(),
                3 => t.relu(),
                4 => (&t * 0.3).exp(),
                5 => (&t * &t + 1.0).log(),
                6 => t.sin(),
                7 => (&t * 2.0).cos(),
                _ => (&t * &t + 0.5).sqrt(),
            },
            1 => match g.next(6) {
                0 => &t + g.scalar(),
                1 => &t * g.scalar(),
                2 => &t / g.scalar(),
                3 => g.scalar() - &t,
                4 => t.maximum(g.scalar()),
                _ => t.powf(2.0),
            },
            2 => {
                let u = pool[g.next(pool.len())].clone();
                if needle::shape::broadcast_shapes(&t.shape(), &u.shape()).is_none() {
                    continue;
                }
                match g.next(5) {
                    0 => &t + &u,
                    1 => &t - &u,
                    2 => &t * &u,
                    3 => t.maximum(&u),
                    _ => &t / &(&u * &u + 1.0),
                }
            }
            3 => match g.next(4) {
                0 => t.t(),
                1 => t.flip(&[g.next(2) as isize]),
                2 if r > 1 => t.slice(0, g.next(r - 1), r, 1 + g.next(2)),
                _ => t.broadcast_to(&[
                    if r == 1 { DIMS[g.next(DIMS.len())] } else { r },
                    if c == 1 { DIMS[g.next(DIMS.len())] } else { c },
                ]),
            },
            4 => {
                let axis = g.next(2);
                let kind = g.next(3);
                // The maximum of nothing is an error (tests/edge_shapes.rs), not a value.
                if kind > 0 && [r, c][if kind == 1 { axis } else { 1 }] == 0 {
                    continue;
                }
                match kind {
                    0 => t.sum(&[axis as isize], true),
                    1 => t.max(&[axis as isize], true),
                    _ => t.logsumexp(&[1], true),
                }
            }
            5 => {
                let candidates: Vec<Tensor> =
                    pool.iter().filter(|u| u.shape()[0] == c).cloned().collect();
                if candidates.is_empty() {
                    continue;
                }
                t.matmul(&candidates[g.next(candidates.len())])
            }
            6 => match g.next(2) {
                0 => &t * &t.gt(g.scalar()),
                _ => t.masked(&t.gt(g.scalar())),
            },
            _ => {
                let axis = g.next(2);
                if [r, c][axis] == 0 {
                    continue;
                }
                t.softmax(axis as isize)
            }
        };
        pool.push(new);
    }
    let mut loss = Tensor::scalar(0.0);
    for (i, t) in pool.iter().enumerate() {
        loss = &loss + &(&t.sum_all() * (1.0 / (1 + i % 3) as f32));
    }
    loss.backward();
    let mut out = vec![loss];
    out.extend(
        leaves
            .iter()
            .map(|l| l.grad().unwrap_or_else(|| l.zeros_like())),
    );
    out
}

#[test]
fn random_graphs_agree_with_the_interpreter() {
    let graphs: u64 = std::env::var("NEEDLE_FUZZ_GRAPHS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(2000);
    let steps: usize = std::env::var("NEEDLE_FUZZ_STEPS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(12);
    for seed in 0..graphs {
        // Every tenth graph is a long chain.
        let steps = if seed % 10 == 9 { steps * 6 } else { steps };
        let interp: Vec<Vec<f32>> = with_mode(Mode::Lazy, || {
            random_graph(seed, steps)
                .iter()
                .map(|t| t.to_vec())
                .collect()
        });
        // Unchecked for even seeds, checked (bounds checks in generated code) for odd ones;
        // every fourth graph calls the generated GEMM, whose summation order differs from
        // the gemm crate's: relative 1e-5 of the output's scale there, exact otherwise.
        let checked = seed % 2 == 1;
        let policy = if seed % 4 == 3 {
            GemmPolicy::Generated
        } else {
            GemmPolicy::Library
        };
        let jit: Vec<Vec<f32>> = with_gemm_policy(policy, || {
            needle::jit::with_checked(checked, || {
                with_mode(Mode::Jit, || {
                    random_graph(seed, steps)
                        .iter()
                        .map(|t| t.to_vec())
                        .collect()
                })
            })
        });
        for (k, (a, b)) in interp.iter().zip(&jit).enumerate() {
            let scale = a.iter().fold(
                1.0f32,
                |m, x| if x.is_finite() { m.max(x.abs()) } else { m },
            );
            let tolerance = if policy == GemmPolicy::Library {
                0.0
            } else {
                1e-5 * scale
            };
            let same = a.len() == b.len()
                && a.iter().zip(b).all(|(x, y)| {
                    x.to_bits() == y.to_bits()
                        || (x.is_nan() && y.is_nan())
                        || (x - y).abs() <= tolerance
                });
            assert!(
                same,
                "graph {seed}, output {k}: interpreter {a:?} vs JIT {b:?} (checked: {checked}, \
                 {policy:?})"
            );
        }
    }
}

#[test]
fn large_kernels_split_across_threads_agree_with_eager() {
    // Above a million elements a kernel runs as two halves on the thread pool: by rows for a
    // 2-D kernel, and as 64 rows for a long 1-D one.
    common::in_both_modes(|| {
        manual_seed(5);
        let x = Tensor::randn(&[1024, 1027]);
        let w = Tensor::randn(&[1027]);
        let v = Tensor::randn(&[1 << 20]);
        let y = ((&x * &w + 0.5).maximum(0.0) * 3.0).tanh();
        let z = (&v * &v + 1.0).sqrt();
        vec![y, z]
    });
    with_mode(Mode::Jit, || {
        let v = Tensor::randn(&[1 << 20]);
        (&v * 2.0).realize();
    });
    let program = needle::jit::last_program().expect("a program ran");
    let needle::jit::StepKind::Elementwise(k) = &program.plan.steps[0].kind else {
        panic!("{}", program.plan.describe());
    };
    assert_eq!(k.shape, vec![64, 1 << 14]);
    assert!(k.parallel());
}

#[test]
fn matmul_epilogues_run_on_the_rows_the_gemm_finishes() {
    // (m, n, k): one partial tile; more rows than one block of the generated GEMM (96) and
    // more depth than one (256); odd edges; enough multiply-adds (2^24) to split by threads.
    for (m, n, k) in [(5, 3, 7), (100, 50, 784), (97, 13, 300), (256, 257, 256)] {
        let f = || {
            manual_seed((m * n) as u64);
            let x = Tensor::randn(&[m, k]);
            let w = Tensor::randn(&[k, n]);
            let b = Tensor::randn(&[1, n]);
            let h = (&x.matmul(&w) + &b.broadcast_to(&[m, n])).relu();
            vec![&h * 0.5]
        };
        let eager = common::in_both_modes(f);
        // Unchecked, the packed GEMM runs the epilogue from the thread that finished the
        // rows; the specialized product (all but the largest shape) after each block of rows.
        for policy in [GemmPolicy::Generated, GemmPolicy::Packed] {
            let generated = with_gemm_policy(policy, || with_mode(Mode::Jit, || f()[0].to_vec()));
            let scale = eager[0].iter().fold(1.0f32, |s, x| s.max(x.abs()));
            for (i, (a, g)) in eager[0].iter().zip(&generated).enumerate() {
                assert!(
                    (a - g).abs() <= 1e-5 * scale,
                    "{m}x{n}x{k}, element {i}: eager {a}, {policy:?} {g}"
                );
            }
        }
        let program = needle::jit::last_program().expect("a program ran");
        let plan = &program.plan;
        assert_eq!(plan.steps.len(), 1, "{}", plan.describe());
        let needle::jit::StepKind::MatMul {
            epilogue: Some(e), ..
        } = &plan.steps[0].kind
        else {
            panic!(
                "the bias, relu and scaling join the matmul: {}",
                plan.describe()
            );
        };
        assert_eq!(e.ops(), "add,relu,mul_scalar(0.5)");
        assert_eq!(e.shape, vec![m, n], "the epilogue keeps the product's rows");
        assert!(plan
            .describe()
            .contains("then [add,relu,mul_scalar(0.5)] on its rows"));
    }
}

#[test]
fn an_update_whose_old_value_is_read_later_stays_out_of_the_gradient_epilogue() {
    // The last layer's weight gradient is computed before the input gradient that reads the
    // weight: SGD's update joined to the gradient's matmul would have to write a new buffer,
    // so it runs after the last read and updates the weight in place.
    needle::jit::set_tiered(false);
    with_mode(Mode::Jit, || {
        manual_seed(1);
        let model = needle::nn::Sequential::new()
            .push(needle::nn::Linear::new(8, 6))
            .push(needle::nn::ReLU::new())
            .push(needle::nn::Linear::new(6, 3));
        let mut opt = needle::optim::Sgd::new(model.parameters(), 0.1);
        let x = Tensor::randn(&[4, 8]);
        let y = Tensor::randint(0, 3, &[4]);
        for _ in 0..2 {
            opt.zero_grad();
            SoftmaxLoss::new()
                .forward(&model.forward(&x), &y)
                .backward();
            reset_stats();
            opt.step();
            model.parameters()[0].realize();
        }
        assert_eq!(
            stats().donated_buffers,
            4,
            "every parameter updated in place"
        );
        let program = needle::jit::last_program().expect("a program ran");
        let epilogues: Vec<String> = program
            .plan
            .steps
            .iter()
            .filter_map(|s| match &s.kind {
                needle::jit::StepKind::MatMul {
                    epilogue: Some(e), ..
                } => Some(e.ops()),
                _ => None,
            })
            .collect();
        // The first layer's weight (nothing reads it after its gradient) and the hidden
        // gradient's relu mask join matmuls; the last layer's weight update does not.
        assert!(
            epilogues.iter().any(|e| e.contains("gt_scalar(0)")),
            "{}",
            program.plan.describe()
        );
        assert_eq!(
            epilogues.iter().filter(|e| e.contains("sub")).count(),
            1,
            "{}",
            program.plan.describe()
        );
    });
}

#[test]
fn sin_and_cos_forward_and_backward_are_bit_identical_in_every_mode() {
    // 37 × 131 covers the vector loop (lanes call the helper one by one) and its scalar tail;
    // the ×40 spread reaches the arguments where sin and cos reduce by many periods.
    common::in_both_modes(|| {
        manual_seed(11);
        let x = (Tensor::randn(&[37, 131]) * 40.0)
            .detach()
            .requires_grad_(true);
        let w = Tensor::randn(&[131]);
        let y = (&x * &w + 0.25).cos() + x.sin() * 2.0;
        y.sum_all().backward();
        vec![y.detach(), x.grad().expect("x requires grad")]
    });
}
