//! Binding and running: the argument block of one run (input buffers, the arena, output
//! buffers — new, or an input's when a donation is safe), the call of the program's entry,
//! and the delivery of the requested values (or of the error a step reported).

use std::sync::Arc;

use needle_core::backend::BackendError;
use needle_core::storage::{Buffer, Realized};

use super::buffers::{initialized_buffer, output_buffer};
use super::donation::safe_donations;
use super::host::{slot_value, HostStep, RunContext};
use super::program::{Program, RunScratch};
use super::tier::Tier;
use crate::abi::slot_record;
use crate::abi::{args, OUTPUT_ACCESS, RUN_ACCESS, STATUS_OK, STATUS_OUT_OF_BOUNDS};
use crate::collect::Graph;
use crate::schedule::{Elem, Plan, SlotKind, StepKind};
use crate::stats::bump;

/// Runs `program` on `graph`'s buffers and delivers the requested values.
pub(crate) fn run(program: &Program, graph: &Graph) -> Result<(), BackendError> {
    let plan = &program.plan;
    let mut donated = safe_donations(program, graph);
    // By output slot, for the lookup of every owned slot in `execute`.
    donated.sort_unstable_by_key(|d| d.out);
    let given: Vec<(usize, Arc<Buffer>)> =
        donated.iter().map(|d| (d.out, d.buffer.clone())).collect();
    let input = |slot: usize| {
        let value = graph.nodes[plan.slots[slot].node]
            .value()
            .expect("inputs are realized");
        (value.buffer.clone(), value.layout.offset)
    };
    let done = execute(program, Some(graph), &[], input, &given)?;
    for d in &donated {
        let by = graph.nodes[plan.slots[d.out].node].origin();
        for holder in &d.holders {
            holder.mark_overwritten(by);
        }
    }
    bump(|st| st.donated_buffers += donated.len() as u64);
    for &w in &plan.wanted {
        let node = &graph.nodes[w];
        if node.is_realized() {
            continue;
        }
        node.set_value(done.value(plan, w, node.shape()));
    }
    done.finish(program);
    Ok(())
}

/// The buffers of a finished run: what its slots hold, until [`Ran::finish`] hands the
/// tables back to the program for its next run.
pub(crate) struct Ran {
    owned: Vec<Option<Arc<Buffer>>>,
    words: Vec<u64>,
    fresh: Vec<(usize, Vec<f32>)>,
}

impl Ran {
    /// The value of graph position `at` (which the plan stores).
    pub(crate) fn value(&self, plan: &Plan, at: usize, shape: &[usize]) -> Realized {
        let access = plan.access[at].as_ref().expect("wanted values are stored");
        slot_value(&self.owned, &self.words, access, shape)
    }

    /// Whether graph position `at` was stored compact from element 0 of `buffer` (an output
    /// written in place of its previous value).
    pub(crate) fn stored_in(&self, plan: &Plan, at: usize, buffer: &Arc<Buffer>) -> bool {
        let access = plan.access[at].as_ref().expect("wanted values are stored");
        let (_, offset, _) = slot_record(&self.words, access.slot);
        self.owned[access.slot]
            .as_ref()
            .is_some_and(|b| Arc::ptr_eq(b, buffer))
            && offset + access.offset == 0
            && is_compact(&plan.nodes[at].shape, &access.strides)
    }

    /// Returns the tables to the program (emptied, their capacity kept).
    pub(crate) fn finish(mut self, program: &Program) {
        self.owned.clear();
        *program.run_scratch.borrow_mut() = RunScratch {
            words: self.words,
            owned: self.owned,
            fresh: self.fresh,
        };
    }
}

/// Whether `strides` lay `shape` out row-major without gaps (size-1 axes take any stride).
fn is_compact(shape: &[usize], strides: &[isize]) -> bool {
    let mut expected = 1isize;
    for (&d, &st) in shape.iter().zip(strides).rev() {
        if d != 1 && st != expected {
            return false;
        }
        expected *= d as isize;
    }
    true
}

