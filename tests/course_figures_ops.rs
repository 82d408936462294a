//! The course's reference figures for ops (FIGURES.md §2.1, §3.1, §0.2), in eager and lazy mode.
#![allow(clippy::excessive_precision)] // the course's figures, digit for digit

mod common;

use common::{assert_close, get_tensor, in_both_modes, t2};
use needle::Tensor;

fn flat(rows: &[&[f64]]) -> Vec<f64> {
    rows.iter().flat_map(|r| r.iter().copied()).collect()
}

#[test]
fn get_tensor_reproduces_the_course_rng_check() {
    let x = get_tensor(&[3, 3], 1);
    assert_close(
        &x.to_vec(),
        &[2.1, 0.95, 3.45, 3.1, 2.45, 2.3, 3.3, 0.4, 1.2],
        1e-8,
        1e-8,
    );
    assert_close(
        &get_tensor(&[2, 2], 1).to_vec(),
        &[3.35, 4.2, 0.25, 4.5],
        1e-8,
        1e-8,
    );
}

#[test]
fn divide_forward() {
    let out = in_both_modes(|| {
        let a = t2(&[&[3.3, 4.35, 1.2], &[2.45, 0.95, 2.55]]);
        let b = t2(&[&[4.6, 4.35, 4.8], &[0.65, 0.7, 4.4]]);
        vec![&a / &b, t2(&[&[1.7, 1.45]]) / 12.0]
    });
    let expected = [
        0.717391304348,
        1.0,
        0.25,
        3.769230769231,
        1.357142857143,
        0.579545454545,
    ];
    assert_close(&out[0], &expected, 1e-7, 0.0);
    assert_close(&out[1], &[0.141666666667, 0.120833333333], 1e-7, 0.0);
}

#[test]
fn matmul_forward_2d_batched_and_broadcast() {
    let out = in_both_modes(|| {
        let a = t2(&[&[4.95, 1.75, 0.25], &[4.15, 4.25, 0.3], &[0.3, 0.4, 2.1]]);
        let b = t2(&[&[1.35, 2.2, 1.55], &[3.85, 4.8, 2.6], &[1.15, 0.85, 4.15]]);
        let c = t2(&[&[3.8, 0.05], &[2.3, 3.35], &[1.6, 2.6]]);
        let d = t2(&[&[1.1, 3.5, 3.7], &[0.05, 1.25, 1.0]]);
        // (3,2) @ (3,2,3): a 2-D left operand broadcast against a batch.
        let e = t2(&[&[1.9, 1.9], &[4.8, 4.9], &[3.25, 3.75]]);
        let f = Tensor::from_vec(
            vec![
                1.25, 1.8, 1.95, 3.75, 2.85, 2.25, 1.75, 2.7, 3.3, 2.95, 1.55, 3.85, 4.2, 3.05,
                3.35, 3.3, 4.75, 2.1,
            ],
            &[3, 2, 3],
        );
        // (3,3,2) @ (2,3): a 2-D right operand.
        let g = Tensor::from_vec(
            vec![
                3.4, 2.95, 0.25, 1.95, 4.4, 4.4, 0.55, 1.1, 0.75, 1.55, 4.1, 1.2, 1.5, 4.05, 1.5,
                1.55, 2.3, 1.25,
            ],
            &[3, 3, 2],
        );
        let h = t2(&[&[2.2, 0.65, 2.5], &[2.5, 1.3, 0.15]]);
        vec![a.matmul(&b), c.matmul(&d), e.matmul(&f), g.matmul(&h)]
    });
    assert_close(
        &out[0],
        &[
            13.7075, 19.5025, 13.26, 22.31, 29.785, 18.7275, 4.36, 4.365, 10.22,
        ],
        1e-6,
        0.0,
    );
    assert_close(
        &out[1],
        &[
            4.1825, 13.3625, 14.11, 2.6975, 12.2375, 11.86, 1.89, 8.85, 8.52,
        ],
        1e-6,
        0.0,
    );
    let ef = flat(&[
        &[
            9.5, 8.835, 7.98, 24.375, 22.605, 20.385, 18.125, 16.5375, 14.775,
        ],
        &[
            8.93, 8.075, 13.585, 22.855, 20.555, 34.705, 16.75, 14.5875, 25.1625,
        ],
        &[
            14.25, 14.82, 10.355, 36.33, 37.915, 26.37, 26.025, 27.725, 18.7625,
        ],
    ]);
    assert_close(&out[2], &ef, 1e-6, 0.0);
    let gh = flat(&[
        &[
            14.855, 6.045, 8.9425, 5.425, 2.6975, 0.9175, 20.68, 8.58, 11.66,
        ],
        &[
            3.96, 1.7875, 1.54, 5.525, 2.5025, 2.1075, 12.02, 4.225, 10.43,
        ],
        &[
            13.425, 6.24, 4.3575, 7.175, 2.99, 3.9825, 8.185, 3.12, 5.9375,
        ],
    ]);
    assert_close(&out[3], &gh, 1e-6, 0.0);
}

