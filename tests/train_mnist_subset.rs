//! End to end: a small model trained on 2,000 MNIST images in JIT and eager mode gives the
//! same loss curve, and learns.

use std::path::Path;

use needle::data::{DataLoader, Mnist, MnistDataset};
use needle::nn::{mlp_resnet, Module, Norm};
use needle::optim::Adam;
use needle::train::fit;
use needle::{manual_seed, with_mode, Mode};

fn curve(mode: Mode) -> Vec<f64> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("data/mnist");
    let train = MnistDataset::new(Mnist::load_split(&dir, true).unwrap()).truncated(2000);
    let test = MnistDataset::new(Mnist::load_split(&dir, false).unwrap()).truncated(1000);
    with_mode(mode, || {
        manual_seed(0);
        let model = mlp_resnet(784, 64, 2, 10, Norm::BatchNorm, 0.1);
        let mut opt = Adam::new(model.parameters(), 2e-3).weight_decay(1e-3);
        let train = DataLoader::new(train, 100).shuffle(true);
        let test = DataLoader::new(test, 500);
        fit(&model, &mut opt, &train, &test, 3, true)
            .iter()
            .flat_map(|e| [e.train.loss, e.test.loss])
            .collect()
    })
}

#[test]
fn jit_and_eager_loss_curves_agree_and_fall() {
    let (jit, eager) = (curve(Mode::Jit), curve(Mode::Eager));
    for (j, e) in jit.iter().zip(&eager) {
        assert!(
            (j - e).abs() <= 1e-4 * e.abs(),
            "JIT {jit:?} vs eager {eager:?}"
        );
    }
    let final_train = jit[jit.len() - 2];
    assert!(
        final_train < 0.5 && final_train < jit[0] / 3.0,
        "train loss after 3 epochs on 2,000 images: {final_train} (curve {jit:?})"
    );
    assert!(jit[jit.len() - 1] < 0.6, "test loss {jit:?}");
}
