//! The backend: keys the pending graph, compiles a program on a cache miss, binds buffers and
//! runs it.

use std::cell::{Cell, RefCell};
use std::rc::Rc;
use std::sync::Arc;
use std::time::{Duration, Instant};

use needle_core::backend::{Backend, BackendError};
use needle_core::node::NodeRef;
use needle_core::storage::Buffer;

use crate::cache::{Cache, DEFAULT_CAPACITY};
use crate::codegen::{
    self, args, Code, CompiledFunctions, Prepared, STATUS_OK, STATUS_OUT_OF_BOUNDS,
};
use crate::graph::{node_key, Graph};
use crate::host::{needle_host_step, slot_value, RunContext};
use crate::plan::{Elem, Plan, SlotKind, StepKind};

/// Counters of this thread's JIT activity. `Display` and `Debug` (in `stats.rs`) also say
/// when realizations ran in the interpreter while the program compiled in the background.
#[derive(Clone, Copy, Default, PartialEq)]
pub struct JitStats {
    /// Programs compiled (one per distinct graph structure).
    pub compilations: u64,
    /// Realizations served by an already compiled program.
    pub cache_hits: u64,
    /// Total time spent planning and compiling.
    pub compile_time: Duration,
    /// Programs run.
    pub programs_run: u64,
    /// Fused kernels (elementwise and reductions) run.
    pub kernels_run: u64,
    /// Matrix products run through the GEMM.
    pub matmuls_run: u64,
    /// Nodes run by the interpreter's kernels from inside programs (pad, concat, casts,
    /// i64 ops).
    pub fallback_nodes: u64,
    /// Realizations the interpreter ran because their program's machine code was still being
    /// generated in the background (see [`set_tiered`]).
    pub interpreted_runs: u64,
    /// Programs dropped from the cache to keep it within its bound (see
    /// [`set_cache_capacity`]).
    pub evictions: u64,
    /// Outputs written into the buffer of a dead input instead of a new buffer (parameters and
    /// optimizer state updated in place, see [`crate::plan::Donation`]).
    pub donated_buffers: u64,
}

/// Programs with at least this many steps take several milliseconds to compile: with tiered
/// compilation on, their code is generated in the background while the interpreter runs
/// the first realizations.
pub const TIERED_MIN_STEPS: usize = 12;

/// A program's machine code.
enum Tier {
    /// Compiled.
    Ready(Box<Code>),
    /// IR built; machine code being generated on a background thread (with its duration).
    Compiling(
        Box<Prepared>,
        std::thread::JoinHandle<(Result<CompiledFunctions, String>, Duration)>,
    ),
    /// Code generation failed (the error was returned once).
    Failed,
}

/// A compiled program and what it was compiled from.
pub struct Program {
    /// The schedule.
    pub plan: Plan,
    code: RefCell<Tier>,
    key: Vec<u64>,
    key_starts: Vec<usize>,
    /// Planning plus code generation (known once the code is ready).
    pub compile_time: Cell<Duration>,
    /// Whether generated code checks every index.
    pub checked: bool,
    /// Scratch memory for the plan's arena (u64 words for 8-byte alignment), reused by every
    /// run of the program on this thread.
    arena: RefCell<Vec<u64>>,
    /// Per slot: written by an interpreter step (its buffer comes from the interpreter).
    host_written: Vec<bool>,
    /// Per slot: read by an interpreter step (which needs its buffer as a tensor value while
    /// the program runs, so the buffer is made before the run, initialized).
    host_read: Vec<bool>,
    /// The argument block and per-slot buffers of a run, kept (empty) between runs so a step
    /// does not allocate them again.
    run_scratch: RefCell<RunScratch>,
    counts: (u64, u64, u64),
    /// Realizations the interpreter ran while the machine code was being generated.
    interpreted: Cell<u64>,
}

/// Per-run tables of a program, reused across its runs.
#[derive(Default)]
struct RunScratch {
    words: Vec<u64>,
    owned: Vec<Option<Arc<Buffer>>>,
    /// Output buffers made for this run whose elements the program writes (not yet values).
    fresh: Vec<(usize, Vec<f32>)>,
}

/// A compiled program as data (see [`last_program`]).
#[derive(Clone, Debug)]
pub struct ProgramInfo {
    /// The schedule: steps, the nodes each computes (with source lines), buffers.
    pub plan: Plan,
    /// The Cranelift IR of the program, when requested (`NEEDLE_DEBUG=jit-ir` or
    /// [`set_keep_ir`]).
    pub ir: Option<String>,
    /// Planning plus code generation.
    pub compile_time: Duration,
    /// Code generation time per function of the program: each chunk function names the steps
    /// (kernels) it holds; empty while the code is still being generated.
    pub function_times: Vec<(String, Duration)>,
    /// Compiled in checked mode.
    pub checked: bool,
}

