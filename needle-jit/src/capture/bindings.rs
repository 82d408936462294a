//! What a traced call of a step becomes: the program, where each of its inputs comes from at
//! a replay, and where each value it computes goes.
//!
//! Built from the final realization of a traced call ([`crate::run::traced`]) and from the
//! host work needle-core saw during the call ([`needle_core::capture::Trace`]). A node the
//! program read is classified by what it is a view of (its *source*): an argument of the
//! call, a host value the library filled (a learning rate, a dropout mask), a variable (a
//! tensor handle that outlives the call: parameters, optimizer state, running statistics —
//! a replay reads the variable's value at that time), or a constant (a value nothing can
//! change: its node is kept). A value the program delivered goes back to where the call put
//! it: a returned tensor, a variable's new value, a parameter's gradient.

use std::panic::Location;
use std::rc::{Rc, Weak};

use needle_core::capture::{HostWork, Trace};
use needle_core::layout::Layout;
use needle_core::node::{Node, NodeRef, TensorCell, Update};
use needle_core::Tensor;

use crate::run::host::HostStep;
use crate::run::program::Program;
use crate::run::traced::TracedRun;
use crate::schedule::donation::donation_sites;
use crate::schedule::{Elem, SlotKind};

/// Where a program input's value comes from at a replay.
#[derive(Clone)]
pub(crate) enum Source {
    /// Argument `i` of the call.
    Arg(usize),
    /// The host value made by entry `k` of the capture's host work.
    Host(usize),
    /// Variable `v` of the capture's table: its value when the replay starts.
    Var(usize),
    /// The gradient stored on variable `v`.
    GradOf(usize),
    /// A fixed value. `made_in_step` when the call created it (from host data the closure
    /// computed: compared between the two traces that make a capture).
    Constant { node: NodeRef, made_in_step: bool },
}

/// One input slot of the program.
#[derive(Clone)]
pub(crate) struct InputBinding {
    pub(crate) slot: usize,
    pub(crate) source: Source,
    /// The source's shape and strides when traced: a replay binds only a value laid out the
    /// same way (the program was compiled for those strides).
    pub(crate) source_shape: Vec<usize>,
    pub(crate) source_strides: Vec<isize>,
    /// The slot's offset minus the source's (a view of the source at a fixed distance).
    pub(crate) offset_delta: isize,
}

/// Where a returned tensor comes from at a replay.
#[derive(Clone, Copy)]
pub(crate) enum Returned {
    /// A handle of variable `v` (the closure returned the variable itself).
    Variable(usize),
    /// The gradient of variable `v`.
    Grad(usize),
    /// The value the program computes at this graph position.
    Value(usize),
}

/// Where a value the program computes goes.
#[derive(Clone)]
pub(crate) enum Delivery {
    /// The new value of variable `v`, given by `update`.
    Var { v: usize, update: Update },
    /// The gradient of the variables listed (several when they share one gradient, as the
    /// two operands of an addition do after `backward`), the first holding it.
    Grad(Vec<usize>),
    /// Computed and needed by no one afterwards (a variable assigned twice in the step:
    /// its first new value).
    Nowhere,
}

/// A variable the step reads or updates, and the node it must denote when a replay starts
/// (anything else means it was assigned outside the step).
pub(crate) struct Variable {
    pub(crate) cell: Weak<TensorCell>,
    pub(crate) expected: u64,
    /// Where it was made, for messages.
    pub(crate) origin: &'static Location<'static>,
    /// Whether a replay checks that it denotes `expected` (not for a gradient the step reads
    /// through its parameter, which is a new variable after every `backward`).
    pub(crate) watched: bool,
}

