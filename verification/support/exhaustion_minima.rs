//! The exact exhaustion minima at SegmentSize 1 (`Fail`, `limbo_len` 1, k push/pop pairs per thread): the smallest
//! `segment_count` that no interleaving within the bound exhausts. Shared by the loom search
//! (`verification/loom/exhaustion.rs`) and the explicit schedule search of the real strategies
//! (`verification/explore/exhaustion.rs`), which both assert the cells they compute against these tables, so the
//! two searches are cross-checked wherever both reach, and a change in any strategy's reclamation shows as a
//! changed cell.
//!
//! Rows are in the order of [`STRATEGIES`]; column `i` is k = i + 1.
#![allow(dead_code)] // each search uses its own subset

/// Rows in every table: one per strategy of [`STRATEGIES`].
pub const STRATEGY_COUNT: usize = 8;

/// The row order of every table (the strategies' `Reclaim::NAME`).
pub const STRATEGIES: [&str; STRATEGY_COUNT] =
    ["limbo", "hazard", "epoch", "leak", "hazard-eras", "ibr", "qsbr", "hyaline"];

/// Loom, 2 threads, 1 preemption, k = 1..=4 for Limbo, Hazard and Epoch, k = 1..=3 for the others (the default
/// run, 40 s wall here). Recomputed after the pop began to unlink the segment its run emptied (issue 17): Limbo's
/// and Hazard's k = 3 and 4 went from 6, 7 to 5, 6. The k = 4 and 5 cells that `SEGPOOL_LOOM_MAX_PAIRS=5` had found
/// before that change (Limbo 8, Hazard 9, Epoch 10, Leak 8 and 10, HazardEras and Ibr 8 at k = 4) were not
/// recomputed; the explicit search has every cell to k = 14.
pub const LOOM_2_THREADS_1_PREEMPTION: [&[usize]; STRATEGY_COUNT] =
    [&[2, 4, 5, 6], &[2, 4, 5, 6], &[2, 4, 6, 8], &[2, 4, 6], &[2, 4, 6], &[2, 4, 6], &[2, 4, 6], &[2, 4, 6]];

/// Loom, 2 threads, 2 preemptions (`LOOM_MAX_PREEMPTIONS=2`), k = 1, 2. Leak's 5 at k = 2 is a weak-memory
/// outcome: a `try_take` whose load of the free-list head reads the value from before another thread gave back
/// its spare segment, so it sees the list empty (twice, before and after `collect`). The explicit search runs every
/// step sequentially consistent, cannot produce that read, and finds 4 (see [`EXPLORE_2_THREADS_2_PREEMPTIONS`]).
/// HazardEras and Ibr: 212 s and 176 s wall here (both at once). Hyaline's 5 at k = 2 is loom's alone too (the
/// explicit search finds 4, [`EXPLORE_2_THREADS_2_PREEMPTIONS`]), the same weak-memory outcome as Leak's: in its
/// witness the refused push finds the pool empty while both retired segments are already reusable ("0 of them not
/// yet reusable"), a stale read of the free-list head. Qsbr and Hyaline: 99 s wall together.
pub const LOOM_2_THREADS_2_PREEMPTIONS: [[usize; 2]; STRATEGY_COUNT] =
    [[2, 4], [2, 4], [2, 4], [2, 5], [2, 4], [2, 4], [2, 4], [2, 5]];

/// Loom, 3 threads (`SEGPOOL_LOOM_THREADS=3`), 1 preemption: the cells it finished here, as (strategy, k, minimum);
/// none yet for Qsbr and Hyaline (stopped after 3 minutes)
/// (Epoch's k = 1 took 394 s here, 63 s CPU; Hazard's k = 2 and Leak's were stopped after 2 minutes;
/// `SEGPOOL_LOOM_STRATEGIES` picks the strategies to search).
/// Leak's 4 at k = 1 is again weak memory: in its witness, thread 2 pushes, then pops `None` with thread 0's value
/// already popped from the head segment, so that pop read the head's claim word and stamp from before thread 0's
/// claim (no happens-before orders them); the explicit search, sequentially consistent, finds 3.
/// HazardEras's and Ibr's k = 1: 244 s and 203 s wall here (both at once, 157 s CPU in all).
pub const LOOM_3_THREADS_1_PREEMPTION: [(&str, u32, usize); 7] = [
    ("limbo", 1, 3),
    ("limbo", 2, 6),
    ("hazard", 1, 3),
    ("epoch", 1, 3),
    ("leak", 1, 4),
    ("hazard-eras", 1, 3),
    ("ibr", 1, 3),
];

/// The explicit search, 2 threads, 1 preemption, k = 1..=14. Equal to [`LOOM_2_THREADS_1_PREEMPTION`] wherever
/// that reaches. Since a pop unlinks the segment its run emptied in the same operation (issue 17), Limbo and Hazard
/// need one segment less from k = 3 on (Limbo `k + 2`; Hazard `k + 2` to k = 7, then `k + 1`). Epoch equals Leak
/// up to k = 6, then needs `k + 6`; Hyaline `k + 5` from k = 6; Qsbr `k + 5` to k = 9, then `k + 6`. HazardEras and
/// Ibr equal Leak up to k = 8 and then almost stop growing (17 at k = 9 to 11, 18 at k = 12 to 14; they needed
/// `k + 9` before the change).
pub const EXPLORE_2_THREADS_1_PREEMPTION: [[usize; 14]; STRATEGY_COUNT] = [
    [2, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16],
    [2, 4, 5, 6, 7, 8, 9, 9, 10, 11, 12, 13, 14, 15],
    [2, 4, 6, 8, 10, 12, 13, 14, 15, 16, 17, 18, 19, 20],
    [2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28],
    [2, 4, 6, 8, 10, 12, 14, 16, 17, 17, 17, 18, 18, 18],
    [2, 4, 6, 8, 10, 12, 14, 16, 17, 17, 17, 18, 18, 18],
    [2, 4, 6, 8, 10, 11, 12, 13, 14, 16, 17, 18, 19, 20],
    [2, 4, 6, 8, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19],
];