thread_local! {
    // Per thread: compiled code, arenas and counters are only touched by the thread that
    // realizes.
    static CACHE: RefCell<Cache<Rc<Program>>> = RefCell::new(Cache::new(
        std::env::var("NEEDLE_JIT_CACHE")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(DEFAULT_CAPACITY),
    ));
    static LAST: RefCell<Option<Rc<Program>>> = const { RefCell::new(None) };
    static STATS: Cell<JitStats> = Cell::new(JitStats::default());
    static CHECKED: Cell<Option<bool>> = const { Cell::new(None) };
    static KEEP_IR: Cell<bool> = const { Cell::new(false) };
    static TIERED: Cell<Option<bool>> = const { Cell::new(None) };
}

/// Whether this thread uses tiered compilation (default on; `NEEDLE_JIT_TIERED=0` turns it
/// off). With it, a program of at least [`TIERED_MIN_STEPS`] steps has its machine code
/// generated on a background thread while the interpreter runs its first realizations.
/// Which realizations those are depends on timing, but not the results: the interpreter and
/// compiled code share their scalar semantics and summation order, and compiled products
/// call the same gemm crate as the interpreter under the default
/// [`GemmPolicy::Library`](crate::gemm::GemmPolicy::Library), so a seeded run gives the same
/// bits whenever the switch happens (`tests/reproducible.rs` checks it across processes).
/// Checked mode never tiers: it exists to run generated code.
pub fn tiered() -> bool {
    TIERED.with(|t| match t.get() {
        Some(v) => v,
        None => {
            let v = std::env::var("NEEDLE_JIT_TIERED").map_or(true, |v| v != "0");
            t.set(Some(v));
            v
        }
    })
}

/// Turns tiered compilation on or off for this thread.
pub fn set_tiered(on: bool) {
    TIERED.with(|t| t.set(Some(on)));
}

/// This thread's counters.
pub fn stats() -> JitStats {
    STATS.with(Cell::get)
}

/// Resets this thread's counters (the cache is kept).
pub fn reset_stats() {
    STATS.with(|s| s.set(JitStats::default()));
}

fn bump(f: impl FnOnce(&mut JitStats)) {
    STATS.with(|s| {
        let mut v = s.get();
        f(&mut v);
        s.set(v);
    });
}

/// Bounds this thread's program cache (default [`DEFAULT_CAPACITY`], or `NEEDLE_JIT_CACHE`):
/// beyond it, compiling a new program drops the one used longest ago, with its machine code
/// and arena.
pub fn set_cache_capacity(programs: usize) {
    let evicted = CACHE.with(|c| c.borrow_mut().set_capacity(programs));
    bump(|s| s.evictions += evicted.len() as u64);
}

/// Programs in this thread's cache.
pub fn cached_programs() -> usize {
    CACHE.with(|c| c.borrow().len())
}

/// Drops every compiled program of this thread.
pub fn clear_cache() {
    CACHE.with(|c| c.borrow_mut().clear());
    LAST.with(|l| *l.borrow_mut() = None);
}

/// Whether this thread compiles checked code (default: `NEEDLE_JIT_CHECKED=1`). In checked
/// mode generated code compares every index with its buffer's length and stops with
/// [`BackendError::OutOfBounds`] naming the step, the op and the index.
pub fn checked() -> bool {
    CHECKED.with(|c| match c.get() {
        Some(v) => v,
        None => {
            let v = std::env::var("NEEDLE_JIT_CHECKED").is_ok_and(|v| v == "1");
            c.set(Some(v));
            v
        }
    })
}

/// Turns checked mode on or off for this thread.
pub fn set_checked(on: bool) {
    CHECKED.with(|c| c.set(Some(on)));
}

/// Runs `f` with checked mode set to `on`, restoring the previous setting afterwards.
pub fn with_checked<R>(on: bool, f: impl FnOnce() -> R) -> R {
    let before = checked();
    set_checked(on);
    struct Restore(bool);
    impl Drop for Restore {
        fn drop(&mut self) {
            set_checked(self.0);
        }
    }
    let _restore = Restore(before);
    f()
}

/// Keep the Cranelift IR of programs compiled from now on (for [`last_program`]).
pub fn set_keep_ir(on: bool) {
    KEEP_IR.with(|k| k.set(on));
}