/// A traced call, ready to be replayed.
pub(crate) struct Captured {
    pub(crate) program: Rc<Program>,
    pub(crate) inputs: Vec<InputBinding>,
    /// Per plan-wanted position: its graph position and where it goes.
    pub(crate) deliveries: Vec<(usize, Delivery)>,
    pub(crate) variables: Vec<Variable>,
    /// The host work to repeat, in order.
    pub(crate) work: Vec<HostWork>,
    /// Per host work entry: where the tensor a host value is made from comes from.
    pub(crate) host_sources: Vec<Option<Source>>,
    /// Per returned tensor, where it comes from.
    pub(crate) returns: Vec<Returned>,
    /// Per delivery: the input its value may be written over (see [`Donor`]).
    pub(crate) donors: Vec<Option<Donor>>,
    /// The program's interpreter steps (padding, concatenation, casts).
    pub(crate) host_steps: Vec<HostStep>,
    /// Variables the closure found without a gradient and the step gives none: a replay is
    /// stale once one has a gradient (the closure's optimizer would then update it).
    pub(crate) missing_grads: Vec<Weak<TensorCell>>,
}

/// A variable's new value written over its old one: decided here from the plan's structure
/// (the step that writes the new value reads the old one only at the element it writes, and
/// no later step reads it); a replay checks that nothing but the variable holds the old
/// value. Unlike an uncaptured run, which may pair an output with any dead input, the pair
/// is always the variable's own old and new value, so the variable keeps its node.
pub(crate) struct Donor {
    /// The input binding of the old value.
    pub(crate) input: usize,
    /// How many input bindings read the variable (each holds its buffer during a replay).
    pub(crate) bindings: usize,
}

/// Why a call cannot be captured (the step then runs uncaptured, every call).
pub(crate) type NotCapturable = String;

/// Builds the capture of a traced call with arguments `args` that returned `outputs`.
pub(crate) fn bind(
    traced: TracedRun,
    trace: Trace,
    args: &[&Tensor],
    outputs: &[Tensor],
) -> Result<Captured, NotCapturable> {
    let program = traced.program;
    let mut variables: Vec<Variable> = Vec::new();
    let mut inputs = Vec::with_capacity(traced.inputs.len());
    for input in &traced.inputs {
        let source_node = &input.source;
        let value = source_node.value().expect("inputs are realized");
        let slot_value = input.node.value().expect("inputs are realized");
        let source = classify(source_node, args, &trace, &mut variables);
        inputs.push(InputBinding {
            slot: input.slot,
            source,
            source_shape: value.layout.shape.clone(),
            source_strides: value.layout.strides.clone(),
            offset_delta: slot_value.layout.offset as isize - value.layout.offset as isize,
        });
    }
    let host_sources = trace
        .work
        .iter()
        .map(|w| match w {
            HostWork::Value {
                from: Some((id, from)),
                ..
            } => {
                let host = trace
                    .work
                    .iter()
                    .position(|w| matches!(w, HostWork::Value { id: h, .. } if h == id));
                match (host, from.upgrade()) {
                    // Labels drawn inside the step (and gone with its graph).
                    (Some(j), _) => Ok(Some(Source::Host(j))),
                    (None, Some(node)) => Ok(Some(classify(&node, args, &trace, &mut variables))),
                    (None, None) => {
                        Err("a host value is made from a tensor the step dropped".to_string())
                    }
                }
            }
            _ => Ok(None),
        })
        .collect::<Result<Vec<_>, _>>()?;
    let is_output_cell = |cell: &Rc<TensorCell>| outputs.iter().any(|o| Rc::ptr_eq(o.cell(), cell));
    let mut deliveries = Vec::with_capacity(traced.wanted.len());
    for (at, weak) in &traced.wanted {
        let Some(node) = weak.upgrade() else {
            deliveries.push((*at, Delivery::Nowhere));
            continue;
        };
        let returned = outputs.iter().any(|o| Rc::ptr_eq(&o.node(), &node));
        let owner = node.owner().filter(|cell| cell.current_id() == node.id());
        let delivery = match owner {
            Some(cell) => {
                match grad_holders(&variables, &Rc::downgrade(&cell)) {
                    params if !params.is_empty() => Delivery::Grad(params),
                    _ if trace.assignments.contains(&node.id()) => {
                        let update = traced
                            .inputs
                            .iter()
                            .find(|i| i.source.owner().is_some_and(|c| Rc::ptr_eq(&c, &cell)))
                            .and_then(|i| i.source.superseded_by())
                            .unwrap_or(Update {
                                by: "assign",
                                at: node.origin(),
                            });
                        Delivery::Var {
                            v: variable_of(&mut variables, &cell, node.id(), node.origin()),
                            update,
                        }
                    }
                    // A value the closure returns: delivered through `returns` below.
                    _ if returned && is_output_cell(&cell) => Delivery::Nowhere,
                    _ => return Err(held_outside(&node)),
                }
            }
            None if returned => Delivery::Nowhere,
            // `weak.upgrade()` is the one reference the program's record accounts for.
            None if Rc::strong_count(&node) > 1 => return Err(held_outside(&node)),
            None => Delivery::Nowhere,
        };
        deliveries.push((*at, delivery));
    }
    // Gradients the step reads (a step that only applies gradients stored outside it): read
    // through their parameter, whose gradient is a new variable after every `backward`.
    for input in &mut inputs {
        if let Source::Var(v) = input.source {
            let holders = grad_holders(&variables, &variables[v].cell);
            if let [p, ..] = holders[..] {
                if holders.len() > 1 {
                    return Err("it applies a gradient that several tensors share, stored \
                                outside the step (which of them a replay should read is not \
                                known)"
                        .into());
                }
                input.source = Source::GradOf(p);
                variables[v].watched = false;
            }
        }
    }
    let returns = outputs
        .iter()
        .enumerate()
        .map(|(j, o)| returned_from(j, o, &traced.wanted, &variables))
        .collect::<Result<Vec<_>, _>>()?;
    let donors = deliveries
        .iter()
        .map(|(at, delivery)| match delivery {
            Delivery::Var { v, .. } => donor(&program, &inputs, *at, *v),
            _ => None,
        })
        .collect();
    let given_grads: Vec<Weak<TensorCell>> = deliveries
        .iter()
        .filter_map(|(_, d)| match d {
            Delivery::Grad(params) => Some(params.iter().map(|&p| variables[p].cell.clone())),
            _ => None,
        })
        .flatten()
        .collect();
    let missing_grads = trace
        .missing_grads
        .iter()
        .filter(|m| !given_grads.iter().any(|g| g.ptr_eq(m)))
        .cloned()
        .collect();
    Ok(Captured {
        missing_grads,
        host_steps: traced.host_steps,
        donors,
        program,
        inputs,
        deliveries,
        variables,
        work: trace.work,
        host_sources,
        returns,
    })
}

