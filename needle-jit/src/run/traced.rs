//! The record a captured step takes of its final realization (see `crate::capture`): the
//! program that ran, and, per input slot and per delivered value, the node behind it.
//!
//! Taken only while needle-core says a capture is finishing its trace, so other realizations
//! pay nothing for it.

use std::cell::RefCell;
use std::rc::{Rc, Weak};

use needle_core::node::{Node, NodeRef};
use rustc_hash::FxHashMap;

use super::host::HostStep;
use super::program::Program;
use crate::collect::Graph;
use crate::schedule::{SlotKind, StepKind};

/// One input slot of the traced program.
pub(crate) struct TracedInput {
    /// The slot.
    pub(crate) slot: usize,
    /// The realized node the slot read.
    pub(crate) node: NodeRef,
    /// The node it is a view of, through the views resolved by this realization (the node
    /// itself when it is not such a view).
    pub(crate) source: NodeRef,
}

/// The final realization of a traced step.
pub(crate) struct TracedRun {
    /// The program that ran.
    pub(crate) program: Rc<Program>,
    /// Its input slots, in slot order.
    pub(crate) inputs: Vec<TracedInput>,
    /// The values it delivered: graph position and node.
    pub(crate) wanted: Vec<(usize, Weak<Node>)>,
    /// Its interpreter steps, as a replay runs them.
    pub(crate) host_steps: Vec<HostStep>,
}

thread_local! {
    static TRACED: RefCell<Option<TracedRun>> = const { RefCell::new(None) };
}

/// Records `program` running `graph` as the traced realization.
pub(super) fn record(program: &Rc<Program>, graph: &Graph) {
    let sources: FxHashMap<u64, &NodeRef> = graph
        .view_sources
        .iter()
        .map(|(at, source)| (graph.nodes[*at].id(), source))
        .collect();
    let plan = &program.plan;
    let inputs = plan
        .slots
        .iter()
        .enumerate()
        .filter(|(_, slot)| slot.kind == SlotKind::Input)
        .map(|(slot, s)| {
            let node = graph.nodes[s.node].clone();
            let mut source = node.clone();
            while let Some(&next) = sources.get(&source.id()) {
                source = next.clone();
            }
            TracedInput { slot, node, source }
        })
        .collect();
    let wanted = plan
        .wanted
        .iter()
        .map(|&w| (w, Rc::downgrade(&graph.nodes[w])))
        .collect();
    let host_steps = plan
        .steps
        .iter()
        .enumerate()
        .filter(|(_, s)| s.kind == StepKind::Host)
        .map(|(step, s)| HostStep {
            step,
            op: graph.nodes[s.node].op().clone(),
            inputs: graph.inputs(s.node).to_vec(),
        })
        .collect();
    TRACED.with(|t| {
        *t.borrow_mut() = Some(TracedRun {
            program: program.clone(),
            inputs,
            wanted,
            host_steps,
        })
    });
}

/// The traced realization recorded since the last call, if any.
pub(crate) fn take() -> Option<TracedRun> {
    TRACED.with(|t| t.borrow_mut().take())
}
