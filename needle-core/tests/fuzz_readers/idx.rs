//! The IDX reader (raw and gzip) and the MNIST loader.

use std::path::Path;

use needle_core::data::idx::{parse_idx, read_idx};
use needle_core::data::Mnist;
use proptest::prelude::*;
use proptest::sample::Index;
use proptest::test_runner::TestCaseError;

use super::{apply, cases, damage, gzip, hex, names_file, no_panic, run, Damage, Scratch};

/// IDX bytes: the header for `dims`, then `data`.
fn idx_file(dims: &[u32], data: &[u8]) -> Vec<u8> {
    let mut b = vec![0, 0, 8, dims.len() as u8];
    for d in dims {
        b.extend(d.to_be_bytes());
    }
    b.extend_from_slice(data);
    b
}

/// A valid small IDX file: 1–4 dimensions of 0–4, filled with arbitrary bytes.
fn valid_idx() -> impl Strategy<Value = Vec<u8>> {
    prop::collection::vec(0..5u32, 1..5).prop_flat_map(|dims| {
        let n: usize = dims.iter().map(|&d| d as usize).product();
        prop::collection::vec(any::<u8>(), n).prop_map(move |data| idx_file(&dims, &data))
    })
}

/// Header values that stress size arithmetic.
fn hostile_u32() -> impl Strategy<Value = u32> {
    prop_oneof![
        Just(0),
        Just(1),
        Just(u32::MAX),
        Just(u32::MAX - 1),
        Just(1 << 31),
        Just(1 << 16),
        Just(65_537),
        any::<u32>(),
    ]
}

/// Damage aimed at the IDX header's fields.
#[derive(Clone, Debug)]
enum IdxDamage {
    Generic(Damage),
    /// Set dimension `i` (of those present) to a value.
    Dim(Index, u32),
    /// Set every dimension to a value.
    AllDims(u32),
    /// Set the dimension count byte.
    Ndim(u8),
    /// Set the element type byte.
    Type(u8),
}

fn idx_damage() -> impl Strategy<Value = IdxDamage> {
    prop_oneof![
        2 => damage().prop_map(IdxDamage::Generic),
        2 => (any::<Index>(), hostile_u32()).prop_map(|(i, v)| IdxDamage::Dim(i, v)),
        1 => hostile_u32().prop_map(IdxDamage::AllDims),
        1 => any::<u8>().prop_map(IdxDamage::Ndim),
        1 => any::<u8>().prop_map(IdxDamage::Type),
    ]
}

fn apply_idx(bytes: &mut Vec<u8>, damage: &IdxDamage) {
    let ndim = bytes.get(3).map_or(0, |&n| n as usize);
    let dims_present = ndim.min(bytes.len().saturating_sub(4) / 4);
    let set_dim = |bytes: &mut Vec<u8>, i: usize, v: u32| {
        bytes[4 + 4 * i..8 + 4 * i].copy_from_slice(&v.to_be_bytes())
    };
    match damage {
        IdxDamage::Generic(d) => apply(bytes, d),
        IdxDamage::Dim(i, v) if dims_present > 0 => set_dim(bytes, i.index(dims_present), *v),
        IdxDamage::AllDims(v) => (0..dims_present).for_each(|i| set_dim(bytes, i, *v)),
        IdxDamage::Ndim(n) if bytes.len() > 3 => bytes[3] = *n,
        IdxDamage::Type(t) if bytes.len() > 2 => bytes[2] = *t,
        _ => {}
    }
}

/// Parses `bytes` as IDX and checks the answer.
fn check_idx(bytes: &[u8]) -> Result<(), TestCaseError> {
    let path = Path::new("fuzz/case-idx3-ubyte");
    match no_panic("parse_idx", bytes, || parse_idx(bytes, path))? {
        Ok(array) => {
            let n = array.dims.iter().try_fold(1usize, |a, &d| a.checked_mul(d));
            prop_assert_eq!(n, Some(array.data.len()), "input {}", hex(bytes));
        }
        Err(e) => names_file(&e.to_string(), path, bytes)?,
    }
    Ok(())
}

