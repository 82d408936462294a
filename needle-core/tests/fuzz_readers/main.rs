//! Fuzzing the file readers with proptest: valid IDX, MNIST and safetensors files built here
//! are truncated, bit-flipped, given huge or overflowing header fields or replaced by garbage,
//! and every reader must answer with a typed error naming the file, or with values whose shapes
//! agree — never a panic (caught with `catch_unwind` and reported with the input bytes).
//!
//! Case counts keep the whole file to a few seconds in `cargo test --release`.

mod idx;
mod safetensors;

use std::io::Write;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

use proptest::prelude::*;
use proptest::sample::Index;
use proptest::test_runner::{RngSeed, TestCaseError, TestRunner};

/// `n` cases from a fixed seed, so that every run (and CI) tries the same inputs; set
/// `PROPTEST_RNG_SEED` to explore others. A failure is reported with its input and not saved to
/// a regression file (each defect found gets a named test instead).
fn cases(n: u32) -> ProptestConfig {
    let default = ProptestConfig::default();
    let rng_seed = match default.rng_seed {
        RngSeed::Random => RngSeed::Fixed(0x6e65_6564_6c65),
        chosen => chosen,
    };
    ProptestConfig {
        cases: n,
        failure_persistence: None,
        rng_seed,
        ..default
    }
}

/// The input, for failure messages: hex, cut after 512 bytes.
fn hex(bytes: &[u8]) -> String {
    let shown: String = bytes.iter().take(512).map(|b| format!("{b:02x}")).collect();
    if bytes.len() > 512 {
        format!("{shown}... ({} bytes)", bytes.len())
    } else {
        format!("{shown} ({} bytes)", bytes.len())
    }
}

/// Runs `f`, turning a panic into a test failure that shows the input.
fn no_panic<R>(what: &str, input: &[u8], f: impl FnOnce() -> R) -> Result<R, TestCaseError> {
    catch_unwind(AssertUnwindSafe(f)).map_err(|payload| {
        let message = payload
            .downcast_ref::<String>()
            .cloned()
            .or_else(|| payload.downcast_ref::<&str>().map(|s| s.to_string()))
            .unwrap_or_default();
        TestCaseError::fail(format!(
            "{what} panicked ({message}) on input {}",
            hex(input)
        ))
    })
}

/// Fails unless `message` starts by naming `path`.
fn names_file(message: &str, path: &Path, input: &[u8]) -> Result<(), TestCaseError> {
    prop_assert!(
        message.starts_with(&path.display().to_string()),
        "error {message:?} does not name {} (input {})",
        path.display(),
        hex(input)
    );
    Ok(())
}

/// A folder for one test's files, overwritten case after case and removed on drop.
struct Scratch(PathBuf);

impl Scratch {
    fn new(test: &str) -> Scratch {
        let dir = std::env::temp_dir().join(format!("needle-fuzz-{}-{test}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        Scratch(dir)
    }

    fn join(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }

    /// Writes `bytes` to a file of a new name (overwriting one file again and again makes ext4
    /// flush it at every close, ~5 ms), removed when the returned guard drops.
    fn write(&self, name: &str, bytes: &[u8]) -> CaseFile {
        static FILES: AtomicUsize = AtomicUsize::new(0);
        let n = FILES.fetch_add(1, Ordering::Relaxed);
        let path = self.0.join(format!("{n}-{name}"));
        std::fs::write(&path, bytes).unwrap();
        CaseFile(path)
    }
}

/// One case's file, removed on drop.
struct CaseFile(PathBuf);

impl Drop for CaseFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Runs `test` on `n` cases drawn from `strategy`, panicking with the smallest failing case.
fn run<S: Strategy>(n: u32, strategy: S, test: impl Fn(S::Value) -> Result<(), TestCaseError>) {
    if let Err(e) = TestRunner::new(cases(n)).run(&strategy, test) {
        panic!("{e}");
    }
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    enc.write_all(bytes).unwrap();
    enc.finish().unwrap()
}

/// A generic damage to a file's bytes.
#[derive(Clone, Debug)]
enum Damage {
    /// Keep only a prefix.
    Truncate(Index),
    /// XOR one byte with a non-zero mask.
    Flip(Index, u8),
    /// Overwrite bytes from a position (extending the file if needed).
    Overwrite(Index, Vec<u8>),
    /// Insert bytes.
    Insert(Index, Vec<u8>),
    /// Append bytes.
    Append(Vec<u8>),
    /// Replace the whole file by garbage.
    Garbage(Vec<u8>),
}

fn damage() -> impl Strategy<Value = Damage> {
    let bytes = || prop::collection::vec(any::<u8>(), 1..16);
    prop_oneof![
        any::<Index>().prop_map(Damage::Truncate),
        (any::<Index>(), 1..=255u8).prop_map(|(i, m)| Damage::Flip(i, m)),
        (any::<Index>(), bytes()).prop_map(|(i, b)| Damage::Overwrite(i, b)),
        (any::<Index>(), bytes()).prop_map(|(i, b)| Damage::Insert(i, b)),
        bytes().prop_map(Damage::Append),
        prop::collection::vec(any::<u8>(), 0..64).prop_map(Damage::Garbage),
    ]
}

fn apply(bytes: &mut Vec<u8>, damage: &Damage) {
    let at = |i: &Index, len: usize| i.index(len + 1);
    match damage {
        Damage::Truncate(i) => bytes.truncate(at(i, bytes.len())),
        Damage::Flip(i, mask) => {
            if !bytes.is_empty() {
                let p = i.index(bytes.len());
                bytes[p] ^= mask;
            }
        }
        Damage::Overwrite(i, b) => {
            let p = at(i, bytes.len());
            let end = p + b.len();
            if end > bytes.len() {
                bytes.resize(end, 0);
            }
            bytes[p..end].copy_from_slice(b);
        }
        Damage::Insert(i, b) => {
            let p = at(i, bytes.len());
            bytes.splice(p..p, b.iter().copied());
        }
        Damage::Append(b) => bytes.extend_from_slice(b),
        Damage::Garbage(b) => *bytes = b.clone(),
    }
}