/// The program that ran last on this thread, as data.
pub fn last_program() -> Option<ProgramInfo> {
    LAST.with(|l| {
        l.borrow().as_ref().map(|p| ProgramInfo {
            plan: p.plan.clone(),
            ir: match &*p.code.borrow() {
                Tier::Ready(code) => code.ir.clone(),
                Tier::Compiling(prepared, _) => prepared.ir().cloned(),
                Tier::Failed => None,
            },
            compile_time: p.compile_time.get(),
            function_times: match &*p.code.borrow() {
                Tier::Ready(code) => code.function_times.clone(),
                _ => Vec::new(),
            },
            checked: p.checked,
        })
    })
}

/// (`NEEDLE_DEBUG` has `jit`, has `jit-ir`), read once per thread.
pub(crate) fn debug_flags() -> (bool, bool) {
    thread_local! {
        static FLAGS: (bool, bool) = {
            let v = std::env::var("NEEDLE_DEBUG").unwrap_or_default();
            let parts: Vec<&str> = v.split(',').map(str::trim).collect();
            (parts.iter().any(|p| *p == "jit" || *p == "jit-ir"), parts.contains(&"jit-ir"))
        };
    }
    FLAGS.with(|f| *f)
}

/// The Cranelift backend (see the crate documentation).
pub struct JitBackend;

impl Backend for JitBackend {
    fn name(&self) -> &'static str {
        "jit"
    }

    fn realize(&self, outputs: &[NodeRef]) -> Result<(), BackendError> {
        let checked = checked();
        let graph = Graph::collect(outputs, checked);
        let cached = CACHE.with(|c| c.borrow_mut().get(&graph.key).cloned());
        let program = match cached {
            Some(p) => {
                bump(|s| s.cache_hits += 1);
                p
            }
            None => {
                let p = Rc::new(compile_program(&graph, checked)?);
                let evicted = CACHE.with(|c| c.borrow_mut().insert(graph.key.clone(), p.clone()));
                if evicted.is_some() {
                    bump(|s| s.evictions += 1);
                }
                p
            }
        };
        let result = if program.code_ready()? {
            run(&program, &graph)
        } else {
            bump(|s| s.interpreted_runs += 1);
            program.interpreted.set(program.interpreted.get() + 1);
            needle_core::interp::Interpreter.realize(outputs)
        };
        LAST.with(|l| *l.borrow_mut() = Some(program));
        result
    }
}

fn compile_program(graph: &Graph, checked: bool) -> Result<Program, BackendError> {
    let (debug, debug_ir) = debug_flags();
    if debug {
        if let Some(why) = LAST.with(|l| l.borrow().as_ref().map(|p| key_change(p, graph))) {
            eprintln!("[needle-jit] recompiling: {why}");
        }
    }
    let start = Instant::now();
    let plan = Plan::new(graph);
    from_plan(plan, graph, checked, start, debug, debug_ir)
}

/// One line per compiled function with its code generation time.
fn describe_function_times(code: &Code) -> String {
    code.function_times
        .iter()
        .map(|(label, took)| format!("  {label}: {:.3} ms", took.as_secs_f64() * 1e3))
        .collect::<Vec<_>>()
        .join("\n")
}

impl Program {
    /// Whether the machine code is ready, installing it if the background thread finished.
    /// Returns the code generation error once if it failed.
    fn code_ready(&self) -> Result<bool, BackendError> {
        let mut tier = self.code.borrow_mut();
        match &*tier {
            Tier::Ready(_) => return Ok(true),
            Tier::Failed => return Ok(false),
            Tier::Compiling(_, handle) if !handle.is_finished() => return Ok(false),
            Tier::Compiling(..) => {}
        }
        let Tier::Compiling(prepared, handle) = std::mem::replace(&mut *tier, Tier::Failed) else {
            unreachable!()
        };
        let (compiled, took) = handle
            .join()
            .unwrap_or_else(|p| std::panic::resume_unwind(p));
        let code = compiled
            .and_then(|c| prepared.finish(c))
            .map_err(|message| BackendError::Other {
                backend: "jit",
                message: format!("code generation failed: {message}"),
            })?;
        if debug_flags().0 {
            eprintln!(
                "[needle-jit] machine code ready after {:.3} ms in the background (program of \
                 {} steps; realizations run by the interpreter meanwhile: {}; the compiled code \
                 runs from now on); code generation per function:\n{}",
                took.as_secs_f64() * 1e3,
                self.plan.steps.len(),
                self.interpreted.get(),
                describe_function_times(&code)
            );
        }
        *tier = Tier::Ready(Box::new(code));
        self.compile_time.set(self.compile_time.get() + took);
        bump(|s| s.compile_time += self.compile_time.get());
        Ok(true)
    }
}

