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
