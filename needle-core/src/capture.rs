//! What a captured step (needle-jit's `capture`) needs from the library while it traces one
//! call of the user's closure: the Rust-side work a replay must repeat, the reads a replay
//! cannot repeat, and the changes that make a capture stale.
//!
//! A replay runs the compiled program without running the closure, so everything the
//! closure's library calls do on the host has to be repeated another way:
//! - *host values* — tensors the library fills on the host at every step (the learning rate
//!   and Adam's bias corrections as 0-d inputs, dropout masks and every `Tensor::rand*` draw
//!   from the seeded generator): made with `host_value`, which, while a trace is recording,
//!   keeps the function that fills the tensor so a replay fills it again, in the same order;
//! - *host actions* — state the library advances at every step (an optimizer's step count,
//!   a schedule's position): `host_action` runs the action and keeps it for replays.
//!
//! What cannot be repeated is noticed instead: reading a value inside the closure while it
//! records (`note_read`) makes the step uncapturable, and a change of what a step records
//! from outside it (a module switched between train and eval) moves the [`structure_epoch`],
//! which a replay checks.

use std::cell::{Cell, RefCell};
use std::panic::Location;
use std::rc::{Rc, Weak};

use crate::node::{Node, NodeRef, TensorCell};
use crate::storage::{Buffer, Realized};

/// Fills a host value's buffer again for a replay, from the current value of the tensor it
/// is derived from (if any); an error is a message to panic with (a label out of range).
pub type Fill = Box<dyn FnMut(Option<&Realized>, &mut Buffer) -> Result<(), String>>;

/// One piece of Rust-side work of a traced step, in the order the step did it.
pub enum HostWork {
    /// A tensor the library filled on the host: its node as traced, its value (whose buffer
    /// a replay fills again) and the function that fills it.
    Value {
        /// The traced node (dead once the step's graph is released).
        node: Weak<Node>,
        /// Its node id.
        id: u64,
        /// The value (the buffer a replay refills when nothing else holds it).
        value: Realized,
        /// The tensor it is computed from (class labels for a loss's mask), as traced: its
        /// node id and node (which may be gone once the step's graph is released).
        from: Option<(u64, Weak<Node>)>,
        /// Fills the buffer with the next step's value.
        fill: Fill,
    },
    /// State the library advanced.
    Action(Box<dyn FnMut()>),
}

/// What a trace saw while the closure ran.
#[derive(Default)]
pub struct Trace {
    /// The host values and actions, in order.
    pub work: Vec<HostWork>,
    /// Where the closure first read a value (or made the pending work run).
    pub read: Option<&'static Location<'static>>,
    /// The id of the first node recorded by the traced call.
    pub first_node: u64,
    /// Leaves made during the call that share a realized node's value (`detach` of a
    /// variable): their id and that node (kept alive until the trace ends, though the step
    /// may supersede it). A replay binds the node's variable for them.
    pub aliases: Vec<(u64, NodeRef)>,
    /// The ids of the pending assignments the call made (variables' new values).
    pub assignments: Vec<u64>,
    /// Where the closure first assigned an already computed value (which re-points a
    /// variable on the host: a replay cannot repeat it).
    pub realized_assign: Option<&'static Location<'static>>,
    /// Variables the closure found without a gradient (`grad()` gave `None`, so an optimizer
    /// skipped them): a replay is valid only while they still have none.
    pub missing_grads: Vec<Weak<TensorCell>>,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// The closure is running: reads are noted.
    Recording,
    /// The capture realizes the step's outputs: not a read of the closure's.
    Finishing,
}

thread_local! {
    static TRACE: RefCell<Option<(Phase, Trace)>> = const { RefCell::new(None) };
    static EPOCH: Cell<u64> = const { Cell::new(0) };
}

/// Starts tracing on this thread (needle-jit's capture, before it calls the closure).
///
/// Panics when a trace is already running: captured steps do not nest.
pub fn begin_trace() {
    TRACE.with(|t| {
        let mut t = t.borrow_mut();
        assert!(
            t.is_none(),
            "capture: a captured step was called inside another captured step; call the \
             inner closure directly"
        );
        *t = Some((
            Phase::Recording,
            Trace {
                first_node: crate::node::recorded_nodes(),
                ..Trace::default()
            },
        ));
    });
}

