//! Datasets, transforms and loaders against the course's figures (FIGURES.md §3.6).

#![allow(clippy::excessive_precision)] // the course's figures, digit for digit

mod common;

use std::path::Path;

use common::assert_close;
use needle::data::{
    Array, ArrayDataset, DataLoader, Dataset, Mnist, MnistDataset, RandomCrop,
    RandomFlipHorizontal, Transform,
};
use needle::random::{with_global_rng, NumpyRng};
use needle::{manual_seed, Tensor};

fn mnist(train: bool) -> Mnist {
    Mnist::load_split(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("data/mnist"),
        train,
    )
    .unwrap()
}

fn norm(a: &Array) -> f64 {
    a.as_f32()
        .iter()
        .map(|&v| (v as f64) * (v as f64))
        .sum::<f64>()
        .sqrt()
}

fn image(h: usize, w: usize, c: usize) -> Array {
    Array::f32((0..h * w * c).map(|v| v as f32).collect(), &[h, w, c])
}

#[test]
fn random_flip_draws_once_per_call() {
    manual_seed(0);
    let shapes = [
        (6, 2, 5),
        (5, 5, 3),
        (5, 4, 6),
        (2, 2, 6),
        (4, 3, 2),
        (3, 3, 2),
        (3, 6, 5),
        (2, 5, 2),
        (4, 5, 2),
        (3, 5, 5),
    ];
    let flip = RandomFlipHorizontal::default();
    let flipped: Vec<bool> = shapes
        .iter()
        .map(|&(h, w, c)| {
            let img = image(h, w, c);
            let out = with_global_rng(|r| flip.apply(img.clone(), r));
            out != img
        })
        .collect();
    // Draws 0.5488, 0.7152, 0.6028, 0.5449, 0.4237, 0.6459, 0.4376, 0.8918, 0.9637, 0.3834.
    assert_eq!(
        flipped,
        [false, false, false, false, true, false, true, false, false, true]
    );
    let mut rng = NumpyRng::new(0);
    let out = RandomFlipHorizontal::new(1.0).apply(image(1, 3, 2), &mut rng);
    assert_eq!(out.as_f32(), &[4.0, 5.0, 2.0, 3.0, 0.0, 1.0]);
}

#[test]
fn random_crop_shifts_like_the_course() {
    // (padding, expected shift) after seed(0): p=1 → (−1, 0); p=2 → (2, −2); p=4 → (1, −4); p=8 → (4, 7).
    for (p, (sx, sy)) in [
        (1usize, (-1i64, 0i64)),
        (2, (2, -2)),
        (4, (1, -4)),
        (5, (0, -5)),
        (8, (4, 7)),
    ] {
        let (h, w) = (6usize, 9usize);
        let img = image(h, w, 1);
        let mut rng = NumpyRng::new(0);
        let out = RandomCrop::new(p).apply(img.clone(), &mut rng);
        for y in 0..h as i64 {
            for x in 0..w as i64 {
                let (yy, xx) = (y + sx, x + sy);
                let want = if (0..h as i64).contains(&yy) && (0..w as i64).contains(&xx) {
                    img.as_f32()[(yy * w as i64 + xx) as usize]
                } else {
                    0.0
                };
                assert_eq!(
                    out.as_f32()[(y * w as i64 + x) as usize],
                    want,
                    "p={p} at ({y},{x})"
                );
            }
        }
    }
}

const IDX: [usize; 8] = [1, 42, 1000, 2000, 3000, 4000, 5000, 5005];

#[test]
fn mnist_dataset_items_match_the_course() {
    let train = MnistDataset::new(mnist(true));
    assert_eq!(train.len(), 60_000);
    let mut rng = NumpyRng::new(0);
    let items: Vec<Vec<Array>> = IDX.iter().map(|&i| train.get(i, &mut rng)).collect();
    let norms: Vec<f32> = items.iter().map(|it| norm(&it[0]) as f32).collect();
    assert_close(
        &norms,
        &[
            10.188792, 6.261355, 8.966858, 9.4346485, 9.086626, 9.214664, 10.208544, 10.649756,
        ],
        1e-6,
        0.0,
    );
    let labels: Vec<Tensor> = items.iter().map(|it| it[1].to_tensor()).collect();
    assert_eq!(
        labels.iter().map(|l| l.to_vec_i64()[0]).collect::<Vec<_>>(),
        [0, 7, 0, 5, 9, 7, 7, 8]
    );
    assert_eq!(items[0][0].shape, vec![28, 28, 1]);
    let test = MnistDataset::new(mnist(false));
    assert_eq!(test.len(), 10_000);
    let norms: Vec<f32> = IDX
        .iter()
        .map(|&i| norm(&test.get(i, &mut rng)[0]) as f32)
        .collect();
    assert_close(
        &norms,
        &[
            9.857545, 8.980832, 8.57207, 6.891522, 8.192135, 9.400087, 8.645003, 7.405202,
        ],
        1e-5,
        0.0,
    );
}

