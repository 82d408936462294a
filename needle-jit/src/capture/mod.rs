//! Stage 5, capture: a whole training step recorded once and replayed as native code.
//!
//! Receives a closure (the step: forward, `backward`, `opt.step()`); hands back a [`CapturedStep`]
//! whose calls run it. In JIT mode the first calls run the closure as usual while tracing
//! them; once two consecutive traced calls with arguments of the same shapes agree (the same
//! program, inputs from the same places, results to the same places), later calls skip the
//! closure: they check the arguments and variables, repeat the library's host work, bind
//! buffers and run the compiled program. No recording, autodiff, keying or freeing.
//!
//! ```
//! use needle_core::nn::{Forward, Linear, Module, SoftmaxLoss};
//! use needle_core::optim::{Optimizer, Sgd};
//! use needle_core::{manual_seed, with_mode, Mode, Tensor};
//!
//! needle_jit::install();
//! with_mode(Mode::Jit, || {
//!     manual_seed(0);
//!     let model = Linear::new(4, 3);
//!     let mut opt = Sgd::new(model.parameters(), 0.1);
//!     let mut step = needle_jit::capture(|batch: &[&Tensor]| {
//!         opt.zero_grad();
//!         let loss = SoftmaxLoss::new().forward(&model.forward(batch[0]), batch[1]);
//!         loss.backward();
//!         opt.step();
//!         loss
//!     });
//!     let x = Tensor::randn(&[8, 4]);
//!     let y = Tensor::from_vec_i64(vec![0, 1, 2, 0, 1, 2, 0, 1], &[8]);
//!     let losses: Vec<f32> = (0..5).map(|_| step.call(&[&x, &y]).item()).collect();
//!     assert!(losses[4] < losses[0]);
//!     assert!(step.replays() >= 1);
//! });
//! ```
//!
//! # What a replay repeats, and what it cannot
//!
//! A replay gives the same bits as running the closure, for everything needle-rs does in
//! it: the forward and backward pass, the optimizers' updates (their step counts and bias
//! corrections advance), learning-rate schedules (the rate of each step), gradient clipping,
//! BatchNorm's running statistics, and every random draw (`Dropout`, `Tensor::rand*`: the
//! same draws from the seeded generator, in the same order). Gradients are stored on the
//! parameters as `backward` would.
//!
//! It cannot repeat the closure's own Rust code: printing, counters, pushing to a `Vec`,
//! branching on a value. Those run during the traced calls only. Nor can it tell a tensor
//! passed as an argument from the same tensor read directly by the closure: a replay reads
//! the argument of each call in both places (pass a tensor either way, not both). What can
//! be noticed is:
//! - reading a value inside the closure (`item()`, `to_vec()`, printing a tensor) makes the
//!   step uncapturable: it then runs uncaptured at every call, with a warning saying where;
//!   return the value instead and read it after the call;
//! - a tensor the closure makes from host data that changes between calls (a
//!   `Tensor::from_vec` of a Rust counter) makes the step uncapturable (pass it as an
//!   argument instead); one that stays the same is kept as a constant;
//! - a computed value kept outside the closure (a handle stored in a struct) makes the step
//!   uncapturable (return it instead), and so does assigning an already computed value to a
//!   variable inside it (`prev.assign(&w)`, which re-points the variable on the host);
//! - a variable the step reads given a new value outside it (`assign`, loading a checkpoint,
//!   a dropped tensor), the mode or the gradient switch changed, a module switched between
//!   `train()` and `eval()`, an argument of another shape, dtype or layout: the next call
//!   captures again (saying why with `NEEDLE_DEBUG=jit`); nothing stale is ever returned.
//!
//! A program's interpreter steps (padding, concatenation, casts, i64 work) and window steps
//! (a convolution's im2col and col2im) run in replays too, on their slots' buffers. Captures
//! are kept per argument signature (the short last batch of an epoch has its own), at most
//! [`MAX_CAPTURES`] per step.
//! Outside JIT mode, and with capture switched off ([`set_capture`](crate::set_capture),
//! `NEEDLE_CAPTURE=0`), a `CapturedStep` simply calls the closure. [`stats`](crate::stats()) counts
//! captures and replays.

mod bindings;
mod outputs;
mod replay;
mod signature;

use std::marker::PhantomData;
use std::panic::Location;

use needle_core::capture::{begin_trace, end_trace, finish_recording, structure_epoch};
use needle_core::{is_grad_enabled, mode, Mode, Tensor};

pub use outputs::StepOutputs;

