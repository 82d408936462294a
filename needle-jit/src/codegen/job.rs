//! The expensive part of compiling — Cranelift code generation of each function — as a job
//! that may run on another thread, on two threads when a program has several functions.

use std::sync::atomic::{AtomicUsize, Ordering};

use cranelift_codegen::control::ControlPlane;
use cranelift_codegen::ir::Function;
use cranelift_codegen::Context;
use cranelift_module::{FuncId, ModuleReloc};

use super::module::host_isa;

/// The expensive part of compiling a program — Cranelift code generation for each function —
/// as a job that may run on another thread.
pub struct CompileJob {
    /// The functions, by module id.
    pub(super) functions: Vec<(FuncId, Function)>,
    /// Per function: compiled at `opt_level=none`.
    pub(super) quick: Vec<bool>,
    /// Checked mode (the verifier runs).
    pub(super) checked: bool,
}

/// Machine code of a program's functions, ready for [`Prepared::finish`], with the time each
/// took.
pub struct CompiledFunctions(pub(super) Vec<(FuncId, Compiled, std::time::Duration)>);

/// Machine code of one function, ready to be placed in the module.
pub(super) struct Compiled {
    /// The machine code.
    pub(super) bytes: Vec<u8>,
    /// Its required alignment.
    pub(super) alignment: u64,
    /// Its relocations.
    pub(super) relocs: Vec<ModuleReloc>,
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
