//! Graph nodes: immutable values (an op over inputs, or data) shared by reference counting.
//!
//! A [`Node`] never changes what it denotes: once realized its value is fixed, and a variable
//! that is re-assigned (an optimizer update) gets a *new* node. That is what makes lazy graphs
//! safe to record ahead of time and cheap to cache.

use std::cell::{Cell, OnceCell, RefCell};
use std::panic::Location;
use std::rc::{Rc, Weak};

use crate::dtype::DType;
use crate::op::Op;
use crate::shape::Dims;
use crate::storage::Realized;

/// A shared reference to a graph node.
pub type NodeRef = Rc<Node>;

/// A node's inputs, inline up to two (every op but concatenation).
pub type Inputs = smallvec::SmallVec<[NodeRef; 2]>;

/// Where a gradient node comes from: the source line and op name of the forward node it
/// differentiates.
type BackwardOrigin = (&'static Location<'static>, &'static str);

thread_local! {
    static LIVE_NODES: Cell<usize> = const { Cell::new(0) };
    static NEXT_ID: Cell<u64> = const { Cell::new(0) };
    /// Set while autodiff records the gradient of one forward node (see [`BackwardScope`]).
    static BACKWARD_OF: Cell<Option<BackwardOrigin>> = const { Cell::new(None) };
}

/// While alive, nodes recorded on this thread take the origin of the forward node whose
/// gradient autodiff is recording, instead of the line inside autodiff that records them: a
/// schedule then says "backward of matmul at src/main.rs:42", the user's line, rather than
/// naming needle's own source. Restores the previous scope when dropped (also on unwind).
pub(crate) struct BackwardScope(Option<BackwardOrigin>);

impl BackwardScope {
    /// Records what follows as the backward of `forward`.
    pub(crate) fn enter(forward: &Node) -> BackwardScope {
        let origin = (
            forward.origin,
            forward.backward_of.unwrap_or(forward.op.kind()),
        );
        BackwardScope(BACKWARD_OF.with(|b| b.replace(Some(origin))))
    }
}

impl Drop for BackwardScope {
    fn drop(&mut self) {
        let _ = BACKWARD_OF.try_with(|b| b.set(self.0));
    }
}

/// Number of graph nodes alive on this thread: the leak check of training loops (a loop that
/// frees each step's graph keeps it flat).
pub fn live_nodes() -> usize {
    LIVE_NODES.with(|c| c.get())
}

/// Nodes recorded on this thread so far (see [`crate::pending`]).
pub(crate) fn recorded_nodes() -> u64 {
    NEXT_ID.with(Cell::get)
}

/// A change of a variable's value: what made it (`opt.step()`, `assign`) and the user's line.
#[derive(Clone, Copy, Debug)]
pub struct Update {
    /// What made the change, as the user wrote it (`opt.step()`, `assign`).
    pub by: &'static str,
    /// The user's source line of that call.
    pub at: &'static Location<'static>,
}

/// The variable a [`Tensor`](crate::Tensor) handle names: its current node, its gradient,
/// and whether `backward` keeps the gradient of this (non-leaf) tensor. It lives beside
/// [`Node`] because a node points back to the variable that recorded it (where `backward`
/// delivers the gradient); `Tensor` is a reference-counted handle on it.
pub struct TensorCell {
    /// The node the variable denotes now (replaced by an assignment).
    pub(crate) node: RefCell<NodeRef>,
    /// The gradient `backward` left (a tensor handle's cell).
    pub(crate) grad: RefCell<Option<Rc<TensorCell>>>,
    /// Whether `backward` stores this non-leaf variable's gradient too.
    pub(crate) retains_grad: Cell<bool>,
}

impl TensorCell {
    /// A variable denoting `node`, with no gradient.
    pub(crate) fn new(node: NodeRef) -> TensorCell {
        TensorCell {
            node: RefCell::new(node),
            grad: RefCell::new(None),
            retains_grad: Cell::new(false),
        }
    }

    /// The node the variable denotes now.
    pub fn current(&self) -> NodeRef {
        self.node.borrow().clone()
    }

    /// The id of the node the variable denotes now (no reference taken).
    pub fn current_id(&self) -> u64 {
        self.node.borrow().id()
    }

    /// The variable holding this variable's gradient, if `backward` left one.
    pub fn grad_cell(&self) -> Option<Rc<TensorCell>> {
        self.grad.borrow().clone()
    }

    /// Gives the variable the realized `value` as a new leaf (what an assignment of a computed
    /// value does): made by `update`, recorded at `origin`; the old node is marked superseded.
    pub fn replace_value(
        self: &Rc<Self>,
        value: Realized,
        update: Update,
        origin: &'static Location<'static>,
    ) {
        let old = self.current();
        let node = Node::leaf(value, old.requires_grad(), origin);
        old.mark_superseded(update);
        node.set_owner(Rc::downgrade(self));
        *self.node.borrow_mut() = node;
    }

    /// Gives this variable the gradient `other` holds (the same gradient variable).
    pub fn share_grad_of(&self, other: &TensorCell) {
        *self.grad.borrow_mut() = other.grad_cell();
    }

    /// Stores `value` as this variable's gradient (as `backward` does), recorded at `origin`.
    pub fn store_grad(&self, value: Realized, origin: &'static Location<'static>) {
        let cell = Rc::new(TensorCell::new(Node::leaf(value, false, origin)));
        cell.current().set_owner(Rc::downgrade(&cell));
        *self.grad.borrow_mut() = Some(cell);
    }
}

/// One node of the computation graph.
pub struct Node {
    id: u64,
    op: Op,
    inputs: RefCell<Inputs>,
    shape: Dims,
    dtype: DType,
    requires_grad: bool,
    value: OnceCell<Realized>,
    owner: OnceCell<Weak<TensorCell>>,
    origin: &'static Location<'static>,
    /// For a node recorded by autodiff: the op name of the forward node it differentiates
    /// (`origin` is then that node's line).
    backward_of: Option<&'static str>,
    /// Scratch of the current traversal (see [`crate::mark`]): (epoch, value).
    pub(crate) mark: Cell<(u64, u32)>,
    /// Where the variable update that overwrote this value in place was recorded (see
    /// [`Node::mark_overwritten`]).
    overwritten_by: Cell<Option<&'static Location<'static>>>,
    /// The update that gave this node's variable a new value (see [`Node::mark_superseded`]).
    superseded_by: Cell<Option<Update>>,
}

impl Node {
    /// A new unrealized node; `origin` is the user's source line that recorded it (replaced
    /// by the forward node's line inside a [`BackwardScope`]).
    pub(crate) fn new(
        op: Op,
        inputs: Inputs,
        shape: Dims,
        dtype: DType,
        requires_grad: bool,
        origin: &'static Location<'static>,
    ) -> NodeRef {
        LIVE_NODES.with(|c| c.set(c.get() + 1));
        let id = NEXT_ID.with(|c| {
            let id = c.get();
            c.set(id + 1);
            id
        });
        let (origin, backward_of) = match BACKWARD_OF.with(Cell::get) {
            Some((forward, op)) => (forward, Some(op)),
            None => (origin, None),
        };
        Rc::new(Node {
            id,
            op,
            inputs: RefCell::new(inputs),
            shape,
            dtype,
            requires_grad,
            value: OnceCell::new(),
            owner: OnceCell::new(),
            origin,
            backward_of,
            mark: Cell::new((0, 0)),
            overwritten_by: Cell::new(None),
            superseded_by: Cell::new(None),
        })
    }

    /// A realized data leaf.
    pub(crate) fn leaf(
        value: Realized,
        requires_grad: bool,
        origin: &'static Location<'static>,
    ) -> NodeRef {
        let shape = Dims::from_slice(&value.layout.shape);
        let dtype = value.buffer.dtype();
        let node = Node::new(Op::Leaf, Inputs::new(), shape, dtype, requires_grad, origin);
        node.value.set(value).expect("fresh node");
        node
    }

    /// Unique (per thread) identifier, increasing in creation order.
    pub fn id(&self) -> u64 {
        self.id
    }

    /// The operation.
    pub fn op(&self) -> &Op {
        &self.op
    }

    /// The input nodes (empty once a node that no gradient needs has been realized: its
    /// inputs are released so graphs do not outlive their use).
    pub fn inputs(&self) -> Vec<NodeRef> {
        self.inputs.borrow().to_vec()
    }

    /// The inputs still attached, without a heap allocation for up to two.
    pub(crate) fn input_nodes(&self) -> Inputs {
        let mut inputs = Inputs::new();
        for input in self.inputs.borrow().iter() {
            inputs.push(input.clone());
        }
        inputs
    }

    /// Calls `f` with the inputs still attached, without cloning them (traversals run this
    /// for every node of every step).
    pub fn with_inputs<R>(&self, f: impl FnOnce(&[NodeRef]) -> R) -> R {
        f(&self.inputs.borrow())
    }

    /// Number of inputs still attached.
    pub fn num_inputs(&self) -> usize {
        self.inputs.borrow().len()
    }

    /// Input `i`.
    pub fn input(&self, i: usize) -> NodeRef {
        self.inputs.borrow()[i].clone()
    }

    /// The logical shape.
    pub fn shape(&self) -> &[usize] {
        &self.shape
    }

    /// The element type.
    pub fn dtype(&self) -> DType {
        self.dtype
    }

    /// Whether gradients flow through this node.
    pub fn requires_grad(&self) -> bool {
        self.requires_grad
    }

    /// The realized value, if computed.
    ///
    /// Panics when the value was overwritten in place by a variable update (see
    /// [`Node::mark_overwritten`]): reading it would see the new value.
    #[track_caller]
    pub fn value(&self) -> Option<&Realized> {
        if let Some(update) = self.overwritten_by.get() {
            panic!(
                "the value of this {} tensor (recorded at {}) was overwritten in place by the \
                 update of its variable recorded at {update}: graphs recorded before an \
                 optimizer step cannot be read or differentiated after it. To keep the old \
                 value, hold a tensor of it (`param.detach()`) before the step; the update \
                 then writes a new buffer",
                self.op.name(),
                self.origin
            );
        }
        self.value.get()
    }

    /// Records that a compiled program reused this node's buffer for the new value of the
    /// variable it belonged to (the update recorded at `update`), which only happens when no
    /// handle outside that program could read it. Any later read panics naming both places
    /// instead of returning the new value (the analogue of PyTorch's version check).
    pub fn mark_overwritten(&self, update: &'static Location<'static>) {
        self.overwritten_by.set(Some(update));
    }

    /// Whether the value was overwritten in place (see [`Node::mark_overwritten`]).
    pub fn is_overwritten(&self) -> bool {
        self.overwritten_by.get().is_some()
    }

    /// Records that the variable this node was the value of has since been given a new value
    /// by `update` (an optimizer step, or `assign`). The node itself is unchanged, but a
    /// gradient through it would be taken at the variable's old value: `backward` refuses such
    /// graphs (PyTorch's "modified by an inplace operation" error).
    pub fn mark_superseded(&self, update: Update) {
        self.superseded_by.set(Some(update));
    }

    /// The update that gave this node's variable a new value, if one did (see
    /// [`Node::mark_superseded`]).
    pub fn superseded_by(&self) -> Option<Update> {
        self.superseded_by.get()
    }

    /// True once the value is computed.
    pub fn is_realized(&self) -> bool {
        self.value.get().is_some()
    }

    /// Source line of the user code that recorded this node; for a gradient node, the line of
    /// the forward op it differentiates (see [`Node::backward_of`]).
    pub fn origin(&self) -> &'static Location<'static> {
        self.origin
    }

    /// For a node recorded by backward: the name of the forward op whose gradient it computes
    /// (`"matmul"`); `None` for a node the user's code recorded.
    pub fn backward_of(&self) -> Option<&'static str> {
        self.backward_of
    }

    /// Where the node comes from, as debug output prints it: `src/main.rs:42:13`, or
    /// `backward of matmul at src/main.rs:42:13` for a gradient node.
    pub fn describe_origin(&self) -> String {
        match self.backward_of {
            Some(op) => format!("backward of {op} at {}", self.origin),
            None => self.origin.to_string(),
        }
    }

    /// Stores the computed value (backends call this once per node). Inputs that no later
    /// gradient can need are released here, which is what keeps memory flat.
    ///
    /// Panics when the value's shape or dtype differ from the node's: a backend bug.
    pub fn set_value(&self, value: Realized) {
        assert_eq!(
            value.layout.shape[..],
            self.shape[..],
            "backend produced shape {:?} for {} node of shape {:?}",
            value.layout.shape,
            self.op.name(),
            self.shape
        );
        assert_eq!(
            value.buffer.dtype(),
            self.dtype,
            "backend produced the wrong dtype for {}",
            self.op.name()
        );
        if self.value.set(value).is_ok() && (!self.requires_grad || self.op == Op::Leaf) {
            let released = std::mem::take(&mut *self.inputs.borrow_mut());
            drop_iteratively(released);
        }
    }

    /// The tensor handle that created this node, if it is still alive (where `backward`
    /// delivers the gradient).
    pub fn owner(&self) -> Option<Rc<TensorCell>> {
        self.owner.get().and_then(Weak::upgrade)
    }

    pub(crate) fn set_owner(&self, owner: Weak<TensorCell>) {
        let _ = self.owner.set(owner);
    }
}

/// Drops a list of nodes without recursion, so a 100,000-node chain does not overflow the stack.
fn drop_iteratively(mut stack: Inputs) {
    while let Some(node) = stack.pop() {
        if let Ok(mut inner) = Rc::try_unwrap(node) {
            for input in inner.inputs.get_mut().drain(..) {
                stack.push(input);
            }
        }
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        let _ = LIVE_NODES.try_with(|c| c.set(c.get().saturating_sub(1)));
        let inputs = std::mem::take(self.inputs.get_mut());
        drop_iteratively(inputs);
    }
}

impl std::fmt::Debug for Node {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "Node#{} {} {:?} {} ({}{})",
            self.id,
            self.op.name(),
            self.shape,
            self.dtype,
            if self.backward_of.is_some() {
                ""
            } else {
                "at "
            },
            self.describe_origin()
        )
    }
}
