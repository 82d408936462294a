//! The GEMM micro-kernel, generated as Cranelift IR: one register-blocked `MR×NR` tile of
//! `C (+)= A_panel · B_panel` over a packed depth `kc`.
//!
//! Layout contract (the packing in [`super::driver`] produces it):
//! - the A panel holds `kc` groups of `MR` floats (column `p` of the tile's rows, k-major);
//! - the B panel holds `kc` groups of `NR` floats (row `p` of the tile's columns, k-major);
//! - C is row-major with a row stride of `ldc` bytes; the tile is `MR` rows of `NR` floats.
//!
//! Each C row is `NR / 4` f32x4 accumulators; per depth step the kernel loads the B row once
//! (`NR / 4` vectors), broadcasts each A value and issues one FMA per accumulator. The loop is
//! unrolled four depth steps, top-tested, and compiled at `opt_level=none`: ../shared/CRANELIFT.md
//! records that the optimizer's reordering of unrolled FMA chains spills accumulators, and that
//! bottom-tested loops stop the broadcasts from folding into memory operands.

use cranelift_codegen::ir::condcodes::IntCC;
use cranelift_codegen::ir::{types, AbiParam, InstBuilder, MemFlagsData, UserFuncName, Value};
use cranelift_codegen::settings::{self, Configurable};
use cranelift_codegen::Context;
use cranelift_frontend::{FunctionBuilder, FunctionBuilderContext, Variable};
use cranelift_jit::{JITBuilder, JITModule};
use cranelift_module::{default_libcall_names, Linkage, Module};

/// Depth steps per loop iteration.
const UNROLL: i64 = 4;

/// A compiled micro-kernel: `(a_panel, b_panel, c, ldc_bytes, kc, accumulate)`.
///
/// With `accumulate = 0` the tile is overwritten, otherwise added to. `kc` may be any
/// non-negative depth.
pub type MicroKernelFn = unsafe extern "C" fn(*const f32, *const f32, *mut f32, i64, i64, i64);

/// A generated micro-kernel and its tile.
pub struct MicroKernel {
    /// Tile rows.
    pub mr: usize,
    /// Tile columns (a multiple of 4).
    pub nr: usize,
    /// Whether the kernel uses fused multiply-adds (the host has FMA) or `fmul`+`fadd`.
    pub fma: bool,
    /// Machine code size in bytes.
    pub code_bytes: usize,
    /// Time to build and compile it.
    pub compile_time: std::time::Duration,
    /// The Cranelift IR it was compiled from.
    pub ir: String,
    /// The machine code after register allocation, as text (one instruction per line).
    pub disassembly: String,
    entry: MicroKernelFn,
}

impl MicroKernel {
    /// The entry point.
    pub fn entry(&self) -> MicroKernelFn {
        self.entry
    }

    /// One line: tile, arithmetic, code size and compile time.
    pub fn describe(&self) -> String {
        format!(
            "{}x{} ({}): {} bytes, compiled in {:.2} ms",
            self.mr,
            self.nr,
            if self.fma { "fma" } else { "mul+add" },
            self.code_bytes,
            self.compile_time.as_secs_f64() * 1e3
        )
    }

