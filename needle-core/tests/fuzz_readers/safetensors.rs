//! The safetensors checkpoint loader, alone and loading into a model and its optimizer.

use std::path::Path;
use std::sync::OnceLock;

use needle_core::checkpoint::{load_with_optimizer, parse_tensors, save_with_optimizer};
use needle_core::nn::{Forward, Linear, Module};
use needle_core::optim::{Adam, Optimizer};
use needle_core::Tensor;
use proptest::prelude::*;
use proptest::sample::Index;
use proptest::test_runner::TestCaseError;

use super::{apply, damage, hex, names_file, no_panic, run, Damage, Scratch};

/// The tiny model whose checkpoints are damaged: a Linear layer and Adam after one step (so
/// the file holds both moments and the step count).
fn trained() -> (Linear, Adam) {
    needle_core::manual_seed(5);
    let model = Linear::new(3, 2);
    let mut opt = Adam::new(model.parameters(), 1e-2);
    let x = Tensor::randn(&[4, 3]);
    model.forward(&x).sum_all().backward();
    opt.step();
    (model, opt)
}

/// A valid checkpoint of [`trained`] (written once).
fn valid_checkpoint() -> Vec<u8> {
    static BYTES: OnceLock<Vec<u8>> = OnceLock::new();
    BYTES
        .get_or_init(|| {
            let dir = Scratch::new("valid-ckpt");
            let path = dir.join("ckpt.safetensors");
            let (model, opt) = trained();
            save_with_optimizer(&model, &opt, &path).unwrap();
            std::fs::read(&path).unwrap()
        })
        .clone()
}

/// Parses `bytes` as safetensors and checks the answer; when they parse, also loads them from
/// a file in `dir` into a fresh model and optimizer and, if that succeeds, trains one step.
fn check_safetensors(bytes: &[u8], dir: &Scratch) -> Result<(), TestCaseError> {
    let path = Path::new("fuzz/case.safetensors");
    match no_panic("parse_tensors", bytes, || parse_tensors(bytes, path))? {
        Ok(tensors) => {
            for (name, t) in &tensors {
                let n = no_panic("numel", bytes, || t.numel())?;
                let values = no_panic("to_vec", bytes, || t.to_vec())?;
                prop_assert_eq!(values.len(), n, "tensor {} of input {}", name, hex(bytes));
            }
        }
        // Loading into a model parses the same way first: it would fail the same way.
        Err(e) => return names_file(&e.to_string(), path, bytes),
    }
    let case = dir.write("case.safetensors", bytes);
    let file = case.0.as_path();
    let (model, mut opt) = trained();
    let shapes: Vec<Vec<usize>> = model.parameters().iter().map(|p| p.shape()).collect();
    let loaded = no_panic("load_with_optimizer", bytes, || {
        load_with_optimizer(&model, &mut opt, file)
    })?;
    match loaded {
        Ok(()) => {
            let now: Vec<Vec<usize>> = model.parameters().iter().map(|p| p.shape()).collect();
            prop_assert_eq!(now, shapes);
            no_panic("a training step after loading", bytes, || {
                opt.zero_grad();
                model.forward(&Tensor::ones(&[2, 3])).sum_all().backward();
                opt.step();
                model.parameters().iter().for_each(|p| drop(p.to_vec()));
            })?;
        }
        Err(e) => names_file(&e.to_string(), file, bytes)?,
    }
    Ok(())
}

/// Header-length values that stress size arithmetic.
fn hostile_u64() -> impl Strategy<Value = u64> {
    prop_oneof![
        Just(0),
        Just(u64::MAX),
        Just(u64::MAX - 7),
        Just(1 << 63),
        Just(100_000_001),
        Just(u32::MAX as u64),
        any::<u64>(),
    ]
}

/// Damage aimed at safetensors' framing.
#[derive(Clone, Debug)]
enum StDamage {
    Generic(Damage),
    /// Set the 8-byte little-endian header length.
    HeaderLen(u64),
    /// Add to the header length (wrapping).
    HeaderLenDelta(i8),
}

fn st_damage() -> impl Strategy<Value = StDamage> {
    prop_oneof![
        3 => damage().prop_map(StDamage::Generic),
        1 => hostile_u64().prop_map(StDamage::HeaderLen),
        1 => any::<i8>().prop_map(StDamage::HeaderLenDelta),
    ]
}

fn apply_st(bytes: &mut Vec<u8>, damage: &StDamage) {
    match damage {
        StDamage::Generic(d) => apply(bytes, d),
        StDamage::HeaderLen(n) if bytes.len() >= 8 => bytes[..8].copy_from_slice(&n.to_le_bytes()),
        StDamage::HeaderLenDelta(d) if bytes.len() >= 8 => {
            let n = u64::from_le_bytes(bytes[..8].try_into().unwrap());
            bytes[..8].copy_from_slice(&n.wrapping_add_signed(*d as i64).to_le_bytes());
        }
        _ => {}
    }
}

