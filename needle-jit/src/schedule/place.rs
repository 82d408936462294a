//! Placement, the first pass: each graph node becomes an input slot, a view (an access into
//! another value), an inlined expression, or a step of its own — a fused elementwise loop, a
//! reduction with its producer fused in, a matmul, or the interpreter's kernel (host step).
//! Ends with the final placements once the later passes have renumbered the steps.

use needle_core::layout::Layout;
use needle_core::op::{Op, ReduceOp};
use needle_core::shape::{contiguous_strides, numel};
use needle_core::DType;

use super::kernel::{Access, Expr, Kernel, Output};
use super::plan::{Elem, Placement, Slot, SlotKind, Step, StepKind, WindowOp};
use super::planner::Planner;
use super::recompute::{computed_in_place, COMPUTED_IN_PLACE};
use super::sum_run;
use crate::collect::Graph;

/// Whether node `i` is a pending f32 elementwise op (unary, with a constant, binary).
pub(super) fn is_elementwise(graph: &Graph, i: usize) -> bool {
    let n = &graph.nodes[i];
    !graph.is_input[i]
        && n.dtype() == DType::F32
        && matches!(n.op(), Op::Unary(_) | Op::Scalar(..) | Op::Binary(_))
}

/// Whether node `i` is a pending reduction.
pub(super) fn is_reduce(graph: &Graph, i: usize) -> bool {
    !graph.is_input[i] && matches!(graph.nodes[i].op(), Op::Reduce(..))
}

/// Offsets of view layouts are computed with this bias, so that a relative offset that goes
/// below the slot's start (a flip of a flipped input) stays representable in `Layout`'s
/// `usize` while the `Layout` methods (which only add to the offset) do the arithmetic.
const OFFSET_BIAS: usize = 1 << 40;

