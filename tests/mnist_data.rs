//! The shipped MNIST files: checksums, the course's parse figures (FIGURES.md §1), and the
//! reader's behaviour on corrupt files.

#![allow(clippy::excessive_precision)] // the course's figures, digit for digit

mod common;

use std::path::{Path, PathBuf};

use needle::data::{idx, DataError, Mnist};
use needle::Tensor;
use sha2::{Digest, Sha256};

fn mnist_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("data/mnist")
}

#[test]
fn shipped_files_match_their_checksums() {
    let dir = mnist_dir();
    let sums = std::fs::read_to_string(dir.join("SHA256SUMS")).unwrap();
    let mut checked = 0;
    for line in sums.lines().filter(|l| !l.trim().is_empty()) {
        let (hash, name) = line.split_once("  ").expect("sha256sum format");
        let bytes = std::fs::read(dir.join(name)).unwrap();
        let digest: String = Sha256::digest(&bytes)
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        assert_eq!(digest, hash, "{name} does not match SHA256SUMS");
        checked += 1;
    }
    assert_eq!(checked, 4);
}

#[test]
fn parse_mnist_reproduces_the_course_figures() {
    let train = Mnist::load_split(&mnist_dir(), true).unwrap();
    assert_eq!(train.len(), 60_000);
    assert_eq!(train.pixels(), 784);
    let norm = |n: usize| {
        train.images[..n * 784]
            .iter()
            .map(|&v| (v as f64) * (v as f64))
            .sum::<f64>()
            .sqrt()
    };
    common::assert_close(&[norm(10) as f32], &[27.892084], 1e-7, 0.0);
    common::assert_close(&[norm(1000) as f32], &[293.0717], 1e-6, 0.0);
    assert_eq!(&train.labels[..10], &[5, 0, 4, 1, 9, 2, 1, 3, 1, 4]);
    let test = Mnist::load_split(&mnist_dir(), false).unwrap();
    assert_eq!(test.len(), 10_000);
}

#[test]
fn softmax_loss_of_zero_logits_is_ln_10() {
    let train = Mnist::load_split(&mnist_dir(), true).unwrap();
    let labels = Tensor::from_vec_i64(train.labels.iter().map(|&l| l as i64).collect(), &[60_000]);
    let z = Tensor::zeros(&[60_000, 10]);
    let loss = (z.logsumexp(&[1], false).sum_all()
        - (&z * &Tensor::one_hot(10, &labels)).sum_all())
        / 60_000.0;
    common::assert_close(&[loss.item()], &[std::f64::consts::LN_10], 1e-6, 1e-6); // the course: 2.3025850
    needle::manual_seed(0);
    let z = Tensor::randn(&[60_000, 10]);
    let loss = (z.logsumexp(&[1], false).sum_all()
        - (&z * &Tensor::one_hot(10, &labels)).sum_all())
        / 60_000.0;
    common::assert_close(&[loss.item()], &[2.7291998], 1e-6, 1e-6);
}

fn idx_bytes(dims: &[u32], payload: usize) -> Vec<u8> {
    let mut b = vec![0, 0, 8, dims.len() as u8];
    for d in dims {
        b.extend(d.to_be_bytes());
    }
    b.extend(std::iter::repeat_n(7u8, payload));
    b
}

fn problem(result: Result<idx::IdxArray, DataError>) -> String {
    match result {
        Err(DataError::Format { path, problem }) => {
            assert_eq!(path, Path::new("x.idx"));
            problem
        }
        other => panic!("expected a format error, got {other:?}"),
    }
}

#[test]
fn corrupt_idx_files_are_typed_errors() {
    let p = Path::new("x.idx");
    assert_eq!(
        idx::parse_idx(&idx_bytes(&[2, 3], 6), p).unwrap().dims,
        vec![2, 3]
    );
    let msg = problem(idx::parse_idx(&idx_bytes(&[2, 3], 5), p));
    assert!(
        msg.starts_with("truncated: header dimensions [2, 3] need 6 data bytes"),
        "{msg}"
    );
    let msg = problem(idx::parse_idx(&idx_bytes(&[2, 3], 7), p));
    assert!(msg.contains("1 unexpected trailing bytes"), "{msg}");
    let mut bad = idx_bytes(&[2], 2);
    bad[0] = 0x12;
    let msg = problem(idx::parse_idx(&bad, p));
    assert!(msg.starts_with("bad magic number 12000801"), "{msg}");
    let mut bad = idx_bytes(&[2], 2);
    bad[2] = 0x0d;
    assert!(problem(idx::parse_idx(&bad, p)).contains("element type 0x0d"));
    // A header claiming 4 billion items on a 20-byte file must fail without allocating.
    let msg = problem(idx::parse_idx(&idx_bytes(&[u32::MAX, 28, 28], 4), p));
    assert!(msg.starts_with("truncated"), "{msg}");
    let msg = problem(idx::parse_idx(&idx_bytes(&[u32::MAX; 255], 0)[..12], p));
    assert!(msg.starts_with("truncated header"), "{msg}");
    assert!(problem(idx::parse_idx(&[0, 0], p)).contains("shorter than"));
}

#[test]
fn random_bytes_never_panic() {
    needle::manual_seed(3);
    let p = Path::new("x.idx");
    for len in [0usize, 1, 3, 4, 8, 17, 100, 1000] {
        for _ in 0..50 {
            let bytes: Vec<u8> = Tensor::randint(0, 256, &[len])
                .to_vec_i64()
                .iter()
                .map(|&v| v as u8)
                .collect();
            let _ = idx::parse_idx(&bytes, p);
        }
    }
}

#[test]
fn truncated_and_corrupt_gzip_files_are_reported_with_their_path() {
    let dir = std::env::temp_dir().join(format!("needle-mnist-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let original = std::fs::read(mnist_dir().join("t10k-labels-idx1-ubyte.gz")).unwrap();
    let truncated = dir.join("truncated.gz");
    std::fs::write(&truncated, &original[..original.len() / 2]).unwrap();
    match idx::read_idx(&truncated) {
        Err(DataError::Format { path, problem }) => {
            assert_eq!(path, truncated);
            assert!(
                problem.contains("corrupt gzip data") || problem.starts_with("truncated"),
                "{problem}"
            );
        }
        other => panic!("expected a format error, got {other:?}"),
    }
    let missing = dir.join("missing.gz");
    assert!(matches!(idx::read_idx(&missing), Err(DataError::Io { path, .. }) if path == missing));
    let images = mnist_dir().join("t10k-images-idx3-ubyte.gz");
    let labels = mnist_dir().join("train-labels-idx1-ubyte.gz");
    let err = Mnist::load(&images, &labels).unwrap_err();
    assert!(
        err.to_string().contains("10000 images but 60000 labels"),
        "{err}"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}
