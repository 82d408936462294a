//! Running a captured step again: check that its variables are where the capture left them,
//! repeat the library's host work, bind the buffers, run the program, deliver the values.
//!
//! Nothing of the step's graph is recorded, differentiated, keyed or freed. A replay
//! allocates only the tensors it returns: variables and gradients are written into their
//! previous buffers when nothing but the variable holds them (else into new ones, as an
//! uncaptured step would), the argument block and per-slot tables are the program's.

use std::rc::Rc;
use std::sync::Arc;

use needle_core::capture::HostWork;
use needle_core::node::NodeRef;
use needle_core::storage::Buffer;
use needle_core::Tensor;

use super::bindings::{fits, Captured, Delivery, Returned, Source, Variable};
use crate::run::bind::execute;
use crate::schedule::{Elem, SlotKind};
use crate::stats::bump;

/// Why a replay did not run.
pub(crate) enum Refused {
    /// The capture went stale: the step is captured again (nothing was changed).
    Stale(String),
    /// The call is invalid as the closure would have found (a label out of range): a panic
    /// at the caller's line, with this message.
    Invalid(String),
}

impl From<String> for Refused {
    fn from(reason: String) -> Refused {
        Refused::Stale(reason)
    }
}

/// Per-replay tables kept between replays (their capacity), so a replay does not allocate.
#[derive(Default)]
pub(crate) struct ReplayScratch {
    /// Per input binding: the buffer and offset bound.
    bound: Vec<(Arc<Buffer>, usize)>,
    /// Output slots written into a given buffer, by slot.
    given: Vec<(usize, Arc<Buffer>)>,
    /// Per delivery: the buffer given to its slot (to recognise an in-place result).
    reused: Vec<Option<Arc<Buffer>>>,
    /// The returned tensors of the last replay, in output order.
    pub(crate) returned: Vec<Option<Tensor>>,
}

impl Captured {
    /// Checks that a replay can run on `args`: every variable denotes what the last run left
    /// (else something assigned it outside the step), every gradient read exists.
    pub(crate) fn check(&self) -> Result<(), Refused> {
        // A replay has no interpreter to fall back on while a background compile runs.
        match self.program.wait_for_code() {
            Ok(true) => {}
            Ok(false) => return Err(Refused::Stale("its program has no machine code".into())),
            Err(e) => return Err(Refused::Stale(e.to_string())),
        }
        for v in self.variables.iter().filter(|v| v.watched) {
            let Some(cell) = v.cell.upgrade() else {
                return Err(Refused::Stale(format!(
                    "the tensor made at {} that the step reads or updates was dropped",
                    v.origin
                )));
            };
            if cell.current_id() != v.expected {
                let now = cell.current();
                return Err(Refused::Stale(format!(
                    "the tensor made at {} was given a new value outside the step (now the \
                     value made at {})",
                    v.origin,
                    now.describe_origin()
                )));
            }
        }
        if self
            .missing_grads
            .iter()
            .any(|m| m.upgrade().is_some_and(|cell| cell.grad_cell().is_some()))
        {
            return Err(Refused::Stale(
                "a tensor that had no gradient when the step was captured has one now".into(),
            ));
        }
        for input in &self.inputs {
            if let Source::GradOf(v) = input.source {
                let grad = self.variables[v].cell.upgrade().and_then(|c| c.grad_cell());
                // A gradient `backward` stored outside the step is still pending: computed
                // now, as the uncaptured step's realization would (the same bits).
                if let Some(g) = &grad {
                    Tensor::from_cell(g.clone()).realize();
                }
                let has = grad.is_some();
                if !has {
                    return Err(Refused::Stale(format!(
                        "the gradient of the tensor made at {} that the step applies is gone \
                         (zero_grad) or not computed",
                        self.variables[v].origin
                    )));
                }
            }
        }
        Ok(())
    }