proptest! {
    #![proptest_config(cases(20000))]

    #[test]
    fn idx_parser_answers_damaged_files_with_errors_or_consistent_arrays(
        file in valid_idx(),
        damages in prop::collection::vec(idx_damage(), 1..4),
    ) {
        check_idx(&file)?;
        let mut bytes = file;
        for d in &damages {
            apply_idx(&mut bytes, d);
        }
        check_idx(&bytes)?;
    }
}

#[test]
fn idx_parser_rejects_every_truncation_of_a_valid_file() {
    let file = idx_file(&[2, 3, 4], &(0..24).collect::<Vec<u8>>());
    for len in 0..file.len() {
        let path = Path::new("short.idx");
        let err = parse_idx(&file[..len], path).unwrap_err().to_string();
        assert!(err.starts_with("short.idx: "), "{len}: {err}");
    }
    assert!(parse_idx(&file, Path::new("whole.idx")).is_ok());
}

/// Through files, gzip-compressed: the damage hits the IDX bytes (inside a valid gzip stream)
/// or the gzip stream itself.
#[test]
fn idx_reader_answers_damaged_gzip_files() {
    let dir = Scratch::new("idx");
    let strategy = (
        valid_idx(),
        prop::collection::vec(idx_damage(), 0..3),
        prop::collection::vec(damage(), 0..3),
    );
    run(1000, strategy, |(mut idx, idx_damages, gzip_damages)| {
        for d in &idx_damages {
            apply_idx(&mut idx, d);
        }
        let mut bytes = gzip(&idx);
        for d in &gzip_damages {
            apply(&mut bytes, d);
        }
        let file = dir.write("case.gz", &bytes);
        let path = &file.0;
        match no_panic("read_idx", &bytes, || read_idx(path))? {
            Ok(array) => {
                let n = array.dims.iter().try_fold(1usize, |a, &d| a.checked_mul(d));
                prop_assert_eq!(n, Some(array.data.len()), "input {}", hex(&bytes));
            }
            Err(e) => names_file(&e.to_string(), path, &bytes)?,
        }
        Ok(())
    });
}

/// Valid MNIST-shaped image and label files: `n` items of `rows × cols`, labels 0–9.
fn valid_mnist() -> impl Strategy<Value = (Vec<u8>, Vec<u8>)> {
    (0..4u32, 0..4u32, 0..4u32).prop_flat_map(|(n, rows, cols)| {
        let pixels = (n * rows * cols) as usize;
        (
            prop::collection::vec(any::<u8>(), pixels),
            prop::collection::vec(0..10u8, n as usize),
        )
            .prop_map(move |(img, lab)| (idx_file(&[n, rows, cols], &img), idx_file(&[n], &lab)))
    })
}

#[test]
fn mnist_loader_answers_damaged_pairs() {
    let dir = Scratch::new("mnist");
    let strategy = (
        valid_mnist(),
        prop::collection::vec(idx_damage(), 0..3),
        prop::collection::vec(idx_damage(), 0..3),
        any::<bool>(),
    );
    run(
        1000,
        strategy,
        |((mut img, mut lab), image_damages, label_damages, compress)| {
            for d in &image_damages {
                apply_idx(&mut img, d);
            }
            for d in &label_damages {
                apply_idx(&mut lab, d);
            }
            let encode = |b: &[u8]| if compress { gzip(b) } else { b.to_vec() };
            let (img_file, lab_file) = (
                dir.write("images", &encode(&img)),
                dir.write("labels", &encode(&lab)),
            );
            let (img_path, lab_path) = (&img_file.0, &lab_file.0);
            let input = [img.as_slice(), &[0xff; 4], &lab].concat();
            match no_panic("Mnist::load", &input, || Mnist::load(img_path, lab_path))? {
                Ok(m) => {
                    prop_assert_eq!(
                        m.images.len(),
                        m.len() * m.pixels(),
                        "input {}",
                        hex(&input)
                    );
                    prop_assert!(m.labels.iter().all(|&l| l <= 9));
                    prop_assert!(m.images.iter().all(|v| (0.0..=1.0).contains(v)));
                }
                Err(e) => {
                    let msg = e.to_string();
                    let named = [img_path, lab_path]
                        .iter()
                        .any(|p| msg.starts_with(&p.display().to_string()));
                    prop_assert!(
                        named,
                        "error {:?} names neither file (input {})",
                        msg,
                        hex(&input)
                    );
                }
            }
            Ok(())
        },
    );
}
