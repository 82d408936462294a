//! Switches of the JIT: environment variables read once per thread, and the setters that
//! override them. Every stage reads its settings here (and nothing else), so no stage
//! depends on another for a flag.
//!
//! | variable | default | switch |
//! |---|---|---|
//! | `NEEDLE_JIT_CHECKED=1` | off | [`set_checked`], [`with_checked`] |
//! | `NEEDLE_JIT_TIERED=0` | on | [`set_tiered`] |
//! | `NEEDLE_JIT_CACHE=n` | [`DEFAULT_CAPACITY`](crate::cache::DEFAULT_CAPACITY) | [`set_cache_capacity`](crate::set_cache_capacity) |
//! | `NEEDLE_JIT_OPT=level` | per function | — |
//! | `NEEDLE_DEBUG=jit` / `jit-ir` | off | [`set_keep_ir`] (IR only) |
//! | `NEEDLE_CAPTURE=0` | on | [`set_capture`] |

use std::cell::Cell;
use std::thread::LocalKey;

thread_local! {
    static CHECKED: Cell<Option<bool>> = const { Cell::new(None) };
    static KEEP_IR: Cell<bool> = const { Cell::new(false) };
    static TIERED: Cell<Option<bool>> = const { Cell::new(None) };
    static CAPTURE: Cell<Option<bool>> = const { Cell::new(None) };
}

/// Whether captured steps ([`capture`](crate::capture())) replay on this thread (default on;
/// `NEEDLE_CAPTURE=0` or [`set_capture`] turns it off: every call then runs its closure, as
/// the training helpers' `--no-capture` flag does).
pub fn capture_enabled() -> bool {
    switch(&CAPTURE, || env_on("NEEDLE_CAPTURE"))
}

/// This thread's setting of a switch, read from the environment by `from_env` the first time.
fn switch(key: &'static LocalKey<Cell<Option<bool>>>, from_env: impl FnOnce() -> bool) -> bool {
    key.with(|c| {
        let v = c.get().unwrap_or_else(from_env);
        c.set(Some(v));
        v
    })
}

/// A switch that is on unless the variable `name` is `0`.
fn env_on(name: &str) -> bool {
    std::env::var(name).map_or(true, |v| v != "0")
}

/// Turns step capture on or off for this thread.
pub fn set_capture(on: bool) {
    CAPTURE.with(|c| c.set(Some(on)));
}

/// Programs with at least this many steps take several milliseconds to compile: with tiered
/// compilation on, their code is generated in the background while the interpreter runs
/// the first realizations.
pub const TIERED_MIN_STEPS: usize = 12;

/// Whether this thread uses tiered compilation (default on; `NEEDLE_JIT_TIERED=0` turns it
/// off). With it, a program of at least [`TIERED_MIN_STEPS`] steps has its machine code
/// generated on a background thread while the interpreter runs its first realizations.
/// Which realizations those are depends on timing, but not the results: the interpreter and
/// compiled code share their scalar semantics and summation order, and compiled products
/// call the same gemm crate as the interpreter under the default
/// [`GemmPolicy::Library`](crate::gemm::GemmPolicy::Library), so a seeded run gives the same
/// bits whenever the switch happens (`tests/reproducible.rs` checks it across processes).
/// Checked mode never tiers: it exists to run generated code.
pub fn tiered() -> bool {
    switch(&TIERED, || env_on("NEEDLE_JIT_TIERED"))
}

/// Turns tiered compilation on or off for this thread.
pub fn set_tiered(on: bool) {
    TIERED.with(|t| t.set(Some(on)));
}

/// Whether this thread compiles checked code (default: `NEEDLE_JIT_CHECKED=1`). In checked
/// mode generated code compares every index with its buffer's length and stops with
/// [`BackendError::OutOfBounds`](needle_core::backend::BackendError::OutOfBounds) naming the step, the op and the index.
pub fn checked() -> bool {
    switch(&CHECKED, || {
        std::env::var("NEEDLE_JIT_CHECKED").is_ok_and(|v| v == "1")
    })
}

/// Turns checked mode on or off for this thread.
pub fn set_checked(on: bool) {
    CHECKED.with(|c| c.set(Some(on)));
}

/// Runs `f` with checked mode set to `on`, restoring the previous setting afterwards.
pub fn with_checked<R>(on: bool, f: impl FnOnce() -> R) -> R {
    let before = checked();
    set_checked(on);
    struct Restore(bool);
    impl Drop for Restore {
        fn drop(&mut self) {
            set_checked(self.0);
        }
    }
    let _restore = Restore(before);
    f()
}

/// Keep the Cranelift IR of programs compiled from now on (for [`last_program`](crate::last_program)).
pub fn set_keep_ir(on: bool) {
    KEEP_IR.with(|k| k.set(on));
}

/// Whether IR is kept for programs compiled from now on ([`set_keep_ir`]).
pub(crate) fn keep_ir() -> bool {
    KEEP_IR.with(Cell::get)
}

/// (`NEEDLE_DEBUG` has `jit`, has `jit-ir`), read once per thread.
pub(crate) fn debug_flags() -> (bool, bool) {
    thread_local! {
        static FLAGS: (bool, bool) = {
            let v = std::env::var("NEEDLE_DEBUG").unwrap_or_default();
            let parts: Vec<&str> = v.split(',').map(str::trim).collect();
            (parts.iter().any(|p| *p == "jit" || *p == "jit-ir"), parts.contains(&"jit-ir"))
        };
    }
    FLAGS.with(|f| *f)
}

/// The program cache's bound when `NEEDLE_JIT_CACHE` does not set one.
pub(crate) fn cache_capacity(default: usize) -> usize {
    std::env::var("NEEDLE_JIT_CACHE")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// Cranelift's optimization level: `NEEDLE_JIT_OPT` when set (read on every call, for every
/// function compiled), else `default`.
pub(crate) fn opt_level(default: &str) -> String {
    std::env::var("NEEDLE_JIT_OPT").unwrap_or(default.into())
}
