//! Cranelift code generation: a whole [`Plan`] becomes one function in one `JITModule`.
//!
//! The function is `extern "C" fn(args: *mut u64) -> u32`. `args` is the program's argument
//! block ([`args`] gives the layout): the run context, an error record, and per buffer slot its
//! pointer, element offset and length. Fused elementwise kernels and reductions are loop nests
//! in the function; matmuls and interpreter-run nodes are calls to [`crate::host`]'s entry
//! point, which reads the same block. Transcendental functions call the interpreter's scalar
//! functions, so results are bit-identical to eager mode.

mod expr;
mod matmul;
mod reduce;
mod sum;

pub use matmul::{small_product, SmallProduct};
pub use sum::run_buffer_len;

use cranelift_codegen::ir::condcodes::IntCC;
use std::sync::atomic::{AtomicUsize, Ordering};

use cranelift_codegen::control::ControlPlane;
use cranelift_codegen::ir::{
    types, AbiParam, Block, FuncRef, Function, InstBuilder, MemFlagsData, UserFuncName, Value,
};
use cranelift_codegen::isa::OwnedTargetIsa;
use cranelift_codegen::settings::{self, Configurable};
use cranelift_codegen::Context;
use cranelift_frontend::{FunctionBuilder, FunctionBuilderContext};
use cranelift_jit::{ArenaMemoryProvider, JITBuilder, JITModule};
use cranelift_module::{default_libcall_names, FuncId, Linkage, Module, ModuleReloc};

use crate::kernel::{Access, Kernel};
use crate::math::{helpers, needle_pairwise_sum, PAIRWISE_SUM};
use crate::plan::{Elem, Plan, StepKind};

/// Layout of the argument block (indices of u64 words).
pub mod args {
    /// Pointer to the run context (host steps).
    pub const CONTEXT: usize = 0;
    /// Checked mode: the step that made an out-of-bounds access.
    pub const ERR_STEP: usize = 1;
    /// Checked mode: which access (kernel input number, or [`super::OUTPUT_ACCESS`]).
    pub const ERR_ACCESS: usize = 2;
    /// Checked mode: the offending element index.
    pub const ERR_INDEX: usize = 3;
    /// Checked mode: the buffer's length.
    pub const ERR_LEN: usize = 4;
    /// First slot record: slot `s` has its pointer at `SLOTS + 3s`, its element offset at
    /// `SLOTS + 3s + 1` and its length in elements at `SLOTS + 3s + 2`.
    pub const SLOTS: usize = 5;

    /// Words of the block for `slots` slots.
    pub fn len(slots: usize) -> usize {
        SLOTS + 3 * slots
    }
}

/// The access number reported for a kernel's output store.
pub const OUTPUT_ACCESS: u64 = 1 << 20;
/// The access number reported for the buffer a sum gathers a run into.
pub const RUN_ACCESS: u64 = (1 << 20) + 1;

/// The entry's status: success.
pub const STATUS_OK: u32 = 0;
/// The entry's status: a host step failed (its error is in the run context).
pub const STATUS_HOST_ERROR: u32 = 1;
/// The entry's status: checked code found an out-of-bounds index (recorded in the block).
pub const STATUS_OUT_OF_BOUNDS: u32 = 2;

/// Address space reserved for one program's code and data. Every function of a module lives
/// in this one reservation, so the calls between them (32-bit relative) always reach: with
/// separately mapped pieces, a long run (the differential fuzzer, many shapes) placed parts
/// of one module more than 2 GiB apart and finalizing failed. Reserved pages cost no memory
/// until code is written to them.
const CODE_RESERVE: usize = 256 << 20;

/// A module whose code memory is returned to the system when it is dropped (Cranelift's JIT
/// module leaks it otherwise, which a long-running process compiling many shapes cannot
/// afford). Owners drop it only when no function of it can run again.
pub(crate) struct OwnedModule(Option<JITModule>);

