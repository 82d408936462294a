//! Tests of binding and running: checked code's error reports, unchecked plans, and cached
//! plans across changes of buffer sharing.

use std::time::Instant;

use needle_core::backend::{Backend, BackendError};
use needle_core::{with_mode, Mode, Tensor};

use super::bind::run;
use super::program::from_plan;
use super::JitBackend;
use crate::collect::Graph;
use crate::schedule::{Plan, StepKind};

/// A plan whose kernel reads past its input (impossible from a real graph, so made by
/// hand): checked code must stop with an error naming the step, the op and the index,
/// and leave the process running.
#[test]
fn checked_code_reports_an_out_of_bounds_read() {
    let y = with_mode(Mode::Lazy, || {
        let x = Tensor::from_vec(vec![1.0, 2.0, 3.0, 4.0], &[4]);
        &x * 2.0
    });
    let graph = Graph::collect(&[y.node()], true);
    let mut plan = Plan::new(&graph);
    let StepKind::Elementwise(kernel) = &mut plan.steps[0].kind else {
        panic!("expected one elementwise step: {}", plan.describe());
    };
    kernel.inputs[0].strides = vec![3];
    let program = from_plan(plan, &graph, true, Instant::now(), false, false).unwrap();
    let err = run(&program, &graph).unwrap_err();
    let BackendError::OutOfBounds {
        kernel,
        op,
        index,
        len,
        ..
    } = &err
    else {
        panic!("expected an out-of-bounds error, got {err}");
    };
    assert_eq!((*index, *len), (6, 4), "{err}");
    assert!(kernel.contains("step 0 (input 0)"), "{err}");
    assert!(
        op.contains("mul_scalar(2)") && op.contains("run/tests.rs"),
        "{err}"
    );
    assert!(!y.is_realized(), "nothing is delivered on failure");
}

/// The same for a matmul's epilogue, which runs from inside the GEMM's host step: its
/// error travels back through the block and names the epilogue.
#[test]
fn checked_code_reports_an_out_of_bounds_read_in_a_matmul_epilogue() {
    let y = with_mode(Mode::Lazy, || {
        let x = Tensor::from_vec(vec![1.0, 2.0, 3.0, 4.0, 5.0, 6.0], &[2, 3]);
        let w = Tensor::from_vec(vec![1.0, 0.0, 0.0, 1.0, 1.0, 1.0], &[3, 2]);
        let b = Tensor::from_vec(vec![0.5, -0.5], &[1, 2]);
        (&x.matmul(&w) + &b.broadcast_to(&[2, 2])).relu()
    });
    let graph = Graph::collect(&[y.node()], true);
    let mut plan = Plan::new(&graph);
    let StepKind::MatMul {
        epilogue: Some(e), ..
    } = &mut plan.steps[0].kind
    else {
        panic!("expected a matmul with its epilogue: {}", plan.describe());
    };
    let bias = e
        .inputs
        .iter()
        .position(|a| a.strides == [0, 1])
        .expect("the broadcast bias");
    e.inputs[bias].strides = vec![0, 2];
    let program = from_plan(plan, &graph, true, Instant::now(), false, false).unwrap();
    let err = run(&program, &graph).unwrap_err();
    let BackendError::OutOfBounds {
        kernel, index, len, ..
    } = &err
    else {
        panic!("expected an out-of-bounds error, got {err}");
    };
    assert_eq!((*index, *len), (2, 2), "{err}");
    assert!(
        kernel.contains(&format!("step 0 epilogue (input {bias})")),
        "{err}"
    );
    assert!(!y.is_realized(), "nothing is delivered on failure");
}

