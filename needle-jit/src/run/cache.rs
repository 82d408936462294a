//! The compiled-program cache of this thread: structural keys to programs, bounded, least recently used out.
//!
//! A training loop touches a handful of keys (a step, its short last batch, an evaluation), so
//! the bound never matters there; it exists for processes that see many shapes (a server, the
//! differential fuzzer), where every program kept would hold its machine code and its arena
//! forever.

use std::cell::RefCell;
use std::rc::Rc;

use rustc_hash::FxHashMap;

use super::program::{Program, LAST};
use crate::stats::bump;

thread_local! {
    // Per thread: compiled code, arenas and counters are only touched by the thread that
    // realizes.
    /// This thread's compiled programs.
    pub(super) static CACHE: RefCell<Cache<Rc<Program>>> =
        RefCell::new(Cache::new(crate::config::cache_capacity(DEFAULT_CAPACITY)));
}

/// Bounds this thread's program cache (default [`DEFAULT_CAPACITY`], or `NEEDLE_JIT_CACHE`):
/// beyond it, compiling a new program drops the one used longest ago, with its machine code
/// and arena.
pub fn set_cache_capacity(programs: usize) {
    let evicted = CACHE.with(|c| c.borrow_mut().set_capacity(programs));
    bump(|s| s.evictions += evicted.len() as u64);
}

/// Programs in this thread's cache.
pub fn cached_programs() -> usize {
    CACHE.with(|c| c.borrow().len())
}

/// Drops every compiled program of this thread.
pub fn clear_cache() {
    CACHE.with(|c| c.borrow_mut().clear());
    LAST.with(|l| *l.borrow_mut() = None);
}

/// Programs kept per thread unless [`Cache::set_capacity`] says otherwise (the
/// `NEEDLE_JIT_CACHE` environment variable sets the default).
pub const DEFAULT_CAPACITY: usize = 128;

/// A map from keys to values holding at most `capacity` entries; inserting into a full cache
/// drops the entry used longest ago.
///
/// ```
/// use needle_jit::cache::Cache;
/// let mut c = Cache::new(2);
/// c.insert(vec![1], "a");
/// c.insert(vec![2], "b");
/// assert_eq!(c.get(&[1]), Some(&"a")); // 1 is now the most recent
/// assert_eq!(c.insert(vec![3], "c"), Some("b"));
/// assert_eq!(c.get(&[2]), None);
/// assert_eq!(c.len(), 2);
/// ```
pub struct Cache<V> {
    entries: FxHashMap<Vec<u64>, (V, u64)>,
    capacity: usize,
    /// Advances on every use; an entry's stamp is its last use.
    clock: u64,
}

impl<V> Cache<V> {
    /// An empty cache holding up to `capacity` entries (at least one).
    pub fn new(capacity: usize) -> Self {
        Cache {
            entries: FxHashMap::default(),
            capacity: capacity.max(1),
            clock: 0,
        }
    }

    /// The value of `key`, marking it used.
    pub fn get(&mut self, key: &[u64]) -> Option<&V> {
        self.clock += 1;
        let clock = self.clock;
        self.entries.get_mut(key).map(|(v, used)| {
            *used = clock;
            &*v
        })
    }

    /// Inserts `value` under `key`; returns the value evicted to make room, if any.
    pub fn insert(&mut self, key: Vec<u64>, value: V) -> Option<V> {
        self.clock += 1;
        let evicted = if self.entries.len() >= self.capacity && !self.entries.contains_key(&key) {
            self.evict_oldest()
        } else {
            None
        };
        self.entries.insert(key, (value, self.clock));
        evicted
    }

    /// Changes the bound, evicting the least recently used entries beyond it.
    pub fn set_capacity(&mut self, capacity: usize) -> Vec<V> {
        self.capacity = capacity.max(1);
        let mut evicted = Vec::new();
        while self.entries.len() > self.capacity {
            evicted.extend(self.evict_oldest());
        }
        evicted
    }

    /// The bound.
    pub fn capacity(&self) -> usize {
        self.capacity
    }

    /// Entries held.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// True when nothing is held.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Drops every entry.
    pub fn clear(&mut self) {
        self.entries.clear();
    }

    fn evict_oldest(&mut self) -> Option<V> {
        // A linear scan: it runs only when a program is compiled, which costs milliseconds.
        let oldest = self
            .entries
            .iter()
            .min_by_key(|(_, (_, used))| *used)
            .map(|(k, _)| k.clone())?;
        self.entries.remove(&oldest).map(|(v, _)| v)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn evicts_the_least_recently_used() {
        let mut c = Cache::new(3);
        for k in 0..3u64 {
            assert!(c.insert(vec![k], k).is_none());
        }
        c.get(&[0]);
        c.get(&[2]);
        assert_eq!(c.insert(vec![3], 3), Some(1));
        assert_eq!(c.insert(vec![4], 4), Some(0));
        assert_eq!(c.len(), 3);
        assert!(c.get(&[2]).is_some() && c.get(&[3]).is_some() && c.get(&[4]).is_some());
    }

    #[test]
    fn replacing_a_key_evicts_nothing() {
        let mut c = Cache::new(1);
        c.insert(vec![7], 1);
        assert_eq!(c.insert(vec![7], 2), None);
        assert_eq!(c.get(&[7]), Some(&2));
    }

    #[test]
    fn shrinking_evicts_down_to_the_bound() {
        let mut c = Cache::new(4);
        for k in 0..4u64 {
            c.insert(vec![k], k);
        }
        let mut gone = c.set_capacity(2);
        gone.sort_unstable();
        assert_eq!(gone, vec![0, 1]);
        assert_eq!((c.len(), c.capacity()), (2, 2));
    }
}
