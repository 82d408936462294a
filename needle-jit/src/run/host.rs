//! Steps a compiled program hands back to Rust: matrix products (the gemm crate, reading the
//! program's buffers through strides) and nodes run by the interpreter's kernels.
//!
//! Generated code calls [`needle_host_step`] with its argument block; the block's first word
//! points to the [`RunContext`] of the run in progress.

use std::any::Any;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::Arc;

use needle_core::backend::BackendError;
use needle_core::layout::Layout;
use needle_core::storage::{Buffer, Realized};

use crate::abi::{args, slot_record, RowsFn, STATUS_HOST_ERROR, STATUS_OK};
use crate::collect::Graph;
use crate::gemm::Operand;
use crate::schedule::{Access, Plan, StepKind, WindowOp};

/// Chunks per thread a split elementwise step is cut into: threads claim chunks as they go,
/// so one that runs slower (a core shared with another process, a helper woken late) takes
/// fewer. Perf on the W6 child showed the halves of a fixed split finishing up to 2 ms apart
/// in a 9 ms pass.
const CHUNKS_PER_THREAD: usize = 16;

/// What host steps need during one run of a program.
pub struct RunContext<'a> {
    /// The graph being run (the nodes the plan's positions refer to), for interpreter
    /// steps; a replayed program has none, and `host_steps` instead.
    pub graph: Option<&'a Graph>,
    /// A replayed program's interpreter steps (without a graph), by step.
    pub host_steps: &'a [HostStep],
    /// Its plan.
    pub plan: &'a Plan,
    /// Per slot: the buffer, for slots whose data becomes (or is) a tensor's value.
    pub owned: Vec<Option<Arc<Buffer>>>,
    /// The error of a failed host step.
    pub error: Option<BackendError>,
    /// The panic of a host step, re-raised after the program returns.
    pub panic: Option<Box<dyn Any + Send>>,
    /// Row-range entries: halves of the steps split across threads, matmul epilogues.
    pub rows: &'a [(usize, RowsFn)],
    /// Shape-specialized products by step.
    pub products: &'a [(usize, RowsFn)],
    /// Checked mode (a matmul with an epilogue stays on one thread: its checks write the
    /// error record of the one argument block).
    pub checked: bool,
}

/// The host entry point called by generated code: runs step `step` of the program.
///
/// Returns [`STATUS_OK`], or [`STATUS_HOST_ERROR`] with the error (or panic) stored in the
/// context. Panics never unwind through generated code.
pub extern "C" fn needle_host_step(block: *mut u64, step: u64) -> u32 {
    // SAFETY: generated code passes the argument block `run` built: its first word points to
    // the live `RunContext` of this run, which nothing else touches while the program runs.
    let ctx = unsafe { &mut *(*block as *mut RunContext) };
    let outcome = catch_unwind(AssertUnwindSafe(|| {
        // SAFETY: `block` holds `args::len(slots)` words (built by `run`) and stays valid for
        // the call.
        let words =
            unsafe { std::slice::from_raw_parts_mut(block, args::len(ctx.plan.slots.len())) };
        ctx.run_step(words, step as usize)
    }));
    match outcome {
        Ok(Ok(status)) => status,
        Ok(Err(e)) => {
            ctx.error = Some(e);
            STATUS_HOST_ERROR
        }
        Err(panic) => {
            ctx.panic = Some(panic);
            STATUS_HOST_ERROR
        }
    }
}

/// An interpreter step of a program as a replay runs it, without the graph: the op and the
/// graph positions of its inputs (whose values are in their slots).
#[derive(Clone)]
pub struct HostStep {
    /// The step.
    pub step: usize,
    /// The op of the node it computes.
    pub op: needle_core::op::Op,
    /// The graph positions of the node's inputs.
    pub inputs: Vec<usize>,
}

