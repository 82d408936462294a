//! numpy's legacy global random generator, reproduced draw for draw.
//!
//! The course's seeded results (initialisers, dropout masks, shuffles) come from
//! `np.random.seed` followed by the legacy `RandomState` draws (`rand`, `randn`, `randint`,
//! `permutation`). Reimplementing the same MT19937 stream and the same draw algorithms,
//! including numpy's quirks (53-bit doubles built from two words, the cached second Gaussian,
//! masked rejection for integers), lets needle-rs reproduce those results bit for bit.
//!
//! Everything here is std-only so the module can be tested on its own.

use std::cell::RefCell;

/// Number of 32-bit words in the MT19937 state.
const N: usize = 624;
/// Offset of the word mixed into each twisted word.
const M: usize = 397;
const MATRIX_A: u32 = 0x9908_b0df;
const UPPER_MASK: u32 = 0x8000_0000;
const LOWER_MASK: u32 = 0x7fff_ffff;

/// The 32-bit Mersenne Twister (MT19937), seeded with `init_genrand` exactly as
/// `np.random.seed(seed)` seeds its legacy state.
#[derive(Clone)]
pub struct Mt19937 {
    state: [u32; N],
    /// Next word to temper; `N` means the block is used up and must be twisted first.
    index: usize,
}

impl Mt19937 {
    /// A generator seeded like `np.random.seed(seed)` (`init_genrand`).
    pub fn new(seed: u32) -> Self {
        let mut state = [0u32; N];
        state[0] = seed;
        for i in 1..N {
            let prev = state[i - 1];
            // `i < 624`, so the cast is lossless; the arithmetic is mod 2^32 by definition.
            state[i] = 1_812_433_253u32
                .wrapping_mul(prev ^ (prev >> 30))
                .wrapping_add(i as u32);
        }
        // numpy leaves the freshly seeded state untwisted, so the first draw twists.
        Self { state, index: N }
    }

    /// Regenerates the whole block of `N` words in place.
    fn twist(&mut self) {
        // The recurrence reads words already rewritten in this pass, as the reference
        // three-loop version does; the three ranges below are its wrap-arounds spelled out
        // (word i mixes words i, i+1 and i+M, all mod N), and the odd-bit correction is a
        // mask rather than a branch (the bit is random, so a branch mispredicts half the time).
        let s = &mut self.state;
        let mix = |upper: u32, lower: u32, far: u32| {
            let y = (upper & UPPER_MASK) | (lower & LOWER_MASK);
            far ^ (y >> 1) ^ ((y & 1).wrapping_neg() & MATRIX_A)
        };
        for i in 0..N - M {
            s[i] = mix(s[i], s[i + 1], s[i + M]);
        }
        for i in N - M..N - 1 {
            s[i] = mix(s[i], s[i + 1], s[i + M - N]);
        }
        s[N - 1] = mix(s[N - 1], s[0], s[M - 1]);
        self.index = 0;
    }

    /// The next 32 random bits of the stream.
    pub fn next_u32(&mut self) -> u32 {
        if self.index >= N {
            self.twist();
        }
        let y = self.state[self.index];
        self.index += 1;
        temper(y)
    }

    /// The untempered words left in the current block, twisting first when it is used up
    /// (the caller tempers them and advances past those it takes with [`Mt19937::consume`]).
    fn block(&mut self) -> &[u32] {
        if self.index >= N {
            self.twist();
        }
        &self.state[self.index..]
    }

    fn consume(&mut self, words: usize) {
        self.index += words;
    }
}

/// MT19937's output transform of a state word.
#[inline]
fn temper(mut y: u32) -> u32 {
    y ^= y >> 11;
    y ^= (y << 7) & 0x9d2c_5680;
    y ^= (y << 15) & 0xefc6_0000;
    y ^ (y >> 18)
}

/// numpy's double from two tempered words (see [`NumpyRng::random_sample`]).
#[inline]
fn double_of(first: u32, second: u32) -> f64 {
    let a = f64::from(first >> 5);
    let b = f64::from(second >> 6);
    (a * 67_108_864.0 + b) / 9_007_199_254_740_992.0
}

