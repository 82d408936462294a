//! What `NEEDLE_DEBUG=jit`, the schedule (`Plan::describe`) and `needle::jit::stats()` tell a
//! user: gradient nodes name the forward op and the user's line they differentiate, constants
//! print in their shortest round-trip form, and the counters say when the interpreter ran while
//! a program compiled in the background.

use needle::jit::{last_program, reset_stats, set_tiered, stats, JitStats, TIERED_MIN_STEPS};
use needle::nn::SoftmaxLoss;
use needle::op::fmt_constant;
use needle::optim::{Optimizer, Sgd};
use needle::{manual_seed, with_mode, Mode, Tensor};

/// `file:line:` of this test file, as node origins print it.
fn here(line: u32) -> String {
    format!("{}:{line}:", file!())
}

#[test]
fn a_gradient_node_records_the_forward_ops_line_in_every_mode() {
    for mode in [Mode::Eager, Mode::Lazy, Mode::Jit] {
        with_mode(mode, || {
            let x = Tensor::from_vec(vec![1.0, 2.0, 3.0, 4.0, 5.0, 6.0], &[2, 3]);
            let w = Tensor::from_vec(vec![0.5, -1.0, 1.0, 2.0, -0.5, 0.25], &[3, 2])
                .requires_grad_(true);
            let (h, line) = (x.matmul(&w), line!());
            h.relu().sum_all().backward();
            // dL/dw = xᵀ · g: a matmul recorded by autodiff, on behalf of the line above.
            let grad = w.grad().expect("w has a gradient");
            // h > 0 everywhere, so g = 1 and dL/dw = xᵀ · 1.
            assert_eq!(
                grad.to_vec(),
                vec![5.0, 5.0, 7.0, 7.0, 9.0, 9.0],
                "{mode:?}"
            );
            let node = grad.node();
            assert_eq!(node.backward_of(), Some("matmul"), "{mode:?}: {node:?}");
            assert!(
                node.origin().to_string().starts_with(&here(line)),
                "{mode:?}: the gradient should point at {}, not at {}",
                here(line),
                node.origin()
            );
            assert_eq!(
                format!("{node:?}"),
                format!(
                    "Node#{} matmul [3, 2] f32 (backward of matmul at {})",
                    node.id(),
                    node.origin()
                )
            );
            // What the user recorded keeps its own line and no backward tag.
            assert_eq!(h.node().backward_of(), None);
            assert!(h.node().origin().to_string().starts_with(&here(line)));
        });
    }
}

#[test]
fn the_schedule_names_the_forward_op_of_each_backward_node() {
    set_tiered(false);
    let (text, relu_line, matmul_line) = with_mode(Mode::Jit, || {
        let x = Tensor::from_vec(vec![1.0, -2.0, 3.0, 4.0, 5.0, -6.0], &[2, 3]);
        let w =
            Tensor::from_vec(vec![0.5, -1.0, 1.0, 2.0, -0.5, 0.25], &[3, 2]).requires_grad_(true);
        let (h, matmul_line) = (x.matmul(&w), line!());
        let (r, relu_line) = (h.relu(), line!());
        let loss = r.sum_all();
        loss.backward();
        let grad = w.grad().unwrap();
        Tensor::realize_all(&[&loss, &grad]);
        let text = last_program().expect("a program ran").plan.describe();
        (text, relu_line, matmul_line)
    });
    set_tiered(true);
    for expected in [
        format!("backward of matmul at {}", here(matmul_line)),
        format!("backward of relu at {}", here(relu_line)),
        format!("matmul [2, 2] at {}", here(matmul_line)),
    ] {
        assert!(text.contains(&expected), "no `{expected}` in\n{text}");
    }
    assert!(
        !text.contains("needle-core/"),
        "a node points into the library:\n{text}"
    );
}

#[test]
fn constants_print_in_the_shortest_form_that_reads_back() {
    let cases: [(f32, &str); 12] = [
        (f32::MIN, "-3.4028235e38"),
        (f32::MAX, "3.4028235e38"),
        (0.1, "0.1"),
        // 1 - 0.9 in f32 is not the f32 nearest 0.1: printing "0.1" would hide that.
        (1.0f32 - 0.9f32, "0.100000024"),
        (0.5, "0.5"),
        (2.0, "2"),
        (-0.0, "-0"),
        (1e-8, "1e-8"),
        (f32::MIN_POSITIVE, "1.1754944e-38"),
        (123456.79, "123456.79"),
        (1e16, "1e16"),
        (f32::NEG_INFINITY, "-inf"),
    ];
    for (value, text) in cases {
        assert_eq!(fmt_constant(value), text, "{value:?}");
        assert_eq!(
            fmt_constant(value).parse::<f32>().unwrap().to_bits(),
            value.to_bits(),
            "{text} must read back as the same f32"
        );
    }
    // In the schedule, as `NEEDLE_DEBUG=jit` prints it.
    let text = with_mode(Mode::Jit, || {
        let x = Tensor::from_vec(vec![1.0, -2.0], &[2]);
        let y = (x.maximum(f32::MIN) * 0.1) * (1.0f32 - 0.9f32);
        y.realize();
        last_program().unwrap().plan.describe()
    });
    assert!(
        text.contains("[max_scalar(-3.4028235e38),mul_scalar(0.1),mul_scalar(0.100000024)]"),
        "{text}"
    );
}

