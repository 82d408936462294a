//! The ops of issue 23 against values computed independently: each expected value was printed
//! by PyTorch or numpy (the Python line is in the comment above it), and each op gives the
//! same bits in eager, lazy and JIT mode.

use needle::jit::{reset_stats, set_tiered, stats};
use needle::{with_mode, Mode, Tensor};

/// The bits of `f`'s values, the same in every mode (NaNs compared by their bits too).
fn in_every_mode(f: impl Fn() -> Vec<Vec<f32>>) -> Vec<Vec<f32>> {
    let eager = with_mode(Mode::Eager, &f);
    // Compiled code from the first run (not the interpreter while it compiles).
    set_tiered(false);
    for mode in [Mode::Lazy, Mode::Jit] {
        reset_stats();
        let other = with_mode(mode, &f);
        if mode == Mode::Jit {
            let s = stats();
            assert!(s.programs_run > 0 && s.interpreted_runs == 0, "{s:?}");
        }
        let bits = |v: &Vec<Vec<f32>>| -> Vec<Vec<u32>> {
            v.iter()
                .map(|r| r.iter().map(|x| x.to_bits()).collect())
                .collect()
        };
        assert_eq!(
            bits(&eager),
            bits(&other),
            "eager {eager:?} vs {mode:?} {other:?}"
        );
    }
    eager
}

/// `values` equal `expected` bit for bit.
fn assert_bits(values: &[f32], expected: &[f32]) {
    let b = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
    assert_eq!(b(values), b(expected), "{values:?} vs {expected:?}");
}

/// The gradient of `Σ f(x) · w` (w fixed, one weight per output element) against central
/// differences in f64 of the f32 loss, at `data`.
fn check_gradient(shape: &[usize], data: &[f32], f: impl Fn(&Tensor) -> Tensor) {
    with_mode(Mode::Eager, || {
        let loss = |x: &Tensor| {
            let y = f(x);
            let n = y.numel();
            let w: Vec<f32> = (0..n).map(|i| 0.5 + (i as f32 * 0.37).sin()).collect();
            let shape = y.shape();
            (y * Tensor::from_vec(w, &shape)).sum_all()
        };
        let x = Tensor::from_vec(data.to_vec(), shape).requires_grad_(true);
        loss(&x).backward();
        let analytic = x.grad().expect("a gradient").to_vec();
        let h = 1e-2f32;
        for (j, &g) in analytic.iter().enumerate() {
            let at = |d: f32| {
                let mut moved = data.to_vec();
                moved[j] += d;
                f64::from(loss(&Tensor::from_vec(moved, shape)).item())
            };
            let numeric = (at(h) - at(-h)) / (2.0 * f64::from(h));
            let g = f64::from(g);
            assert!(
                (numeric - g).abs() <= 1e-2 * (1.0 + g.abs()),
                "d/dx[{j}] is {g}, central differences give {numeric}"
            );
        }
    });
}

/// Distinct values away from 0 and from each other (no kink within the step).
fn spread(n: usize) -> Vec<f32> {
    (0..n)
        .map(|i| (0.3 + (i * 7 % n) as f32 * 0.25) * if i % 3 == 1 { -1.0 } else { 1.0 })
        .collect()
}

#[test]
fn abs_matches_torch() {
    let data = vec![-2.5, -0.0, 0.0, 3.0, f32::NEG_INFINITY, 1e-30, -7.25];
    let out = in_every_mode(|| {
        let x = Tensor::from_vec(data.clone(), &[7]).requires_grad_(true);
        let w = Tensor::from_vec(vec![1., 2., 3., 4., 5., 6., 7.], &[7]);
        let y = x.abs();
        (&y * &w).sum_all().backward();
        vec![y.to_vec(), x.grad().unwrap().to_vec()]
    });
    // x = torch.tensor([-2.5, -0.0, 0.0, 3.0, -inf, 1e-30, -7.25], requires_grad=True)
    // y = x.abs(); print(y.tolist())  (|−0| has bits 0: y.numpy().view('u4'))
    assert_bits(&out[0], &[2.5, 0.0, 0.0, 3.0, f32::INFINITY, 1e-30, 7.25]);
    // (y * torch.arange(1., 8.)).sum().backward(); print(x.grad.tolist())
    assert_bits(&out[1], &[-1.0, 0.0, 0.0, 4.0, -5.0, 6.0, -7.0]);
}

