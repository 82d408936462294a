//! Building a program's IR: declarations of every function of the module, the chunk, row
//! and product functions, and the entry; then, once their machine code is ready, finishing
//! the module into [`Code`].

use cranelift_codegen::ir::{types, AbiParam, Function, UserFuncName};
use cranelift_codegen::Context;
use cranelift_frontend::FunctionBuilderContext;
use cranelift_module::{FuncId, Linkage, Module};

use super::functions::{build_chunk, build_main, build_product, build_rows};
use super::helpers::{helpers, PAIRWISE_SUM};
use super::job::{CompileJob, CompiledFunctions};
use super::matmul::small_product;
use super::module::{all_small, new_module, Code, Imports, OwnedModule};
use super::split::{rows_body, split};
use crate::abi::RowsFn;
use crate::schedule::{Plan, StepKind};

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
        if rows_body(plan, s, checked).is_some() {
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
            StepKind::Reduce { .. } => format!("rows{s} (step {s}, split sum)"),
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
        let body = rows_body(plan, s, checked).expect("declared above");
        let mut func =
            Function::with_name_signature(UserFuncName::user(0, id.as_u32()), rows_sig.clone());
        build_rows(
            &mut module,
            &mut func,
            &mut fctx,
            &imports,
            body,
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