/// Marks the end of the closure: the realization that follows is the capture's own.
pub fn finish_recording() {
    TRACE.with(|t| {
        if let Some((phase, _)) = t.borrow_mut().as_mut() {
            *phase = Phase::Finishing;
        }
    });
}

/// Ends the trace and returns what it saw (an empty trace when none was running).
pub fn end_trace() -> Trace {
    TRACE.with(|t| t.borrow_mut().take().map(|(_, t)| t).unwrap_or_default())
}

/// Whether a trace is running.
pub fn tracing() -> bool {
    TRACE.with(|t| t.borrow().is_some())
}

/// Whether the running trace is in its final realization (the backend records the program
/// then).
pub fn finishing() -> bool {
    TRACE.with(|t| matches!(&*t.borrow(), Some((Phase::Finishing, _))))
}

/// Runs `f` on the trace when one is recording (the closure runs); does nothing otherwise.
fn recording(f: impl FnOnce(&mut Trace)) {
    TRACE.with(|t| {
        if let Some((Phase::Recording, trace)) = t.borrow_mut().as_mut() {
            f(trace);
        }
    });
}

/// Called where a value is read (realized for the host): inside a recording closure, a read
/// is Rust-side work a replay cannot repeat.
pub(crate) fn note_read(at: &'static Location<'static>) {
    recording(|trace| {
        trace.read.get_or_insert(at);
    });
}

/// Registers the host value `node` (whose value `fill` made, from the value of `from` when
/// given) when a trace is recording; `fill` is dropped otherwise.
pub(crate) fn host_value(
    node: &NodeRef,
    from: Option<&NodeRef>,
    fill: impl FnMut(Option<&Realized>, &mut Buffer) -> Result<(), String> + 'static,
) {
    recording(|trace| {
        let value = node.value().expect("host values are realized").clone();
        trace.work.push(HostWork::Value {
            node: Rc::downgrade(node),
            id: node.id(),
            value,
            from: from.map(|f| (f.id(), Rc::downgrade(f))),
            fill: Box::new(fill),
        });
    });
}

/// Notes, when a trace is recording, that the new leaf `alias` shares the value of the
/// realized `of` (a `detach`), so a captured step reads what `of` denotes at each call.
pub(crate) fn note_alias(alias: &NodeRef, of: &NodeRef) {
    recording(|trace| {
        trace.aliases.push((alias.id(), of.clone()));
    });
}

/// Notes, when a trace is recording, that `node` is a variable's new value.
pub(crate) fn note_assignment(node: &NodeRef) {
    recording(|trace| {
        trace.assignments.push(node.id());
    });
}

/// Notes, when a trace is recording, an assignment of an already computed value at `at`.
pub(crate) fn note_realized_assign(at: &'static Location<'static>) {
    recording(|trace| {
        trace.realized_assign.get_or_insert(at);
    });
}

/// Notes, when a trace is recording, that `variable` has no gradient.
pub(crate) fn note_missing_grad(variable: &Rc<TensorCell>) {
    recording(|trace| {
        trace.missing_grads.push(Rc::downgrade(variable));
    });
}

/// Runs `action` now and, when a trace is recording, keeps it for every replay.
pub(crate) fn host_action(mut action: impl FnMut() + 'static) {
    action();
    recording(|trace| {
        trace.work.push(HostWork::Action(Box::new(action)));
    });
}

/// A counter of the changes that alter what a step records without showing in its inputs
/// (a module switched between training and evaluation). A captured step compares it before
/// every replay.
pub fn structure_epoch() -> u64 {
    EPOCH.with(Cell::get)
}

/// Notes a change of the kind [`structure_epoch`] counts.
pub(crate) fn structure_changed() {
    EPOCH.with(|e| e.set(e.get() + 1));
}
