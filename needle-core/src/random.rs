//! numpy's legacy global random generator, reproduced draw for draw.
//!
//! The course's seeded results (init, dropout masks, shuffles) come from `np.random.seed` and
//! the legacy `RandomState` draws; implementing the same MT19937 stream and the same draw
//! algorithms lets needle-rs reproduce them number for number.

use std::cell::RefCell;

const N: usize = 624;
const M: usize = 397;

/// The Mersenne Twister MT19937 with numpy's `init_genrand` seeding.
#[derive(Clone)]
pub struct Mt19937 {
    state: [u32; N],
    index: usize,
}

impl Mt19937 {
    /// A generator seeded like `np.random.seed(seed)`.
    pub fn new(seed: u32) -> Mt19937 {
        let mut state = [0u32; N];
        state[0] = seed;
        for i in 1..N {
            state[i] = 1_812_433_253u32
                .wrapping_mul(state[i - 1] ^ (state[i - 1] >> 30))
                .wrapping_add(i as u32);
        }
        Mt19937 { state, index: N }
    }

    fn twist(&mut self) {
        for i in 0..N {
            let y = (self.state[i] & 0x8000_0000) | (self.state[(i + 1) % N] & 0x7fff_ffff);
            let mut next = self.state[(i + M) % N] ^ (y >> 1);
            if y & 1 != 0 {
                next ^= 0x9908_b0df;
            }
            self.state[i] = next;
        }
        self.index = 0;
    }

    /// The next 32 random bits.
    pub fn next_u32(&mut self) -> u32 {
        if self.index >= N {
            self.twist();
        }
        let mut y = self.state[self.index];
        self.index += 1;
        y ^= y >> 11;
        y ^= (y << 7) & 0x9d2c_5680;
        y ^= (y << 15) & 0xefc6_0000;
        y ^ (y >> 18)
    }
}

/// numpy's legacy `RandomState`: MT19937 plus the cached second Gaussian of the polar method.
#[derive(Clone)]
pub struct NumpyRng {
    mt: Mt19937,
    gauss: Option<f64>,
}

impl NumpyRng {
    /// A generator seeded like `np.random.seed(seed)`.
    pub fn new(seed: u32) -> NumpyRng {
        NumpyRng {
            mt: Mt19937::new(seed),
            gauss: None,
        }
    }

    /// Reseeds; also forgets a cached Gaussian, as numpy does.
    pub fn seed(&mut self, seed: u32) {
        *self = NumpyRng::new(seed);
    }

    /// The next 32 random bits.
    pub fn next_u32(&mut self) -> u32 {
        self.mt.next_u32()
    }

    /// A double in [0, 1) with 53 random bits (`random_sample`).
    pub fn random_sample(&mut self) -> f64 {
        let a = (self.next_u32() >> 5) as f64;
        let b = (self.next_u32() >> 6) as f64;
        (a * 67_108_864.0 + b) / 9_007_199_254_740_992.0
    }

    /// A standard normal draw (legacy polar Box–Muller; every second value is the cached one).
    pub fn standard_normal(&mut self) -> f64 {
        if let Some(g) = self.gauss.take() {
            return g;
        }
        loop {
            let x1 = 2.0 * self.random_sample() - 1.0;
            let x2 = 2.0 * self.random_sample() - 1.0;
            let r2 = x1 * x1 + x2 * x2;
            if r2 < 1.0 && r2 != 0.0 {
                let f = (-2.0 * r2.ln() / r2).sqrt();
                self.gauss = Some(f * x1);
                return f * x2;
            }
        }
    }

    /// An integer uniform in [0, max] by masked rejection (numpy's `random_interval`); 64-bit
    /// draws (high word first) when `max` needs more than 32 bits.
    pub fn bounded(&mut self, max: u64) -> u64 {
        if max == 0 {
            return 0;
        }
        let mut mask = max;
        for shift in [1, 2, 4, 8, 16, 32] {
            mask |= mask >> shift;
        }
        loop {
            let v = if max <= u32::MAX as u64 {
                (self.next_u32() as u64) & mask
            } else {
                (((self.next_u32() as u64) << 32) | self.next_u32() as u64) & mask
            };
            if v <= max {
                return v;
            }
        }
    }

