//! Lecture 6's picture of the optimizers: an elongated convex bowl f(x) = ½ xᵀAx + bᵀx in two
//! dimensions and the path each method takes over its contours. Every method runs through the
//! library (the optimizers of `needle_core::optim`, Newton's Hessian by second-order autodiff).

use needle_core::optim::{Adam, Momentum, Optimizer, Sgd};
use needle_core::{no_grad, Tensor};

/// The bowl: A = [[10.5, 9.5], [9.5, 10.5]] has eigenvalues 20 (along (1, 1)) and 1 (along
/// (1, −1)), condition number 20; b = (−1, 1) puts the minimum at x* = (1, −1), f* = −1.
pub const A: [[f64; 2]; 2] = [[10.5, 9.5], [9.5, 10.5]];
/// The linear term.
pub const B: [f64; 2] = [-1.0, 1.0];
/// The minimum, −A⁻¹b.
pub const MINIMUM: [f64; 2] = [1.0, -1.0];
/// Where every method starts: at the far end of the valley, off its floor.
pub const START: [f64; 2] = [-2.0, 0.0];

/// f(x) on the host, in f64.
pub fn value(x: [f64; 2]) -> f64 {
    let ax = [
        A[0][0] * x[0] + A[0][1] * x[1],
        A[1][0] * x[0] + A[1][1] * x[1],
    ];
    0.5 * (x[0] * ax[0] + x[1] * ax[1]) + B[0] * x[0] + B[1] * x[1]
}

/// f(x) as a graph, for autodiff.
fn loss(x: &Tensor) -> Tensor {
    let a = Tensor::from_vec(A.iter().flatten().map(|&v| v as f32).collect(), &[2, 2]);
    let b = Tensor::from_vec(B.iter().map(|&v| v as f32).collect(), &[2]);
    let ax = x.reshape(&[1, 2]).matmul(&a).reshape(&[2]);
    &((&ax * x).sum_all() * 0.5) + &(&b * x).sum_all()
}

/// How a method moves.
pub enum Method {
    /// A library optimizer built on the one parameter.
    Optimizer(fn(Tensor) -> Box<dyn Optimizer>),
    /// Newton's method x ← x − α H⁻¹∇f with step α (1 is the full step).
    Newton(f64),
}

/// One method of the comparison.
pub struct Spec {
    /// Which panel it is drawn in.
    pub group: &'static str,
    /// Legend text.
    pub name: &'static str,
    /// Its update.
    pub method: Method,
}

/// The lecture's methods, grouped by panel. Gradient descent is stable below lr 2/λ_max = 0.1:
/// 0.01 crawls along the flat direction, 0.09 bounces across the valley and converges, 0.102
/// bounces further each step. The momentum methods share lr 0.2 and β 0.9, Adam lr 0.25. On a
/// quadratic Newton's direction points at the minimum from anywhere, so the full and damped
/// steps share one straight path.
pub fn lecture_methods() -> Vec<Spec> {
    vec![
        Spec {
            group: "gradient descent",
            name: "GD lr 0.01 (crawls)",
            method: Method::Optimizer(|p| Box::new(Sgd::new(vec![p], 0.01))),
        },
        Spec {
            group: "gradient descent",
            name: "GD lr 0.09 (bounces)",
            method: Method::Optimizer(|p| Box::new(Sgd::new(vec![p], 0.09))),
        },
        Spec {
            group: "gradient descent",
            name: "GD lr 0.102 (diverges)",
            method: Method::Optimizer(|p| Box::new(Sgd::new(vec![p], 0.102))),
        },
        Spec {
            group: "Newton's method (Hessian by autodiff)",
            name: "Newton, damped step 0.3",
            method: Method::Newton(0.3),
        },
        Spec {
            group: "Newton's method (Hessian by autodiff)",
            name: "Newton, full step",
            method: Method::Newton(1.0),
        },
        Spec {
            group: "momentum, β 0.9, lr 0.2",
            name: "momentum",
            method: Method::Optimizer(|p| {
                Box::new(Sgd::new(vec![p], 0.2).momentum(0.9, Momentum::Ema))
            }),
        },
        Spec {
            group: "momentum, β 0.9, lr 0.2",
            name: "unbiased momentum",
            method: Method::Optimizer(|p| {
                Box::new(
                    Sgd::new(vec![p], 0.2)
                        .momentum(0.9, Momentum::Ema)
                        .bias_correction(true),
                )
            }),
        },
        Spec {
            group: "Nesterov, β 0.9, lr 0.2",
            name: "Nesterov",
            method: Method::Optimizer(|p| {
                Box::new(Sgd::new(vec![p], 0.2).momentum(0.9, Momentum::Nesterov))
            }),
        },
        Spec {
            group: "Nesterov, β 0.9, lr 0.2",
            name: "unbiased Nesterov",
            method: Method::Optimizer(|p| {
                Box::new(
                    Sgd::new(vec![p], 0.2)
                        .momentum(0.9, Momentum::Nesterov)
                        .bias_correction(true),
                )
            }),
        },
        Spec {
            group: "Adam, lr 0.25",
            name: "Adam",
            method: Method::Optimizer(|p| Box::new(Adam::new(vec![p], 0.25))),
        },
        Spec {
            group: "Adam, lr 0.25",
            name: "Adam without bias correction",
            method: Method::Optimizer(|p| {
                Box::new(Adam::new(vec![p], 0.25).bias_correction(false))
            }),
        },
    ]
}

