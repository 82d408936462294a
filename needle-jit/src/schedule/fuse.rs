//! Fusion, the second pass: multi-output fusion (an elementwise step joins an earlier one
//! sharing its data), epilogues (elementwise consumers of a reduction or 2-D matmul run as
//! it finalizes), a reduction joining the elementwise step that produces what it reduces, and
//! sibling sums (a sum joining an earlier one over the same shape and axes).

use std::collections::BTreeSet;

use needle_core::op::ReduceOp;
use needle_core::shape::contiguous_strides;

use super::kernel::{Access, Kernel};
use super::plan::{step_reads, step_writes, SiblingSum, Step, StepKind};
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

/// `into` with `other` absorbed (see [`Kernel::absorb`]), and where each of `other`'s entries
/// now is: when both walk the same shape and the joined loop stays within the limits of
/// fusion.
fn joined(into: &Kernel, other: &Kernel) -> Option<(Kernel, Vec<usize>)> {
    if into.shape != other.shape
        || into.inputs.len() + other.inputs.len() > MAX_FUSED_INPUTS
        || into.exprs.len() + other.exprs.len() > MAX_FUSED_EXPRS
    {
        return None;
    }
    let mut joined = into.clone();
    let map = joined.absorb(other)?;
    Some((joined, map))
}

/// The last of the merged steps writing what `kernel` reads (`None`: only inputs).
fn last_producer(kernel: &Kernel, producer: &[Option<usize>]) -> Option<usize> {
    kernel.inputs.iter().filter_map(|a| producer[a.slot]).max()
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
        // Per slot, the merged reductions reading it.
        let mut sum_readers: Vec<BTreeSet<usize>> = vec![BTreeSet::new(); self.plan.slots.len()];
        let mut candidates: Vec<usize> = Vec::with_capacity(4 * MERGE_CANDIDATES);
        let mut merged: Vec<Step> = Vec::with_capacity(steps.len());
        'steps: for step in steps {
            if let StepKind::Elementwise(k) = &step.kind {
                let reads: Vec<usize> = k.inputs.iter().map(|a| a.slot).collect();
                let ready = last_producer(k, &producer).unwrap_or(0);
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
                    let results: Vec<usize> = match &target.kind {
                        StepKind::Reduce { siblings, .. } => std::iter::once(target.out)
                            .chain(siblings.iter().map(|s| s.out))
                            .collect(),
                        _ => vec![target.out],
                    };
                    let epilogue = match &mut target.kind {
                        StepKind::Reduce { epilogue, .. } => Some(epilogue),
                        // The GEMM hands row ranges of its 2-D result to the epilogue.
                        StepKind::MatMul { epilogue, .. } if to_matmul => Some(epilogue),
                        _ => None,
                    };
                    if let Some(epilogue) = epilogue {
                        // The step's results: its own and its sibling sums'.
                        let out_shape = self.graph.nodes[target.node].shape();
                        let identity = |slot: usize| Access {
                            slot,
                            strides: contiguous_strides(out_shape),
                            offset: 0,
                        };
                        let reads_result = k
                            .inputs
                            .iter()
                            .any(|a| results.contains(&a.slot) && *a == identity(a.slot))
                            || epilogue.as_ref().is_some_and(|e| {
                                k.inputs
                                    .iter()
                                    .any(|a| e.outputs.iter().any(|o| o.slot == a.slot))
                            });
                        let other_view = k
                            .inputs
                            .iter()
                            .any(|a| results.contains(&a.slot) && *a != identity(a.slot));
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
                    if !related {
                        continue;
                    }
                    if let Some((kernel, _)) = joined(into, k) {
                        *into = kernel;
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
                Ok(at) => Ok(at),
                Err(step) => self.join_sibling(*step, &mut merged, &producer, &sum_readers),
            };
            let step = match step {
                Ok(at) => {
                    if matches!(merged[at].kind, StepKind::Reduce { .. }) {
                        for slot in step_reads(&merged[at]) {
                            sum_readers[slot].insert(at);
                        }
                    }
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
            match step.kind {
                StepKind::Elementwise(_) => {
                    for &r in &reads {
                        readers[r].insert(at);
                    }
                }
                StepKind::Reduce { .. } => {
                    for &r in &reads {
                        sum_readers[r].insert(at);
                    }
                }
                _ => {}
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
        let ready = last_producer(body, producer).unwrap_or(0);
        let Some(StepKind::Elementwise(into)) = merged.get(ready).map(|s| &s.kind) else {
            return Err(Box::new(step));
        };
        let reads_it = body
            .inputs
            .iter()
            .any(|a| into.outputs.iter().any(|o| o.slot == a.slot));
        let Some((kernel, map)) = reads_it.then(|| joined(into, body)).flatten() else {
            return Err(Box::new(step));
        };
        *value = map[*value];
        *body = kernel;
        let target = &mut merged[ready];
        step.inlined.extend(&target.inlined);
        *target = step;
        Ok(ready)
    }

    /// A sum joins an earlier sum over the same shape and axes that reads some of the same
    /// data, when everything it reads exists by then: one walk of the joined body then
    /// computes both (see `StepKind::Reduce`'s `siblings`), each adding its elements in the
    /// order it had alone. Returns where the joined step is, or the step back.
    fn join_sibling(
        &self,
        step: Step,
        merged: &mut [Step],
        producer: &[Option<usize>],
        sum_readers: &[BTreeSet<usize>],
    ) -> Result<usize, Box<Step>> {
        let StepKind::Reduce {
            op: ReduceOp::Sum,
            axes,
            body,
            value,
            run,
            epilogue: None,
            siblings,
            ..
        } = &step.kind
        else {
            return Err(Box::new(step));
        };
        if !siblings.is_empty() {
            return Err(Box::new(step));
        }
        // Strictly after every producer of what it reads: a value the earlier step itself
        // stores is not there yet when its walk reads it.
        let after = last_producer(body, producer).map_or(0, |p| p + 1);
        let mut candidates: Vec<usize> = body
            .inputs
            .iter()
            .flat_map(|a| sum_readers[a.slot].range(after..))
            .copied()
            .collect();
        candidates.sort_unstable_by(|a, b| b.cmp(a));
        candidates.dedup();
        for at in candidates.into_iter().take(MERGE_CANDIDATES) {
            let StepKind::Reduce {
                op: ReduceOp::Sum,
                axes: target_axes,
                body: target_body,
                siblings: target_siblings,
                ..
            } = &mut merged[at].kind
            else {
                continue;
            };
            if target_axes != axes {
                continue;
            }
            let Some((kernel, map)) = joined(target_body, body) else {
                continue;
            };
            *target_body = kernel;
            target_siblings.push(SiblingSum {
                value: map[*value],
                out: step.out,
                node: step.node,
                run: *run,
            });
            merged[at].inlined.extend(&step.inlined);
            return Ok(at);
        }
        Err(Box::new(step))
    }
}
