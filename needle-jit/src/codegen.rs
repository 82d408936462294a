//! Cranelift code generation for fused elementwise kernels.
//!
//! A kernel becomes `extern "C" fn(ptrs: *const *mut f32)` where `ptrs[0]` is the compact
//! output and `ptrs[1 + slot]` the first element of input `slot`. One loop per output axis; the
//! expression is evaluated per element, transcendental functions through the interpreter's own
//! scalar functions (imported symbols), so results are bit-identical to the interpreter.

use cranelift_codegen::ir::condcodes::{FloatCC, IntCC};
use cranelift_codegen::ir::{
    types, AbiParam, Endianness, InstBuilder, MemFlagsData, UserFuncName, Value,
};
use cranelift_codegen::settings::{self, Configurable};
use cranelift_frontend::{FunctionBuilder, FunctionBuilderContext};
use cranelift_jit::{JITBuilder, JITModule};
use cranelift_module::{default_libcall_names, FuncId, Linkage, Module};
use needle_core::op::{BinaryOp, ScalarOp, UnaryOp};

use crate::kernel::{Expr, Kernel};
use crate::math::helpers;

/// A compiled kernel; owns the machine code.
pub struct Compiled {
    // Keeps the code alive; never read otherwise.
    _module: JITModule,
    entry: extern "C" fn(*const *mut f32),
}

impl Compiled {
    /// Runs the kernel.
    ///
    /// # Safety
    /// `ptrs[0]` must point to a writable buffer of the kernel's output size and `ptrs[1 + s]`
    /// to an input whose strided extent (the kernel's strides over its shape) is in bounds.
    pub unsafe fn run(&self, ptrs: &[*mut f32]) {
        (self.entry)(ptrs.as_ptr());
    }
}

fn new_module() -> Result<JITModule, String> {
    let mut flags = settings::builder();
    flags.set("opt_level", "speed").map_err(|e| e.to_string())?;
    flags.set("is_pic", "false").map_err(|e| e.to_string())?;
    flags
        .set("use_colocated_libcalls", "false")
        .map_err(|e| e.to_string())?;
    let isa = cranelift_native::builder()
        .map_err(|e| format!("host not supported by Cranelift: {e}"))?
        .finish(settings::Flags::new(flags))
        .map_err(|e| e.to_string())?;
    let mut builder = JITBuilder::with_isa(isa, default_libcall_names());
    for (name, addr, _) in helpers() {
        builder.symbol(name, addr);
    }
    Ok(JITModule::new(builder))
}