#[test]
fn mnist_transforms_continue_the_global_stream() {
    let crop_flip = |p: usize, flip: f64| -> Vec<Box<dyn Transform>> {
        vec![
            Box::new(RandomCrop::new(p)),
            Box::new(RandomFlipHorizontal::new(flip)),
        ]
    };
    let ds = MnistDataset::new(mnist(true)).with_transforms(crop_flip(28, 0.5));
    manual_seed(0);
    let pass = |ds: &MnistDataset| -> Vec<f32> {
        let norms: Vec<f32> = IDX
            .iter()
            .map(|&i| with_global_rng(|r| norm(&ds.get(i, r)[0]) as f32))
            .collect();
        // The course reads the labels in a second pass, which draws again.
        for &i in &IDX {
            with_global_rng(|r| ds.get(i, r));
        }
        norms
    };
    assert_close(
        &pass(&ds),
        &[
            2.0228338, 0., 7.4892044, 0., 0., 3.8012788, 9.583429, 4.2152724,
        ],
        1e-5,
        1e-5,
    );
    let ds = MnistDataset::new(mnist(true)).with_transforms(crop_flip(12, 0.4));
    assert_close(
        &pass(&ds),
        &[
            5.369537, 5.5454974, 8.966858, 7.547235, 8.785921, 7.848442, 7.1654058, 9.361828,
        ],
        1e-5,
        1e-5,
    );
}

#[test]
fn loaders_batch_in_order_and_shuffle_with_the_global_stream() {
    manual_seed(0);
    let data = Tensor::rand(&[100, 10, 10]).to_vec();
    for batch in [1usize, 10, 100] {
        let loader = DataLoader::new(
            ArrayDataset::new(vec![Array::f32(data.clone(), &[100, 10, 10])]),
            batch,
        );
        let mut seen = 0;
        for (i, b) in loader.iter().enumerate() {
            assert_eq!(b[0].shape(), vec![batch, 10, 10]);
            assert_eq!(b[0].to_vec(), data[i * batch * 100..(i + 1) * batch * 100]);
            seen += 1;
        }
        assert_eq!(seen, 100 / batch);
    }
    manual_seed(0);
    let arange = || {
        ArrayDataset::new(vec![Array::f32(
            (0..100).map(|v| v as f32).collect(),
            &[100],
        )])
    };
    let loader = DataLoader::new(arange(), 1).shuffle(true);
    let first: Vec<f32> = loader.iter().take(10).map(|b| b[0].item()).collect();
    assert_eq!(
        first,
        [26.0, 86.0, 2.0, 55.0, 75.0, 93.0, 16.0, 73.0, 54.0, 95.0]
    );
    let loader = DataLoader::new(arange(), 10).shuffle(true);
    let norms: Vec<f32> = loader
        .iter()
        .take(10)
        .map(|b| b[0].square().sum_all().sqrt().item())
        .collect();
    let expected = [
        164.805946, 173.43875, 169.841102, 189.050258, 195.880065, 206.387984, 209.909504,
        185.776748, 145.948621, 160.252925,
    ];
    assert_close(&norms, &expected, 1e-5, 1e-5);
}

#[test]
fn short_last_batch_drop_last_and_prefetch_agree() {
    let ds = || {
        ArrayDataset::new(vec![
            Array::f32((0..25).map(|v| v as f32).collect(), &[25]),
            Array::i64((0..25).collect(), &[25]),
        ])
    };
    let sizes: Vec<usize> = DataLoader::new(ds(), 10)
        .iter()
        .map(|b| b[0].numel())
        .collect();
    assert_eq!(sizes, [10, 10, 5]);
    let sizes: Vec<usize> = DataLoader::new(ds(), 10)
        .drop_last(true)
        .iter()
        .map(|b| b[0].numel())
        .collect();
    assert_eq!(sizes, [10, 10]);
    manual_seed(5);
    let a: Vec<Vec<i64>> = DataLoader::new(ds(), 7)
        .shuffle(true)
        .prefetch(0)
        .iter()
        .map(|b| b[1].to_vec_i64())
        .collect();
    manual_seed(5);
    let b: Vec<Vec<i64>> = DataLoader::new(ds(), 7)
        .shuffle(true)
        .prefetch(3)
        .iter()
        .map(|b| b[1].to_vec_i64())
        .collect();
    assert_eq!(a, b);
    // Stopping early must not hang the prefetch thread.
    let loader = DataLoader::new(ds(), 1);
    assert_eq!(loader.iter().take(2).count(), 2);
}
