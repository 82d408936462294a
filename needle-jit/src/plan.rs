//! Scheduling: which graph node is computed by which step of the program, and in which buffer
//! every value lives. The plan is plain data ([`Plan`]), printed by `NEEDLE_DEBUG=jit` and
//! returned by [`crate::last_plan`].
//!
//! Rules:
//! - Views (reshape of a viewable layout, permute, broadcast, slice, flip) and pending
//!   assignments cost nothing: they only change how consumers address the buffer.
//! - An elementwise node is *inlined* into its consumer when that consumer is elementwise or a
//!   reduction of it, it has no other consumer and nobody asked for its value. It is then never
//!   written to memory. Recomputation is never chosen: a node with two consumers is written
//!   once and read twice, since a reload costs less than recomputing a chain per consumer.
//! - Matmul is a call to the GEMM (reading transposed operands through strides). Its epilogue
//!   (bias, activation, a gradient's mask: the elementwise step that reads the product at the
//!   element it computes) joins the matmul step: the generated GEMM runs it on each block of
//!   rows as soon as the block is final, while it is in cache; after the gemm crate it runs as
//!   a pass over the result.
//! - Padding, concatenation, casts and anything on i64 data run the interpreter's kernel for
//!   that node from inside the program (the documented per-node fallback).
//! - Intermediate buffers live in an arena owned by the compiled program, reused across steps
//!   by liveness; values the caller asked for (and values the interpreter must see) get buffers
//!   of their own.

use std::collections::BTreeSet;
use std::fmt::Write as _;

use needle_core::layout::Layout;
use needle_core::op::{Op, ReduceOp};
use needle_core::shape::{contiguous_strides, numel};
use needle_core::DType;
use rustc_hash::FxHashMap;

use crate::graph::Graph;
use crate::kernel::{Access, Expr, Kernel, Output};

/// Element type of a buffer slot.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Elem {
    /// f32 (tensors).
    F32,
    /// i64 (labels, indices).
    I64,
}

impl Elem {
    /// Bytes per element.
    pub fn size(self) -> usize {
        match self {
            Elem::F32 => 4,
            Elem::I64 => 8,
        }
    }
}

/// Where a slot's memory comes from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SlotKind {
    /// A realized tensor handed in by the caller (read only).
    Input,
    /// A fresh buffer that becomes a tensor's value (requested, or read by the interpreter).
    Owned,
    /// Program-internal: a region of the program's arena, `offset` bytes in.
    Scratch {
        /// Byte offset in the arena.
        offset: usize,
    },
}

/// A buffer the program reads or writes.
#[derive(Clone, Debug, PartialEq)]
pub struct Slot {
    /// Where its memory comes from.
    pub kind: SlotKind,
    /// Element type.
    pub elem: Elem,
    /// Elements (for inputs: the view's element count; the buffer's length comes at run time).
    pub len: usize,
    /// The graph node whose value it holds.
    pub node: usize,
}

/// What a step computes.
#[derive(Clone, Debug, PartialEq)]
pub enum StepKind {
    /// A fused loop nest writing `kernel`'s result, compact, over `kernel.shape`.
    Elementwise(Kernel),
    /// A reduction of the fused expression `body` (over the input's shape) into the output
    /// slot, which is its accumulator: in the interpreter's order, sums in f32 in numpy's
    /// order (see [`needle_core::interp::pairwise`]).
    Reduce {
        /// Sum or max.
        op: ReduceOp,
        /// Reduced axes of `body.shape`.
        axes: Vec<usize>,
        /// The fused producer. Its `outputs` (values of elementwise producers other steps
        /// need) are stored as the loop passes.
        body: Kernel,
        /// The entry of `body` that is reduced.
        value: usize,
        /// f32 scratch slot for one run of a sum, for sums whose runs are longer than the
        /// generated code sums itself or span axes that may not merge: the run is gathered
        /// there and summed by the interpreter's pairwise sum.
        run: Option<usize>,
        /// Elementwise consumers of the result computed as it is finalized (a kernel over the
        /// output shape; its loads of the output slot at the same element read the result).
        epilogue: Option<Kernel>,
    },
    /// `out[..., m, n] = a[..., m, k] · b[..., k, n]` through the GEMM.
    MatMul {
        /// Left operand, strides over its full shape.
        a: Access,
        /// Right operand, strides over its full shape.
        b: Access,
        /// Inner dimension.
        k: usize,
        /// Elementwise consumers of the product (2-D products only), a kernel over the
        /// output's `[m, n]` whose loads of the output slot at the same element read the
        /// product. It runs on row ranges as the GEMM finishes them (see [`crate::gemm`]).
        epilogue: Option<Kernel>,
    },
    /// The interpreter's kernel for the node (run from inside the program).
    Host,
}