/// Compiles `kernel` to native code.
pub fn compile(kernel: &Kernel) -> Result<Compiled, String> {
    let mut module = new_module()?;
    let ptr = module.target_config().pointer_type();
    let mut helper_ids: Vec<(&'static str, FuncId)> = Vec::new();
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
    let mut sig = module.make_signature();
    sig.params.push(AbiParam::new(ptr));
    let func_id = module
        .declare_function("kernel", Linkage::Local, &sig)
        .map_err(|e| e.to_string())?;
    let mut ctx = module.make_context();
    ctx.func.signature = sig;
    ctx.func.name = UserFuncName::user(0, func_id.as_u32());
    let mut fctx = FunctionBuilderContext::new();
    {
        let mut b = FunctionBuilder::new(&mut ctx.func, &mut fctx);
        let helper_refs: Vec<(&'static str, cranelift_codegen::ir::FuncRef)> = helper_ids
            .iter()
            .map(|(n, id)| (*n, module.declare_func_in_func(*id, b.func)))
            .collect();
        let entry = b.create_block();
        b.append_block_params_for_function_params(entry);
        b.switch_to_block(entry);
        let args = b.block_params(entry)[0];
        let flags = MemFlagsData::trusted();
        let bases: Vec<Value> = (0..=kernel.inputs.len())
            .map(|i| {
                b.ins()
                    .load(ptr, flags, args, (i * ptr.bytes() as usize) as i32)
            })
            .collect();
        let mut index = Vec::new();
        if vectorizable(kernel) {
            let outer = Kernel {
                shape: kernel.shape[..kernel.shape.len() - 1].to_vec(),
                ..kernel.clone()
            };
            emit_loops(&mut b, &outer, 0, &mut index, &mut |b, index| {
                let mut index = index.to_vec();
                emit_vector_inner(b, kernel, &mut index, &bases, &helper_refs);
            });
        } else {
            emit_loops(&mut b, kernel, 0, &mut index, &mut |b, index| {
                emit_element(b, kernel, index, &bases, &helper_refs, ptr);
            });
        }
        b.ins().return_(&[]);
        b.seal_all_blocks();
        b.finalize(module.target_config());
    }
    module
        .define_function(func_id, &mut ctx)
        .map_err(|e| format!("{e:?}"))?;
    module.clear_context(&mut ctx);
    module.finalize_definitions().map_err(|e| e.to_string())?;
    let code = module.get_finalized_function(func_id);
    // SAFETY: `code` is the finalized machine code of a function declared with the signature
    // (pointer) -> (), the C calling convention of this ISA; the module is kept alive with it.
    let entry = unsafe { std::mem::transmute::<*const u8, extern "C" fn(*const *mut f32)>(code) };
    Ok(Compiled {
        _module: module,
        entry,
    })
}

/// Lanes of the vector loop.
const LANES: usize = 4;

/// A kernel whose innermost loop runs f32x4: every input reads its innermost axis contiguously
/// or broadcast, and every op has an exact vector form (IEEE arithmetic, sqrt, and the
/// compare-and-select forms of relu, maximum and masks give the same bits as scalar code, so
/// results stay identical to the interpreter's). Transcendental functions stay scalar.
fn vectorizable(kernel: &Kernel) -> bool {
    let Some(&inner) = kernel.shape.last() else {
        return false;
    };
    inner >= LANES
        && kernel
            .inputs
            .iter()
            .all(|l| matches!(l.strides.last(), Some(0) | Some(1)))
        && kernel.exprs.iter().all(|e| match e {
            Expr::Input(_) => true,
            Expr::Unary(u, _) => matches!(u, UnaryOp::Neg | UnaryOp::Sqrt),
            Expr::Scalar(s, _, _) => matches!(
                s,
                ScalarOp::Add | ScalarOp::Mul | ScalarOp::Div | ScalarOp::RDiv
            ),
            Expr::Binary(b, _, _) => matches!(
                b,
                BinaryOp::Add | BinaryOp::Sub | BinaryOp::Mul | BinaryOp::Div
            ),
        })
}

/// The innermost loop of a vectorizable kernel: f32x4 steps, then a scalar tail.
fn emit_vector_inner(
    b: &mut FunctionBuilder,
    kernel: &Kernel,
    index: &mut Vec<Value>,
    bases: &[Value],
    helpers: &[(&'static str, cranelift_codegen::ir::FuncRef)],
) {
    let n = *kernel
        .shape
        .last()
        .expect("vectorizable kernels have an axis") as i64;
    let (vhead, vbody, shead, sbody, exit) = (
        b.create_block(),
        b.create_block(),
        b.create_block(),
        b.create_block(),
        b.create_block(),
    );
    b.append_block_param(vhead, types::I64);
    b.append_block_param(shead, types::I64);
    let zero = b.ins().iconst(types::I64, 0);
    b.ins().jump(vhead, &[zero.into()]);
    b.switch_to_block(vhead);
    let i = b.block_params(vhead)[0];
    let end = b.ins().iadd_imm_s(i, LANES as i64);
    let fits = b.ins().icmp_imm_s(IntCC::SignedLessThanOrEqual, end, n);
    b.ins().brif(fits, vbody, &[], shead, &[i.into()]);
    b.switch_to_block(vbody);
    index.push(i);
    emit_vector_element(b, kernel, index, bases);
    index.pop();
    b.ins().jump(vhead, &[end.into()]);
    b.switch_to_block(shead);
    let j = b.block_params(shead)[0];
    let more = b.ins().icmp_imm_s(IntCC::SignedLessThan, j, n);
    b.ins().brif(more, sbody, &[], exit, &[]);
    b.switch_to_block(sbody);
    index.push(j);
    emit_element(b, kernel, index, bases, helpers, types::I64);
    index.pop();
    let next = b.ins().iadd_imm_s(j, 1);
    b.ins().jump(shead, &[next.into()]);
    b.switch_to_block(exit);
}

fn emit_vector_element(b: &mut FunctionBuilder, kernel: &Kernel, index: &[Value], bases: &[Value]) {
    // Vector accesses are not 16-byte aligned in general: no `aligned` flag.
    let flags = MemFlagsData::new().with_notrap();
    let v = types::F32X4;
    let mut values: Vec<Value> = Vec::with_capacity(kernel.exprs.len());
    for e in &kernel.exprs {
        let value = match *e {
            Expr::Input(slot) => {
                let strides = &kernel.inputs[slot].strides;
                let addr = address(b, bases[1 + slot], index, strides);
                if strides.last() == Some(&0) {
                    let x = b.ins().load(types::F32, flags, addr, 0);
                    b.ins().splat(v, x)
                } else {
                    b.ins().load(v, flags, addr, 0)
                }
            }
            Expr::Unary(op, a) => match op {
                UnaryOp::Neg => b.ins().fneg(values[a]),
                UnaryOp::Relu => {
                    let zero = splat(b, 0.0);
                    let pos = b.ins().fcmp(FloatCC::GreaterThan, values[a], zero);
                    vselect(b, pos, values[a], zero)
                }
                _ => b.ins().sqrt(values[a]),
            },
            Expr::Scalar(op, c, a) => {
                let k = splat(b, c);
                let x = values[a];
                match op {
                    ScalarOp::Add => b.ins().fadd(x, k),
                    ScalarOp::Mul => b.ins().fmul(x, k),
                    ScalarOp::Div => b.ins().fdiv(x, k),
                    ScalarOp::RDiv => b.ins().fdiv(k, x),
                    ScalarOp::Max => vector_binary(b, BinaryOp::Max, x, k),
                    ScalarOp::Eq => vector_binary(b, BinaryOp::Eq, x, k),
                    ScalarOp::Ne => vector_binary(b, BinaryOp::Ne, x, k),
                    ScalarOp::Gt => vector_binary(b, BinaryOp::Gt, x, k),
                    ScalarOp::Ge => vector_binary(b, BinaryOp::Ge, x, k),
                    ScalarOp::Lt => vector_binary(b, BinaryOp::Lt, x, k),
                    ScalarOp::Le => vector_binary(b, BinaryOp::Le, x, k),
                    ScalarOp::Pow => unreachable!("pow kernels are not vectorized"),
                }
            }
            Expr::Binary(op, x, y) => vector_binary(b, op, values[x], values[y]),
        };
        values.push(value);
    }
    let out_strides = needle_core::shape::contiguous_strides(&kernel.shape);
    let addr = address(b, bases[0], index, &out_strides);
    let result = *values.last().expect("non-empty kernel");
    b.ins().store(flags, result, addr, 0);
}

fn splat(b: &mut FunctionBuilder, c: f32) -> Value {
    let k = b.ins().f32const(c);
    b.ins().splat(types::F32X4, k)
}

/// Lane-wise `mask ? x : y` for a vector comparison result (all-ones or all-zeros lanes).
fn vselect(b: &mut FunctionBuilder, mask: Value, x: Value, y: Value) -> Value {
    let flags = MemFlagsData::new().with_endianness(Endianness::Little);
    let mask = b.ins().bitcast(types::F32X4, flags, mask);
    b.ins().bitselect(mask, x, y)
}

/// The vector form of [`binary`], with the same lane results.
fn vector_binary(b: &mut FunctionBuilder, op: BinaryOp, x: Value, y: Value) -> Value {
    let cmp = |b: &mut FunctionBuilder, cc: FloatCC| {
        let c = b.ins().fcmp(cc, x, y);
        let (one, zero) = (splat(b, 1.0), splat(b, 0.0));
        vselect(b, c, one, zero)
    };
    match op {
        BinaryOp::Add => b.ins().fadd(x, y),
        BinaryOp::Sub => b.ins().fsub(x, y),
        BinaryOp::Mul => b.ins().fmul(x, y),
        BinaryOp::Div => b.ins().fdiv(x, y),
        BinaryOp::Max => {
            let nan = b.ins().fcmp(FloatCC::Unordered, x, x);
            let gt = b.ins().fcmp(FloatCC::GreaterThan, x, y);
            let c = b.ins().bor(nan, gt);
            vselect(b, c, x, y)
        }
        BinaryOp::Eq => cmp(b, FloatCC::Equal),
        BinaryOp::Ne => cmp(b, FloatCC::NotEqual),
        BinaryOp::Gt => cmp(b, FloatCC::GreaterThan),
        BinaryOp::Ge => cmp(b, FloatCC::GreaterThanOrEqual),
        BinaryOp::Lt => cmp(b, FloatCC::LessThan),
        BinaryOp::Le => cmp(b, FloatCC::LessThanOrEqual),
    }
}

fn emit_loops(
    b: &mut FunctionBuilder,
    kernel: &Kernel,
    level: usize,
    index: &mut Vec<Value>,
    body: &mut dyn FnMut(&mut FunctionBuilder, &[Value]),
) {
    if level == kernel.shape.len() {
        body(b, index);
        return;
    }
    let header = b.create_block();
    let inner = b.create_block();
    let exit = b.create_block();
    b.append_block_param(header, types::I64);
    let zero = b.ins().iconst(types::I64, 0);
    b.ins().jump(header, &[zero.into()]);
    b.switch_to_block(header);
    let i = b.block_params(header)[0];
    let more = b
        .ins()
        .icmp_imm_s(IntCC::SignedLessThan, i, kernel.shape[level] as i64);
    b.ins().brif(more, inner, &[], exit, &[]);
    b.switch_to_block(inner);
    index.push(i);
    emit_loops(b, kernel, level + 1, index, body);
    index.pop();
    let next = b.ins().iadd_imm_s(i, 1);
    b.ins().jump(header, &[next.into()]);
    b.switch_to_block(exit);
}

/// Byte address of `base + Σ index·stride` (strides in f32 elements).
fn address(b: &mut FunctionBuilder, base: Value, index: &[Value], strides: &[isize]) -> Value {
    let mut addr = base;
    for (&i, &s) in index.iter().zip(strides) {
        if s != 0 {
            let off = b.ins().imul_imm_s(i, (s * 4) as i64);
            addr = b.ins().iadd(addr, off);
        }
    }
    addr
}

fn call(
    b: &mut FunctionBuilder,
    helpers: &[(&'static str, cranelift_codegen::ir::FuncRef)],
    name: &str,
    args: &[Value],
) -> Value {
    let f = helpers
        .iter()
        .find(|(n, _)| *n == name)
        .expect("declared helper")
        .1;
    let inst = b.ins().call(f, args);
    b.inst_results(inst)[0]
}

fn mask(b: &mut FunctionBuilder, cc: FloatCC, x: Value, y: Value) -> Value {
    let c = b.ins().fcmp(cc, x, y);
    let one = b.ins().f32const(1.0);
    let zero = b.ins().f32const(0.0);
    b.ins().select(c, one, zero)
}

/// `if a is NaN or a > b { a } else { b }`, the interpreter's maximum.
fn maximum(b: &mut FunctionBuilder, x: Value, y: Value) -> Value {
    let nan = b.ins().fcmp(FloatCC::Unordered, x, x);
    let gt = b.ins().fcmp(FloatCC::GreaterThan, x, y);
    let c = b.ins().bor(nan, gt);
    b.ins().select(c, x, y)
}

fn binary(b: &mut FunctionBuilder, op: BinaryOp, x: Value, y: Value) -> Value {
    match op {
        BinaryOp::Add => b.ins().fadd(x, y),
        BinaryOp::Sub => b.ins().fsub(x, y),
        BinaryOp::Mul => b.ins().fmul(x, y),
        BinaryOp::Div => b.ins().fdiv(x, y),
        BinaryOp::Max => maximum(b, x, y),
        BinaryOp::Eq => mask(b, FloatCC::Equal, x, y),
        BinaryOp::Ne => mask(b, FloatCC::NotEqual, x, y),
        BinaryOp::Gt => mask(b, FloatCC::GreaterThan, x, y),
        BinaryOp::Ge => mask(b, FloatCC::GreaterThanOrEqual, x, y),
        BinaryOp::Lt => mask(b, FloatCC::LessThan, x, y),
        BinaryOp::Le => mask(b, FloatCC::LessThanOrEqual, x, y),
    }
}

fn emit_element(
    b: &mut FunctionBuilder,
    kernel: &Kernel,
    index: &[Value],
    bases: &[Value],
    helpers: &[(&'static str, cranelift_codegen::ir::FuncRef)],
    _ptr: types::Type,
) {
    let flags = MemFlagsData::trusted();
    let mut values: Vec<Value> = Vec::with_capacity(kernel.exprs.len());
    for e in &kernel.exprs {
        let v = match *e {
            Expr::Input(slot) => {
                let addr = address(b, bases[1 + slot], index, &kernel.inputs[slot].strides);
                b.ins().load(types::F32, flags, addr, 0)
            }
            Expr::Unary(op, a) => {
                let x = values[a];
                match op {
                    UnaryOp::Neg => b.ins().fneg(x),
                    UnaryOp::Sqrt => b.ins().sqrt(x),
                    UnaryOp::Relu => {
                        let zero = b.ins().f32const(0.0);
                        let pos = b.ins().fcmp(FloatCC::GreaterThan, x, zero);
                        b.ins().select(pos, x, zero)
                    }
                    UnaryOp::Exp => call(b, helpers, "needle_exp", &[x]),
                    UnaryOp::Log => call(b, helpers, "needle_log", &[x]),
                    UnaryOp::Tanh => call(b, helpers, "needle_tanh", &[x]),
                    UnaryOp::Sigmoid => call(b, helpers, "needle_sigmoid", &[x]),
                }
            }
            Expr::Scalar(op, c, a) => {
                let x = values[a];
                let k = b.ins().f32const(c);
                match op {
                    ScalarOp::Add => b.ins().fadd(x, k),
                    ScalarOp::Mul => b.ins().fmul(x, k),
                    ScalarOp::Div => b.ins().fdiv(x, k),
                    ScalarOp::RDiv => b.ins().fdiv(k, x),
                    ScalarOp::Pow => call(b, helpers, "needle_powf", &[x, k]),
                    ScalarOp::Max => maximum(b, x, k),
                    ScalarOp::Eq => mask(b, FloatCC::Equal, x, k),
                    ScalarOp::Ne => mask(b, FloatCC::NotEqual, x, k),
                    ScalarOp::Gt => mask(b, FloatCC::GreaterThan, x, k),
                    ScalarOp::Ge => mask(b, FloatCC::GreaterThanOrEqual, x, k),
                    ScalarOp::Lt => mask(b, FloatCC::LessThan, x, k),
                    ScalarOp::Le => mask(b, FloatCC::LessThanOrEqual, x, k),
                }
            }
            Expr::Binary(op, x, y) => {
                let (x, y) = (values[x], values[y]);
                binary(b, op, x, y)
            }
        };
        values.push(v);
    }
    let out_strides = needle_core::shape::contiguous_strides(&kernel.shape);
    let addr = address(b, bases[0], index, &out_strides);
    let result = *values.last().expect("non-empty kernel");
    b.ins().store(flags, result, addr, 0);
}