const NAN: f32 = f32::NAN;
const INF: f32 = f32::INFINITY;

/// The 3×4 matrix of the argmax/min tests: ties, NaNs, infinities and ±0.
fn ties_and_nans() -> Tensor {
    Tensor::from_vec(
        vec![3., 1., 3., -2., NAN, 5., NAN, 5., -INF, -INF, 0., -0.],
        &[3, 4],
    )
}

/// `values` equal `expected`, a NaN matching any NaN.
fn assert_same(values: &[f32], expected: &[f32]) {
    let key = |v: &f32| if v.is_nan() { u32::MAX } else { v.to_bits() };
    let k = |v: &[f32]| v.iter().map(key).collect::<Vec<_>>();
    assert_eq!(k(values), k(expected), "{values:?} vs {expected:?}");
}

#[test]
fn argmax_argmin_match_numpy() {
    let out = in_every_mode(|| {
        let x = ties_and_nans();
        let as_f32 = |t: Tensor| t.to_vec_i64().iter().map(|&i| i as f32).collect();
        let kept = x.argmax(0, true);
        assert_eq!(kept.shape().as_slice(), &[1, 4]);
        vec![
            as_f32(x.argmax(1, false)),
            as_f32(x.argmin(1, false)),
            as_f32(x.argmax(-2, false)),
            as_f32(x.argmin(0, false)),
            as_f32(kept),
        ]
    });
    // x = np.array([[3,1,3,-2],[nan,5,nan,5],[-inf,-inf,0,-0.]], dtype=np.float32)
    // np.argmax(x, axis=1), np.argmin(x, axis=1) (torch.argmax/argmin agree)
    assert_eq!(out[0], vec![0., 0., 2.]);
    assert_eq!(out[1], vec![3., 0., 0.]);
    // np.argmax(x, axis=0), np.argmin(x, axis=0); t.argmax(0, keepdim=True) = [[1, 1, 1, 1]]
    assert_eq!(out[2], vec![1., 1., 1., 1.]);
    assert_eq!(out[3], vec![1., 2., 1., 0.]);
    assert_eq!(out[4], vec![1., 1., 1., 1.]);
}

#[test]
fn min_matches_numpy_and_its_gradient_torch_amin() {
    let out = in_every_mode(|| {
        let x = ties_and_nans();
        let y =
            Tensor::from_vec(vec![3., 1., 1., -2., 4., 5., 0.5, 0.5], &[2, 4]).requires_grad_(true);
        let m = y.min(&[1], false);
        (&m * &Tensor::from_vec(vec![2., 3.], &[2]))
            .sum_all()
            .backward();
        vec![
            x.min(&[1], false).to_vec(),
            x.min(&[0], true).to_vec(),
            m.to_vec(),
            y.grad().unwrap().to_vec(),
        ]
    });
    // np.min(x, axis=1), np.min(x, axis=0)
    assert_same(&out[0], &[-2.0, NAN, -INF]);
    assert_same(&out[1], &[NAN, -INF, NAN, -2.0]);
    // y = torch.tensor([[3,1,1,-2],[4,5,.5,.5]], requires_grad=True); m = torch.amin(y, dim=1)
    assert_same(&out[2], &[-2.0, 0.5]);
    // (m * torch.tensor([2., 3.])).sum().backward(); print(y.grad.tolist())
    // Equal as numbers: the zeros are −0 here (the negation of max's gradient), +0 in PyTorch.
    assert_eq!(out[3], vec![0., 0., 0., 2., 0., 0., 1.5, 1.5]);
}

#[test]
fn min_gradient_agrees_with_finite_differences() {
    check_gradient(&[3, 4], &spread(12), |x| x.min(&[1], false));
    check_gradient(&[3, 4], &spread(12), |x| x.min(&[0, 1], true));
    check_gradient(&[3, 4], &spread(12), |x| x.min_all());
}

