//! Sibling sums: sums over the same shape and axes that read the same data run as one walk of
//! a joined body (BatchNorm's backward: the gradient, and two products of it, per channel),
//! each output adding its elements in the order it had alone — eager mode's bits on every
//! path a sum can take (runs summed inline, runs gathered for the pairwise helper, column
//! sums, element-by-element sums; split across threads or not), with an epilogue reading
//! several of the results.

mod common;

use common::{bits, spread};
use needle::jit::{last_program, set_tiered, Plan, StepKind};
use needle::{with_mode, Mode, Tensor};

/// The sizes of the groups of sums the plan computes in one walk (1: a sum alone).
fn sums_per_walk(plan: &Plan) -> Vec<usize> {
    plan.steps
        .iter()
        .filter_map(|s| match &s.kind {
            StepKind::Reduce { siblings, .. } => Some(siblings.len() + 1),
            _ => None,
        })
        .collect()
}

/// Three sums of `x` (alone, times `y`, and a cheap function of it) over `axes`, and an
/// epilogue reading two of them, in eager mode and in the JIT (compiled before its first
/// run): the same bits; returns the JIT's plan.
#[track_caller]
fn three_sums(shape: &[usize], axes: &[isize], what: &str) -> Plan {
    let f = || {
        let x = spread(shape, 1);
        let y = spread(shape, 2);
        let a = x.sum(axes, true);
        let b = (&x * &y).sum(axes, true);
        let c = (-(&x * 0.5) + 1.0).sum(axes, true);
        let d = (&a + &b) / 3.0;
        Tensor::realize_all(&[&a, &b, &c, &d]);
        [a.to_vec(), b.to_vec(), c.to_vec(), d.to_vec()].concat()
    };
    let eager = with_mode(Mode::Eager, f);
    set_tiered(false);
    let jit = with_mode(Mode::Jit, f);
    let plan = last_program().expect("the JIT ran a program").plan;
    set_tiered(true);
    assert_eq!(bits(&jit), bits(&eager), "{what}: JIT vs eager");
    plan
}

#[test]
fn per_channel_sums_run_in_one_walk_with_eagers_bits() {
    // Runs of 784 summed inline, split across threads by channel.
    let plan = three_sums(&[64, 16, 28, 28], &[0, 2, 3], "inline runs");
    assert_eq!(sums_per_walk(&plan), [3], "{}", plan.describe());
    // Runs of 1,600 gathered for the pairwise helper, one run buffer per sum; split and not.
    for shape in [[16, 8, 40, 40], [2, 3, 40, 40]] {
        let plan = three_sums(&shape, &[0, 2, 3], "gathered runs");
        assert_eq!(sums_per_walk(&plan), [3], "{shape:?}: {}", plan.describe());
    }
}

#[test]
fn column_sums_and_element_sums_run_in_one_walk_with_eagers_bits() {
    // Column sums of a 2-D body (four columns in a register across the rows), with a
    // leftover column.
    let plan = three_sums(&[300, 37], &[0], "column sums");
    assert_eq!(sums_per_walk(&plan), [3], "{}", plan.describe());
    // The innermost axis kept: element by element into the outputs.
    let plan = three_sums(&[6, 50, 12], &[1], "element sums");
    assert_eq!(sums_per_walk(&plan), [3], "{}", plan.describe());
}

#[test]
fn a_sum_that_needs_anothers_result_waits_for_it() {
    // `centered` needs the mean: its sum cannot join the mean's walk.
    let f = || {
        let x = spread(&[32, 8, 10, 10], 3);
        let mean = x.sum(&[0, 2, 3], true) / 3200.0;
        let centered = &x - &mean.broadcast_to(&x.shape());
        let var = (&centered * &centered).sum(&[0, 2, 3], true);
        let total = x.sum(&[0, 2, 3], true);
        Tensor::realize_all(&[&mean, &var, &total]);
        [mean.to_vec(), var.to_vec(), total.to_vec()].concat()
    };
    let eager = with_mode(Mode::Eager, f);
    set_tiered(false);
    let jit = with_mode(Mode::Jit, f);
    let plan = last_program().expect("the JIT ran a program").plan;
    set_tiered(true);
    assert_eq!(bits(&jit), bits(&eager));
    let mut walks = sums_per_walk(&plan);
    walks.sort_unstable();
    assert_eq!(
        walks,
        [1, 2],
        "mean and total together, var after: {}",
        plan.describe()
    );
}

#[test]
fn sibling_sums_in_checked_mode_keep_eagers_bits() {
    // Checked code is scalar (eight partial sums per leaf in scalars, not two vectors) and
    // does not split across threads.
    let (plan, column) = needle::jit::with_checked(true, || {
        (
            three_sums(&[8, 4, 30, 30], &[0, 2, 3], "checked, inline runs"),
            three_sums(&[300, 37], &[0], "checked, columns"),
        )
    });
    assert_eq!(sums_per_walk(&plan), [3], "{}", plan.describe());
    assert_eq!(sums_per_walk(&column), [3], "{}", column.describe());
}
