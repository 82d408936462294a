//! Sums equal numpy's bit for bit on the same f32 data, in every mode (eager, lazy, JIT,
//! checked JIT): pairwise over contiguous runs, slice by slice over outer axes (see
//! `needle_core::interp::pairwise`).
//!
//! The expected values were computed by numpy 2.4.6 (`np.sum`, `np.mean` on float32 arrays) on
//! the data of [`data`], generated in Python by the same recurrence:
//!
//! ```text
//! def data(n, seed):
//!     s, out = seed, np.empty(n, np.float32)
//!     for i in range(n):
//!         s = (s * 6364136223846793005 + 1442695040888963407) % 2**64
//!         r = s >> 33
//!         out[i] = np.float32((r % 2001) - 1000) * np.float32(2.0 ** ((r >> 11) % 41 - 20))
//!     return out
//! # contiguous: x = data(n, n); np.sum(x), np.mean(x)
//! # axes: case i (in the order below): x = data(prod(shape), 1000 + i).reshape(shape),
//! #       transposed as the case says and made contiguous (np.ascontiguousarray), then
//! #       np.sum(x, axis=axes); np.mean(x, axis=axes) == np.sum(...) / np.float32(count) there.
//! ```
//!
//! Values range over 2^-20 .. 1000·2^20, so f32 accumulation rounds often: 168 of the 307
//! contiguous sums (and some of every axis case) differ from the f64-accumulated sums needle
//! computed before.

mod common;

use common::in_both_modes;
use needle::Tensor;

/// The test data: integers in [-1000, 1000] times powers of two in [2^-20, 2^20] (exact in f32).
fn data(n: usize, seed: u64) -> Vec<f32> {
    let mut s = seed;
    (0..n)
        .map(|_| {
            s = s
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            let r = s >> 33;
            let m = (r % 2001) as i32 - 1000;
            let e = ((r >> 11) % 41) as i32 - 20;
            m as f32 * f32::from_bits(((e + 127) as u32) << 23)
        })
        .collect()
}

#[track_caller]
fn assert_bits(what: &str, got: &[f32], expected: &[u32]) {
    let got: Vec<u32> = got.iter().map(|v| v.to_bits()).collect();
    assert_eq!(got, expected, "{what}: got {:?}", f32s(&got));
}

fn f32s(bits: &[u32]) -> Vec<f32> {
    bits.iter().map(|&b| f32::from_bits(b)).collect()
}

const LENGTHS: [usize; 307] = {
    let mut l = [0; 307];
    let mut i = 0;
    while i < 300 {
        l[i] = i + 1;
        i += 1;
    }
    let long = [1000, 4096, 8191, 8192, 8193, 10000, 100000];
    while i < 307 {
        l[i] = long[i - 300];
        i += 1;
    }
    l
};

#[test]
fn contiguous_sums_of_every_length_match_numpy() {
    for (k, &n) in LENGTHS.iter().enumerate() {
        let x = data(n, n as u64);
        let out = in_both_modes(|| {
            let t = Tensor::from_vec(x.clone(), &[n]);
            // Doubling is exact, so the fused producer's sum is exactly twice numpy's.
            vec![t.sum_all(), (&t * 2.0).sum_all(), t.mean_all()]
        });
        let what = format!("length {n}");
        assert_bits(&what, &out[0], &[SUMS[k]]);
        assert_eq!(out[1][0], 2.0 * f32::from_bits(SUMS[k]), "{what}, doubled");
        assert_bits(&format!("{what}, mean"), &out[2], &[MEANS[k]]);
    }
    // The same data as 2-D arrays: the two reduced axes are one run, as in numpy.
    for (n, shape) in [(1000, [8, 125]), (8192, [64, 128]), (100000, [250, 400])] {
        let k = LENGTHS
            .iter()
            .position(|&l| l == n)
            .expect("a tested length");
        let x = data(n, n as u64);
        let out = in_both_modes(|| vec![Tensor::from_vec(x.clone(), &shape).sum_all()]);
        assert_bits(&format!("{shape:?}"), &out[0], &[SUMS[k]]);
    }
    let f64_differs = LENGTHS
        .iter()
        .zip(SUMS)
        .filter(|&(&n, s)| {
            let wide: f64 = data(n, n as u64).iter().map(|&v| f64::from(v)).sum();
            (wide as f32).to_bits() != s
        })
        .count();
    assert_eq!(
        f64_differs, 168,
        "lengths whose f64-accumulated sum differs from numpy's"
    );
}

