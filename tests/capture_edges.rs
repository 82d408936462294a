//! Captured steps in the less common shapes a closure can take: views of host values, a
//! returned variable or gradient, one tensor passed twice, gradients applied by a step that
//! does not compute them, alternating batch shapes, labels drawn inside the step. Each is
//! compared bit for bit with the same closure run uncaptured.

use std::cell::RefCell;

use needle::jit::{capture, CapturedStep, StepOutputs};
use needle::nn::{Forward, Linear, Module, SoftmaxLoss};
use needle::optim::{Optimizer, Sgd};
use needle::{manual_seed, with_mode, Mode, Tensor};

fn bits(t: &Tensor) -> Vec<u32> {
    t.to_vec().iter().map(|v| v.to_bits()).collect()
}

/// Runs `body` with a captured and with an uncaptured step and compares the bits it
/// returns; `body` gets whether to capture and returns (bits, replays).
fn same_bits(body: impl Fn(bool) -> (Vec<u32>, u64)) -> u64 {
    needle::init();
    let (plain, none) = with_mode(Mode::Jit, || body(false));
    let (replayed, replays) = with_mode(Mode::Jit, || body(true));
    assert_eq!(none, 0);
    assert_eq!(
        plain, replayed,
        "captured run differs from the uncaptured one"
    );
    replays
}

fn finish<F: FnMut(&[&Tensor]) -> O, O: StepOutputs>(step: &CapturedStep<F, O>) -> u64 {
    step.replays()
}

#[test]
fn views_of_host_values_are_read_where_they_view() {
    let replays = same_bits(|captured| {
        manual_seed(1);
        let x = Tensor::randn(&[3, 5]);
        let mut step = capture(|b: &[&Tensor]| {
            let noise = Tensor::randn(&[2, 5]);
            let row = noise.narrow(0, 1, 1);
            let flipped = noise.flip(&[1]).narrow(0, 0, 1);
            (b[0] * &row) + &flipped
        });
        step.set_enabled(captured);
        let out: Vec<u32> = (0..6).flat_map(|_| bits(&step.call(&[&x]))).collect();
        (out, finish(&step))
    });
    assert!(replays >= 4, "{replays}");
}

#[test]
fn a_returned_variable_is_updated_and_returned_as_the_variable() {
    let replays = same_bits(|captured| {
        manual_seed(2);
        let ema = Tensor::zeros(&[4]);
        let mut step = capture(|b: &[&Tensor]| {
            ema.assign(&(&(&ema * 0.9) + &(b[0] * 0.1)));
            ema.clone()
        });
        step.set_enabled(captured);
        let x = Tensor::randn(&[4]);
        let mut out = Vec::new();
        for _ in 0..6 {
            let e = step.call(&[&x]);
            assert!(
                e.same_handle(&ema),
                "the closure returned the variable itself"
            );
            out.extend(bits(&e));
        }
        out.extend(bits(&ema));
        (out, finish(&step))
    });
    assert!(replays >= 4, "{replays}");
}

#[test]
fn returning_a_gradient_and_one_tensor_twice() {
    let replays = same_bits(|captured| {
        manual_seed(3);
        let model = Linear::new(3, 2);
        let mut opt = Sgd::new(model.parameters(), 0.1);
        let w = model.parameters()[0].clone();
        let mut step = capture(|b: &[&Tensor]| {
            opt.zero_grad();
            let loss = model.forward(b[0]).square().sum_all();
            loss.backward();
            opt.step();
            (loss.clone(), loss, w.grad().expect("backward stored it"))
        });
        step.set_enabled(captured);
        let x = Tensor::randn(&[5, 3]);
        let mut out = Vec::new();
        for _ in 0..6 {
            let (a, b, g) = step.call(&[&x]);
            assert!(g.same_handle(&w.grad().unwrap()));
            out.extend(bits(&a).into_iter().chain(bits(&b)).chain(bits(&g)));
        }
        (out, finish(&step))
    });
    assert!(replays >= 4, "{replays}");
}