/// numpy's legacy `RandomState`: an MT19937 stream plus the cached second value of the polar
/// Box–Muller method, which is part of the state (it changes what the next `randn` returns).
#[derive(Clone)]
pub struct NumpyRng {
    mt: Mt19937,
    gauss: Option<f64>,
}

impl NumpyRng {
    /// A generator in the state `np.random.seed(seed)` leaves behind.
    pub fn new(seed: u32) -> Self {
        Self {
            mt: Mt19937::new(seed),
            gauss: None,
        }
    }

    /// Reseeds in place; like numpy, this also drops a cached Gaussian, so the next
    /// `standard_normal` starts a fresh pair.
    pub fn seed(&mut self, seed: u32) {
        *self = Self::new(seed);
    }

    /// The next 32 raw bits of the underlying MT19937 stream.
    pub fn next_u32(&mut self) -> u32 {
        self.mt.next_u32()
    }

    /// numpy's 64-bit draw: two words, the first one in the high half.
    fn next_u64(&mut self) -> u64 {
        let hi = u64::from(self.next_u32());
        let lo = u64::from(self.next_u32());
        (hi << 32) | lo
    }

    /// A double uniform in [0, 1) (`np.random.random_sample` / `rand`): 27 + 26 bits from two
    /// words, so every representable multiple of 2^-53 is equally likely.
    pub fn random_sample(&mut self) -> f64 {
        let first = self.next_u32();
        double_of(first, self.next_u32())
    }

    /// Calls `each(i, draw)` for `n` consecutive `random_sample` draws, taking word pairs
    /// straight from the generator's block (a loop the compiler vectorizes) instead of one
    /// bounds-checked word at a time.
    fn for_each_random_sample(&mut self, n: usize, mut each: impl FnMut(usize, f64)) {
        let mut done = 0;
        while done < n {
            let words = self.mt.block();
            let pairs = (words.len() / 2).min(n - done);
            if pairs == 0 {
                // One word left in the block: this draw straddles the twist.
                each(done, self.random_sample());
                done += 1;
                continue;
            }
            for (i, pair) in words[..2 * pairs].chunks_exact(2).enumerate() {
                each(done + i, double_of(temper(pair[0]), temper(pair[1])));
            }
            self.mt.consume(2 * pairs);
            done += pairs;
        }
    }

    /// Fills `out` with Bernoulli draws as `rand(*shape) <= p` gives them: 1 where the uniform
    /// draw is at most `p`, 0 elsewhere (dropout masks), in C order.
    pub fn fill_bernoulli(&mut self, out: &mut [f32], p: f64) {
        self.for_each_random_sample(out.len(), |i, u| {
            out[i] = if u <= p { 1.0 } else { 0.0 };
        });
    }

    /// A standard normal draw (`np.random.randn`, legacy `gauss`): the polar Box–Muller method
    /// yields two values per accepted pair; the second is cached and returned by the next call,
    /// even if other draws happen in between.
    pub fn standard_normal(&mut self) -> f64 {
        if let Some(cached) = self.gauss.take() {
            return cached;
        }
        loop {
            let x1 = 2.0 * self.random_sample() - 1.0;
            let x2 = 2.0 * self.random_sample() - 1.0;
            let r2 = x1 * x1 + x2 * x2;
            // Outside the unit disc the transform is invalid, and r2 == 0 would divide by zero.
            if r2 < 1.0 && r2 != 0.0 {
                let f = (-2.0 * r2.ln() / r2).sqrt();
                self.gauss = Some(f * x1);
                return f * x2;
            }
        }
    }

    /// An integer uniform in [low, high) (`np.random.randint(low, high)` with the default int64
    /// dtype).
    ///
    /// Uses numpy's masked rejection on the span `high - low - 1`: one 32-bit word per attempt
    /// when the span fits in 32 bits, otherwise one 64-bit draw (high word first) per attempt,
    /// as numpy's legacy `randint` does. A span of zero returns `low` without consuming the
    /// stream.
    ///
    /// # Panics
    /// If `high <= low` (numpy raises `ValueError: low >= high`).
    #[track_caller]
    pub fn randint(&mut self, low: i64, high: i64) -> i64 {
        assert!(
            high > low,
            "randint: empty range, low ({low}) must be less than high ({high})"
        );
        // The difference may overflow i64 but is always in [1, 2^64 - 1] as an unsigned value,
        // and the two's-complement wrap gives exactly that.
        let span = high.wrapping_sub(low) as u64 - 1;
        low.wrapping_add(self.bounded(span) as i64)
    }

