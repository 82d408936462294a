//! Splitting a kernel's rows between the calling thread and persistent helper threads.
//!
//! A large elementwise step runs as a [`RowsFn`] over chunks of its outermost axis. The caller
//! wakes the helper threads (started once per process, one per extra core), and all of them
//! claim chunks from a shared counter until none is left; the caller then waits for them.
//!
//! Why not `rayon::join`: called from outside rayon's pool it hands the whole job to the
//! pool's workers and puts the caller to sleep, and the two workers it wakes were seen
//! (`perf record` with timestamps on the W6 child, 2-core VM) taking turns on one core for
//! milliseconds while the other core idled: the fused W6 kernel ran at 0.81x a loop on two
//! freshly spawned threads. Here the caller stays busy on its own part, so the helper it wakes
//! is placed on an idle core.
//!
//! A helper serves one step at a time; a caller that finds it busy (another thread's program
//! is running a split step) goes on without it, so concurrent programs never wait on each
//! other. Each row is computed by exactly one thread with the same code, so results do not
//! depend on who ran which chunk.

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Condvar, Mutex, OnceLock};

use crate::codegen::{RowsFn, STATUS_OK};

/// A split step as every thread sees it: the kernel, its argument block and the shared
/// counter of row chunks handed out (both as addresses: the caller waits for every thread
/// to finish before either can go away).
#[derive(Clone, Copy)]
struct Part {
    kernel: RowsFn,
    block: usize,
    rows: i64,
    chunk: i64,
    next: usize,
}

impl Part {
    /// Runs chunks of rows until none is left; returns the first non-OK status (or OK).
    fn run(self) -> u32 {
        // SAFETY: `next` is the address of the `AtomicI64` on the stack of `run_split`, which
        // returns only after every thread given this part has finished it.
        let next = unsafe { &*(self.next as *const AtomicI64) };
        let mut status = STATUS_OK;
        loop {
            let first = next.fetch_add(self.chunk, Ordering::Relaxed);
            if first >= self.rows {
                return status;
            }
            let end = (first + self.chunk).min(self.rows);
            let s = (self.kernel)(self.block as *mut u64, first, end);
            if status == STATUS_OK {
                status = s;
            }
        }
    }
}

/// What a helper is doing.
enum State {
    /// Waiting for work.
    Idle,
    /// Given a part, not started yet.
    Given(Part),
    /// Running the part it was given.
    Running,
    /// Finished, with the part's status, until its caller collects it.
    Done(u32),
}

/// A helper thread's mailbox.
struct Helper {
    state: Mutex<State>,
    /// Signalled when a part is given.
    given: Condvar,
    /// Signalled when a part is done.
    done: Condvar,
}

impl Helper {
    fn new() -> Helper {
        Helper {
            state: Mutex::new(State::Idle),
            given: Condvar::new(),
            done: Condvar::new(),
        }
    }

    /// The helper thread's loop.
    fn serve(&self) {
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        loop {
            if let State::Given(part) = *state {
                *state = State::Running;
                drop(state);
                let status = part.run();
                state = self.state.lock().unwrap_or_else(|e| e.into_inner());
                *state = State::Done(status);
                self.done.notify_all();
                continue;
            }
            state = self.given.wait(state).unwrap_or_else(|e| e.into_inner());
        }
    }

    /// Gives `part` to this helper if it is idle.
    fn try_give(&self, part: Part) -> bool {
        let Ok(mut state) = self.state.try_lock() else {
            return false;
        };
        if !matches!(*state, State::Idle) {
            return false;
        }
        *state = State::Given(part);
        self.given.notify_one();
        true
    }

    /// Waits for the part given to this helper and returns its status.
    fn collect(&self) -> u32 {
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        loop {
            if let State::Done(status) = *state {
                *state = State::Idle;
                return status;
            }
            state = self.done.wait(state).unwrap_or_else(|e| e.into_inner());
        }
    }
}

/// The process's helpers, started on first use: one per core beyond the caller's.
fn helpers() -> &'static [&'static Helper] {
    static HELPERS: OnceLock<Vec<&'static Helper>> = OnceLock::new();
    HELPERS.get_or_init(|| {
        let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
        (1..cores.max(2))
            .filter_map(|i| {
                let helper: &'static Helper = Box::leak(Box::new(Helper::new()));
                std::thread::Builder::new()
                    .name(format!("needle-jit-rows-{i}"))
                    .spawn(move || helper.serve())
                    .ok()
                    .map(|_| helper)
            })
            .collect()
    })
}

/// Chunks per thread a split step is cut into: the threads claim chunks as they go, so one
/// that runs slower (a core shared with another process, the second thread woken late) takes
/// fewer of them. Perf on the W6 child showed the halves of a fixed split finishing up to
/// 2 ms apart in a 9 ms pass.
const CHUNKS_PER_THREAD: i64 = 16;

/// Runs `kernel` over rows `0..rows` of the step whose argument block is `block`, on the
/// calling thread and every idle helper at once; returns the first non-OK status (or OK).
pub fn run_split(kernel: RowsFn, block: *mut u64, rows: i64) -> u32 {
    let helpers = helpers();
    let threads = helpers.len() as i64 + 1;
    let next = AtomicI64::new(0);
    let part = Part {
        kernel,
        block: block as usize,
        rows,
        chunk: (rows / (threads * CHUNKS_PER_THREAD)).max(1),
        next: &next as *const AtomicI64 as usize,
    };
    let mut given = [false; 64];
    if rows > 1 {
        for (g, helper) in given.iter_mut().zip(helpers) {
            *g = helper.try_give(part);
        }
    }
    let mut status = part.run();
    for (&g, helper) in given.iter().zip(helpers) {
        if g {
            let s = helper.collect();
            if status == STATUS_OK {
                status = s;
            }
        }
    }
    status
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A rows kernel that marks each row of the block it is given, counting visits.
    extern "C" fn mark_rows(block: *mut u64, first: i64, end: i64) -> u32 {
        for r in first..end {
            // SAFETY: the tests pass a block of at least `end` words and wait for every part.
            unsafe { *block.add(r as usize) += 1 };
        }
        STATUS_OK
    }

    #[test]
    fn every_row_runs_exactly_once() {
        for rows in [0i64, 1, 2, 3, 7, 64, 1001] {
            let mut block = vec![0u64; rows as usize];
            assert_eq!(run_split(mark_rows, block.as_mut_ptr(), rows), STATUS_OK);
            assert!(block.iter().all(|&v| v == 1), "rows {rows}: {block:?}");
        }
    }

    #[test]
    fn concurrent_callers_each_get_all_their_rows() {
        std::thread::scope(|s| {
            for _ in 0..4 {
                s.spawn(|| {
                    for _ in 0..200 {
                        let mut block = vec![0u64; 257];
                        run_split(mark_rows, block.as_mut_ptr(), 257);
                        assert!(block.iter().all(|&v| v == 1));
                    }
                });
            }
        });
    }

    extern "C" fn fail_after_row_zero(_: *mut u64, first: i64, _: i64) -> u32 {
        if first > 0 {
            7
        } else {
            STATUS_OK
        }
    }

    #[test]
    fn a_failing_part_is_reported() {
        let mut block = [0u64; 1];
        assert_eq!(run_split(fail_after_row_zero, block.as_mut_ptr(), 10), 7);
    }
}