/// The iterates of one method.
#[derive(Clone, Debug)]
pub struct Trajectory {
    /// Panel.
    pub group: String,
    /// Method.
    pub name: String,
    /// x_0 = [`START`], x_1, … (as computed, in f32, widened).
    pub points: Vec<[f64; 2]>,
}

impl Trajectory {
    /// Distance of each iterate to the minimum.
    pub fn distances(&self) -> Vec<f64> {
        self.points
            .iter()
            .map(|p| (p[0] - MINIMUM[0]).hypot(p[1] - MINIMUM[1]))
            .collect()
    }

    /// f(x_t) − f* of each iterate.
    pub fn gaps(&self) -> Vec<f64> {
        let f_min = value(MINIMUM);
        self.points.iter().map(|&p| value(p) - f_min).collect()
    }
}

/// The Hessian of `f` at `x` by differentiating the gradient (recorded with
/// `backward_create_graph`) once per component, and the gradient itself.
pub fn gradient_and_hessian(x: &Tensor) -> ([f64; 2], [[f64; 2]; 2]) {
    loss(x).backward_create_graph();
    let g = x.grad().expect("x requires grad");
    let gv = g.to_vec();
    let mut h = [[0.0; 2]; 2];
    for (i, row) in h.iter_mut().enumerate() {
        g.narrow(0, i, 1).sum_all().backward();
        let r = x.grad().expect("the gradient depends on x").to_vec();
        *row = [r[0] as f64, r[1] as f64];
    }
    x.zero_grad();
    ([gv[0] as f64, gv[1] as f64], h)
}

/// Runs `spec` for `steps` steps from [`START`].
pub fn trajectory(spec: &Spec, steps: usize) -> Trajectory {
    let x = Tensor::from_vec(START.iter().map(|&v| v as f32).collect(), &[2]).requires_grad_(true);
    let read = |x: &Tensor| {
        let v = x.to_vec();
        [v[0] as f64, v[1] as f64]
    };
    let mut points = vec![read(&x)];
    match &spec.method {
        Method::Optimizer(make) => {
            let mut opt = make(x.clone());
            for _ in 0..steps {
                opt.zero_grad();
                loss(&x).backward();
                opt.step();
                points.push(read(&x));
            }
        }
        Method::Newton(alpha) => {
            for _ in 0..steps {
                let (g, h) = gradient_and_hessian(&x);
                // H⁻¹g for the 2×2 Hessian by Cramer's rule.
                let det = h[0][0] * h[1][1] - h[0][1] * h[1][0];
                let d = [
                    (h[1][1] * g[0] - h[0][1] * g[1]) / det,
                    (h[0][0] * g[1] - h[1][0] * g[0]) / det,
                ];
                let p = read(&x);
                let next = [p[0] - alpha * d[0], p[1] - alpha * d[1]];
                no_grad(|| {
                    x.assign(&Tensor::from_vec(
                        next.iter().map(|&v| v as f32).collect(),
                        &[2],
                    ))
                });
                points.push(read(&x));
            }
        }
    }
    Trajectory {
        group: spec.group.to_string(),
        name: spec.name.to_string(),
        points,
    }
}

/// Every lecture method for `steps` steps.
pub fn run(steps: usize) -> Vec<Trajectory> {
    lecture_methods()
        .iter()
        .map(|s| trajectory(s, steps))
        .collect()
}

/// Contours of f at f* + `levels`: ellipses around the minimum along A's eigenvectors.
pub fn contours(levels: &[f64]) -> Vec<Vec<(f64, f64)>> {
    // Eigenvectors (1, 1)/√2 (λ = 20) and (1, −1)/√2 (λ = 1).
    let (l1, l2) = (20.0f64, 1.0f64);
    let s = std::f64::consts::FRAC_1_SQRT_2;
    levels
        .iter()
        .map(|&c| {
            let (r1, r2) = ((2.0 * c / l1).sqrt(), (2.0 * c / l2).sqrt());
            (0..=200)
                .map(|k| {
                    let t = k as f64 / 200.0 * std::f64::consts::TAU;
                    let (u, v) = (r1 * t.cos(), r2 * t.sin());
                    (MINIMUM[0] + s * (u + v), MINIMUM[1] + s * (u - v))
                })
                .collect()
        })
        .collect()
}
