//! numpy's legacy global random generator, reproduced draw for draw.
//!
//! The course's seeded results (initialisers, dropout masks, shuffles) come from
//! `np.random.seed` followed by the legacy `RandomState` draws (`rand`, `randn`, `randint`,
//! `permutation`). Reimplementing the same MT19937 stream and the same draw algorithms,
//! including numpy's quirks (53-bit doubles built from two words, the cached second Gaussian,
//! masked rejection for integers), lets needle-rs reproduce those results bit for bit.
//!
//! Everything here is std-only so the module can be tested on its own.
//!
//! `mt19937` is the word stream, `numpy_rng` the draws numpy makes from it; this file holds
//! each thread's global generator, the one the tensor constructors draw from.

use std::cell::RefCell;

mod mt19937;
mod numpy_rng;

pub use mt19937::Mt19937;
pub use numpy_rng::NumpyRng;

/// A 32-bit seed that differs between runs and threads, standing in for numpy's OS-entropy
/// seeding of an unseeded generator without any dependency: `RandomState` hashers are keyed
/// from process-wide randomness (and differ per call), and the wall clock and thread id are
/// mixed in on top.
fn entropy_seed() -> u32 {
    use std::hash::{BuildHasher, Hash, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    h.write_u128(nanos);
    std::thread::current().id().hash(&mut h);
    let x = h.finish();
    // Fold both halves in so no hash bits are simply discarded.
    (x ^ (x >> 32)) as u32
}

thread_local! {
    /// One global stream per thread, as numpy's module-level state: a user program (the
    /// training loop) runs on one thread and sees a single stream, while tests, which run on
    /// parallel threads, cannot perturb each other's seeded draws.
    static GLOBAL: RefCell<NumpyRng> = RefCell::new(NumpyRng::new(entropy_seed()));
}

/// Reseeds this thread's global generator, like `np.random.seed(seed)` (this also clears the
/// cached Gaussian). Until the first call the generator is seeded from the clock and
/// per-process randomness, like an unseeded numpy.
///
/// # Panics
/// If `seed >= 2^32`: numpy's legacy seeding raises for such seeds, and silently truncating
/// would give a stream no numpy run can reproduce.
#[track_caller]
pub fn manual_seed(seed: u64) {
    // `let else` rather than `unwrap_or_else` so the panic is reported at the caller.
    let Ok(seed32) = u32::try_from(seed) else {
        panic!("manual_seed: seed {seed} is out of range, it must be between 0 and 2^32 - 1");
    };
    with_global_rng(|r| r.seed(seed32));
}

/// A random permutation of `0..n` from this thread's global stream
/// (`np.random.permutation(n)`).
///
/// ```
/// needle_core::manual_seed(0);
/// assert_eq!(&needle_core::random::permutation(100)[..3], &[26, 86, 2]);
/// ```
pub fn permutation(n: usize) -> Vec<usize> {
    with_global_rng(|r| r.permutation(n))
}

/// Runs `f` with this thread's global generator, the stream that `manual_seed` seeds and that
/// the tensor constructors draw from.
///
/// # Panics
/// If called re-entrantly from inside `f` (the generator is already borrowed).
pub fn with_global_rng<R>(f: impl FnOnce(&mut NumpyRng) -> R) -> R {
    GLOBAL.with(|g| f(&mut g.borrow_mut()))
}

#[cfg(test)]
mod tests;
