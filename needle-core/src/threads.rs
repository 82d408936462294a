//! Work split by rows between the calling thread and persistent helper threads.
//!
//! Large kernels (a fused elementwise step over millions of elements, a matrix product of
//! millions of multiply-adds) run as a function over chunks of rows. [`run_chunks`] wakes
//! the helpers (started once per process, one per core beyond the caller's), and all threads
//! claim chunks from a shared counter until none is left; the caller then waits for them.
//!
//! Why not `rayon::join`: called from outside rayon's pool it hands the whole job to the
//! pool's workers and puts the caller to sleep, and the two workers it wakes were seen
//! (`perf record` with timestamps on the W6 child, 2-core VM) taking turns on one core for
//! milliseconds while the other core idled: the fused W6 kernel ran at 0.81x a loop on two
//! freshly spawned threads. Here the caller stays busy with chunks of its own, so the helper
//! it wakes is placed on an idle core, and a thread that runs slower takes fewer chunks.
//!
//! A helper serves one job at a time; a caller that finds it busy (another thread is running
//! a split job) goes on without it, so concurrent callers never wait on each other. Chunk
//! boundaries depend only on the arguments, never on which thread ran a chunk, so results
//! are the same however the work was shared.
//!
//! ```
//! use std::sync::atomic::{AtomicUsize, Ordering};
//! let sum = AtomicUsize::new(0);
//! needle_core::threads::run_chunks(1000, 10, &|start, end| {
//!     sum.fetch_add((start..end).sum::<usize>(), Ordering::Relaxed);
//!     0
//! });
//! assert_eq!(sum.into_inner(), 999 * 1000 / 2);
//! ```

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Condvar, Mutex, OnceLock};
use std::time::{Duration, Instant};

/// The function a split job runs on rows `start..end`; returns a status, 0 for success
/// ([`PANICKED`] is reserved).
pub type ChunkFn<'a> = &'a (dyn Fn(usize, usize) -> u32 + Sync);

/// The status a helper reports when a chunk panicked on it (the caller then panics too).
pub const PANICKED: u32 = u32::MAX;

/// A split job as every thread sees it.
struct Job<'a> {
    f: ChunkFn<'a>,
    rows: usize,
    chunk: usize,
    /// First row not yet claimed.
    next: AtomicUsize,
}

impl Job<'_> {
    /// Runs chunks until none is left; returns the first non-zero status (or 0).
    fn work(&self) -> u32 {
        let mut status = 0;
        loop {
            let start = self.next.fetch_add(self.chunk, Ordering::Relaxed);
            if start >= self.rows {
                return status;
            }
            let s = (self.f)(start, (start + self.chunk).min(self.rows));
            if status == 0 {
                status = s;
            }
        }
    }
}

/// What a helper is doing.
enum State {
    /// Waiting for work.
    Idle,
    /// Given a job (see [`run_chunks`] for why `'static` is sound), not started yet.
    Given(&'static Job<'static>),
    /// Running the job it was given.
    Running,
    /// Finished, with the job's status, until its caller collects it.
    Done(u32),
}

/// A helper thread's mailbox.
struct Helper {
    state: Mutex<State>,
    /// Set with a job, so that a helper spinning after its last job sees it without locking.
    pending: AtomicBool,
    /// Signalled when a job is given to a sleeping helper.
    given: Condvar,
    /// Signalled when a job is done.
    done: Condvar,
    /// The helper thread's id, once it runs (for [`placement`]).
    tid: OnceLock<i32>,
    /// The CPU this helper is pinned to, if any.
    pinned: AtomicUsize,
}

/// How long a helper keeps polling for the next job before it sleeps: a training step runs
/// its split kernels back to back, and a futex wake-up costs tens of microseconds on a VM.
const SPIN: Duration = Duration::from_micros(50);

impl Helper {
    fn new() -> Helper {
        Helper {
            state: Mutex::new(State::Idle),
            pending: AtomicBool::new(false),
            given: Condvar::new(),
            done: Condvar::new(),
            tid: OnceLock::new(),
            pinned: AtomicUsize::new(usize::MAX),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The helper thread's loop.
    fn serve(&self) {
        if let Some(tid) = placement::thread_id() {
            let _ = self.tid.set(tid);
        }
        let mut state = self.lock();
        loop {
            if let State::Given(job) = *state {
                *state = State::Running;
                self.pending.store(false, Ordering::Relaxed);
                drop(state);
                let status = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| job.work()))
                    .unwrap_or(PANICKED);
                state = self.lock();
                *state = State::Done(status);
                self.done.notify_all();
                drop(state);
                let spun = Instant::now();
                while !self.pending.load(Ordering::Acquire) && spun.elapsed() < SPIN {
                    std::hint::spin_loop();
                }
                state = self.lock();
                continue;
            }
            state = self.given.wait(state).unwrap_or_else(|e| e.into_inner());
        }
    }