/// Compiles an already made plan of `graph` (planning started at `start`).
fn from_plan(
    plan: Plan,
    graph: &Graph,
    checked: bool,
    start: Instant,
    debug: bool,
    debug_ir: bool,
) -> Result<Program, BackendError> {
    let planned = start.elapsed();
    let keep_ir = debug_ir || KEEP_IR.with(Cell::get);
    let failed = |message: String| BackendError::Other {
        backend: "jit",
        message: format!("code generation failed: {message}"),
    };
    let (prepared, job) =
        codegen::prepare(&plan, checked, keep_ir, needle_host_step as *const u8).map_err(failed)?;
    bump(|s| s.compilations += 1);
    let background = tiered() && !checked && plan.steps.len() >= TIERED_MIN_STEPS;
    let tier = if background {
        let handle = std::thread::Builder::new()
            .name("needle-jit-compile".into())
            .spawn(move || {
                let started = Instant::now();
                (job.run(), started.elapsed())
            })
            .map_err(|e| failed(format!("cannot start the compile thread: {e}")))?;
        Tier::Compiling(Box::new(prepared), handle)
    } else {
        Tier::Ready(Box::new(
            prepared
                .finish(job.run().map_err(failed)?)
                .map_err(failed)?,
        ))
    };
    let compile_time = start.elapsed();
    if !background {
        bump(|s| s.compile_time += compile_time);
    }
    let mut host_written = vec![false; plan.slots.len()];
    let mut host_read = vec![false; plan.slots.len()];
    let (mut kernels, mut matmuls, mut hosts) = (0, 0, 0);
    for step in &plan.steps {
        match step.kind {
            StepKind::Elementwise(_) | StepKind::Reduce { .. } => kernels += 1,
            StepKind::MatMul { .. } => matmuls += 1,
            StepKind::Host => {
                hosts += 1;
                host_written[step.out] = true;
                for &src in graph.inputs(step.node) {
                    if let Some(a) = &plan.access[src] {
                        host_read[a.slot] = true;
                    }
                }
            }
        }
    }
    if debug {
        eprintln!(
            "[needle-jit] {} a program of {} steps ({kernels} fused kernels, {matmuls} \
             matmuls, {hosts} interpreter nodes) for {} graph nodes{} in {:.3} ms (plan {:.3} \
             ms, {} {:.3} ms)\n{}",
            if background { "planned" } else { "compiled" },
            plan.steps.len(),
            graph.nodes.len(),
            if checked { ", checked" } else { "" },
            compile_time.as_secs_f64() * 1e3,
            planned.as_secs_f64() * 1e3,
            if background {
                "IR, machine code in the background after"
            } else {
                "codegen"
            },
            (compile_time - planned).as_secs_f64() * 1e3,
            plan.describe()
        );
        if background {
            eprintln!(
                "[needle-jit] tiered compilation: until the machine code is ready, realizations \
                 of this program run in the interpreter (same results; `NEEDLE_JIT_TIERED=0` \
                 waits for the compiler instead)"
            );
        }
        if let Tier::Ready(code) = &tier {
            eprintln!(
                "[needle-jit] code generation per function:\n{}",
                describe_function_times(code)
            );
        }
        let ir = match &tier {
            Tier::Ready(code) => code.ir.as_ref(),
            Tier::Compiling(prepared, _) => prepared.ir(),
            Tier::Failed => None,
        };
        if let Some(ir) = ir {
            eprintln!("[needle-jit] Cranelift IR:\n{ir}");
        }
    }
    let arena = RefCell::new(needle_core::storage::filled_vec(
        plan.arena_bytes / 8 + 8,
        0u64,
        || "needle-jit: the program's scratch arena".to_string(),
    ));
    Ok(Program {
        plan,
        code: RefCell::new(tier),
        key: graph.key.clone(),
        key_starts: graph.key_starts.clone(),
        compile_time: Cell::new(compile_time),
        checked,
        arena,
        host_written,
        host_read,
        run_scratch: RefCell::default(),
        counts: (kernels, matmuls, hosts),
        interpreted: Cell::new(0),
    })
}

