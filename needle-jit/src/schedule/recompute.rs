//! Recomputation, part of placement: an elementwise value that several steps read is
//! computed again inside each of them, instead of stored once and loaded by each, when that
//! costs no more memory traffic — when it is a short chain of cheap ops over at most one
//! full-size value (anything else it reads being a per-channel or scalar broadcast).
//!
//! A consumer then reads that one value where it would have read the stored result: the
//! same traffic, minus the store and the pass that wrote it. BatchNorm is where this counts:
//! `x − mean`, the normalized value and its affine output, and in the backward pass the
//! gradient scaled by γ and by 1/σ, each read by two to four reductions and loops, are no
//! longer written out (in the forward pass, three of a layer's four full-size stores).
//! Recomputed values have the same bits: an elementwise op is a function of its operands,
//! whichever loop runs it.
//!
//! Such a value is also computed inside consumers that read it through views — slices,
//! permutations, reshapes — by composing each view with the value's own input accesses:
//! pooling then runs with its producer in its loop (an average pooling's k·k strided views of
//! a BatchNorm and ReLU, which are never stored).

use needle_core::op::{Op, ScalarOp, UnaryOp};
use needle_core::shape::{contiguous_strides, numel};
use rustc_hash::FxHashMap;

use super::kernel::{Access, Expr, Kernel};
use super::place::{is_elementwise, is_reduce, view_access};
use super::plan::Placement;
use super::planner::Planner;

/// The slot of a value computed wherever it is read (never stored): its views address it
/// as if it were stored compact there, and a kernel reading such an address computes the
/// value instead (see [`through_view`]).
pub(super) const COMPUTED_IN_PLACE: usize = usize::MAX;

/// The access of a value of `shape` computed where it is read: compact in
/// [`COMPUTED_IN_PLACE`].
pub(super) fn computed_in_place(shape: &[usize]) -> Access {
    Access {
        slot: COMPUTED_IN_PLACE,
        strides: contiguous_strides(shape),
        offset: 0,
    }
}

/// Ops (the value's and those inlined into it) a recomputed value may take: each consumer
/// repeats them, and a long chain would cost more than the load it saves.
const MAX_RECOMPUTED_OPS: usize = 8;

/// A value read at fewer than one element in this many of the result's (a per-channel
/// statistic broadcast over a batch of images) stays in cache: it does not count as a
/// full-size read.
const BROADCAST_RATIO: usize = 8;

/// Whether an elementwise op costs a few cycles at most: no call to a math function.
fn is_cheap(op: &Op) -> bool {
    match op {
        Op::Unary(u) => matches!(
            u,
            UnaryOp::Neg | UnaryOp::Relu | UnaryOp::Abs | UnaryOp::Sqrt
        ),
        Op::Scalar(s, _) => !matches!(s, ScalarOp::Pow),
        Op::Binary(_) => true,
        _ => false,
    }
}

