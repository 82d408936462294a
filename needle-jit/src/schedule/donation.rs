//! Donation, the last pass: which outputs may be written into the buffer of an input instead
//! of a new one (an optimizer's new parameter into the old parameter's buffer).
//!
//! Who decides what:
//! - The schedule (here) decides everything the program's structure determines: which output
//!   may take which input's buffer ([`Donation`](super::plan::Donation)): the output is a variable's new value, the
//!   step reads the input only at the element it writes, no later step reads that slot.
//! - The run stage (`run/donation.rs`) decides, before every run, only what the structure
//!   cannot know: whether the buffer is dead in this run — held by nothing outside the graph,
//!   and not read late through another input slot sharing it. A donation it refuses gets a
//!   new buffer; results never depend on the choice.
//!
//! Fusion keeps an update out of a matmul's epilogue when that would make its donation
//! impossible, and to see which input slots share a buffer it reads the buffers of the
//! realization being planned ([`Planner::shared_buffers`]). Buffer sharing is not part of the
//! structural key: a cached plan keeps the sharing of the call that compiled it, which can
//! only cost a donation (the run-time check refuses it) — never a wrong value.

use needle_core::shape::contiguous_strides;
use rustc_hash::FxHashMap;

use super::kernel::{Access, Kernel};
use super::plan::{Donation, Elem, SlotKind, StepKind};
use super::planner::Planner;

impl Planner<'_> {
    /// Per slot, the first input slot holding the same buffer in the realization being
    /// planned, or the slot itself: a parameter and the detached copy an optimizer reads
    /// share one. A hint for fusion only (see the module documentation): at run time the
    /// sharing is checked again.
    pub(super) fn shared_buffers(&self) -> Vec<usize> {
        let mut first_with: FxHashMap<usize, usize> = Default::default();
        (0..self.plan.slots.len())
            .map(|s| {
                let slot = &self.plan.slots[s];
                let buffer = (slot.kind == SlotKind::Input)
                    .then(|| self.graph.nodes[slot.node].value())
                    .flatten()
                    .map(|v| std::sync::Arc::as_ptr(&v.buffer) as usize);
                buffer.map_or(s, |b| *first_with.entry(b).or_insert(s))
            })
            .collect()
    }

    /// Per slot: whether it holds the new value of a variable (a pending assignment's value).
    pub(super) fn assigned_slots(&self) -> Vec<bool> {
        let graph = self.graph;
        let mut assigned = vec![false; self.plan.slots.len()];
        for &w in &self.plan.wanted {
            if graph.nodes[w]
                .op()
                .is_pending_assignment(graph.inputs(w).len())
            {
                if let Some(a) = &self.plan.access[w] {
                    assigned[a.slot] = true;
                }
            }
        }
        assigned
    }

    /// Lists the outputs that may be written in place of an input ([`Donation`]).
    pub(super) fn find_donations(&mut self) {
        // Only the new values of variables (pending assignments: parameters, optimizer state,
        // running statistics) take buffers over. Any other output — a gradient of a graph
        // that stays differentiable, say — leaves its inputs alone, since the graphs that
        // still hold them may legitimately be read again.
        let assigned = self.assigned_slots();
        let plan = &mut self.plan;
        let mut donations = Vec::new();
        for (s, site) in donation_sites(plan) {
            let DonationSite {
                outputs,
                identity_inputs,
            } = site;
            let mut taken: Vec<usize> = Vec::new();
            for &o in &outputs {
                let out = &plan.slots[o];
                if out.kind != SlotKind::Owned || out.elem != Elem::F32 || !assigned[o] {
                    continue;
                }
                let candidate = identity_inputs.iter().copied().find(|&i| {
                    let input = &plan.slots[i];
                    input.kind == SlotKind::Input
                        && input.elem == Elem::F32
                        && input.len == out.len
                        && plan.last_read[i] == Some(s)
                        && !taken.contains(&i)
                });
                if let Some(input) = candidate {
                    taken.push(input);
                    donations.push(Donation {
                        out: o,
                        input,
                        step: s,
                        identity_inputs: identity_inputs.clone(),
                    });
                }
            }
        }
        plan.donations = donations;
    }
}

/// Where a step may write an output over an input: the slots it writes element by element,
/// and the input slots it reads only at the element it writes (its identity inputs).
pub(crate) struct DonationSite {
    /// The output slots of the step's elementwise loop or epilogue.
    pub(crate) outputs: Vec<usize>,
    /// The input slots read only at the element written, sorted.
    pub(crate) identity_inputs: Vec<usize>,
}

/// The donation sites of `plan`, by step: elementwise loops, and the epilogues of reductions
/// and matmuls (which run element by element over the result, after or while the body
/// reads its inputs: a slot the body reads is not read at the element written; the GEMM's
/// operands are read while earlier rows' epilogues run).
pub(crate) fn donation_sites(plan: &super::plan::Plan) -> Vec<(usize, DonationSite)> {
    let mut sites = Vec::new();
    for (s, step) in plan.steps.iter().enumerate() {
        let (k, body_reads): (&Kernel, Vec<usize>) = match &step.kind {
            StepKind::Elementwise(k) => (k, Vec::new()),
            StepKind::Reduce {
                body,
                epilogue: Some(e),
                ..
            } => (e, body.inputs.iter().map(|a| a.slot).collect()),
            StepKind::MatMul {
                a,
                b,
                epilogue: Some(e),
                ..
            } => (e, vec![a.slot, b.slot]),
            _ => continue,
        };
        let compact = contiguous_strides(&k.shape);
        let identity = |a: &Access| a.offset == 0 && a.strides == compact;
        let mut identity_inputs: Vec<usize> = k
            .inputs
            .iter()
            .map(|a| a.slot)
            .filter(|&slot| {
                !body_reads.contains(&slot)
                    && k.inputs.iter().filter(|a| a.slot == slot).all(identity)
            })
            .collect();
        identity_inputs.sort_unstable();
        identity_inputs.dedup();
        sites.push((
            s,
            DonationSite {
                outputs: k.outputs.iter().map(|o| o.slot).collect(),
                identity_inputs,
            },
        ));
    }
    sites
}