/// Which part of the structural key differs between `program` and `graph` (for the
/// recompile message).
fn key_change(program: &Program, graph: &Graph) -> String {
    if program.key.first() != graph.key.first() {
        return "checked mode changed".into();
    }
    let n = program.key_starts.len().min(graph.key_starts.len());
    for i in 0..n {
        let old = node_key(&program.key, &program.key_starts, i);
        let new = graph.node_key(i);
        if old != new {
            let was = &program.plan.nodes[i];
            let node = &graph.nodes[i];
            let now_op = if graph.is_input[i] {
                "input".to_string()
            } else {
                node.op().name()
            };
            let part = if was.op != now_op {
                "op"
            } else if was.shape != node.shape() {
                "shape"
            } else if graph.is_input[i] {
                "strides or dtype"
            } else {
                "inputs, dtype or constants"
            };
            return format!(
                "node #{i} changed its {part}: was {} {:?} (at {}), now {now_op} {:?} (at {})",
                was.op,
                was.shape,
                was.origin,
                node.shape(),
                node.origin()
            );
        }
    }
    if program.key_starts.len() != graph.key_starts.len() {
        return format!(
            "the graph has {} nodes, the last program {}",
            graph.key_starts.len(),
            program.key_starts.len()
        );
    }
    "the requested outputs differ".into()
}

/// A buffer for an output slot read by an interpreter step during the run (so it must be a
/// tensor value from the start): recycled when the pool has one, else zeroed.
fn initialized_buffer(elem: Elem, len: usize) -> (Arc<Buffer>, u64) {
    let mut buffer = Arc::new(match elem {
        // Every element is written by the program: a recycled buffer's stale contents never
        // show.
        Elem::F32 => {
            Buffer::F32(needle_core::pool::take_f32(len).unwrap_or_else(|| vec![0.0; len]))
        }
        Elem::I64 => Buffer::I64(vec![0; len]),
    });
    let ptr = match Arc::get_mut(&mut buffer).expect("just created") {
        Buffer::F32(v) => v.as_mut_ptr() as u64,
        Buffer::I64(v) => v.as_mut_ptr() as u64,
    };
    (buffer, ptr)
}

/// An f32 output buffer the program fills: recycled, or allocated without initializing (the
/// elements are counted in with `set_len` once the program has written all of them). Checked
/// programs get NaNs instead, so an element the program failed to write shows in the tests
/// that compare their results.
fn output_buffer(len: usize, checked: bool) -> Vec<f32> {
    if checked {
        return vec![f32::NAN; len];
    }
    needle_core::pool::take_f32(len).unwrap_or_else(|| Vec::with_capacity(len))
}

/// An input buffer a run writes an output into (see [`crate::plan::Donation`]).
struct Donated {
    /// The output slot.
    out: usize,
    /// The buffer.
    buffer: Arc<Buffer>,
    /// The nodes holding the buffer: marked overwritten after the run.
    holders: Vec<NodeRef>,
}

