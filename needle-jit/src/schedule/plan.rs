//! The plan as data: buffer slots, steps, and where every graph node's value is — what the
//! scheduler hands to code generation, the run stage and the inspection API.

use needle_core::op::ReduceOp;

use super::kernel::{Access, Kernel};

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
        /// For a sum split across threads, the rows of its outermost kept axis (see
        /// `schedule/sum_run.rs`), decided once its body is final; `None`: one thread.
        split: Option<usize>,
        /// Other sums of entries of `body` over the same axes, computed in the same walk
        /// (BatchNorm's backward reduces the gradient and products of it per channel: one
        /// pass instead of four). The epilogue runs once all are done.
        siblings: Vec<SiblingSum>,
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
    /// im2col or col2im: the function the interpreter runs for it
    /// ([`needle_core::interp::window`]), called on the program's buffers — `input` read
    /// through its strides, the output slot written compact — so a convolution gives the same
    /// bits in every mode and its matrices live in the arena like any other step's.
    Window {
        /// Which of the two, with its window.
        op: WindowOp,
        /// The input, strides over its full shape.
        input: Access,
        /// The input's shape.
        input_shape: Vec<usize>,
    },
}

/// The op of a [`StepKind::Window`] step.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum WindowOp {
    /// NCHW images → their (k·k·C, N·Ho·Wo) column matrix.
    Im2col(needle_core::op::Window),
    /// A column matrix → the NCHW images of the step's node shape, overlapping taps summed.
    Col2im(needle_core::op::Window),
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

/// An output slot holding the new value of a variable (a pending assignment), written by an
/// elementwise step or a reduction's epilogue, that may be written into the buffer of one of
/// the step's inputs instead of a new one: an optimizer's new parameter into the old
/// parameter's buffer, its new moments into the old moments'. The step reads that input at
/// the element it writes and no later step reads it, so the kernel reads each element before
/// it overwrites it. Whether the buffer is really dead — no tensor outside the program can
/// read it afterwards — is only known at run time, where the runtime checks it before every
/// run (`run/donation.rs`; which stage decides what: `schedule/donation.rs`); if it is not, the output gets a new buffer as usual.
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

/// A sum computed in the walk of another's body (see `StepKind::Reduce`'s `siblings`).
#[derive(Clone, Debug, PartialEq)]
pub struct SiblingSum {
    /// The entry of the body summed.
    pub value: usize,
    /// The output slot.
    pub out: usize,
    /// The graph node it computes.
    pub node: usize,
    /// Its run buffer, as `StepKind::Reduce`'s `run`.
    pub run: Option<usize>,
}

/// The elementwise epilogue of a reduction or matmul step, if it has one.
fn epilogue_of(step: &Step) -> Option<&Kernel> {
    match &step.kind {
        StepKind::Reduce { epilogue, .. } | StepKind::MatMul { epilogue, .. } => epilogue.as_ref(),
        StepKind::Elementwise(_) | StepKind::Host | StepKind::Window { .. } => None,
    }
}

/// Slots a step writes (its outputs; a reduction's accumulator is internal).
pub(crate) fn step_writes(step: &Step) -> Vec<usize> {
    let mut writes = match &step.kind {
        StepKind::Elementwise(k) => k.outputs.iter().map(|o| o.slot).collect(),
        StepKind::Reduce { body, siblings, .. } => std::iter::once(step.out)
            .chain(siblings.iter().map(|s| s.out))
            .chain(body.outputs.iter().map(|o| o.slot))
            .collect(),
        StepKind::MatMul { .. } | StepKind::Host | StepKind::Window { .. } => vec![step.out],
    };
    writes.extend(
        epilogue_of(step)
            .into_iter()
            .flat_map(|k| k.outputs.iter().map(|o| o.slot)),
    );
    writes
}

/// Slots a step reads (an epilogue's loads of the step's own results are not reads of a slot
/// written before).
pub(crate) fn step_reads(step: &Step) -> Vec<usize> {
    let own: Vec<usize> = match &step.kind {
        StepKind::Reduce { siblings, .. } => std::iter::once(step.out)
            .chain(siblings.iter().map(|s| s.out))
            .collect(),
        _ => vec![step.out],
    };
    let mut reads = match &step.kind {
        StepKind::Elementwise(k) => k.inputs.iter().map(|a| a.slot).collect(),
        StepKind::Reduce { body, .. } => body.inputs.iter().map(|a| a.slot).collect(),
        StepKind::MatMul { a, b, .. } => vec![a.slot, b.slot],
        StepKind::Host => Vec::new(),
        StepKind::Window { input, .. } => vec![input.slot],
    };
    reads.extend(
        epilogue_of(step)
            .into_iter()
            .flat_map(|k| k.inputs.iter().map(|a| a.slot))
            .filter(|slot| !own.contains(slot)),
    );
    reads
}
