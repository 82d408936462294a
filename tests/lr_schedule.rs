//! Learning-rate schedules owned by optimizers: the same updates as setting the schedule's
//! rate by hand before each step (bit for bit, in every mode), `lr()` as the next step's rate,
//! `set_lr` still working, and the schedule's position saved and restored with checkpoints.

mod common;

use std::collections::HashMap;

use needle::checkpoint::{load_with_optimizer, save_with_optimizer};
use needle::nn::{Forward, Linear, Module, SoftmaxLoss};
use needle::optim::{
    Adam, ConstantLr, CosineAnnealing, LinearWarmup, LrSchedule, Momentum, Optimizer, Sgd, StepLr,
};
use needle::{manual_seed, with_mode, Tensor};

fn cosine() -> CosineAnnealing {
    CosineAnnealing {
        base: 0.05,
        min: 0.001,
        period: 4,
    }
}

/// Six steps of a small classifier; returns its parameters' values and the rates `lr()`
/// reported before each step. `attach` builds the optimizer; `by_hand` (if any) is applied
/// with `set_lr` before every step.
fn train(
    attach: &dyn Fn(Vec<Tensor>) -> Box<dyn Optimizer>,
    by_hand: Option<&dyn LrSchedule>,
) -> (Vec<Vec<f32>>, Vec<f32>) {
    manual_seed(4);
    let model = Linear::new(3, 2);
    let x = Tensor::randn(&[5, 3]);
    let y = Tensor::from_vec_i64(vec![0, 1, 1, 0, 1], &[5]);
    let mut opt = attach(model.parameters());
    let mut rates = Vec::new();
    for k in 0..6 {
        if let Some(s) = by_hand {
            opt.set_lr(s.lr(k));
        }
        rates.push(opt.lr());
        opt.zero_grad();
        SoftmaxLoss::new()
            .forward(&model.forward(&x), &y)
            .backward();
        opt.step();
    }
    let params = model.parameters().iter().map(|p| p.to_vec()).collect();
    (params, rates)
}

fn bits(values: &[Vec<f32>]) -> Vec<Vec<u32>> {
    values
        .iter()
        .map(|v| v.iter().map(|x| x.to_bits()).collect())
        .collect()
}

#[test]
fn an_attached_schedule_equals_setting_its_rate_by_hand() {
    let warmup = || LinearWarmup {
        warmup: 2,
        then: StepLr {
            base: 0.2,
            step_size: 2,
            gamma: 0.5,
        },
    };
    for mode in common::MODES {
        with_mode(mode, || {
            let (owned, rates) = train(
                &|p| Box::new(Adam::new(p, 1.0).weight_decay(1e-3).schedule(cosine())),
                None,
            );
            let (by_hand, hand_rates) = train(
                &|p| Box::new(Adam::new(p, 1.0).weight_decay(1e-3)),
                Some(&cosine()),
            );
            assert_eq!(bits(&owned), bits(&by_hand), "{mode:?}");
            let want: Vec<f32> = (0..6).map(|k| cosine().lr(k)).collect();
            assert_eq!(rates, want, "{mode:?}");
            assert_eq!(hand_rates, want, "{mode:?}");

            let (owned, rates) = train(
                &|p| {
                    Box::new(
                        Sgd::new(p, 1.0)
                            .momentum(0.9, Momentum::Classic { nesterov: true })
                            .schedule(warmup()),
                    )
                },
                None,
            );
            let (by_hand, _) = train(
                &|p| Box::new(Sgd::new(p, 1.0).momentum(0.9, Momentum::Classic { nesterov: true })),
                Some(&warmup()),
            );
            assert_eq!(bits(&owned), bits(&by_hand), "{mode:?}");
            // 0.2·1/2, 0.2·2/2, then StepLr from its step 0: 0.2, 0.2, 0.1, 0.1.
            assert_eq!(rates, [0.1, 0.2, 0.2, 0.2, 0.1, 0.1], "{mode:?}");
        });
    }
}