    /// An integer uniform in [0, max] by masked rejection (numpy's `random_interval`, which
    /// `shuffle`/`permutation` use): draws are masked to the smallest all-ones bit pattern
    /// covering `max` and rejected while above it. 32-bit draws when `max` fits in 32 bits,
    /// 64-bit draws (high word first) otherwise; `max == 0` consumes nothing.
    pub fn bounded(&mut self, max: u64) -> u64 {
        if max == 0 {
            return 0;
        }
        let mut mask = max;
        for shift in [1, 2, 4, 8, 16, 32] {
            mask |= mask >> shift;
        }
        if let Ok(max32) = u32::try_from(max) {
            // The mask of a 32-bit value fits in 32 bits as well.
            let mask32 = mask as u32;
            loop {
                let v = self.next_u32() & mask32;
                if v <= max32 {
                    return u64::from(v);
                }
            }
        }
        loop {
            let v = self.next_u64() & mask;
            if v <= max {
                return v;
            }
        }
    }

    /// A random permutation of `0..n` (`np.random.permutation(n)`): Fisher–Yates from the last
    /// position down, with `j = bounded(i)` for position `i`, exactly as numpy's `shuffle`.
    pub fn permutation(&mut self, n: usize) -> Vec<usize> {
        let mut a: Vec<usize> = (0..n).collect();
        for i in (1..n).rev() {
            // `j <= i < n`, so it fits back into usize.
            let j = self.bounded(i as u64) as usize;
            a.swap(i, j);
        }
        a
    }

    /// Fills `out` with `random_sample` draws in order (C order for an array, as
    /// `np.random.rand(*shape)`).
    pub fn fill_random_sample(&mut self, out: &mut [f64]) {
        self.for_each_random_sample(out.len(), |i, u| out[i] = u);
    }

    /// Fills `out` with `standard_normal` draws in order (C order for an array, as
    /// `np.random.randn(*shape)`); the Gaussian cache carries across calls.
    pub fn fill_standard_normal(&mut self, out: &mut [f64]) {
        for v in out {
            *v = self.standard_normal();
        }
    }

    /// Fills `out` with `randint(low, high)` draws in order (as
    /// `np.random.randint(low, high, size=...)`).
    ///
    /// # Panics
    /// If `high <= low` and `out` is non-empty. An empty `out` accepts any bounds because
    /// numpy does too (`randint(5, 2, size=0)` returns an empty array).
    #[track_caller]
    pub fn fill_randint(&mut self, low: i64, high: i64, out: &mut [i64]) {
        for v in out {
            *v = self.randint(low, high);
        }
    }
}

impl Default for NumpyRng {
    /// A generator seeded with 0. An unseeded numpy draws its state from OS entropy instead;
    /// a deterministic default is more useful for a value type, and the thread's global
    /// generator (see [`with_global_rng`]) is the one that starts from entropy.
    fn default() -> Self {
        Self::new(0)
    }
}

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
mod tests {
    //! Reference values come from numpy 2.4.6 (legacy `np.random`), generated with:
    //!
    //! ```python
    //! import numpy as np
    //! r = np.random
    //! def show(name, xs): print(name, [repr(float(x)) if isinstance(x, (float, np.floating))
    //!                                  else int(x) for x in np.ravel(xs)])
    //! r.seed(0); show("rand0", r.rand(10))
    //! r.seed(0); show("perm100", r.permutation(100)[:10])
    //! r.seed(18); show("randint18", [r.randint(0, 100) for _ in range(9)])
    //! r.seed(0); show("randn0", [r.randn() for _ in range(7)])
    //! r.seed(42); show("randn42", r.randn(3, 5))
    //! r.seed(1); show("randint1", [r.randint(-5, 6) for _ in range(10)])
    //! r.seed(12); show("perm12", r.permutation(10))
    //! r.seed(131072); show("rand131072", r.rand(3))
    //! r.seed(2**32 - 1); show("randmax", r.rand(2))
    //! r.seed(5); show("rand5", r.rand(1))
    //! r.seed(5); show("randint_unit", [r.randint(7, 8), r.rand()])
    //! r.seed(3); show("interleave", [r.randn(), r.rand(), r.randn(), r.rand(), r.randn()])
    //! r.seed(0); a = r.randn(); r.seed(0); show("reseed", [a, r.randn()])
    //! r.seed(0); show("randint40", [r.randint(0, 2**40) for _ in range(5)])
    //! r.seed(7); show("randint_full", [r.randint(-2**63, 2**63 - 1) for _ in range(3)])
    //! r.seed(9); show("fill_randint", r.randint(-3, 1000, size=6))
    //! r.randint(5, 2, size=0)  # empty array, no error; size=3 raises "low >= high"
    //! ```
    //!
    //! `repr` of a Python float round-trips, so the literals below are the exact doubles and
    //! the comparisons are bit-exact.