    /// Builds and compiles the `mr × nr` micro-kernel for the host CPU (`nr` a multiple of 4).
    ///
    /// The module holding the code is leaked on purpose: a kernel is compiled once per tile
    /// shape and process and called for the rest of it.
    pub fn compile(mr: usize, nr: usize) -> Result<MicroKernel, String> {
        assert!(mr >= 1 && nr >= 4 && nr.is_multiple_of(4), "tile {mr}x{nr}");
        let start = std::time::Instant::now();
        let mut flags = settings::builder();
        flags.set("opt_level", "none").map_err(|e| e.to_string())?;
        flags.set("is_pic", "false").map_err(|e| e.to_string())?;
        let isa = cranelift_native::builder()
            .map_err(|e| format!("host not supported by Cranelift: {e}"))?
            .finish(settings::Flags::new(flags))
            .map_err(|e| e.to_string())?;
        let fma = isa
            .isa_flags()
            .iter()
            .any(|f| f.name == "has_fma" && f.as_bool() == Some(true));
        let mut module = JITModule::new(JITBuilder::with_isa(isa, default_libcall_names()));
        let ptr = module.target_config().pointer_type();
        let mut signature = module.make_signature();
        for t in [ptr, ptr, ptr, types::I64, types::I64, types::I64] {
            signature.params.push(AbiParam::new(t));
        }
        let name = format!("needle_gemm_{mr}x{nr}");
        let id = module
            .declare_function(&name, Linkage::Local, &signature)
            .map_err(|e| e.to_string())?;
        let mut ctx = Context::new();
        ctx.func.signature = signature;
        ctx.func.name = UserFuncName::user(1, id.as_u32());
        let mut fctx = FunctionBuilderContext::new();
        let mut builder = FunctionBuilder::new(&mut ctx.func, &mut fctx);
        build(&mut builder, mr, nr, fma);
        builder.finalize(module.target_config());
        let ir = ctx.func.display().to_string();
        ctx.set_disasm(true);
        module
            .define_function(id, &mut ctx)
            .map_err(|e| format!("{e:?}"))?;
        let compiled = ctx
            .compiled_code()
            .ok_or("micro-kernel: no compiled code")?;
        let code_bytes = compiled.code_buffer().len();
        let disassembly = compiled.vcode.clone().unwrap_or_default();
        module.finalize_definitions().map_err(|e| e.to_string())?;
        let code = module.get_finalized_function(id);
        // SAFETY: finalized code of a function declared with (ptr, ptr, ptr, i64, i64, i64) -> ()
        // in this ISA's C calling convention; the module is leaked below, so the code lives for
        // the rest of the process.
        let entry = unsafe { std::mem::transmute::<*const u8, MicroKernelFn>(code) };
        std::mem::forget(module);
        Ok(MicroKernel {
            mr,
            nr,
            fma,
            code_bytes,
            compile_time: start.elapsed(),
            ir,
            disassembly,
            entry,
        })
    }
}

/// Emits the kernel body.
fn build(b: &mut FunctionBuilder, mr: usize, nr: usize, fma: bool) {
    let vectors = nr / 4;
    let entry = b.create_block();
    b.append_block_params_for_function_params(entry);
    b.switch_to_block(entry);
    let params = b.block_params(entry).to_vec();
    let (a0, b0, c, ldc, kc, accumulate) = (
        params[0], params[1], params[2], params[3], params[4], params[5],
    );
    // Pointers and the remaining depth are variables: the frontend turns them into block
    // parameters of the loop headers.
    let var = |b: &mut FunctionBuilder, t| b.declare_var(t);
    let a_ptr: Variable = var(b, types::I64);
    let b_ptr: Variable = var(b, types::I64);
    let left: Variable = var(b, types::I64);
    let accs: Vec<Variable> = (0..mr * vectors).map(|_| var(b, types::F32X4)).collect();
    b.def_var(a_ptr, a0);
    b.def_var(b_ptr, b0);
    b.def_var(left, kc);

    let load_c = b.create_block();
    let zero_c = b.create_block();
    let head = b.create_block();
    let body = b.create_block();
    let tail_head = b.create_block();
    let tail_body = b.create_block();
    let store = b.create_block();
    // Panels and the tile are plain memory the driver owns: no traps, no aliasing with
    // anything the kernel writes except the tile itself.
    let flags = MemFlagsData::trusted();

    b.ins().brif(accumulate, load_c, &[], zero_c, &[]);

    b.switch_to_block(load_c);
    b.seal_block(load_c);
    for i in 0..mr {
        let row = row_address(b, c, ldc, i);
        for v in 0..vectors {
            let x = b.ins().load(types::F32X4, flags, row, (16 * v) as i32);
            b.def_var(accs[i * vectors + v], x);
        }
    }
    b.ins().jump(head, &[]);

    b.switch_to_block(zero_c);
    b.seal_block(zero_c);
    let zero = b.ins().f32const(0.0);
    let zero = b.ins().splat(types::F32X4, zero);
    for &acc in &accs {
        b.def_var(acc, zero);
    }
    b.ins().jump(head, &[]);

    // Unrolled loop: while left >= UNROLL.
    b.switch_to_block(head);
    let l = b.use_var(left);
    let more = b
        .ins()
        .icmp_imm_s(IntCC::SignedGreaterThanOrEqual, l, UNROLL);
    b.ins().brif(more, body, &[], tail_head, &[]);

    b.switch_to_block(body);
    b.seal_block(body);
    for step in 0..UNROLL as usize {
        depth_step(b, mr, vectors, step, fma, a_ptr, b_ptr, &accs);
    }
    advance(b, mr, nr, UNROLL, a_ptr, b_ptr, left);
    b.ins().jump(head, &[]);
    b.seal_block(head);

    // Remaining depth steps one at a time.
    b.switch_to_block(tail_head);
    let l = b.use_var(left);
    let more = b.ins().icmp_imm_s(IntCC::SignedGreaterThan, l, 0);
    b.ins().brif(more, tail_body, &[], store, &[]);

    b.switch_to_block(tail_body);
    b.seal_block(tail_body);
    depth_step(b, mr, vectors, 0, fma, a_ptr, b_ptr, &accs);
    advance(b, mr, nr, 1, a_ptr, b_ptr, left);
    b.ins().jump(tail_head, &[]);
    b.seal_block(tail_head);

    b.switch_to_block(store);
    b.seal_block(store);
    for i in 0..mr {
        let row = row_address(b, c, ldc, i);
        for v in 0..vectors {
            let x = b.use_var(accs[i * vectors + v]);
            b.ins().store(flags, x, row, (16 * v) as i32);
        }
    }
    b.ins().return_(&[]);
}