/// One step of the program.
#[derive(Clone, Debug, PartialEq)]
pub struct Step {
    /// What it computes.
    pub kind: StepKind,
    /// The graph node whose value it writes.
    pub node: usize,
    /// Graph nodes computed inline (never written to memory), in evaluation order.
    pub inlined: Vec<usize>,
    /// Output slot (compact over the node's shape).
    pub out: usize,
}

/// How a graph node is obtained.
#[derive(Clone, Debug, PartialEq)]
pub enum Placement {
    /// A realized tensor read by the program.
    Input,
    /// Computed by a step and stored.
    Stored(usize),
    /// Computed inside the given step, never stored.
    Inlined(usize),
    /// A view of another value: no computation.
    View,
}

/// A description of a graph node for debug output and the inspection API.
#[derive(Clone, Debug, PartialEq)]
pub struct NodeInfo {
    /// Op name.
    pub op: String,
    /// Shape.
    pub shape: Vec<usize>,
    /// The user's source line that recorded it; for a gradient node, the line of the forward
    /// op it differentiates.
    pub origin: String,
    /// For a gradient node: the name of the forward op it differentiates (`"matmul"`).
    pub backward_of: Option<&'static str>,
    /// How the program obtains it.
    pub placement: Placement,
}

impl NodeInfo {
    /// Where the node was recorded, as debug output prints it: `at src/main.rs:42:13`, or
    /// `backward of matmul at src/main.rs:42:13` for a gradient node.
    pub fn recorded(&self) -> String {
        match self.backward_of {
            Some(op) => format!("backward of {op} at {}", self.origin),
            None => format!("at {}", self.origin),
        }
    }
}

/// The schedule of one pending graph.
#[derive(Clone, Debug, PartialEq)]
pub struct Plan {
    /// The graph's nodes, by position (inputs and pending nodes).
    pub nodes: Vec<NodeInfo>,
    /// Per node, where its value can be read (`None` for inlined nodes).
    pub access: Vec<Option<Access>>,
    /// Buffer slots.
    pub slots: Vec<Slot>,
    /// Steps, in execution order.
    pub steps: Vec<Step>,
    /// Bytes of the arena holding the scratch slots.
    pub arena_bytes: usize,
    /// Nodes whose values are delivered to the caller.
    pub wanted: Vec<usize>,
    /// Outputs that may take over the buffer of an input read for the last time by the same
    /// step (decided at run time, see [`Donation`]).
    pub donations: Vec<Donation>,
    /// Per slot: the last step that reads it (`None` when no step does).
    pub last_read: Vec<Option<usize>>,
}

/// An output slot holding the new value of a variable (a pending assignment), written by an
/// elementwise step or a reduction's epilogue, that may be written into the buffer of one of
/// the step's inputs instead of a new one: an optimizer's new parameter into the old
/// parameter's buffer, its new moments into the old moments'. The step reads that input at
/// the element it writes and no later step reads it, so the kernel reads each element before
/// it overwrites it. Whether the buffer is really dead — no tensor outside the program can
/// read it afterwards — is only known at run time, where the runtime checks it before every
/// run (`runtime.rs`); if it is not, the output gets a new buffer as usual.
#[derive(Clone, Debug, PartialEq)]
pub struct Donation {
    /// The output slot.
    pub out: usize,
    /// The input slot whose buffer it may take.
    pub input: usize,
    /// The step writing `out` and reading `input`.
    pub step: usize,
    /// Input slots the step reads only at the element it writes (a buffer several of the
    /// step's inputs share may be donated when every one of them is read this way).
    pub identity_inputs: Vec<usize>,
}