    /// An integer uniform in [low, high) (legacy `randint`). Panics when the range is empty.
    pub fn randint(&mut self, low: i64, high: i64) -> i64 {
        assert!(high > low, "randint: empty range [{low}, {high})");
        let range = (high as i128 - low as i128 - 1) as u64;
        (low as i128 + self.bounded(range) as i128) as i64
    }

    /// A random permutation of 0..n (Fisher–Yates from the end, as `np.random.permutation`).
    pub fn permutation(&mut self, n: usize) -> Vec<usize> {
        let mut a: Vec<usize> = (0..n).collect();
        for i in (1..n).rev() {
            let j = self.bounded(i as u64) as usize;
            a.swap(i, j);
        }
        a
    }

    /// Fills `out` with `random_sample` draws in order (C order for arrays).
    pub fn fill_random_sample(&mut self, out: &mut [f64]) {
        for v in out {
            *v = self.random_sample();
        }
    }

    /// Fills `out` with standard normal draws in order.
    pub fn fill_standard_normal(&mut self, out: &mut [f64]) {
        for v in out {
            *v = self.standard_normal();
        }
    }

    /// Fills `out` with `randint(low, high)` draws in order.
    pub fn fill_randint(&mut self, low: i64, high: i64, out: &mut [i64]) {
        for v in out {
            *v = self.randint(low, high);
        }
    }
}

impl Default for NumpyRng {
    /// Seeded with 0 (deterministic; the thread's global generator is seeded from entropy).
    fn default() -> Self {
        NumpyRng::new(0)
    }
}

fn entropy_seed() -> u32 {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u128(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0),
    );
    h.finish() as u32
}

thread_local! {
    /// One global stream per thread, like numpy's module-level state (a program's training
    /// loop is one thread; parallel tests each get their own stream).
    static GLOBAL: RefCell<NumpyRng> = RefCell::new(NumpyRng::new(entropy_seed()));
}

/// Reseeds this thread's global generator, like `np.random.seed(seed)`. Panics when the seed
/// does not fit in 32 bits (numpy rejects it too).
pub fn manual_seed(seed: u64) {
    let seed = u32::try_from(seed)
        .unwrap_or_else(|_| panic!("manual_seed: seed {seed} must be below 2^32"));
    GLOBAL.with(|g| g.borrow_mut().seed(seed));
}

/// A random permutation of 0..n from the global stream (`np.random.permutation(n)`).
///
/// ```
/// needle_core::manual_seed(0);
/// assert_eq!(&needle_core::random::permutation(100)[..3], &[26, 86, 2]);
/// ```
pub fn permutation(n: usize) -> Vec<usize> {
    with_global_rng(|r| r.permutation(n))
}

/// Runs `f` with this thread's global generator.
pub fn with_global_rng<R>(f: impl FnOnce(&mut NumpyRng) -> R) -> R {
    GLOBAL.with(|g| f(&mut g.borrow_mut()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn course_check_values() {
        let mut r = NumpyRng::new(0);
        let got: Vec<f64> = (0..10).map(|_| r.random_sample()).collect();
        let want = [
            0.5488, 0.7152, 0.6028, 0.5449, 0.4237, 0.6459, 0.4376, 0.8918, 0.9637, 0.3834,
        ];
        for (g, w) in got.iter().zip(want) {
            assert!((g - w).abs() < 5e-5, "{got:?}");
        }
        let mut r = NumpyRng::new(0);
        assert_eq!(
            &r.permutation(100)[..10],
            &[26, 86, 2, 55, 75, 93, 16, 73, 54, 95]
        );
        let mut r = NumpyRng::new(18);
        let ints: Vec<i64> = (0..9).map(|_| r.randint(0, 100)).collect();
        assert_eq!(ints, vec![42, 19, 69, 62, 49, 46, 66, 8, 24]);
    }
}
