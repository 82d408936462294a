//! In-place updates in compiled programs: an optimizer step writes the new parameters and
//! moments into the buffers of the old ones when nothing else can read them, with the same
//! values as eager mode; a tensor the user holds keeps its value (the update then writes a
//! new buffer); a graph recorded before the step that is read after it fails loudly; and
//! gradients are values after the step, not graphs keeping the step alive.

use needle::jit::gemm::{with_gemm_policy, GemmPolicy};
use needle::jit::{reset_stats, set_tiered, stats, with_checked};
use needle::nn::{mlp_resnet, Forward, Linear, Module, Norm, ReLU, Sequential, SoftmaxLoss};
use needle::optim::{Adam, Optimizer, Sgd};
use needle::{live_nodes, manual_seed, with_mode, Mode, Tensor};

/// Runs `steps` Adam steps of a small MLPResNet in `mode`; returns the losses and the final
/// parameters.
fn train(mode: Mode, checked: bool, steps: usize) -> (Vec<f32>, Vec<Vec<f32>>) {
    // Compiled code from the first step (tiered compilation would interpret the first ones).
    set_tiered(false);
    // The gemm crate in every mode: bit-identical products (the generated GEMM, which the
    // per-shape measurement may pick, rounds differently).
    with_gemm_policy(GemmPolicy::Library, || {
        with_checked(checked, || {
            with_mode(mode, || {
                manual_seed(3);
                let model = mlp_resnet(12, 16, 2, 4, Norm::BatchNorm, 0.0);
                let mut opt = Adam::new(model.parameters(), 1e-2).weight_decay(1e-3);
                let x = Tensor::randn(&[8, 12]);
                let y = Tensor::randint(0, 4, &[8]);
                let mut losses = Vec::new();
                for _ in 0..steps {
                    opt.zero_grad();
                    let loss = SoftmaxLoss::new().forward(&model.forward(&x), &y);
                    loss.backward();
                    opt.step();
                    losses.push(loss.item());
                }
                let params = model.parameters().iter().map(|p| p.to_vec()).collect();
                (losses, params)
            })
        })
    })
}

/// One training step (the loss is dropped on return, as a training loop drops it).
fn train_step(model: &dyn Forward, opt: &mut dyn Optimizer, x: &Tensor, y: &Tensor) -> f32 {
    opt.zero_grad();
    let loss = SoftmaxLoss::new().forward(&model.forward(x), y);
    loss.backward();
    opt.step();
    loss.item()
}

/// A two-layer MLP (6 → 5 → 3) with a batch of 4 inputs and labels, from `seed`.
fn small_mlp(seed: u64) -> (Sequential, Tensor, Tensor) {
    manual_seed(seed);
    let model = Sequential::new()
        .push(Linear::new(6, 5))
        .push(ReLU::new())
        .push(Linear::new(5, 3));
    (model, Tensor::randn(&[4, 6]), Tensor::randint(0, 3, &[4]))
}

#[test]
fn optimizer_steps_update_in_place_with_eager_values() {
    let eager = train(Mode::Eager, false, 6);
    reset_stats();
    let jit = train(Mode::Jit, false, 6);
    let donated = stats().donated_buffers;
    // 2 blocks × (2 linears × 2 + 2 norms × 2) + first and last linear × 2 = 20 parameters,
    // each with two moments; from the second step on every one is dead when updated.
    assert!(
        donated >= 5 * 20 * 3,
        "parameters and both moments updated in place from the second step: {donated}"
    );
    assert_eq!(jit, eager, "in-place updates change no value");
    reset_stats();
    let checked = train(Mode::Jit, true, 6);
    assert!(
        stats().donated_buffers > 0,
        "checked code runs in place too"
    );
    assert_eq!(checked, eager);
}

#[test]
fn a_held_copy_keeps_its_value_and_the_update_writes_a_new_buffer() {
    set_tiered(false);
    with_mode(Mode::Jit, || {
        let (model, x, y) = small_mlp(0);
        let mut opt = Sgd::new(model.parameters(), 0.5);
        train_step(&model, &mut opt, &x, &y);
        let weight = model.parameters()[0].clone();
        let held = weight.detach();
        let before = held.to_vec();
        reset_stats();
        train_step(&model, &mut opt, &x, &y);
        assert_eq!(held.to_vec(), before, "a held tensor never changes");
        assert_ne!(weight.to_vec(), before, "the variable has its new value");
        // The other three parameters were dead and updated in place (the biases in the
        // epilogues of their gradients' reductions); the held one was not.
        assert_eq!(stats().donated_buffers, 3);
    });
}

#[test]
fn reading_a_graph_recorded_before_an_in_place_step_fails_loudly() {
    set_tiered(false);
    let result = std::panic::catch_unwind(|| {
        with_mode(Mode::Jit, || {
            manual_seed(0);
            let w = Tensor::randn(&[3, 2]).requires_grad_(true);
            let x = Tensor::randn(&[4, 3]);
            let mut opt = Sgd::new(vec![w.clone()], 0.1);
            let mut last = None;
            for _ in 0..3 {
                opt.zero_grad();
                let loss = x.matmul(&w).relu().sum_all();
                loss.backward();
                opt.step();
                loss.item();
                last = Some(loss);
            }
            // The last loss's graph reads the weight's value before the last step, which the
            // step overwrote: differentiating it again must not see the new value, and the
            // error names the user's `opt.step()` line (not the library's sgd.rs).
            let loss = last.unwrap();
            loss.backward();
            w.grad().unwrap().to_vec()
        })
    });
    let message = match result {
        Ok(grad) => panic!("expected an error, got a gradient {grad:?}"),
        Err(e) => e
            .downcast_ref::<String>()
            .cloned()
            .or_else(|| e.downcast_ref::<&str>().map(|s| s.to_string()))
            .unwrap_or_default(),
    };
    assert!(
        message.starts_with(
            "backward: the graph reads a parameter of shape [3, 2] that `opt.step()` at \
             tests/in_place.rs:118:21 has since updated"
        ),
        "{message}"
    );
}

#[test]
fn gradients_are_values_after_the_step_and_nothing_of_the_step_stays_alive() {
    set_tiered(false);
    with_mode(Mode::Jit, || {
        let (model, x, y) = small_mlp(1);
        let mut opt = Sgd::new(model.parameters(), 0.1);
        let mut counts = Vec::new();
        for _ in 0..5 {
            train_step(&model, &mut opt, &x, &y);
            for p in model.parameters() {
                assert!(
                    p.grad().unwrap().is_realized(),
                    "gradients are computed by the step"
                );
            }
            counts.push(live_nodes());
        }
        assert!(
            counts.windows(2).all(|w| w[0] == w[1]),
            "live nodes stay flat: {counts:?}"
        );
        // Parameters, their gradients, and the data: a handful of nodes, not the step's graph.
        assert!(counts[4] <= 4 * 2 + 10, "{counts:?}");
    });
}
