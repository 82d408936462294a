//! The 32-bit Mersenne Twister, the word stream under numpy's legacy generator.

/// Number of 32-bit words in the MT19937 state.
pub(super) const N: usize = 624;
/// Offset of the word mixed into each twisted word.
pub(super) const M: usize = 397;
pub(super) const MATRIX_A: u32 = 0x9908_b0df;
pub(super) const UPPER_MASK: u32 = 0x8000_0000;
pub(super) const LOWER_MASK: u32 = 0x7fff_ffff;

/// The 32-bit Mersenne Twister (MT19937), seeded with `init_genrand` exactly as
/// `np.random.seed(seed)` seeds its legacy state.
#[derive(Clone)]
pub struct Mt19937 {
    pub(super) state: [u32; N],
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
    pub(super) fn twist(&mut self) {
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
    pub(super) fn block(&mut self) -> &[u32] {
        if self.index >= N {
            self.twist();
        }
        &self.state[self.index..]
    }

    pub(super) fn consume(&mut self, words: usize) {
        self.index += words;
    }
}

/// MT19937's output transform of a state word.
#[inline]
pub(super) fn temper(mut y: u32) -> u32 {
    y ^= y >> 11;
    y ^= (y << 7) & 0x9d2c_5680;
    y ^= (y << 15) & 0xefc6_0000;
    y ^ (y >> 18)
}