/// The explicit search, 3 threads, 1 preemption, k = 1..=14. Limbo needs `2k + 2` from k = 2, Hazard `2k + 1`,
/// Epoch `2k + 6` from k = 7, HazardEras and Ibr `2k + 4` from k = 5 (they equalled Leak up to k = 9 before the
/// pop unlinked the segment it emptied); Hyaline needs one segment less than Epoch from k = 6, and Qsbr too until
/// k = 9.
pub const EXPLORE_3_THREADS_1_PREEMPTION: [[usize; 14]; STRATEGY_COUNT] = [
    [3, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30],
    [3, 5, 7, 9, 11, 13, 15, 17, 19, 21, 23, 25, 27, 29],
    [3, 6, 9, 12, 15, 18, 20, 22, 24, 26, 28, 30, 32, 34],
    [3, 6, 9, 12, 15, 18, 21, 24, 27, 30, 33, 36, 39, 42],
    [3, 6, 9, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30, 32],
    [3, 6, 9, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30, 32],
    [3, 6, 9, 12, 15, 17, 19, 21, 23, 26, 28, 30, 32, 34],
    [3, 6, 9, 12, 15, 17, 19, 21, 23, 25, 27, 29, 31, 33],
];

/// The explicit search, 2 threads, 2 preemptions, k = 1..=4 (Limbo's 7 at k = 4 was 8 before the eager unlink).
pub const EXPLORE_2_THREADS_2_PREEMPTIONS: [[usize; 4]; STRATEGY_COUNT] =
    [[2, 4, 6, 7], [2, 4, 6, 8], [2, 4, 6, 8], [2, 4, 6, 8], [2, 4, 6, 8], [2, 4, 6, 8], [2, 4, 6, 8], [2, 4, 6, 8]];

/// The explicit search, 2 threads, 1 preemption taken only between two operations of a thread, k = 1..=10. With no
/// reservation held by the stalled thread, the queue's own demand stays bounded and the minima stop growing:
/// Hazard's at 8 from k = 7, once the stalled handle (registered first, scan threshold 6) holds its 5 unscanned
/// segments; Limbo's at 4 (from k = 3), Epoch's at 9 (from k = 6); HazardEras's and Ibr's at 12 from k = 9
/// (unchanged to k = 14); Hyaline's at 8 from k = 5 (the stalled handle's slot is inactive between operations, so
/// no batch waits for it). Epoch, the era pair and Hyaline plateau one segment lower than before the eager unlink.
/// **Qsbr's never stops growing** (`k + 5` from k = 6, about as when the stall is inside an operation): between operations
/// a Qsbr handle is still online, so the stalled thread's last announcement holds every later advance back. This is
/// QSBR's price, shown by the checker: a thread that stops anywhere, not only inside an operation, stops
/// reclamation until it parks.
pub const EXPLORE_2_THREADS_BETWEEN_OPERATIONS: [[usize; 10]; STRATEGY_COUNT] = [
    [2, 3, 4, 4, 4, 4, 4, 4, 4, 4],
    [2, 3, 4, 5, 6, 7, 8, 8, 8, 8],
    [2, 4, 6, 7, 8, 9, 9, 9, 9, 9],
    [2, 4, 6, 8, 10, 12, 14, 16, 18, 20],
    [2, 4, 6, 7, 8, 9, 10, 11, 12, 12],
    [2, 4, 6, 7, 8, 9, 10, 11, 12, 12],
    [2, 4, 6, 8, 10, 11, 12, 13, 14, 15],
    [2, 4, 6, 7, 8, 8, 8, 8, 8, 8],
];

/// As [`EXPLORE_2_THREADS_BETWEEN_OPERATIONS`], 3 threads: the same plateaus (Hazard's from k = 6, Epoch's from
/// k = 5, HazardEras's and Ibr's from k = 8, Hyaline's from k = 4), and Qsbr's growth (`2k + 5` from k = 6).
pub const EXPLORE_3_THREADS_BETWEEN_OPERATIONS: [[usize; 10]; STRATEGY_COUNT] = [
    [3, 4, 4, 4, 4, 4, 4, 4, 4, 4],
    [3, 4, 5, 6, 7, 8, 8, 8, 8, 8],
    [3, 5, 7, 8, 9, 9, 9, 9, 9, 9],
    [3, 6, 9, 12, 15, 18, 21, 24, 27, 30],
    [3, 5, 7, 8, 9, 10, 11, 12, 12, 12],
    [3, 5, 7, 8, 9, 10, 11, 12, 12, 12],
    [3, 6, 9, 12, 15, 17, 19, 21, 23, 25],
    [3, 5, 7, 8, 8, 8, 8, 8, 8, 8],
];

/// The expected cell for `strategy` at `k` pairs in `table`, if its row reaches that far.
pub fn expected<Row: AsRef<[usize]>>(table: &[Row; STRATEGY_COUNT], strategy: &str, k: u32) -> Option<usize> {
    let row = STRATEGIES.iter().position(|&name| name == strategy).expect("a strategy of the tables");
    table[row].as_ref().get(k as usize - 1).copied()
}
