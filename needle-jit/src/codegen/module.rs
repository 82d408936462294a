//! The Cranelift module of a program and its code memory: the host ISA and its settings,
//! the imported helpers, and [`Code`], the finished machine code that frees its memory when
//! dropped.

use cranelift_codegen::ir::FuncRef;
use cranelift_codegen::isa::OwnedTargetIsa;
use cranelift_codegen::settings::{self, Configurable};
use cranelift_frontend::FunctionBuilder;
use cranelift_jit::{ArenaMemoryProvider, JITBuilder, JITModule};
use cranelift_module::{default_libcall_names, FuncId, Module};

use super::helpers::{helpers, needle_pairwise_sum, PAIRWISE_SUM};
use crate::abi::RowsFn;
use crate::config;
use crate::schedule::{Plan, StepKind};

/// Address space reserved for one program's code and data. Every function of a module lives
/// in this one reservation, so the calls between them (32-bit relative) always reach: with
/// separately mapped pieces, a long run (the differential fuzzer, many shapes) placed parts
/// of one module more than 2 GiB apart and finalizing failed. Reserved pages cost no memory
/// until code is written to them.
const CODE_RESERVE: usize = 256 << 20;

/// A module whose code memory is returned to the system when it is dropped (Cranelift's JIT
/// module leaks it otherwise, which a long-running process compiling many shapes cannot
/// afford). Owners drop it only when no function of it can run again.
pub(crate) struct OwnedModule(pub(super) Option<JITModule>);

impl OwnedModule {
    /// The module.
    pub(super) fn get(&mut self) -> &mut JITModule {
        self.0.as_mut().expect("present until dropped")
    }
}

impl Drop for OwnedModule {
    fn drop(&mut self) {
        if let Some(module) = self.0.take() {
            // SAFETY: the owner (a `Prepared` never finished, or a `Code`) is being dropped;
            // the only pointers into this memory are the entries `Code` holds, which go with
            // it, and no run can be in progress since runs borrow the `Code`.
            unsafe { module.free_memory() };
        }
    }
}

/// Compiled machine code of a program.
pub struct Code {
    // Owns the machine code (freed with it); never read otherwise.
    /// Owns the machine code (freed with it); never read otherwise.
    pub(super) _module: OwnedModule,
    /// The program's entry.
    pub(super) entry: extern "C" fn(*mut u64) -> u32,
    /// Row-range entries by step: halves of steps split across threads, matmul epilogues.
    pub rows: Vec<(usize, RowsFn)>,
    /// Shape-specialized products by step ([`small_product`]).
    pub products: Vec<(usize, RowsFn)>,
    /// The Cranelift IR, when requested.
    pub ir: Option<String>,
    /// Code generation time of each function (which steps it holds, how long it took).
    pub function_times: Vec<(String, std::time::Duration)>,
}

impl Code {
    /// Runs the program on an argument block.
    ///
    /// # Safety
    /// `args` must hold [`args::len`] words laid out as [`args`] describes, with valid pointers
    /// for every slot (lengths as stated; outputs writable) and the run context the host steps
    /// expect.
    pub unsafe fn run(&self, args: &mut [u64]) -> u32 {
        (self.entry)(args.as_mut_ptr())
    }
}

/// Kernels up to this many elements run in a few microseconds, where Cranelift's optimizer
/// gains nothing measurable but costs a third of the compile time: chunk functions holding
/// only such kernels compile at `opt_level=none` (`NEEDLE_JIT_OPT` overrides both levels).
const SMALL_KERNEL: usize = 1 << 16;

/// The host ISA with the verifier in checked mode only (it costs about as much as code
/// generation) and the given optimization level.
pub(super) fn host_isa(verify: bool, opt_level: &str) -> Result<OwnedTargetIsa, String> {
    let mut flags = settings::builder();
    flags
        .set("enable_verifier", if verify { "true" } else { "false" })
        .map_err(|e| e.to_string())?;
    flags
        .set("opt_level", &config::opt_level(opt_level))
        .map_err(|e| e.to_string())?;
    flags.set("is_pic", "false").map_err(|e| e.to_string())?;
    flags
        .set("use_colocated_libcalls", "false")
        .map_err(|e| e.to_string())?;
    cranelift_native::builder()
        .map_err(|e| format!("host not supported by Cranelift: {e}"))?
        .finish(settings::Flags::new(flags))
        .map_err(|e| e.to_string())
}

/// Whether every kernel of `steps` is small (see [`SMALL_KERNEL`]).
pub(super) fn all_small(plan: &Plan, steps: std::ops::Range<usize>) -> bool {
    plan.steps[steps].iter().all(|s| match &s.kind {
        StepKind::Elementwise(k) => k.shape.iter().product::<usize>() <= SMALL_KERNEL,
        StepKind::Reduce { body, .. } => body.shape.iter().product::<usize>() <= SMALL_KERNEL,
        StepKind::MatMul { epilogue, .. } => epilogue
            .as_ref()
            .is_none_or(|k| k.shape.iter().product::<usize>() <= SMALL_KERNEL),
        StepKind::Host | StepKind::Window { .. } => true,
    })
}

/// A module for one program, with the helpers and the host entry point `host_step` as symbols.
pub(super) fn new_module(host_step: *const u8, verify: bool) -> Result<JITModule, String> {
    let isa = host_isa(verify, "speed")?;
    let mut builder = JITBuilder::with_isa(isa, default_libcall_names());
    for (name, addr, _) in helpers() {
        builder.symbol(name, addr);
    }
    builder.symbol("needle_host_step", host_step);
    builder.symbol(PAIRWISE_SUM, needle_pairwise_sum as *const u8);
    let memory = ArenaMemoryProvider::new_with_size(CODE_RESERVE)
        .map_err(|e| format!("reserving {CODE_RESERVE} bytes for code: {e}"))?;
    builder.memory_provider(Box::new(memory));
    Ok(JITModule::new(builder))
}

/// Imported functions, declared once per module.
pub(super) struct Imports {
    /// The scalar helpers.
    pub(super) helpers: Vec<(&'static str, FuncId)>,
    /// The host entry point.
    pub(super) host: FuncId,
    /// The pairwise sum.
    pub(super) pairwise: FuncId,
}

impl Imports {
    /// The scalar helpers as references usable in the function `b` builds.
    pub(super) fn helper_refs(
        &self,
        module: &mut JITModule,
        b: &mut FunctionBuilder,
    ) -> Vec<(&'static str, FuncRef)> {
        self.helpers
            .iter()
            .map(|(n, id)| (*n, module.declare_func_in_func(*id, b.func)))
            .collect()
    }
}