/// The donations of the plan that are safe in this run: the input's buffer is compact, of the
/// output's length, and held by nothing but input nodes of this graph, which nothing outside
/// the graph holds, and which no step after the donating one reads (nor the donating step,
/// except at the element it writes). Then the only references that survive the run lead to
/// those nodes through graph nodes that keep their inputs for a later backward pass — and
/// those nodes are marked overwritten, so such a read fails loudly instead of seeing the new
/// value.
fn safe_donations(program: &Program, graph: &Graph) -> Vec<Donated> {
    let plan = &program.plan;
    let mut out: Vec<Donated> = Vec::new();
    if plan.donations.is_empty() {
        return out;
    }
    // (buffer address, input slot, buffer given to an output) of every f32 input, to find
    // the slots sharing a buffer.
    let mut by_buffer: Vec<(usize, usize, bool)> = plan
        .slots
        .iter()
        .enumerate()
        .filter(|(_, slot)| slot.kind == SlotKind::Input && slot.elem == Elem::F32)
        .filter_map(|(i, slot)| {
            let node = &graph.nodes[slot.node];
            (!node.is_overwritten())
                .then(|| node.value())
                .flatten()
                .map(|v| (Arc::as_ptr(&v.buffer) as usize, i, false))
        })
        .collect();
    by_buffer.sort_unstable();
    'donations: for d in &plan.donations {
        let node = &graph.nodes[plan.slots[d.input].node];
        if node.is_overwritten() {
            continue;
        }
        let Some(value) = node.value() else { continue };
        let buffer = &value.buffer;
        let address = Arc::as_ptr(buffer) as usize;
        let first = by_buffer.partition_point(|&(a, ..)| a < address);
        let given = by_buffer
            .get(first)
            .is_some_and(|&(a, _, g)| a == address && g);
        if !matches!(**buffer, Buffer::F32(_))
            || value.layout.offset != 0
            || buffer.len() != plan.slots[d.out].len
            || given
        {
            continue;
        }
        let sharing: Vec<usize> = by_buffer[first..]
            .iter()
            .take_while(|&&(a, ..)| a == address)
            .map(|&(_, slot, _)| slot)
            .collect();
        // Holders of the buffer: the graph's inputs sharing it, and nodes outside the graph
        // that those inputs keep as their own inputs (a broadcast view of a parameter keeps
        // the parameter's node for a later backward pass). `refs` counts, per holder, the
        // references the graph accounts for.
        let mut holders: Vec<NodeRef> = Vec::with_capacity(sharing.len() + 1);
        let mut refs: Vec<usize> = Vec::with_capacity(sharing.len() + 1);
        for &slot in &sharing {
            let at = plan.slots[slot].node;
            let read_late = match plan.last_read[slot] {
                Some(last) if last > d.step => true,
                Some(last) if last == d.step => !d.identity_inputs.contains(&slot),
                _ => false,
            };
            if read_late || program.host_read[slot] {
                continue 'donations;
            }
            holders.push(graph.nodes[at].clone());
            refs.push(1 + graph.uses[at] as usize);
        }
        for h in 0..sharing.len() {
            let kept = holders[h].inputs();
            for input in kept {
                let shares = input.is_realized()
                    && !input.is_overwritten()
                    && input
                        .value()
                        .is_some_and(|v| Arc::ptr_eq(&v.buffer, buffer));
                if !shares {
                    continue;
                }
                match holders.iter().position(|n| Rc::ptr_eq(n, &input)) {
                    Some(k) => refs[k] += 1,
                    None => {
                        holders.push(input);
                        refs.push(1);
                    }
                }
            }
        }
        // One reference per holder in `holders` itself, on top of the counted ones.
        let explained = holders
            .iter()
            .zip(&refs)
            .all(|(n, &r)| Rc::strong_count(n) == r + 1);
        if Arc::strong_count(buffer) != holders.len() || !explained {
            continue;
        }
        // The donating input is one of the graph's f32 inputs, so its buffer is listed.
        by_buffer[first].2 = true;
        out.push(Donated {
            out: d.out,
            buffer: buffer.clone(),
            holders,
        });
    }
    out
}

