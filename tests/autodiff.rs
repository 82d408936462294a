//! Reverse-mode autodiff: the course's topological order and grad-of-grad figures (FIGURES §2.3,
//! §2.4), finite-difference checks of every differentiable op (broadcasts and strided views
//! included) in eager and lazy mode, deep graphs, and graph memory.
#![allow(clippy::excessive_precision)] // the course's figures, digit for digit

mod common;

use common::{assert_close, gradcheck_both, randn, t2};
use needle::{live_nodes, manual_seed, no_grad, topo_order, with_mode, Mode, Tensor};

fn var(rows: &[&[f32]]) -> Tensor {
    t2(rows).requires_grad_(true)
}

#[test]
fn topological_order_case_1() {
    let a = var(&[&[0.88282157]]);
    let b = var(&[&[0.90170084]]);
    // The course records `x − y` as `x + (−y)`; written that way the order is the course's.
    let c = &(&(&(3.0 * &a) * &a) + &(&(4.0 * &b) * &a)) + &(-&a);
    let order = topo_order(&[&c]);
    let values: Vec<f64> = order.iter().map(|t| t.item() as f64).collect();
    assert_close(
        &values.iter().map(|&v| v as f32).collect::<Vec<_>>(),
        &[
            0.88282157,
            2.64846471,
            2.33812177,
            0.90170084,
            3.60680336,
            3.1841638,
            5.52228558,
            -0.88282157,
            4.63946401,
        ],
        1e-6,
        1e-6,
    );
}

#[test]
fn topological_order_case_2_and_3() {
    let a = var(&[&[0.20914675], &[0.65264178]]);
    let b = var(&[&[0.65394286, 0.08218317]]);
    let c = &(&(&b.matmul(&a) + &(&b * 2.3412).matmul(&a)) * 3.0) + 1.5;
    let order = topo_order(&[&c]);
    assert_eq!(order.len(), 8);
    let got: Vec<Vec<f32>> = order.iter().map(|t| t.to_vec()).collect();
    let expected: [&[f64]; 8] = [
        &[0.65394286, 0.08218317],
        &[0.20914675, 0.65264178],
        &[0.19040619],
        &[1.53101102, 0.19240724],
        &[0.44577898],
        &[0.63618518],
        &[1.90855553],
        &[3.40855553],
    ];
    for (g, e) in got.iter().zip(expected) {
        assert_close(g, e, 1e-6, 1e-6);
    }

    let a = var(&[&[1.4335016, 0.30559972], &[0.08130171, -1.15072371]]);
    let b = var(&[&[1.34571691, -0.95584433], &[-0.99428573, -0.04017499]]);
    let e = (&(&a.matmul(&b) + &b) + &(-&a)).matmul(&a);
    let order = topo_order(&[&e]);
    assert_eq!(order.len(), 7);
    assert_close(
        &order[2].to_vec(),
        &[1.6252339, -1.38248184, 1.25355725, -0.03148146],
        1e-6,
        1e-6,
    );
    assert_close(
        &order[4].to_vec(),
        &[-1.4335016, -0.30559972, -0.08130171, 1.15072371],
        1e-6,
        1e-6,
    );
    assert_close(
        &order[6].to_vec(),
        &[1.98898021, 3.51227226, 0.34285002, -1.18732075],
        1e-6,
        1e-6,
    );
    // needle-rs records `x − y` as one node: the same value with one node fewer.
    let e2 = (&(&a.matmul(&b) + &b) - &a).matmul(&a);
    assert_eq!(topo_order(&[&e2]).len(), 6);
    assert_eq!(e2.to_vec(), e.to_vec());
}

#[test]
fn gradient_of_gradient() {
    for mode in common::MODES {
        with_mode(mode, || {
            let x2 = Tensor::from_vec(vec![6.0], &[1]).requires_grad_(true);
            let x3 = Tensor::from_vec(vec![0.0], &[1]).requires_grad_(true);
            let y = &(&x2 * &x2) + &(&x2 * &x3);
            y.backward_create_graph();
            assert_eq!(y.item(), 36.0);
            let g2 = x2.grad().unwrap();
            assert_eq!(g2.item(), 12.0);
            assert_eq!(x3.grad().unwrap().item(), 6.0);
            g2.backward();
            assert_eq!(x2.grad().unwrap().item(), 2.0);
            assert_eq!(x3.grad().unwrap().item(), 1.0);
        });
    }
}

#[test]
fn backward_without_create_graph_gives_history_free_gradients() {
    let x = Tensor::from_vec(vec![3.0], &[1]).requires_grad_(true);
    (&x * &x).sum_all().backward();
    let g = x.grad().unwrap();
    assert_eq!(g.item(), 6.0);
    assert!(!g.requires_grad());
}

