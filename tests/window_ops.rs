//! im2col and col2im against a plain reference loop written here, on the inputs the
//! convolution layers do not make: flipped, permuted and offset views, windows wider than the
//! image, strides past the kernel, empty batches, and sizes large enough for the kernels to
//! split across threads — in eager mode and as the JIT's window steps, with the same bits.

use needle::jit::set_tiered;
use needle::op::Window;
use needle::{manual_seed, with_mode, Mode, Tensor};

fn bits(v: &[f32]) -> Vec<u32> {
    v.iter().map(|x| x.to_bits()).collect()
}

/// im2col of compact NCHW `x` by the definition: row (kh, kw, c), column (n, ho, wo).
fn im2col_reference(x: &[f32], [n, c, h, w]: [usize; 4], win: Window) -> Vec<f32> {
    let out = |size: usize| {
        (size + 2 * win.padding - win.dilation * (win.kernel - 1) - 1) / win.stride + 1
    };
    let (ho, wo) = (out(h), out(w));
    let mut cols = Vec::with_capacity(win.kernel * win.kernel * c * n * ho * wo);
    for kh in 0..win.kernel {
        for kw in 0..win.kernel {
            for ch in 0..c {
                for img in 0..n {
                    for oh in 0..ho {
                        for ow in 0..wo {
                            let y = (oh * win.stride + kh * win.dilation) as isize
                                - win.padding as isize;
                            let z = (ow * win.stride + kw * win.dilation) as isize
                                - win.padding as isize;
                            let inside =
                                (0..h as isize).contains(&y) && (0..w as isize).contains(&z);
                            cols.push(if inside {
                                x[((img * c + ch) * h + y as usize) * w + z as usize]
                            } else {
                                0.0
                            });
                        }
                    }
                }
            }
        }
    }
    cols
}

/// Runs `f` eagerly and in the JIT (compiled before its first run) and checks equal bits.
fn same_in_both<T: PartialEq + std::fmt::Debug>(f: impl Fn() -> T, what: &str) -> T {
    let eager = with_mode(Mode::Eager, &f);
    set_tiered(false);
    let jit = with_mode(Mode::Jit, &f);
    set_tiered(true);
    assert_eq!(jit, eager, "{what}: JIT vs eager");
    eager
}

fn window(kernel: usize, stride: usize, padding: usize, dilation: usize) -> Window {
    Window {
        kernel,
        stride,
        padding,
        dilation,
    }
}

#[test]
fn im2col_of_views_matches_the_definition() {
    // (shape of the stored data, how the NCHW input is viewed from it, window)
    type View = fn(&Tensor) -> Tensor;
    let cases: [(&[usize], View, Window, &str); 5] = [
        (
            &[2, 3, 6, 5],
            |t| t.flip(&[2, 3]),
            window(3, 1, 1, 1),
            "flipped",
        ),
        (
            &[3, 2, 5, 6],
            |t| t.permute(&[1, 0, 3, 2]),
            window(2, 2, 0, 1),
            "permuted",
        ),
        (
            &[2, 3, 9, 7],
            |t| t.slice(2, 2, 8, 1),
            window(3, 2, 1, 2),
            "sliced at an offset",
        ),
        (
            &[1, 2, 2, 2],
            |t| t.clone(),
            window(3, 1, 1, 1),
            "window wider than the image",
        ),
        (
            &[2, 1, 5, 5],
            |t| t.clone(),
            window(1, 2, 1, 1),
            "stride past the kernel",
        ),
    ];
    for (stored, view, win, what) in cases {
        let (cols, x) = same_in_both(
            || {
                manual_seed(1);
                let x = view(&Tensor::randn(stored));
                (bits(&(&x.im2col(win) * 1.0).to_vec()), x.to_vec())
            },
            what,
        );
        let shape = {
            manual_seed(1);
            with_mode(Mode::Eager, || view(&Tensor::randn(stored)).shape())
        };
        let expected = im2col_reference(&x, shape[..].try_into().unwrap(), win);
        assert_eq!(cols, bits(&expected), "{what}");
    }
}

#[test]
fn col2im_is_the_adjoint_of_im2col_on_large_inputs() {
    // 2·16·40·40 inputs and 144 × 2·20·20 columns: both kernels split across threads.
    // ⟨im2col(x), y⟩ = ⟨x, col2im(y)⟩, accumulated in f64.
    let win = window(3, 2, 1, 1);
    let (x, y, cols, back) = same_in_both(
        || {
            manual_seed(2);
            let x = Tensor::randn(&[2, 16, 40, 40]);
            let y = Tensor::randn(&[144, 800]);
            let cols = x.im2col(win);
            let back = y.col2im(win, &[2, 16, 40, 40]);
            (
                bits(&x.to_vec()),
                bits(&y.to_vec()),
                bits(&cols.to_vec()),
                bits(&back.to_vec()),
            )
        },
        "large",
    );
    let f = |b: &[u32]| {
        b.iter()
            .map(|&v| f32::from_bits(v) as f64)
            .collect::<Vec<f64>>()
    };
    let (x, y, cols, back) = (f(&x), f(&y), f(&cols), f(&back));
    let x32: Vec<f32> = x.iter().map(|&v| v as f32).collect();
    let reference = im2col_reference(&x32, [2, 16, 40, 40], win);
    assert!(
        cols.iter().zip(&reference).all(|(&a, &b)| a == b as f64),
        "im2col"
    );
    let left: f64 = cols.iter().zip(&y).map(|(a, b)| a * b).sum();
    let right: f64 = x.iter().zip(&back).map(|(a, b)| a * b).sum();
    assert!(
        (left - right).abs() <= 1e-4 * left.abs().max(1.0),
        "⟨im2col x, y⟩ = {left}, ⟨x, col2im y⟩ = {right}"
    );
}

#[test]
fn empty_batches_give_empty_columns_and_zero_images() {
    let win = window(3, 1, 1, 1);
    let (cols, back) = same_in_both(
        || {
            let cols = Tensor::zeros(&[0, 2, 4, 4]).im2col(win);
            let back = Tensor::zeros(&[18, 16]).col2im(win, &[1, 2, 4, 4]);
            (cols.shape(), bits(&back.to_vec()))
        },
        "empty",
    );
    assert_eq!(cols, vec![18, 0]);
    assert_eq!(back, vec![0u32; 32]);
}
