//! What optimizers accept and which gradients they apply: tensors that can never train are
//! refused at construction, a graph recorded before a step cannot be differentiated after it
//! (the error at the user's `backward`, naming their `opt.step()`), a parameter without a
//! gradient is skipped, and a gradient applied twice is reported once.
//!
//! Expected messages name lines of this file: moving the code below changes them.

mod common;

use std::process::Command;

use needle::nn::Module;
use needle::optim::{Adam, AdamW, Momentum, Optimizer, Sgd};
use needle::{module, with_mode, Mode, Tensor};

/// y = a·x + b, with `b` created the way a newcomer might: without `.requires_grad_(true)`.
#[module]
struct Line {
    a: Tensor,
    b: Tensor,
}

#[test]
#[should_panic(
    expected = "Adam::new: parameter 1 (f32 [], created at tests/optim_rules.rs:32:12) does not \
                require grad, so no backward would ever give it a gradient and it would never \
                train. Create it with `.requires_grad_(true)`"
)]
fn a_module_field_that_cannot_train_is_refused_naming_it() {
    let model = Line {
        a: Tensor::scalar(0.5).requires_grad_(true),
        b: Tensor::scalar(0.0),
    };
    let _ = Adam::new(model.parameters(), 0.1);
}

#[test]
#[should_panic(expected = "AdamW::new: parameter 0 (f32 [2, 2], created at tests/optim_rules.rs:")]
fn adamw_refuses_a_tensor_without_requires_grad() {
    let _ = AdamW::new(vec![Tensor::ones(&[2, 2])], 0.1, 0.01);
}

#[test]
#[should_panic(
    expected = "Sgd::new: parameter 1 (f32 [2], created at tests/optim_rules.rs:50:38) is the \
                result of mul_scalar(2), not a leaf: backward stores gradients on leaves only"
)]
fn sgd_refuses_a_non_leaf() {
    let w = Tensor::ones(&[2]).requires_grad_(true);
    let _ = Sgd::new(vec![w.clone(), &w * 2.0], 0.1);
}

#[test]
#[should_panic(expected = "Sgd::new: parameter 0 (i64 [3], created at tests/optim_rules.rs:")]
fn sgd_refuses_an_integer_tensor() {
    let _ = Sgd::new(vec![Tensor::arange_i64(3)], 0.1);
}

#[test]
fn trainable_parameters_are_accepted() {
    let w = Tensor::ones(&[2]).requires_grad_(true);
    // A pending update (lazy mode) is still the same leaf variable.
    with_mode(Mode::Lazy, || {
        let mut opt = Sgd::new(vec![w.clone()], 0.5);
        w.sum_all().backward();
        opt.step();
        let _ = Adam::new(vec![w.clone()], 0.1);
    });
    assert_eq!(w.to_vec(), vec![0.5, 0.5]);
}

/// Differentiates, after `opt.step()`, a graph recorded before it.
fn backward_after_step(mode: Mode) {
    with_mode(mode, || {
        let w = Tensor::from_vec(vec![1.0, 2.0], &[2]).requires_grad_(true);
        let mut opt = Sgd::new(vec![w.clone()], 0.1);
        let loss = w.square().sum_all();
        loss.backward();
        opt.step();
        // Runs the step (in JIT mode its program may reuse the old weight's buffer).
        assert_eq!(w.to_vec(), vec![0.8, 1.6]);
        loss.backward();
    });
}

const STALE: &str = "backward: the graph reads a parameter of shape [2] that `opt.step()` at \
                     tests/optim_rules.rs:79:13 has since updated, so its gradient would be taken \
                     at the old value (PyTorch: one of the variables needed for gradient \
                     computation has been modified by an inplace operation). Run the forward \
                     pass again after the update, or call backward before it";

#[test]
#[should_panic(
    expected = "backward: the graph reads a parameter of shape [2] that `opt.step()` at \
                tests/optim_rules.rs:79:13 has since updated, so its gradient would be taken \
                at the old value"
)]
fn backward_through_a_graph_from_before_the_step_fails_in_eager_mode() {
    backward_after_step(Mode::Eager);
}

#[test]
#[should_panic(
    expected = "backward: the graph reads a parameter of shape [2] that `opt.step()` at \
                tests/optim_rules.rs:79:13 has since updated, so its gradient would be taken \
                at the old value"
)]
fn backward_through_a_graph_from_before_the_step_fails_in_lazy_mode() {
    backward_after_step(Mode::Lazy);
}

#[test]
#[should_panic(
    expected = "backward: the graph reads a parameter of shape [2] that `opt.step()` at \
                tests/optim_rules.rs:79:13 has since updated, so its gradient would be taken \
                at the old value"
)]
fn backward_through_a_graph_from_before_the_step_fails_in_jit_mode() {
    backward_after_step(Mode::Jit);
}

#[test]
#[should_panic(
    expected = "grad: the graph reads a parameter of shape [3] that `assign` at \
                tests/optim_rules.rs:130:7 has since updated"
)]
fn functional_grad_refuses_a_graph_from_before_an_assign() {
    let w = Tensor::ones(&[3]).requires_grad_(true);
    let loss = w.square().sum_all();
    w.assign(&Tensor::zeros(&[3]));
    let _ = needle::grad(&[&loss], &[&w], false);
}

#[test]
fn a_fresh_forward_after_the_step_differentiates_fine() {
    for mode in common::MODES {
        with_mode(mode, || {
            let w = Tensor::from_vec(vec![1.0, 2.0], &[2]).requires_grad_(true);
            let mut opt = Sgd::new(vec![w.clone()], 0.1);
            for _ in 0..3 {
                opt.zero_grad();
                w.square().sum_all().backward();
                opt.step();
            }
            // 0.8³ = 0.512 (rounded at each step in f32).
            let want: Vec<f32> = [1.0f32, 2.0]
                .iter()
                .map(|&v| (0..3).fold(v, |w, _| w - (w * 2.0) * 0.1))
                .collect();
            assert_eq!(w.to_vec(), want, "{mode:?}");
        });
    }
}