#[test]
fn intermediate_gradients_are_reachable_with_retain_grad() {
    let x = Tensor::from_vec(vec![1.0, 2.0], &[2]).requires_grad_(true);
    let h = &x * 3.0;
    h.retain_grad();
    let y = h.square().sum_all();
    y.backward();
    assert_eq!(h.grad().unwrap().to_vec(), vec![6.0, 12.0]);
    assert_eq!(x.grad().unwrap().to_vec(), vec![18.0, 36.0]);
}

#[test]
fn gradients_are_overwritten_not_accumulated() {
    let x = Tensor::from_vec(vec![2.0], &[1]).requires_grad_(true);
    (&x * 3.0).sum_all().backward();
    (&x * 5.0).sum_all().backward();
    assert_eq!(x.grad().unwrap().item(), 5.0);
}

#[test]
fn no_grad_and_detach_stop_gradients() {
    let x = Tensor::from_vec(vec![2.0], &[1]).requires_grad_(true);
    let y = no_grad(|| &x * 2.0);
    assert!(!y.requires_grad());
    let z = (&x.detach() * &x).sum_all();
    z.backward();
    assert_eq!(x.grad().unwrap().item(), 2.0);
}

#[test]
fn explicit_output_gradient() {
    let x = Tensor::from_vec(vec![1.0, 2.0, 3.0], &[3]).requires_grad_(true);
    let y = &x * &x;
    y.backward_with(&Tensor::from_vec(vec![1.0, 0.5, 0.0], &[3]));
    assert_eq!(x.grad().unwrap().to_vec(), vec![2.0, 2.0, 0.0]);
}

#[test]
fn course_gradient_checks_of_compositions() {
    manual_seed(7);
    let (a, b, c) = (randn(&[10, 9]), randn(&[9, 8]), randn(&[10, 8]));
    gradcheck_both(vec![a, b, c], |x| {
        let ab = x[0].matmul(&x[1]);
        (&(&ab + &x[2]) * &ab).sum_all()
    });
    let (a, b) = (randn(&[10, 1]), randn(&[10, 9]));
    gradcheck_both(vec![a, b], |x| {
        (&x[0].broadcast_to(&[10, 9]) * &x[1]).sum_all()
    });
    let (a, b, c) = (randn(&[100]), randn(&[10, 5]), randn(&[10, 5]));
    gradcheck_both(vec![a, b, c], |x| {
        (&(x[0].reshape(&[10, 10]).matmul(&x[1]) / 5.0) + &x[2]).sum_all()
    });
}

#[test]
fn elementwise_gradients() {
    manual_seed(1);
    let a = randn(&[5, 4]);
    let b = &randn(&[5, 4]) + 5.0;
    let pos = &Tensor::rand(&[5, 4]) + 1.0;
    gradcheck_both(vec![a.clone(), b.clone()], |x| &x[0] / &x[1]);
    gradcheck_both(vec![a.clone(), b.clone()], |x| &x[0] * &x[1]);
    gradcheck_both(vec![a.clone(), b.clone()], |x| &x[0] - &x[1]);
    gradcheck_both(vec![a.clone(), b.clone()], |x| &x[0] + &x[1]);
    gradcheck_both(vec![a.clone()], |x| &x[0] / 1.7);
    gradcheck_both(vec![a.clone()], |x| &(2.0 - &x[0]) * 3.0);
    gradcheck_both(vec![pos.clone()], |x| 2.0 / &x[0]);
    gradcheck_both(vec![a.clone()], |x| -&x[0]);
    gradcheck_both(vec![pos.clone()], |x| x[0].log());
    gradcheck_both(vec![a.clone()], |x| x[0].exp());
    gradcheck_both(vec![pos.clone()], |x| x[0].sqrt());
    gradcheck_both(vec![a.clone()], |x| x[0].tanh());
    gradcheck_both(vec![a.clone()], |x| x[0].sigmoid());
    gradcheck_both(vec![a.clone()], |x| x[0].sin());
    gradcheck_both(vec![a.clone()], |x| x[0].cos());
    gradcheck_both(vec![a.clone()], |x| (&x[0] * 3.0).cos() * x[0].sin());
    gradcheck_both(vec![pos.clone()], |x| x[0].powf(-1.5));
    gradcheck_both(vec![a.clone()], |x| x[0].powf(2.0));
    gradcheck_both(vec![a.clone()], |x| x[0].powf(0.0));
}

