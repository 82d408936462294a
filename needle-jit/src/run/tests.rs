//! Tests of binding and running: checked code's error reports, unchecked plans, and cached
//! plans across changes of buffer sharing.

use std::time::Instant;

use needle_core::backend::BackendError;
use needle_core::{with_mode, Mode, Tensor};

use super::bind::run;
use super::program::from_plan;
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