fn run(program: &Program, graph: &Graph) -> Result<(), BackendError> {
    let plan = &program.plan;
    let tier = program.code.borrow();
    let Tier::Ready(code) = &*tier else {
        unreachable!("run is called once the code is ready")
    };
    let mut scratch = std::mem::take(&mut *program.run_scratch.borrow_mut());
    let mut words = std::mem::take(&mut scratch.words);
    words.clear();
    words.resize(args::len(plan.slots.len()), 0);
    let mut owned = std::mem::take(&mut scratch.owned);
    owned.clear();
    owned.resize(plan.slots.len(), None);
    let mut fresh = std::mem::take(&mut scratch.fresh);
    let mut donated = safe_donations(program, graph);
    // By output slot, for the lookup of every owned slot below.
    donated.sort_unstable_by_key(|d| d.out);
    let mut arena = program.arena.borrow_mut();
    // 64-byte aligned start (the plan's offsets are multiples of 64).
    let arena_base = {
        let p = arena.as_mut_ptr() as usize;
        p.div_ceil(64) * 64
    };
    for (s, slot) in plan.slots.iter().enumerate() {
        let r = args::SLOTS + 3 * s;
        if matches!(slot.kind, SlotKind::Owned) {
            // Buffers are allocated with `Vec`, which aborts the process on failure.
            let node = &graph.nodes[slot.node];
            needle_core::storage::ensure_allocatable(slot.len * slot.elem.size(), || {
                format!(
                    "{} {:?} (recorded at {})",
                    node.op().name(),
                    node.shape(),
                    node.origin()
                )
            });
        }
        let donation = donated
            .binary_search_by_key(&s, |d| d.out)
            .ok()
            .map(|i| &donated[i]);
        match (slot.kind, donation) {
            (SlotKind::Input, _) => {
                let value = graph.nodes[slot.node].value().expect("inputs are realized");
                words[r] = match &*value.buffer {
                    Buffer::F32(v) => v.as_ptr() as u64,
                    Buffer::I64(v) => v.as_ptr() as u64,
                };
                words[r + 1] = value.layout.offset as u64;
                words[r + 2] = value.buffer.len() as u64;
                owned[s] = Some(value.buffer.clone());
            }
            (SlotKind::Scratch { offset }, _) => {
                words[r] = (arena_base + offset) as u64;
                words[r + 2] = slot.len as u64;
            }
            (SlotKind::Owned, _) if program.host_written[s] => {}
            (SlotKind::Owned, Some(d)) => {
                // The program writes this buffer while the input nodes holding it still
                // refer to it: a write through a pointer of a shared buffer, sound because
                // nothing can hold a reference into its elements during the run (every
                // holder of the buffer and of its nodes belongs to this graph, see
                // `safe_donations`, and no step reads it after the donating one).
                words[r] = d.buffer.as_f32().as_ptr() as u64;
                words[r + 2] = slot.len as u64;
                owned[s] = Some(d.buffer.clone());
            }
            (SlotKind::Owned, None) if slot.elem == Elem::F32 && !program.host_read[s] => {
                let mut v = output_buffer(slot.len, program.checked);
                words[r] = v.as_mut_ptr() as u64;
                words[r + 2] = slot.len as u64;
                fresh.push((s, v));
            }
            (SlotKind::Owned, None) => {
                let (buffer, ptr) = initialized_buffer(slot.elem, slot.len);
                words[r] = ptr;
                words[r + 2] = slot.len as u64;
                owned[s] = Some(buffer);
            }
        }
    }
    let mut ctx = RunContext {
        graph,
        plan,
        owned,
        error: None,
        panic: None,
        rows: &code.rows,
        products: &code.products,
        checked: program.checked,
    };
    words[args::CONTEXT] = &mut ctx as *mut RunContext as u64;
    // SAFETY: `words` follows the argument-block layout: input slots point into buffers kept
    // alive by `ctx.owned` (their lengths as stated), owned slots into buffers of at least
    // their slot's length (kept by `ctx.owned` or `fresh`, whose heap data does not move
    // until the run is over), scratch slots into the program's arena, whose size
    // the plan computed and which this run borrows exclusively; the context outlives the call.
    // A donated output slot points into an input's buffer, which the program then writes
    // while it is shared: `safe_donations` established that every holder of that buffer and
    // of its nodes belongs to this graph (so no Rust reference into its elements can be live
    // during the run), that no step after the donating one reads it, and that the donating
    // step reads it only at the element it writes (each element is loaded before it is
    // stored, and generated loads and stores are never reordered across each other).
    // Unchecked code relies on the plan: every access of a kernel was derived from the shape
    // and layout of the tensor it reads, so it stays inside that tensor's view.
    let status = unsafe { code.run(&mut words) };
    drop(arena);
    if let Some(panic) = ctx.panic.take() {
        std::panic::resume_unwind(panic);
    }
    if let Some(error) = ctx.error.take() {
        return Err(error);
    }
    if status == STATUS_OUT_OF_BOUNDS {
        let step = words[args::ERR_STEP] as usize;
        let access = words[args::ERR_ACCESS];
        let s = &plan.steps[step];
        let node = &plan.nodes[s.node];
        let what = match access {
            codegen::OUTPUT_ACCESS => "output".to_string(),
            codegen::RUN_ACCESS => "run buffer".to_string(),
            i => format!("input {i}"),
        };
        let part = match s.kind {
            StepKind::MatMul { .. } => " epilogue",
            _ => "",
        };
        return Err(BackendError::OutOfBounds {
            backend: "jit",
            kernel: format!("step {step}{part} ({what})"),
            op: format!("{} {:?} {}", node.op, node.shape, node.recorded()),
            index: words[args::ERR_INDEX] as i64,
            len: words[args::ERR_LEN] as usize,
        });
    }
    debug_assert_eq!(status, STATUS_OK);
    for (s, mut v) in fresh.drain(..) {
        // SAFETY: the program ran to completion, and every output slot is written in full:
        // elementwise and reduction kernels store every element of their compact output, the
        // GEMM every element of its product (zeros when k = 0). `v` was allocated with
        // capacity `len` (or is a recycled or NaN-filled buffer of that length).
        unsafe { v.set_len(plan.slots[s].len) };
        ctx.owned[s] = Some(Arc::new(Buffer::F32(v)));
    }
    for d in &donated {
        let by = graph.nodes[plan.slots[d.out].node].origin();
        for holder in &d.holders {
            holder.mark_overwritten(by);
        }
    }
    let (kernels, matmuls, hosts) = program.counts;
    bump(|st| {
        st.donated_buffers += donated.len() as u64;
        st.programs_run += 1;
        st.kernels_run += kernels;
        st.matmuls_run += matmuls;
        st.fallback_nodes += hosts;
    });
    for &w in &plan.wanted {
        let node = &graph.nodes[w];
        if node.is_realized() {
            continue;
        }
        let access = plan.access[w].as_ref().expect("wanted values are stored");
        node.set_value(slot_value(&ctx.owned, &words, access, node.shape()));
    }
    let mut owned = std::mem::take(&mut ctx.owned);
    owned.clear();
    *program.run_scratch.borrow_mut() = RunScratch {
        words,
        owned,
        fresh,
    };
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::StepKind;
    use needle_core::{with_mode, Mode, Tensor};

    /// A plan whose kernel reads past its input (impossible from a real graph, so made by
    /// hand): checked code must stop with an error naming the step, the op and the index,
    /// and leave the process running.
    #[test]
    fn checked_code_reports_an_out_of_bounds_read() {
        let y = with_mode(Mode::Lazy, || {
            let x = Tensor::from_vec(vec![1.0, 2.0, 3.0, 4.0], &[4]);
            &x * 2.0
        });
        let graph = Graph::collect(&[y.node()], true);
        let mut plan = Plan::new(&graph);
        let StepKind::Elementwise(kernel) = &mut plan.steps[0].kind else {
            panic!("expected one elementwise step: {}", plan.describe());
        };
        kernel.inputs[0].strides = vec![3];
        let program = from_plan(plan, &graph, true, Instant::now(), false, false).unwrap();
        let err = run(&program, &graph).unwrap_err();
        let BackendError::OutOfBounds {
            kernel,
            op,
            index,
            len,
            ..
        } = &err
        else {
            panic!("expected an out-of-bounds error, got {err}");
        };
        assert_eq!((*index, *len), (6, 4), "{err}");
        assert!(kernel.contains("step 0 (input 0)"), "{err}");
        assert!(
            op.contains("mul_scalar(2)") && op.contains("runtime.rs"),
            "{err}"
        );
        assert!(!y.is_realized(), "nothing is delivered on failure");
    }

    /// The same for a matmul's epilogue, which runs from inside the GEMM's host step: its
    /// error travels back through the block and names the epilogue.
    #[test]
    fn checked_code_reports_an_out_of_bounds_read_in_a_matmul_epilogue() {
        let y = with_mode(Mode::Lazy, || {
            let x = Tensor::from_vec(vec![1.0, 2.0, 3.0, 4.0, 5.0, 6.0], &[2, 3]);
            let w = Tensor::from_vec(vec![1.0, 0.0, 0.0, 1.0, 1.0, 1.0], &[3, 2]);
            let b = Tensor::from_vec(vec![0.5, -0.5], &[1, 2]);
            (&x.matmul(&w) + &b.broadcast_to(&[2, 2])).relu()
        });
        let graph = Graph::collect(&[y.node()], true);
        let mut plan = Plan::new(&graph);
        let StepKind::MatMul {
            epilogue: Some(e), ..
        } = &mut plan.steps[0].kind
        else {
            panic!("expected a matmul with its epilogue: {}", plan.describe());
        };
        let bias = e
            .inputs
            .iter()
            .position(|a| a.strides == [0, 1])
            .expect("the broadcast bias");
        e.inputs[bias].strides = vec![0, 2];
        let program = from_plan(plan, &graph, true, Instant::now(), false, false).unwrap();
        let err = run(&program, &graph).unwrap_err();
        let BackendError::OutOfBounds {
            kernel, index, len, ..
        } = &err
        else {
            panic!("expected an out-of-bounds error, got {err}");
        };
        assert_eq!((*index, *len), (2, 2), "{err}");
        assert!(
            kernel.contains(&format!("step 0 epilogue (input {bias})")),
            "{err}"
        );
        assert!(!y.is_realized(), "nothing is delivered on failure");
    }

    #[test]
    fn the_same_plan_unchecked_has_no_bounds_checks_and_runs() {
        let y = with_mode(Mode::Lazy, || {
            let x = Tensor::from_vec(vec![1.0, 2.0, 3.0, 4.0], &[4]);
            &x * 2.0
        });
        let graph = Graph::collect(&[y.node()], false);
        let plan = Plan::new(&graph);
        let program = from_plan(plan, &graph, false, Instant::now(), false, false).unwrap();
        run(&program, &graph).unwrap();
        assert_eq!(y.to_vec(), vec![2.0, 4.0, 6.0, 8.0]);
    }
}