/// The access of a view node (`op` applied to a value of `in_shape` read through `input`),
/// or `None` for a reshape the layout cannot express.
pub(super) fn view_access(
    op: &Op,
    input: &Access,
    in_shape: &[usize],
    shape: &[usize],
) -> Option<Access> {
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

impl Planner<'_> {
    /// A new buffer slot.
    pub(super) fn new_slot(
        &mut self,
        kind: SlotKind,
        elem: Elem,
        len: usize,
        node: usize,
    ) -> usize {
        self.plan.slots.push(Slot {
            kind,
            elem,
            len,
            node,
        });
        self.plan.slots.len() - 1
    }

    /// A new scratch slot (its arena offset is assigned by [`super::arena`]).
    pub(super) fn scratch(&mut self, elem: Elem, len: usize, node: usize) -> usize {
        self.new_slot(SlotKind::Scratch { offset: 0 }, elem, len, node)
    }

    /// Appends a step; returns its index.
    pub(super) fn push_step(
        &mut self,
        kind: StepKind,
        node: usize,
        inlined: Vec<usize>,
        out: usize,
    ) -> usize {
        self.plan.steps.push(Step {
            kind,
            node,
            inlined,
            out,
        });
        self.plan.steps.len() - 1
    }

    /// The shape of node `i`.
    pub(super) fn shape(&self, i: usize) -> &[usize] {
        self.graph.nodes[i].shape()
    }

    /// Stores node `i` compactly in a new slot.
    pub(super) fn stored(&mut self, i: usize, elem: Elem) -> usize {
        let slot = self.scratch(elem, numel(self.shape(i)), i);
        self.plan.access[i] = Some(Access {
            slot,
            strides: contiguous_strides(self.shape(i)),
            offset: 0,
        });
        slot
    }

    /// Places node `i` (see the module documentation).
    pub(super) fn place(&mut self, i: usize) {
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
        if !self.inlinable[i] && self.recomputed(i) {
            self.inlinable[i] = true;
        } else if !self.inlinable[i] && self.computed_through_views(i) {
            self.inlinable[i] = true;
            self.plan.access[i] = Some(computed_in_place(node.shape()));
        }
        if self.inlinable[i] {
            // Placed when its consumers' steps are built.
            return;
        }
        let inputs = graph.inputs(i);
        let op = node.op();
        if op.aliases_input(inputs.len()) {
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
                let reordered = if self.keep_compact[i] {
                    None
                } else {
                    self.in_product_order(i, &kernel)
                };
                let reordered = reordered.map(|(k, strides, order)| (k, (strides, order)));
                let out = self.stored(i, Elem::F32);
                if let Some((k, (strides, order))) = reordered {
                    // Stored in the product's order: the node reads its buffer as the
                    // product is read, so its consumers (placed later) address it so too.
                    self.product_order.insert(out, order);
                    kernel = k;
                    self.plan.access[i] = Some(Access {
                        slot: out,
                        strides,
                        offset: 0,
                    });
                } else if let Some(order) = self.walks_in_order(&kernel) {
                    // A product's bias, say: its result keeps the product's order.
                    self.product_order.insert(out, order);
                }
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
                    // A split sum gathers each row's runs in a part of its own.
                    ReduceOp::Sum => sum_run::run_buffer_len(&body.shape, axes).map(|len| {
                        let rows = sum_run::split_rows(&body, axes).unwrap_or(1);
                        self.scratch(Elem::F32, len * rows, i)
                    }),
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
                        split: None,
                        siblings: Vec::new(),
                    },
                    i,
                    inlined,
                    out,
                );
            }
            Op::MatMul if self.is_outer_product(i) => {
                let step = self.outer_product(i, inputs[0], inputs[1]);
                self.plan.nodes[i].placement = Placement::Stored(step);
                return;
            }
            Op::MatMul => {
                let a = self.gemm_operand(inputs[0]);
                let b = self.gemm_operand(inputs[1]);
                let nd = node.shape().len();
                let k = self.shape(inputs[0])[nd - 1];
                let out = self.stored(i, Elem::F32);
                if let [m, n] = *node.shape() {
                    self.product_order.insert(out, [m, n]);
                }
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
            Op::Im2col(w) | Op::Col2im(w) => {
                let input = self.plan.access[inputs[0]].clone().expect("stored input");
                let out = self.stored(i, Elem::F32);
                let op = match op {
                    Op::Im2col(_) => WindowOp::Im2col(*w),
                    _ => WindowOp::Col2im(*w),
                };
                let input_shape = self.shape(inputs[0]).to_vec();
                let kind = StepKind::Window {
                    op,
                    input,
                    input_shape,
                };
                self.push_step(kind, i, Vec::new(), out);
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

    /// Whether matmul node `i` is an outer product the JIT computes as an elementwise loop:
    /// inner size 1, operands of the result's rank and batches. The gemm crate (0.19, which
    /// eager mode calls) computes such a product as the plain product `a·b`, keeping −0, so
    /// the loop gives its bits — except in its small-product kernel (at most 16×16 results,
    /// both operands with stride 1 along the inner axis), which starts from +0 (−0 becomes
    /// +0), and in its column kernel (one column); those stay GEMM calls.
    /// `tests/outer_products.rs` checks each case against eager mode.
    fn is_outer_product(&self, i: usize) -> bool {
        let graph = self.graph;
        let shape = graph.nodes[i].shape();
        let nd = shape.len();
        let inputs = graph.inputs(i);
        let (a, b) = (self.shape(inputs[0]), self.shape(inputs[1]));
        let shapes_fit = nd >= 2
            && a.len() == nd
            && b.len() == nd
            && a[nd - 1] == 1
            && shape[nd - 1] >= 2
            && a[..nd - 2] == shape[..nd - 2]
            && b[..nd - 2] == shape[..nd - 2];
        if !shapes_fit {
            return false;
        }
        // As the GEMM sees the operand: flipped operands are copied compact first (here by
        // `gemm_operand`, in eager mode by the interpreter's product).
        let inner_stride = |input: usize, axis: usize| {
            self.plan.access[input].as_ref().map(|acc| {
                if acc.strides.iter().any(|&st| st < 0) {
                    contiguous_strides(self.shape(input))[axis]
                } else {
                    acc.strides[axis]
                }
            })
        };
        let small_kernel = shape[nd - 2] * shape[nd - 1] <= 16 * 16
            && inner_stride(inputs[0], nd - 1) == Some(1)
            && inner_stride(inputs[1], nd - 2) == Some(1);
        !small_kernel
    }

    /// Node `i = a · b` with inner size 1 as an elementwise loop over the result: `a` read
    /// along its rows with stride 0 across columns, `b` along its columns with stride 0 across
    /// rows. Later elementwise consumers (an optimizer's update of the weight gradient of a
    /// batch-1 step) fuse into it like into any loop. Returns the step.
    fn outer_product(&mut self, i: usize, a: usize, b: usize) -> usize {
        let shape = self.shape(i).to_vec();
        let nd = shape.len();
        let (a, b) = (self.gemm_operand(a), self.gemm_operand(b));
        let mut a_strides = a.strides.clone();
        a_strides[nd - 1] = 0;
        let mut b_strides = b.strides.clone();
        b_strides[nd - 2] = 0;
        let out = self.stored(i, Elem::F32);
        let kernel = Kernel {
            shape,
            inputs: vec![
                Access {
                    strides: a_strides,
                    ..a
                },
                Access {
                    strides: b_strides,
                    ..b
                },
            ],
            exprs: vec![
                Expr::Input(0),
                Expr::Input(1),
                Expr::Binary(needle_core::op::BinaryOp::Mul, 0, 1),
            ],
            outputs: vec![Output {
                expr: 2,
                slot: out,
                node: i,
            }],
        };
        self.push_step(StepKind::Elementwise(kernel), i, Vec::new(), out)
    }

    /// A GEMM operand: its access, or a compact copy when a stride is negative (flipped
    /// views; the GEMM reads non-negative strides only).
    pub(super) fn gemm_operand(&mut self, i: usize) -> Access {
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
    pub(super) fn copy_step(&mut self, i: usize, src: usize, access: Access) {
        let out = self.stored(i, Elem::F32);
        let kernel = copy_kernel(self.shape(src), access, out, i);
        let step = self.push_step(StepKind::Elementwise(kernel), i, Vec::new(), out);
        self.plan.nodes[i].placement = Placement::Stored(step);
    }

    /// Appends the expression of node `i` to `kernel`: computed in place when `compute`,
    /// otherwise loaded from where it is stored.
    pub(super) fn emit(
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

    /// [`Self::emit`] for a node not yet in the kernel.
    pub(super) fn emit_new(
        &mut self,
        i: usize,
        compute: bool,
        kernel: &mut Kernel,
        inlined: &mut Vec<usize>,
        step: usize,
    ) -> usize {
        if !compute {
            let access = self.plan.access[i].clone().expect("stored kernel input");
            if access.slot == COMPUTED_IN_PLACE {
                // A view of a value computed where it is read (see `recompute.rs`).
                let shape = self.shape(i).to_vec();
                return self.emit_viewed(i, access, &shape, kernel, inlined, step);
            }
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
        kernel.exprs.push(Expr::of(graph.nodes[i].op(), &args));
        if self.inlinable[i] {
            inlined.push(i);
            self.plan.nodes[i].placement = Placement::Inlined(step);
        }
        kernel.exprs.len() - 1
    }

    /// Gives requested values buffers of their own.
    pub(super) fn mark_owned(&mut self) {
        for &w in &self.plan.wanted {
            if let Some(a) = &self.plan.access[w] {
                let slot = a.slot;
                if self.plan.slots[slot].kind != SlotKind::Input {
                    self.plan.slots[slot].kind = SlotKind::Owned;
                }
            }
        }
    }

    /// Records which step computes each node (after merging renumbered the steps).
    pub(super) fn finish_placements(&mut self) {
        // Values computed where they are read, and their views, are stored nowhere.
        for access in &mut self.plan.access {
            if access.as_ref().is_some_and(|a| a.slot == COMPUTED_IN_PLACE) {
                *access = None;
            }
        }
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
                StepKind::Reduce {
                    body,
                    epilogue,
                    siblings,
                    ..
                } => {
                    self.plan.nodes[step.node].placement = Placement::Stored(s);
                    for sibling in siblings {
                        self.plan.nodes[sibling.node].placement = Placement::Stored(s);
                    }
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
