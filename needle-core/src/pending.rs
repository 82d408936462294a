//! Pending work in lazy and JIT mode: the variable updates and stored gradients every
//! realization computes, and the rule that bounds them in a loop that never reads a value.
//!
//! Every realization computes, besides the values asked for, the pending assignments (optimizer
//! updates, running statistics) and the gradients `backward` stored, so a training step's
//! update runs in the same program as its forward and backward pass and its graph is released
//! afterwards. A loop that never reads would record forever, though: each step's graph hangs
//! off the previous step's pending updates. So a *step boundary* — an [`assign`] to the variable
//! that was assigned first since the last realization (in a training loop: the optimizer's
//! first update, one step later) — realizes the pending work first when at least
//! [`max_pending_nodes`] nodes have been recorded since the last realization. An unread
//! training loop then runs in chunks of whole steps, every chunk after the first the same
//! program; values are the same bits as when every step is read (each node is computed the
//! same way whatever program it runs in). A loop that reads every step never reaches a
//! boundary: the read resets it. A value the user holds without reading it keeps the graph
//! it needs.
//!
//! [`assign`]: crate::Tensor::assign

use std::cell::{Cell, RefCell};
use std::rc::{Rc, Weak};

use crate::mode::{mode, Mode};
use crate::node::{recorded_nodes, Node, NodeRef, TensorCell};

/// Default of [`max_pending_nodes`]: a few steps of a small model, one of a larger one.
/// Bigger chunks gain nothing (steps hardly fuse across their boundary) and cost compile time
/// and memory: 800 never-read steps of a 32-64-10 MLP with Adam took 0.07 s of CPU and 20 MB
/// with 1,024, 0.23 s and 52 MB with 4,096, 0.7 s and 174 MB with 16,384. The cost of a
/// small bound: a variable assigned twice within one step (the running statistics of a
/// module applied twice) makes a boundary inside the step once the nodes recorded before its
/// second assignment reach the bound, and a read at the end of the step then computes the
/// forward pass before that boundary again; a larger bound avoids it for larger models.
pub const DEFAULT_MAX_PENDING_NODES: usize = 1024;

thread_local! {
    /// Variables whose new value is still pending (optimizer updates, running statistics),
    /// and gradients `backward` stored. Every realization computes them too, so the graph
    /// that produced them is released and a training step's update runs in the same program
    /// as its forward and backward.
    static PENDING_ASSIGNMENTS: RefCell<Vec<Weak<Node>>> = const { RefCell::new(Vec::new()) };
    static MAX_PENDING: Cell<Option<usize>> = const { Cell::new(None) };
    /// The node counter at the last realization.
    static RECORDED_AT_REALIZATION: Cell<u64> = const { Cell::new(0) };
    /// The first variable given a pending assignment since the last realization: its next
    /// assignment is a step boundary.
    static FIRST_ASSIGNED: RefCell<Weak<TensorCell>> = const { RefCell::new(Weak::new()) };
}

/// Nodes recorded since the last realization above which a step boundary realizes the
/// pending work (see the [module documentation](self)). Default
/// [`DEFAULT_MAX_PENDING_NODES`], or `NEEDLE_MAX_PENDING_NODES`; per thread.
///
/// # Panics
/// When `NEEDLE_MAX_PENDING_NODES` is set to something that is not a number.
pub fn max_pending_nodes() -> usize {
    MAX_PENDING.with(|m| match m.get() {
        Some(v) => v,
        None => {
            let v = match std::env::var("NEEDLE_MAX_PENDING_NODES") {
                Ok(s) => s.trim().parse().unwrap_or_else(|_| {
                    panic!("NEEDLE_MAX_PENDING_NODES={s:?} is not a number of nodes")
                }),
                Err(_) => DEFAULT_MAX_PENDING_NODES,
            };
            m.set(Some(v));
            v
        }
    })
}

/// Sets this thread's [`max_pending_nodes`]: 0 realizes at every step boundary, `usize::MAX`
/// never (pending work then grows until something is read).
pub fn set_max_pending_nodes(nodes: usize) {
    MAX_PENDING.with(|m| m.set(Some(nodes)));
}

pub(crate) fn register_pending_assignment(node: &NodeRef) {
    PENDING_ASSIGNMENTS.with(|p| p.borrow_mut().push(Rc::downgrade(node)));
}

/// Registers a pending value the next realization computes as well, as long as something
/// still holds it (gradients stored by `backward`). Realized nodes need nothing.
pub(crate) fn register_pending_value(node: &NodeRef) {
    if !node.is_realized() {
        register_pending_assignment(node);
    }
}

/// Number of pending assignments not yet realized on this thread.
pub fn pending_assignments() -> usize {
    PENDING_ASSIGNMENTS.with(|p| {
        p.borrow()
            .iter()
            .filter(|w| w.upgrade().is_some_and(|n| !n.is_realized()))
            .count()
    })
}

/// Appends the pending values still held and not yet realized to `outputs` (forgetting the
/// others).
pub(crate) fn add_pending(outputs: &mut Vec<NodeRef>) {
    PENDING_ASSIGNMENTS.with(|p| {
        let mut p = p.borrow_mut();
        p.retain(|w| w.upgrade().is_some_and(|n| !n.is_realized()));
        outputs.extend(p.iter().filter_map(Weak::upgrade));
    });
}

/// Called after every realization: forgets what it computed and starts counting again.
pub(crate) fn realized() {
    PENDING_ASSIGNMENTS.with(|p| {
        p.borrow_mut()
            .retain(|w| w.upgrade().is_some_and(|n| !n.is_realized()))
    });
    RECORDED_AT_REALIZATION.with(|r| r.set(recorded_nodes()));
    FIRST_ASSIGNED.with(|f| *f.borrow_mut() = Weak::new());
}

/// Called by [`assign`](crate::Tensor::assign) (through
/// `backend::before_pending_assignment`) before it records a pending new value of
/// `variable`: whether this is a step boundary past the bound, where the pending work is to
/// be realized first (see the [module documentation](self)). Remembers `variable` when it is
/// the first assigned since the last realization.
pub(crate) fn at_step_boundary(variable: &Rc<TensorCell>) -> bool {
    if mode() == Mode::Eager {
        return false;
    }
    let boundary = FIRST_ASSIGNED.with(|f| {
        let mut first = f.borrow_mut();
        match first.upgrade() {
            Some(cell) => Rc::ptr_eq(&cell, variable),
            None => {
                *first = Rc::downgrade(variable);
                false
            }
        }
    });
    let recorded = recorded_nodes() - RECORDED_AT_REALIZATION.with(Cell::get);
    boundary && recorded >= max_pending_nodes() as u64
}

/// Records `variable` as the first assigned since the last realization (after the
/// realization a step boundary triggers, for the assignment about to be recorded).
pub(crate) fn assigned_first(variable: &Rc<TensorCell>) {
    FIRST_ASSIGNED.with(|f| *f.borrow_mut() = Rc::downgrade(variable));
}