    /// Runs the step on `args` (realized, of the captured shapes and strides; checked with
    /// [`Captured::check`] first); its outputs are left in `scratch.returned`.
    pub(crate) fn replay(
        &mut self,
        args: &[&Tensor],
        scratch: &mut ReplayScratch,
    ) -> Result<(), Refused> {
        // Bind first: a source laid out otherwise than when traced stops the replay before
        // the host work has advanced anything.
        scratch.bound.clear();
        for input in &self.inputs {
            if let Source::Host(k) = input.source {
                let HostWork::Value { value, .. } = &self.work[k] else {
                    unreachable!("host inputs are values")
                };
                // A host value is compact from offset 0; the input may view it elsewhere.
                let offset = usize::try_from(input.offset_delta).expect("view offset");
                scratch.bound.push((value.buffer.clone(), offset));
                continue;
            }
            let node = source_node(&self.variables, &input.source, args);
            let value = node.value().expect("bound values are realized");
            // Arguments were checked against the signature; constants and host values do not
            // change. A variable (or gradient) may have a new value of another layout.
            let checked = matches!(input.source, Source::Arg(_) | Source::Constant { .. });
            if !checked && !fits(&value.layout, &input.source_shape, &input.source_strides) {
                scratch.bound.clear();
                return Err(Refused::Stale(format!(
                    "a value the step reads is laid out otherwise (shape {:?}, strides {:?}) \
                     than when captured (strides {:?})",
                    value.layout.shape, value.layout.strides, input.source_strides
                )));
            }
            let offset = value.layout.offset as isize + input.offset_delta;
            scratch.bound.push((
                value.buffer.clone(),
                usize::try_from(offset).expect("view offset"),
            ));
        }
        // Host values hold their buffers (bound above only as clones): drop the clones of
        // host buffers so they can be refilled in place.
        for (input, bound) in self.inputs.iter().zip(scratch.bound.iter_mut()) {
            if matches!(input.source, Source::Host(_)) {
                bound.0 = empty();
            }
        }
        for k in 0..self.work.len() {
            let (done, rest) = self.work.split_at_mut(k);
            let (value, fill) = match &mut rest[0] {
                HostWork::Value { value, fill, .. } => (value, fill),
                HostWork::Action(action) => {
                    action();
                    continue;
                }
            };
            // The tensor a host value is made from, as it is now: a host value made earlier in
            // this replay (refilled already), or a variable's, argument's or constant's value.
            let source = match &self.host_sources[k] {
                Some(Source::Host(j)) => match &done[*j] {
                    HostWork::Value { value, .. } => Some(Err(value)),
                    HostWork::Action(_) => unreachable!("host sources are values"),
                },
                Some(source) => Some(Ok(source_node(&self.variables, source, args))),
                None => None,
            };
            if Arc::get_mut(&mut value.buffer).is_none() {
                // Still held (by the traced step's graph): refill a copy.
                let copy = match &*value.buffer {
                    Buffer::F32(v) => Buffer::F32(v.clone()),
                    Buffer::I64(v) => Buffer::I64(v.clone()),
                };
                value.buffer = Arc::new(copy);
            }
            let buffer = Arc::get_mut(&mut value.buffer).expect("unique");
            let from = match &source {
                Some(Ok(node)) => node.value(),
                Some(Err(value)) => Some(*value),
                None => None,
            };
            if let Err(message) = fill(from, buffer) {
                scratch.bound.clear();
                return Err(Refused::Invalid(message));
            }
        }
        for (input, bound) in self.inputs.iter().zip(scratch.bound.iter_mut()) {
            if let Source::Host(k) = input.source {
                if let HostWork::Value { value, .. } = &self.work[k] {
                    bound.0 = value.buffer.clone();
                }
            }
        }
        let plan = &self.program.plan;
        self.give_buffers(scratch);
        let bound = &scratch.bound;
        let inputs = &self.inputs;
        let input = |slot: usize| {
            let i = inputs
                .binary_search_by_key(&slot, |b| b.slot)
                .expect("every input slot is bound");
            bound[i].clone()
        };
        let ran = execute(&self.program, None, &self.host_steps, input, &scratch.given)
            .unwrap_or_else(|e| panic!("replay of a captured step failed: {e}"));
        for (d, (at, delivery)) in self.deliveries.iter().enumerate() {
            let shape = &plan.nodes[*at].shape;
            match delivery {
                Delivery::Var { v, update } => {
                    let var = &mut self.variables[*v];
                    let in_place = scratch.reused[d]
                        .as_ref()
                        .is_some_and(|b| ran.stored_in(plan, *at, b));
                    if !in_place {
                        let cell = var.cell.upgrade().expect("checked");
                        cell.replace_value(ran.value(plan, *at, shape), *update, update.at);
                        var.expected = cell.current_id();
                    }
                }
                Delivery::Grad(params) => {
                    let in_place = scratch.reused[d]
                        .as_ref()
                        .is_some_and(|b| ran.stored_in(plan, *at, b));
                    if !in_place {
                        let first = self.variables[params[0]].cell.upgrade().expect("checked");
                        let origin = first.current().origin();
                        first.store_grad(ran.value(plan, *at, shape), origin);
                        // Parameters that shared the gradient share the new one.
                        for &p in &params[1..] {
                            if let Some(cell) = self.variables[p].cell.upgrade() {
                                cell.share_grad_of(&first);
                            }
                        }
                    }
                }
                Delivery::Nowhere => {}
            }
        }
        scratch.returned.clear();
        for r in &self.returns {
            let t = match *r {
                Returned::Value(at) => {
                    Tensor::from_value(ran.value(plan, at, &plan.nodes[at].shape))
                }
                Returned::Variable(v) => {
                    Tensor::from_cell(self.variables[v].cell.upgrade().expect("checked"))
                }
                Returned::Grad(v) => self.variables[v]
                    .cell
                    .upgrade()
                    .and_then(|c| c.grad_cell())
                    .map(Tensor::from_cell)
                    .expect("the step stores this gradient"),
            };
            scratch.returned.push(Some(t));
        }
        ran.finish(&self.program);
        scratch.bound.clear();
        scratch.given.clear();
        scratch.reused.clear();
        bump(|s| s.steps_replayed += 1);
        Ok(())
    }

