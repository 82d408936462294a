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

use super::mt19937::{LOWER_MASK, M, MATRIX_A, N, UPPER_MASK};
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