/// Runs `program`: input slot `s`'s buffer and offset come from `input(s)`, the output slots
/// listed in `given` (sorted by slot) write into those buffers (donations), the others get
/// new buffers. Interpreter steps run on `graph`'s nodes, or, without a graph (a replay), as
/// `host_steps` say. The code must be ready.
pub(crate) fn execute(
    program: &Program,
    graph: Option<&Graph>,
    host_steps: &[HostStep],
    input: impl Fn(usize) -> (Arc<Buffer>, usize),
    given: &[(usize, Arc<Buffer>)],
) -> Result<Ran, BackendError> {
    let plan = &program.plan;
    let tier = program.code.borrow();
    let Tier::Ready(code) = &*tier else {
        unreachable!("run is called once the code is ready")
    };
    let mut scratch = std::mem::take(&mut *program.run_scratch.borrow_mut());
    let mut words = std::mem::take(&mut scratch.words);
    words.clear();
    words.resize(args::len(plan.slots.len()), 0);
    let mut owned = std::mem::take(&mut scratch.owned);
    owned.clear();
    owned.resize(plan.slots.len(), None);
    let mut fresh = std::mem::take(&mut scratch.fresh);
    let mut arena = program.arena.borrow_mut();
    // 64-byte aligned start (the plan's offsets are multiples of 64).
    let arena_base = {
        let p = arena.as_mut_ptr() as usize;
        p.div_ceil(64) * 64
    };
    for (s, slot) in plan.slots.iter().enumerate() {
        let r = args::SLOTS + 3 * s;
        if matches!(slot.kind, SlotKind::Owned) {
            // Buffers are allocated with `Vec`, which aborts the process on failure.
            let node = &plan.nodes[slot.node];
            needle_core::storage::ensure_allocatable(slot.len * slot.elem.size(), || {
                format!("{} {:?} ({})", node.op, node.shape, node.recorded())
            });
        }
        let donation = given
            .binary_search_by_key(&s, |(out, _)| *out)
            .ok()
            .map(|i| &given[i].1);
        match (slot.kind, donation) {
            (SlotKind::Input, _) => {
                let (buffer, offset) = input(s);
                words[r] = match &*buffer {
                    Buffer::F32(v) => v.as_ptr() as u64,
                    Buffer::I64(v) => v.as_ptr() as u64,
                };
                words[r + 1] = offset as u64;
                words[r + 2] = buffer.len() as u64;
                owned[s] = Some(buffer);
            }
            (SlotKind::Scratch { offset }, _) => {
                words[r] = (arena_base + offset) as u64;
                words[r + 2] = slot.len as u64;
            }
            (SlotKind::Owned, _) if program.host_written[s] => {}
            (SlotKind::Owned, Some(buffer)) => {
                // The program writes this buffer while the input nodes holding it may still
                // refer to it: a write through a pointer of a shared buffer, sound because
                // nothing can hold a reference into its elements during the run (the caller
                // checked who holds it: `safe_donations`, or a replay's own check), and no
                // step reads it after the donating one.
                words[r] = buffer.as_f32().as_ptr() as u64;
                words[r + 2] = slot.len as u64;
                owned[s] = Some(buffer.clone());
            }
            (SlotKind::Owned, None) if slot.elem == Elem::F32 && !program.host_read[s] => {
                let mut v = output_buffer(slot.len, program.checked);
                words[r] = v.as_mut_ptr() as u64;
                words[r + 2] = slot.len as u64;
                fresh.push((s, v));
            }
            (SlotKind::Owned, None) => {
                let (buffer, ptr) = initialized_buffer(slot.elem, slot.len);
                words[r] = ptr;
                words[r + 2] = slot.len as u64;
                owned[s] = Some(buffer);
            }
        }
    }
    let mut ctx = RunContext {
        graph,
        host_steps,
        plan,
        owned,
        error: None,
        panic: None,
        rows: &code.rows,
        products: &code.products,
        checked: program.checked,
    };
    words[args::CONTEXT] = &mut ctx as *mut RunContext as u64;
    // SAFETY: `words` follows the argument-block layout: input slots point into buffers kept
    // alive by `ctx.owned` (their lengths as stated), owned slots into buffers of at least
    // their slot's length (kept by `ctx.owned` or `fresh`, whose heap data does not move
    // until the run is over), scratch slots into the program's arena, whose size
    // the plan computed and which this run borrows exclusively; the context outlives the call.
    // A donated output slot points into a buffer given by the caller (an input's, or a
    // replay's previous value of the output), which the program then writes while it may be
    // shared: the caller established (`safe_donations`, or a replay's check that nothing
    // but the variable holds it) that no Rust reference into its elements can be live during
    // the run, that no step after the donating one reads it, and that the donating step
    // reads it only at the element it writes (each element is loaded before it is stored,
    // and generated loads and stores are never reordered across each other).
    // Unchecked code relies on the plan: every access of a kernel was derived from the shape
    // and layout of the tensor it reads, so it stays inside that tensor's view.
    let status = unsafe { code.run(&mut words) };
    drop(arena);
    if let Some(panic) = ctx.panic.take() {
        std::panic::resume_unwind(panic);
    }
    if let Some(error) = ctx.error.take() {
        return Err(error);
    }
    if status == STATUS_OUT_OF_BOUNDS {
        let step = words[args::ERR_STEP] as usize;
        let access = words[args::ERR_ACCESS];
        let s = &plan.steps[step];
        let node = &plan.nodes[s.node];
        let what = match access {
            OUTPUT_ACCESS => "output".to_string(),
            RUN_ACCESS => "run buffer".to_string(),
            i => format!("input {i}"),
        };
        let part = match s.kind {
            StepKind::MatMul { .. } => " epilogue",
            _ => "",
        };
        return Err(BackendError::OutOfBounds {
            backend: "jit",
            kernel: format!("step {step}{part} ({what})"),
            op: format!("{} {:?} {}", node.op, node.shape, node.recorded()),
            index: words[args::ERR_INDEX] as i64,
            len: words[args::ERR_LEN] as usize,
        });
    }
    debug_assert_eq!(status, STATUS_OK);
    for (s, mut v) in fresh.drain(..) {
        // SAFETY: the program ran to completion, and every output slot is written in full:
        // elementwise and reduction kernels store every element of their compact output, the
        // GEMM every element of its product (zeros when k = 0). `v` was allocated with
        // capacity `len` (or is a recycled or NaN-filled buffer of that length).
        unsafe { v.set_len(plan.slots[s].len) };
        ctx.owned[s] = Some(Arc::new(Buffer::F32(v)));
    }
    let (kernels, matmuls, windows, hosts) = program.counts;
    bump(|st| {
        st.programs_run += 1;
        st.kernels_run += kernels;
        st.matmuls_run += matmuls;
        st.windows_run += windows;
        st.fallback_nodes += hosts;
    });
    Ok(Ran {
        owned: std::mem::take(&mut ctx.owned),
        words,
        fresh,
    })
}
