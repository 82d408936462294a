//! The contract between generated code and the Rust side of a run: the argument block's
//! layout, the status codes the entry returns, the access numbers an out-of-bounds report
//! names, and the signature of row-range entries. Code generation writes to this layout, the
//! run stage (binding, host steps) and the GEMM read it; this module is its one owner.

/// Layout of the argument block (indices of u64 words).
pub mod args {
    /// Pointer to the run context (host steps).
    pub const CONTEXT: usize = 0;
    /// Checked mode: the step that made an out-of-bounds access.
    pub const ERR_STEP: usize = 1;
    /// Checked mode: which access (kernel input number, or [`super::OUTPUT_ACCESS`]).
    pub const ERR_ACCESS: usize = 2;
    /// Checked mode: the offending element index.
    pub const ERR_INDEX: usize = 3;
    /// Checked mode: the buffer's length.
    pub const ERR_LEN: usize = 4;
    /// First slot record: slot `s` has its pointer at `SLOTS + 3s`, its element offset at
    /// `SLOTS + 3s + 1` and its length in elements at `SLOTS + 3s + 2`.
    pub const SLOTS: usize = 5;

    /// Words of the block for `slots` slots.
    pub fn len(slots: usize) -> usize {
        SLOTS + 3 * slots
    }
}

/// The access number reported for a kernel's output store.
pub const OUTPUT_ACCESS: u64 = 1 << 20;
/// The access number reported for the buffer a sum gathers a run into.
pub const RUN_ACCESS: u64 = (1 << 20) + 1;

/// The entry's status: success.
pub const STATUS_OK: u32 = 0;
/// The entry's status: a host step failed (its error is in the run context).
pub const STATUS_HOST_ERROR: u32 = 1;
/// The entry's status: checked code found an out-of-bounds index (recorded in the block).
pub const STATUS_OUT_OF_BOUNDS: u32 = 2;

/// The entry of a kernel over a range of its outermost axis, `(args, first row, end row)`:
/// one half of a step split across threads, or a matmul's epilogue on the rows the GEMM has
/// finished. Returns a status like the program's entry.
pub type RowsFn = extern "C" fn(*mut u64, i64, i64) -> u32;

/// The pointer, element offset and length (in elements) recorded for slot `slot` in the
/// argument block `words`.
pub fn slot_record(words: &[u64], slot: usize) -> (u64, isize, usize) {
    let r = args::SLOTS + 3 * slot;
    (words[r], words[r + 1] as isize, words[r + 2] as usize)
}