#[test]
fn where_cond_keeps_torch_where_bits() {
    let out = in_every_mode(|| {
        let c = Tensor::from_vec(
            vec![1., 0., 1., 0., 1., 0., 0., 1., 0., 1., NAN, 2.],
            &[2, 6],
        );
        let a = Tensor::from_vec(
            vec![
                -0.0, INF, 0.0, NAN, NAN, -INF, 1.5, -0.0, -2., INF, -INF, 3.,
            ],
            &[2, 6],
        );
        let b = Tensor::from_vec(vec![NAN, -0.0, INF, -0.0, 0.0, -1.], &[6]);
        vec![Tensor::where_cond(&c, &a, &b).to_vec()]
    });
    // c = torch.tensor([[1,0,1,0,1,0],[0,1,0,1,nan,2.]]); a = torch.tensor([[-0.,inf,0.,nan,
    // nan,-inf],[1.5,-0.,-2.,inf,-inf,3.]]); b = torch.tensor([nan,-0.,inf,-0.,0.,-1.])
    // torch.where(c != 0, a, b).numpy().view('u4').tolist()
    let expected: [u32; 12] = [
        2147483648, 2147483648, 0, 2147483648, 2143289344, 3212836864, 2143289344, 2147483648,
        2139095040, 2139095040, 4286578688, 1077936128,
    ];
    let bits: Vec<u32> = out[0].iter().map(|v| v.to_bits()).collect();
    assert_eq!(bits, expected);
}

#[test]
fn where_cond_gradients_match_torch() {
    let out = in_every_mode(|| {
        let c = Tensor::from_vec(vec![1., 0., 1., 0., 0., 1.], &[2, 3]);
        let a = Tensor::from_vec(vec![1., 2., 3., 4., 5., 6.], &[2, 3]).requires_grad_(true);
        let b = Tensor::from_vec(vec![10., 20., 30.], &[3]).requires_grad_(true);
        let y = Tensor::where_cond(&c, &a, &b);
        let w = Tensor::from_vec(vec![1., 2., 3., 4., 5., 6.], &[2, 3]);
        (&y * &w).sum_all().backward();
        vec![
            y.to_vec(),
            a.grad().unwrap().to_vec(),
            b.grad().unwrap().to_vec(),
        ]
    });
    // a2 = torch.tensor([[1.,2,3],[4,5,6]], requires_grad=True); b2 = torch.tensor([10.,20,30],
    // requires_grad=True); c2 = torch.tensor([[1.,0,1],[0,0,1]]); y2 = torch.where(c2 != 0,
    // a2, b2); (y2 * torch.tensor([[1.,2,3],[4,5,6]])).sum().backward()
    assert_eq!(out[0], vec![1., 20., 3., 10., 20., 6.]);
    assert_eq!(out[1], vec![1., 0., 3., 0., 0., 6.]);
    assert_eq!(out[2], vec![4., 7., 0.]);
    let c = Tensor::from_vec(vec![1., 0., 0., 1., 1., 0.], &[2, 3]);
    let other = Tensor::from_vec(spread(6), &[2, 3]);
    check_gradient(&[2, 3], &spread(6), |x| Tensor::where_cond(&c, x, &other));
    check_gradient(&[2, 3], &spread(6), |x| Tensor::where_cond(&c, &other, x));
}

/// `x[i] = (i·37 mod 101 − 50) / 7` in f32, 3×100: long enough for numpy's pairwise blocks.
fn norm_data() -> Tensor {
    let v = (0..300)
        .map(|i| ((i * 37 % 101) as f32 - 50.0) / 7.0)
        .collect();
    Tensor::from_vec(v, &[3, 100])
}