    use super::*;

    /// Asserts bit-for-bit equality, since the point of the module is exact reproduction.
    fn assert_bits(got: &[f64], want: &[f64]) {
        assert_eq!(got.len(), want.len());
        for (i, (g, w)) in got.iter().zip(want).enumerate() {
            assert_eq!(
                g.to_bits(),
                w.to_bits(),
                "draw {i}: got {g:e}, numpy gives {w:e}\n got: {got:?}\nwant: {want:?}"
            );
        }
    }

    fn samples(seed: u32, n: usize) -> Vec<f64> {
        let mut r = NumpyRng::new(seed);
        (0..n).map(|_| r.random_sample()).collect()
    }

    #[test]
    fn mt19937_matches_the_reference_generator() {
        // C++'s std::mt19937 requires the 10000th output for the default seed 5489 to be
        // 4123659995; this crosses many twists.
        let mut mt = Mt19937::new(5489);
        assert_eq!(mt.next_u32(), 3_499_211_612);
        let last = (1..10_000).map(|_| mt.next_u32()).last().unwrap();
        assert_eq!(last, 4_123_659_995);
    }

    #[test]
    fn random_sample_seed_0() {
        let got = samples(0, 10);
        assert_bits(
            &got,
            &[
                0.5488135039273248,
                0.7151893663724195,
                0.6027633760716439,
                0.5448831829968969,
                0.4236547993389047,
                0.6458941130666561,
                0.4375872112626925,
                0.8917730007820798,
                0.9636627605010293,
                0.3834415188257777,
            ],
        );
        // The course's four-digit check values.
        let course = [
            0.5488, 0.7152, 0.6028, 0.5449, 0.4237, 0.6459, 0.4376, 0.8918, 0.9637, 0.3834,
        ];
        for (g, c) in got.iter().zip(course) {
            assert!((g - c).abs() < 5e-5, "{got:?}");
        }
    }

    #[test]
    fn random_sample_other_seeds() {
        assert_bits(
            &samples(131_072, 3),
            &[0.07041896146252646, 0.364371640325466, 0.2902778397526061],
        );
        assert_bits(
            &samples(u32::MAX, 2),
            &[0.0976320289940138, 0.9123828453026218],
        );
    }

    #[test]
    fn permutations() {
        let mut r = NumpyRng::new(0);
        assert_eq!(
            &r.permutation(100)[..10],
            &[26, 86, 2, 55, 75, 93, 16, 73, 54, 95]
        );
        let mut r = NumpyRng::new(12);
        assert_eq!(r.permutation(10), vec![5, 8, 7, 0, 4, 9, 3, 2, 1, 6]);
        // Degenerate sizes draw nothing.
        let mut r = NumpyRng::new(0);
        assert!(r.permutation(0).is_empty());
        assert_eq!(r.permutation(1), vec![0]);
        assert_bits(&[r.random_sample()], &[0.5488135039273248]);
    }

    #[test]
    fn randint_seed_18_course_values() {
        let mut r = NumpyRng::new(18);
        let ints: Vec<i64> = (0..9).map(|_| r.randint(0, 100)).collect();
        assert_eq!(ints, vec![42, 19, 69, 62, 49, 46, 66, 8, 24]);
        let scaled: Vec<f64> = ints.iter().map(|&v| v as f64 / 20.0).collect();
        assert_eq!(scaled, vec![2.1, 0.95, 3.45, 3.1, 2.45, 2.3, 3.3, 0.4, 1.2]);
    }

