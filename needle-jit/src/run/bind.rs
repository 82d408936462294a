//! Binding and running: the argument block of one run (input buffers, the arena, output
//! buffers — new, or an input's when a donation is safe), the call of the program's entry,
//! and the delivery of the requested values (or of the error a step reported).

use std::sync::Arc;

use needle_core::backend::BackendError;
use needle_core::storage::Buffer;

use super::buffers::{initialized_buffer, output_buffer};
use super::donation::safe_donations;
use super::host::{slot_value, RunContext};
use super::program::{Program, RunScratch};
use super::tier::Tier;
use crate::abi::{args, OUTPUT_ACCESS, RUN_ACCESS, STATUS_OK, STATUS_OUT_OF_BOUNDS};
use crate::collect::Graph;
use crate::schedule::{Elem, SlotKind, StepKind};
use crate::stats::bump;

/// Runs `program` on `graph`'s buffers and delivers the requested values.
pub(crate) fn run(program: &Program, graph: &Graph) -> Result<(), BackendError> {
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
    let mut donated = safe_donations(program, graph);
    // By output slot, for the lookup of every owned slot below.
    donated.sort_unstable_by_key(|d| d.out);
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
            let node = &graph.nodes[slot.node];
            needle_core::storage::ensure_allocatable(slot.len * slot.elem.size(), || {
                format!(
                    "{} {:?} (recorded at {})",
                    node.op().name(),
                    node.shape(),
                    node.origin()
                )
            });
        }
        let donation = donated
            .binary_search_by_key(&s, |d| d.out)
            .ok()
            .map(|i| &donated[i]);
        match (slot.kind, donation) {
            (SlotKind::Input, _) => {
                let value = graph.nodes[slot.node].value().expect("inputs are realized");
                words[r] = match &*value.buffer {
                    Buffer::F32(v) => v.as_ptr() as u64,
                    Buffer::I64(v) => v.as_ptr() as u64,
                };
                words[r + 1] = value.layout.offset as u64;
                words[r + 2] = value.buffer.len() as u64;
                owned[s] = Some(value.buffer.clone());
            }
            (SlotKind::Scratch { offset }, _) => {
                words[r] = (arena_base + offset) as u64;
                words[r + 2] = slot.len as u64;
            }
            (SlotKind::Owned, _) if program.host_written[s] => {}
            (SlotKind::Owned, Some(d)) => {
                // The program writes this buffer while the input nodes holding it still
                // refer to it: a write through a pointer of a shared buffer, sound because
                // nothing can hold a reference into its elements during the run (every
                // holder of the buffer and of its nodes belongs to this graph, see
                // `safe_donations`, and no step reads it after the donating one).
                words[r] = d.buffer.as_f32().as_ptr() as u64;
                words[r + 2] = slot.len as u64;
                owned[s] = Some(d.buffer.clone());
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
    // A donated output slot points into an input's buffer, which the program then writes
    // while it is shared: `safe_donations` established that every holder of that buffer and
    // of its nodes belongs to this graph (so no Rust reference into its elements can be live
    // during the run), that no step after the donating one reads it, and that the donating
    // step reads it only at the element it writes (each element is loaded before it is
    // stored, and generated loads and stores are never reordered across each other).
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
    for d in &donated {
        let by = graph.nodes[plan.slots[d.out].node].origin();
        for holder in &d.holders {
            holder.mark_overwritten(by);
        }
    }
    let (kernels, matmuls, hosts) = program.counts;
    bump(|st| {
        st.donated_buffers += donated.len() as u64;
        st.programs_run += 1;
        st.kernels_run += kernels;
        st.matmuls_run += matmuls;
        st.fallback_nodes += hosts;
    });
    for &w in &plan.wanted {
        let node = &graph.nodes[w];
        if node.is_realized() {
            continue;
        }
        let access = plan.access[w].as_ref().expect("wanted values are stored");
        node.set_value(slot_value(&ctx.owned, &words, access, node.shape()));
    }
    let mut owned = std::mem::take(&mut ctx.owned);
    owned.clear();
    *program.run_scratch.borrow_mut() = RunScratch {
        words,
        owned,
        fresh,
    };
    Ok(())
}
