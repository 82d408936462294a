//! Matrix products of compiled programs: a GEMM whose register-blocked micro-kernel is
//! generated as Cranelift IR ([`MicroKernel`], `gemm/microkernel.rs`) inside packed,
//! cache-blocked loops (`gemm/driver.rs`), products generated for the exact shape of a
//! program's small matmul steps (`codegen/matmul.rs`), and the gemm crate.
//!
//! The default, [`GemmPolicy::Library`], calls the gemm crate as eager mode does, so a seeded
//! run gives the same bits in every mode, run and process. The implementations sum in
//! different orders, so they agree to rounding, not bit for bit: picking one by timing would
//! make results depend on how fast the machine happened to be at that moment. That choice is
//! opt-in, like PyTorch's `cudnn.benchmark` (off by default for the same reason):
//! under [`GemmPolicy::Measure`] (`NEEDLE_JIT_GEMM=measure`) the first [`MEASURE_AFTER`]
//! products of a shape (sizes, operand orientations) call the gemm crate, the next one times
//! the implementations on the real operands and keeps the fastest for the rest of the
//! process (with `NEEDLE_DEBUG=jit` printing the times; the choices are data too:
//! [`gemm_choices`]). A matmul's fused epilogue runs on blocks of rows as each implementation
//! finishes them.
//!
//! ```
//! let (m, n, k) = (5, 3, 7);
//! let a: Vec<f32> = (0..m * k).map(|i| i as f32 * 0.25).collect();
//! let b: Vec<f32> = (0..k * n).map(|i| 1.0 - i as f32 * 0.5).collect();
//! let mut c = vec![0.0; m * n];
//! needle_jit::gemm::matmul_generated(&a, &b, &mut c, [m, n, k]);
//! let expected: f32 = (0..k).map(|p| a[p] * b[p * n]).sum();
//! assert!((c[0] - expected).abs() < 1e-4);
//! ```

mod driver;
mod microkernel;

use std::cell::Cell;
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

use rustc_hash::FxHashMap;

pub use driver::Operand;
pub(crate) use driver::RowsDone;
pub use microkernel::MicroKernel;

/// Tile of the generated micro-kernel: rows × columns of C held in registers (4 rows of two
/// f32x4 accumulators; measured against the other shapes by `cargo bench --bench gemm -- --tiles`).
pub const TILE: (usize, usize) = (4, 8);

/// Products with at least this many multiply-adds are split across threads: the bound the gemm
/// crate is given ([`needle_core::interp::PARALLEL_THRESHOLD`]), below which a fork/join costs
/// more than it saves.
pub const PARALLEL_MACS: usize = needle_core::interp::PARALLEL_THRESHOLD;

/// The two GEMM implementations a compiled program can call.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum GemmImpl {
    /// The gemm crate (the same call as eager mode: identical bits).
    Library,
    /// Packed loops around the Cranelift-generated micro-kernel.
    Generated,
    /// The function generated for the exact shape and strides of a program's matmul step
    /// (`codegen/matmul.rs`).
    Specialized,
}

/// How compiled programs pick the implementation of a matrix product.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum GemmPolicy {
    /// Time the implementations on an early product of each shape and keep the fastest
    /// (`NEEDLE_JIT_GEMM=measure`). Opt-in, like PyTorch's `cudnn.benchmark`: the choice
    /// depends on timing, and the implementations round differently, so results are no
    /// longer bit-identical to eager mode nor reproducible from one process to the next.
    Measure,
    /// Always the gemm crate (the default; `NEEDLE_JIT_GEMM=library`): bit-identical to
    /// eager mode, in every run and process.
    Library,
    /// Always generated code (`NEEDLE_JIT_GEMM=generated`): a step's shape-specialized
    /// product where it has one, otherwise the packed GEMM.
    Generated,
    /// Always the packed GEMM around the micro-kernel (`NEEDLE_JIT_GEMM=packed`).
    Packed,
}

/// What identifies a product for the per-shape choice.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct GemmShape {
    /// Rows of the result.
    pub m: usize,
    /// Columns of the result.
    pub n: usize,
    /// Inner dimension.
    pub k: usize,
    /// The left operand is read column by column (a transposed view).
    pub a_transposed: bool,
    /// The right operand is read column by column (a transposed view).
    pub b_transposed: bool,
}

