//! Stage 3, codegen: a whole [`Plan`](crate::schedule::Plan) becomes one Cranelift module.
//!
//! Receives a plan; hands on [`Prepared`] (the module's IR, kept on this thread) and a
//! [`CompileJob`] (the machine code generation, which may run on another thread), which
//! [`Prepared::finish`] turns into [`Code`], the program's entry for the run stage.
//!
//! The entry is `extern "C" fn(args: *mut u64) -> u32`. `args` is the program's argument
//! block ([`crate::abi`] gives the layout): the run context, an error record, and per buffer
//! slot its pointer, element offset and length. Fused elementwise kernels and reductions are
//! loop nests in the function; matmuls and interpreter-run nodes are calls to the run stage's
//! host entry point, which reads the same block. Transcendental functions call the
//! interpreter's scalar functions ([`helpers`]), so results are bit-identical to eager mode.
//!
//! Files, in the order a program is built: [`prepare`] (declarations, then every function)
//! → [`split`] (which steps go in which function) → [`functions`] (chunk, entry, row-range
//! and product functions) → [`emitter`] (per-function state, addresses, loop nests) →
//! [`elementwise`], [`reduce`], [`sum`] ([`sum_rows`]: split across threads), [`matmul`]
//! (one kind of step each) → [`lower`] (each
//! op family's scalar and vector instructions) → [`bounds`] (checked code's exits); then
//! [`job`] generates the machine code and [`module`] holds it.

pub mod bounds;
pub mod elementwise;
pub mod emitter;
pub mod functions;
pub mod helpers;
pub mod job;
pub mod lower;
pub mod matmul;
pub mod module;
pub mod prepare;
pub mod reduce;
pub mod split;
pub mod sum;
pub mod sum_rows;

pub use job::CompiledFunctions;
pub use module::Code;
pub use prepare::{prepare, Prepared};
