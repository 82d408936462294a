//! Counters of this thread's JIT activity ([`JitStats`]), and how they print: the counters,
//! and what they mean together.
//!
//! With tiered compilation a short run can end before any compiled code ran (`programs_run:
//! 0, interpreted_runs: 3`), which reads like a JIT that does nothing. Both formats therefore
//! say when realizations ran in the interpreter while the machine code was generated in the
//! background, and whether the compiled code has run since.

use std::cell::Cell;
use std::fmt;
use std::time::Duration;

/// Counters of this thread's JIT activity. `Display` and `Debug` (below) also say
/// when realizations ran in the interpreter while the program compiled in the background.
#[derive(Clone, Copy, Default, PartialEq)]
pub struct JitStats {
    /// Programs compiled (one per distinct graph structure).
    pub compilations: u64,
    /// Realizations served by an already compiled program.
    pub cache_hits: u64,
    /// Total time spent planning and compiling.
    pub compile_time: Duration,
    /// Programs run.
    pub programs_run: u64,
    /// Fused kernels (elementwise and reductions) run.
    pub kernels_run: u64,
    /// Matrix products run through the GEMM.
    pub matmuls_run: u64,
    /// im2col and col2im steps run (the interpreter's functions writing the program's
    /// buffers).
    pub windows_run: u64,
    /// Nodes run by the interpreter's kernels from inside programs (pad, concat, casts,
    /// i64 ops).
    pub fallback_nodes: u64,
    /// Realizations the interpreter ran because their program's machine code was still being
    /// generated in the background (see [`set_tiered`](crate::set_tiered)).
    pub interpreted_runs: u64,
    /// Programs dropped from the cache to keep it within its bound (see
    /// [`set_cache_capacity`](crate::set_cache_capacity)).
    pub evictions: u64,
    /// Outputs written into the buffer of a dead input instead of a new buffer (parameters and
    /// optimizer state updated in place, see [`crate::Donation`]).
    pub donated_buffers: u64,
    /// Steps captured (see [`capture`](crate::capture())): once per argument signature, and
    /// again after a capture went stale.
    pub steps_captured: u64,
    /// Calls of captured steps that ran as replays.
    pub steps_replayed: u64,
}

thread_local! {
    static STATS: Cell<JitStats> = Cell::new(JitStats::default());
}

/// This thread's counters.
pub fn stats() -> JitStats {
    STATS.with(Cell::get)
}

/// Resets this thread's counters (the cache is kept).
pub fn reset_stats() {
    STATS.with(|s| s.set(JitStats::default()));
}

/// Adds to this thread's counters.
pub(crate) fn bump(f: impl FnOnce(&mut JitStats)) {
    STATS.with(|s| {
        let mut v = s.get();
        f(&mut v);
        s.set(v);
    });
}

impl JitStats {
    /// What the interpreted runs mean, when there were any: `None` when every realization ran
    /// compiled code.
    pub fn tiering_note(&self) -> Option<String> {
        let interpreted = self.interpreted_runs;
        if interpreted == 0 {
            return None;
        }
        let runs = if interpreted == 1 {
            "realization"
        } else {
            "realizations"
        };
        let then = if self.programs_run == 0 {
            "the compiled code has not run yet; it runs once it is ready".to_string()
        } else {
            format!("compiled code ran the {} after it", self.programs_run)
        };
        Some(format!(
            "{interpreted} {runs} ran in the interpreter while the program compiled in the \
             background (tiered compilation, same results); {then}"
        ))
    }
}

impl fmt::Display for JitStats {
    /// One line of counters, then the tiering note when there is one:
    ///
    /// ```
    /// let stats = needle_jit::JitStats { compilations: 1, interpreted_runs: 3, ..Default::default() };
    /// assert_eq!(
    ///     stats.to_string(),
    ///     "1 compilation (0.000 ms), 0 cache hits, 0 programs run (0 kernels, 0 matmuls, 0 \
    ///      windows, 0 interpreter nodes), 3 interpreted runs, 0 evictions, 0 donated buffers, 0 captured \
    ///      steps, 0 replays\n\
    ///      3 realizations ran in the interpreter while the program compiled in the background \
    ///      (tiered compilation, same results); the compiled code has not run yet; it runs once \
    ///      it is ready"
    /// );
    /// ```
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let plural =
            |n: u64, one: &'static str, many: &'static str| if n == 1 { one } else { many };
        write!(
            f,
            "{} {} ({:.3} ms), {} cache {}, {} {} run ({} kernels, {} matmuls, {} windows, {} \
             interpreter nodes), {} interpreted {}, {} {}, {} donated {}, {} captured {}, {} {}",
            self.compilations,
            plural(self.compilations, "compilation", "compilations"),
            self.compile_time.as_secs_f64() * 1e3,
            self.cache_hits,
            plural(self.cache_hits, "hit", "hits"),
            self.programs_run,
            plural(self.programs_run, "program", "programs"),
            self.kernels_run,
            self.matmuls_run,
            self.windows_run,
            self.fallback_nodes,
            self.interpreted_runs,
            plural(self.interpreted_runs, "run", "runs"),
            self.evictions,
            plural(self.evictions, "eviction", "evictions"),
            self.donated_buffers,
            plural(self.donated_buffers, "buffer", "buffers"),
            self.steps_captured,
            plural(self.steps_captured, "step", "steps"),
            self.steps_replayed,
            plural(self.steps_replayed, "replay", "replays"),
        )?;
        if let Some(note) = self.tiering_note() {
            write!(f, "\n{note}")?;
        }
        Ok(())
    }
}

impl fmt::Debug for JitStats {
    /// The fields as `#[derive(Debug)]` prints them, then `tiered` with the tiering note when
    /// some realizations were interpreted.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut s = f.debug_struct("JitStats");
        s.field("compilations", &self.compilations)
            .field("cache_hits", &self.cache_hits)
            .field("compile_time", &self.compile_time)
            .field("programs_run", &self.programs_run)
            .field("kernels_run", &self.kernels_run)
            .field("matmuls_run", &self.matmuls_run)
            .field("windows_run", &self.windows_run)
            .field("fallback_nodes", &self.fallback_nodes)
            .field("interpreted_runs", &self.interpreted_runs)
            .field("evictions", &self.evictions)
            .field("donated_buffers", &self.donated_buffers)
            .field("steps_captured", &self.steps_captured)
            .field("steps_replayed", &self.steps_replayed);
        if let Some(note) = self.tiering_note() {
            s.field("tiered", &note);
        }
        s.finish()
    }
}