/// A measured choice (see [`gemm_choices`]).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct GemmChoice {
    /// The product.
    pub shape: GemmShape,
    /// Best time of the gemm crate.
    pub library: Duration,
    /// Best time of the generated GEMM (zero when it could not be compiled).
    pub generated: Duration,
    /// Best time of the shape-specialized product (`None` when the step measured had none).
    pub specialized: Option<Duration>,
    /// The faster one, used from now on.
    pub chosen: GemmImpl,
}

thread_local! {
    static POLICY: Cell<Option<GemmPolicy>> = const { Cell::new(None) };
}

static KERNEL: OnceLock<Result<MicroKernel, String>> = OnceLock::new();
/// Products of a shape that run on the gemm crate before the shape is measured: a training
/// loop's first steps (and a cold start, W5) pay no measuring, and the caches are warm by then.
pub const MEASURE_AFTER: u32 = 2;

/// A shape's state under [`GemmPolicy::Measure`].
#[derive(Clone, Copy)]
enum ShapeState {
    /// Seen this many times, not measured yet.
    Seen(u32),
    /// Measured.
    Chosen(GemmChoice),
}

static CHOICES: Mutex<Option<FxHashMap<GemmShape, ShapeState>>> = Mutex::new(None);

/// The generated micro-kernel (compiled on first use, once per process).
pub fn micro_kernel() -> Result<&'static MicroKernel, String> {
    KERNEL
        .get_or_init(|| {
            let kernel = MicroKernel::compile(TILE.0, TILE.1);
            if crate::config::debug_flags().0 {
                match &kernel {
                    Ok(k) => eprintln!("[needle-jit] GEMM micro-kernel {}", k.describe()),
                    Err(e) => eprintln!("[needle-jit] GEMM micro-kernel failed to compile: {e}"),
                }
            }
            kernel
        })
        .as_ref()
        .map_err(Clone::clone)
}

/// This thread's policy (default from `NEEDLE_JIT_GEMM`: `library`, `measure`, `generated`
/// or `packed`; unset or anything else means [`GemmPolicy::Library`], eager mode's bits).
pub fn gemm_policy() -> GemmPolicy {
    POLICY.with(|p| match p.get() {
        Some(v) => v,
        None => {
            let v = match std::env::var("NEEDLE_JIT_GEMM").as_deref() {
                Ok("measure") => GemmPolicy::Measure,
                Ok("generated") => GemmPolicy::Generated,
                Ok("packed") => GemmPolicy::Packed,
                _ => GemmPolicy::Library,
            };
            p.set(Some(v));
            v
        }
    })
}

/// Sets this thread's policy.
pub fn set_gemm_policy(policy: GemmPolicy) {
    POLICY.with(|p| p.set(Some(policy)));
}

/// Runs `f` under `policy`, restoring the previous policy afterwards.
pub fn with_gemm_policy<R>(policy: GemmPolicy, f: impl FnOnce() -> R) -> R {
    let before = gemm_policy();
    set_gemm_policy(policy);
    struct Restore(GemmPolicy);
    impl Drop for Restore {
        fn drop(&mut self) {
            set_gemm_policy(self.0);
        }
    }
    let _restore = Restore(before);
    f()
}

/// Every per-shape choice made so far in this process, largest product first.
pub fn gemm_choices() -> Vec<GemmChoice> {
    let choices = CHOICES.lock().unwrap_or_else(|e| e.into_inner());
    let mut v: Vec<GemmChoice> = choices
        .as_ref()
        .map(|c| {
            c.values()
                .filter_map(|s| match s {
                    ShapeState::Chosen(c) => Some(*c),
                    ShapeState::Seen(_) => None,
                })
                .collect()
        })
        .unwrap_or_default();
    v.sort_by_key(|c| std::cmp::Reverse(c.shape.m * c.shape.n * c.shape.k));
    v
}

/// `c = a · b` for compact row-major `a` (m×k), `b` (k×n) and `c` (m×n) through the generated
/// GEMM, threaded above [`PARALLEL_MACS`].
///
/// # Panics
/// When a slice's length does not match its shape, or the micro-kernel cannot be compiled on
/// this host.
pub fn matmul_generated(a: &[f32], b: &[f32], c: &mut [f32], mnk: [usize; 3]) {
    let kernel = micro_kernel().unwrap_or_else(|e| panic!("generated GEMM unavailable: {e}"));
    let [m, n, k] = mnk;
    matmul_with(kernel, a, b, c, mnk, m * n * k >= PARALLEL_MACS);
}

