//! `cargo run --release`: the comparison command, first version.
//!
//! Runs one workload, 2 producers and 2 consumers moving `JOBS` values through a `SegQueue`, for every reclamation
//! strategy at SegmentSize 1 and 64, under `Grow` and under `Fail` (Leak only under `Grow`: it never reuses), and
//! prints each run's time and segment accounting, with the time as a ratio to the `Leak` baseline of the same size.
//! One run per cell on a noisy machine: the segment counts are exact, the times are indicative. The worker pool,
//! latency percentiles, CSV and plots come with the benchmark issue.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread;
use std::time::{Duration, Instant};

use segpool::{Config, Epoch, Hazard, Leak, Limbo, OnExhausted, QueueStats, Reclaim, SegQueue};

const JOBS: u64 = 200_000;
const PRODUCERS: u64 = 2;
const CONSUMERS: usize = 2;

struct RunReport {
    elapsed: Duration,
    handed_back: u64,
    stats: QueueStats,
}

/// Producers push `JOBS` values in total, retrying any value a push hands back; consumers pop in batches until all
/// values arrived. Exactly-once delivery is checked by summing the values.
fn run<R: Reclaim>(config: Config) -> RunReport {
    let queue: Arc<SegQueue<u64, R>> = Arc::new(SegQueue::with_config(config).expect("valid config"));
    let per_producer = JOBS / PRODUCERS;
    let done = Arc::new(AtomicBool::new(false));
    let start = Instant::now();
    let producers: Vec<_> = (0..PRODUCERS)
        .map(|p| {
            let queue = queue.clone();
            thread::spawn(move || {
                let mut handle = queue.handle();
                let mut handed_back = 0;
                for value in p * per_producer..(p + 1) * per_producer {
                    let mut pending = value;
                    while let Err(refused) = handle.push(pending) {
                        handed_back += 1;
                        pending = refused.into_inner();
                        thread::yield_now();
                    }
                }
                handed_back
            })
        })
        .collect();
    let consumers: Vec<_> = (0..CONSUMERS)
        .map(|_| {
            let queue = queue.clone();
            let done = done.clone();
            thread::spawn(move || {
                let mut handle = queue.handle();
                let mut batch = Vec::with_capacity(64);
                let (mut count, mut sum) = (0u64, 0u64);
                while !done.load(Ordering::Relaxed) || !queue.is_empty() {
                    batch.clear();
                    if handle.pop_batch(&mut batch, 64) == 0 {
                        thread::yield_now();
                        continue;
                    }
                    count += batch.len() as u64;
                    sum += batch.iter().sum::<u64>();
                }
                (count, sum)
            })
        })
        .collect();
    let handed_back = producers.into_iter().map(|p| p.join().expect("producer panicked")).sum();
    done.store(true, Ordering::Relaxed);
    let (count, sum) = consumers
        .into_iter()
        .map(|c| c.join().expect("consumer panicked"))
        .fold((0, 0), |(c, s), (c2, s2)| (c + c2, s + s2));
    let elapsed = start.elapsed();
    assert_eq!(count, JOBS, "every value must be popped exactly once");
    assert_eq!(sum, JOBS * (JOBS - 1) / 2, "every value must be popped exactly once");
    RunReport { elapsed, handed_back, stats: queue.stats() }
}

/// One table row: a strategy, a segment size and a policy.
fn row<R: Reclaim>(segment_size: usize, policy: (&str, OnExhausted), baseline_ns: &mut Option<f64>) {
    let (policy_name, on_exhausted) = policy;
    let report = run::<R>(Config { segment_size, segment_count: 12, on_exhausted, limbo_len: 8 });
    let ns = report.elapsed.as_nanos() as f64 / JOBS as f64;
    let baseline = *baseline_ns.get_or_insert(ns);
    let s = report.stats;
    println!(
        "{:<16} {:>4} {:<5} {:>8.1} {:>6.2} {:>9} {:>9} {:>9} {:>9} {:>10} {:>11} {:>6}",
        R::NAME,
        segment_size,
        policy_name,
        ns,
        ns / baseline,
        s.segments_allocated,
        s.segments_recycled,
        s.retired_pending,
        s.segments_orphaned,
        s.exhaustion_events,
        report.handed_back,
        s.stale_views,
    );
}

fn main() {
    println!(
        "segpool: {JOBS} values, {PRODUCERS} producers, {CONSUMERS} consumers, 12 segments up front \
         (Limbo: limbo_len 8)\n"
    );
    println!(
        "{:<16} {:>4} {:<5} {:>8} {:>6} {:>9} {:>9} {:>9} {:>9} {:>10} {:>11} {:>6}",
        "strategy",
        "size",
        "pol.",
        "ns/value",
        "/leak",
        "allocated",
        "recycled",
        "pending",
        "orphaned",
        "exhausted",
        "handed back",
        "stale"
    );
    let grow = ("Grow", OnExhausted::Grow);
    let fail = ("Fail", OnExhausted::Fail);
    for segment_size in [1, 64] {
        let mut baseline = None;
        row::<Leak>(segment_size, grow, &mut baseline);
        for policy in [grow, fail] {
            row::<Limbo>(segment_size, policy, &mut baseline);
            row::<Hazard>(segment_size, policy, &mut baseline);
            row::<Epoch>(segment_size, policy, &mut baseline);
            #[cfg(all(feature = "reference", not(any(feature = "loom", feature = "shuttle"))))]
            {
                row::<segpool::Haphazard>(segment_size, policy, &mut baseline);
                row::<segpool::CrossbeamEpoch>(segment_size, policy, &mut baseline);
            }
        }
        println!();
    }
    println!(
        "/leak: time per value relative to Leak (no reclamation) at the same size; allocated: segments ever\n\
         allocated; recycled: segments reused; pending: retired, not yet reusable, at the end; orphaned: reuse\n\
         deferred past the strategy's rule (Limbo: evicted while referenced; Hazard, Epoch: left by a handle that\n\
         unregistered with retired segments still waiting); exhausted: pushes that found the pool empty;\n\
         handed back: pushes refused under Fail and retried by the producer; stale: must be 0."
    );
}
