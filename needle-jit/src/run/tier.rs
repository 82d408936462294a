//! Tiered compilation: a large program's machine code is generated on a background thread
//! while the interpreter runs its first realizations ([`crate::tiered`]); the code is
//! installed when the thread has finished ([`super::program::Program`] checks before each
//! realization).

use std::time::Duration;

use crate::codegen::{Code, CompiledFunctions, Prepared};

/// A program's machine code.
pub(super) enum Tier {
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

/// One line per compiled function with its code generation time.
pub(super) fn describe_function_times(code: &Code) -> String {
    code.function_times
        .iter()
        .map(|(label, took)| format!("  {label}: {:.3} ms", took.as_secs_f64() * 1e3))
        .collect::<Vec<_>>()
        .join("\n")
}