/// Runs this test binary's test `name` alone in a child process with `NEEDLE_TEST_CHILD` set
/// and returns its stderr, asserting that it passed.
fn child(name: &str) -> String {
    let out = Command::new(std::env::current_exe().unwrap())
        .args(["--exact", name, "--nocapture", "--test-threads=1"])
        .env("NEEDLE_TEST_CHILD", "1")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(out.status.success(), "child {name} failed:\n{stderr}");
    stderr
}

fn in_child() -> bool {
    std::env::var_os("NEEDLE_TEST_CHILD").is_some()
}

#[test]
fn the_error_is_reported_at_the_users_backward_line() {
    if in_child() {
        // The child's expected panic; its location is what the parent reads.
        let result = std::panic::catch_unwind(|| backward_after_step(Mode::Jit));
        assert!(result.is_err());
        return;
    }
    let stderr = child("the_error_is_reported_at_the_users_backward_line");
    assert!(
        stderr.contains(&format!(
            "panicked at tests/optim_rules.rs:82:14:\n{STALE}\n"
        )),
        "{stderr}"
    );
}

#[test]
fn a_parameter_without_a_gradient_is_skipped() {
    for mode in common::MODES {
        with_mode(mode, || {
            let used = Tensor::from_vec(vec![1.0, 2.0], &[2]).requires_grad_(true);
            let unused = Tensor::from_vec(vec![3.0], &[1]).requires_grad_(true);
            let params = vec![used.clone(), unused.clone()];
            let mut sgd = Sgd::new(params.clone(), 0.1)
                .momentum(0.9, Momentum::Ema)
                .weight_decay(0.5);
            let mut adam = Adam::new(params, 0.1).weight_decay(0.5);
            used.square().sum_all().backward();
            assert!(unused.grad().is_none());
            sgd.step();
            // u = 0.1·(2w + 0.5w) with β = 0.9; w − 0.1·u. `unused` keeps its value, and
            // gets neither weight decay nor a momentum buffer.
            let want: Vec<f32> = [1.0f32, 2.0]
                .iter()
                .map(|&w| w - (((w * 2.0) + w * 0.5) * 0.1f32) * 0.1)
                .collect();
            assert_eq!(used.to_vec(), want, "{mode:?}");
            assert_eq!(unused.to_vec(), vec![3.0], "{mode:?}");
            let names: Vec<String> = sgd.state().into_iter().map(|(n, _)| n).collect();
            assert_eq!(names, ["sgd.velocity.0"], "{mode:?}");

            // After zero_grad nothing has a gradient: the momentum is not applied either.
            sgd.zero_grad();
            sgd.step();
            assert_eq!(used.to_vec(), want, "{mode:?}");

            used.square().sum_all().backward();
            adam.step();
            assert_eq!(unused.to_vec(), vec![3.0], "{mode:?}");
            let mut names: Vec<String> = adam.state().into_iter().map(|(n, _)| n).collect();
            names.sort();
            assert_eq!(names, ["adam.m.0", "adam.step", "adam.v.0"], "{mode:?}");
        });
    }
}

#[test]
fn a_gradient_applied_twice_is_applied_again_and_reported_once() {
    if in_child() {
        for mode in common::MODES {
            with_mode(mode, || {
                let w = Tensor::from_vec(vec![1.0], &[1]).requires_grad_(true);
                let mut opt = Sgd::new(vec![w.clone()], 0.1);
                w.square().sum_all().backward();
                opt.step();
                // No backward: the stored gradient 2 is applied again, twice (PyTorch's rule).
                for _ in 0..2 {
                    opt.step();
                }
                let want = ((1.0f32 - 0.2) - 0.2) - 0.2;
                assert_eq!(w.to_vec(), vec![want], "{mode:?}");
                // A normal loop afterwards warns no more (and never did by itself).
                for _ in 0..2 {
                    opt.zero_grad();
                    w.square().sum_all().backward();
                    opt.step();
                }
            });
        }
        return;
    }
    let stderr = child("a_gradient_applied_twice_is_applied_again_and_reported_once");
    let warning = "needle warning: Sgd::step at tests/optim_rules.rs:240:25: parameter 0 of 1 \
                   still has the gradient the previous step applied (no backward since), and it \
                   is applied again, as in PyTorch. Call zero_grad() and backward() before each \
                   step; a parameter without a gradient is skipped. (Shown once per optimizer.)\n";
    // Once per optimizer: one optimizer in each of the three modes.
    assert_eq!(stderr.matches("needle warning").count(), 3, "{stderr}");
    assert_eq!(stderr.matches(warning).count(), 3, "{stderr}");
}

#[test]
fn a_normal_training_loop_warns_about_nothing() {
    if in_child() {
        let w = Tensor::from_vec(vec![1.0, -1.0], &[2]).requires_grad_(true);
        let mut opt = Adam::new(vec![w.clone()], 0.1);
        for _ in 0..3 {
            opt.zero_grad();
            w.square().sum_all().backward();
            opt.step();
        }
        // Two losses before one step: the second backward replaces the first's gradient.
        w.sum_all().backward();
        w.square().sum_all().backward();
        opt.step();
        return;
    }
    let stderr = child("a_normal_training_loop_warns_about_nothing");
    assert!(!stderr.contains("needle warning"), "{stderr}");
}