    #[test]
    fn randint_negative_low() {
        let mut r = NumpyRng::new(1);
        let got: Vec<i64> = (0..10).map(|_| r.randint(-5, 6)).collect();
        assert_eq!(got, vec![0, 3, 4, 0, -5, -5, -4, 2, 1, 4]);
    }

    #[test]
    fn randint_unit_range_does_not_draw() {
        let mut r = NumpyRng::new(5);
        assert_eq!(r.randint(7, 8), 7);
        // Same value as the first rand() after seed(5): the stream was not advanced.
        assert_bits(&[r.random_sample()], &[0.22199317108973948]);
        assert_eq!(r.bounded(0), 0);
        let mut fresh = NumpyRng::new(5);
        fresh.random_sample();
        assert_eq!(r.next_u32(), fresh.next_u32());
    }

    #[test]
    fn randint_64_bit_ranges() {
        // numpy's legacy randint switches to 64-bit draws (high word first) once the span
        // exceeds 32 bits; these match numpy exactly.
        let mut r = NumpyRng::new(0);
        let got: Vec<i64> = (0..5).map(|_| r.randint(0, 1 << 40)).collect();
        assert_eq!(
            got,
            vec![
                741_280_623_151,
                506_137_267_392,
                291_447_657_211,
                841_157_541_223,
                41_332_891_347
            ]
        );
        let mut r = NumpyRng::new(0);
        let got: Vec<u64> = (0..5).map(|_| r.bounded((1 << 40) - 1)).collect();
        assert_eq!(
            got,
            vec![
                741_280_623_151,
                506_137_267_392,
                291_447_657_211,
                841_157_541_223,
                41_332_891_347
            ]
        );
        // The widest span numpy accepts; the difference overflows i64.
        let mut r = NumpyRng::new(7);
        let got: Vec<i64> = (0..3).map(|_| r.randint(i64::MIN, i64::MAX)).collect();
        assert_eq!(
            got,
            vec![
                -7_815_732_517_915_138_876,
                5_163_590_386_780_219_894,
                -1_136_149_262_272_507_693
            ]
        );
    }

    #[test]
    fn fill_randint_matches_size_argument() {
        let mut r = NumpyRng::new(9);
        let mut out = [0i64; 6];
        r.fill_randint(-3, 1000, &mut out);
        assert_eq!(out, [379, 345, 635, 498, 947, 53]);
    }

    #[test]
    #[should_panic(expected = "low (3) must be less than high (3)")]
    fn randint_empty_range_panics() {
        NumpyRng::new(0).randint(3, 3);
    }

    #[test]
    #[should_panic(expected = "low (5) must be less than high (2)")]
    fn fill_randint_reversed_range_panics() {
        NumpyRng::new(0).fill_randint(5, 2, &mut [0; 3]);
    }

    #[test]
    fn fill_randint_empty_accepts_any_bounds() {
        // numpy: randint(5, 2, size=0) -> array([], dtype=int64), no error.
        NumpyRng::new(0).fill_randint(5, 2, &mut []);
    }

    #[test]
    fn standard_normal_uses_the_cache() {
        let mut r = NumpyRng::new(0);
        let got: Vec<f64> = (0..7).map(|_| r.standard_normal()).collect();
        assert_bits(
            &got,
            &[
                1.764052345967664,
                0.4001572083672233,
                0.9787379841057392,
                2.240893199201458,
                1.8675579901499675,
                -0.977277879876411,
                0.9500884175255894,
            ],
        );
    }

    #[test]
    fn fill_standard_normal_is_c_order_randn() {
        let mut r = NumpyRng::new(42);
        let mut out = [0.0; 15];
        r.fill_standard_normal(&mut out);
        assert_bits(
            &out,
            &[
                0.4967141530112327,
                -0.13826430117118466,
                0.6476885381006925,
                1.5230298564080254,
                -0.23415337472333597,
                -0.23413695694918055,
                1.5792128155073915,
                0.7674347291529088,
                -0.4694743859349521,
                0.5425600435859647,
                -0.46341769281246226,
                -0.46572975357025687,
                0.24196227156603412,
                -1.913280244657798,
                -1.7249178325130328,
            ],
        );
    }