#[test]
fn norms_match_numpy_bits() {
    let out = in_every_mode(|| {
        let x = norm_data();
        vec![
            x.norm(2.0, &[1], false).to_vec(),
            x.norm_all(2.0).to_vec(),
            x.norm(1.0, &[-1], false).to_vec(),
            x.norm(1.0, &[0], true).slice(1, 0, 4, 1).to_vec(),
            x.norm(f32::INFINITY, &[1], false).to_vec(),
            x.norm(2.0, &[0], false).slice(0, 0, 4, 1).to_vec(),
        ]
    });
    let f = |bits: &[u32]| bits.iter().map(|&b| f32::from_bits(b)).collect::<Vec<_>>();
    // i = np.arange(300); x = ((i*37 % 101 - 50).astype(np.float32) / np.float32(7))
    //     .reshape(3, 100)
    // np.sqrt(np.sum(x*x, axis=1)).view('u4') (torch.linalg.vector_norm(x, 2, dim=1) agrees)
    assert_bits(&out[0], &f(&[1109867778, 1109846452, 1109772353]));
    // np.sqrt(np.sum(x*x)).view('u4')
    assert_bits(&out[1], &f(&[1116754371]));
    // np.sum(np.abs(x), axis=1).view('u4'); np.sum(np.abs(x), axis=0)[:4].view('u4')
    assert_bits(&out[2], &f(&[1135944851, 1135902721, 1135818460]));
    assert_bits(
        &out[3],
        &f(&[1095162733, 1093664768, 1095162734, 1093664768]),
    );
    // np.max(np.abs(x), axis=1)
    assert_bits(&out[4], &[50.0 / 7.0; 3]);
    // np.sqrt(np.sum(x*x, axis=0))[:4].view('u4')
    assert_bits(
        &out[5],
        &f(&[1090637242, 1089777755, 1090663579, 1088249682]),
    );
}

#[test]
fn norm_gradients_match_torch_and_finite_differences() {
    // y = torch.tensor([[3.,-4,0],[1,-2,2]], requires_grad=True); n = torch.linalg.
    // vector_norm(y, p, dim=1); (n * torch.tensor([2., 3.])).sum().backward(); y.grad
    let cases: [(f32, [f32; 2], [f32; 6]); 3] = [
        (1.0, [7.0, 5.0], [2.0, -2.0, 0.0, 3.0, -3.0, 3.0]),
        (2.0, [5.0, 3.0], [1.2, -1.6, 0.0, 1.0, -2.0, 2.0]),
        (f32::INFINITY, [4.0, 2.0], [0.0, -2.0, 0.0, 0.0, -1.5, 1.5]),
    ];
    for (p, norms, grad) in cases {
        let out = in_every_mode(|| {
            let y = Tensor::from_vec(vec![3., -4., 0., 1., -2., 2.], &[2, 3]).requires_grad_(true);
            let n = y.norm(p, &[1], false);
            (&n * &Tensor::from_vec(vec![2., 3.], &[2]))
                .sum_all()
                .backward();
            vec![n.to_vec(), y.grad().unwrap().to_vec()]
        });
        assert_eq!(out[0], norms, "p = {p}");
        for (g, e) in out[1].iter().zip(grad) {
            assert!((g - e).abs() <= 1e-6, "p = {p}: {:?} vs {grad:?}", out[1]);
        }
        check_gradient(&[3, 4], &spread(12), |x| x.norm(p, &[1], true));
        check_gradient(&[3, 4], &spread(12), |x| x.norm_all(p));
    }
}

#[test]
#[should_panic(expected = "norm: p = 3 is not supported (1, 2 or inf)")]
fn norm_names_an_unsupported_p() {
    Tensor::ones(&[2]).norm(3.0, &[0], false);
}

#[test]
#[should_panic(expected = "argmax: cannot take the index over an axis of size 0 (axis 1 of shape")]
fn argmax_names_an_empty_axis() {
    Tensor::ones(&[2, 0]).argmax(1, false);
}

/// `torch.arange(12.).reshape(3, 4).mul(1.5).sub(4)`.
fn gather_data() -> Tensor {
    Tensor::from_vec((0..12).map(|i| i as f32 * 1.5 - 4.0).collect(), &[3, 4])
}