/// Where output `j` of the closure comes from at a replay: the variable it is a handle of
/// (returned as that handle, as the closure returns it), the gradient of a variable, or a
/// value the program computes.
fn returned_from(
    j: usize,
    output: &Tensor,
    wanted: &[(usize, Weak<Node>)],
    variables: &[Variable],
) -> Result<Returned, NotCapturable> {
    let cell = Rc::downgrade(output.cell());
    // Not a gradient read through its parameter: that is a new variable after every
    // `backward` (returned as the parameter's gradient below).
    if let Some(v) = variables
        .iter()
        .position(|v| v.watched && v.cell.ptr_eq(&cell))
    {
        return Ok(Returned::Variable(v));
    }
    if let Some(&v) = grad_holders(variables, &cell).first() {
        return Ok(Returned::Grad(v));
    }
    let node = output.node();
    match wanted
        .iter()
        .find(|(_, w)| w.upgrade().is_some_and(|n| Rc::ptr_eq(&n, &node)))
    {
        Some((at, _)) => Ok(Returned::Value(*at)),
        None => Err(format!(
            "output {j} ({:?}) is not computed by the step (it was a value before the call: \
             an argument or a constant); return only values the step computes",
            output.shape()
        )),
    }
}

/// The input binding whose buffer variable `v`'s new value (graph position `at`) may be
/// written over, if the plan's structure allows it (see [`Donor`]).
fn donor(program: &Program, inputs: &[InputBinding], at: usize, v: usize) -> Option<Donor> {
    let plan = &program.plan;
    let out = plan.access[at].as_ref()?.slot;
    let slot = &plan.slots[out];
    if slot.kind != SlotKind::Owned || slot.elem != Elem::F32 || program.host_written[out] {
        return None;
    }
    let (step, site) = donation_sites(plan)
        .into_iter()
        .find(|(_, site)| site.outputs.contains(&out))?;
    let reads: Vec<usize> = (0..inputs.len())
        .filter(|&i| matches!(inputs[i].source, Source::Var(w) if w == v))
        .collect();
    let all_read_in_time = reads.iter().all(|&i| {
        let s = inputs[i].slot;
        !program.host_read[s]
            && match plan.last_read[s] {
                Some(last) if last > step => false,
                Some(last) if last == step => site.identity_inputs.contains(&s),
                _ => true,
            }
    });
    if !all_read_in_time {
        return None;
    }
    let input = reads.iter().copied().find(|&i| {
        let s = inputs[i].slot;
        site.identity_inputs.contains(&s)
            && plan.slots[s].elem == Elem::F32
            && plan.slots[s].len == slot.len
            && plan.last_read[s] == Some(step)
            && inputs[i].offset_delta == 0
    })?;
    Some(Donor {
        input,
        bindings: reads.len(),
    })
}