/// [`matmul_generated`] with a given micro-kernel (see [`MicroKernel::compile`]) and
/// threading: for comparing tiles.
///
/// # Panics
/// When a slice's length does not match its shape.
pub fn matmul_with(
    kernel: &MicroKernel,
    a: &[f32],
    b: &[f32],
    c: &mut [f32],
    [m, n, k]: [usize; 3],
    parallel: bool,
) {
    assert_eq!(a.len(), m * k, "matmul: a is not {m}x{k}");
    assert_eq!(b.len(), k * n, "matmul: b is not {k}x{n}");
    assert_eq!(c.len(), m * n, "matmul: c is not {m}x{n}");
    if m * n == 0 {
        return;
    }
    if k == 0 {
        c.fill(0.0);
        return;
    }
    // SAFETY: the slices have the asserted lengths, so every element of the row-major views
    // is in bounds; `c` is exclusively borrowed and cannot overlap the operands.
    unsafe {
        driver::sgemm(
            kernel,
            [m, n, k],
            c.as_mut_ptr(),
            Operand {
                ptr: a.as_ptr(),
                rs: k as isize,
                cs: 1,
            },
            Operand {
                ptr: b.as_ptr(),
                rs: n as isize,
                cs: 1,
            },
            parallel,
            None,
        );
    }
}

/// Rows per call of a specialized product before its epilogue runs on them: a block of the
/// result that stays in L1 (at least one register block of 4 rows).
fn specialized_rows(n: usize) -> usize {
    ((16 << 10) / (4 * n.max(1))).max(4) / 4 * 4
}

/// One `m×k · k×n` product into a compact row-major destination, by this thread's policy,
/// followed by `epilogue` on its rows: inside the generated GEMM, on each block of rows as
/// it is finished (from the thread that finished it, when `threads` allows splitting large
/// products); after a specialized product's block of rows ([`specialized_rows`]); after the
/// gemm crate, as one pass over all rows. `specialized` is the step's shape-specialized
/// product, if it has one (rows `start..end` into `dst`). Returns the first non-zero status
/// of generated code ([`crate::abi::STATUS_OK`] otherwise).
///
/// # Safety
/// The contract of [`needle_core::interp::gemm_raw`]: `dst` valid for `m·n` writes and not
/// overlapping the operands, every operand element readable, strides non-negative, `k > 0`.
pub(crate) unsafe fn product(
    [m, n, k]: [usize; 3],
    dst: *mut f32,
    a: Operand,
    b: Operand,
    (specialized, epilogue): (Option<RowsDone>, Option<RowsDone>),
    threads: bool,
) -> u32 {
    let ok = crate::abi::STATUS_OK;
    let specialized_then = |f: RowsDone| {
        let block = specialized_rows(n);
        for start in (0..m).step_by(block) {
            let end = (start + block).min(m);
            let status = f(start, end);
            if status != ok {
                return status;
            }
            if let Some(e) = epilogue {
                let status = e(start, end);
                if status != ok {
                    return status;
                }
            }
        }
        ok
    };
    let library = || {
        // SAFETY: forwarded from the caller.
        unsafe {
            needle_core::interp::gemm_raw([m, n, k], dst, (a.ptr, a.rs, a.cs), (b.ptr, b.rs, b.cs))
        }
    };
    let library_then = || {
        library();
        epilogue.map_or(ok, |f| f(0, m))
    };
    let parallel = threads && m * n * k >= PARALLEL_MACS;
    let generated = |kernel: &MicroKernel, epilogue: Option<RowsDone>| {
        // SAFETY: forwarded from the caller.
        unsafe { driver::sgemm(kernel, [m, n, k], dst, a, b, parallel, epilogue) }
    };
    let packed = || {
        generated(
            micro_kernel().unwrap_or_else(|e| panic!("generated GEMM unavailable: {e}")),
            epilogue,
        )
    };
    match gemm_policy() {
        GemmPolicy::Library => library_then(),
        GemmPolicy::Generated => match specialized {
            Some(f) => specialized_then(f),
            None => packed(),
        },
        GemmPolicy::Packed => packed(),
        GemmPolicy::Measure => {
            let shape = GemmShape {
                m,
                n,
                k,
                a_transposed: a.cs != 1 && m > 1,
                b_transposed: b.cs != 1 && n > 1,
            };
            // Decide under the lock, measure outside it.
            let state = {
                let mut choices = CHOICES.lock().unwrap_or_else(|e| e.into_inner());
                let entry = choices
                    .get_or_insert_with(FxHashMap::default)
                    .entry(shape)
                    .or_insert(ShapeState::Seen(0));
                let state = *entry;
                if let ShapeState::Seen(n) = entry {
                    *n += 1;
                }
                state
            };
            match state {
                ShapeState::Chosen(c) if c.chosen == GemmImpl::Generated => {
                    generated(micro_kernel().expect("a chosen kernel compiled"), epilogue)
                }
                ShapeState::Chosen(c) if c.chosen == GemmImpl::Specialized => match specialized {
                    Some(f) => specialized_then(f),
                    None => library_then(),
                },
                ShapeState::Seen(n) if n >= MEASURE_AFTER => match micro_kernel() {
                    Ok(kernel) => {
                        // All are timed on the bare product (an epilogue writing in place
                        // must run once); the epilogue runs once after.
                        let bare = specialized.map(|f| {
                            move || {
                                f(0, m);
                            }
                        });
                        let choice = measure(
                            shape,
                            &library,
                            &|| {
                                generated(kernel, None);
                            },
                            bare.as_ref().map(|f| f as &dyn Fn()),
                        );
                        CHOICES
                            .lock()
                            .unwrap_or_else(|e| e.into_inner())
                            .get_or_insert_with(FxHashMap::default)
                            .insert(shape, ShapeState::Chosen(choice));
                        epilogue.map_or(ok, |f| f(0, m))
                    }
                    Err(_) => library_then(),
                },
                _ => library_then(),
            }
        }
    }
}

