//! The schedule as text (`NEEDLE_DEBUG=jit`, [`Plan::describe`]).

use std::fmt::Write as _;

use super::plan::{Plan, SlotKind, StepKind};

impl Plan {
    /// The schedule as text: one line per step with its nodes and their source lines.
    pub fn describe(&self) -> String {
        let mut s = String::new();
        for (i, step) in self.steps.iter().enumerate() {
            let node = &self.nodes[step.node];
            let slot = &self.slots[step.out];
            let what = match &step.kind {
                StepKind::Elementwise(k) => format!("fused [{}] over {:?}", k.ops(), k.shape),
                StepKind::Reduce {
                    op,
                    axes,
                    body,
                    epilogue,
                    siblings,
                    ..
                } => format!(
                    "reduce {:?}{:?} of [{}] over {:?}{}{}",
                    op,
                    axes,
                    body.ops(),
                    body.shape,
                    match siblings.len() {
                        0 => String::new(),
                        n => format!(" ({} sums in one pass)", n + 1),
                    },
                    epilogue
                        .as_ref()
                        .map(|k| format!(", then [{}]", k.ops()))
                        .unwrap_or_default()
                ),
                StepKind::MatMul { a, b, k, epilogue } => format!(
                    "matmul {:?} (k={k}) of slots {} and {}{}",
                    node.shape,
                    a.slot,
                    b.slot,
                    epilogue
                        .as_ref()
                        .map(|e| format!(", then [{}] on its rows", e.ops()))
                        .unwrap_or_default()
                ),
                StepKind::Host => format!("interpreter kernel for {}", node.op),
                StepKind::Window { input, .. } => format!("{} of slot {}", node.op, input.slot),
            };
            let place = match slot.kind {
                SlotKind::Owned => "new buffer".to_string(),
                SlotKind::Scratch { offset } => format!("arena+{offset}"),
                SlotKind::Input => "input".to_string(),
            };
            let outs: Vec<usize> = match &step.kind {
                StepKind::Elementwise(k) => k.outputs.iter().map(|o| o.node).collect(),
                StepKind::Reduce { siblings, .. } => std::iter::once(step.node)
                    .chain(siblings.iter().map(|s| s.node))
                    .collect(),
                _ => vec![step.node],
            };
            let slots = match &step.kind {
                StepKind::Elementwise(k) if k.outputs.len() > 1 => format!(
                    "slots {:?}",
                    k.outputs.iter().map(|o| o.slot).collect::<Vec<_>>()
                ),
                StepKind::Reduce { siblings, .. } if !siblings.is_empty() => format!(
                    "slots {:?} ({place}, …)",
                    std::iter::once(step.out)
                        .chain(siblings.iter().map(|s| s.out))
                        .collect::<Vec<_>>()
                ),
                _ => format!("slot {} ({place})", step.out),
            };
            let _ = writeln!(s, "  step {i}: {what} -> {slots}");
            for &n in step.inlined.iter().chain(&outs) {
                let info = &self.nodes[n];
                let _ = writeln!(
                    s,
                    "      #{n} {} {:?} {}{}",
                    info.op,
                    info.shape,
                    info.recorded(),
                    if outs.contains(&n) { "" } else { " (inlined)" }
                );
            }
        }
        for d in &self.donations {
            let _ = writeln!(
                s,
                "  in place when dead: step {} may write slot {} into the buffer of input slot {}",
                d.step, d.out, d.input
            );
        }
        let _ = writeln!(
            s,
            "  {} steps, {} slots, arena {} bytes",
            self.steps.len(),
            self.slots.len(),
            self.arena_bytes
        );
        s
    }
}