#[test]
fn checkpoint_loader_answers_damaged_files() {
    let dir = Scratch::new("damaged");
    let valid = valid_checkpoint();
    run(3000, prop::collection::vec(st_damage(), 1..4), |damages| {
        let mut bytes = valid.clone();
        for d in &damages {
            apply_st(&mut bytes, d);
        }
        check_safetensors(&bytes, &dir)
    });
}

/// Shape sizes that stress size arithmetic, as JSON numbers (some beyond u64).
fn hostile_dim() -> impl Strategy<Value = String> {
    prop_oneof![
        6 => Just("0".to_string()),
        6 => (1..4u64).prop_map(|d| d.to_string()),
        2 => Just((1u64 << 31).to_string()),
        2 => Just((1u64 << 32).to_string()),
        2 => Just((1u64 << 61).to_string()),
        2 => Just(((1u64 << 61) - 1).to_string()),
        2 => Just((1u64 << 62).to_string()),
        2 => Just((1u64 << 63).to_string()),
        2 => Just(u64::MAX.to_string()),
        1 => Just("18446744073709551616".to_string()),
        1 => Just("-1".to_string()),
        1 => Just("2.5".to_string()),
    ]
}

/// One header entry: name, dtype, shape, and the data offsets (None: consistent with the
/// shape when it can be computed).
#[derive(Clone, Debug)]
struct Entry {
    name: String,
    dtype: String,
    shape: Vec<String>,
    offsets: Option<(String, String)>,
}

fn entry() -> impl Strategy<Value = Entry> {
    let names = prop::sample::select(vec![
        "weight",
        "bias",
        "optimizer.adam.step",
        "optimizer.adam.m.0",
        "optimizer.adam.v.1",
        "optimizer.adam.m.7",
        "other",
        "__metadata__",
    ]);
    let dtypes = prop_oneof![
        4 => Just("F32"),
        4 => Just("I64"),
        2 => Just("U8"),
        1 => prop::sample::select(vec!["F64", "BOOL", "F4", "f32", "Q"]),
    ];
    let offsets = prop::option::weighted(
        0.1,
        (hostile_dim(), hostile_dim()).prop_map(|(a, b)| (a, b)),
    );
    (
        names,
        dtypes,
        prop::collection::vec(hostile_dim(), 0..4),
        offsets,
    )
        .prop_map(|(name, dtype, shape, offsets)| Entry {
            name: name.into(),
            dtype: dtype.into(),
            shape,
            offsets,
        })
}

/// Bytes per element of the dtypes the generator writes (0 for the unknown ones).
fn elem_bytes(dtype: &str) -> u128 {
    match dtype {
        "F32" => 4,
        "I64" | "F64" => 8,
        "U8" | "BOOL" => 1,
        _ => 0,
    }
}

/// A safetensors file from structured entries, followed by `data_len` bytes of data (or the
/// data the header claims, when that is small).
fn structured_file(entries: &[Entry], data: &[u8]) -> Vec<u8> {
    let mut start: u128 = 0;
    let mut fields = Vec::new();
    for e in entries {
        let numel: Option<u128> = e
            .shape
            .iter()
            .map(|d| d.parse::<u128>().ok())
            .try_fold(1u128, |a, d| d.and_then(|d| a.checked_mul(d)));
        let (s, end) = match &e.offsets {
            Some((s, end)) => (s.clone(), end.clone()),
            None => {
                let size = numel.and_then(|n| n.checked_mul(elem_bytes(&e.dtype)));
                let end = size.map_or(start, |s| start.saturating_add(s));
                let pair = (start.to_string(), end.to_string());
                start = end;
                pair
            }
        };
        fields.push(format!(
            r#""{}":{{"dtype":"{}","shape":[{}],"data_offsets":[{s},{end}]}}"#,
            e.name,
            e.dtype,
            e.shape.join(",")
        ));
    }
    let header = format!("{{{}}}", fields.join(","));
    let mut bytes = (header.len() as u64).to_le_bytes().to_vec();
    bytes.extend_from_slice(header.as_bytes());
    if start <= 4096 {
        bytes.extend(std::iter::repeat_n(0x3f, start as usize));
    } else {
        bytes.extend_from_slice(data);
    }
    bytes
}

/// Headers made of hostile entries: huge and overflowing shapes and offsets, unknown dtypes,
/// optimizer entries of the wrong kind.
#[test]
fn checkpoint_loader_answers_hostile_headers() {
    let dir = Scratch::new("hostile");
    let strategy = (
        prop::collection::vec(entry(), 0..6),
        prop::collection::vec(any::<u8>(), 0..64),
        prop::collection::vec(st_damage(), 0..2),
    );
    run(5000, strategy, |(entries, data, damages)| {
        let mut bytes = structured_file(&entries, &data);
        for d in &damages {
            apply_st(&mut bytes, d);
        }
        check_safetensors(&bytes, &dir)
    });
}

#[test]
fn checkpoint_loader_rejects_every_truncation_of_a_valid_file() {
    let file = valid_checkpoint();
    for len in 0..file.len() {
        let err = parse_tensors(&file[..len], Path::new("short.safetensors"))
            .map(|_| ())
            .unwrap_err()
            .to_string();
        assert!(err.starts_with("short.safetensors: "), "{len}: {err}");
    }
    // weight, bias, Adam's step and two moments of each parameter
    assert_eq!(parse_tensors(&file, Path::new("whole")).unwrap().len(), 7);
}

