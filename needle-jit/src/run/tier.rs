//! Tiered compilation: a large program's machine code is generated on a background thread
//! while the interpreter runs its first realizations ([`crate::tiered`]); the code is
//! installed when the thread has finished.

use std::time::Duration;

use needle_core::backend::BackendError;

use super::program::{describe_function_times, Program};
use crate::codegen::{Code, CompiledFunctions, Prepared};
use crate::config::debug_flags;
use crate::stats::bump;

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

impl Program {
    /// Whether the machine code is ready, installing it if the background thread finished.
    /// Returns the code generation error once if it failed.
    pub(super) fn code_ready(&self) -> Result<bool, BackendError> {
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
