//! Checkpoints: bit-identical round trips, typed errors naming the tensor, nothing modified on
//! failure, no temporary file left behind.

use std::path::PathBuf;

use needle::checkpoint::{load, save, save_tensors, CheckpointError};
use needle::nn::{mlp_resnet, Forward, Linear, Module, Norm};
use needle::{manual_seed, Tensor};

fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("needle-ckpt-{name}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

#[test]
fn round_trip_restores_bit_identical_outputs() {
    let dir = temp_dir("roundtrip");
    let path = dir.join("model.safetensors");
    manual_seed(1);
    let model = mlp_resnet(12, 8, 2, 3, Norm::BatchNorm, 0.0);
    let x = Tensor::randn(&[5, 12]);
    model.forward(&x); // training mode: moves the running statistics away from their initial values
    model.eval();
    let before = model.forward(&x).to_vec();
    save(&model, &path).unwrap();
    let leftovers: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(leftovers.len(), 1, "temporary files left: {leftovers:?}");

    manual_seed(2);
    let other = mlp_resnet(12, 8, 2, 3, Norm::BatchNorm, 0.0);
    other.eval();
    assert_ne!(other.forward(&x).to_vec(), before);
    load(&other, &path).unwrap();
    let after = other.forward(&x).to_vec();
    assert!(before
        .iter()
        .zip(&after)
        .all(|(a, b)| a.to_bits() == b.to_bits()));
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn bad_checkpoints_are_typed_errors_and_change_nothing() {
    let dir = temp_dir("errors");
    let model = Linear::new(3, 2);
    let original: Vec<Vec<f32>> = model.parameters().iter().map(|p| p.to_vec()).collect();
    let unchanged = |m: &Linear| {
        let now: Vec<Vec<f32>> = m.parameters().iter().map(|p| p.to_vec()).collect();
        assert_eq!(now, original);
    };

    let missing = dir.join("missing.safetensors");
    save_tensors(&[("weight".into(), Tensor::zeros(&[3, 2]))], &missing).unwrap();
    match load(&model, &missing) {
        Err(CheckpointError::Missing { name, .. }) => assert_eq!(name, "bias"),
        other => panic!("expected Missing, got {other:?}"),
    }
    unchanged(&model);

    let shaped = dir.join("shaped.safetensors");
    save_tensors(
        &[
            ("weight".into(), Tensor::zeros(&[3, 2])),
            ("bias".into(), Tensor::zeros(&[2])),
        ],
        &shaped,
    )
    .unwrap();
    let err = load(&model, &shaped).unwrap_err();
    assert_eq!(
        err.to_string(),
        format!(
            "{}: tensor \"bias\" is f32 [2] in the file but f32 [1, 2] in the model",
            shaped.display()
        )
    );
    unchanged(&model);

    let extra = dir.join("extra.safetensors");
    let mut tensors = model.named_parameters();
    tensors.push(("head.weight".into(), Tensor::zeros(&[1])));
    save_tensors(&tensors, &extra).unwrap();
    match load(&model, &extra) {
        Err(CheckpointError::Unexpected { name, .. }) => assert_eq!(name, "head.weight"),
        other => panic!("expected Unexpected, got {other:?}"),
    }

    let garbage = dir.join("garbage.safetensors");
    std::fs::write(&garbage, b"not a checkpoint").unwrap();
    assert!(matches!(
        load(&model, &garbage),
        Err(CheckpointError::Format { .. })
    ));
    assert!(matches!(
        load(&model, &dir.join("absent")),
        Err(CheckpointError::Io { .. })
    ));
    unchanged(&model);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn optimizer_state_round_trip_resumes_training_exactly() {
    use needle::checkpoint::{load_with_optimizer, save_with_optimizer};
    use needle::nn::SoftmaxLoss;
    use needle::optim::{Adam, Momentum, Optimizer, Sgd};

    let dir = temp_dir("resume");
    let path = dir.join("train.safetensors");
    manual_seed(3);
    let x = Tensor::randn(&[8, 12]);
    let y = Tensor::randint(0, 3, &[8]);
    let step = |model: &dyn Forward, opt: &mut dyn Optimizer| {
        opt.zero_grad();
        let loss = SoftmaxLoss::new().forward(&model.forward(&x), &y);
        loss.backward();
        opt.step();
        loss.item()
    };
    let model = mlp_resnet(12, 8, 1, 3, Norm::BatchNorm, 0.0);
    let mut opt = Adam::new(model.parameters(), 1e-2).weight_decay(1e-3);
    for _ in 0..3 {
        step(&model, &mut opt);
    }
    save_with_optimizer(&model, &opt, &path).unwrap();
    let continued: Vec<f32> = (0..3).map(|_| step(&model, &mut opt)).collect();

    manual_seed(9);
    let fresh = mlp_resnet(12, 8, 1, 3, Norm::BatchNorm, 0.0);
    let mut fresh_opt = Adam::new(fresh.parameters(), 1e-2).weight_decay(1e-3);
    load_with_optimizer(&fresh, &mut fresh_opt, &path).unwrap();
    let resumed: Vec<f32> = (0..3).map(|_| step(&fresh, &mut fresh_opt)).collect();
    assert_eq!(continued, resumed);

    // An SGD optimizer cannot take Adam's state; the model is left untouched.
    let other = mlp_resnet(12, 8, 1, 3, Norm::BatchNorm, 0.0);
    let before: Vec<Vec<f32>> = other.parameters().iter().map(|p| p.to_vec()).collect();
    let mut sgd = Sgd::new(other.parameters(), 0.1).momentum(0.9, Momentum::Ema);
    let err = load_with_optimizer(&other, &mut sgd, &path).unwrap_err();
    assert!(
        matches!(err, CheckpointError::OptimizerState { .. }),
        "{err}"
    );
    assert!(err.to_string().contains("optimizer state \"adam."), "{err}");
    let after: Vec<Vec<f32>> = other.parameters().iter().map(|p| p.to_vec()).collect();
    assert_eq!(before, after);
    std::fs::remove_dir_all(&dir).unwrap();
}

/// The tensor a concurrent writer saves for `stamp`: its length and every value derive from
/// the stamp, so a reader can tell a whole file from a torn or mixed one.
fn stamped(stamp: usize) -> Vec<(String, Tensor)> {
    let len = stamped_len(stamp);
    vec![(
        "stamp".to_string(),
        Tensor::from_vec(vec![stamp as f32; len], &[len]),
    )]
}

fn stamped_len(stamp: usize) -> usize {
    4096 + (stamp * 7919) % 8192
}

#[test]
fn concurrent_saves_to_one_path_all_succeed_and_readers_never_see_a_torn_file() {
    use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
    use std::sync::Arc;

    const WRITERS: usize = 6;
    const SAVES: usize = 12;
    let dir = temp_dir("concurrent");
    let path = dir.join("shared.safetensors");
    save_tensors(&stamped(0), &path).unwrap();
    let done = Arc::new(AtomicBool::new(false));
    let reads = Arc::new(AtomicUsize::new(0));
    let readers: Vec<_> = (0..2)
        .map(|_| {
            let (path, done, reads) = (path.clone(), done.clone(), reads.clone());
            std::thread::spawn(move || {
                while !done.load(Ordering::Relaxed) {
                    let tensors = needle::checkpoint::load_tensors(&path)
                        .unwrap_or_else(|e| panic!("a reader saw an invalid file: {e}"));
                    assert_eq!(tensors.len(), 1);
                    let values = tensors[0].1.to_vec();
                    let stamp = values[0] as usize;
                    assert_eq!(
                        values.len(),
                        stamped_len(stamp),
                        "torn file (stamp {stamp})"
                    );
                    assert!(
                        values.iter().all(|&v| v == stamp as f32),
                        "a file mixes two saves (stamp {stamp})"
                    );
                    reads.fetch_add(1, Ordering::Relaxed);
                }
            })
        })
        .collect();
    let writers: Vec<_> = (0..WRITERS)
        .map(|w| {
            let path = path.clone();
            std::thread::spawn(move || {
                (0..SAVES)
                    .filter_map(|i| save_tensors(&stamped(1 + w * SAVES + i), &path).err())
                    .map(|e| e.to_string())
                    .collect::<Vec<_>>()
            })
        })
        .collect();
    let failures: Vec<String> = writers
        .into_iter()
        .flat_map(|h| h.join().unwrap())
        .collect();
    done.store(true, Ordering::Relaxed);
    for r in readers {
        r.join().expect("reader failed");
    }
    assert!(
        failures.is_empty(),
        "{} of {} saves failed, first: {}",
        failures.len(),
        WRITERS * SAVES,
        failures[0]
    );
    assert!(reads.load(Ordering::Relaxed) > 0);
    let left: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(left, vec![std::ffi::OsString::from("shared.safetensors")]);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
#[cfg(target_os = "linux")]
fn next_save_removes_temp_files_of_dead_writers_only() {
    let dir = temp_dir("stale");
    let path = dir.join("model.safetensors");
    // A reaped child's pid is dead; a running child's is alive.
    let mut exited = std::process::Command::new("true").spawn().unwrap();
    let dead_pid = exited.id();
    exited.wait().unwrap();
    let mut running = std::process::Command::new("sleep")
        .arg("60")
        .spawn()
        .unwrap();
    let live_pid = running.id();
    let stale = dir.join(format!(".model.safetensors.tmp.{dead_pid}.0"));
    let in_flight = dir.join(format!(".model.safetensors.tmp.{live_pid}.3"));
    let other_file = dir.join(format!(".other.safetensors.tmp.{dead_pid}.0"));
    for p in [&stale, &in_flight, &other_file] {
        std::fs::write(p, b"half a checkpoint").unwrap();
    }
    save_tensors(&[("w".into(), Tensor::zeros(&[2]))], &path).unwrap();
    let (stale_exists, in_flight_exists, other_exists) =
        (stale.exists(), in_flight.exists(), other_file.exists());
    running.kill().unwrap();
    running.wait().unwrap();
    assert!(!stale_exists, "the dead writer's temp file was left behind");
    assert!(in_flight_exists, "a live writer's temp file was removed");
    assert!(other_exists, "another checkpoint's temp file was removed");
    std::fs::remove_dir_all(&dir).unwrap();
}

/// A Linear layer and Adam after one step, saved to `path`; returns the file's tensors.
fn adam_checkpoint(path: &std::path::Path) -> Vec<(String, Tensor)> {
    use needle::checkpoint::{load_tensors, save_with_optimizer};
    use needle::optim::{Adam, Optimizer};
    manual_seed(4);
    let model = Linear::new(3, 2);
    let mut opt = Adam::new(model.parameters(), 1e-2);
    model.forward(&Tensor::randn(&[4, 3])).sum_all().backward();
    opt.step();
    save_with_optimizer(&model, &opt, path).unwrap();
    load_tensors(path).unwrap()
}

/// Loads `tensors` (written to `path`) into a fresh Linear layer and Adam; a failure must
/// leave both untouched, which a training step then shows.
fn load_fresh(tensors: &[(String, Tensor)], path: &std::path::Path) -> Result<(), String> {
    use needle::checkpoint::load_with_optimizer;
    use needle::optim::{Adam, Optimizer};
    save_tensors(tensors, path).unwrap();
    let model = Linear::new(3, 2);
    let mut opt = Adam::new(model.parameters(), 1e-2);
    let result = load_with_optimizer(&model, &mut opt, path).map_err(|e| e.to_string());
    opt.zero_grad();
    model.forward(&Tensor::ones(&[2, 3])).sum_all().backward();
    opt.step();
    assert!(model
        .parameters()
        .iter()
        .all(|p| p.to_vec().iter().all(|v| v.is_finite())));
    result
}

#[test]
fn optimizer_state_of_another_dtype_is_a_typed_error() {
    // Found by tests/fuzz_readers.rs: an i64 moment of the right shape was accepted and the
    // next step panicked in mul_scalar.
    let dir = temp_dir("state-dtype");
    let path = dir.join("adam.safetensors");
    let mut tensors = adam_checkpoint(&path);
    let m0 = tensors
        .iter_mut()
        .find(|(n, _)| n == "optimizer.adam.m.0")
        .unwrap();
    m0.1 = Tensor::from_vec_i64(vec![1; 6], &[3, 2]);
    assert_eq!(
        load_fresh(&tensors, &path).unwrap_err(),
        format!(
            "{}: optimizer state \"adam.m.0\": i64 [3, 2] does not match the parameter's f32 [3, 2]",
            path.display()
        )
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn adam_step_counts_that_are_not_whole_numbers_below_2_pow_31_are_typed_errors() {
    // 1e30 became u64::MAX and the next step overflowed (a panic in debug builds; in release
    // the count wrapped to 0, the bias correction to 0 and the parameters to NaN); 2.5 was
    // silently truncated.
    let dir = temp_dir("state-step");
    let path = dir.join("adam.safetensors");
    let tensors = adam_checkpoint(&path);
    for (value, shown) in [
        (f32::NAN, "NaN"),
        (f32::INFINITY, "inf"),
        (-1.0, "-1"),
        (2.5, "2.5"),
        (1e30, "1000000000000000000000000000000"),
        (2f32.powi(31), "2147483600"),
    ] {
        let mut tensors = tensors.clone();
        let step = tensors
            .iter_mut()
            .find(|(n, _)| n == "optimizer.adam.step")
            .unwrap();
        step.1 = Tensor::scalar(value);
        assert_eq!(
            load_fresh(&tensors, &path).unwrap_err(),
            format!(
                "{}: optimizer state \"adam.step\": expected one whole step count in [0, 2^31), found f32 [] holding {shown}",
                path.display()
            )
        );
    }
    assert_eq!(load_fresh(&tensors, &path), Ok(()));
    std::fs::remove_dir_all(&dir).unwrap();
}
