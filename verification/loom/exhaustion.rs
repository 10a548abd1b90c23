//! SegmentSize=1 pool exhaustion, searched exhaustively with loom: for each strategy written against the facade
//! and k push/pop pairs per thread, the smallest `segment_count` for which **no** interleaving exhausts a
//! `OnExhausted::Fail` pool, together with an exhausting interleaving at one segment fewer.
//!
//! Scenario: 2 threads (`SEGPOOL_LOOM_THREADS` sets another number; `SEGPOOL_LOOM_STRATEGIES=limbo,leak` searches
//! only those), each with one long-lived handle, each doing k times "push its own next value, then pop one value".
//! SegmentSize 1 makes every push past the first need a fresh segment, and every pop retire one, so the pool is
//! exercised as hard as it can be. A refused push hands its value back; the thread records it and goes on with its
//! pop. In every interleaving, every value must be popped or handed back exactly once, and no protected segment may
//! be seen in a later generation (`stale_views == 0`). Limbo runs with `limbo_len = 1`.
//!
//! The search runs the model at `segment_count = 1, 2, ...`. An execution that sees a refused push records its
//! event log as the witness (the log is kept outside loom, in execution order, since loom runs one thread at a
//! time). The first count without a witness is the minimum; the test asserts that the count below it had one,
//! prints both, and asserts every minimum that was established before **exactly**
//! (`verification/support/exhaustion_minima.rs`, shared with the explicit search of `explore_exhaustion`, which
//! must agree with these cells): a strategy that reclaims later or less than before changes a cell and fails.
//!
//! Bounds: 2 threads (plus the main thread, which only builds the queue and checks the outcome), k ≤ 4 pairs each
//! for Limbo, Hazard and Epoch and k ≤ 3 for Leak, HazardEras and Ibr (`SEGPOOL_LOOM_MAX_PAIRS` sets every range;
//! the era strategies' k = 4 costs minutes: 229 s and 324 s wall here, both at once), and **one
//! preemption** (`LOOM_MAX_PREEMPTIONS` overrides it): a thread stalled once, anywhere, while the other runs on,
//! which is the stall the strategies differ on. "No interleaving exhausts" means none within that bound. k = 3 is
//! the first column where the strategies differ (Limbo and Hazard 5, the others 6; at k = 4 Limbo and Hazard 6,
//! Epoch 8); Leak needs `2k` by counting alone and its k = 4 costs 80 s more. Time here, on a loaded machine:
//! release 40 s wall (issue 17's queue, whose pop unlinks the segment it emptied; 63 s before); debug (as `cargo
//! test --features loom` runs it) 177 s wall, 21 s CPU before that change; Epoch's k = 4 is most of it. `SEGPOOL_LOOM_MAX_PAIRS=5`
//! took 8 minutes on a quiet machine; bound 2 at k ≤ 2 took 166 s wall, 20 s CPU. Run (the table is printed even
//! without `--nocapture`; the witnesses need it):
//! `cargo test --release --features loom --test loom_exhaustion -- --nocapture`.
#![cfg(feature = "loom")]

use std::io::Write;
use std::sync::Mutex;
use std::time::Instant;

#[path = "../support/exhaustion_minima.rs"]
mod minima;

use segpool::sync::{Arc, thread};
use segpool::{Config, OnExhausted, Reclaim, SegQueue};

use minima::STRATEGY_COUNT;

/// Worker threads of the scenario: 2, or `SEGPOOL_LOOM_THREADS`.
fn threads() -> u32 {
    static THREADS: std::sync::OnceLock<u32> = std::sync::OnceLock::new();
    *THREADS.get_or_init(|| env_number("SEGPOOL_LOOM_THREADS").map_or(2, |n| n as u32))
}
/// Give up the search past this many segments: a strategy that still exhausts there is not bounded at all.
const MAX_SEGMENT_COUNT: usize = 16;
/// Default preemption bound of the search (see the module docs).
const PREEMPTIONS: usize = 1;

/// The payload of the panic that ends a loom run as soon as one exhausting interleaving is known: the rest of the
/// state space cannot change the answer "this count can be exhausted".
struct Exhausted {
    log: Vec<String>,
}

