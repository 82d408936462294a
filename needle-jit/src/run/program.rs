//! A compiled program: its plan, its machine code (or the job generating it), its arena,
//! and what binding needs to know about its slots; compiling a plan into one, and the
//! program as data for inspection ([`last_program`]).

use std::cell::{Cell, RefCell};
use std::rc::Rc;
use std::sync::Arc;
use std::time::{Duration, Instant};

use needle_core::backend::BackendError;
use needle_core::storage::Buffer;

use super::host::needle_host_step;
use super::tier::{describe_function_times, Tier};
use crate::codegen;
use crate::collect::recompile::{key_change, NodeWas, Previous};
use crate::collect::Graph;
use crate::config::{debug_flags, keep_ir, tiered, TIERED_MIN_STEPS};
use crate::schedule::{Plan, StepKind};
use crate::stats::bump;

thread_local! {
    /// The program that ran last on this thread.
    pub(super) static LAST: RefCell<Option<Rc<Program>>> = const { RefCell::new(None) };
}

/// A compiled program and what it was compiled from.
pub struct Program {
    /// The schedule.
    pub plan: Plan,
    /// Its machine code, or the job generating it.
    pub(super) code: RefCell<Tier>,
    /// The structural key it was compiled for.
    pub(super) key: Vec<u64>,
    /// Where each node's part of `key` starts.
    pub(super) key_starts: Vec<usize>,
    /// Planning plus code generation (known once the code is ready).
    pub compile_time: Cell<Duration>,
    /// Whether generated code checks every index.
    pub checked: bool,
    /// Scratch memory for the plan's arena (u64 words for 8-byte alignment), reused by every
    /// run of the program on this thread.
    pub(super) arena: RefCell<Vec<u64>>,
    /// Per slot: written by an interpreter step (its buffer comes from the interpreter).
    pub(crate) host_written: Vec<bool>,
    /// Per slot: read by an interpreter step (which needs its buffer as a tensor value while
    /// the program runs, so the buffer is made before the run, initialized).
    pub(crate) host_read: Vec<bool>,
    /// The argument block and per-slot buffers of a run, kept (empty) between runs so a step
    /// does not allocate them again.
    pub(super) run_scratch: RefCell<RunScratch>,
    /// (fused kernels, matmuls, window steps, interpreter steps) per run.
    pub(super) counts: (u64, u64, u64, u64),
    /// Realizations the interpreter ran while the machine code was being generated.
    pub(super) interpreted: Cell<u64>,
}

/// Per-run tables of a program, reused across its runs.
#[derive(Default)]
pub(super) struct RunScratch {
    /// The argument block.
    pub(super) words: Vec<u64>,
    /// Per slot: the buffer that becomes (or is) a tensor's value.
    pub(super) owned: Vec<Option<Arc<Buffer>>>,
    /// Output buffers made for this run whose elements the program writes (not yet values).
    pub(super) fresh: Vec<(usize, Vec<f32>)>,
}

/// A compiled program as data (see [`last_program`]).
#[derive(Clone, Debug)]
pub struct ProgramInfo {
    /// The schedule: steps, the nodes each computes (with source lines), buffers.
    pub plan: Plan,
    /// The Cranelift IR of the program, when requested (`NEEDLE_DEBUG=jit-ir` or
    /// [`set_keep_ir`](crate::set_keep_ir)).
    pub ir: Option<String>,
    /// Planning plus code generation.
    pub compile_time: Duration,
    /// Code generation time per function of the program: each chunk function names the steps
    /// (kernels) it holds; empty while the code is still being generated.
    pub function_times: Vec<(String, Duration)>,
    /// Compiled in checked mode.
    pub checked: bool,
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

/// Plans and compiles `graph` (saying why, when `NEEDLE_DEBUG=jit`, if another program ran last).
pub(super) fn compile_program(graph: &Graph, checked: bool) -> Result<Program, BackendError> {
    let (debug, debug_ir) = debug_flags();
    if debug {
        if let Some(why) = LAST.with(|l| l.borrow().as_ref().map(|p| explain_recompile(p, graph))) {
            eprintln!("[needle-jit] recompiling: {why}");
        }
    }
    let start = Instant::now();
    let plan = Plan::new(graph);
    from_plan(plan, graph, checked, start, debug, debug_ir)
}

impl Program {
    /// Whether the machine code is being generated in the background.
    pub(super) fn compiling(&self) -> bool {
        matches!(&*self.code.borrow(), Tier::Compiling(..))
    }

    /// Whether the machine code is ready, installing it if the background thread finished.
    /// Returns the code generation error once if it failed.
    pub(super) fn code_ready(&self) -> Result<bool, BackendError> {
        self.install_code(false)
    }

    /// Whether the program has machine code, waiting for a background compile to finish
    /// (a replayed step has no interpreter to fall back on). False when code generation
    /// failed.
    pub(crate) fn wait_for_code(&self) -> Result<bool, BackendError> {
        self.install_code(true)
    }

    fn install_code(&self, wait: bool) -> Result<bool, BackendError> {
        let mut tier = self.code.borrow_mut();
        match &*tier {
            Tier::Ready(_) => return Ok(true),
            Tier::Failed => return Ok(false),
            Tier::Compiling(_, handle) if !wait && !handle.is_finished() => return Ok(false),
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

/// Why `graph` does not run `program` (for the recompile message).
fn explain_recompile(program: &Program, graph: &Graph) -> String {
    let node = |i: usize| {
        let n = &program.plan.nodes[i];
        NodeWas {
            op: &n.op,
            shape: &n.shape,
            origin: &n.origin,
        }
    };
    let previous = Previous {
        key: &program.key,
        key_starts: &program.key_starts,
        node: &node,
    };
    key_change(&previous, graph)
}

/// Compiles an already made plan of `graph` (planning started at `start`).
pub(super) fn from_plan(
    plan: Plan,
    graph: &Graph,
    checked: bool,
    start: Instant,
    debug: bool,
    debug_ir: bool,
) -> Result<Program, BackendError> {
    let planned = start.elapsed();
    let keep_ir = debug_ir || keep_ir();
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
    let (mut kernels, mut matmuls, mut windows, mut hosts) = (0, 0, 0, 0);
    for step in &plan.steps {
        match step.kind {
            StepKind::Elementwise(_) | StepKind::Reduce { .. } => kernels += 1,
            StepKind::MatMul { .. } => matmuls += 1,
            StepKind::Window { .. } => windows += 1,
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
             matmuls, {windows} window steps, {hosts} interpreter nodes) for {} graph nodes{} \
             in {:.3} ms (plan {:.3} ms, {} {:.3} ms)\n{}",
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
        counts: (kernels, matmuls, windows, hosts),
        interpreted: Cell::new(0),
    })
}
