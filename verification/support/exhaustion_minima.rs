//! The exact exhaustion minima at SegmentSize 1 (`Fail`, `limbo_len` 1, k push/pop pairs per thread): the smallest
//! `segment_count` that no interleaving within the bound exhausts. Shared by the loom search
//! (`verification/loom/exhaustion.rs`) and the explicit schedule search of the real strategies
//! (`verification/explore/exhaustion.rs`), which both assert the cells they compute against these tables, so the
//! two searches are cross-checked wherever both reach, and a change in any strategy's reclamation shows as a
//! changed cell.
//!
//! Rows are in the order of [`STRATEGIES`]; column `i` is k = i + 1.
#![allow(dead_code)] // each search uses its own subset

/// The row order of every table.
pub const STRATEGIES: [&str; 4] = ["limbo", "hazard", "epoch", "leak"];

/// Loom, 2 threads, 1 preemption, k = 1..=5 (k = 4, 5 with `SEGPOOL_LOOM_MAX_PAIRS=5`).
pub const LOOM_2_THREADS_1_PREEMPTION: [[usize; 5]; 4] =
    [[2, 4, 6, 7, 8], [2, 4, 6, 7, 9], [2, 4, 6, 8, 10], [2, 4, 6, 8, 10]];

/// Loom, 2 threads, 2 preemptions (`LOOM_MAX_PREEMPTIONS=2`), k = 1, 2. Leak's 5 at k = 2 is a weak-memory
/// outcome: a `try_take` whose load of the free-list head reads the value from before another thread gave back
/// its spare segment, so it sees the list empty (twice, before and after `collect`). The explicit search runs every
/// step sequentially consistent, cannot produce that read, and finds 4 (see [`EXPLORE_2_THREADS_2_PREEMPTIONS`]).
pub const LOOM_2_THREADS_2_PREEMPTIONS: [[usize; 2]; 4] = [[2, 4], [2, 4], [2, 4], [2, 5]];

/// Loom, 3 threads (`SEGPOOL_LOOM_THREADS=3`), 1 preemption: the cells it finished here, as (strategy, k, minimum)
/// (Epoch's k = 1 took 394 s here, 63 s CPU; Hazard's k = 2 and Leak's were stopped after 2 minutes;
/// `SEGPOOL_LOOM_STRATEGIES` picks the strategies to search).
/// Leak's 4 at k = 1 is again weak memory: in its witness, thread 2 pushes, then pops `None` with thread 0's value
/// already popped from the head segment, so that pop read the head's claim word and stamp from before thread 0's
/// claim (no happens-before orders them); the explicit search, sequentially consistent, finds 3.
pub const LOOM_3_THREADS_1_PREEMPTION: [(&str, u32, usize); 5] =
    [("limbo", 1, 3), ("limbo", 2, 6), ("hazard", 1, 3), ("epoch", 1, 3), ("leak", 1, 4)];

/// The explicit search, 2 threads, 1 preemption, k = 1..=14. Equal to [`LOOM_2_THREADS_1_PREEMPTION`] on k ≤ 5.
pub const EXPLORE_2_THREADS_1_PREEMPTION: [[usize; 14]; 4] = [
    [2, 4, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17],
    [2, 4, 6, 7, 9, 11, 13, 14, 15, 16, 17, 18, 19, 20],
    [2, 4, 6, 8, 10, 12, 13, 14, 15, 16, 17, 18, 19, 20],
    [2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28],
];

/// The explicit search, 3 threads, 1 preemption, k = 1..=14.
pub const EXPLORE_3_THREADS_1_PREEMPTION: [[usize; 14]; 4] = [
    [3, 6, 9, 11, 13, 15, 17, 19, 21, 23, 25, 27, 29, 31],
    [3, 6, 8, 11, 14, 17, 20, 22, 24, 26, 28, 30, 32, 34],
    [3, 6, 9, 12, 15, 18, 20, 22, 24, 26, 28, 30, 32, 34],
    [3, 6, 9, 12, 15, 18, 21, 24, 27, 30, 33, 36, 39, 42],
];

/// The explicit search, 2 threads, 2 preemptions, k = 1..=4.
pub const EXPLORE_2_THREADS_2_PREEMPTIONS: [[usize; 4]; 4] = [[2, 4, 6, 8], [2, 4, 6, 8], [2, 4, 6, 8], [2, 4, 6, 8]];

/// The explicit search, 2 threads, 1 preemption taken only between two operations of a thread, k = 1..=10. With no
/// reservation held by the stalled thread, the queue's own demand stays bounded and the minima stop growing:
/// Hazard's at 8 from k = 7, once the stalled handle (registered first, scan threshold 6) holds its 5 unscanned
/// segments; Limbo's at 4, Epoch's at 10.
pub const EXPLORE_2_THREADS_BETWEEN_OPERATIONS: [[usize; 10]; 4] = [
    [2, 4, 4, 4, 4, 4, 4, 4, 4, 4],
    [2, 3, 4, 5, 6, 7, 8, 8, 8, 8],
    [2, 4, 6, 8, 9, 10, 10, 10, 10, 10],
    [2, 4, 6, 8, 10, 12, 14, 16, 18, 20],
];

/// As [`EXPLORE_2_THREADS_BETWEEN_OPERATIONS`], 3 threads: the same plateaus (Hazard's from k = 6).
pub const EXPLORE_3_THREADS_BETWEEN_OPERATIONS: [[usize; 10]; 4] = [
    [3, 4, 4, 4, 4, 4, 4, 4, 4, 4],
    [3, 4, 5, 6, 7, 8, 8, 8, 8, 8],
    [3, 5, 7, 9, 10, 10, 10, 10, 10, 10],
    [3, 6, 9, 12, 15, 18, 21, 24, 27, 30],
];

/// The expected cell for `strategy` at `k` pairs in `table`, if the table reaches that far.
pub fn expected<const K: usize>(table: &[[usize; K]; 4], strategy: &str, k: u32) -> Option<usize> {
    let row = STRATEGIES.iter().position(|&name| name == strategy).expect("a strategy of the tables");
    table[row].get(k as usize - 1).copied()
}
