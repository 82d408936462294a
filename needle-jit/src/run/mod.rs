//! Stage 4, run: the backend entry — collect, look the program up (compiling it on a miss),
//! bind buffers and run it.
//!
//! Receives the outputs a realization asks for; hands back their values (set on the nodes).
//! Files in the order a realization meets them: [`cache`] (programs by structural key,
//! bounded) → [`program`] (compiling a plan into a program) → [`tier`] (machine code
//! generated in the background while the interpreter runs) → [`bind`] (argument block,
//! output buffers from [`buffers`], in-place outputs from [`donation`]) → [`host`] (the steps
//! generated code hands back to Rust: matmuls and interpreter nodes).

pub mod bind;
pub mod buffers;
pub mod cache;
pub mod donation;
pub mod host;
pub mod program;
#[cfg(test)]
mod tests;
pub mod tier;
pub(crate) mod traced;

use std::rc::Rc;

use needle_core::backend::{Backend, BackendError};
use needle_core::node::NodeRef;

use crate::collect::Graph;
use crate::config::checked;
use crate::stats::bump;
use cache::CACHE;
use program::{compile_program, LAST};

/// The Cranelift backend (see the crate documentation).
pub struct JitBackend;

impl Backend for JitBackend {
    fn name(&self) -> &'static str {
        "jit"
    }

    fn realize(&self, outputs: &[NodeRef]) -> Result<(), BackendError> {
        let checked = checked();
        let graph = Graph::collect(outputs, checked);
        let cached = CACHE.with(|c| c.borrow_mut().get(&graph.key).cloned());
        let (program, planned_now) = match cached {
            Some(p) => {
                bump(|s| s.cache_hits += 1);
                (p, false)
            }
            None => {
                let p = Rc::new(compile_program(&graph, checked)?);
                let evicted = CACHE.with(|c| c.borrow_mut().insert(graph.key.clone(), p.clone()));
                if evicted.is_some() {
                    bump(|s| s.evictions += 1);
                }
                (p, true)
            }
        };
        // The realization that started a background compile always runs in the interpreter:
        // whether a small program's code is already done by then depends on the load, and
        // the first step's stats (and debug output) should not.
        let interpret_now = planned_now && program.compiling();
        if needle_core::capture::finishing() {
            traced::record(&program, &graph);
        }
        let result = if !interpret_now && program.code_ready()? {
            bind::run(&program, &graph)
        } else {
            bump(|s| s.interpreted_runs += 1);
            program.interpreted.set(program.interpreted.get() + 1);
            needle_core::interp::Interpreter.realize(outputs)
        };
        LAST.with(|l| *l.borrow_mut() = Some(program));
        result
    }
}