/// The value a node reads through `access`: the buffer of its slot, viewed with the access's
/// strides at the slot's runtime offset.
pub fn slot_value(
    owned: &[Option<Arc<Buffer>>],
    words: &[u64],
    access: &Access,
    shape: &[usize],
) -> Realized {
    let buffer = owned[access.slot]
        .clone()
        .expect("values read back have buffers of their own");
    let (_, slot_offset, _) = slot_record(words, access.slot);
    Realized {
        buffer,
        layout: Layout {
            shape: shape.to_vec(),
            strides: access.strides.clone(),
            offset: (slot_offset + access.offset) as usize,
        },
    }
}

impl RunContext<'_> {
    /// The row-range entry of `step`.
    fn rows_fn(&self, step: usize) -> RowsFn {
        self.rows
            .iter()
            .find(|(s, _)| *s == step)
            .expect("split steps and matmul epilogues have a rows entry")
            .1
    }

    /// Runs a step; returns the status of generated code it called (a matmul's epilogue in
    /// checked mode can report an out-of-bounds index).
    fn run_step(&mut self, words: &mut [u64], step: usize) -> Result<u32, BackendError> {
        let plan = self.plan;
        let s = &plan.steps[step];
        match &s.kind {
            StepKind::MatMul { a, b, k, epilogue } => {
                let epilogue = epilogue.as_ref().map(|_| self.rows_fn(step));
                let specialized = self
                    .products
                    .iter()
                    .find(|(s, _)| *s == step)
                    .map(|&(_, f)| f);
                Ok(self.matmul(words, step, [a, b], *k, (specialized, epilogue)))
            }
            StepKind::Host => self.interpret(words, step).map(|()| STATUS_OK),
            StepKind::Window {
                op,
                input,
                input_shape,
            } => {
                self.window(words, step, *op, (input, input_shape));
                Ok(STATUS_OK)
            }
            StepKind::Elementwise(k) => Ok(self.split_rows(words, step, k.shape[0])),
            StepKind::Reduce { .. } => {
                let rows = crate::codegen::sum_rows::split_sum_rows(plan, step, self.checked)
                    .expect("only sums split across threads reach the host");
                Ok(self.split_rows(words, step, rows))
            }
        }
    }

    /// Runs the row-range function of `step` over its `rows` on every thread (a split
    /// elementwise step, a split sum's rows); returns its status.
    fn split_rows(&self, words: &mut [u64], step: usize, rows: usize) -> u32 {
        let f = self.rows_fn(step);
        let chunk = rows.div_ceil(needle_core::threads::threads() * CHUNKS_PER_THREAD);
        // Raw pointers are not Sync; the block outlives every chunk (run_chunks returns after
        // the last).
        let block = words.as_mut_ptr() as usize;
        let status = needle_core::threads::run_chunks(rows, chunk, &|start, end| {
            f(block as *mut u64, start as i64, end as i64)
        });
        debug_assert_eq!(status, STATUS_OK);
        status
    }

    /// Sets the value of every pending input of node `i` (the interpreter reads values).
    fn bind_inputs(&mut self, graph: &Graph, words: &[u64], i: usize) {
        for &src in graph.inputs(i) {
            let node = &graph.nodes[src];
            if node.is_realized() {
                continue;
            }
            let access = self.plan.access[src]
                .as_ref()
                .expect("interpreter inputs are stored");
            node.set_value(slot_value(&self.owned, words, access, node.shape()));
        }
    }

    fn interpret(&mut self, words: &mut [u64], step: usize) -> Result<(), BackendError> {
        let s = &self.plan.steps[step];
        let i = s.node;
        let (mut value, node) = match self.graph {
            Some(graph) => {
                self.bind_inputs(graph, words, i);
                let node = &graph.nodes[i];
                (needle_core::interp::evaluate(node), Some(node))
            }
            None => {
                let host = self
                    .host_steps
                    .iter()
                    .find(|h| h.step == step)
                    .expect("a replay knows its interpreter steps");
                let inputs: Vec<Realized> = host
                    .inputs
                    .iter()
                    .map(|&src| {
                        let access = self.plan.access[src]
                            .as_ref()
                            .expect("interpreter inputs are stored");
                        slot_value(&self.owned, words, access, &self.plan.nodes[src].shape)
                    })
                    .collect();
                let shape = &self.plan.nodes[i].shape;
                (
                    needle_core::interp::evaluate_op(&host.op, &inputs, shape),
                    None,
                )
            }
        };
        let shape = &self.plan.nodes[i].shape;
        if !value.layout.is_contiguous() {
            value = match &*value.buffer {
                Buffer::F32(_) => Realized::from_f32(value.to_f32_vec(), shape),
                Buffer::I64(_) => Realized::from_i64(value.to_i64_vec(), shape),
            };
        }
        let r = args::SLOTS + 3 * s.out;
        words[r] = match &*value.buffer {
            Buffer::F32(v) => v.as_ptr() as u64,
            Buffer::I64(v) => v.as_ptr() as u64,
        };
        words[r + 1] = value.layout.offset as u64;
        words[r + 2] = value.buffer.len() as u64;
        self.owned[s.out] = Some(value.buffer.clone());
        if let Some(node) = node {
            node.set_value(value);
        }
        Ok(())
    }

    /// Runs im2col or col2im with the interpreter's functions on the program's buffers:
    /// `input` (of `shape`) read through its strides, the output slot written compact.
    /// Panics (reported as the step's error) when either leaves its buffer.
    fn window(
        &self,
        words: &[u64],
        step: usize,
        op: WindowOp,
        (input, shape): (&Access, &[usize]),
    ) {
        let s = &self.plan.steps[step];
        let out_shape = &self.plan.nodes[s.node].shape;
        let out_len: usize = out_shape.iter().product();
        let (out_ptr, _, out_slot_len) = slot_record(words, s.out);
        assert!(out_slot_len >= out_len, "{op:?}: output buffer too small");
        let (in_ptr, slot_offset, in_len) = slot_record(words, input.slot);
        let offset = slot_offset + input.offset;
        assert!(offset >= 0, "{op:?}: input view starts before its buffer");
        let layout = Layout {
            shape: shape.to_vec(),
            strides: input.strides.clone(),
            offset: offset as usize,
        };
        if out_len == 0 {
            return;
        }
        // SAFETY: the input slot's record describes a live buffer of `in_len` f32 elements
        // for the whole run (the kernels check that the view stays inside it), and the output
        // slot one of at least `out_len` that no other slot of this step overlaps (the arena
        // allocates a step's outputs before it frees the step's inputs).
        let (data, out) = unsafe {
            (
                std::slice::from_raw_parts(in_ptr as *const f32, in_len),
                std::slice::from_raw_parts_mut(out_ptr as *mut f32, out_len),
            )
        };
        match op {
            WindowOp::Im2col(w) => needle_core::interp::window::im2col_into(data, &layout, w, out),
            WindowOp::Col2im(w) => {
                needle_core::interp::window::col2im_into(data, &layout, w, out_shape, out)
            }
        }
    }

    /// `out = a · b` per batch through the GEMM the policy picks ([`crate::gemm`]; the
    /// step's `specialized` product is one of the candidates), then the step's `epilogue` on
    /// the product's rows as they become final. Panics (reported as the step's error) when an
    /// operand's extent leaves its buffer: generated code cannot check inside the GEMM.
    /// Returns the epilogue's status.
    fn matmul(
        &mut self,
        words: &mut [u64],
        step: usize,
        [a, b]: [&Access; 2],
        k: usize,
        (specialized, epilogue): (Option<RowsFn>, Option<RowsFn>),
    ) -> u32 {
        let s = &self.plan.steps[step];
        let out_shape = &self.plan.nodes[s.node].shape;
        let nd = out_shape.len();
        let (m, n) = (out_shape[nd - 2], out_shape[nd - 1]);
        let batch_shape = &out_shape[..nd - 2];
        let batches: usize = batch_shape.iter().product();
        let (out_ptr, _, out_len) = slot_record(words, s.out);
        assert!(
            out_len >= batches * m * n,
            "matmul: output buffer too small"
        );
        let out_ptr = out_ptr as *mut f32;
        if m * n == 0 || batches == 0 {
            return STATUS_OK;
        }
        let operand = |acc: &Access, rows: usize, cols: usize| {
            let (ptr, slot_offset, len) = slot_record(words, acc.slot);
            let first = slot_offset + acc.offset;
            if rows * cols == 0 {
                // An empty operand (inner size 0) is never read.
                return (ptr as *const f32, first);
            }
            let last = first
                + acc.strides[..nd - 2]
                    .iter()
                    .zip(batch_shape)
                    .map(|(&st, &d)| st * (d as isize - 1))
                    .sum::<isize>()
                + acc.strides[nd - 2] * (rows as isize - 1)
                + acc.strides[nd - 1] * (cols as isize - 1);
            assert!(
                first >= 0 && (last as usize) < len,
                "matmul operand (slot {}) reads elements {first}..={last} of a buffer of {len}",
                acc.slot
            );
            (ptr as *const f32, first)
        };
        let (pa, fa) = operand(a, m, k);
        let (pb, fb) = operand(b, k, n);
        // Raw pointers are not Sync; the block outlives every call of the epilogue (the GEMM
        // returns after its last row block).
        let block = words.as_mut_ptr() as usize;
        let rows_entry = |f: RowsFn| {
            move |start: usize, end: usize| f(block as *mut u64, start as i64, end as i64)
        };
        let epilogue = epilogue.map(rows_entry);
        let specialized = specialized.map(rows_entry);
        debug_assert!(
            (epilogue.is_none() && specialized.is_none()) || batches == 1,
            "epilogues and specialized products of 2-D products only"
        );
        let rows_done: Option<crate::gemm::RowsDone> = epilogue.as_ref().map(|f| f as _);
        let specialized: Option<crate::gemm::RowsDone> = specialized.as_ref().map(|f| f as _);
        let mut status = STATUS_OK;
        let mut batch_index = vec![0usize; batch_shape.len()];
        for batch in 0..batches {
            let offset = |acc: &Access, first: isize| {
                first
                    + batch_index
                        .iter()
                        .zip(&acc.strides)
                        .map(|(&i, &st)| i as isize * st)
                        .sum::<isize>()
            };
            // SAFETY: the output slot holds at least `batches·m·n` elements (asserted above).
            let dst = unsafe { out_ptr.add(batch * m * n) };
            if k == 0 {
                // SAFETY: `dst` is valid for `m·n` writes (see above).
                unsafe { std::ptr::write_bytes(dst, 0, m * n) };
                if let Some(f) = rows_done {
                    status = f(0, m);
                }
            } else {
                // SAFETY: strides are non-negative (the planner copies flipped operands), so
                // the first and last elements, checked against the buffers above, bound every
                // element read; `dst` is an exclusive `m·n` block of the output slot.
                status = unsafe {
                    crate::gemm::product(
                        [m, n, k],
                        dst,
                        Operand {
                            ptr: pa.offset(offset(a, fa)),
                            rs: a.strides[nd - 2],
                            cs: a.strides[nd - 1],
                        },
                        Operand {
                            ptr: pb.offset(offset(b, fb)),
                            rs: b.strides[nd - 2],
                            cs: b.strides[nd - 1],
                        },
                        (specialized, rows_done),
                        !self.checked,
                    )
                };
            }
            for ax in (0..batch_index.len()).rev() {
                batch_index[ax] += 1;
                if batch_index[ax] < batch_shape[ax] {
                    break;
                }
                batch_index[ax] = 0;
            }
        }
        status
    }
}