/// Replacing one entry of a valid checkpoint.
#[derive(Clone, Debug)]
enum Swap {
    /// The same shape as i64.
    ToI64,
    /// Another shape (the values repeat the original's first one).
    Shape(Vec<usize>),
    /// Every value set to this one.
    Value(f32),
}

fn swap() -> impl Strategy<Value = Swap> {
    prop_oneof![
        Just(Swap::ToI64),
        prop::collection::vec(0..4usize, 0..3).prop_map(Swap::Shape),
        prop_oneof![
            Just(f32::NAN),
            Just(f32::INFINITY),
            Just(-1.0f32),
            Just(2.5f32),
            Just(1e30f32),
            Just(3e9f32),
            Just(16_777_216.0f32),
            Just(0.0f32),
        ]
        .prop_map(Swap::Value),
    ]
}

/// Well-formed files whose entries do not fit the model or the optimizer: another dtype,
/// another shape, hostile values (a step count of NaN, -1, 2.5, 1e30).
#[test]
fn checkpoint_loader_answers_entries_of_the_wrong_kind() {
    let dir = Scratch::new("swap");
    let path = dir.join("swap.safetensors");
    let valid = parse_tensors(&valid_checkpoint(), &path).unwrap();
    let strategy = (any::<Index>(), prop::collection::vec(swap(), 1..3));
    run(100, strategy, |(which, swaps)| {
        let mut tensors = valid.clone();
        let i = which.index(tensors.len());
        for s in &swaps {
            let t = &tensors[i].1;
            let first = t.to_vec().first().copied().unwrap_or(0.0);
            tensors[i].1 = match s {
                Swap::ToI64 => {
                    Tensor::from_vec_i64(t.to_vec().iter().map(|&v| v as i64).collect(), &t.shape())
                }
                Swap::Shape(shape) => Tensor::from_vec(vec![first; shape.iter().product()], shape),
                Swap::Value(v) => Tensor::from_vec(vec![*v; t.numel()], &t.shape()),
            };
        }
        needle_core::checkpoint::save_tensors(&tensors, &path).unwrap();
        let bytes = std::fs::read(&path).unwrap();
        check_safetensors(&bytes, &dir)
    });
}

/// A safetensors file of the given JSON header and data.
fn raw_safetensors(header: &str, data: &[u8]) -> Vec<u8> {
    let mut bytes = (header.len() as u64).to_le_bytes().to_vec();
    bytes.extend_from_slice(header.as_bytes());
    bytes.extend_from_slice(data);
    bytes
}

#[test]
fn empty_tensors_whose_sizes_multiply_past_the_address_space_are_rejected() {
    // Found by the hostile-header test in a debug build: zero elements pass safetensors'
    // checks, and building the tensor overflowed its strides (a panic in debug builds, silently
    // wrapped strides in release).
    let path = Path::new("huge.safetensors");
    let header = r#"{"x":{"dtype":"F32","shape":[0,4611686018427387904,4],"data_offsets":[0,0]}}"#;
    let err = parse_tensors(&raw_safetensors(header, &[]), path)
        .map(|_| ())
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "huge.safetensors: not a valid safetensors file: tensor \"x\" has shape \
         [0, 4611686018427387904, 4], too large for a tensor (its sizes, zeros counted as ones, \
         multiply past 1152921504606846975 elements)"
    );
    // The largest shape that fits is still read.
    let fits = format!(
        r#"{{"x":{{"dtype":"I64","shape":[{},0],"data_offsets":[0,0]}}}}"#,
        isize::MAX as usize / 8
    );
    let tensors = parse_tensors(&raw_safetensors(&fits, &[]), path).unwrap();
    assert_eq!(tensors[0].1.shape(), vec![isize::MAX as usize / 8, 0]);
}

#[test]
fn data_offsets_summing_to_the_end_of_the_address_space_are_rejected() {
    // Found reading safetensors' read_metadata while writing the generators (random headers
    // rarely hold eight valid giant tensors): eight u8 tensors of 2^61 - 1 bytes each end at
    // 2^64 - 8, and safetensors adds the header length to that unchecked (an overflow panic in
    // debug builds).
    let size = (1u64 << 61) - 1;
    let entries: Vec<String> = (0..8u64)
        .map(|k| {
            format!(
                r#""t{k}":{{"dtype":"U8","shape":[{size}],"data_offsets":[{},{}]}}"#,
                k * size,
                (k + 1) * size
            )
        })
        .collect();
    let header = format!("{{{}}}", entries.join(","));
    let path = Path::new("offsets.safetensors");
    let err = parse_tensors(&raw_safetensors(&header, &[1, 2, 3]), path)
        .map(|_| ())
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "offsets.safetensors: not a valid safetensors file: tensor \"t0\" ends at data offset \
         2305843009213693951, past the 3 data bytes present"
    );
}