/// Times the implementations in alternating rounds (best of two, one round for products
/// above 16M multiply-adds) and leaves the fastest one's result in the destination.
fn measure(
    shape: GemmShape,
    library: &dyn Fn(),
    generated: &dyn Fn(),
    specialized: Option<&dyn Fn()>,
) -> GemmChoice {
    let rounds = if shape.m * shape.n * shape.k >= 1 << 24 {
        1
    } else {
        2
    };
    let time = |f: &dyn Fn()| {
        let start = Instant::now();
        f();
        start.elapsed()
    };
    let (mut best_library, mut best_generated) = (Duration::MAX, Duration::MAX);
    let mut best_specialized = specialized.map(|_| Duration::MAX);
    for _ in 0..rounds {
        best_library = best_library.min(time(library));
        best_generated = best_generated.min(time(generated));
        if let (Some(f), Some(best)) = (specialized, best_specialized.as_mut()) {
            *best = (*best).min(time(f));
        }
    }
    let mut runs: Vec<(Duration, GemmImpl, &dyn Fn())> = vec![
        (best_library, GemmImpl::Library, library),
        (best_generated, GemmImpl::Generated, generated),
    ];
    if let (Some(f), Some(t)) = (specialized, best_specialized) {
        runs.push((t, GemmImpl::Specialized, f));
    }
    // Ties go to the gemm crate (eager mode's bits).
    let (_, chosen, run) = runs
        .into_iter()
        .min_by_key(|&(t, i, _)| (t, i != GemmImpl::Library))
        .expect("two candidates");
    run();
    if crate::config::debug_flags().0 {
        eprintln!(
            "[needle-jit] GEMM {}x{}x{}{}{}: gemm crate {:.1} µs, generated {:.1} µs{} -> {}",
            shape.m,
            shape.n,
            shape.k,
            if shape.a_transposed {
                " (A transposed)"
            } else {
                ""
            },
            if shape.b_transposed {
                " (B transposed)"
            } else {
                ""
            },
            best_library.as_secs_f64() * 1e6,
            best_generated.as_secs_f64() * 1e6,
            best_specialized
                .map(|t| format!(", specialized {:.1} µs", t.as_secs_f64() * 1e6))
                .unwrap_or_default(),
            match chosen {
                GemmImpl::Library => "gemm crate",
                GemmImpl::Generated => "generated",
                GemmImpl::Specialized => "specialized",
            }
        );
    }
    GemmChoice {
        shape,
        library: best_library,
        generated: best_generated,
        specialized: best_specialized,
        chosen,
    }
}