#[test]
fn matmul_forward_batched_6x3x2() {
    let a: Vec<f32> = vec![
        4.0, 2.15, 1.25, 1.35, 0.75, 1.6, 2.9, 2.15, 3.3, 4.1, 2.5, 0.25, 2.9, 4.35, 1.2, 3.5,
        3.55, 3.95, 2.55, 4.35, 4.25, 0.2, 3.95, 3.4, 2.2, 2.05, 0.95, 1.8, 2.7, 2.0, 0.45, 1.1,
        3.15, 0.7, 2.9, 1.95,
    ];
    let b: Vec<f32> = vec![
        2.7, 4.05, 0.1, 1.75, 3.05, 2.3, 0.55, 4.1, 2.3, 4.45, 2.35, 2.55, 1.2, 3.95, 4.6, 4.2,
        3.5, 3.35, 2.55, 4.4, 2.05, 2.4, 0.6, 4.65, 2.95, 0.8, 0.6, 0.45, 1.3, 0.75, 1.25, 2.1,
        0.4, 0.85, 3.5, 3.7,
    ];
    let out = in_both_modes(|| {
        vec![Tensor::from_slice(&a, &[6, 3, 2]).matmul(&Tensor::from_slice(&b, &[6, 2, 3]))]
    });
    let expected = [
        14.5625, 22.7575, 5.345, 5.7375, 9.18, 3.23, 4.825, 7.9175, 3.755, 11.1625, 16.9425,
        12.1525, 20.06, 23.165, 18.045, 2.4875, 10.8375, 6.3875, 21.75, 26.68, 27.9125, 16.14,
        16.99, 17.245, 20.85, 27.8475, 29.5625, 16.9425, 13.83, 25.455, 11.3175, 18.82, 9.6425,
        18.2325, 19.42, 23.9075, 7.4125, 4.425, 2.8575, 3.6125, 3.1, 1.92, 8.865, 4.76, 3.12,
        1.4975, 4.795, 4.25, 4.5325, 9.065, 3.85, 5.2825, 12.915, 8.375,
    ];
    assert_close(&out[0], &expected, 1e-6, 0.0);
}

#[test]
fn summation_broadcast_reshape_negate_forward() {
    let out = in_both_modes(|| {
        let s = t2(&[
            &[2.2, 4.35, 1.4, 0.3, 2.65],
            &[1.0, 0.85, 2.75, 3.8, 1.55],
            &[3.2, 2.3, 3.45, 0.7, 0.0],
        ]);
        let s1 = t2(&[
            &[1.05, 2.55, 1.0],
            &[2.95, 3.7, 2.6],
            &[0.1, 4.1, 3.3],
            &[1.1, 3.4, 3.4],
            &[1.8, 4.55, 2.3],
        ]);
        let s0 = t2(&[&[1.5, 3.85, 3.45], &[1.35, 1.3, 0.65], &[2.6, 4.55, 0.25]]);
        let b = t2(&[&[1.85, 0.85, 0.6]]).broadcast_to(&[3, 3, 3]);
        let r = t2(&[&[2.9, 2.0, 2.4], &[3.95, 3.95, 4.65]]).reshape(&[6]);
        vec![
            s.sum_all(),
            s1.sum(&[1], false),
            s0.sum(&[0], false),
            b,
            r,
            t2(&[&[1.45, 0.55]]).neg(),
        ]
    });
    assert_close(&out[0], &[30.5], 1e-6, 0.0);
    assert_close(&out[1], &[4.6, 9.25, 7.5, 7.9, 8.65], 1e-6, 0.0);
    assert_close(&out[2], &[5.45, 9.7, 4.35], 1e-6, 0.0);
    let row = [1.85, 0.85, 0.6];
    let expected: Vec<f64> = (0..9).flat_map(|_| row).collect();
    assert_close(&out[3], &expected, 0.0, 0.0);
    assert_close(&out[4], &[2.9, 2.0, 2.4, 3.95, 3.95, 4.65], 0.0, 0.0);
    assert_close(&out[5], &[-1.45, -0.55], 0.0, 0.0);
}