/// Sums (and means) over `axes` of `data(numel, seed)` shaped `shape`, then permuted by `perm`
/// (a strided view: needle sums it in logical order, as numpy sums a contiguous copy).
#[track_caller]
fn check_axes(
    shape: &[usize],
    perm: Option<&[usize]>,
    axes: &[isize],
    seed: u64,
    expected: &[u32],
) {
    let x = data(shape.iter().product(), seed);
    let view = || {
        let t = Tensor::from_vec(x.clone(), shape);
        perm.map_or(t.clone(), |p| t.permute(p))
    };
    let out = in_both_modes(|| {
        let t = view();
        let doubled = &t * 2.0;
        vec![
            t.sum(axes, false),
            doubled.sum(axes, false),
            // Read by the test too: the sum's loop stores it as it passes.
            doubled.clone(),
            t.mean(axes, false),
            // A producer calling a host function per element, compared across modes.
            (&t * 1e-6).sigmoid().sum(axes, false),
        ]
    });
    let what = format!("{shape:?} permuted {perm:?} over {axes:?}");
    assert_bits(&what, &out[0], expected);
    let doubled: Vec<f32> = f32s(expected).iter().map(|v| 2.0 * v).collect();
    assert_eq!(out[1], doubled, "{what}, doubled");
    let t = view();
    let count: usize = axes.iter().map(|&a| t.shape()[a as usize]).product();
    let means: Vec<f32> = f32s(expected).iter().map(|v| v / count as f32).collect();
    assert_eq!(out[3], means, "{what}, mean");
}

#[test]
fn sums_over_an_outer_axis_add_rows_in_order_like_numpy() {
    check_axes(&[50, 7], None, &[0], 1000, &COLUMNS_50X7);
    check_axes(&[130, 12], None, &[0], 1001, &COLUMNS_130X12);
    check_axes(&[128, 10], None, &[0], 1002, &COLUMNS_128X10);
    check_axes(&[1000, 3], None, &[0], 1003, &COLUMNS_1000X3);
    check_axes(&[5, 300, 3], None, &[1], 1004, &MIDDLE_5X300X3);
}

#[test]
fn sums_over_inner_axes_add_pairwise_runs_like_numpy() {
    check_axes(&[5, 40, 3], None, &[0, 2], 1005, &OUTER_INNER_5X40X3);
    check_axes(&[4, 5, 6], None, &[1, 2], 1006, &TWO_INNER_4X5X6);
    check_axes(&[2, 3, 4, 5], None, &[1, 3], 1007, &SECOND_FOURTH_2X3X4X5);
    check_axes(&[6, 10], None, &[1], 1008, &ROWS_6X10);
    check_axes(&[16, 100], None, &[1], 1009, &ROWS_16X100);
    check_axes(&[40, 200], None, &[1], 1010, &ROWS_40X200);
    check_axes(&[7, 1000], None, &[1], 1011, &ROWS_7X1000);
    check_axes(&[3, 100, 1], None, &[1], 1012, &RUN_BEFORE_SIZE_ONE_3X100X1);
    check_axes(&[200, 1], None, &[0], 1013, &COLUMN_200X1);
}

#[test]
fn strided_views_sum_in_logical_order_like_numpy_on_a_contiguous_copy() {
    // Rows of 300 with stride 20.
    check_axes(&[300, 20], Some(&[1, 0]), &[1], 1014, &TRANSPOSED_20X300);
    // A run over two axes that no stride walks as one (gathered in the JIT).
    check_axes(
        &[4, 6, 50],
        Some(&[0, 2, 1]),
        &[1, 2],
        1015,
        &PERMUTED_4X50X6,
    );
}

#[test]
fn a_sum_of_negative_zeros_is_positive_zero_like_numpy() {
    // np.sum(np.array([-0.0], np.float32)) and np.sum(np.full((3, 9), -0.0, np.float32),
    // axis=1) are +0.0: every output starts at +0.0.
    let out = in_both_modes(|| {
        vec![
            Tensor::from_vec(vec![-0.0], &[1]).sum_all(),
            Tensor::from_vec(vec![-0.0; 27], &[3, 9]).sum(&[1], false),
            Tensor::from_vec(vec![-0.0; 27], &[9, 3]).sum(&[0], false),
        ]
    });
    assert_bits("[-0.0]", &out[0], &[0]);
    assert_bits("rows of -0.0", &out[1], &[0; 3]);
    assert_bits("columns of -0.0", &out[2], &[0; 3]);
}

