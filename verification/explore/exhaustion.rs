//! SegmentSize=1 pool exhaustion past loom's reach: the same minima as `loom_exhaustion` (the smallest
//! `segment_count` that no interleaving within the bound exhausts, with an exhausting one at one segment fewer),
//! found by an explicit search of schedules over the *real* strategies and the *real* segment arena.
//!
//! Scenario (as in `verification/loom/exhaustion.rs`): n worker threads, each with one handle, each doing k times
//! "push its own next value, then pop one"; SegmentSize 1, `OnExhausted::Fail`, `limbo_len` 1; a refused push is
//! the exhaustion. `model.rs` writes the queue's slot protocol out step by step (one shared access, or one call
//! into the strategy or the arena, per step) and `search.rs` runs every schedule of those steps within a
//! preemption bound, counting preemptions as loom does (a switch after a yield, at a thread's end or at the start
//! is free). Every execution also checks that each value is popped or still queued exactly once and that no
//! protected segment was seen in a later generation.
//!
//! What it gives up against loom: every step runs atomically and sequentially consistent, so it sees neither a
//! preemption inside a strategy call nor a load that reads an older value. What it gains: an execution costs
//! microseconds instead of loom's milliseconds, and the search reaches k = 14 at 2 and at 3 threads, where loom
//! stops at k = 5 (2 threads) and k = 1 or 2 (3 threads). Where both reach, the tables must agree, and do
//! (`agrees_with_loom`: 47 cells) but for two Leak cells that only weak memory produces, one at 2 preemptions and
//! one at 3 threads (`verification/support/exhaustion_minima.rs` says which and why).
//!
//! Bounds and times (here, on a loaded machine: release / debug, which `cargo test` runs, wall clock):
//! - `two_threads_one_preemption`: 2 threads, k ≤ 10, 1 preemption; 0.6 s / 3 s (`SEGPOOL_EXPLORE_MAX_PAIRS`
//!   extends every test: tables asserted to k = 14, 1 s release);
//! - `three_threads_one_preemption`: 3 threads, k ≤ 8, 1 preemption; 3 s / 23 s (k ≤ 14: 14 s release);
//! - `two_preemptions`: 2 threads, k ≤ 3, 2 preemptions; 1 s / 7 s (k = 4 with `SEGPOOL_EXPLORE_MAX_PAIRS=4`);
//! - `stalled_between_operations`: 2 and 3 threads, k ≤ 10, 1 preemption taken only between two operations of a
//!   thread; 0.3 s / 2 s;
//! - `agrees_with_loom`: the cells loom computes, recomputed here; under 2 s.
//!
//! What the tables show (`verification/support/exhaustion_minima.rs` has them, with each row's shape): the
//! strategies separate at k = 3, and almost no minimum stops growing, because the one preemption can stop a
//! producer between reserving its slot and publishing it: every pop then returns `None` at that slot, so each
//! value the other threads push needs a segment of its own. At SegmentSize 1 the only reservation left to split is
//! the first push's, on the queue's first segment: every later segment is linked with its value already in it
//! (`Segment::prefill`). Past a point every strategy but Leak needs about `(n - 1) * k` segments plus a constant of
//! its own (Limbo 2; Hazard 1 or 2; Epoch 6, after equalling Leak while a pinned stall blocks all reuse; Hyaline
//! 5); Leak needs `n * k`. HazardEras and Ibr at 2 threads almost stop growing from k = 9 (17, then 18). The
//! witnesses (`SEGPOOL_EXPLORE_WITNESSES=1`) show each cell's exhausting execution. Before the pop unlinked the
//! segment its run emptied in the same operation, every cell from k = 3 was equal or one to nine segments higher.
//! With the stall only between operations the queue's demand stays bounded and the absolute minima stop growing:
//! Hazard's at 8 from k = 7 (2 threads; k = 6 at 3), Limbo's at 4, Epoch's at 9, HazardEras's and Ibr's at 12 from
//! k = 9 (k = 8 at 3), Hyaline's at 8; Qsbr's never does (an online handle holds reclamation back).
//! The search calls `born` as a step of its own before every attempt to link, as the queue does; it is a no-op for
//! the other strategies, whose cells it left unchanged (at the cost of more schedules: the default run went from
//! 1.3 s to about 3 s release with the two era rows, k ≤ 14 from about 14 s to 15.5 s).
//!
//! Run: `cargo test --release --test explore_exhaustion` (tables on stderr; `SEGPOOL_EXPLORE_WITNESSES=1` and
//! `-- --nocapture` print an exhausting execution per cell).
#![cfg(segpool_std)]

