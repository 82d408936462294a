//! Dead stores, the third pass: after fusion, values computed and consumed inside one loop
//! are no longer stored; loops are then collapsed to as few axes as their accesses allow.

use super::kernel::{Kernel, Output};
use super::plan::{step_reads, SlotKind, StepKind};
use super::planner::Planner;

impl Planner<'_> {
    /// Removes stores nobody reads (values computed and consumed inside one fused loop).
    pub(super) fn drop_dead_stores(&mut self) {
        let mut read = vec![false; self.plan.slots.len()];
        for step in &self.plan.steps {
            for slot in step_reads(step) {
                read[slot] = true;
            }
        }
        let slots = &self.plan.slots;
        let live =
            |o: &Output| read[o.slot] || !matches!(slots[o.slot].kind, SlotKind::Scratch { .. });
        for step in self.plan.steps.iter_mut() {
            let kernels: Vec<&mut Kernel> = match &mut step.kind {
                StepKind::Elementwise(k) => vec![k],
                StepKind::Reduce { body, epilogue, .. } => {
                    std::iter::once(body).chain(epilogue.as_mut()).collect()
                }
                StepKind::MatMul {
                    epilogue: Some(e), ..
                } => vec![e],
                _ => continue,
            };
            let mut first = None;
            for k in kernels {
                let (keep, dead): (Vec<Output>, Vec<Output>) =
                    k.outputs.iter().partition(|o| live(o));
                for o in dead {
                    self.plan.access[o.node] = None;
                    step.inlined.push(o.node);
                }
                k.outputs = keep;
                first = first.or(k.outputs.first().copied());
            }
            if let (StepKind::Elementwise(_), Some(first)) = (&step.kind, first) {
                step.out = first.slot;
                step.node = first.node;
            }
        }
        self.plan
            .steps
            .retain(|s| !matches!(&s.kind, StepKind::Elementwise(k) if k.outputs.is_empty()));
        for step in &mut self.plan.steps {
            match &mut step.kind {
                StepKind::Elementwise(k) => {
                    *k = std::mem::take(k).collapsed().rows_for_threads();
                }
                StepKind::Reduce {
                    epilogue: Some(k), ..
                } => {
                    *k = std::mem::take(k).collapsed();
                }
                // A matmul's epilogue keeps its `[m, n]` axes: the GEMM calls it by rows.
                StepKind::MatMul {
                    epilogue: Some(k), ..
                } if k.outputs.is_empty() => {
                    step.kind = match std::mem::replace(&mut step.kind, StepKind::Host) {
                        StepKind::MatMul { a, b, k, .. } => StepKind::MatMul {
                            a,
                            b,
                            k,
                            epilogue: None,
                        },
                        _ => unreachable!(),
                    };
                }
                _ => {}
            }
        }
    }
}