#[test]
fn gradients_with_kinks_away_from_the_kink() {
    // Inputs at least 0.1 from the kinks so central differences do not straddle them.
    let a = t2(&[&[-1.3, 0.4, 2.2], &[0.7, -0.2, -2.5]]);
    let b = t2(&[&[0.9, -0.3, 1.1], &[1.5, 0.6, -1.9]]);
    gradcheck_both(vec![a.clone()], |x| x[0].relu());
    gradcheck_both(vec![a.clone(), b.clone()], |x| x[0].maximum(&x[1]));
    gradcheck_both(vec![a.clone(), b.clone()], |x| x[0].minimum(&x[1]));
    gradcheck_both(vec![a.clone()], |x| x[0].maximum(0.5));
    gradcheck_both(vec![a.clone()], |x| x[0].max(&[1], false));
    gradcheck_both(vec![a.clone()], |x| x[0].max(&[0], true));
    gradcheck_both(vec![a], |x| x[0].max_all());
}

#[test]
fn tied_maxima_split_the_gradient() {
    let x = Tensor::from_vec(vec![1.0, 3.0, 3.0], &[3]).requires_grad_(true);
    x.max_all().backward();
    assert_eq!(x.grad().unwrap().to_vec(), vec![0.0, 0.5, 0.5]);
}

#[test]
fn broadcasting_gradients_sum_over_broadcast_axes() {
    manual_seed(2);
    gradcheck_both(vec![randn(&[3, 1])], |x| x[0].broadcast_to(&[3, 3]));
    gradcheck_both(vec![randn(&[1, 3])], |x| x[0].broadcast_to(&[3, 3]));
    gradcheck_both(vec![randn(&[1])], |x| x[0].broadcast_to(&[3, 3, 3]));
    gradcheck_both(vec![randn(&[])], |x| x[0].broadcast_to(&[3, 3, 3]));
    gradcheck_both(vec![randn(&[5, 4, 1])], |x| x[0].broadcast_to(&[5, 4, 3]));
    // Implicit NumPy broadcasting in binary ops.
    gradcheck_both(vec![randn(&[3, 1]), randn(&[1, 4])], |x| &x[0] * &x[1]);
    gradcheck_both(vec![randn(&[2, 3, 4]), randn(&[4])], |x| &x[0] - &x[1]);
    gradcheck_both(vec![randn(&[2, 1, 4]), &randn(&[3, 1]) + 4.0], |x| {
        &x[0] / &x[1]
    });
}

#[test]
fn reduction_gradients() {
    manual_seed(3);
    gradcheck_both(vec![randn(&[5, 4])], |x| x[0].sum(&[1], false));
    gradcheck_both(vec![randn(&[5, 4])], |x| x[0].sum(&[0], false));
    gradcheck_both(vec![randn(&[5, 4])], |x| x[0].sum(&[0, 1], false));
    gradcheck_both(vec![randn(&[5, 4, 1])], |x| x[0].sum(&[0, 1], false));
    gradcheck_both(vec![randn(&[2, 3, 4])], |x| x[0].sum(&[-1, 0], true));
    gradcheck_both(vec![randn(&[2, 3, 4])], |x| x[0].mean(&[1], false));
    gradcheck_both(vec![randn(&[2, 3, 4])], |x| x[0].var(&[2], true));
    gradcheck_both(vec![randn(&[3, 5])], |x| x[0].logsumexp(&[1], false));
    gradcheck_both(vec![randn(&[3, 5])], |x| x[0].logsumexp(&[0, 1], false));
    gradcheck_both(vec![randn(&[3, 5])], |x| x[0].softmax(1));
    gradcheck_both(vec![randn(&[3, 5])], |x| x[0].log_softmax(-1));
}

#[test]
fn matmul_gradients_including_batches() {
    manual_seed(4);
    gradcheck_both(vec![randn(&[5, 4]), randn(&[4, 5])], |x| x[0].matmul(&x[1]));
    gradcheck_both(vec![randn(&[6, 6, 5, 4]), randn(&[6, 6, 4, 3])], |x| {
        x[0].matmul(&x[1])
    });
    gradcheck_both(vec![randn(&[6, 6, 5, 4]), randn(&[4, 3])], |x| {
        x[0].matmul(&x[1])
    });
    gradcheck_both(vec![randn(&[5, 4]), randn(&[6, 6, 4, 3])], |x| {
        x[0].matmul(&x[1])
    });
    gradcheck_both(vec![randn(&[2, 1, 3, 4]), randn(&[5, 4, 2])], |x| {
        x[0].matmul(&x[1])
    });
    gradcheck_both(vec![randn(&[4]), randn(&[4, 3])], |x| x[0].matmul(&x[1]));
    gradcheck_both(vec![randn(&[3, 4]), randn(&[4])], |x| x[0].matmul(&x[1]));
}

