//! The backend: schedules, compiles (with a cache), checks and runs kernels.

use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;
use std::time::{Duration, Instant};

use needle_core::autodiff::topo_nodes;
use needle_core::backend::{Backend, BackendError};
use needle_core::node::NodeRef;
use needle_core::storage::Realized;

use crate::codegen::{compile, Compiled};
use crate::kernel::Kernel;
use crate::schedule::{build_kernel, inlined, is_elementwise};

/// Counters of this thread's JIT activity.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct JitStats {
    /// Kernels compiled.
    pub compilations: u64,
    /// Kernel launches served from the cache.
    pub cache_hits: u64,
    /// Total time spent compiling.
    pub compile_time: Duration,
    /// Fused kernels run.
    pub kernels_run: u64,
    /// Nodes run by the interpreter fallback (reductions, matmul, pad, concat, casts, views).
    pub fallback_nodes: u64,
}

thread_local! {
    // Per thread: compiled code and counters are only touched by the thread that realizes.
    static CACHE: RefCell<HashMap<Vec<u64>, Rc<Compiled>>> = RefCell::new(HashMap::new());
    static STATS: RefCell<JitStats> = RefCell::new(JitStats::default());
}

/// This thread's counters.
pub fn stats() -> JitStats {
    STATS.with(|s| *s.borrow())
}

/// Resets this thread's counters (the cache is kept).
pub fn reset_stats() {
    STATS.with(|s| *s.borrow_mut() = JitStats::default());
}

fn debug_enabled() -> bool {
    std::env::var("NEEDLE_DEBUG").is_ok_and(|v| v.split(',').any(|p| p.trim() == "jit"))
}

/// The Cranelift backend (see the crate documentation).
pub struct JitBackend;

fn kernel_for(kernel: &Kernel) -> Result<Rc<Compiled>, BackendError> {
    let key = kernel.key();
    if let Some(c) = CACHE.with(|c| c.borrow().get(&key).cloned()) {
        STATS.with(|s| s.borrow_mut().cache_hits += 1);
        return Ok(c);
    }
    let start = Instant::now();
    let compiled = Rc::new(compile(kernel).map_err(|message| BackendError::Other {
        backend: "jit",
        message,
    })?);
    let elapsed = start.elapsed();
    STATS.with(|s| {
        let mut s = s.borrow_mut();
        s.compilations += 1;
        s.compile_time += elapsed;
    });
    if debug_enabled() {
        eprintln!(
            "[needle-jit] compiled {} in {:.3} ms",
            kernel.describe(),
            elapsed.as_secs_f64() * 1e3
        );
    }
    CACHE.with(|c| c.borrow_mut().insert(key, compiled.clone()));
    Ok(compiled)
}

/// Verifies that every element a kernel reads lies inside its buffer: the generated loops
/// visit exactly the indices below the shape, so this check bounds every access.
fn check_bounds(kernel: &Kernel, root: &NodeRef, values: &[Realized]) -> Result<(), BackendError> {
    for (slot, v) in values.iter().enumerate() {
        if let Some((lo, hi)) = v.layout.extent() {
            let len = v.buffer.len();
            if lo < 0 || hi as usize >= len {
                return Err(BackendError::OutOfBounds {
                    backend: "jit",
                    kernel: kernel.describe(),
                    op: format!("{} input {slot} (at {})", root.op().name(), root.origin()),
                    index: if lo < 0 { lo as i64 } else { hi as i64 },
                    len,
                });
            }
        }
    }
    Ok(())
}

fn run_fused(root: &NodeRef, fused: &std::collections::HashSet<u64>) -> Result<(), BackendError> {
    let (kernel, inputs) = build_kernel(root, fused);
    let compiled = kernel_for(&kernel)?;
    let values: Vec<Realized> = inputs
        .iter()
        .map(|n| n.value().expect("realized").clone())
        .collect();
    check_bounds(&kernel, root, &values)?;
    let len: usize = root.shape().iter().product();
    let mut out: Vec<f32> = Vec::with_capacity(len);
    let mut ptrs: Vec<*mut f32> = Vec::with_capacity(values.len() + 1);
    ptrs.push(out.as_mut_ptr());
    for v in &values {
        let data = v.buffer.as_f32();
        // Derived from the whole buffer: a view with negative strides (flip) reads below its
        // first element. The kernel only reads through input pointers; *mut matches its ABI.
        ptrs.push(data.as_ptr().wrapping_add(v.layout.offset) as *mut f32);
    }
    if len == 0 {
        root.set_value(Realized::from_f32(out, root.shape()));
        return Ok(());
    }
    // SAFETY: `out` has capacity for exactly the kernel's output, which the loop nest writes
    // element by element (every index below the shape once) before `set_len` exposes it; every
    // input's strided extent was checked against its buffer above, and the buffers outlive the
    // call (held by `values`).
    unsafe {
        compiled.run(&ptrs);
        out.set_len(len);
    }
    STATS.with(|s| s.borrow_mut().kernels_run += 1);
    root.set_value(Realized::from_f32(out, root.shape()));
    Ok(())
}

impl Backend for JitBackend {
    fn name(&self) -> &'static str {
        "jit"
    }

    fn realize(&self, outputs: &[NodeRef]) -> Result<(), BackendError> {
        let order = topo_nodes(outputs, |n| !n.is_realized());
        let fused = inlined(&order, outputs);
        let debug = debug_enabled();
        for node in &order {
            if fused.contains(&node.id()) {
                continue;
            }
            if is_elementwise(node) {
                run_fused(node, &fused)?;
            } else {
                if debug {
                    eprintln!(
                        "[needle-jit] interpreter runs {} {:?} (at {})",
                        node.op().name(),
                        node.shape(),
                        node.origin()
                    );
                }
                node.set_value(needle_core::interp::evaluate(node));
                STATS.with(|s| s.borrow_mut().fallback_nodes += 1);
            }
        }
        Ok(())
    }
}