/// Ends every panic with an [`Exhausted`] payload quietly; other panics go to the default hook.
fn quiet_exhaustion_panics() {
    static INSTALL: std::sync::Once = std::sync::Once::new();
    INSTALL.call_once(|| {
        let default_hook = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if info.payload().downcast_ref::<Exhausted>().is_none() {
                default_hook(info);
            }
        }));
    });
}

/// Runs the scenario for `R` at `segment_count` under loom. Returns the event log of an exhausting interleaving,
/// or `None` if no interleaving within the bound refuses a push.
fn explore<R: Reclaim>(pairs: u32, segment_count: usize) -> Option<Vec<String>> {
    quiet_exhaustion_panics();
    let run = std::panic::catch_unwind(|| {
        segpool::sync::model_with_bound(PREEMPTIONS, move || scenario::<R>(pairs, segment_count))
    });
    match run {
        Ok(()) => None,
        Err(payload) => match payload.downcast::<Exhausted>() {
            Ok(exhausted) => Some(exhausted.log),
            Err(other) => std::panic::resume_unwind(other),
        },
    }
}

/// One execution of the scenario. Panics with [`Exhausted`] if a push was refused (after checking the values).
fn scenario<R: Reclaim>(pairs: u32, segment_count: usize) {
    let config = Config { segment_size: 1, segment_count, on_exhausted: OnExhausted::Fail, limbo_len: 1 };
    // Unchecked: the search starts below every strategy's liveness minimum (one segment; Leak under `Fail`),
    // where `with_config` refuses the configuration because it can die for good; finding that point is the aim.
    let q = Arc::new(SegQueue::<u32, R>::with_config_unchecked_liveness(config).expect("valid model config"));
    // The log of this execution. A std Mutex is invisible to loom, and loom runs one thread at a time, so the
    // order of entries is the order of events in this interleaving. Operations log their start and their end,
    // so that overlapping operations show.
    let log = std::sync::Arc::new(Mutex::new(Vec::new()));
    let note = |log: &Mutex<Vec<String>>, line: String| log.lock().unwrap().push(line);
    let threads = threads();
    let workers: Vec<_> = (0..threads)
        .map(|t| {
            let (q, log) = (q.clone(), log.clone());
            thread::spawn(move || {
                let mut h = q.handle();
                let mut handed_back_or_popped = Vec::new();
                let mut refused = false;
                for i in 0..pairs {
                    let value = t * 100 + i;
                    note(&log, format!("thread {t}: push {value} starts"));
                    match h.push(value) {
                        Ok(()) => note(&log, format!("thread {t}: push {value} done")),
                        Err(e) => {
                            let back = e.into_inner();
                            assert_eq!(back, value, "a refused push must hand its own value back");
                            let stats = q.stats();
                            note(
                                &log,
                                format!(
                                    "thread {t}: push {value} REFUSED: pool empty with {} segments retired, {} of \
                                     them not yet reusable",
                                    stats.segments_retired, stats.retired_pending
                                ),
                            );
                            handed_back_or_popped.push(back);
                            refused = true;
                        }
                    }
                    note(&log, format!("thread {t}: pop starts"));
                    let popped = h.pop();
                    note(&log, format!("thread {t}: pop -> {popped:?}"));
                    handed_back_or_popped.extend(popped);
                }
                (handed_back_or_popped, refused)
            })
        })
        .collect();
    let mut seen = Vec::new();
    let mut refused = false;
    for worker in workers {
        let (values, worker_refused) = worker.join().unwrap();
        seen.extend(values);
        refused |= worker_refused;
    }
    let mut h = q.handle();
    while let Some(v) = h.pop() {
        seen.push(v);
    }
    seen.sort_unstable();
    let expected: Vec<u32> = (0..threads).flat_map(|t| (0..pairs).map(move |i| t * 100 + i)).collect();
    assert_eq!(seen, expected, "every value must be popped or handed back exactly once");
    assert_eq!(q.stats().stale_views, 0, "{}: a protected segment was seen in a later generation", R::NAME);
    if refused {
        let log = std::mem::take(&mut *log.lock().unwrap());
        std::panic::panic_any(Exhausted { log });
    }
}