/// The variables whose gradient is the variable `grad` (several when they share it, as the
/// two operands of an addition do after `backward`).
fn grad_holders(variables: &[Variable], grad: &Weak<TensorCell>) -> Vec<usize> {
    (0..variables.len())
        .filter(|&v| {
            variables[v]
                .cell
                .upgrade()
                .and_then(|p| p.grad_cell())
                .is_some_and(|g| Weak::ptr_eq(&Rc::downgrade(&g), grad))
        })
        .collect()
}

/// Why a step whose computed `node` is held outside it cannot be captured.
fn held_outside(node: &NodeRef) -> NotCapturable {
    format!(
        "a value it computes ({} {:?}, {}) is held outside the step, where a replay cannot \
         deliver it; return it from the closure instead",
        node.op().name(),
        node.shape(),
        node.describe_origin()
    )
}

/// Where the realized `node` comes from at a replay: an argument, a host value, a variable
/// (a handle that outlives the call and denotes the node, or a new value the call gave it),
/// or a constant.
fn classify(
    node: &NodeRef,
    args: &[&Tensor],
    trace: &Trace,
    variables: &mut Vec<Variable>,
) -> Source {
    // A detached copy of a value denotes what that value's variable denotes at each call.
    if let Some(of) = trace
        .aliases
        .iter()
        .find(|(id, _)| *id == node.id())
        .map(|(_, of)| of.clone())
    {
        return classify(&of, args, trace, variables);
    }
    if let Some(i) = args.iter().position(|a| Rc::ptr_eq(&a.node(), node)) {
        return Source::Arg(i);
    }
    if let Some(k) = trace
        .work
        .iter()
        .position(|w| matches!(w, HostWork::Value { id, .. } if *id == node.id()))
    {
        return Source::Host(k);
    }
    match node.owner() {
        Some(cell) if cell.current_id() == node.id() || cell.current_id() >= trace.first_node => {
            Source::Var(variable_of(
                variables,
                &cell,
                cell.current_id(),
                node.origin(),
            ))
        }
        _ => Source::Constant {
            node: node.clone(),
            made_in_step: node.id() >= trace.first_node,
        },
    }
}

/// The index of `cell` in `variables`, added (denoting `expected`, made at `origin`) when
/// new.
fn variable_of(
    variables: &mut Vec<Variable>,
    cell: &Rc<TensorCell>,
    expected: u64,
    origin: &'static Location<'static>,
) -> usize {
    let weak = Rc::downgrade(cell);
    match variables.iter().position(|v| v.cell.ptr_eq(&weak)) {
        Some(v) => v,
        None => {
            variables.push(Variable {
                cell: weak,
                expected,
                origin,
                watched: true,
            });
            variables.len() - 1
        }
    }
}