    #[test]
    fn gauss_cache_survives_a_uniform_draw() {
        let mut r = NumpyRng::new(3);
        let got = [
            r.standard_normal(),
            r.random_sample(),
            r.standard_normal(),
            r.random_sample(),
            r.standard_normal(),
        ];
        assert_bits(
            &got,
            &[
                1.7886284734303186,
                0.2909047389129443,
                0.43650985051198943,
                0.510827605197663,
                -0.27738820251439905,
            ],
        );
    }

    #[test]
    fn reseeding_clears_the_gauss_cache() {
        let mut r = NumpyRng::new(0);
        let first = r.standard_normal();
        r.seed(0);
        assert_bits(&[first, r.standard_normal()], &[1.764052345967664; 2]);
    }

    /// The twist as the recurrence states it (indices mod N, a branch on the odd bit).
    fn reference_twist(state: &mut [u32; N]) {
        for i in 0..N {
            let y = (state[i] & UPPER_MASK) | (state[(i + 1) % N] & LOWER_MASK);
            let mut next = state[(i + M) % N] ^ (y >> 1);
            if y & 1 != 0 {
                next ^= MATRIX_A;
            }
            state[i] = next;
        }
    }

    #[test]
    fn the_twist_matches_the_recurrence_over_several_blocks() {
        for seed in [0u32, 1, 42, 0xdead_beef] {
            let mut fast = Mt19937::new(seed);
            let mut reference = fast.state;
            for _ in 0..4 {
                fast.twist();
                reference_twist(&mut reference);
                assert_eq!(fast.state, reference, "seed {seed}");
            }
        }
    }

    #[test]
    fn bulk_draws_equal_single_draws_across_blocks_and_odd_offsets() {
        for skip in [0usize, 1, 623] {
            let mut single = NumpyRng::new(5);
            let mut bulk = single.clone();
            for _ in 0..skip {
                single.next_u32();
                bulk.next_u32();
            }
            let expected: Vec<f64> = (0..1000).map(|_| single.random_sample()).collect();
            let mut got = vec![0.0; 1000];
            bulk.fill_random_sample(&mut got);
            assert_bits(&got, &expected);
            assert_eq!(bulk.next_u32(), single.next_u32(), "streams stay aligned");
            let mut mask = vec![0.0f32; 700];
            bulk.fill_bernoulli(&mut mask, 0.3);
            let want: Vec<f32> = (0..700)
                .map(|_| {
                    if single.random_sample() <= 0.3 {
                        1.0
                    } else {
                        0.0
                    }
                })
                .collect();
            assert_eq!(mask, want);
        }
    }

    #[test]
    fn fill_random_sample_is_c_order_rand() {
        let mut r = NumpyRng::new(0);
        let mut out = [0.0; 10];
        r.fill_random_sample(&mut out);
        assert_bits(&out, &samples(0, 10));
    }

    #[test]
    fn default_is_seed_zero() {
        let mut r = NumpyRng::default();
        assert_bits(&[r.random_sample()], &[0.5488135039273248]);
    }

    #[test]
    fn global_stream_is_seeded_per_thread() {
        manual_seed(0);
        let a = with_global_rng(NumpyRng::random_sample);
        // Another thread reseeding and drawing must not disturb this thread's stream.
        std::thread::spawn(|| {
            manual_seed(12);
            assert_eq!(permutation(10), vec![5, 8, 7, 0, 4, 9, 3, 2, 1, 6]);
        })
        .join()
        .unwrap();
        let b = with_global_rng(NumpyRng::random_sample);
        assert_bits(&[a, b], &[0.5488135039273248, 0.7151893663724195]);
        manual_seed(u64::from(u32::MAX));
        assert_bits(
            &[with_global_rng(NumpyRng::random_sample)],
            &[0.0976320289940138],
        );
    }

    #[test]
    fn unseeded_threads_get_different_streams() {
        let draw = || {
            std::thread::spawn(|| with_global_rng(NumpyRng::next_u64))
                .join()
                .unwrap()
        };
        // A 2^-64 chance of a false failure.
        assert_ne!(draw(), draw());
    }

    #[test]
    #[should_panic(expected = "seed 4294967296 is out of range")]
    fn manual_seed_rejects_wide_seeds() {
        manual_seed(1 << 32);
    }
}
