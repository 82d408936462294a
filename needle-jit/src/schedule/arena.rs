//! Memory, the fourth pass: scratch slots packed into the program's arena by liveness (a
//! slot's bytes are reused once the last step reading it has run), first fit, 64-byte
//! aligned. Also records each slot's last reader, which donation needs.

use super::plan::{step_reads, step_writes, SlotKind, StepKind};
use super::planner::Planner;

impl Planner<'_> {
    /// Packs the scratch slots into the arena by liveness: a slot's bytes are reused once the
    /// last step reading it has run.
    pub(super) fn assign_memory(&mut self) {
        let mut last_read = vec![None; self.plan.slots.len()];
        for (s, step) in self.plan.steps.iter().enumerate() {
            for slot in step_reads(step) {
                last_read[slot] = Some(s);
            }
        }
        self.plan.last_read = last_read;
        let mut arena = Arena::default();
        // Per step, the scratch slots whose last reader it is, in allocation order (each is
        // freed once that step has run).
        let mut free_after: Vec<Vec<usize>> = vec![Vec::new(); self.plan.steps.len()];
        for s in 0..self.plan.steps.len() {
            let step = &self.plan.steps[s];
            let mut writes = step_writes(step);
            if let StepKind::Reduce { run, siblings, .. } = &step.kind {
                writes.extend(run.iter().chain(siblings.iter().flat_map(|s| &s.run)));
            }
            for w in writes {
                let slot = &mut self.plan.slots[w];
                if let SlotKind::Scratch { .. } = slot.kind {
                    let offset = arena.alloc(slot.len * slot.elem.size());
                    slot.kind = SlotKind::Scratch { offset };
                    free_after[self.plan.last_read[w].map_or(s, |r| r.max(s))].push(w);
                }
            }
            for slot in std::mem::take(&mut free_after[s]) {
                let slot = &self.plan.slots[slot];
                let SlotKind::Scratch { offset } = slot.kind else {
                    unreachable!()
                };
                arena.free(offset, slot.len * slot.elem.size());
            }
        }
        self.plan.arena_bytes = arena.top;
    }
}

/// First-fit allocation of byte ranges (64-byte aligned, so vectors never share a cache line
/// between two live buffers).
#[derive(Default)]
struct Arena {
    free: Vec<(usize, usize)>,
    top: usize,
}

const ALIGN: usize = 64;

impl Arena {
    fn alloc(&mut self, bytes: usize) -> usize {
        let size = bytes.div_ceil(ALIGN).max(1) * ALIGN;
        if let Some(k) = self.free.iter().position(|&(_, len)| len >= size) {
            let (start, len) = self.free[k];
            if len == size {
                self.free.remove(k);
            } else {
                self.free[k] = (start + size, len - size);
            }
            return start;
        }
        let start = self.top;
        self.top = match self.top.checked_add(size) {
            Some(top) if top <= isize::MAX as usize => top,
            _ => panic!(
                "needle-jit: the program's scratch memory exceeds {} bytes ({start} in use, \
                 {bytes} more asked for)",
                isize::MAX
            ),
        };
        start
    }

    fn free(&mut self, start: usize, bytes: usize) {
        let size = bytes.div_ceil(ALIGN).max(1) * ALIGN;
        let at = self.free.partition_point(|&(s, _)| s < start);
        self.free.insert(at, (start, size));
        // Merge with the neighbours.
        if at + 1 < self.free.len() && self.free[at].0 + self.free[at].1 == self.free[at + 1].0 {
            self.free[at].1 += self.free[at + 1].1;
            self.free.remove(at + 1);
        }
        if at > 0 && self.free[at - 1].0 + self.free[at - 1].1 == self.free[at].0 {
            self.free[at - 1].1 += self.free[at].1;
            self.free.remove(at);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::Arena;

    #[test]
    fn arena_reuses_freed_ranges_and_merges_neighbours() {
        let mut a = Arena::default();
        let x = a.alloc(100);
        let y = a.alloc(64);
        let z = a.alloc(10);
        assert_eq!((x, y, z), (0, 128, 192));
        a.free(x, 100);
        a.free(y, 64);
        // The two freed neighbours merged into one 192-byte range.
        assert_eq!(a.alloc(150), 0);
        assert_eq!(a.top, 256);
    }
}