#[test]
fn one_tensor_passed_twice_is_its_own_signature() {
    let replays = same_bits(|captured| {
        manual_seed(4);
        let mut step = capture(|b: &[&Tensor]| b[0] * b[1]);
        step.set_enabled(captured);
        let (x, y) = (Tensor::randn(&[4]), Tensor::randn(&[4]));
        let mut out = Vec::new();
        for _ in 0..4 {
            out.extend(bits(&step.call(&[&x, &x])));
        }
        for _ in 0..4 {
            out.extend(bits(&step.call(&[&x, &y])));
        }
        (out, finish(&step))
    });
    assert!(replays >= 4, "{replays}");
}

#[test]
fn a_step_applying_gradients_computed_outside_it_replays() {
    let replays = same_bits(|captured| {
        manual_seed(5);
        let model = Linear::new(3, 2);
        let mut opt = Sgd::new(model.parameters(), 0.1);
        let x = Tensor::randn(&[5, 3]);
        let params = model.parameters();
        let mut out = Vec::new();
        let mut step = capture(|_: &[&Tensor]| opt.step());
        step.set_enabled(captured);
        for _ in 0..8 {
            model.forward(&x).square().sum_all().backward();
            step.call(&[]);
        }
        drop(step);
        for p in &params {
            out.extend(bits(p));
        }
        (out, 0)
    });
    assert_eq!(replays, 0);
    // Counted separately: the comparison above returns no replay count.
    needle::init();
    let replays = with_mode(Mode::Jit, || {
        let model = Linear::new(3, 2);
        let mut opt = Sgd::new(model.parameters(), 0.1);
        let x = Tensor::randn(&[5, 3]);
        let mut step = capture(|_: &[&Tensor]| opt.step());
        for _ in 0..8 {
            model.forward(&x).square().sum_all().backward();
            step.call(&[]);
        }
        step.replays()
    });
    assert!(replays >= 4, "{replays}");
}

#[test]
fn alternating_batch_shapes_are_both_captured() {
    let replays = same_bits(|captured| {
        manual_seed(6);
        let model = Linear::new(3, 2);
        let mut opt = Sgd::new(model.parameters(), 0.1);
        let xs = [Tensor::randn(&[4, 3]), Tensor::randn(&[2, 3])];
        let mut step = capture(|b: &[&Tensor]| {
            opt.zero_grad();
            let loss = model.forward(b[0]).square().mean_all();
            loss.backward();
            opt.step();
            loss
        });
        step.set_enabled(captured);
        let out: Vec<u32> = (0..12)
            .flat_map(|i| bits(&step.call(&[&xs[i % 2]])))
            .collect();
        (out, finish(&step))
    });
    assert!(replays >= 8, "{replays}");
}

#[test]
fn labels_drawn_inside_the_step_make_each_calls_mask() {
    let replays = same_bits(|captured| {
        manual_seed(7);
        let model = Linear::new(3, 4);
        let mut opt = Sgd::new(model.parameters(), 0.1);
        let x = Tensor::randn(&[6, 3]);
        let mut step = capture(|b: &[&Tensor]| {
            opt.zero_grad();
            let y = Tensor::randint(0, 4, &[6]);
            let loss = SoftmaxLoss::new().forward(&model.forward(b[0]), &y);
            loss.backward();
            opt.step();
            loss
        });
        step.set_enabled(captured);
        let out: Vec<u32> = (0..8).flat_map(|_| bits(&step.call(&[&x]))).collect();
        (out, finish(&step))
    });
    assert!(replays >= 6, "{replays}");
}

#[test]
fn assigning_a_computed_value_inside_the_step_refuses_capture() {
    needle::init();
    with_mode(Mode::Jit, || {
        let w = Tensor::randn(&[3]);
        let prev = Tensor::zeros(&[3]);
        let kept = RefCell::new(0);
        let mut step = capture(|b: &[&Tensor]| {
            prev.assign(&w);
            *kept.borrow_mut() += 1;
            b[0] + &prev
        });
        let x = Tensor::randn(&[3]);
        for _ in 0..3 {
            step.call(&[&x]);
        }
        let reason = step.uncaptured_reason().expect("refused");
        assert!(
            reason.contains("assigns an already computed value"),
            "{reason}"
        );
        assert_eq!(*kept.borrow(), 3);
    });
}

