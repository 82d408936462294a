//! numpy's legacy `RandomState` draws (`rand`, `randn`, `randint`, `permutation`) over the
//! MT19937 stream, quirks included.

use super::mt19937::{temper, Mt19937};

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
    pub(super) fn next_u64(&mut self) -> u64 {
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
    /// generator (see [`with_global_rng`](super::with_global_rng)) is the one that starts from entropy.
    fn default() -> Self {
        Self::new(0)
    }
}