impl OwnedModule {
    fn get(&mut self) -> &mut JITModule {
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
    _module: OwnedModule,
    entry: extern "C" fn(*mut u64) -> u32,
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
fn host_isa(verify: bool, opt_level: &str) -> Result<OwnedTargetIsa, String> {
    let mut flags = settings::builder();
    flags
        .set("enable_verifier", if verify { "true" } else { "false" })
        .map_err(|e| e.to_string())?;
    flags
        .set(
            "opt_level",
            &std::env::var("NEEDLE_JIT_OPT").unwrap_or(opt_level.into()),
        )
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
fn all_small(plan: &Plan, steps: std::ops::Range<usize>) -> bool {
    plan.steps[steps].iter().all(|s| match &s.kind {
        StepKind::Elementwise(k) => k.shape.iter().product::<usize>() <= SMALL_KERNEL,
        StepKind::Reduce { body, .. } => body.shape.iter().product::<usize>() <= SMALL_KERNEL,
        StepKind::MatMul { epilogue, .. } => epilogue
            .as_ref()
            .is_none_or(|k| k.shape.iter().product::<usize>() <= SMALL_KERNEL),
        StepKind::Host => true,
    })
}

fn new_module(host_step: *const u8, verify: bool) -> Result<JITModule, String> {
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
struct Imports {
    helpers: Vec<(&'static str, FuncId)>,
    host: FuncId,
    pairwise: FuncId,
}

impl Imports {
    /// The scalar helpers as references usable in the function `b` builds.
    fn helper_refs(
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

/// Below this many steps a program is one function compiled on the calling thread; above,
/// its steps are split into chunk functions compiled on two threads (Cranelift compiles a
/// function on one core, and a program of a hundred kernels takes tens of milliseconds).
const PARALLEL_STEPS: usize = 12;
/// Chunk functions per program above [`PARALLEL_STEPS`]: more than the two threads, so a
/// chunk of heavy kernels does not leave one thread idle.
const CHUNKS: usize = 6;

/// A program whose IR is built and whose module waits for the machine code of its functions
/// (see [`prepare`]). Stays on the thread that made it.
pub struct Prepared {
    module: OwnedModule,
    labels: Vec<String>,
    main: Function,
    main_id: FuncId,
    rows_ids: Vec<(usize, FuncId)>,
    product_ids: Vec<(usize, FuncId)>,
    ir: Option<String>,
}

/// The expensive part of compiling a program — Cranelift code generation for each function —
/// as a job that may run on another thread.
pub struct CompileJob {
    functions: Vec<(FuncId, Function)>,
    quick: Vec<bool>,
    checked: bool,
}

/// Machine code of a program's functions, ready for [`Prepared::finish`], with the time each
/// took.
pub struct CompiledFunctions(Vec<(FuncId, Compiled, std::time::Duration)>);

/// Builds the IR of `plan` as one module: chunk functions holding consecutive steps, and the
/// entry function calling them in order. `host_step` is the address of the host entry point
/// (`extern "C" fn(*mut u64, u64) -> u32`). In `checked` mode every load and store compares
/// its index with the buffer's length first. Returns the module part, which stays on this
/// thread, and the code-generation job; [`Prepared::finish`] takes the job's result.
pub fn prepare(
    plan: &Plan,
    checked: bool,
    keep_ir: bool,
    host_step: *const u8,
) -> Result<(Prepared, CompileJob), String> {
    let mut module = new_module(host_step, checked)?;
    let ptr = module.target_config().pointer_type();
    let mut helper_ids = Vec::new();
    for (name, _, arity) in helpers() {
        let mut sig = module.make_signature();
        for _ in 0..arity {
            sig.params.push(AbiParam::new(types::F32));
        }
        sig.returns.push(AbiParam::new(types::F32));
        let id = module
            .declare_function(name, Linkage::Import, &sig)
            .map_err(|e| e.to_string())?;
        helper_ids.push((name, id));
    }
    let mut host_sig = module.make_signature();
    host_sig.params.push(AbiParam::new(ptr));
    host_sig.params.push(AbiParam::new(types::I64));
    host_sig.returns.push(AbiParam::new(types::I32));
    let host = module
        .declare_function("needle_host_step", Linkage::Import, &host_sig)
        .map_err(|e| e.to_string())?;
    let mut pairwise_sig = module.make_signature();
    pairwise_sig.params.push(AbiParam::new(ptr));
    pairwise_sig.params.push(AbiParam::new(types::I64));
    pairwise_sig.returns.push(AbiParam::new(types::F32));
    let pairwise = module
        .declare_function(PAIRWISE_SUM, Linkage::Import, &pairwise_sig)
        .map_err(|e| e.to_string())?;
    let imports = Imports {
        helpers: helper_ids,
        host,
        pairwise,
    };
    let mut sig = module.make_signature();
    sig.params.push(AbiParam::new(ptr));
    sig.returns.push(AbiParam::new(types::I32));
    let chunks = split(plan);
    let mut chunk_ids = Vec::new();
    for c in 0..chunks.len() {
        chunk_ids.push(
            module
                .declare_function(&format!("chunk{c}"), Linkage::Local, &sig)
                .map_err(|e| e.to_string())?,
        );
    }
    let main_id = module
        .declare_function("program", Linkage::Local, &sig)
        .map_err(|e| e.to_string())?;
    let mut rows_sig = module.make_signature();
    rows_sig.params.push(AbiParam::new(ptr));
    rows_sig.params.push(AbiParam::new(types::I64));
    rows_sig.params.push(AbiParam::new(types::I64));
    rows_sig.returns.push(AbiParam::new(types::I32));
    let mut rows_ids = Vec::new();
    for s in 0..plan.steps.len() {
        if rows_kernel(plan, s, checked).is_some() {
            let id = module
                .declare_function(&format!("rows{s}"), Linkage::Local, &rows_sig)
                .map_err(|e| e.to_string())?;
            rows_ids.push((s, id));
        }
    }
    let mut product_ids = Vec::new();
    for s in 0..plan.steps.len() {
        if small_product(plan, s).is_some() {
            let id = module
                .declare_function(&format!("product{s}"), Linkage::Local, &rows_sig)
                .map_err(|e| e.to_string())?;
            product_ids.push((s, id));
        }
    }
    let fma = module
        .isa()
        .isa_flags()
        .iter()
        .any(|f| f.name == "has_fma" && f.as_bool() == Some(true));
    let mut fctx = FunctionBuilderContext::new();
    let mut functions = Vec::with_capacity(chunks.len());
    // Per function: compiled at opt_level=none (only small kernels in it).
    let mut quick: Vec<bool> = chunks.iter().map(|r| all_small(plan, r.clone())).collect();
    quick.extend(rows_ids.iter().map(|&(s, _)| all_small(plan, s..s + 1)));
    let labels: Vec<String> = chunks
        .iter()
        .enumerate()
        .map(|(c, r)| format!("chunk{c} (steps {}..{})", r.start, r.end))
        .chain(rows_ids.iter().map(|&(s, _)| match plan.steps[s].kind {
            StepKind::MatMul { .. } => format!("rows{s} (step {s}, matmul epilogue)"),
            _ => format!("rows{s} (step {s}, split)"),
        }))
        .chain(
            product_ids
                .iter()
                .map(|&(s, _)| format!("product{s} (step {s}, specialized matmul)")),
        )
        .collect();
    // Hand-scheduled register blocks compile at opt_level=none (see `matmul`).
    quick.extend(product_ids.iter().map(|_| true));
    for (range, &id) in chunks.iter().zip(&chunk_ids) {
        let mut func =
            Function::with_name_signature(UserFuncName::user(0, id.as_u32()), sig.clone());
        build_chunk(
            &mut module,
            &mut func,
            &mut fctx,
            &imports,
            plan,
            range.clone(),
            checked,
        );
        functions.push((id, func));
    }
    for &(s, id) in &rows_ids {
        let kernel = rows_kernel(plan, s, checked).expect("declared above");
        let mut func =
            Function::with_name_signature(UserFuncName::user(0, id.as_u32()), rows_sig.clone());
        build_rows(
            &mut module,
            &mut func,
            &mut fctx,
            &imports,
            kernel,
            s,
            checked,
        );
        functions.push((id, func));
    }
    for &(s, id) in &product_ids {
        let product = small_product(plan, s).expect("declared above");
        let mut func =
            Function::with_name_signature(UserFuncName::user(0, id.as_u32()), rows_sig.clone());
        build_product(&mut module, &mut func, &mut fctx, &product, fma);
        functions.push((id, func));
    }
    let mut main =
        Function::with_name_signature(UserFuncName::user(0, main_id.as_u32()), sig.clone());
    build_main(&mut module, &mut main, &mut fctx, &chunk_ids);
    let ir = keep_ir.then(|| {
        functions
            .iter()
            .map(|(_, f)| f.display().to_string())
            .chain(std::iter::once(main.display().to_string()))
            .collect::<Vec<_>>()
            .join("\n")
    });
    Ok((
        Prepared {
            module: OwnedModule(Some(module)),
            labels,
            main,
            main_id,
            rows_ids,
            product_ids,
            ir,
        },
        CompileJob {
            functions,
            quick,
            checked,
        },
    ))
}

impl CompileJob {
    /// Generates machine code for every function, on two threads when there are several.
    pub fn run(self) -> Result<CompiledFunctions, String> {
        let CompileJob {
            functions,
            quick,
            checked,
        } = self;
        let isa = host_isa(checked, "speed")?;
        let quick_isa = host_isa(checked, "none")?;
        let compile_one =
            |(id, func): &(FuncId, Function), quick: bool| -> Result<Compiled, String> {
                let isa = if quick { &*quick_isa } else { &*isa };
                let mut ctx = Context::for_function(func.clone());
                let code = ctx
                    .compile(isa, &mut ControlPlane::default())
                    .map_err(|e| format!("{:?}", e.inner))?;
                let alignment = (code.buffer.alignment as u64)
                    .max(isa.function_alignment().minimum as u64)
                    .max(isa.symbol_alignment());
                let relocs = code
                    .buffer
                    .relocs()
                    .iter()
                    .map(|r| ModuleReloc::from_mach_reloc(r, func, *id))
                    .collect();
                Ok(Compiled {
                    bytes: code.code_buffer().to_vec(),
                    alignment,
                    relocs,
                })
            };
        let compiled: Vec<Result<(Compiled, std::time::Duration), String>> = if functions.len() == 1
        {
            let started = std::time::Instant::now();
            vec![compile_one(&functions[0], quick[0]).map(|c| (c, started.elapsed()))]
        } else {
            let next = AtomicUsize::new(0);
            let work = || {
                let mut done = Vec::new();
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    if i >= functions.len() {
                        return done;
                    }
                    let started = std::time::Instant::now();
                    let code = compile_one(&functions[i], quick[i]);
                    done.push((i, code.map(|c| (c, started.elapsed()))));
                }
            };
            type Done = (usize, Result<(Compiled, std::time::Duration), String>);
            let mut results: Vec<Done> = std::thread::scope(|s| {
                let helper = s.spawn(work);
                let mut mine = work();
                mine.extend(helper.join().expect("compile thread"));
                mine
            });
            results.sort_by_key(|(i, _)| *i);
            results.into_iter().map(|(_, r)| r).collect()
        };
        functions
            .iter()
            .zip(compiled)
            .map(|((id, _), code)| code.map(|(c, took)| (*id, c, took)))
            .collect::<Result<Vec<_>, String>>()
            .map(CompiledFunctions)
    }
}

impl Prepared {
    /// The Cranelift IR, when it was kept.
    pub fn ir(&self) -> Option<&String> {
        self.ir.as_ref()
    }

    /// Installs the machine code and finalizes the module.
    pub fn finish(self, compiled: CompiledFunctions) -> Result<Code, String> {
        let Prepared {
            module: mut owned,
            labels,
            main,
            main_id,
            rows_ids,
            product_ids,
            ir,
        } = self;
        let module = owned.get();
        let function_times = labels
            .into_iter()
            .zip(compiled.0.iter().map(|(_, _, took)| *took))
            .collect();
        for (id, code, _) in compiled.0 {
            module
                .define_function_bytes(id, code.alignment, &code.bytes, &code.relocs)
                .map_err(|e| e.to_string())?;
        }
        let mut ctx = Context::for_function(main);
        module
            .define_function(main_id, &mut ctx)
            .map_err(|e| format!("{e:?}"))?;
        module.finalize_definitions().map_err(|e| e.to_string())?;
        let entries = |ids: &[(usize, FuncId)]| -> Vec<(usize, RowsFn)> {
            ids.iter()
                .map(|&(s, id)| {
                    let code = module.get_finalized_function(id);
                    // SAFETY: finalized code of a function declared with (pointer, i64, i64)
                    // -> i32 in this ISA's C calling convention; the module is kept alive with
                    // it.
                    (s, unsafe { std::mem::transmute::<*const u8, RowsFn>(code) })
                })
                .collect()
        };
        let rows = entries(&rows_ids);
        let products = entries(&product_ids);
        let code = module.get_finalized_function(main_id);
        // SAFETY: `code` is the finalized machine code of a function declared with the signature
        // (pointer) -> i32 in this ISA's C calling convention; the module is kept alive with it.
        let entry =
            unsafe { std::mem::transmute::<*const u8, extern "C" fn(*mut u64) -> u32>(code) };
        Ok(Code {
            _module: owned,
            entry,
            rows,
            products,
            ir,
            function_times,
        })
    }
}

/// True when step `kernel` is split across threads (never in checked mode, where both halves
/// would record errors in one block).
pub fn parallel_step(kernel: &Kernel, checked: bool) -> bool {
    !checked && kernel.parallel()
}

/// The entry of a kernel over a range of its outermost axis, `(args, first row, end row)`:
/// one half of a step split across threads, or a matmul's epilogue on the rows the GEMM has
/// finished. Returns a status like the program's entry.
pub type RowsFn = extern "C" fn(*mut u64, i64, i64) -> u32;

/// The kernel of step `s` that is compiled as a [`RowsFn`], if any: a split elementwise step
/// or a matmul's epilogue (in checked mode too: its checks report through the block).
pub fn rows_kernel(plan: &Plan, s: usize, checked: bool) -> Option<&Kernel> {
    match &plan.steps[s].kind {
        StepKind::Elementwise(k) if parallel_step(k, checked) => Some(k),
        StepKind::MatMul {
            epilogue: Some(k), ..
        } => Some(k),
        _ => None,
    }
}

/// A kernel as its own function over a range of its outermost axis.
fn build_rows(
    module: &mut JITModule,
    func: &mut Function,
    fctx: &mut FunctionBuilderContext,
    imports: &Imports,
    kernel: &Kernel,
    step: usize,
    checked: bool,
) {
    let mut b = FunctionBuilder::new(func, fctx);
    let helper_refs = imports.helper_refs(module, &mut b);
    let entry = b.create_block();
    b.append_block_params_for_function_params(entry);
    let oob = b.create_block();
    for _ in 0..4 {
        b.append_block_param(oob, types::I64);
    }
    b.switch_to_block(entry);
    let params = b.block_params(entry).to_vec();
    let mut e = Emitter {
        b: &mut b,
        args: params[0],
        helpers: &helper_refs,
        pairwise: None,
        checked,
        oob,
        step,
        substitute: None,
        outer_range: Some((params[1], params[2])),
        row: None,
    };
    e.elementwise(kernel);
    let ok = b.ins().iconst(types::I32, STATUS_OK as i64);
    b.ins().return_(&[ok]);
    // Unchecked code never branches here.
    b.switch_to_block(oob);
    let oob_params = b.block_params(oob).to_vec();
    record_out_of_bounds(&mut b, params[0], &oob_params);
    b.seal_all_blocks();
    b.finalize(module.target_config());
}

/// A shape-specialized product as its own function over a range of rows.
fn build_product(
    module: &mut JITModule,
    func: &mut Function,
    fctx: &mut FunctionBuilderContext,
    product: &SmallProduct,
    fma: bool,
) {
    let mut b = FunctionBuilder::new(func, fctx);
    let entry = b.create_block();
    b.append_block_params_for_function_params(entry);
    let oob = b.create_block();
    b.switch_to_block(entry);
    let params = b.block_params(entry).to_vec();
    let mut e = Emitter {
        b: &mut b,
        args: params[0],
        helpers: &[],
        pairwise: None,
        // The host step checks both operands' extents before it calls the product.
        checked: false,
        oob,
        step: 0,
        substitute: None,
        outer_range: Some((params[1], params[2])),
        row: None,
    };
    e.small_matmul(product, fma);
    let ok = b.ins().iconst(types::I32, STATUS_OK as i64);
    b.ins().return_(&[ok]);
    // Never branched to (no checks); completes the function.
    b.switch_to_block(oob);
    let status = b.ins().iconst(types::I32, STATUS_OUT_OF_BOUNDS as i64);
    b.ins().return_(&[status]);
    b.seal_all_blocks();
    b.finalize(module.target_config());
}

/// Machine code of one function, ready to be placed in the module.
struct Compiled {
    bytes: Vec<u8>,
    alignment: u64,
    relocs: Vec<ModuleReloc>,
}

/// Consecutive step ranges of about equal weight (fused expressions dominate compile time).
fn split(plan: &Plan) -> Vec<std::ops::Range<usize>> {
    let n = plan.steps.len();
    if n < PARALLEL_STEPS {
        return std::iter::once(0..n).collect();
    }
    let weight = |s: &crate::plan::Step| -> usize {
        match &s.kind {
            StepKind::Elementwise(k) => 4 + k.exprs.len(),
            StepKind::Reduce { body, epilogue, .. } => {
                8 + body.exprs.len() + epilogue.as_ref().map_or(0, |k| k.exprs.len())
            }
            // The epilogue is a function of its own.
            _ => 1,
        }
    };
    let total: usize = plan.steps.iter().map(weight).sum();
    let target = total.div_ceil(CHUNKS);
    let mut chunks = Vec::new();
    let (mut start, mut acc) = (0, 0);
    for (i, s) in plan.steps.iter().enumerate() {
        acc += weight(s);
        if acc >= target && chunks.len() + 1 < CHUNKS {
            chunks.push(start..i + 1);
            start = i + 1;
            acc = 0;
        }
    }
    if start < n {
        chunks.push(start..n);
    }
    chunks
}

/// The entry function: calls each chunk in order, returning the first non-zero status.
fn build_main(
    module: &mut JITModule,
    func: &mut Function,
    fctx: &mut FunctionBuilderContext,
    chunks: &[FuncId],
) {
    let mut b = FunctionBuilder::new(func, fctx);
    let refs: Vec<FuncRef> = chunks
        .iter()
        .map(|&id| module.declare_func_in_func(id, b.func))
        .collect();
    let entry = b.create_block();
    b.append_block_params_for_function_params(entry);
    let fail = b.create_block();
    b.append_block_param(fail, types::I32);
    b.switch_to_block(entry);
    let args_ptr = b.block_params(entry)[0];
    for f in refs {
        let call = b.ins().call(f, &[args_ptr]);
        let status = b.inst_results(call)[0];
        let next = b.create_block();
        b.ins().brif(status, fail, &[status.into()], next, &[]);
        b.switch_to_block(next);
    }
    let ok = b.ins().iconst(types::I32, STATUS_OK as i64);
    b.ins().return_(&[ok]);
    b.switch_to_block(fail);
    let status = b.block_params(fail)[0];
    b.ins().return_(&[status]);
    b.seal_all_blocks();
    b.finalize(module.target_config());
}

/// One chunk function: the steps in `range`, in order.
fn build_chunk(
    module: &mut JITModule,
    func: &mut Function,
    fctx: &mut FunctionBuilderContext,
    imports: &Imports,
    plan: &Plan,
    range: std::ops::Range<usize>,
    checked: bool,
) {
    let mut b = FunctionBuilder::new(func, fctx);
    let helper_refs = imports.helper_refs(module, &mut b);
    let host = module.declare_func_in_func(imports.host, b.func);
    let pairwise = module.declare_func_in_func(imports.pairwise, b.func);
    let entry = b.create_block();
    b.append_block_params_for_function_params(entry);
    let oob = b.create_block();
    for _ in 0..4 {
        b.append_block_param(oob, types::I64);
    }
    let fail = b.create_block();
    b.append_block_param(fail, types::I32);
    b.switch_to_block(entry);
    let args_ptr = b.block_params(entry)[0];
    let mut e = Emitter {
        b: &mut b,
        args: args_ptr,
        helpers: &helper_refs,
        pairwise: Some(pairwise),
        checked,
        oob,
        step: 0,
        substitute: None,
        outer_range: None,
        row: None,
    };
    for s in range {
        let step = &plan.steps[s];
        e.step = s;
        match &step.kind {
            StepKind::Elementwise(kernel) if !(parallel_step(kernel, checked)) => {
                e.elementwise(kernel)
            }
            StepKind::Reduce {
                op,
                axes,
                body,
                value,
                run,
                epilogue,
            } => e.reduce(*op, axes, (body, *value), step.out, *run, epilogue.as_ref()),
            StepKind::MatMul { .. } | StepKind::Host | StepKind::Elementwise(_) => {
                let index = e.b.ins().iconst(types::I64, s as i64);
                let call = e.b.ins().call(host, &[args_ptr, index]);
                let status = e.b.inst_results(call)[0];
                let next = e.b.create_block();
                e.b.ins().brif(status, fail, &[status.into()], next, &[]);
                e.b.switch_to_block(next);
            }
        }
    }
    let ok = b.ins().iconst(types::I32, STATUS_OK as i64);
    b.ins().return_(&[ok]);
    // Out of bounds: record (step, access, index, length) and return.
    b.switch_to_block(oob);
    let params = b.block_params(oob).to_vec();
    record_out_of_bounds(&mut b, args_ptr, &params);
    b.switch_to_block(fail);
    let status = b.block_params(fail)[0];
    b.ins().return_(&[status]);
    b.seal_all_blocks();
    b.finalize(module.target_config());
}

/// The out-of-bounds exit: records (step, access, index, length) in the argument block and
/// returns [`STATUS_OUT_OF_BOUNDS`].
fn record_out_of_bounds(b: &mut FunctionBuilder, args_ptr: Value, params: &[Value]) {
    let flags = MemFlagsData::trusted();
    for (word, &v) in [
        args::ERR_STEP,
        args::ERR_ACCESS,
        args::ERR_INDEX,
        args::ERR_LEN,
    ]
    .into_iter()
    .zip(params)
    {
        b.ins().store(flags, v, args_ptr, (word * 8) as i32);
    }
    let status = b.ins().iconst(types::I32, STATUS_OUT_OF_BOUNDS as i64);
    b.ins().return_(&[status]);
}

/// Where an access's data starts, resolved at the beginning of a step.
#[derive(Clone, Copy)]
pub(crate) struct Base {
    /// Address of the access's element 0 (`slot pointer + (slot offset + offset)·size`).
    ptr: Value,
    /// The slot's pointer.
    slot_ptr: Value,
    /// Element index of the access's element 0 within the slot's buffer.
    first: Value,
    /// The buffer's length in elements.
    len: Value,
    /// Bytes per element.
    size: i64,
}

/// Emits the steps of a program into one function.
pub(crate) struct Emitter<'a, 'f> {
    b: &'a mut FunctionBuilder<'f>,
    args: Value,
    helpers: &'a [(&'static str, FuncRef)],
    /// The pairwise sum of a gathered run ([`crate::math::needle_pairwise_sum`]), in
    /// functions that hold reductions.
    pairwise: Option<FuncRef>,
    checked: bool,
    /// Out-of-bounds exit (checked mode), with (step, access, index, length).
    oob: Block,
    step: usize,
    /// While emitting a reduction's epilogue: loads of this slot read this value instead.
    substitute: Option<(usize, Value)>,
    /// For one half of a kernel split across threads: the range of the outermost loop.
    outer_range: Option<(Value, Value)>,
    /// While emitting the innermost axis of a vectorized elementwise kernel: what was
    /// resolved once per row (see [`Row`]).
    row: Option<Row>,
}

/// The per-row part of a vectorized elementwise kernel, computed before its innermost loop so
/// that the loop body holds only what changes per element. (Small kernels compile at
/// `opt_level=none`, where Cranelift hoists nothing: without this, every element recomputed
/// every address from all its axes and rematerialized every constant.)
struct Row {
    /// Per input: its address at the row's first element, or its value when it is constant
    /// along the row (a broadcast), loaded once.
    inputs: Vec<RowInput>,
    /// Per output: its address at the row's first element.
    outputs: Vec<Value>,
    /// Byte offset of the current element within the row.
    offset: Option<Value>,
    /// Vector constants of the kernel (by their bits), materialized once.
    constants: Vec<(u32, Value)>,
}

#[derive(Clone, Copy)]
enum RowInput {
    Pointer(Value),
    Invariant { scalar: Value, vector: Value },
}

impl Emitter<'_, '_> {
    fn load_arg(&mut self, word: usize) -> Value {
        // Not `readonly`: host steps rewrite slot records between kernels.
        self.b.ins().load(
            types::I64,
            MemFlagsData::trusted(),
            self.args,
            (word * 8) as i32,
        )
    }

    /// Resolves `access` (of elements of `elem`) at the current position.
    fn base(&mut self, access: &Access, elem: Elem) -> Base {
        let record = args::SLOTS + 3 * access.slot;
        let slot_ptr = self.load_arg(record);
        let offset = self.load_arg(record + 1);
        let len = self.load_arg(record + 2);
        let first = self.b.ins().iadd_imm_s(offset, access.offset as i64);
        let size = elem.size() as i64;
        let bytes = self.b.ins().imul_imm_s(first, size);
        let ptr = self.b.ins().iadd(slot_ptr, bytes);
        Base {
            ptr,
            slot_ptr,
            first,
            len,
            size,
        }
    }

    /// Address of the element at `index` (one value per axis) through `strides`; in checked
    /// mode, first verifies the element index lies in the buffer (`access` names it in the
    /// error).
    fn address(&mut self, base: &Base, index: &[Value], strides: &[isize], access: u64) -> Value {
        if !self.checked {
            let mut addr = base.ptr;
            for (&i, &s) in index.iter().zip(strides) {
                if s != 0 {
                    let off = self.b.ins().imul_imm_s(i, s as i64 * base.size);
                    addr = self.b.ins().iadd(addr, off);
                }
            }
            return addr;
        }
        let mut element = base.first;
        for (&i, &s) in index.iter().zip(strides) {
            if s != 0 {
                let off = self.b.ins().imul_imm_s(i, s as i64);
                element = self.b.ins().iadd(element, off);
            }
        }
        // Unsigned: a negative index is a huge one.
        let inside = self
            .b
            .ins()
            .icmp(IntCC::UnsignedLessThan, element, base.len);
        let ok = self.b.create_block();
        let step = self.b.ins().iconst(types::I64, self.step as i64);
        let which = self.b.ins().iconst(types::I64, access as i64);
        self.b.ins().brif(
            inside,
            ok,
            &[],
            self.oob,
            &[step.into(), which.into(), element.into(), base.len.into()],
        );
        self.b.switch_to_block(ok);
        let bytes = self.b.ins().imul_imm_s(element, base.size);
        self.b.ins().iadd(base.slot_ptr, bytes)
    }

    /// One loop per axis of `shape[level..]`, calling `body` with the full index innermost.
    fn loops(
        &mut self,
        shape: &[usize],
        index: &mut Vec<Value>,
        body: &mut dyn FnMut(&mut Self, &[Value]),
    ) {
        let level = index.len();
        if level == shape.len() {
            body(self, index);
            return;
        }
        let header = self.b.create_block();
        let inner = self.b.create_block();
        let exit = self.b.create_block();
        self.b.append_block_param(header, types::I64);
        let range = if level == 0 {
            self.outer_range.take()
        } else {
            None
        };
        let start = match range {
            Some((lo, _)) => lo,
            None => self.b.ins().iconst(types::I64, 0),
        };
        self.b.ins().jump(header, &[start.into()]);
        self.b.switch_to_block(header);
        let i = self.b.block_params(header)[0];
        let more = match range {
            Some((_, hi)) => self.b.ins().icmp(IntCC::SignedLessThan, i, hi),
            None => self
                .b
                .ins()
                .icmp_imm_s(IntCC::SignedLessThan, i, shape[level] as i64),
        };
        self.b.ins().brif(more, inner, &[], exit, &[]);
        self.b.switch_to_block(inner);
        index.push(i);
        self.loops(shape, index, body);
        index.pop();
        let next = self.b.ins().iadd_imm_s(i, 1);
        self.b.ins().jump(header, &[next.into()]);
        self.b.switch_to_block(exit);
    }

    fn bases(&mut self, kernel: &Kernel) -> Vec<Base> {
        kernel
            .inputs
            .iter()
            .map(|a| self.base(a, Elem::F32))
            .collect()
    }

    /// (expression entry, where it is stored) of each of `kernel`'s outputs.
    fn output_bases(&mut self, kernel: &Kernel) -> Vec<(usize, Base)> {
        kernel
            .outputs
            .iter()
            .map(|o| {
                let access = Access {
                    slot: o.slot,
                    strides: Vec::new(),
                    offset: 0,
                };
                (o.expr, self.base(&access, Elem::F32))
            })
            .collect()
    }

    /// A fused elementwise kernel storing its outputs compactly.
    fn elementwise(&mut self, kernel: &Kernel) {
        let bases = self.bases(kernel);
        let outs = self.output_bases(kernel);
        let out_strides = needle_core::shape::contiguous_strides(&kernel.shape);
        let vector = !self.checked && expr::vectorizable(kernel);
        let outer = if vector {
            &kernel.shape[..kernel.shape.len() - 1]
        } else {
            &kernel.shape[..]
        };
        let mut index = Vec::new();
        self.loops(outer, &mut index, &mut |e, index| {
            if vector {
                e.vector_row(kernel, &bases, &outs, &out_strides, index);
            } else {
                let values = e.scalar_expr(kernel, &bases, index);
                e.store_outputs(&values, &outs, index, &out_strides, MemFlagsData::trusted());
            }
        });
    }

    fn store_outputs(
        &mut self,
        values: &[Value],
        outs: &[(usize, Base)],
        index: &[Value],
        strides: &[isize],
        flags: MemFlagsData,
    ) {
        for (expr, base) in outs {
            let addr = self.address(base, index, strides, OUTPUT_ACCESS);
            self.b.ins().store(flags, values[*expr], addr, 0);
        }
    }

    /// The innermost axis of a vectorizable kernel: f32x4 steps, then a scalar tail.
    fn vector_row(
        &mut self,
        kernel: &Kernel,
        bases: &[Base],
        outs: &[(usize, Base)],
        out_strides: &[isize],
        index: &[Value],
    ) {
        let n = *kernel
            .shape
            .last()
            .expect("vectorized kernels have an axis") as i64;
        // Two vectors per iteration on long rows (memory-bound kernels gain from fewer
        // branches); one on short ones, whose compile time matters more.
        let unroll = if kernel.shape.iter().product::<usize>() >= 1 << 16 {
            2
        } else {
            1
        };
        let row = self.begin_row(kernel, bases, outs, out_strides, index);
        self.row = Some(row);
        self.vector_loop(
            n,
            unroll,
            index,
            &mut |e, full| {
                e.set_row_offset(full);
                let values = e.vector_expr(kernel, bases, full);
                // Not 16-byte aligned in general: no `aligned` flag.
                e.store_row(&values, outs, MemFlagsData::new().with_notrap());
            },
            &mut |e, full| {
                e.set_row_offset(full);
                let values = e.scalar_expr(kernel, bases, full);
                e.store_row(&values, outs, MemFlagsData::trusted());
            },
        );
        self.row = None;
    }

    /// Resolves everything of `kernel` that is the same along the row at `index` (all axes
    /// but the innermost): addresses, broadcast inputs, vector constants.
    fn begin_row(
        &mut self,
        kernel: &Kernel,
        bases: &[Base],
        outs: &[(usize, Base)],
        out_strides: &[isize],
        index: &[Value],
    ) -> Row {
        debug_assert!(!self.checked, "vector rows are unchecked");
        let outer = index.len();
        let mut inputs = Vec::with_capacity(kernel.inputs.len());
        for (i, (access, base)) in kernel.inputs.iter().zip(bases).enumerate() {
            let ptr = self.address(base, index, &access.strides[..outer], i as u64);
            inputs.push(if access.strides[outer] == 0 {
                let scalar =
                    self.b
                        .ins()
                        .load(types::F32, MemFlagsData::new().with_notrap(), ptr, 0);
                let vector = self.b.ins().splat(types::F32X4, scalar);
                RowInput::Invariant { scalar, vector }
            } else {
                RowInput::Pointer(ptr)
            });
        }
        let outputs = outs
            .iter()
            .map(|(_, base)| self.address(base, index, &out_strides[..outer], OUTPUT_ACCESS))
            .collect();
        let mut constants: Vec<(u32, Value)> = Vec::new();
        for c in expr::vector_constants(kernel) {
            if !constants.iter().any(|&(bits, _)| bits == c.to_bits()) {
                let k = self.b.ins().f32const(c);
                let v = self.b.ins().splat(types::F32X4, k);
                constants.push((c.to_bits(), v));
            }
        }
        Row {
            inputs,
            outputs,
            offset: None,
            constants,
        }
    }

    /// Sets the current element of the row from the full index `full`.
    fn set_row_offset(&mut self, full: &[Value]) {
        let at = *full.last().expect("an innermost index");
        let offset = self.b.ins().imul_imm_s(at, 4);
        self.row.as_mut().expect("inside a row").offset = Some(offset);
    }

    /// Stores `values` at the current element of the row's outputs.
    fn store_row(&mut self, values: &[Value], outs: &[(usize, Base)], flags: MemFlagsData) {
        let row = self.row.as_ref().expect("inside a row");
        let offset = row.offset.expect("an element of the row");
        for ((expr, _), &ptr) in outs.iter().zip(&row.outputs) {
            let addr = self.b.ins().iadd(ptr, offset);
            self.b.ins().store(flags, values[*expr], addr, 0);
        }
    }

    /// A loop over the innermost axis (length `n`, outer position `index`): `vector` at
    /// every multiple of four that fits (`unroll` of them per iteration), then `scalar` for
    /// the remaining elements (not emitted when four divides `n`).
    fn vector_loop(
        &mut self,
        n: i64,
        unroll: i64,
        index: &[Value],
        vector: &mut dyn FnMut(&mut Self, &[Value]),
        scalar: &mut dyn FnMut(&mut Self, &[Value]),
    ) {
        const LANES: i64 = expr::LANES as i64;
        let step = LANES * unroll;
        let (head, body, after) = (
            self.b.create_block(),
            self.b.create_block(),
            self.b.create_block(),
        );
        self.b.append_block_param(head, types::I64);
        let zero = self.b.ins().iconst(types::I64, 0);
        self.b.ins().jump(head, &[zero.into()]);
        self.b.switch_to_block(head);
        let i = self.b.block_params(head)[0];
        let end = self.b.ins().iadd_imm_s(i, step);
        let fits = self
            .b
            .ins()
            .icmp_imm_s(IntCC::SignedLessThanOrEqual, end, n);
        self.b.ins().brif(fits, body, &[], after, &[]);
        self.b.switch_to_block(body);
        let mut full = index.to_vec();
        for u in 0..unroll {
            let at = if u == 0 {
                i
            } else {
                self.b.ins().iadd_imm_s(i, u * LANES)
            };
            full.push(at);
            vector(self, &full);
            full.pop();
        }
        self.b.ins().jump(head, &[end.into()]);
        self.b.switch_to_block(after);
        // The length is known: the remainder is straight-line vectors, then scalars (none
        // when four divides the length).
        let mut pos = n - n % step;
        while pos + LANES <= n {
            let at = self.b.ins().iconst(types::I64, pos);
            full.push(at);
            vector(self, &full);
            full.pop();
            pos += LANES;
        }
        if pos < n {
            let start = self.b.ins().iconst(types::I64, pos);
            let (shead, sbody, exit) = (
                self.b.create_block(),
                self.b.create_block(),
                self.b.create_block(),
            );
            self.b.append_block_param(shead, types::I64);
            self.b.ins().jump(shead, &[start.into()]);
            self.b.switch_to_block(shead);
            let j = self.b.block_params(shead)[0];
            let more = self.b.ins().icmp_imm_s(IntCC::SignedLessThan, j, n);
            self.b.ins().brif(more, sbody, &[], exit, &[]);
            self.b.switch_to_block(sbody);
            full.push(j);
            scalar(self, &full);
            full.pop();
            let next = self.b.ins().iadd_imm_s(j, 1);
            self.b.ins().jump(shead, &[next.into()]);
            self.b.switch_to_block(exit);
        }
    }
}