#[test]
fn a_step_returning_the_gradient_it_applies_returns_each_calls_gradient() {
    same_bits(|captured| {
        manual_seed(8);
        let model = Linear::new(3, 2);
        let mut opt = Sgd::new(model.parameters(), 0.1);
        let w = model.parameters()[0].clone();
        let x = Tensor::randn(&[5, 3]);
        let mut step = capture(|_: &[&Tensor]| {
            opt.step();
            (w.clone(), w.grad().expect("stored outside"))
        });
        step.set_enabled(captured);
        let mut out = Vec::new();
        for _ in 0..6 {
            model.forward(&x).square().sum_all().backward();
            let (w_now, g) = step.call(&[]);
            out.extend(bits(&w_now).into_iter().chain(bits(&g)));
        }
        (out, 0)
    });
}

#[test]
fn parameters_sharing_one_gradient_all_get_each_steps_gradient() {
    let replays = same_bits(|captured| {
        manual_seed(10);
        let a = Tensor::randn(&[4]).requires_grad_(true);
        let b = Tensor::randn(&[4]).requires_grad_(true);
        let mut opt = Sgd::new(vec![a.clone(), b.clone()], 0.1);
        let mut step = capture(|batch: &[&Tensor]| {
            opt.zero_grad();
            let loss = (&(&a + &b) * batch[0]).square().sum_all();
            loss.backward();
            opt.step();
            loss
        });
        step.set_enabled(captured);
        let x = Tensor::randn(&[4]);
        let mut out = Vec::new();
        for _ in 0..6 {
            out.extend(bits(&step.call(&[&x])));
            let (ga, gb) = (a.grad().unwrap(), b.grad().unwrap());
            out.extend(bits(&ga).into_iter().chain(bits(&gb)));
            out.push(ga.same_handle(&gb) as u32);
        }
        (out, finish(&step))
    });
    assert!(replays >= 4, "{replays}");
}

#[test]
fn a_parameter_without_a_gradient_when_captured_is_updated_once_it_has_one() {
    same_bits(|captured| {
        manual_seed(12);
        let (a, b) = (Linear::new(3, 2), Linear::new(3, 2));
        let params: Vec<Tensor> = a.parameters().into_iter().chain(b.parameters()).collect();
        let mut opt = Sgd::new(params.clone(), 0.1);
        let x = Tensor::randn(&[5, 3]);
        let mut step = capture(|_: &[&Tensor]| opt.step());
        step.set_enabled(captured);
        for i in 0..8 {
            let mut loss = a.forward(&x).square().sum_all();
            if i >= 4 {
                // The second head joins the loss: its parameters get gradients from now on.
                loss = &loss + &b.forward(&x).square().sum_all();
            }
            loss.backward();
            step.call(&[]);
        }
        drop(step);
        (params.iter().flat_map(bits).collect(), 0)
    });
}

#[test]
fn updates_that_go_to_other_variables_at_each_call_are_not_captured() {
    same_bits(|captured| {
        let (a, b) = (Tensor::zeros(&[2]), Tensor::zeros(&[2]));
        let mut calls = 0;
        let mut step = capture(|batch: &[&Tensor]| {
            calls += 1;
            // Neither variable is read: the two calls differ only in where the result goes.
            let target = if calls % 2 == 0 { &a } else { &b };
            target.assign(&(batch[0] * 2.0));
        });
        step.set_enabled(captured);
        for i in 0..8 {
            let x = Tensor::from_vec(vec![i as f32, 1.0], &[2]);
            step.call(&[&x]);
        }
        let replays = finish(&step);
        drop(step);
        (bits(&a).into_iter().chain(bits(&b)).collect(), replays)
    });
}