#[path = "../support/exhaustion_minima.rs"]
mod minima;
mod model;
mod search;

use std::io::Write;
use std::time::Instant;

use search::{Scenario, minimum, witness_log};
use segpool::Reclaim;

use minima::STRATEGY_COUNT;

/// One cell of a table: the minimum, the executions that the search over every count up to it ran, its time.
struct Cell {
    segment_count: usize,
    executions: u64,
    seconds: f64,
}

fn env_number(name: &str) -> Option<u32> {
    let text = std::env::var(name).ok()?;
    Some(text.parse().unwrap_or_else(|_| panic!("{name} must be a number, got {text:?}")))
}

fn row<R: Reclaim>(threads: usize, max_pairs: u32, preemptions: usize, between_operations: bool) -> Vec<Cell> {
    let witnesses = std::env::var_os("SEGPOOL_EXPLORE_WITNESSES").is_some();
    (1..=max_pairs)
        .map(|k| {
            let started = Instant::now();
            let scenario = Scenario { pairs: vec![k; threads], limbo_len: 1, preemptions, between_operations };
            let found = minimum::<R>(&scenario);
            let seconds = started.elapsed().as_secs_f64();
            if witnesses {
                let log = witness_log::<R>(&scenario, found.segment_count - 1, &found.witness);
                let count = found.segment_count - 1;
                println!("{} k={k}: minimum {}; exhausted at {count}:\n    {}", R::NAME, count + 1, log.join("\n    "));
            }
            Cell { segment_count: found.segment_count, executions: found.executions, seconds }
        })
        .collect()
}

/// Searches every strategy (one OS thread each), prints the table and returns its minima, in
/// [`minima::STRATEGIES`] order.
fn table(threads: usize, max_pairs: u32, preemptions: usize, between_operations: bool) -> [Vec<usize>; STRATEGY_COUNT] {
    let started = Instant::now();
    let rows = std::thread::scope(|s| {
        [
            s.spawn(|| row::<segpool::Limbo>(threads, max_pairs, preemptions, between_operations)),
            s.spawn(|| row::<segpool::Hazard>(threads, max_pairs, preemptions, between_operations)),
            s.spawn(|| row::<segpool::Epoch>(threads, max_pairs, preemptions, between_operations)),
            s.spawn(|| row::<segpool::Leak>(threads, max_pairs, preemptions, between_operations)),
            s.spawn(|| row::<segpool::HazardEras>(threads, max_pairs, preemptions, between_operations)),
            s.spawn(|| row::<segpool::Ibr>(threads, max_pairs, preemptions, between_operations)),
            s.spawn(|| row::<segpool::Qsbr>(threads, max_pairs, preemptions, between_operations)),
            s.spawn(|| row::<segpool::Hyaline>(threads, max_pairs, preemptions, between_operations)),
        ]
        .map(|search| search.join().unwrap_or_else(|panic| std::panic::resume_unwind(panic)))
    });
    let mut text = format!(
        "\nminimal segment_count for no exhaustion (explicit search of the real strategies; SegmentSize 1, Fail, \
         {threads} threads x k push/pop pairs, limbo_len 1, {preemptions} preemption(s){}; {:.1} s)\n| strategy |",
        if between_operations { " between operations only" } else { "" },
        started.elapsed().as_secs_f64()
    );
    for k in 1..=max_pairs {
        text.push_str(&format!(" k={k} |"));
    }
    text.push_str(" executions, time |\n|---|");
    text.push_str(&"---|".repeat(max_pairs as usize + 1));
    text.push('\n');
    for (name, row) in minima::STRATEGIES.iter().zip(&rows) {
        let cells: String = row.iter().map(|cell| format!(" {} |", cell.segment_count)).collect();
        let executions: u64 = row.iter().map(|cell| cell.executions).sum();
        let seconds: f64 = row.iter().map(|cell| cell.seconds).sum();
        text.push_str(&format!("| {name} |{cells} {executions}, {seconds:.2} s |\n"));
    }
    std::io::stderr().lock().write_all(text.as_bytes()).unwrap();
    rows.map(|row| row.iter().map(|cell| cell.segment_count).collect())
}