#[test]
fn set_lr_overrides_the_next_step_and_the_schedule_resumes_after_it() {
    for mode in common::MODES {
        with_mode(mode, || {
            let schedule = StepLr {
                base: 0.1,
                step_size: 1,
                gamma: 0.5,
            };
            let w = Tensor::zeros(&[1]).requires_grad_(true);
            let mut opt = Sgd::new(vec![w.clone()], 123.0).schedule(schedule);
            // The gradient of Σw is 1, so each step subtracts exactly the rate it used.
            let step = |opt: &mut Sgd| {
                opt.zero_grad();
                w.sum_all().backward();
                opt.step();
            };
            assert_eq!(
                opt.lr(),
                0.1,
                "the schedule's rate replaces the one given to new"
            );
            step(&mut opt);
            assert_eq!(opt.lr(), 0.05);
            opt.set_lr(1.0);
            assert_eq!(opt.lr(), 1.0);
            step(&mut opt);
            assert_eq!(
                opt.lr(),
                0.025,
                "after the overridden step the schedule is back"
            );
            step(&mut opt);
            assert_eq!(w.to_vec(), vec![((0.0f32 - 0.1) - 1.0) - 0.025], "{mode:?}");

            // Without a schedule, set_lr keeps its old meaning: the rate until set again.
            let v = Tensor::zeros(&[1]).requires_grad_(true);
            let mut plain = Sgd::new(vec![v.clone()], 0.5);
            plain.set_lr(0.25);
            for _ in 0..2 {
                plain.zero_grad();
                v.sum_all().backward();
                plain.step();
                assert_eq!(plain.lr(), 0.25);
            }
            assert_eq!(v.to_vec(), vec![-0.5], "{mode:?}");
        });
    }
}

fn temp_path(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("needle-lr-{name}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir.join("ckpt.safetensors")
}

#[test]
fn a_checkpoint_resumes_the_schedule_where_it_was() {
    let path = temp_path("resume");
    manual_seed(5);
    let x = Tensor::randn(&[6, 3]);
    let y = Tensor::from_vec_i64(vec![0, 1, 1, 0, 1, 0], &[6]);
    let step = |model: &Linear, opt: &mut dyn Optimizer| {
        opt.zero_grad();
        let loss = SoftmaxLoss::new().forward(&model.forward(&x), &y);
        loss.backward();
        opt.step();
        loss.item()
    };
    let model = Linear::new(3, 2);
    let mut opt = Adam::new(model.parameters(), 1.0).schedule(cosine());
    for _ in 0..3 {
        step(&model, &mut opt);
    }
    let state: HashMap<String, Tensor> = opt.state().into_iter().collect();
    assert_eq!(state["lr_schedule.step"].to_vec_i64(), vec![3]);
    save_with_optimizer(&model, &opt, &path).unwrap();
    let continued: Vec<f32> = (0..3).map(|_| step(&model, &mut opt)).collect();

    manual_seed(6);
    let fresh = Linear::new(3, 2);
    let mut fresh_opt = Adam::new(fresh.parameters(), 1.0).schedule(cosine());
    load_with_optimizer(&fresh, &mut fresh_opt, &path).unwrap();
    assert_eq!(fresh_opt.lr(), cosine().lr(3));
    let resumed: Vec<f32> = (0..3).map(|_| step(&fresh, &mut fresh_opt)).collect();
    assert_eq!(continued, resumed);

    // A schedule's position cannot be dropped or invented silently.
    let mut without = Adam::new(Linear::new(3, 2).parameters(), 0.1);
    let err = load_with_optimizer(&fresh, &mut without, &path).unwrap_err();
    assert!(
        err.to_string().ends_with(
            "optimizer state \"lr_schedule.step\": the state was saved with a learning-rate \
             schedule and this optimizer has none; attach the same schedule with \
             `.schedule(...)`"
        ),
        "{err}"
    );
    let plain_state: HashMap<String, Tensor> = without.state().into_iter().collect();
    let mut with = Adam::new(Linear::new(3, 2).parameters(), 0.1).schedule(ConstantLr(0.1));
    let err = with.load_state(&plain_state).unwrap_err();
    assert_eq!(
        err.to_string(),
        "optimizer state \"lr_schedule.step\": missing: this optimizer has a learning-rate \
         schedule, and the state was saved without one, so it does not say where in the \
         schedule to resume"
    );
    let mut bad = plain_state.clone();
    bad.insert("lr_schedule.step".into(), Tensor::scalar(3.0));
    let err = with.load_state(&bad).unwrap_err();
    assert_eq!(
        err.to_string(),
        "optimizer state \"lr_schedule.step\": expected one non-negative i64 step count, found \
         f32 []"
    );
    std::fs::remove_dir_all(path.parent().unwrap()).unwrap();
}