fn is_elementwise(graph: &Graph, i: usize) -> bool {
    let n = &graph.nodes[i];
    !graph.is_input[i]
        && n.dtype() == DType::F32
        && matches!(n.op(), Op::Unary(_) | Op::Scalar(..) | Op::Binary(_))
}

fn is_reduce(graph: &Graph, i: usize) -> bool {
    !graph.is_input[i] && matches!(graph.nodes[i].op(), Op::Reduce(..))
}

/// Limits of multi-output fusion: beyond these a joined loop holds more live values than
/// registers, and spills cost more than the pass it saves.
const MAX_FUSED_INPUTS: usize = 12;
const MAX_FUSED_EXPRS: usize = 96;
/// Earlier steps sharing data with an elementwise step that multi-output fusion tries, nearest
/// first (see [`Planner::merge_kernels`]): a bound on planning time, far above the few a
/// training step's graph offers.
const MERGE_CANDIDATES: usize = 32;

/// Offsets of view layouts are computed with this bias, so that a relative offset that goes
/// below the slot's start (a flip of a flipped input) stays representable in `Layout`'s
/// `usize` while the `Layout` methods (which only add to the offset) do the arithmetic.
const OFFSET_BIAS: usize = 1 << 40;

fn view_access(op: &Op, input: &Access, in_shape: &[usize], shape: &[usize]) -> Option<Access> {
    let layout = Layout {
        shape: in_shape.to_vec(),
        strides: input.strides.clone(),
        offset: (OFFSET_BIAS as isize + input.offset) as usize,
    };
    let view = match op {
        Op::Leaf => layout,
        Op::Reshape => layout.reshape(shape)?,
        Op::Permute(p) => layout.permute(p),
        Op::Expand => layout.expand(shape),
        Op::Slice { starts, steps } => layout.slice(starts, steps, shape),
        Op::Flip(axes) => layout.flip(axes),
        _ => unreachable!("not a view op"),
    };
    Some(Access {
        slot: input.slot,
        strides: view.strides,
        offset: view.offset as isize - OFFSET_BIAS as isize,
    })
}

struct Planner<'g> {
    graph: &'g Graph,
    plan: Plan,
    inlinable: Vec<bool>,
    /// Expression index of each node already emitted into the kernel being built.
    memo: FxHashMap<usize, usize>,
}