#[test]
fn movement_gradients_on_strided_views() {
    manual_seed(5);
    gradcheck_both(vec![randn(&[5, 4])], |x| x[0].reshape(&[4, 5]));
    gradcheck_both(vec![randn(&[3, 5, 4])], |x| x[0].transpose(1, 2));
    gradcheck_both(vec![randn(&[3, 5, 4])], |x| x[0].transpose(0, 1));
    gradcheck_both(vec![randn(&[2, 3, 4])], |x| {
        x[0].permute(&[2, 0, 1]).reshape(&[4, 6])
    });
    gradcheck_both(vec![randn(&[6, 5])], |x| {
        x[0].slice(0, 1, 6, 2).slice(1, 0, 5, 3)
    });
    gradcheck_both(vec![randn(&[6, 5])], |x| x[0].narrow(1, 1, 3));
    gradcheck_both(vec![randn(&[3, 4])], |x| x[0].flip(&[0, 1]));
    gradcheck_both(vec![randn(&[3, 4])], |x| x[0].pad(&[(1, 2), (0, 1)]));
    gradcheck_both(vec![randn(&[2, 3])], |x| x[0].dilate(&[0, 1], 2));
    // Non-contiguous inputs to compute ops: a transposed view into a matmul and an elementwise op.
    gradcheck_both(vec![randn(&[4, 3]), randn(&[4, 2])], |x| {
        x[0].t().matmul(&x[1])
    });
    gradcheck_both(vec![randn(&[4, 3])], |x| x[0].t().flip(&[1]).exp());
    gradcheck_both(vec![randn(&[4, 3])], |x| x[0].t().reshape(&[12]));
}

#[test]
fn stack_concat_split_gradients() {
    manual_seed(6);
    let (a, b, c) = (randn(&[3, 4]), randn(&[3, 4]), randn(&[3, 4]));
    for axis in [0isize, 1, 2] {
        gradcheck_both(vec![a.clone(), b.clone(), c.clone()], |x| {
            Tensor::stack(x, axis)
        });
    }
    gradcheck_both(vec![randn(&[2, 3]), randn(&[2, 5])], |x| {
        Tensor::concat(x, 1)
    });
    gradcheck_both(vec![randn(&[5, 3])], |x| {
        let parts = x[0].split(2, 0);
        assert_eq!(parts.len(), 3);
        &parts[0].sum_all() + &(&parts[2].sum_all() * 3.0)
    });
    gradcheck_both(vec![randn(&[3, 4])], |x| {
        let rows = x[0].unbind(0);
        Tensor::stack(&[rows[2].clone(), rows[0].clone()], 1)
    });
}

#[test]
fn topological_sort_and_backward_survive_a_100000_node_chain() {
    let x = Tensor::from_vec(vec![1.0], &[1]).requires_grad_(true);
    let mut y = x.clone();
    with_mode(Mode::Lazy, || {
        for _ in 0..100_000 {
            y = &y + 1e-5;
        }
    });
    assert_eq!(topo_order(&[&y]).len(), 100_001);
    y.sum_all().backward();
    assert_eq!(x.grad().unwrap().item(), 1.0);
    assert!((y.item() - 2.0).abs() < 1e-2);
    drop(y);
}

#[test]
fn training_loop_keeps_live_nodes_flat() {
    for mode in common::MODES {
        with_mode(mode, || {
            manual_seed(0);
            let w = Tensor::randn(&[8, 4]).requires_grad_(true);
            let x = Tensor::randn(&[16, 8]);
            let mut counts = Vec::new();
            for step in 0..10_000 {
                let loss = x.matmul(&w).relu().square().mean_all();
                loss.backward();
                let update = &w.detach() - &(&w.grad().unwrap() * 1e-3);
                w.assign(&update);
                assert!(loss.item().is_finite());
                if step % 1000 == 999 {
                    counts.push(live_nodes());
                }
            }
            let (lo, hi) = (counts.iter().min().unwrap(), counts.iter().max().unwrap());
            assert_eq!(lo, hi, "live nodes grew in {mode:?} mode: {counts:?}");
        });
    }
}

/// Nodes recorded by one backward pass through `x·w` summed, `x` trainable or not.
fn nodes_recorded_by_backward(x_requires_grad: bool) -> u64 {
    needle::with_mode(needle::Mode::Lazy, || {
        let x = needle::Tensor::randn(&[3, 4]).requires_grad_(x_requires_grad);
        let w = needle::Tensor::randn(&[4, 2]).requires_grad_(true);
        let loss = x.matmul(&w).sum_all();
        let before = needle::Tensor::scalar(0.0).node().id();
        loss.backward();
        let after = needle::Tensor::scalar(0.0).node().id();
        assert!(w.grad().is_some());
        assert_eq!(x.grad().is_some(), x_requires_grad);
        after - before
    })
}

#[test]
fn backward_builds_no_gradient_for_inputs_that_need_none() {
    // A model's input batch: its gradient (a transpose and a product as large as the layer's
    // forward product) is not built, in any mode.
    let with_x = nodes_recorded_by_backward(true);
    let without_x = nodes_recorded_by_backward(false);
    assert!(
        without_x + 2 <= with_x,
        "backward recorded {without_x} nodes for a constant input, {with_x} for a trainable one"
    );
}