    /// Gives `job` to this helper if it is idle.
    fn try_give(&self, job: &'static Job<'static>) -> bool {
        let Ok(mut state) = self.state.try_lock() else {
            return false;
        };
        if !matches!(*state, State::Idle) {
            return false;
        }
        *state = State::Given(job);
        self.pending.store(true, Ordering::Release);
        self.given.notify_one();
        true
    }

    /// Waits for the job given to this helper and returns its status.
    fn collect(&self) -> u32 {
        let mut state = self.lock();
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
        (1..cores.clamp(2, 64))
            .filter_map(|i| {
                let helper: &'static Helper = Box::leak(Box::new(Helper::new()));
                std::thread::Builder::new()
                    .name(format!("needle-rows-{i}"))
                    .spawn(move || helper.serve())
                    .ok()
                    .map(|_| helper)
            })
            .collect()
    })
}

/// Threads a split job can run on: the caller and every helper.
pub fn threads() -> usize {
    helpers().len() + 1
}

/// Runs `f` over rows `0..rows` in chunks of `chunk` rows (the last one shorter), on the
/// calling thread and every idle helper at once; returns the first non-zero status of a
/// chunk (or 0). Chunk boundaries are `0, chunk, 2·chunk, …` whoever runs them.
pub fn run_chunks(rows: usize, chunk: usize, f: ChunkFn<'_>) -> u32 {
    let chunk = chunk.max(1);
    let job = Job {
        f,
        rows,
        chunk,
        next: AtomicUsize::new(0),
    };
    if rows <= chunk {
        return job.work();
    }
    // SAFETY: the helpers only read `job` between `try_give` and `collect`, and this function
    // collects every helper it gave the job to before `job` (and what `f` borrows) goes out
    // of scope, also when a chunk panics: `CollectOnDrop` collects while unwinding.
    let shared: &'static Job<'static> = unsafe { std::mem::transmute::<&Job<'_>, _>(&job) };
    let helpers = helpers();
    placement::keep_off_caller(helpers);
    let mut given = CollectOnDrop {
        helpers,
        given: [false; 64],
    };
    for (g, helper) in given.given.iter_mut().zip(helpers) {
        *g = helper.try_give(shared);
    }
    let mut status = job.work();
    for s in given.collect_all() {
        assert!(
            s != PANICKED,
            "run_chunks: a chunk panicked on a helper thread"
        );
        if status == 0 {
            status = s;
        }
    }
    status
}

/// Where helpers run. Left to itself the scheduler was seen (`perf record --sample-cpu`, W6
/// child, 2-core VM) putting a woken helper on the caller's CPU and leaving it there for
/// 10–20 ms, the two taking turns while the other CPU idled. So each helper is pinned to a
/// CPU of its own other than the caller's; a caller that moved to another CPU re-pins them
/// (one `sched_setaffinity` per helper, only then).
#[cfg(target_os = "linux")]
mod placement {
    use super::Helper;
    use std::sync::atomic::Ordering;
    use std::sync::OnceLock;

    /// This thread's kernel id.
    pub fn thread_id() -> Option<i32> {
        // SAFETY: gettid has no preconditions.
        Some(unsafe { libc::gettid() })
    }

    /// The CPUs this process may run on, read once.
    fn allowed() -> &'static [usize] {
        static ALLOWED: OnceLock<Vec<usize>> = OnceLock::new();
        ALLOWED.get_or_init(|| {
            // SAFETY: an all-zero cpu_set_t is a valid empty set, and sched_getaffinity
            // writes at most `size_of::<cpu_set_t>()` bytes into it.
            unsafe {
                let mut set: libc::cpu_set_t = std::mem::zeroed();
                if libc::sched_getaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &mut set) != 0
                {
                    return Vec::new();
                }
                (0..libc::CPU_SETSIZE as usize)
                    .filter(|&c| libc::CPU_ISSET(c, &set))
                    .collect()
            }
        })
    }

    /// Pins every helper to a CPU of its own other than the one the caller runs on.
    pub fn keep_off_caller(helpers: &[&Helper]) {
        // SAFETY: sched_getcpu has no preconditions.
        let Ok(caller) = usize::try_from(unsafe { libc::sched_getcpu() }) else {
            return;
        };
        let mut cpus = allowed().iter().copied().filter(|&c| c != caller);
        for helper in helpers {
            let (Some(&tid), Some(cpu)) = (helper.tid.get(), cpus.next()) else {
                return;
            };
            if helper.pinned.load(Ordering::Relaxed) == cpu {
                continue;
            }
            // SAFETY: as above for the set; `tid` is a live thread of this process (helpers
            // never exit).
            let pinned = unsafe {
                let mut set: libc::cpu_set_t = std::mem::zeroed();
                libc::CPU_SET(cpu, &mut set);
                libc::sched_setaffinity(tid, std::mem::size_of::<libc::cpu_set_t>(), &set) == 0
            };
            if pinned {
                helper.pinned.store(cpu, Ordering::Relaxed);
            }
        }
    }
}