const SUMS: [u32; 307] = [
    0xc5500000, 0x4d930000, 0x41fa5040, 0xc989b080, 0xcdc0b7b7, 0x4a0a07ad, 0x4cf49b98, 0xc8a6baf2,
    0x4e6f672c, 0xcce57e4b, 0xcd467e52, 0xcc14da81, 0x4ca0090b, 0x4b8700fc, 0xcdb9327c, 0xce31dcb3,
    0xce329d57, 0xcd9a7b94, 0xceaebe94, 0x4d996f94, 0xce0c0886, 0xce73dda5, 0xce3b8d3a, 0x4ddd494c,
    0xcd3f35f0, 0x4e820e41, 0x4dc9fc39, 0x4de7db65, 0xcc6ac8ed, 0xccda8385, 0x4dd7f679, 0x4cc1a9c8,
    0xcdabd4de, 0xcd32c3b7, 0xcd434e94, 0xccac4d5d, 0xcd4c5bf0, 0x4db0f59a, 0x4e197774, 0xccfffd9e,
    0x4e6a4cfb, 0xcd518800, 0xce159823, 0x4db6e09c, 0x4d14dcaa, 0xcdd92f6a, 0x4e845227, 0x4de3469c,
    0x4e02d8cd, 0xcd2963ba, 0x4bed3bbe, 0xce563ce6, 0xceef4b46, 0x4dbb57b6, 0xcd839e69, 0x4d1c344c,
    0x4cfc2f23, 0x4d6e8c79, 0x4d7a9022, 0xcdd11e8c, 0xccd987ad, 0x4db5e4d8, 0x4bd873ab, 0xcd497406,
    0xcd94598a, 0xcc90549c, 0xce6e8030, 0xcd21027c, 0xcd5ca6ad, 0x4f269ee2, 0x4dbea94f, 0x4e2602a0,
    0xcc4fffe0, 0x4de9ab7c, 0x4e8bdc5a, 0xcd944b67, 0xce10ba22, 0xce9a65fe, 0x4dc8fc51, 0x4d7fd6cc,
    0xccab12a0, 0x4de9aa09, 0x4f2bb22a, 0x4d436e44, 0x4b00c18c, 0xce63f1c2, 0xcdb50250, 0x4e32b6b2,
    0x4e9e9a40, 0x4d951cf2, 0xce06a41c, 0xcde4764a, 0x4dd589ae, 0x4dc8007a, 0x4dc1e629, 0x4e95761a,
    0x4e2ba9a7, 0xced5a2f2, 0x4e50a31d, 0xcedcf028, 0xce874a13, 0x4ef22da9, 0xce376533, 0x4ca01426,
    0xca902940, 0xce861ffe, 0xce3a2011, 0x4e833185, 0x4e88de29, 0xce3bb5d2, 0x4e2cb7e0, 0xce43d280,
    0x4dfc67e0, 0x4deeccc0, 0x4e50f2c6, 0x4e97d898, 0xce9e5440, 0xcd401005, 0x4db18aa7, 0xcf18a09d,
    0xcdf3a73e, 0x4e6d3a60, 0xce39eab2, 0x4ef74961, 0xce49d14a, 0x4e210873, 0x4e8b88c4, 0xceca9f35,
    0xce49a002, 0x4f947659, 0xce8031ee, 0xce7766a8, 0x4e9361f8, 0x4e734117, 0xcf1239a5, 0x4e685111,
    0xcf3d1c5d, 0xcdcc1ee7, 0x4ca10c50, 0x4e03a041, 0x4e951088, 0xcf09d8e3, 0x4e56623c, 0xcd4fd669,
    0x4ef96e69, 0xce597fcc, 0xce43a4b6, 0xce4f2e6b, 0xce8affec, 0xcf14df41, 0xcf0fc967, 0xcf01db48,
    0xcb574b20, 0x4eb5f13a, 0xcef18506, 0xce13bbe8, 0xce0c3d20, 0xce1bcf6d, 0xcf01d0c6, 0x4e2c8bb1,
    0xced5d351, 0x4da31e64, 0xcd4c9816, 0x4e494c13, 0xce274cc2, 0xcd871c7e, 0xce1a6177, 0xce9c1806,
    0xce93f512, 0x4dec69e4, 0xce91824c, 0x4e2547af, 0x4bd79d90, 0xcf29647a, 0x4e481566, 0xcea10018,
    0x4ecdf236, 0x4e4926a5, 0xce58fee4, 0xce3a3658, 0x4ef0d924, 0xce89d3cf, 0xceb14570, 0x4e828c62,
    0x4dfd6c74, 0xcebe1b71, 0xceded574, 0xce4d2df0, 0xce55515c, 0x4dbc8b98, 0xcecd9ede, 0xcde57600,
    0xcedf32a6, 0x4f55072d, 0x4d80a9d6, 0xceeb7a8c, 0xcdcdfdc9, 0xce5d9409, 0xcf2018c8, 0xcf091a7c,
    0xcef91ffd, 0x4ee14fc4, 0xce29edb4, 0x4e358516, 0xcf130ac6, 0xcce8a390, 0xce59aadd, 0xcf29a4f1,
    0x4e1e07ff, 0xccde1788, 0xce1266af, 0xcef8a3fa, 0xcf059950, 0x4e0b2af6, 0xcf1e46fc, 0xce9c31c0,
    0x4e41789c, 0xcefd0241, 0xcd375186, 0x4ea28069, 0x4e65999b, 0x4e5eb23e, 0x4f0d8db0, 0x4e38f061,
    0x4f38e5be, 0x4ed6a97a, 0xce73b863, 0x4e69abda, 0x4edd0eb6, 0xce9929c7, 0xceba9754, 0xcc8d63ac,
    0xcfad4fe8, 0x4f09bede, 0xccaa1c92, 0x4f2fa7a1, 0xce93e9c5, 0x4dd5d092, 0xcd30dec0, 0x4ea568b4,
    0x4f084e18, 0x4e6b6888, 0xce75a726, 0xce9f39be, 0x4f30ff10, 0xce7513d1, 0x4dfc5fed, 0x4e6b0cc2,
    0xcee25c32, 0x4ea0dab3, 0xce1be021, 0x4e0a93c6, 0x4e8ab222, 0xcdbdc8de, 0xcf12e408, 0x4e02fbba,
    0xcd62d49c, 0x4eb313a6, 0xced2b63a, 0xce9d2517, 0x4f3c2ca0, 0xcc7b8d40, 0x4f87b5a8, 0xcf084934,
    0x4eb87406, 0x4e040674, 0xce40af58, 0x4e343dda, 0xcea725ac, 0xce8d3ea5, 0xce75168c, 0xce215b7d,
    0x4e63b91d, 0x4e93aa6a, 0x4eb5089c, 0x4d661c48, 0x4ea808f3, 0x4dc9900b, 0x4ed15ca5, 0x4f52fb02,
    0xce4493b8, 0xcea5a26c, 0xcef092f9, 0xced23c7e, 0xcd968018, 0x4eeac2b5, 0xce9c9196, 0xcdf469f1,
    0xcde45d9a, 0x4e8125f2, 0x4e4efac6, 0x4d261056, 0x4f817130, 0x4e12be86, 0xce93f52e, 0xce256530,
    0xcf200a64, 0xce8bff58, 0xce437b65, 0x4eaacc94, 0x4e8d75b2, 0x4fd37c6d, 0xcf54b7e4, 0xcf22f52c,
    0x4f3a2462, 0xcf6d6500, 0xd12b5319,
];
const MEANS: [u32; 307] = [
    0xc5500000, 0x4d130000, 0x4126e02b, 0xc889b080, 0xcc9a2c92, 0x48b80a3c, 0x4b8bc6a0, 0xc726baf2,
    0x4cd4cd7c, 0xcb37983c, 0xcb905bdf, 0xca4678ac, 0x4ac4f770, 0x499a4a45, 0xcbc58b2f, 0xcc31dcb3,
    0xcc281b9d, 0xcb895167, 0xcc932739, 0x4b757f53, 0xcbd56252, 0xcc315b61, 0xcc027881, 0x4b938633,
    0xcaf4bfec, 0x4c20118b, 0x4b6f63d2, 0x4b847d5e, 0xca018957, 0xca6914d2, 0x4b5eede8, 0x4a41a9c8,
    0xcb269fdf, 0xcaa83fbb, 0xcab290fc, 0xca192853, 0xcab0be37, 0x4b1504b8, 0x4b7bd7b8, 0xca4ccae5,
    0x4bb6de6c, 0xca9fa492, 0xcb5ea6e7, 0x4b050071, 0x4a53b6fd, 0xcb1715da, 0x4bb42e81, 0x4b178468,
    0x4b2ae6ec, 0xca58d192, 0x4914da31, 0xcb83d6b5, 0xcc107abb, 0x4ade0924, 0xca99280a, 0x4a3284e9,
    0x4a0d93ba, 0x4a839cf3, 0x4a87e60a, 0xcadf0f84, 0xc9e43a6a, 0x4abbc2ef, 0x48dbe338, 0xca497406,
    0xca921145, 0xc98bf4f4, 0xcb63d254, 0xca1789de, 0xca4ca970, 0x4c1856c0, 0x4aabdd20, 0x4b13908e,
    0xc9365b12, 0x4aca17c5, 0x4b6eb218, 0xca79c25d, 0xcaf095d5, 0xcb7d5f2b, 0x4aa2d2e4, 0x4a4cabd6,
    0xc9872b29, 0x4ab65f3f, 0x4c04645e, 0x4a14e64c, 0x47c1e436, 0xcb29a20d, 0xca8527f4, 0x4b01f93c,
    0x4b641a3f, 0x4a541269, 0xcabd629e, 0xca9eee1d, 0x4a92f364, 0x4a882be6, 0x4a82a072, 0x4b474823,
    0x4ae28624, 0xcb8b8489, 0x4b06e065, 0xcb8d6680, 0xcb2b74b0, 0x4b97f47e, 0xcae3e8a3, 0x4945051b,
    0xc72fbd42, 0xcb21f655, 0xcadea78e, 0x4b1b7d0f, 0x4b20b9bb, 0xcada6d2c, 0x4ac72bad, 0xcadfcc00,
    0x4a8ef49a, 0x4a861024, 0x4ae8918e, 0x4b278de6, 0xcb2d36f9, 0xc9d056cd, 0x4a3ef819, 0xcba2cd74,
    0xca80dfdd, 0x4af8e51d, 0xcac17970, 0x4b7f437d, 0xcacea942, 0x4aa396ce, 0x4b0ca208, 0xcb4a9f35,
    0xcac80fe2, 0x4c122da2, 0xcafa84c0, 0xcaefe76d, 0x4b0dd78d, 0x4ae85cbe, 0xcb8aa4a4, 0x4adaa6a7,
    0xcbb0affd, 0xca3d5451, 0x49144da4, 0x4a70b002, 0x4b07522f, 0xcb788367, 0x4abfe55b, 0xc9b8be96,
    0x4b5c3008, 0xcabeaf2a, 0xcaaa5b2d, 0xcab32f10, 0xcaeed17a, 0xcb7e1335, 0xcb73c558, 0xcb5ab4af,
    0xc7b41d63, 0x4b17398a, 0xcb4772ce, 0xca726f70, 0xca64ab6a, 0xca7c73ba, 0xcb5102db, 0x4a8a095a,
    0xcb29ff75, 0x4a00e249, 0xc9a0a9b0, 0x4a9d1c28, 0xca81c8bc, 0xc9d05d4a, 0xca6ca7cd, 0xcaeddb77,
    0xcae01feb, 0x4a32016c, 0xcad9d687, 0x4a75ff87, 0x481f87d1, 0xcb79389c, 0x4a9258cb, 0xcaea2eaf,
    0x4b14eecc, 0x4a90a5db, 0xca9b2b8b, 0xca846ae9, 0x4b2a52d7, 0xcac1ddf9, 0xcaf7fc6a, 0x4ab5a1ed,
    0x4a2f577e, 0xcb02d393, 0xcb188728, 0xca8bb257, 0xca90781e, 0x49fe0a3b, 0xcb09cc4f, 0xca18f955,
    0xcb140710, 0x4b8c8df9, 0x49a8e977, 0xcb19c832, 0xca05d793, 0xca8f3e15, 0xcb4df424, 0xcb2f7e0f,
    0xcb1ea591, 0x4b0ec58e, 0xca564b4a, 0x4a63ca26, 0xcb379f90, 0xc9108d66, 0xca8698a6, 0xcb50cb01,
    0x4a4191c2, 0xc9075ecd, 0xca319fc5, 0xcb161f62, 0xcb2091ce, 0x4a267b2b, 0xcb3c75dc, 0xcab91e85,
    0x4a643e11, 0xcb148e3e, 0xc9564a41, 0x4abd17c0, 0x4a84fb23, 0x4a8066c5, 0x4b228037, 0x4a535bdd,
    0x4b525f48, 0x4af32830, 0xca896d9c, 0x4a832f13, 0x4af71efa, 0xcaaa7a30, 0xcacec8f4, 0xc89c040d,
    0xcbbe6b92, 0x4b16b22e, 0xc8b95025, 0x4b3e8a72, 0xca9fc56c, 0x49e5fc50, 0xc93d736a, 0x4ab06faf,
    0x4b10c9ed, 0x4a7906e9, 0xca8165be, 0xcaa70e6b, 0x4b38f170, 0xca7f0a37, 0x4a02c908, 0x4a72a1d1,
    0xcae8b943, 0x4aa4b6fd, 0xca1efb08, 0x4a0cc6e2, 0x4a8c5727, 0xc9bf476d, 0xcb13777f, 0x4a02fbba,
    0xc961f2a9, 0x4ab1b045, 0xcad0456a, 0xca9aba2e, 0x4b3891c7, 0xc875ca81, 0x4b8418f9, 0xcb0427f4,
    0x4ab23053, 0x49fe1fab, 0xca38bf22, 0x4a2c2bcc, 0xca9f11c5, 0xca85ebc0, 0xca6785b6, 0xca17dda3,
    0x4a558ae4, 0x4a89f70b, 0x4aa8869e, 0x49556f91, 0x4a9b4bbd, 0x49b99c96, 0x4ac01a48, 0x4b40e57e,
    0xca331685, 0xca965cfb, 0xcad99f2f, 0xcabd823f, 0xc9872fb1, 0x4ad222a6, 0xca8ba837, 0xc9d941ba,
    0xc9ca4a0e, 0x4a64036f, 0x4a3615cb, 0x49119717, 0x4b623142, 0x49ff8df9, 0xca8065b0, 0xca0f0b68,
    0xcb09f28c, 0xca708852, 0xca275e85, 0x4a91bfa4, 0x4990dad3, 0x49d37c6d, 0xc8d4be8a, 0xc8a2f52c,
    0x48ba1e91, 0xc8c2793e, 0xc8e08eff,
];