#[test]
fn transpose_forward() {
    let out = in_both_modes(|| {
        let a = Tensor::from_vec(vec![1.95, 2.7, 3.75], &[3, 1, 1]);
        let b = Tensor::from_vec(vec![2.45, 3.5, 0.9], &[3, 1, 1]);
        let c = t2(&[&[4.4, 2.05], &[1.85, 2.25], &[0.15, 1.4]]);
        let d = Tensor::from_vec(
            vec![
                0.4, 0.05, 2.95, 1.3, 4.8, 1.2, 1.65, 3.1, 1.45, 3.05, 2.25, 0.1, 0.45, 4.75, 1.5,
                1.8, 1.5, 4.65, 1.35, 2.7, 2.0, 1.65, 2.05, 1.2,
            ],
            &[3, 2, 2, 2],
        );
        let e = Tensor::from_vec(
            vec![
                0.55, 1.8, 0.2, 0.8, 2.75, 3.7, 0.95, 1.4, 0.8, 0.75, 1.6, 1.35, 3.75, 4.0, 4.55,
                1.85, 2.5, 4.8, 0.2, 3.35, 3.4, 0.3, 4.85, 4.85, 4.35, 4.25, 3.05,
            ],
            &[3, 3, 3],
        );
        vec![
            a.transpose(1, 2),
            b.transpose(0, 1),
            c.t(),
            d.t(),
            e.transpose(0, 1),
        ]
    });
    assert_close(&out[0], &[1.95, 2.7, 3.75], 0.0, 0.0);
    assert_close(&out[1], &[2.45, 3.5, 0.9], 0.0, 0.0);
    assert_close(&out[2], &[4.4, 1.85, 0.15, 2.05, 2.25, 1.4], 0.0, 0.0);
    let d_t = [
        0.4, 2.95, 0.05, 1.3, 4.8, 1.65, 1.2, 3.1, 1.45, 2.25, 3.05, 0.1, 0.45, 1.5, 4.75, 1.8,
        1.5, 1.35, 4.65, 2.7, 2.0, 2.05, 1.65, 1.2,
    ];
    assert_close(&out[3], &d_t, 0.0, 0.0);
    let e_t = [
        0.55, 1.8, 0.2, 0.75, 1.6, 1.35, 0.2, 3.35, 3.4, 0.8, 2.75, 3.7, 3.75, 4.0, 4.55, 0.3,
        4.85, 4.85, 0.95, 1.4, 0.8, 1.85, 2.5, 4.8, 4.35, 4.25, 3.05,
    ];
    assert_close(&out[4], &e_t, 0.0, 0.0);
}

#[test]
fn transpose_shapes_follow_the_course() {
    let x = Tensor::zeros(&[3, 1, 1]);
    assert_eq!(x.transpose(0, 1).shape(), vec![1, 3, 1]);
    assert_eq!(Tensor::zeros(&[3, 5, 4]).t().shape(), vec![3, 4, 5]);
}

#[test]
fn power_scalar_forward_and_backward() {
    let out = in_both_modes(|| {
        let x = get_tensor(&[2, 2], 1);
        vec![x.powf(2.0), x.powf(-1.5)]
    });
    assert_close(&out[0], &[11.222499, 17.639997, 0.0625, 20.25], 1e-5, 1e-5);
    assert_close(
        &out[1],
        &[0.16309206, 0.11617859, 8.0, 0.10475656],
        1e-5,
        1e-5,
    );
    for mode in common::MODES {
        needle::with_mode(mode, || {
            let x = get_tensor(&[2, 2], 1).requires_grad_(true);
            x.powf(2.0).sum_all().backward();
            assert_close(
                &x.grad().unwrap().to_vec(),
                &[6.7, 8.4, 0.5, 9.0],
                1e-5,
                1e-5,
            );
        });
    }
}

#[test]
fn logsumexp_forward() {
    let out = in_both_modes(|| {
        let x = get_tensor(&[3, 3, 3], 1);
        let y = get_tensor(&[1, 2, 3, 4], 1);
        let z = get_tensor(&[3, 10], 1);
        vec![
            x.logsumexp(&[1, 2], false),
            x.logsumexp(&[0, 1, 2], false),
            y.logsumexp(&[0, 2], false),
            z.logsumexp(&[1], false),
        ]
    });
    assert_close(&out[0], &[5.366029, 4.9753823, 6.208126], 1e-5, 1e-5);
    assert_close(&out[1], &[6.7517853], 1e-5, 1e-5);
    assert_close(
        &out[2],
        &[
            5.276974, 5.047317, 3.778802, 5.0103745, 5.087831, 4.391712, 5.025037, 2.0214698,
        ],
        1e-5,
        1e-5,
    );
    assert_close(&out[3], &[5.705309, 5.976375, 5.696459], 1e-5, 1e-5);
}