#[test]
fn gather_and_index_select_match_torch() {
    let out = in_every_mode(|| {
        let x = gather_data().requires_grad_(true);
        let index = Tensor::from_vec_i64(vec![3, 0, 3, 1, 1, 2, 0, 0, 0], &[3, 3]);
        let y = x.gather(1, &index);
        let w = Tensor::from_vec((1..10).map(|i| i as f32).collect(), &[3, 3]);
        (&y * &w).sum_all().backward();
        let gathered_grad = x.grad().unwrap().to_vec();
        let index0 = Tensor::from_vec_i64(vec![2, 0, 1, 2, 0, 0, 0, 1], &[2, 4]);
        let y0 = x.gather(0, &index0);
        let x2 = gather_data().requires_grad_(true);
        let s = x2.index_select(1, &Tensor::from_vec_i64(vec![2, 2, 0], &[3]));
        (&s * &w).sum_all().backward();
        vec![
            y.to_vec(),
            gathered_grad,
            y0.to_vec(),
            s.to_vec(),
            x2.grad().unwrap().to_vec(),
        ]
    });
    // x = torch.arange(12.).reshape(3,4).mul(1.5).sub(4).requires_grad_(True)
    // idx = torch.tensor([[3,0,3],[1,1,2],[0,0,0]]); y = torch.gather(x, 1, idx)
    assert_eq!(out[0], [0.5, -4.0, 0.5, 3.5, 3.5, 5.0, 8.0, 8.0, 8.0]);
    // (y * torch.arange(1., 10.).reshape(3, 3)).sum().backward(); x.grad
    assert_eq!(out[1], [2., 0., 0., 4., 0., 9., 6., 0., 24., 0., 0., 0.]);
    // torch.gather(x, 0, torch.tensor([[2,0,1,2],[0,0,0,1]]))
    assert_eq!(out[2], [8.0, -2.5, 5.0, 12.5, -4.0, -2.5, -1.0, 6.5]);
    // s = torch.index_select(x, 1, torch.tensor([2,2,0]))
    assert_eq!(out[3], [-1.0, -1.0, -4.0, 5.0, 5.0, 2.0, 11.0, 11.0, 8.0]);
    // (s * torch.arange(1., 10.).reshape(3, 3)).sum().backward(); x.grad
    assert_eq!(out[4], [3., 0., 3., 0., 6., 0., 9., 0., 9., 0., 15., 0.]);
    let rows = Tensor::from_vec_i64(vec![1, 1, 0, 2], &[4]);
    check_gradient(&[3, 4], &spread(12), |x| x.index_select(0, &rows));
    let index = Tensor::from_vec_i64(vec![3, 0, 3, 1, 1, 2], &[3, 2]);
    check_gradient(&[3, 4], &spread(12), |x| x.gather(1, &index));
}

#[test]
fn gather_names_a_bad_index() {
    for mode in [Mode::Eager, Mode::Lazy, Mode::Jit] {
        let err = std::panic::catch_unwind(|| {
            with_mode(mode, || {
                let index = Tensor::from_vec_i64(vec![0, 4], &[1, 2]);
                gather_data().gather(1, &index).to_vec()
            })
        })
        .expect_err("an index out of range");
        let message = err.downcast_ref::<String>().cloned().unwrap_or_default();
        assert!(
            message.contains("gather: index 4 is out of range for axis 1 of size 4"),
            "{mode:?}: {message}"
        );
    }
}

#[test]
#[should_panic(expected = "gather: index shape [2, 5] does not fit shape [3, 4]")]
fn gather_names_mismatched_shapes() {
    gather_data().gather(0, &Tensor::from_vec_i64(vec![0; 10], &[2, 5]));
}

