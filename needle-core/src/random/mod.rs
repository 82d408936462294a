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
mod tests;
