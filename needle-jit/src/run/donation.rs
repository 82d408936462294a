//! Run-time donation safety: before every run, which of the plan's donations (decided by the
//! schedule, see [`crate::schedule::donation`]) are safe in this run — the input's buffer is
//! dead once the donating step has read it. This stage decides nothing the plan's structure
//! determines; it only checks what a structure cannot know: which inputs share a buffer in
//! this run, and who else holds it.

use std::rc::Rc;
use std::sync::Arc;

use needle_core::node::NodeRef;
use needle_core::storage::Buffer;

use super::program::Program;
use crate::collect::Graph;
use crate::schedule::{Elem, SlotKind};

/// An input buffer a run writes an output into (see [`crate::Donation`]).
pub(super) struct Donated {
    /// The output slot.
    pub(super) out: usize,
    /// The buffer.
    pub(super) buffer: Arc<Buffer>,
    /// The nodes holding the buffer: marked overwritten after the run.
    pub(super) holders: Vec<NodeRef>,
}

/// The donations of the plan that are safe in this run: the input's buffer is compact, of the
/// output's length, and held by nothing but input nodes of this graph, which nothing outside
/// the graph holds, and which no step after the donating one reads (nor the donating step,
/// except at the element it writes). Then the only references that survive the run lead to
/// those nodes through graph nodes that keep their inputs for a later backward pass — and
/// those nodes are marked overwritten, so such a read fails loudly instead of seeing the new
/// value.
pub(super) fn safe_donations(program: &Program, graph: &Graph) -> Vec<Donated> {
    let plan = &program.plan;
    let mut out: Vec<Donated> = Vec::new();
    if plan.donations.is_empty() {
        return out;
    }
    // (buffer address, input slot, buffer given to an output) of every f32 input, to find
    // the slots sharing a buffer.
    let mut by_buffer: Vec<(usize, usize, bool)> = plan
        .slots
        .iter()
        .enumerate()
        .filter(|(_, slot)| slot.kind == SlotKind::Input && slot.elem == Elem::F32)
        .filter_map(|(i, slot)| {
            let node = &graph.nodes[slot.node];
            (!node.is_overwritten())
                .then(|| node.value())
                .flatten()
                .map(|v| (Arc::as_ptr(&v.buffer) as usize, i, false))
        })
        .collect();
    by_buffer.sort_unstable();
    'donations: for d in &plan.donations {
        let node = &graph.nodes[plan.slots[d.input].node];
        if node.is_overwritten() {
            continue;
        }
        let Some(value) = node.value() else { continue };
        let buffer = &value.buffer;
        let address = Arc::as_ptr(buffer) as usize;
        let first = by_buffer.partition_point(|&(a, ..)| a < address);
        let given = by_buffer
            .get(first)
            .is_some_and(|&(a, _, g)| a == address && g);
        if !matches!(**buffer, Buffer::F32(_))
            || value.layout.offset != 0
            || buffer.len() != plan.slots[d.out].len
            || given
        {
            continue;
        }
        let sharing: Vec<usize> = by_buffer[first..]
            .iter()
            .take_while(|&&(a, ..)| a == address)
            .map(|&(_, slot, _)| slot)
            .collect();
        // Holders of the buffer: the graph's inputs sharing it, and nodes outside the graph
        // that those inputs keep as their own inputs (a broadcast view of a parameter keeps
        // the parameter's node for a later backward pass). `refs` counts, per holder, the
        // references the graph accounts for.
        let mut holders: Vec<NodeRef> = Vec::with_capacity(sharing.len() + 1);
        let mut refs: Vec<usize> = Vec::with_capacity(sharing.len() + 1);
        for &slot in &sharing {
            let at = plan.slots[slot].node;
            let read_late = match plan.last_read[slot] {
                Some(last) if last > d.step => true,
                Some(last) if last == d.step => !d.identity_inputs.contains(&slot),
                _ => false,
            };
            if read_late || program.host_read[slot] {
                continue 'donations;
            }
            holders.push(graph.nodes[at].clone());
            refs.push(1 + graph.uses[at] as usize);
        }
        for h in 0..sharing.len() {
            let kept = holders[h].inputs();
            for input in kept {
                let shares = input.is_realized()
                    && !input.is_overwritten()
                    && input
                        .value()
                        .is_some_and(|v| Arc::ptr_eq(&v.buffer, buffer));
                if !shares {
                    continue;
                }
                match holders.iter().position(|n| Rc::ptr_eq(n, &input)) {
                    Some(k) => refs[k] += 1,
                    None => {
                        holders.push(input);
                        refs.push(1);
                    }
                }
            }
        }
        // One reference per holder in `holders` itself, on top of the counted ones.
        let explained = holders
            .iter()
            .zip(&refs)
            .all(|(n, &r)| Rc::strong_count(n) == r + 1);
        if Arc::strong_count(buffer) != holders.len() || !explained {
            continue;
        }
        // The donating input is one of the graph's f32 inputs, so its buffer is listed.
        by_buffer[first].2 = true;
        out.push(Donated {
            out: d.out,
            buffer: buffer.clone(),
            holders,
        });
    }
    out
}
