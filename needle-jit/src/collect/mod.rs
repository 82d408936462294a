//! Stage 1, collect: the pending graph as the JIT sees it — its nodes in execution order and
//! its structural key.
//!
//! Receives the nodes whose values the caller asked for; hands on a [`Graph`]: the pending
//! ancestors (and the realized tensors they read, as inputs) in execution order, their
//! inputs by position, and the key the run stage looks programs up by.
//!
//! Two realizations with equal keys run the same compiled program: the key holds every node's
//! op (with constants by their bits), dtype, shape and inputs, and for the realized tensors the
//! graph reads (its inputs) dtype, shape and strides — never their data, buffer offsets or
//! which buffers they share, which the program takes at run time. Runtime scalars (learning
//! rates, Adam's bias corrections, dropout masks) are such inputs, so changing them never
//! recompiles. [`recompile`] says which part of the key changed when a program is compiled
//! again.

mod key;
pub mod recompile;

pub use key::node_key;

use needle_core::mark::Marking;
use needle_core::node::NodeRef;
use needle_core::walk::topo_nodes;
use rustc_hash::FxHashMap;

/// A pending graph, ready to be keyed, planned and run.
pub struct Graph {
    /// Realized inputs (first seen) and pending nodes, each after everything it reads.
    pub nodes: Vec<NodeRef>,
    /// The inputs' positions of every node, node after node (see [`Graph::inputs`]).
    input_list: Vec<usize>,
    /// Where each node's inputs start in `input_list` (one more entry than nodes).
    input_starts: Vec<usize>,
    /// Per node: whether the caller asked for its value.
    pub wanted: Vec<bool>,
    /// Per node: whether it is a realized tensor the program reads.
    pub is_input: Vec<bool>,
    /// Per node: how many times the graph's nodes list it as an input (each holds a
    /// reference; the runtime compares with the reference count to tell whether anything
    /// outside the graph holds the node).
    pub uses: Vec<u32>,
    /// For a captured step's final realization: each input that is a view resolved here,
    /// with the realized node it views (a captured step binds the view's source).
    pub view_sources: Vec<(usize, NodeRef)>,
    /// The structural key.
    pub key: Vec<u64>,
    /// Where each node's part of `key` starts (to report which node changed on a recompile).
    pub key_starts: Vec<usize>,
}

/// Node positions during collection: marks on the nodes, or (when another traversal holds
/// this thread's marking) a table.
enum Positions {
    Marks(Marking),
    Table(FxHashMap<u64, usize>),
}

impl Positions {
    fn get(&self, node: &NodeRef) -> Option<usize> {
        match self {
            Positions::Marks(m) => m.get(node).map(|p| p as usize),
            Positions::Table(t) => t.get(&node.id()).copied(),
        }
    }

    fn set(&mut self, node: &NodeRef, at: usize) {
        match self {
            Positions::Marks(m) => m.set(node, u32::try_from(at).expect("graph of < 2^32 nodes")),
            Positions::Table(t) => {
                t.insert(node.id(), at);
            }
        }
    }
}

impl Graph {
    /// Collects the pending ancestors of `outputs` and keys them.
    pub fn collect(outputs: &[NodeRef], checked: bool) -> Graph {
        let order = topo_nodes(outputs, |n| !n.is_realized());
        let capacity = order.len() + 16;
        let mut graph = Graph {
            nodes: Vec::with_capacity(capacity),
            input_list: Vec::with_capacity(capacity * 2),
            input_starts: Vec::with_capacity(capacity + 1),
            wanted: Vec::with_capacity(capacity),
            is_input: Vec::with_capacity(capacity),
            uses: Vec::with_capacity(capacity),
            view_sources: Vec::new(),
            key: Vec::with_capacity(order.len() * 8),
            key_starts: Vec::with_capacity(capacity),
        };
        let tracing = needle_core::capture::finishing();
        graph.input_starts.push(0);
        graph.key.push(checked as u64);
        let mut position = match Marking::begin() {
            Some(m) => Positions::Marks(m),
            None => Positions::Table(FxHashMap::default()),
        };
        // This node's input positions (inputs seen first here are pushed as nodes of their
        // own before it, so its list is appended once they are).
        let mut own: Vec<usize> = Vec::with_capacity(4);
        for node in order {
            // A view of a realized tensor (a batch sliced from a dataset, a transposed weight)
            // is resolved now: it becomes an input whose offset the program takes at run time,
            // so slicing at a new position does not change the key.
            let is_view = node.op().aliases_input(node.num_inputs());
            if is_view && node.with_inputs(|inputs| inputs.iter().all(|i| i.is_realized())) {
                // Taken before `set_value`, which may release the view's inputs.
                let source = tracing.then(|| node.input(0));
                node.set_value(needle_core::interp::evaluate(&node));
                let at = graph.push_input(node.clone());
                if let Some(source) = source {
                    graph.view_sources.push((at, source));
                }
                position.set(&node, at);
                continue;
            }
            own.clear();
            node.with_inputs(|inputs| {
                for input in inputs {
                    let at = match position.get(input) {
                        Some(at) => at,
                        None => {
                            let at = graph.push_input(input.clone());
                            position.set(input, at);
                            at
                        }
                    };
                    own.push(at);
                }
            });
            let at = graph.nodes.len();
            position.set(&node, at);
            graph.key_starts.push(graph.key.len());
            key::op_key(node.op(), &mut graph.key);
            key::push_shape(&mut graph.key, node.dtype(), node.shape());
            graph.key.push(own.len() as u64);
            graph.key.extend(own.iter().map(|&i| i as u64));
            graph.input_list.extend_from_slice(&own);
            for &i in &own {
                graph.uses[i] += 1;
            }
            graph.input_starts.push(graph.input_list.len());
            graph.nodes.push(node);
            graph.wanted.push(false);
            graph.is_input.push(false);
            graph.uses.push(0);
        }
        for out in outputs {
            if let Some(at) = position.get(out) {
                if !graph.wanted[at] {
                    graph.wanted[at] = true;
                    graph.key.push(u64::MAX - at as u64);
                }
            }
        }
        graph
    }

    fn push_input(&mut self, node: NodeRef) -> usize {
        self.key_starts.push(self.key.len());
        self.key.push(0);
        key::push_shape(&mut self.key, node.dtype(), node.shape());
        let layout = &node.value().expect("graph inputs are realized").layout;
        self.key.extend(layout.strides.iter().map(|&s| s as u64));
        self.nodes.push(node);
        self.input_starts.push(self.input_list.len());
        self.wanted.push(false);
        self.is_input.push(true);
        self.uses.push(0);
        self.nodes.len() - 1
    }

    /// The positions of node `i`'s inputs.
    pub fn inputs(&self, i: usize) -> &[usize] {
        &self.input_list[self.input_starts[i]..self.input_starts[i + 1]]
    }

    /// The part of the key that belongs to node `i`.
    pub fn node_key(&self, i: usize) -> &[u64] {
        key::node_key(&self.key, &self.key_starts, i)
    }
}