fn row_address(b: &mut FunctionBuilder, c: Value, ldc: Value, i: usize) -> Value {
    if i == 0 {
        return c;
    }
    let off = b.ins().imul_imm_s(ldc, i as i64);
    b.ins().iadd(c, off)
}

/// One depth step `step` of an unrolled group: B row loads, A broadcasts, one FMA per
/// accumulator. Each A value is broadcast right before its row's FMAs (its own `splat`, so at
/// `opt_level=none` the load folds into the broadcast and the FMA may overwrite it).
#[allow(clippy::too_many_arguments)]
fn depth_step(
    b: &mut FunctionBuilder,
    mr: usize,
    vectors: usize,
    step: usize,
    fma: bool,
    a_ptr: Variable,
    b_ptr: Variable,
    accs: &[Variable],
) {
    let flags = MemFlagsData::trusted().with_readonly();
    let ap = b.use_var(a_ptr);
    let bp = b.use_var(b_ptr);
    let nr = vectors * 4;
    let row: Vec<_> = (0..vectors)
        .map(|v| {
            b.ins()
                .load(types::F32X4, flags, bp, (4 * (step * nr + 4 * v)) as i32)
        })
        .collect();
    for i in 0..mr {
        for (v, &bv) in row.iter().enumerate() {
            let a = b
                .ins()
                .load(types::F32, flags, ap, (4 * (step * mr + i)) as i32);
            let a = b.ins().splat(types::F32X4, a);
            let acc = b.use_var(accs[i * vectors + v]);
            let next = if fma {
                b.ins().fma(a, bv, acc)
            } else {
                let p = b.ins().fmul(a, bv);
                b.ins().fadd(p, acc)
            };
            b.def_var(accs[i * vectors + v], next);
        }
    }
}

/// Moves the panel pointers `steps` depth steps on and counts them off.
fn advance(
    b: &mut FunctionBuilder,
    mr: usize,
    nr: usize,
    steps: i64,
    a_ptr: Variable,
    b_ptr: Variable,
    left: Variable,
) {
    let ap = b.use_var(a_ptr);
    let ap = b.ins().iadd_imm_s(ap, 4 * mr as i64 * steps);
    b.def_var(a_ptr, ap);
    let bp = b.use_var(b_ptr);
    let bp = b.ins().iadd_imm_s(bp, 4 * nr as i64 * steps);
    b.def_var(b_ptr, bp);
    let l = b.use_var(left);
    let l = b.ins().iadd_imm_s(l, -steps);
    b.def_var(left, l);
}