use bindings::Captured;
use replay::{Refused, ReplayScratch};
use signature::Signature;

use crate::config::{capture_enabled, checked, debug_flags};
use crate::stats::bump;

/// Most argument signatures a [`CapturedStep`] keeps a capture for (the least recently used goes).
pub const MAX_CAPTURES: usize = 8;

/// Consecutive traced calls that did not repeat each other after which a step stops trying
/// (its graph keeps changing).
const MAX_TRACES_WITHOUT_REPEAT: usize = 4;

/// Wraps a training (or inference) step for capture and replay; see the
/// [module documentation](mod@crate::capture). The closure takes the step's arguments (a batch) and
/// returns its outputs ([`StepOutputs`]: a tensor, a tuple, a `Vec` or nothing).
#[track_caller]
pub fn capture<F, O>(step: F) -> CapturedStep<F, O>
where
    F: FnMut(&[&Tensor]) -> O,
    O: StepOutputs,
{
    CapturedStep {
        f: step,
        at: Location::caller(),
        captures: Vec::new(),
        candidates: Vec::new(),
        refused: None,
        enabled: true,
        replays: 0,
        scratch: ReplayScratch::default(),
        _outputs: PhantomData,
    }
}

struct Entry {
    signature: Signature,
    captured: Captured,
    /// Whether `NEEDLE_DEBUG=jit` said that this capture is being replayed.
    announced: bool,
}

/// A captured step (see [`capture()`]).
pub struct CapturedStep<F, O> {
    f: F,
    at: &'static Location<'static>,
    /// Most recently used first.
    captures: Vec<Entry>,
    /// Per signature, the last traced call, waiting for a call that repeats it, and how many
    /// traced calls in a row did not (at most [`MAX_CAPTURES`]).
    candidates: Vec<(Entry, usize)>,
    refused: Option<String>,
    enabled: bool,
    replays: u64,
    scratch: ReplayScratch,
    _outputs: PhantomData<fn() -> O>,
}