    /// Decides which output slots write into an existing buffer: a variable's or gradient's
    /// previous value when nothing but the variable holds it and the program does not read
    /// it (else a new buffer, as an uncaptured step would make).
    fn give_buffers(&self, scratch: &mut ReplayScratch) {
        let plan = &self.program.plan;
        scratch.given.clear();
        scratch.reused.clear();
        scratch.reused.resize(self.deliveries.len(), None);
        self.donate(scratch);
        for (d, (at, delivery)) in self.deliveries.iter().enumerate() {
            if scratch.reused[d].is_some() {
                continue;
            }
            let node: Option<NodeRef> = match delivery {
                Delivery::Var { v, .. } => self.variables[*v].cell.upgrade().map(|c| c.current()),
                Delivery::Grad(params) => self.variables[params[0]]
                    .cell
                    .upgrade()
                    .and_then(|c| c.grad_cell())
                    // Held by its parameters only (and `grad_cell`'s clone): no handle on the
                    // old gradient can see it overwritten.
                    .filter(|g| Rc::strong_count(g) == params.len() + 1)
                    .map(|g| g.current()),
                _ => None,
            };
            let Some(node) = node else { continue };
            let Some(access) = plan.access[*at].as_ref() else {
                continue;
            };
            let slot = access.slot;
            let s = &plan.slots[slot];
            if s.kind != SlotKind::Owned
                || s.elem != Elem::F32
                || self.program.host_written[slot]
                || self.program.host_read[slot]
                || scratch.given.iter().any(|(g, _)| *g == slot)
            {
                continue;
            }
            // The node is held by the variable and by `node` here; its value by the node.
            let Some(value) = node.value() else { continue };
            let unique = Rc::strong_count(&node) == 2 && Arc::strong_count(&value.buffer) == 1;
            if !unique
                || !value.layout.is_contiguous()
                || value.layout.offset != 0
                || value.buffer.len() != s.len
                || !matches!(*value.buffer, Buffer::F32(_))
            {
                continue;
            }
            scratch.given.push((slot, value.buffer.clone()));
            scratch.reused[d] = Some(value.buffer.clone());
        }
        scratch.given.sort_unstable_by_key(|(slot, _)| *slot);
    }
}

impl Captured {
    /// Takes the variables' current values as what a replay must find: called after the
    /// step itself (a trace or another capture's replay) updated them.
    pub(crate) fn expect_current(&mut self) {
        for v in &mut self.variables {
            if let Some(cell) = v.cell.upgrade() {
                v.expected = cell.current_id();
            }
        }
    }

    /// The donations that are safe in this replay (see [`super::bindings::Donor`]): the
    /// variable's old value is held by the variable alone (its node by the variable, its
    /// buffer by the node and this replay's bindings), compact, of the new value's length.
    fn donate(&self, scratch: &mut ReplayScratch) {
        let plan = &self.program.plan;
        for (d, donor) in self.donors.iter().enumerate() {
            let (Some(donor), (at, Delivery::Var { v, .. })) = (donor, &self.deliveries[d]) else {
                continue;
            };
            let Some(cell) = self.variables[*v].cell.upgrade() else {
                continue;
            };
            let node = cell.current();
            let Some(value) = node.value() else { continue };
            let buffer = &scratch.bound[donor.input].0;
            let out = plan.access[*at].as_ref().expect("stored").slot;
            if Rc::strong_count(&node) != 2
                || !Arc::ptr_eq(buffer, &value.buffer)
                || Arc::strong_count(buffer) != 1 + donor.bindings
                || value.layout.offset != 0
                || !value.layout.is_contiguous()
                || buffer.len() != plan.slots[out].len
                || !matches!(**buffer, Buffer::F32(_))
            {
                continue;
            }
            scratch.given.push((out, buffer.clone()));
            scratch.reused[d] = Some(buffer.clone());
        }
    }
}

/// The node `source` (not a host value) denotes now (checked: variables are alive).
fn source_node(variables: &[Variable], source: &Source, args: &[&Tensor]) -> NodeRef {
    match source {
        Source::Arg(i) => args[*i].node(),
        Source::Var(v) => variables[*v].cell.upgrade().expect("checked").current(),
        Source::GradOf(v) => variables[*v]
            .cell
            .upgrade()
            .and_then(|c| c.grad_cell())
            .expect("checked")
            .current(),
        Source::Constant { node, .. } => node.clone(),
        Source::Host(_) => unreachable!("host values are bound from the host work"),
    }
}

/// A placeholder buffer for a binding whose buffer is being refilled.
fn empty() -> Arc<Buffer> {
    thread_local! {
        static EMPTY: Arc<Buffer> = Arc::new(Buffer::F32(Vec::new()));
    }
    EMPTY.with(Arc::clone)
}
