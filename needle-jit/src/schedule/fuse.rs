//! Fusion, the second pass: multi-output fusion (an elementwise step joins an earlier one
//! sharing its data), epilogues (elementwise consumers of a reduction or 2-D matmul run as
//! it finalizes), and a reduction joining the elementwise step that produces what it reduces.

use std::collections::BTreeSet;

use needle_core::shape::contiguous_strides;

use super::kernel::Access;
use super::plan::{step_reads, step_writes, Step, StepKind};
use super::planner::Planner;
use crate::collect::Graph;

/// Limits of multi-output fusion: beyond these a joined loop holds more live values than
/// registers, and spills cost more than the pass it saves.
const MAX_FUSED_INPUTS: usize = 12;
const MAX_FUSED_EXPRS: usize = 96;
/// Earlier steps sharing data with an elementwise step that multi-output fusion tries, nearest
/// first (see [`Planner::merge_kernels`]): a bound on planning time, far above the few a
/// training step's graph offers.
const MERGE_CANDIDATES: usize = 32;

fn out_rank(graph: &Graph, step: &Step) -> usize {
    graph.nodes[step.node].shape().len()
}

impl Planner<'_> {
    /// Multi-output fusion: an elementwise step joins an earlier one over the same shape when
    /// all its inputs exist by then and the two share data (it reads the earlier step's output
    /// at the same element, or they read a common buffer). One loop then computes both, and a
    /// value only the joined step read is never reloaded (nor, see [`Self::drop_dead_stores`],
    /// stored). This is what turns an optimizer's per-parameter updates (gradient with weight
    /// decay, both moments, the parameter) into one pass.
    ///
    /// Only steps that share a slot with the joining step can take it, so the candidates come
    /// from per-slot indexes (the step writing each slot, the elementwise steps reading it),
    /// nearest first, at most [`MERGE_CANDIDATES`] of them: planning stays O(n log n) in the
    /// graph's size where a scan back over every earlier step was quadratic (a never-read
    /// training loop of 800 steps: 3.9 s of planning).
    pub(super) fn merge_kernels(&mut self) {
        let steps = std::mem::take(&mut self.plan.steps);
        let assigned = self.assigned_slots();
        // Per slot, its data: the first input slot holding the same buffer, or itself (see
        // `shared_buffers`: the sharing of the realization being planned).
        let data = self.shared_buffers();
        // Per data, the last merged step reading it.
        let mut last_reader: Vec<Option<usize>> = vec![None; data.len()];
        let note_reads = |last_reader: &mut Vec<Option<usize>>, slots: &[usize], at: usize| {
            for &slot in slots {
                let r = &mut last_reader[data[slot]];
                *r = Some(r.map_or(at, |r| r.max(at)));
            }
        };
        // Per slot: the merged step writing it, and the elementwise merged steps reading it.
        let mut producer: Vec<Option<usize>> = vec![None; self.plan.slots.len()];
        let mut readers: Vec<BTreeSet<usize>> = vec![BTreeSet::new(); self.plan.slots.len()];
        let mut candidates: Vec<usize> = Vec::with_capacity(4 * MERGE_CANDIDATES);
        let mut merged: Vec<Step> = Vec::with_capacity(steps.len());
        'steps: for step in steps {
            if let StepKind::Elementwise(k) = &step.kind {
                let reads: Vec<usize> = k.inputs.iter().map(|a| a.slot).collect();
                let ready = reads.iter().filter_map(|&s| producer[s]).max().unwrap_or(0);
                // Every step the checks below can accept writes a slot this step reads (an
                // epilogue's target) or is elementwise and reads or writes one (`related`).
                candidates.clear();
                for &r in &reads {
                    candidates.extend(producer[r].filter(|&w| w >= ready));
                    candidates.extend(readers[r].range(ready..).rev().take(MERGE_CANDIDATES));
                }
                candidates.sort_unstable_by(|a, b| b.cmp(a));
                candidates.dedup();
                candidates.truncate(MERGE_CANDIDATES);
                for &at in &candidates {
                    // A variable's update moved up into a matmul's epilogue (or any earlier
                    // step) would run before
                    // later steps' reads of the old value, which then could not give its
                    // buffer to the new value (see `find_donations`): an update stays where
                    // it is when a later step reads what it reads (or the same buffer).
                    let keeps_donation = || {
                        k.outputs.iter().any(|o| assigned[o.slot])
                            && reads
                                .iter()
                                .any(|&r| last_reader[data[r]].is_some_and(|l| l > at))
                    };
                    let to_matmul = matches!(merged[at].kind, StepKind::MatMul { .. })
                        && out_rank(self.graph, &merged[at]) == 2
                        && !keeps_donation();
                    let target = &mut merged[at];
                    let epilogue = match &mut target.kind {
                        StepKind::Reduce { epilogue, .. } => Some(epilogue),
                        // The GEMM hands row ranges of its 2-D result to the epilogue.
                        StepKind::MatMul { epilogue, .. } if to_matmul => Some(epilogue),
                        _ => None,
                    };
                    if let Some(epilogue) = epilogue {
                        let result = target.out;
                        let out_shape = self.graph.nodes[target.node].shape();
                        let identity = Access {
                            slot: result,
                            strides: contiguous_strides(out_shape),
                            offset: 0,
                        };
                        let reads_result = k.inputs.contains(&identity)
                            || epilogue.as_ref().is_some_and(|e| {
                                k.inputs
                                    .iter()
                                    .any(|a| e.outputs.iter().any(|o| o.slot == a.slot))
                            });
                        let other_view =
                            k.inputs.iter().any(|a| a.slot == result && *a != identity);
                        if out_shape == k.shape.as_slice() && reads_result && !other_view {
                            match epilogue {
                                None => {
                                    *epilogue = Some(k.clone());
                                }
                                Some(e) => {
                                    let mut joined = e.clone();
                                    if joined.absorb(k).is_none() {
                                        continue;
                                    }
                                    *e = joined;
                                }
                            }
                            target.inlined.extend(&step.inlined);
                            for o in &k.outputs {
                                producer[o.slot] = Some(at);
                            }
                            note_reads(&mut last_reader, &reads, at);
                            continue 'steps;
                        }
                        continue;
                    }
                    // The same holds for an earlier loop (an outer product's, which computes a
                    // batch-1 step's weight gradient).
                    if keeps_donation() {
                        continue;
                    }
                    let StepKind::Elementwise(into) = &mut target.kind else {
                        continue;
                    };
                    let related = k.inputs.iter().any(|a| {
                        into.outputs.iter().any(|o| o.slot == a.slot)
                            || into.inputs.iter().any(|b| b.slot == a.slot)
                    });
                    if into.shape != k.shape
                        || !related
                        || into.inputs.len() + k.inputs.len() > MAX_FUSED_INPUTS
                        || into.exprs.len() + k.exprs.len() > MAX_FUSED_EXPRS
                    {
                        continue;
                    }
                    let mut joined = into.clone();
                    if joined.absorb(k).is_some() {
                        *into = joined;
                        target.inlined.extend(&step.inlined);
                        for o in &k.outputs {
                            producer[o.slot] = Some(at);
                        }
                        for &r in &reads {
                            readers[r].insert(at);
                        }
                        note_reads(&mut last_reader, &reads, at);
                        continue 'steps;
                    }
                }
            }
            let step = match self.join_producer(step, &mut merged, &producer) {
                Ok(at) => {
                    for slot in step_writes(&merged[at]) {
                        producer[slot] = Some(at);
                    }
                    note_reads(&mut last_reader, &step_reads(&merged[at]), at);
                    continue 'steps;
                }
                Err(step) => *step,
            };
            let at = merged.len();
            for slot in step_writes(&step) {
                producer[slot] = Some(at);
            }
            let reads = step_reads(&step);
            if matches!(step.kind, StepKind::Elementwise(_)) {
                for &r in &reads {
                    readers[r].insert(at);
                }
            }
            note_reads(&mut last_reader, &reads, at);
            merged.push(step);
        }
        self.plan.steps = merged;
    }

    /// A reduction joins the elementwise step that produces what it reduces (a value other
    /// steps also read, so it was stored): the reduction's loop then computes and stores it,
    /// and reduces it in the same pass. Returns where the joined step is, or the step back.
    fn join_producer(
        &self,
        mut step: Step,
        merged: &mut [Step],
        producer: &[Option<usize>],
    ) -> Result<usize, Box<Step>> {
        let StepKind::Reduce { body, value, .. } = &mut step.kind else {
            return Err(Box::new(step));
        };
        let ready = body
            .inputs
            .iter()
            .filter_map(|a| producer[a.slot])
            .max()
            .unwrap_or(0);
        let Some(StepKind::Elementwise(into)) = merged.get(ready).map(|s| &s.kind) else {
            return Err(Box::new(step));
        };
        let reads_it = body
            .inputs
            .iter()
            .any(|a| into.outputs.iter().any(|o| o.slot == a.slot));
        if into.shape != body.shape
            || !reads_it
            || into.inputs.len() + body.inputs.len() > MAX_FUSED_INPUTS
            || into.exprs.len() + body.exprs.len() > MAX_FUSED_EXPRS
        {
            return Err(Box::new(step));
        }
        let mut joined = into.clone();
        let Some(map) = joined.absorb(body) else {
            return Err(Box::new(step));
        };
        *value = map[*value];
        *body = joined;
        let target = &mut merged[ready];
        step.inlined.extend(&target.inlined);
        *target = step;
        Ok(ready)
    }
}