/// Asserts every cell of `found` that `expected` has (cells past its end were only printed).
fn assert_table<Row: AsRef<[usize]>>(
    found: &[Vec<usize>; STRATEGY_COUNT],
    expected: &[Row; STRATEGY_COUNT],
    what: &str,
) {
    for (name, row) in minima::STRATEGIES.iter().zip(found) {
        for (k, &minimum) in (1..).zip(row) {
            if let Some(expected) = minima::expected(expected, name, k) {
                assert_eq!(minimum, expected, "{name} at k={k} ({what}): the exhaustive minimum changed");
            }
        }
    }
}

/// Far enough for Hazard's excess over Limbo to stop growing (3 from k = 7 on) and for Epoch to leave Leak
/// (k = 7).
#[test]
fn two_threads_one_preemption() {
    let max_pairs = env_number("SEGPOOL_EXPLORE_MAX_PAIRS").unwrap_or(10);
    let found = table(2, max_pairs, 1, false);
    assert_table(&found, &minima::EXPLORE_2_THREADS_1_PREEMPTION, "2 threads, 1 preemption");
}

#[test]
fn three_threads_one_preemption() {
    let max_pairs = env_number("SEGPOOL_EXPLORE_MAX_PAIRS").unwrap_or(8);
    let found = table(3, max_pairs, 1, false);
    assert_table(&found, &minima::EXPLORE_3_THREADS_1_PREEMPTION, "3 threads, 1 preemption");
}

#[test]
fn two_preemptions() {
    let max_pairs = env_number("SEGPOOL_EXPLORE_MAX_PAIRS").map_or(3, |k| k.min(4));
    let found = table(2, max_pairs, 2, false);
    assert_table(&found, &minima::EXPLORE_2_THREADS_2_PREEMPTIONS, "2 threads, 2 preemptions");
}

/// The cross-check: recomputes every cell that loom computes (`loom_exhaustion`, which asserts the same tables)
/// and requires the same minimum. Every step boundary of this search is a point where loom may switch threads
/// too, so loom's schedules include these and its minima can only be larger; equality says that preempting inside
/// a strategy call and reading older values add no exhaustion at these bounds, but for the two cells where loom's
/// weak memory adds one (Leak and Hyaline at 2 preemptions, k = 2; Leak at 3 threads, k = 1), which must differ
/// exactly as documented.
#[test]
fn agrees_with_loom() {
    let one = table(2, 5, 1, false);
    assert_table(&one, &minima::LOOM_2_THREADS_1_PREEMPTION, "loom's 2 threads, 1 preemption");
    let three = table(3, 2, 1, false);
    for &(name, k, loom) in &minima::LOOM_3_THREADS_1_PREEMPTION {
        let row = minima::STRATEGIES.iter().position(|&strategy| strategy == name).expect("a strategy");
        // Leak's k = 1: loom's 4 is a stale read of the head's claim word (see LOOM_3_THREADS_1_PREEMPTION).
        let expected = if (name, k) == ("leak", 1) { 3 } else { loom };
        assert_eq!(three[row][k as usize - 1], expected, "{name} at k={k}, 3 threads, 1 preemption (loom: {loom})");
    }
    let mut two = table(2, 2, 2, false);
    let leak = minima::STRATEGIES.iter().position(|&name| name == "leak").expect("leak");
    assert_eq!(two[leak][1], 4, "Leak at k=2, 2 preemptions, sequentially consistent");
    two[leak][1] = 5; // loom's 5: a stale read of the free-list head (see LOOM_2_THREADS_2_PREEMPTIONS)
    let hyaline = minima::STRATEGIES.iter().position(|&name| name == "hyaline").expect("hyaline");
    assert_eq!(two[hyaline][1], 4, "Hyaline at k=2, 2 preemptions, sequentially consistent");
    two[hyaline][1] = 5; // loom's 5: weak memory too (see LOOM_2_THREADS_2_PREEMPTIONS)
    assert_table(&two, &minima::LOOM_2_THREADS_2_PREEMPTIONS, "loom's 2 threads, 2 preemptions");
}

/// A stall only between operations (the stalled thread holds no slot reservation, so it blocks no consumer and
/// the queue's own demand stays bounded): where each strategy's minimum stops growing.
#[test]
fn stalled_between_operations() {
    let max_pairs = env_number("SEGPOOL_EXPLORE_MAX_PAIRS").unwrap_or(10);
    let two = table(2, max_pairs, 1, true);
    assert_table(&two, &minima::EXPLORE_2_THREADS_BETWEEN_OPERATIONS, "2 threads, stalled between operations");
    let three = table(3, max_pairs, 1, true);
    assert_table(&three, &minima::EXPLORE_3_THREADS_BETWEEN_OPERATIONS, "3 threads, stalled between operations");
}