#[test]
fn stats_say_when_the_interpreter_ran_while_the_program_compiled() {
    let early = JitStats {
        compilations: 1,
        interpreted_runs: 3,
        ..Default::default()
    };
    assert_eq!(
        early.to_string(),
        "1 compilation (0.000 ms), 0 cache hits, 0 programs run (0 kernels, 0 matmuls, 0 \
         windows, 0 interpreter nodes), 3 interpreted runs, 0 evictions, 0 donated buffers, 0 captured \
         steps, 0 replays\n\
         3 realizations ran in the interpreter while the program compiled in the background \
         (tiered compilation, same results); the compiled code has not run yet; it runs once \
         it is ready"
    );
    assert!(
        format!("{early:?}").ends_with(
            "interpreted_runs: 3, evictions: 0, donated_buffers: 0, steps_captured: 0, \
             steps_replayed: 0, tiered: \"3 realizations ran \
             in the interpreter while the program compiled in the background (tiered \
             compilation, same results); the compiled code has not run yet; it runs once it is \
             ready\" }"
        ),
        "{early:?}"
    );
    let later = JitStats {
        programs_run: 7,
        ..early
    };
    assert!(
        later.to_string().ends_with(
            "3 realizations ran in the interpreter while the program compiled in the \
             background (tiered compilation, same results); compiled code ran the 7 after it"
        ),
        "{later}"
    );
    let compiled_only = JitStats {
        programs_run: 2,
        cache_hits: 1,
        compilations: 1,
        ..Default::default()
    };
    assert!(!compiled_only.to_string().contains('\n'), "{compiled_only}");
    assert!(!format!("{compiled_only:?}").contains("tiered"));

    // A real first step of a program large enough to tier.
    set_tiered(true);
    needle::jit::clear_cache();
    let s = with_mode(Mode::Jit, || {
        reset_stats();
        training_step();
        stats()
    });
    let steps = last_program().unwrap().plan.steps.len();
    assert!(steps >= TIERED_MIN_STEPS, "{steps} steps do not tier");
    assert_eq!((s.interpreted_runs, s.programs_run), (1, 0), "{s:?}");
    assert!(
        s.to_string()
            .contains("the compiled code has not run yet; it runs once it is ready"),
        "{s}"
    );
}

/// One SGD step of a two-layer classifier on fixed data (a program of more than
/// `TIERED_MIN_STEPS` steps); returns the line of its first matmul.
fn training_step() -> u32 {
    manual_seed(0);
    let w1 = Tensor::randn(&[8, 16]).requires_grad_(true);
    let w2 = Tensor::randn(&[16, 4]).requires_grad_(true);
    let mut opt = Sgd::new(vec![w1.clone(), w2.clone()], 0.1);
    let x = Tensor::randn(&[5, 8]);
    let y = Tensor::from_vec_i64(vec![0, 1, 2, 3, 0], &[5]);
    let (h, line) = (x.matmul(&w1), line!());
    let logits = h.relu().matmul(&w2);
    let loss = SoftmaxLoss::new().forward(&logits, &y);
    loss.backward();
    opt.step();
    loss.realize();
    line
}

/// Run by `needle_debug_jit_prints_backward_origins_and_tiering` in a child process with
/// `NEEDLE_DEBUG=jit`; not on its own.
#[test]
#[ignore]
fn debug_output_child() {
    set_tiered(true);
    let line = with_mode(Mode::Jit, training_step);
    println!("matmul line {line}");
}

#[test]
fn needle_debug_jit_prints_backward_origins_and_tiering() {
    let out = std::process::Command::new(std::env::current_exe().unwrap())
        .args(["debug_output_child", "--exact", "--ignored", "--nocapture"])
        .env("NEEDLE_DEBUG", "jit")
        .env_remove("NEEDLE_JIT_TIERED")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stdout}\n{stderr}");
    let line: u32 = stdout
        .split("matmul line ")
        .nth(1)
        .and_then(|s| s.split_whitespace().next())
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("no line in {stdout}"));
    for expected in [
        format!("backward of matmul at {}", here(line)),
        "[needle-jit] tiered compilation: until the machine code is ready, realizations of this \
         program run in the interpreter"
            .to_string(),
    ] {
        assert!(stderr.contains(&expected), "no `{expected}` in\n{stderr}");
    }
    assert!(!stderr.contains("needle-core/"), "{stderr}");
}
