//! The bound on pending work (`needle::pending`): a loop that never reads is realized in
//! chunks at step boundaries, with the same bits as reading every step and as eager mode, and
//! the JIT plans a large pending graph in time linear in its size.

use std::time::{Duration, Instant};

use needle::nn::{BatchNorm1d, Dropout, Linear, ReLU, Sequential, SoftmaxLoss};
use needle::optim::{Adam, Sgd};
use needle::pending::{max_pending_nodes, pending_assignments, set_max_pending_nodes};
use needle::prelude::*;

/// Restores this thread's bound when dropped (tests share threads with others).
struct Bound(usize);

impl Bound {
    fn set(nodes: usize) -> Bound {
        let before = max_pending_nodes();
        set_max_pending_nodes(nodes);
        Bound(before)
    }
}

impl Drop for Bound {
    fn drop(&mut self) {
        set_max_pending_nodes(self.0);
    }
}

/// The bits of every parameter after `steps` Adam steps of a small model with batch norm and
/// dropout, reading the loss every step when `read`.
fn trained_bits(mode: Mode, steps: usize, read: bool) -> Vec<u32> {
    with_mode(mode, || {
        manual_seed(11);
        let model = Sequential::new()
            .push(Linear::new(12, 20))
            .push(BatchNorm1d::new(20))
            .push(ReLU::new())
            .push(Dropout::new(0.2))
            .push(Linear::new(20, 4));
        let mut opt = Adam::new(model.parameters(), 1e-2).weight_decay(1e-3);
        let x = Tensor::randn(&[6, 12]);
        let y = Tensor::randint(0, 4, &[6]);
        for _ in 0..steps {
            opt.zero_grad();
            let loss = SoftmaxLoss::new().forward(&model.forward(&x), &y);
            loss.backward();
            opt.step();
            if read {
                loss.item();
            }
        }
        let buffers = model.named_buffers().into_iter().map(|(_, t)| t);
        model
            .parameters()
            .into_iter()
            .chain(buffers)
            .flat_map(|t| t.to_vec())
            .map(f32::to_bits)
            .collect()
    })
}

#[test]
fn a_never_read_loop_gives_the_bits_of_reading_every_step_and_of_eager_mode() {
    needle::init();
    let steps = 60;
    let eager = trained_bits(Mode::Eager, steps, true);
    let cases = [
        (Mode::Jit, true, max_pending_nodes()),
        (Mode::Jit, false, max_pending_nodes()),
        (Mode::Jit, false, 0),
        (Mode::Jit, false, 5000),
        (Mode::Jit, false, usize::MAX),
        (Mode::Lazy, false, 0),
    ];
    for (mode, read, bound) in cases {
        let _bound = Bound::set(bound);
        let bits = trained_bits(mode, steps, read);
        assert!(
            bits == eager,
            "{mode:?}, read every step: {read}, bound {bound}: parameters differ from eager's"
        );
    }
}

/// Two-layer MLP trained with plain SGD: four assignments a step (the parameters).
fn sgd_steps(steps: usize, read: bool, after_step: &mut dyn FnMut(usize)) {
    manual_seed(2);
    let model = Sequential::new()
        .push(Linear::new(5, 7))
        .push(ReLU::new())
        .push(Linear::new(7, 3));
    let mut opt = Sgd::new(model.parameters(), 0.1);
    let x = Tensor::randn(&[4, 5]);
    let y = Tensor::randint(0, 3, &[4]);
    for step in 0..steps {
        opt.zero_grad();
        let loss = SoftmaxLoss::new().forward(&model.forward(&x), &y);
        loss.backward();
        opt.step();
        if read {
            loss.item();
        }
        after_step(step);
    }
}

#[test]
fn a_step_boundary_past_the_bound_realizes_the_pending_work() {
    with_mode(Mode::Lazy, || {
        // Bound 0: from the second step on, the first parameter's update realizes the
        // previous step's four updates and the four gradients just stored before it is
        // recorded, so only the step's own four updates are pending after it (after the
        // first step, its gradients too).
        let _bound = Bound::set(0);
        let mut pending = Vec::new();
        sgd_steps(6, false, &mut |_| pending.push(pending_assignments()));
        assert_eq!(pending, [8, 4, 4, 4, 4, 4]);
        // No bound: every step's updates, and the gradients they read, stay pending.
        set_max_pending_nodes(usize::MAX);
        let mut pending = Vec::new();
        sgd_steps(6, false, &mut |_| pending.push(pending_assignments()));
        assert_eq!(pending, [8, 16, 24, 32, 40, 48]);
        set_max_pending_nodes(0);
        let mut pending = Vec::new();
        sgd_steps(3, true, &mut |_| pending.push(pending_assignments()));
        assert_eq!(pending, [0, 0, 0], "a read realizes everything");
    });
}

#[test]
fn a_loop_that_reads_every_step_realizes_once_a_step_even_with_bound_zero() {
    needle::init();
    let _bound = Bound::set(0);
    let runs = |read: bool| {
        with_mode(Mode::Jit, || {
            needle::jit::reset_stats();
            sgd_steps(10, read, &mut |_| {});
            let s = needle::jit::stats();
            s.programs_run + s.interpreted_runs
        })
    };
    // A read resets the step boundary: no realization is added to the ten reads.
    assert_eq!(runs(true), 10);
    // Never read: one realization at each of the nine boundaries; the last step stays pending.
    assert_eq!(runs(false), 9);
}

#[test]
fn planning_a_large_pending_graph_takes_time_linear_in_its_size() {
    // 2,000 never-read Adam steps of a 32-64-10 MLP: ~236,000 nodes, 24,000 of them wanted
    // updates and gradients. Planning scanned a list of the updates per output and scanned
    // back over every earlier step for multi-output fusion: this took 53 s (0.7 s now).
    let (graph, nodes) = with_mode(Mode::Lazy, || {
        let _bound = Bound::set(usize::MAX);
        manual_seed(1);
        let model = Sequential::new()
            .push(Linear::new(32, 64))
            .push(ReLU::new())
            .push(Linear::new(64, 10));
        let mut opt = Adam::new(model.parameters(), 1e-3);
        let x = Tensor::randn(&[16, 32]);
        let y = Tensor::randint(0, 10, &[16]);
        // What a read would realize: every pending assignment (each step's new parameters
        // and moments) and the stored gradients.
        let mut outputs = Vec::new();
        for _ in 0..2000 {
            opt.zero_grad();
            let loss = SoftmaxLoss::new().forward(&model.forward(&x), &y);
            loss.backward();
            let grads = model.parameters().into_iter().filter_map(|p| p.grad());
            outputs.extend(grads.map(|g| g.node()));
            opt.step();
            let state = opt.state().into_iter().map(|(_, t)| t);
            outputs.extend(
                model
                    .parameters()
                    .into_iter()
                    .chain(state)
                    .map(|t| t.node()),
            );
        }
        let started = Instant::now();
        let graph = needle::jit::Graph::collect(&outputs, false);
        let nodes = graph.nodes.len();
        let plan = needle::jit::Plan::new(&graph);
        let took = started.elapsed();
        assert!(plan.steps.len() > 2000 * 8, "{} steps", plan.steps.len());
        assert!(
            took < Duration::from_secs(8),
            "collecting and planning {nodes} nodes took {took:?}"
        );
        (graph, nodes)
    });
    assert!(nodes > 200_000, "{nodes} nodes");
    drop(graph);
}