impl<F, O> CapturedStep<F, O>
where
    F: FnMut(&[&Tensor]) -> O,
    O: StepOutputs,
{
    /// Runs the step on `args`: a replay when a capture for their shapes is valid, else the
    /// closure (traced, in JIT mode).
    #[track_caller]
    pub fn call(&mut self, args: &[&Tensor]) -> O {
        if mode() != Mode::Jit || !self.enabled || !capture_enabled() || self.refused.is_some() {
            return (self.f)(args);
        }
        for a in args {
            // Bound by buffer: a view (a batch of a dataset) is resolved without computing.
            a.realize();
        }
        let (grad, checked, epoch) = (is_grad_enabled(), checked(), structure_epoch());
        // A capture for another signature whose variables changed outside the step is stale
        // for good (its variables are found updated by this step after every call).
        self.captures.retain(|e| match e.captured.check() {
            Ok(()) => true,
            Err(Refused::Stale(reason)) | Err(Refused::Invalid(reason)) => {
                if debug_flags().0 {
                    eprintln!(
                        "[needle-jit] step captured at {}: dropping the capture for {}: \
                         {reason}",
                        self.at, e.signature
                    );
                }
                false
            }
        });
        let found = self
            .captures
            .iter()
            .position(|e| e.signature.matches(args, grad, checked, epoch));
        let why = match found {
            Some(i) => {
                let entry = &mut self.captures[i];
                // Checked with every capture above.
                let replayed = entry.captured.replay(args, &mut self.scratch);
                match replayed {
                    Ok(()) => {
                        if !entry.announced && debug_flags().0 {
                            eprintln!(
                                "[needle-jit] step captured at {}: replaying the capture for {}",
                                self.at, entry.signature
                            );
                        }
                        entry.announced = true;
                        if i != 0 {
                            self.captures[..=i].rotate_right(1);
                        }
                        for e in &mut self.captures[1..] {
                            e.captured.expect_current();
                        }
                        self.replays += 1;
                        let returned = &mut self.scratch.returned;
                        return O::from_tensors(
                            &mut returned.drain(..).map(|t| t.expect("delivered")),
                        );
                    }
                    Err(Refused::Invalid(message)) => panic!("{message}"),
                    Err(Refused::Stale(reason)) => {
                        self.captures.remove(i);
                        reason
                    }
                }
            }
            None => match self.captures.first() {
                Some(e) => e.signature.difference(args, grad, checked, epoch),
                None => String::new(),
            },
        };
        if debug_flags().0 && !why.is_empty() {
            eprintln!(
                "[needle-jit] step captured at {}: capturing again: {why}",
                self.at
            );
        }
        self.trace(args, grad, checked, epoch)
    }

    /// One call of the closure, traced; the capture is kept when it repeats the previous
    /// traced call.
    fn trace(&mut self, args: &[&Tensor], grad: bool, checked: bool, epoch: u64) -> O {
        // The step starts from realized values, so its final realization is the whole step.
        needle_core::backend::realize_pending();
        let guard = TraceGuard::begin();
        let out = (self.f)(args);
        let tensors = out.to_tensors();
        finish_recording();
        if tensors.is_empty() {
            needle_core::backend::realize_pending();
        } else {
            let refs: Vec<&Tensor> = tensors.iter().collect();
            Tensor::realize_all(&refs);
        }
        let trace = guard.end();
        let traced = crate::run::traced::take();
        let bound = match (trace.read, traced) {
            (Some(at), _) => Err(format!(
                "it reads a value inside the closure at {at} (Rust-side work a replay cannot \
                 repeat); return the tensor and read it after the call"
            )),
            (None, _) if trace.realized_assign.is_some() => Err(format!(
                "it assigns an already computed value at {} (which re-points the variable on \
                 the host, where a replay cannot repeat it); assign it outside the step, or \
                 assign an expression the step computes",
                trace.realized_assign.expect("checked")
            )),
            (None, None) => Err("it leaves nothing to compute at its end".to_string()),
            (None, Some(traced)) => bindings::bind(traced, trace, args, &tensors),
        };
        let captured = match bound {
            Ok(c) => c,
            Err(reason) => {
                self.refuse(reason);
                return out;
            }
        };
        for e in &mut self.captures {
            e.captured.expect_current();
        }
        let signature = Signature::of(args, grad, checked, epoch);
        let waiting = self
            .candidates
            .iter()
            .position(|(c, _)| c.signature == signature);
        let verdict = waiting.map(|i| (i, captured.repeats(&self.candidates[i].0.captured)));
        let entry = Entry {
            signature,
            captured,
            announced: false,
        };
        match verdict {
            Some((i, Ok(()))) => {
                if debug_flags().0 {
                    eprintln!(
                        "[needle-jit] step captured at {}: captured for {} (a program of {} \
                         steps, {} inputs bound); replayed from the next call",
                        self.at,
                        entry.signature,
                        entry.captured.program.plan.steps.len(),
                        entry.captured.inputs.len()
                    );
                }
                bump(|s| s.steps_captured += 1);
                self.candidates.remove(i);
                self.captures.insert(0, entry);
                self.captures.truncate(MAX_CAPTURES);
            }
            Some((i, Err(reason))) => {
                let failures = self.candidates[i].1 + 1;
                if reason.contains("holds other values") || failures >= MAX_TRACES_WITHOUT_REPEAT {
                    self.refuse(reason);
                } else {
                    self.candidates[i] = (entry, failures);
                }
            }
            None => {
                self.candidates.insert(0, (entry, 0));
                self.candidates.truncate(MAX_CAPTURES);
            }
        }
        out
    }

    fn refuse(&mut self, reason: String) {
        eprintln!(
            "needle warning: the step captured at {} runs uncaptured: {reason}",
            self.at
        );
        self.candidates.clear();
        self.captures.clear();
        self.refused = Some(reason);
    }

    /// Why the step runs uncaptured at every call, if it does.
    pub fn uncaptured_reason(&self) -> Option<&str> {
        self.refused.as_deref()
    }

    /// Turns capture off (every call runs the closure) or back on.
    pub fn set_enabled(&mut self, enabled: bool) {
        self.enabled = enabled;
        if !enabled {
            self.captures.clear();
            self.candidates.clear();
        }
    }

    /// Calls this step replayed so far.
    pub fn replays(&self) -> u64 {
        self.replays
    }

    /// Argument signatures this step holds a capture for.
    pub fn captured_signatures(&self) -> usize {
        self.captures.len()
    }
}

/// Ends the trace also when the closure panics (a trace left running would make every later
/// step on this thread refuse to start one).
struct TraceGuard(bool);

impl TraceGuard {
    fn begin() -> TraceGuard {
        begin_trace();
        TraceGuard(true)
    }

    fn end(mut self) -> needle_core::capture::Trace {
        self.0 = false;
        end_trace()
    }
}

impl Drop for TraceGuard {
    fn drop(&mut self) {
        if self.0 {
            drop(end_trace());
            drop(crate::run::traced::take());
        }
    }
}