/// The smallest segment count at which no interleaving exhausts the pool, and the witness one below it.
struct Minimum {
    segment_count: usize,
    witness: Vec<String>,
}

fn minimal_segment_count<R: Reclaim>(pairs: u32) -> Minimum {
    let started = Instant::now();
    let mut below: Option<Vec<String>> = None;
    for segment_count in 1..=MAX_SEGMENT_COUNT {
        match explore::<R>(pairs, segment_count) {
            Some(witness) => below = Some(witness),
            None => {
                let witness = below.unwrap_or_else(|| {
                    panic!("{}: no exhausting interleaving even with 1 segment; the scenario is broken", R::NAME)
                });
                let minimum = Minimum { segment_count, witness };
                report::<R>(pairs, &minimum, started);
                return minimum;
            }
        }
    }
    panic!("{}, k = {pairs}: some interleaving exhausts even {MAX_SEGMENT_COUNT} segments", R::NAME);
}

fn report<R: Reclaim>(pairs: u32, minimum: &Minimum, started: Instant) {
    let mut text = format!(
        "{} k={pairs}: minimal segment_count {} (search took {:.1} s); an exhausting interleaving at {}:\n",
        R::NAME,
        minimum.segment_count,
        started.elapsed().as_secs_f64(),
        minimum.segment_count - 1,
    );
    for line in &minimum.witness {
        text.push_str("    ");
        text.push_str(line);
        text.push('\n');
    }
    print!("{text}");
}

/// The minimal counts for k = 1 ..= `max_pairs`.
/// Whether `SEGPOOL_LOOM_STRATEGIES` (a comma-separated list of names; all if unset) selects strategy `R`.
fn selected<R: Reclaim>() -> bool {
    std::env::var("SEGPOOL_LOOM_STRATEGIES").map_or(true, |names| names.split(',').any(|name| name.trim() == R::NAME))
}

/// Each cell is checked against its expectation as soon as it is known, so that a changed minimum fails the test
/// within that strategy's search; the other searches then stop at their next cell.
fn minimums<R: Reclaim>(max_pairs: u32) -> Vec<usize> {
    static FAILED: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);
    let preemptions = env_number("LOOM_MAX_PREEMPTIONS").unwrap_or(PREEMPTIONS);
    let name = R::NAME;
    let mut row = Vec::new();
    for pairs in (1..=max_pairs).filter(|_| selected::<R>()) {
        if FAILED.load(std::sync::atomic::Ordering::Relaxed) {
            break; // another strategy's minimum changed: its panic fails the test
        }
        let minimum = minimal_segment_count::<R>(pairs).segment_count;
        if let Some(expected) = expectations(threads(), preemptions, name, pairs)
            && minimum != expected
        {
            FAILED.store(true, std::sync::atomic::Ordering::Relaxed);
            panic!("{name} at k={pairs}: the exhaustive minimum changed: {minimum} segments, expected {expected}");
        }
        row.push(minimum);
    }
    row
}

/// Pairs searched by default per strategy, in [`minima::STRATEGIES`] order: k = 4 separates Limbo and Hazard (7)
/// from Epoch (8) within a default run; Leak needs `THREADS * k` by counting alone and costs the most to search, so
/// it stops at 3 (k = 4 adds 80 s here). HazardEras and Ibr stop at 3 too: each scan and `protect` reads the clock
/// and the records, so their k = 4 takes minutes (their cell there, 8, is Epoch's and Leak's; the explicit search
/// separates them from Epoch only from k = 7 on). `SEGPOOL_LOOM_MAX_PAIRS` sets every strategy's range.
const DEFAULT_MAX_PAIRS: [u32; STRATEGY_COUNT] = [4, 4, 4, 3, 3, 3, 3, 3];

fn env_number(name: &str) -> Option<usize> {
    let text = std::env::var(name).ok()?;
    Some(text.parse().unwrap_or_else(|_| panic!("{name} must be a number, got {text:?}")))
}