impl Planner<'_> {
    /// Whether node `i` is recomputed by each of its consumers (see the module
    /// documentation): all of them read it at their own index. Called when `i` is placed,
    /// after the values it reads.
    pub(super) fn recomputed(&self, i: usize) -> bool {
        let consumers = &self.consumers[i];
        consumers.len() >= 2
            && consumers.iter().all(|&c| self.reads_in_place(c, i))
            && self.cheap_chain(i)
    }

    /// Whether node `i` is computed inside consumers that read it through views (chains of
    /// views whose readers read them at their own index), none of it stored: its access
    /// becomes the compact layout of [`COMPUTED_IN_PLACE`], which its views compose with.
    pub(super) fn computed_through_views(&self, i: usize) -> bool {
        let graph = self.graph;
        let shape = self.shape(i);
        let compact = computed_in_place(shape);
        let consumers = &self.consumers[i];
        consumers.iter().any(|&c| graph.nodes[c].op().is_view())
            && consumers
                .iter()
                .all(|&c| self.reads_in_place(c, i) || self.composes(c, (&compact, shape), shape))
            && self.cheap_chain(i)
    }

    /// Whether view node `c` of a value of `shape` — reading a parent at `parent` (an access
    /// over `parent.1` into the value laid out compact) — and the views of it are read only
    /// by consumers that read them at their own index, each view a map [`through_view`]
    /// composes with.
    fn composes(&self, c: usize, parent: (&Access, &[usize]), shape: &[usize]) -> bool {
        let graph = self.graph;
        let node = &graph.nodes[c];
        // Not a broadcast: each element read would compute the value again.
        if !node.op().is_view()
            || *node.op() == Op::Expand
            || graph.wanted[c]
            || self.keep_compact[c]
            || self.consumers[c].is_empty()
        {
            return false;
        }
        let Some(access) = view_access(node.op(), parent.0, parent.1, node.shape()) else {
            return false;
        };
        // Whether it composes does not depend on the access composed with.
        through_view(shape, &access, node.shape(), &computed_in_place(shape)).is_some()
            && self.consumers[c].iter().all(|&r| {
                self.reads_in_place(r, c) || self.composes(r, (&access, node.shape()), shape)
            })
    }

    /// Whether consumer `c` reads node `i` at its own index: an elementwise op, or a
    /// reduction of it.
    fn reads_in_place(&self, c: usize, i: usize) -> bool {
        let graph = self.graph;
        is_elementwise(graph, c) || (is_reduce(graph, c) && graph.inputs(c) == [i])
    }

    /// Whether elementwise node `i`, with what is inlined into it, is a short chain of cheap
    /// ops over at most one full-size value, not asked for and not a variable's new value.
    fn cheap_chain(&self, i: usize) -> bool {
        let graph = self.graph;
        if !is_elementwise(graph, i) || graph.wanted[i] || self.keep_compact[i] {
            return false;
        }
        let size = numel(self.shape(i));
        let mut ops = 0;
        let mut full_size: Vec<usize> = Vec::new();
        self.count_chain(i, size, &mut ops, &mut full_size) && full_size.len() <= 1
    }

    /// Adds to `ops` the ops of the chain computing `i` (it and what is inlined into it) and
    /// to `full_size` the slots of the values it reads at more than one element in
    /// [`BROADCAST_RATIO`] of `size`; false as soon as the chain is not cheap. A view of a
    /// value computed where it is read counts that value's whole chain again, once per view,
    /// so nested views stay within [`MAX_RECOMPUTED_OPS`] (each level would otherwise
    /// repeat the one below once per view).
    fn count_chain(
        &self,
        i: usize,
        size: usize,
        ops: &mut usize,
        full_size: &mut Vec<usize>,
    ) -> bool {
        let graph = self.graph;
        let mut pending = vec![i];
        let mut seen = vec![i];
        while let Some(j) = pending.pop() {
            if j == i || self.inlinable[j] {
                *ops += 1;
                if *ops > MAX_RECOMPUTED_OPS || !is_cheap(graph.nodes[j].op()) {
                    return false;
                }
                for &src in graph.inputs(j) {
                    if !seen.contains(&src) {
                        seen.push(src);
                        pending.push(src);
                    }
                }
                continue;
            }
            let Some(access) = &self.plan.access[j] else {
                return false;
            };
            if access.slot == COMPUTED_IN_PLACE {
                if !self.count_chain(self.viewed(j), size, ops, full_size) {
                    return false;
                }
                continue;
            }
            let read: usize = self
                .shape(j)
                .iter()
                .zip(&access.strides)
                .filter(|(_, &s)| s != 0)
                .map(|(&n, _)| n)
                .product();
            if read.saturating_mul(BROADCAST_RATIO) > size && !full_size.contains(&access.slot) {
                full_size.push(access.slot);
            }
        }
        true
    }
}