const COLUMNS_50X7: [u32; 7] = [
    0xce573e02, 0x4e61a084, 0xcd9fbd18, 0x4e17a254, 0x4cfe3900, 0x4e1f6318, 0x4da5fe8b,
];
const COLUMNS_130X12: [u32; 12] = [
    0xcdd565fe, 0x4d52895f, 0x4e72295b, 0xce877fc8, 0x4ef41c00, 0xcdacc500, 0x4e4592aa, 0xcf0fa79a,
    0x4e2597a1, 0xce35a642, 0xcefe2ec2, 0xcdbb66a2,
];
const COLUMNS_128X10: [u32; 10] = [
    0xcac68341, 0x4eab6966, 0xce8fdfe2, 0xcdd2f1b5, 0xce136fa4, 0x4ec20292, 0x4e8c1862, 0xcdc827f4,
    0x4e3f8e04, 0x4df45e80,
];
const COLUMNS_1000X3: [u32; 3] = [0xce00164a, 0x4ed20e70, 0x4e318dd6];
const MIDDLE_5X300X3: [u32; 15] = [
    0xcd5ad961, 0x4e253ba6, 0x4e0f7f74, 0x4ebdeead, 0xc970fb85, 0x4e467981, 0x4e0e616b, 0x4f30b1fb,
    0x4ef77b7e, 0x4f263024, 0xccea86ee, 0x4ef41061, 0xce8141a9, 0xced35bcd, 0xcf3ff74b,
];
const OUTER_INNER_5X40X3: [u32; 40] = [
    0x4ce0b74d, 0x4c572248, 0xcbe66cc2, 0xcaff76f5, 0x4c81b5c9, 0x4c971e77, 0x4d4bd91c, 0x4b1be999,
    0xce1edbc6, 0x4e289fb1, 0xce6d33a4, 0x4d037015, 0x4dc9611c, 0x49a69eec, 0xce028a41, 0x4e4609f8,
    0x4dc91259, 0xcd4098fb, 0xcadafeaf, 0xcc4eda61, 0xcc446b25, 0xce0b566e, 0x4b3bacb4, 0x49aba6bc,
    0x4e8fe712, 0xcbd46148, 0xcc1c7673, 0xcd6d9f05, 0x4d63e9c4, 0xcb77cb31, 0x4c997df8, 0xce26be5d,
    0xce09fcb3, 0xceb403d6, 0xcb95a697, 0x4b4e0fe5, 0xcdf02cc3, 0x4dd2c407, 0x4c1b59d5, 0x4a791188,
];
const TWO_INNER_4X5X6: [u32; 4] = [0xcd328a41, 0x4e29d33d, 0xcc8212f6, 0xce400c98];
const SECOND_FOURTH_2X3X4X5: [u32; 8] = [
    0x4c6ff5c3, 0x4b4368cf, 0x4c7c8c79, 0x4a558126, 0xcc73e027, 0x4bccc871, 0x4da8438e, 0xcbcdb35a,
];
const ROWS_6X10: [u32; 6] = [
    0x4d072b9c, 0x4b8714c4, 0xcd3037b3, 0x48509177, 0xcb8b1188, 0x48ad2e61,
];
const ROWS_16X100: [u32; 16] = [
    0x4bea4449, 0xce560892, 0xce8e8460, 0xce99f386, 0xcd510548, 0x4e389e7f, 0xcc839230, 0x4efbf162,
    0xce2950ee, 0xce827f75, 0xce35d857, 0x4bea0aac, 0xce445111, 0x4c8088c6, 0xcdd83bf3, 0x4e91678e,
];
const ROWS_40X200: [u32; 40] = [
    0x4d3bc2d4, 0xcea2710c, 0x4e75be6d, 0x4e4f4d76, 0xcd9cd87b, 0x4ea3816a, 0xcea5e35d, 0xceda7449,
    0xce29ae16, 0x4e147a5c, 0x4d264798, 0xce8129c0, 0x4e590ef2, 0xcd2da494, 0x4e2c80a1, 0xce8b86a9,
    0xcf2dae98, 0xcf200e69, 0xce62308b, 0xcf09abf2, 0xcee09cb5, 0xcf60a92d, 0xcd803e02, 0xceae62b1,
    0xcf278cc1, 0xcf5303de, 0x4dafe48c, 0xceafcb87, 0x4e22632f, 0x4f0e745c, 0xce19ce68, 0xceef329e,
    0xce8c854b, 0xce796942, 0xcea8cb8f, 0x4f0f51b2, 0x4e5813ea, 0x4f3d0f3c, 0x4e62c67a, 0x4e3bf682,
];
const ROWS_7X1000: [u32; 7] = [
    0xcf65ac91, 0xcf3ddc42, 0xcf245eb0, 0xcf9ddecb, 0x4ddd2dd8, 0xcf050b6e, 0xcfb99c63,
];
const RUN_BEFORE_SIZE_ONE_3X100X1: [u32; 3] = [0xce89c45d, 0xce315b6a, 0xccf57c38];
const COLUMN_200X1: [u32; 1] = [0xcf6f2afa];
const TRANSPOSED_20X300: [u32; 20] = [
    0x4d97d748, 0x4f7088fc, 0x4d3d5862, 0x4d9e9953, 0x4e68ced8, 0xce453f8f, 0xce971b1b, 0xce6fe232,
    0xce220261, 0x4e24f680, 0x4ed69706, 0x4e31d848, 0xceb763ae, 0x4e247c12, 0xcd36ac4a, 0x4f6c3d38,
    0xcf2301d4, 0xcd06f3ec, 0x4d55b820, 0xcdccda4c,
];
const PERMUTED_4X50X6: [u32; 4] = [0x4def0d72, 0xce9072d8, 0x4ecd6832, 0x4fb748bc];