#[test]
fn the_same_plan_unchecked_has_no_bounds_checks_and_runs() {
    let y = with_mode(Mode::Lazy, || {
        let x = Tensor::from_vec(vec![1.0, 2.0, 3.0, 4.0], &[4]);
        &x * 2.0
    });
    let graph = Graph::collect(&[y.node()], false);
    let plan = Plan::new(&graph);
    let program = from_plan(plan, &graph, false, Instant::now(), false, false).unwrap();
    run(&program, &graph).unwrap();
    assert_eq!(y.to_vec(), vec![2.0, 4.0, 6.0, 8.0]);
}

/// One realization of `[p, s, v]`: `p = x·w`, `s = Σ 2·v` and the variable's update
/// `v ← v_old + p`, where `v_old` is `v` detached (sharing its buffer) when `shared`, else a
/// copy of its values in a buffer of its own. The structure, and so the key, is the same
/// either way. Returns (p, s, new v) and the plan that ran.
fn update_with_sharing(shared: bool) -> ((Vec<f32>, f32, Vec<f32>), Plan) {
    let (p, s, v) = with_mode(Mode::Lazy, || {
        let x = Tensor::from_vec(vec![1.0, 2.0, 3.0, 4.0], &[2, 2]);
        let w = Tensor::from_vec(vec![0.5, 1.0, 1.0, 0.5], &[2, 2]);
        let v = Tensor::from_vec(vec![1.0, 2.0, 3.0, 4.0], &[2, 2]);
        let v_old = if shared {
            v.detach()
        } else {
            Tensor::from_vec(v.to_vec(), &[2, 2])
        };
        let p = x.matmul(&w);
        let s = (&v * 2.0).sum_all();
        v.assign(&(&v_old + &p));
        (p, s, v)
    });
    JitBackend
        .realize(&[p.node(), s.node(), v.node()])
        .expect("the program runs");
    let plan = crate::last_program().expect("a program ran").plan;
    ((p.to_vec(), s.to_vec()[0], v.to_vec()), plan)
}

/// Which input slots share a buffer is not part of the structural key, but fusion reads it
/// (`schedule/donation.rs`): the update stays a step of its own when a later step reads its
/// input's buffer through another slot (so it can still take that buffer), and otherwise
/// joins the matmul as its epilogue — a step *before* the sum that reads `v`. So the cached
/// plan is the first call's. Pinned here: either plan, run with the other sharing, is a
/// cache hit and gives the same values, because the run stage checks every donation
/// against this run's sharing (had the epilogue written the new `v` into the shared buffer,
/// the sum would read it: 50 instead of 20).
#[test]
fn a_cached_plan_keeps_the_first_calls_buffer_sharing_and_stays_correct() {
    let expected = (vec![2.5, 2.0, 5.5, 5.0], 20.0, vec![3.5, 4.0, 8.5, 9.0]);
    let mut plans = Vec::new();
    for first_shared in [false, true] {
        crate::clear_cache();
        let (values, first_plan) = update_with_sharing(first_shared);
        assert_eq!(values, expected, "first call, shared: {first_shared}");
        let before = crate::stats();
        let (values, plan) = update_with_sharing(!first_shared);
        let after = crate::stats();
        assert_eq!(values, expected, "second call, shared: {}", !first_shared);
        assert_eq!(
            after.cache_hits,
            before.cache_hits + 1,
            "same key, same program"
        );
        assert_eq!(after.compilations, before.compilations);
        assert_eq!(plan, first_plan, "the cached plan is the first call's");
        plans.push(first_plan);
    }
    let [unshared_first, shared_first] = &plans[..] else {
        unreachable!()
    };
    let epilogue = |plan: &Plan| {
        plan.steps.iter().any(|s| {
            matches!(
                &s.kind,
                StepKind::MatMul {
                    epilogue: Some(_),
                    ..
                }
            )
        })
    };
    assert!(
        epilogue(unshared_first),
        "without sharing the update joins the matmul:\n{}",
        unshared_first.describe()
    );
    assert!(
        !epilogue(shared_first),
        "with sharing the update stays after the sum:\n{}",
        shared_first.describe()
    );
}