#[test]
fn logsumexp_is_stable_on_huge_inputs() {
    for mode in common::MODES {
        needle::with_mode(mode, || {
            let x = t2(&[&[1e10, 1e9, 1e8, -10.0], &[1e-10, 1e9, 1e8, -10.0]]).requires_grad_(true);
            let y = x.logsumexp(&[0], false);
            assert_close(
                &y.to_vec(),
                &[1e10, 1e9, 1.00000001e8, -9.30685282],
                1e-5,
                1e-5,
            );
            y.square().sum_all().backward();
            let g = x.grad().unwrap().to_vec();
            assert!(
                g.iter().all(|v| v.is_finite()),
                "gradient has NaN/inf: {g:?}"
            );
            assert_close(
                &g,
                &[
                    2e10,
                    999999999.0,
                    100000001.0,
                    -9.30685282,
                    0.0,
                    999999999.0,
                    100000001.0,
                    -9.30685282,
                ],
                1e-5,
                1e-5,
            );
        });
    }
}

#[test]
fn logsumexp_backward_figures() {
    for mode in common::MODES {
        needle::with_mode(mode, || {
            let x = get_tensor(&[3, 1], 1).requires_grad_(true);
            x.logsumexp(&[1], false).square().sum_all().backward();
            assert_close(&x.grad().unwrap().to_vec(), &[1.0, 7.3, 9.9], 1e-5, 1e-5);

            let x = get_tensor(&[3, 3, 3], 1).requires_grad_(true);
            x.logsumexp(&[1, 2], false).square().sum_all().backward();
            let expected = [
                1.4293308, 1.2933122, 0.82465225, 0.50017685, 2.1323113, 2.1323113, 1.4293308,
                0.58112264, 0.40951014, 0.3578173, 0.07983983, 4.359107, 1.1300558, 0.561169,
                0.1132981, 0.9252113, 0.65198547, 1.7722803, 0.2755132, 2.365242, 2.888913,
                0.05291228, 1.1745441, 0.02627547, 2.748018, 0.13681579, 2.748018,
            ];
            assert_close(&x.grad().unwrap().to_vec(), &expected, 1e-5, 1e-5);

            let x = get_tensor(&[1, 2, 3, 4], 1).requires_grad_(true);
            x.logsumexp(&[0, 1, 2, 3], false)
                .square()
                .sum_all()
                .backward();
            let expected = [
                0.96463485, 1.30212122, 0.09671321, 1.84779774, 1.84779774, 0.39219132, 0.21523925,
                0.30543892, 0.01952606, 0.55654611, 0.32109909, 0.01598658, 1.30212122, 0.83026929,
                0.30543892, 0.01680623, 0.29054249, 0.07532032, 1.84779774, 0.05307731, 0.75125862,
                0.26289377, 0.04802637, 0.03932065,
            ];
            assert_close(&x.grad().unwrap().to_vec(), &expected, 1e-5, 1e-5);
        });
    }
}

#[test]
fn log_softmax_figures() {
    let out = in_both_modes(|| {
        let x = get_tensor(&[3, 3], 1);
        vec![x.log_softmax(1), (&x * 1e5).log_softmax(1)]
    });
    let expected = [
        -1.6436583,
        -2.7936583,
        -0.29365814,
        -0.6787312,
        -1.3287311,
        -1.4787312,
        -0.16337626,
        -3.0633762,
        -2.2633762,
    ];
    assert_close(&out[0], &expected, 1e-5, 1e-5);
    assert_close(
        &out[1],
        &[
            -135000.02, -250000.0, 0.0, 0.0, -65000.0, -80000.0, 0.0, -290000.0, -210000.0,
        ],
        1e-5,
        1e-5,
    );
    let x = get_tensor(&[3, 3], 1).requires_grad_(true);
    x.log_softmax(1).square().sum_all().backward();
    let expected = [
        -1.4585897,
        -5.008274,
        6.4668627,
        2.1793516,
        -0.81108296,
        -1.3682691,
        8.998467,
        -5.613649,
        -3.3848193,
    ];
    assert_close(&x.grad().unwrap().to_vec(), &expected, 1e-5, 1e-5);
}