impl Plan {
    /// Schedules `graph`.
    pub fn new(graph: &Graph) -> Plan {
        let n = graph.nodes.len();
        let mut consumers: Vec<Vec<usize>> = vec![Vec::new(); n];
        for c in 0..n {
            for &i in graph.inputs(c) {
                if consumers[i].last() != Some(&c) {
                    consumers[i].push(c);
                }
            }
        }
        let inlinable = (0..n)
            .map(|i| {
                is_elementwise(graph, i)
                    && !graph.wanted[i]
                    && matches!(consumers[i].as_slice(), [c] if is_elementwise(graph, *c) || is_reduce(graph, *c))
            })
            .collect();
        let nodes = graph
            .nodes
            .iter()
            .enumerate()
            .map(|(i, node)| NodeInfo {
                op: if graph.is_input[i] {
                    "input".into()
                } else {
                    node.op().name()
                },
                shape: node.shape().to_vec(),
                origin: node.origin().to_string(),
                backward_of: node.backward_of(),
                placement: Placement::Input,
            })
            .collect();
        let mut planner = Planner {
            graph,
            plan: Plan {
                nodes,
                access: vec![None; n],
                slots: Vec::new(),
                steps: Vec::new(),
                arena_bytes: 0,
                donations: Vec::new(),
                last_read: Vec::new(),
                wanted: (0..n).filter(|&i| graph.wanted[i]).collect(),
            },
            inlinable,
            memo: FxHashMap::default(),
        };
        for i in 0..n {
            planner.place(i);
        }
        planner.mark_owned();
        planner.merge_kernels();
        planner.drop_dead_stores();
        planner.finish_placements();
        planner.assign_memory();
        planner.find_donations();
        planner.plan
    }

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
                    ..
                } => format!(
                    "reduce {:?}{:?} of [{}] over {:?}{}",
                    op,
                    axes,
                    body.ops(),
                    body.shape,
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
            };
            let place = match slot.kind {
                SlotKind::Owned => "new buffer".to_string(),
                SlotKind::Scratch { offset } => format!("arena+{offset}"),
                SlotKind::Input => "input".to_string(),
            };
            let outs: Vec<usize> = match &step.kind {
                StepKind::Elementwise(k) => k.outputs.iter().map(|o| o.node).collect(),
                _ => vec![step.node],
            };
            let slots = match &step.kind {
                StepKind::Elementwise(k) if k.outputs.len() > 1 => format!(
                    "slots {:?}",
                    k.outputs.iter().map(|o| o.slot).collect::<Vec<_>>()
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

impl Planner<'_> {
    fn new_slot(&mut self, kind: SlotKind, elem: Elem, len: usize, node: usize) -> usize {
        self.plan.slots.push(Slot {
            kind,
            elem,
            len,
            node,
        });
        self.plan.slots.len() - 1
    }

    fn scratch(&mut self, elem: Elem, len: usize, node: usize) -> usize {
        self.new_slot(SlotKind::Scratch { offset: 0 }, elem, len, node)
    }

    fn push_step(&mut self, kind: StepKind, node: usize, inlined: Vec<usize>, out: usize) -> usize {
        self.plan.steps.push(Step {
            kind,
            node,
            inlined,
            out,
        });
        self.plan.steps.len() - 1
    }

    fn shape(&self, i: usize) -> &[usize] {
        self.graph.nodes[i].shape()
    }

    /// Stores node `i` compactly in a new slot.
    fn stored(&mut self, i: usize, elem: Elem) -> usize {
        let slot = self.scratch(elem, numel(self.shape(i)), i);
        self.plan.access[i] = Some(Access {
            slot,
            strides: contiguous_strides(self.shape(i)),
            offset: 0,
        });
        slot
    }

    fn place(&mut self, i: usize) {
        let graph = self.graph;
        let node = &graph.nodes[i];
        if graph.is_input[i] {
            let slot = self.new_slot(
                SlotKind::Input,
                elem_of(node.dtype()),
                numel(node.shape()),
                i,
            );
            let layout = &node.value().expect("inputs are realized").layout;
            self.plan.access[i] = Some(Access {
                slot,
                strides: layout.strides.clone(),
                offset: 0,
            });
            self.plan.nodes[i].placement = Placement::Input;
            return;
        }
        if self.inlinable[i] {
            // Placed when its consumer's step is built.
            return;
        }
        let inputs = graph.inputs(i);
        let op = node.op();
        if op.is_view() || (*op == Op::Leaf && inputs.len() == 1) {
            let src = inputs[0];
            let access = self.plan.access[src]
                .clone()
                .expect("view of a stored value");
            if let Some(a) = view_access(op, &access, self.shape(src), node.shape()) {
                self.plan.access[i] = Some(a);
                self.plan.nodes[i].placement = Placement::View;
                return;
            }
            if node.dtype() == DType::F32 {
                // A reshape the layout cannot express: copy in logical order, which is the
                // reshaped tensor's compact layout.
                self.copy_step(i, src, access);
                return;
            }
        }
        let step_index = self.plan.steps.len();
        self.memo.clear();
        match op {
            Op::Unary(_) | Op::Scalar(..) | Op::Binary(_) if is_elementwise(graph, i) => {
                let mut kernel = Kernel {
                    shape: node.shape().to_vec(),
                    inputs: Vec::new(),
                    exprs: Vec::new(),
                    outputs: Vec::new(),
                };
                let mut inlined = Vec::new();
                let expr = self.emit(i, true, &mut kernel, &mut inlined, step_index);
                let out = self.stored(i, Elem::F32);
                kernel.outputs.push(Output {
                    expr,
                    slot: out,
                    node: i,
                });
                self.push_step(StepKind::Elementwise(kernel), i, inlined, out);
            }
            Op::Reduce(r, axes) if node.dtype() == DType::F32 => {
                let src = inputs[0];
                let mut body = Kernel {
                    shape: self.shape(src).to_vec(),
                    inputs: Vec::new(),
                    exprs: Vec::new(),
                    outputs: Vec::new(),
                };
                let mut inlined = Vec::new();
                let root_inline = self.inlinable[src];
                let value = self.emit(src, root_inline, &mut body, &mut inlined, step_index);
                let out = self.stored(i, Elem::F32);
                let run = match r {
                    ReduceOp::Sum => crate::codegen::run_buffer_len(&body.shape, axes)
                        .map(|len| self.scratch(Elem::F32, len, i)),
                    ReduceOp::Max => None,
                };
                self.push_step(
                    StepKind::Reduce {
                        op: *r,
                        axes: axes.clone(),
                        body,
                        value,
                        run,
                        epilogue: None,
                    },
                    i,
                    inlined,
                    out,
                );
            }
            Op::MatMul => {
                let a = self.gemm_operand(inputs[0]);
                let b = self.gemm_operand(inputs[1]);
                let nd = node.shape().len();
                let k = self.shape(inputs[0])[nd - 1];
                let out = self.stored(i, Elem::F32);
                let step_index = self.push_step(
                    StepKind::MatMul {
                        a,
                        b,
                        k,
                        epilogue: None,
                    },
                    i,
                    Vec::new(),
                    out,
                );
                self.plan.nodes[i].placement = Placement::Stored(step_index);
                return;
            }
            _ => {
                let out = self.stored(i, elem_of(node.dtype()));
                self.plan.slots[out].kind = SlotKind::Owned;
                for &src in inputs {
                    let slot = self.plan.access[src].as_ref().expect("stored input").slot;
                    if self.plan.slots[slot].kind != SlotKind::Input {
                        self.plan.slots[slot].kind = SlotKind::Owned;
                    }
                }
                self.push_step(StepKind::Host, i, Vec::new(), out);
            }
        }
        self.plan.nodes[i].placement = Placement::Stored(step_index);
    }

    /// A GEMM operand: its access, or a compact copy when a stride is negative (flipped
    /// views; the GEMM reads non-negative strides only).
    fn gemm_operand(&mut self, i: usize) -> Access {
        let access = self.plan.access[i].clone().expect("stored operand");
        if access.strides.iter().all(|&s| s >= 0) {
            return access;
        }
        let shape = self.shape(i).to_vec();
        let slot = self.scratch(Elem::F32, numel(&shape), i);
        self.push_step(
            StepKind::Elementwise(copy_kernel(&shape, access, slot, i)),
            i,
            Vec::new(),
            slot,
        );
        Access {
            slot,
            strides: contiguous_strides(&shape),
            offset: 0,
        }
    }

    /// Node `i` as a compact copy of `src` (read through `access`), in logical order.
    fn copy_step(&mut self, i: usize, src: usize, access: Access) {
        let out = self.stored(i, Elem::F32);
        let kernel = copy_kernel(self.shape(src), access, out, i);
        let step = self.push_step(StepKind::Elementwise(kernel), i, Vec::new(), out);
        self.plan.nodes[i].placement = Placement::Stored(step);
    }

    /// Appends the expression of node `i` to `kernel`: computed in place when `compute`,
    /// otherwise loaded from where it is stored.
    fn emit(
        &mut self,
        i: usize,
        compute: bool,
        kernel: &mut Kernel,
        inlined: &mut Vec<usize>,
        step: usize,
    ) -> usize {
        if let Some(&at) = self.memo.get(&i) {
            return at;
        }
        let at = self.emit_new(i, compute, kernel, inlined, step);
        self.memo.insert(i, at);
        at
    }

    fn emit_new(
        &mut self,
        i: usize,
        compute: bool,
        kernel: &mut Kernel,
        inlined: &mut Vec<usize>,
        step: usize,
    ) -> usize {
        if !compute {
            let access = self.plan.access[i].clone().expect("stored kernel input");
            let slot = match kernel.inputs.iter().position(|a| *a == access) {
                Some(s) => s,
                None => {
                    kernel.inputs.push(access);
                    kernel.inputs.len() - 1
                }
            };
            if let Some(at) = kernel.exprs.iter().position(|e| *e == Expr::Input(slot)) {
                return at;
            }
            kernel.exprs.push(Expr::Input(slot));
            return kernel.exprs.len() - 1;
        }
        let graph = self.graph;
        let args: Vec<usize> = graph
            .inputs(i)
            .iter()
            .map(|&src| {
                let inline = self.inlinable[src];
                self.emit(src, inline, kernel, inlined, step)
            })
            .collect();
        let expr = match graph.nodes[i].op() {
            Op::Unary(u) => Expr::Unary(*u, args[0]),
            Op::Scalar(s, c) => Expr::Scalar(*s, *c, args[0]),
            Op::Binary(b) => Expr::Binary(*b, args[0], args[1]),
            other => unreachable!("only elementwise ops are fused, found {}", other.name()),
        };
        kernel.exprs.push(expr);
        if self.inlinable[i] {
            inlined.push(i);
            self.plan.nodes[i].placement = Placement::Inlined(step);
        }
        kernel.exprs.len() - 1
    }

    /// Gives requested values buffers of their own.
    fn mark_owned(&mut self) {
        for &w in &self.plan.wanted {
            if let Some(a) = &self.plan.access[w] {
                let slot = a.slot;
                if self.plan.slots[slot].kind != SlotKind::Input {
                    self.plan.slots[slot].kind = SlotKind::Owned;
                }
            }
        }
    }

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
    fn merge_kernels(&mut self) {
        let steps = std::mem::take(&mut self.plan.steps);
        let assigned = self.assigned_slots();
        // Input slots by buffer: a parameter and the detached copy an optimizer reads share
        // one (at run time the sharing is checked again, see `crate::runtime`).
        // Per slot, its data: the first input slot holding the same buffer, or itself.
        let mut first_with: FxHashMap<usize, usize> = Default::default();
        let data: Vec<usize> = (0..self.plan.slots.len())
            .map(|s| {
                let slot = &self.plan.slots[s];
                let buffer = (slot.kind == SlotKind::Input)
                    .then(|| self.graph.nodes[slot.node].value())
                    .flatten()
                    .map(|v| std::sync::Arc::as_ptr(&v.buffer) as usize);
                buffer.map_or(s, |b| *first_with.entry(b).or_insert(s))
            })
            .collect();
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
                    // A variable's update moved up into a matmul's epilogue would run before
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

    /// Removes stores nobody reads (values computed and consumed inside one fused loop).
    fn drop_dead_stores(&mut self) {
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

    /// Records which step computes each node (after merging renumbered the steps).
    fn finish_placements(&mut self) {
        for (s, step) in self.plan.steps.iter().enumerate() {
            for &n in &step.inlined {
                self.plan.nodes[n].placement = Placement::Inlined(s);
            }
            match &step.kind {
                StepKind::Elementwise(k) => {
                    for o in &k.outputs {
                        self.plan.nodes[o.node].placement = Placement::Stored(s);
                    }
                }
                StepKind::Reduce { body, epilogue, .. } => {
                    self.plan.nodes[step.node].placement = Placement::Stored(s);
                    for o in epilogue
                        .iter()
                        .flat_map(|k| &k.outputs)
                        .chain(&body.outputs)
                    {
                        self.plan.nodes[o.node].placement = Placement::Stored(s);
                    }
                }
                StepKind::MatMul { epilogue, .. } => {
                    self.plan.nodes[step.node].placement = Placement::Stored(s);
                    for o in epilogue.iter().flat_map(|k| &k.outputs) {
                        self.plan.nodes[o.node].placement = Placement::Stored(s);
                    }
                }
                _ => self.plan.nodes[step.node].placement = Placement::Stored(s),
            }
        }
    }

    /// Per slot: whether it holds the new value of a variable (a pending assignment's value).
    fn assigned_slots(&self) -> Vec<bool> {
        let graph = self.graph;
        let mut assigned = vec![false; self.plan.slots.len()];
        for &w in &self.plan.wanted {
            if *graph.nodes[w].op() == Op::Leaf && graph.inputs(w).len() == 1 {
                if let Some(a) = &self.plan.access[w] {
                    assigned[a.slot] = true;
                }
            }
        }
        assigned
    }

    /// Lists the outputs that may be written in place of an input ([`Donation`]).
    fn find_donations(&mut self) {
        // Only the new values of variables (pending assignments: parameters, optimizer state,
        // running statistics) take buffers over. Any other output — a gradient of a graph
        // that stays differentiable, say — leaves its inputs alone, since the graphs that
        // still hold them may legitimately be read again.
        let assigned = self.assigned_slots();
        let plan = &mut self.plan;
        let mut donations = Vec::new();
        for (s, step) in plan.steps.iter().enumerate() {
            // The elementwise loop, or a reduction's or matmul's epilogue (which runs element
            // by element over the result, after or while the body reads its inputs: a slot
            // the body reads is not read at the element written; the GEMM's operands are read
            // while earlier rows' epilogues run).
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
            let mut taken: Vec<usize> = Vec::new();
            for o in &k.outputs {
                let out = &plan.slots[o.slot];
                if out.kind != SlotKind::Owned || out.elem != Elem::F32 || !assigned[o.slot] {
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
                        out: o.slot,
                        input,
                        step: s,
                        identity_inputs: identity_inputs.clone(),
                    });
                }
            }
        }
        plan.donations = donations;
    }

    /// Packs the scratch slots into the arena by liveness: a slot's bytes are reused once the
    /// last step reading it has run.
    fn assign_memory(&mut self) {
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
            if let StepKind::Reduce { run: Some(a), .. } = step.kind {
                writes.push(a);
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

fn out_rank(graph: &Graph, step: &Step) -> usize {
    graph.nodes[step.node].shape().len()
}

/// The elementwise epilogue of a reduction or matmul step, if it has one.
fn epilogue_of(step: &Step) -> Option<&Kernel> {
    match &step.kind {
        StepKind::Reduce { epilogue, .. } | StepKind::MatMul { epilogue, .. } => epilogue.as_ref(),
        StepKind::Elementwise(_) | StepKind::Host => None,
    }
}

/// Slots a step writes (its outputs; a reduction's accumulator is internal).
pub fn step_writes(step: &Step) -> Vec<usize> {
    let mut writes = match &step.kind {
        StepKind::Elementwise(k) => k.outputs.iter().map(|o| o.slot).collect(),
        StepKind::Reduce { body, .. } => std::iter::once(step.out)
            .chain(body.outputs.iter().map(|o| o.slot))
            .collect(),
        StepKind::MatMul { .. } | StepKind::Host => vec![step.out],
    };
    writes.extend(
        epilogue_of(step)
            .into_iter()
            .flat_map(|k| k.outputs.iter().map(|o| o.slot)),
    );
    writes
}

/// Slots a step reads (an epilogue's loads of the step's own result are not reads of a slot
/// written before).
pub fn step_reads(step: &Step) -> Vec<usize> {
    let mut reads = match &step.kind {
        StepKind::Elementwise(k) => k.inputs.iter().map(|a| a.slot).collect(),
        StepKind::Reduce { body, .. } => body.inputs.iter().map(|a| a.slot).collect(),
        StepKind::MatMul { a, b, .. } => vec![a.slot, b.slot],
        StepKind::Host => Vec::new(),
    };
    reads.extend(
        epilogue_of(step)
            .into_iter()
            .flat_map(|k| k.inputs.iter().map(|a| a.slot))
            .filter(|&slot| slot != step.out),
    );
    reads
}

fn copy_kernel(shape: &[usize], access: Access, slot: usize, node: usize) -> Kernel {
    Kernel {
        shape: shape.to_vec(),
        inputs: vec![access],
        exprs: vec![Expr::Input(0)],
        outputs: vec![Output {
            expr: 0,
            slot,
            node,
        }],
    }
}

fn elem_of(dtype: DType) -> Elem {
    match dtype {
        DType::F32 => Elem::F32,
        DType::I64 => Elem::I64,
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