/// Elsewhere the scheduler places helpers as it likes.
#[cfg(not(target_os = "linux"))]
mod placement {
    pub fn thread_id() -> Option<i32> {
        None
    }

    pub fn keep_off_caller(_: &[&super::Helper]) {}
}

/// The helpers a job was given to, collected when dropped if not before.
struct CollectOnDrop {
    helpers: &'static [&'static Helper],
    given: [bool; 64],
}

impl CollectOnDrop {
    fn collect_all(&mut self) -> Vec<u32> {
        let mut statuses = Vec::new();
        for (g, helper) in self.given.iter_mut().zip(self.helpers) {
            if std::mem::take(g) {
                statuses.push(helper.collect());
            }
        }
        statuses
    }
}

impl Drop for CollectOnDrop {
    fn drop(&mut self) {
        self.collect_all();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn visits(rows: usize, chunk: usize) -> Vec<usize> {
        let seen: Vec<AtomicUsize> = (0..rows).map(|_| AtomicUsize::new(0)).collect();
        let status = run_chunks(rows, chunk, &|start, end| {
            for s in &seen[start..end] {
                s.fetch_add(1, Ordering::Relaxed);
            }
            0
        });
        assert_eq!(status, 0);
        seen.into_iter().map(AtomicUsize::into_inner).collect()
    }

    #[test]
    fn every_row_runs_exactly_once() {
        for (rows, chunk) in [(0, 1), (1, 1), (2, 1), (3, 2), (7, 3), (64, 64), (1001, 16)] {
            let v = visits(rows, chunk);
            assert!(
                v.iter().all(|&n| n == 1),
                "rows {rows} chunk {chunk}: {v:?}"
            );
        }
    }

    #[test]
    fn chunks_start_at_multiples_of_the_chunk() {
        let starts = Mutex::new(Vec::new());
        run_chunks(100, 7, &|start, end| {
            starts.lock().unwrap().push((start, end));
            0
        });
        let mut starts = starts.into_inner().unwrap();
        starts.sort_unstable();
        let expected: Vec<_> = (0..100).step_by(7).map(|s| (s, (s + 7).min(100))).collect();
        assert_eq!(starts, expected);
    }

    #[test]
    fn concurrent_callers_each_get_all_their_rows() {
        std::thread::scope(|s| {
            for _ in 0..4 {
                s.spawn(|| {
                    for _ in 0..200 {
                        assert!(visits(257, 5).iter().all(|&n| n == 1));
                    }
                });
            }
        });
    }

    #[test]
    fn a_failing_chunk_is_reported() {
        assert_eq!(run_chunks(10, 1, &|start, _| u32::from(start > 0) * 7), 7);
    }

    #[test]
    fn a_chunk_panicking_on_a_helper_panics_the_caller() {
        let caller = std::thread::current().id();
        let outcome = std::panic::catch_unwind(|| {
            run_chunks(64, 1, &|_, _| {
                if std::thread::current().id() != caller {
                    panic!("chunk failed on a helper");
                }
                std::thread::sleep(Duration::from_millis(1));
                0
            })
        });
        // With the helper busy elsewhere the caller runs every chunk itself and nothing
        // panics; otherwise the helper's panic reaches the caller.
        if let Err(e) = outcome {
            let message = e
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| e.downcast_ref::<String>().cloned())
                .unwrap_or_default();
            assert!(message.contains("panicked on a helper"), "{message}");
        }
        // The helper survived: the next job still gets every row.
        assert!(visits(100, 3).iter().all(|&n| n == 1));
    }

    #[test]
    fn a_panicking_chunk_waits_for_the_helpers_then_unwinds() {
        let rows = AtomicUsize::new(0);
        let outcome = std::panic::catch_unwind(|| {
            run_chunks(64, 1, &|start, _| {
                if start == 0 {
                    panic!("chunk 0 failed");
                }
                std::thread::sleep(Duration::from_millis(1));
                rows.fetch_add(1, Ordering::Relaxed);
                0
            })
        });
        assert!(outcome.is_err());
        // Every chunk a helper claimed finished before the unwinding caller returned.
        let after = rows.load(Ordering::Relaxed);
        std::thread::sleep(Duration::from_millis(20));
        assert_eq!(rows.load(Ordering::Relaxed), after);
    }
}