impl Captured {
    /// Whether `self` (the later trace) repeats `earlier`: the same program, inputs from the
    /// same places, values delivered to the same places, the same host work — and the
    /// constants the call made from host data hold the same values. When it does not, the
    /// reason.
    pub(crate) fn repeats(&self, earlier: &Captured) -> Result<(), String> {
        if !Rc::ptr_eq(&self.program, &earlier.program) {
            return Err("the step's graph changed between its first calls".into());
        }
        if self.work.len() != earlier.work.len()
            || self
                .work
                .iter()
                .zip(&earlier.work)
                .any(|(a, b)| std::mem::discriminant(a) != std::mem::discriminant(b))
        {
            return Err("the library's host work differed between its first calls".into());
        }
        let host_sources_agree =
            self.host_sources
                .iter()
                .zip(&earlier.host_sources)
                .all(|(a, b)| match (a, b) {
                    (None, None) => true,
                    (Some(x), Some(y)) => self.same_source(x, earlier, y),
                    _ => false,
                });
        if !host_sources_agree {
            return Err("the library's host values came from other tensors".into());
        }
        for (a, b) in self.inputs.iter().zip(&earlier.inputs) {
            let same = self.same_source(&a.source, earlier, &b.source);
            if !same {
                let what = match &a.source {
                    Source::Constant {
                        node,
                        made_in_step: true,
                    } => format!(
                        "the tensor made at {} inside the step holds other values at each \
                         call (computed on the host); pass it as an argument of the step",
                        node.origin()
                    ),
                    _ => format!("input slot {} comes from elsewhere at each call", a.slot),
                };
                return Err(what);
            }
        }
        let same_variable =
            |v: usize, w: usize| self.variables[v].cell.ptr_eq(&earlier.variables[w].cell);
        let same_places = self.deliveries.len() == earlier.deliveries.len()
            && self
                .deliveries
                .iter()
                .zip(&earlier.deliveries)
                .all(|((_, a), (_, b))| match (a, b) {
                    (Delivery::Var { v, .. }, Delivery::Var { v: w, .. }) => same_variable(*v, *w),
                    (Delivery::Grad(p), Delivery::Grad(q)) => {
                        p.len() == q.len() && p.iter().zip(q).all(|(&v, &w)| same_variable(v, w))
                    }
                    (Delivery::Nowhere, Delivery::Nowhere) => true,
                    _ => false,
                });
        let same_returns = self.returns.len() == earlier.returns.len()
            && self
                .returns
                .iter()
                .zip(&earlier.returns)
                .all(|(a, b)| match (*a, *b) {
                    (Returned::Variable(v), Returned::Variable(w))
                    | (Returned::Grad(v), Returned::Grad(w)) => same_variable(v, w),
                    (Returned::Value(x), Returned::Value(y)) => x == y,
                    _ => false,
                });
        if !same_places || !same_returns {
            return Err("the step's results went to other places between its first calls".into());
        }
        Ok(())
    }
}

impl Captured {
    /// Whether `mine` (a source of `self`) and `theirs` (of `earlier`) are the same place.
    fn same_source(&self, mine: &Source, earlier: &Captured, theirs: &Source) -> bool {
        match (mine, theirs) {
            (Source::Arg(i), Source::Arg(j)) | (Source::Host(i), Source::Host(j)) => i == j,
            (Source::Var(v), Source::Var(w)) | (Source::GradOf(v), Source::GradOf(w)) => {
                self.variables[*v].cell.ptr_eq(&earlier.variables[*w].cell)
            }
            (
                Source::Constant {
                    node: x,
                    made_in_step: true,
                },
                Source::Constant {
                    node: y,
                    made_in_step: true,
                },
            ) => same_value(x, y),
            (Source::Constant { node: x, .. }, Source::Constant { node: y, .. }) => {
                Rc::ptr_eq(x, y)
            }
            _ => false,
        }
    }
}

/// Whether two realized nodes hold the same elements (bit for bit) in the same layout.
fn same_value(a: &NodeRef, b: &NodeRef) -> bool {
    let (Some(x), Some(y)) = (a.value(), b.value()) else {
        return false;
    };
    if x.layout.shape != y.layout.shape || x.buffer.dtype() != y.buffer.dtype() {
        return false;
    }
    match x.buffer.dtype() {
        needle_core::DType::F32 => {
            let (p, q) = (x.to_f32_vec(), y.to_f32_vec());
            p.iter().zip(&q).all(|(u, v)| u.to_bits() == v.to_bits())
        }
        needle_core::DType::I64 => x.to_i64_vec() == y.to_i64_vec(),
    }
}

/// The layout a source value must have for a binding made when it had `shape` and
/// `strides`.
pub(crate) fn fits(layout: &Layout, shape: &[usize], strides: &[isize]) -> bool {
    layout.shape[..] == shape[..] && layout.strides[..] == strides[..]
}