#[test]
fn embedding_matches_torch() {
    use needle::nn::{Embedding, Forward};
    let out = in_every_mode(|| {
        let mut table = Embedding::new(5, 3);
        table.weight = Tensor::from_vec((0..15).map(|i| i as f32 * 0.5 - 2.0).collect(), &[5, 3])
            .requires_grad_(true);
        let ids = Tensor::from_vec_i64(vec![4, 1, 1, 0, 4, 4], &[3, 2]);
        let y = table.forward(&ids);
        assert_eq!(y.shape().as_slice(), &[3, 2, 3]);
        let w = Tensor::from_vec((1..19).map(|i| i as f32).collect(), &[3, 2, 3]);
        (&y * &w).sum_all().backward();
        vec![y.to_vec(), table.weight.grad().unwrap().to_vec()]
    });
    // e = torch.nn.Embedding(5, 3); e.weight.data = torch.arange(15.).reshape(5,3)*0.5 - 2
    // y = e(torch.tensor([[4,1],[1,0],[4,4]])); y.flatten().tolist()
    let rows = [
        4.0, 4.5, 5.0, -0.5, 0.0, 0.5, -0.5, 0.0, 0.5, -2.0, -1.5, -1.0, 4.0, 4.5, 5.0, 4.0, 4.5,
        5.0,
    ];
    assert_eq!(out[0], rows);
    // (y * torch.arange(1., 19.).reshape(3,2,3)).sum().backward(); e.weight.grad.flatten()
    let grad = [
        10.0, 11.0, 12.0, 11.0, 13.0, 15.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 30.0, 33.0, 36.0,
    ];
    assert_eq!(out[1], grad);
}

#[test]
#[should_panic(expected = "Embedding(num_embeddings=5, embedding_dim=3): input must be i64 ids")]
fn embedding_names_float_ids() {
    use needle::nn::{Embedding, Forward};
    Embedding::new(5, 3).forward(&Tensor::ones(&[2]));
}

#[test]
fn cumsum_matches_numpy_bits() {
    let data: Vec<f32> = (0..40)
        .map(|i| ((i * 37 % 101) as f32 - 50.0) / 7.0 * 1.1)
        .collect();
    let out = in_every_mode(|| {
        let x = Tensor::from_vec(data.clone(), &[2, 20]);
        let y = Tensor::from_vec(vec![1., 2., 3., 4., 5., 6.], &[2, 3]).requires_grad_(true);
        let c = y.cumsum(-1);
        (&c * &Tensor::from_vec(vec![1., 2., 3., 4., 5., 6.], &[2, 3]))
            .sum_all()
            .backward();
        vec![
            x.cumsum(1).slice(1, 17, 20, 1).to_vec(),
            x.cumsum(0).slice(0, 1, 2, 1).slice(1, 0, 3, 1).to_vec(),
            c.to_vec(),
            y.grad().unwrap().to_vec(),
        ]
    });
    let f = |bits: &[u32]| bits.iter().map(|&b| f32::from_bits(b)).collect::<Vec<_>>();
    // i = np.arange(40); x = ((i*37 % 101 - 50).astype(np.float32) / np.float32(7))
    //     .reshape(2, 20) * np.float32(1.1)
    // np.cumsum(x, axis=1)[:, -3:].view('u4'), np.cumsum(x, axis=0)[1, :3].view('u4')
    assert_bits(
        &out[0],
        &f(&[
            3243949612, 3242301850, 3231112046, 1050733084, 1088571686, 1081171736,
        ]),
    );
    assert_bits(&out[1], &f(&[3240654088, 1066192078, 3226018962]));
    // y = torch.tensor([[1.,2,3],[4,5,6]], requires_grad=True); c = torch.cumsum(y, 1)
    // (c * torch.tensor([[1.,2,3],[4,5,6]])).sum().backward(); y.grad
    assert_eq!(out[2], [1.0, 3.0, 6.0, 4.0, 9.0, 15.0]);
    assert_eq!(out[3], [6.0, 5.0, 3.0, 15.0, 11.0, 6.0]);
    check_gradient(&[3, 4], &spread(12), |x| x.cumsum(0));
}

#[test]
#[should_panic(
    expected = "where_cond: shapes [2] (cond), [3] (a) and [1] (b) are not broadcastable"
)]
fn where_cond_names_its_shapes() {
    Tensor::where_cond(
        &Tensor::ones(&[2]),
        &Tensor::ones(&[3]),
        &Tensor::ones(&[1]),
    );
}

#[test]
#[should_panic(expected = "min: cannot reduce over an axis of size 0 (axis 0 of shape [0, 2])")]
fn min_names_an_empty_axis() {
    Tensor::ones(&[0, 2]).min_all();
}