impl Planner<'_> {
    /// The value view node `i` views (through any chain of views).
    fn viewed(&self, i: usize) -> usize {
        let mut source = i;
        while self.graph.nodes[source].op().is_view() {
            source = self.graph.inputs(source)[0];
        }
        source
    }

    /// Appends the value view node `i` reads, computed where it is read, through `access`
    /// (the view over `shape`, the kernel's, into that value laid out compact).
    pub(super) fn emit_viewed(
        &mut self,
        i: usize,
        access: Access,
        shape: &[usize],
        kernel: &mut Kernel,
        inlined: &mut Vec<usize>,
        step: usize,
    ) -> usize {
        let view = (access, shape.to_vec());
        let mut memo = FxHashMap::default();
        self.emit_through(self.viewed(i), &view, &mut memo, kernel, inlined, step)
    }

    /// Appends the expression of node `i` (computed in place, or what it inlines) as read
    /// through `view` — an access over the kernel's shape into `i` laid out compact — each
    /// value it loads read through the view composed with its own access
    /// ([`through_view`]). `memo` holds the entries already emitted through this view.
    pub(super) fn emit_through(
        &mut self,
        i: usize,
        view: &(Access, Vec<usize>),
        memo: &mut FxHashMap<usize, usize>,
        kernel: &mut Kernel,
        inlined: &mut Vec<usize>,
        step: usize,
    ) -> usize {
        if let Some(&at) = memo.get(&i) {
            return at;
        }
        let graph = self.graph;
        let at = if self.inlinable[i] {
            let args: Vec<usize> = graph
                .inputs(i)
                .iter()
                .map(|&src| self.emit_through(src, view, memo, kernel, inlined, step))
                .collect();
            kernel.exprs.push(Expr::of(graph.nodes[i].op(), &args));
            if !inlined.contains(&i) {
                inlined.push(i);
            }
            self.plan.nodes[i].placement = Placement::Inlined(step);
            kernel.exprs.len() - 1
        } else {
            // An input of the chain: of the viewed value's shape, as every operand of an
            // elementwise op is.
            let own = self.plan.access[i].clone().expect("stored kernel input");
            let access = through_view(self.shape(i), &view.0, &view.1, &own)
                .expect("views of values computed in place compose (checked when placed)");
            if access.slot == COMPUTED_IN_PLACE {
                // A view of another value computed where it is read: that value through
                // both views.
                self.emit_viewed(i, access, &view.1, kernel, inlined, step)
            } else {
                kernel.load(&access)
            }
        };
        memo.insert(i, at);
        at
    }
}

/// `input` — an access of a value's input, over the value's `shape` — as read at the index
/// of a kernel that reads the value through `view` (an access over the kernel's `view_shape`
/// into the value laid out compact): the composed access, or `None` when the view is not
/// such a map (an axis that runs past the value's extent along the axis it steps).
pub(super) fn through_view(
    shape: &[usize],
    view: &Access,
    view_shape: &[usize],
    input: &Access,
) -> Option<Access> {
    let compact = contiguous_strides(shape);
    if view.offset < 0 {
        return None;
    }
    // The view's first element as an index of the value.
    let mut first = vec![0usize; shape.len()];
    let mut rest = view.offset as usize;
    for (e, &c) in compact.iter().enumerate() {
        if shape[e] > 1 {
            first[e] = rest / c as usize;
            rest %= c as usize;
        }
    }
    if rest != 0 || first.iter().zip(shape).any(|(&f, &n)| f >= n.max(1)) {
        return None;
    }
    // Per axis of the value, the lowest and highest index the view reaches along it.
    let (mut low, mut high): (Vec<isize>, Vec<isize>) =
        first.iter().map(|&f| (f as isize, f as isize)).unzip();
    let mut strides = Vec::with_capacity(view_shape.len());
    for (&extent, &s) in view_shape.iter().zip(&view.strides) {
        if extent <= 1 || s == 0 {
            strides.push(0);
            continue;
        }
        // The outermost axis whose compact stride divides the step: the one it walks.
        let e = (0..shape.len()).find(|&e| shape[e] > 1 && s % compact[e] == 0)?;
        let step = s / compact[e];
        let reach = step * (extent as isize - 1);
        if reach < 0 {
            low[e] += reach;
        } else {
            high[e] += reach;
        }
        strides.push(input.strides[e] * step);
    }
    if low.iter().any(|&l| l < 0) || high.iter().zip(shape).any(|(&h, &n)| h >= n as isize) {
        return None;
    }
    let offset = input.offset
        + first
            .iter()
            .zip(&input.strides)
            .map(|(&f, &s)| f as isize * s)
            .sum::<isize>();
    Some(Access {
        slot: input.slot,
        strides,
        offset,
    })
}