/// The expected minima for the bounds of this run, if they were established (exhaustively) before.
fn expectations(threads: u32, preemptions: usize, strategy: &str, k: u32) -> Option<usize> {
    match (threads, preemptions) {
        (2, 1) => minima::expected(&minima::LOOM_2_THREADS_1_PREEMPTION, strategy, k),
        (2, 2) => minima::expected(&minima::LOOM_2_THREADS_2_PREEMPTIONS, strategy, k),
        (3, 1) => minima::LOOM_3_THREADS_1_PREEMPTION
            .iter()
            .find(|&&(name, pairs, _)| name == strategy && pairs == k)
            .map(|&(_, _, minimum)| minimum),
        _ => None,
    }
}

/// Searches every strategy (one OS thread each: the searches are independent loom runs), prints the table and
/// asserts every cell that was established before (`verification/support/exhaustion_minima.rs`) exactly, so that
/// a strategy that reclaims later or less than it did shows at once; and checks what holds whatever the bound:
/// without reuse every value needs a segment of its own, so Leak needs at least `THREADS * k`, and no strategy
/// needs more segments than Leak, which reuses nothing.
#[test]
fn minimal_segment_count_table() {
    let threads = threads();
    let max_pairs =
        env_number("SEGPOOL_LOOM_MAX_PAIRS").map(|k| [k as u32; STRATEGY_COUNT]).unwrap_or(DEFAULT_MAX_PAIRS);
    let started = Instant::now();
    let rows: [Vec<usize>; STRATEGY_COUNT] = std::thread::scope(|s| {
        [
            s.spawn(|| minimums::<segpool::Limbo>(max_pairs[0])),
            s.spawn(|| minimums::<segpool::Hazard>(max_pairs[1])),
            s.spawn(|| minimums::<segpool::Epoch>(max_pairs[2])),
            s.spawn(|| minimums::<segpool::Leak>(max_pairs[3])),
            s.spawn(|| minimums::<segpool::HazardEras>(max_pairs[4])),
            s.spawn(|| minimums::<segpool::Ibr>(max_pairs[5])),
            s.spawn(|| minimums::<segpool::Qsbr>(max_pairs[6])),
            s.spawn(|| minimums::<segpool::Hyaline>(max_pairs[7])),
        ]
        .map(|search| search.join().unwrap_or_else(|panic| std::panic::resume_unwind(panic)))
    });
    let preemptions = env_number("LOOM_MAX_PREEMPTIONS").unwrap_or(PREEMPTIONS);
    let widest = *max_pairs.iter().max().expect("some strategies");
    let mut table = format!(
        "\nminimal segment_count for no exhaustion (loom; SegmentSize 1, Fail, {threads} threads x k push/pop pairs, \
         limbo_len 1, {preemptions} preemption(s); {:.0} s; - = not searched)\n| strategy |",
        started.elapsed().as_secs_f64()
    );
    for k in 1..=widest {
        table.push_str(&format!(" k={k} |"));
    }
    table.push_str(&format!("\n|---|{}\n", "---|".repeat(widest as usize)));
    for (name, row) in minima::STRATEGIES.iter().zip(&rows) {
        let cells: String = (0..widest as usize)
            .map(|i| row.get(i).map_or(" - |".to_string(), |count| format!(" {count} |")))
            .collect();
        table.push_str(&format!("| {name} |{cells}\n"));
    }
    // Straight to the stderr handle, which the test harness does not capture: the table is the point of the run.
    std::io::stderr().lock().write_all(table.as_bytes()).unwrap();
    let leak = &rows[minima::STRATEGIES.iter().position(|&name| name == segpool::Leak::NAME).expect("leak")];
    for (name, row) in minima::STRATEGIES.iter().zip(&rows) {
        for (k, &minimum) in (1..).zip(row) {
            if let Some(expected) = expectations(threads, preemptions, name, k) {
                assert_eq!(minimum, expected, "{name} at k={k}: the exhaustive minimum changed");
            }
            if let Some(&leak_minimum) = leak.get(k as usize - 1) {
                assert!(
                    minimum <= leak_minimum,
                    "{name} needs {minimum} segments at k={k}, more than Leak's {leak_minimum}"
                );
            }
        }
    }
    for (k, &leak_minimum) in (1..).zip(leak) {
        let values = (threads * k) as usize;
        assert!(leak_minimum >= values, "Leak cannot serve {values} values with {leak_minimum} segments");
    }
}
