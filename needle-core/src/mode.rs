//! Execution modes and the per-thread switches (mode, gradient recording).
//!
//! State is per thread: a program's training loop runs on one thread, and tests running in
//! parallel threads cannot disturb each other's mode or random stream.

use std::cell::Cell;

/// How recorded ops are executed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Mode {
    /// Every op is computed when it is recorded (the reference semantics).
    Eager,
    /// Ops only record; reading a value runs the pending graph in the interpreter.
    Lazy,
    /// Ops only record; reading a value compiles the pending graph with the JIT backend
    /// (needle-jit) and runs native code.
    Jit,
}

impl Mode {
    /// Parses `eager`, `lazy` or `jit` (the values of `NEEDLE_MODE`).
    pub fn parse(s: &str) -> Option<Mode> {
        match s.trim().to_ascii_lowercase().as_str() {
            "eager" => Some(Mode::Eager),
            "lazy" | "interp" | "interpreter" => Some(Mode::Lazy),
            "jit" => Some(Mode::Jit),
            _ => None,
        }
    }

    /// The mode named by `NEEDLE_MODE`, eager when unset. Panics on an unknown value.
    pub fn from_env() -> Mode {
        match std::env::var("NEEDLE_MODE") {
            Ok(v) if !v.is_empty() => Mode::parse(&v)
                .unwrap_or_else(|| panic!("NEEDLE_MODE={v:?} is not one of eager, lazy, jit")),
            _ => Mode::Eager,
        }
    }
}

thread_local! {
    static MODE: Cell<Option<Mode>> = const { Cell::new(None) };
    static GRAD_ENABLED: Cell<bool> = const { Cell::new(true) };
}

/// The current thread's execution mode (initially from `NEEDLE_MODE`, default eager).
pub fn mode() -> Mode {
    MODE.with(|m| match m.get() {
        Some(mode) => mode,
        None => {
            let mode = Mode::from_env();
            m.set(Some(mode));
            mode
        }
    })
}

/// Sets the current thread's execution mode. Pending lazy work stays pending and is run by
/// the next read, with the then-current mode's backend.
pub fn set_mode(mode: Mode) {
    MODE.with(|m| m.set(Some(mode)));
}

/// Runs `f` with `mode` active, restoring the previous mode afterwards (also on panic).
pub fn with_mode<R>(mode: Mode, f: impl FnOnce() -> R) -> R {
    struct Restore(Mode);
    impl Drop for Restore {
        fn drop(&mut self) {
            set_mode(self.0);
        }
    }
    let _restore = Restore(self::mode());
    set_mode(mode);
    f()
}

/// Whether ops record gradient information on this thread.
pub fn is_grad_enabled() -> bool {
    GRAD_ENABLED.with(|g| g.get())
}

/// Guard that disables gradient recording until dropped (see [`no_grad`]).
pub struct NoGradGuard {
    previous: bool,
}

impl NoGradGuard {
    /// Disables gradient recording on this thread until the guard is dropped.
    pub fn new() -> NoGradGuard {
        NoGradGuard {
            previous: GRAD_ENABLED.with(|g| g.replace(false)),
        }
    }
}

impl Default for NoGradGuard {
    fn default() -> Self {
        NoGradGuard::new()
    }
}

impl Drop for NoGradGuard {
    fn drop(&mut self) {
        GRAD_ENABLED.with(|g| g.set(self.previous));
    }
}

/// Runs `f` without recording gradients: results of ops inside do not require grad.
///
/// ```
/// use needle_core::{no_grad, Tensor};
/// let w = Tensor::ones(&[2]).requires_grad_(true);
/// let y = no_grad(|| &w * 2.0);
/// assert!(!y.requires_grad());
/// ```
pub fn no_grad<R>(f: impl FnOnce() -> R) -> R {
    let _guard = NoGradGuard::new();
    f()
}

/// Runs `f` with gradient recording enabled (inside a `no_grad` scope, for example).
pub fn enable_grad<R>(f: impl FnOnce() -> R) -> R {
    struct Restore(bool);
    impl Drop for Restore {
        fn drop(&mut self) {
            GRAD_ENABLED.with(|g| g.set(self.0));
        }
    }
    let _restore = Restore(GRAD_ENABLED.with(|g| g.replace(true)));
    f()
}
