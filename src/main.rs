//! `cargo run --release`: the comparison command, first version.
//!
//! Runs one workload, 2 producers and 2 consumers moving `JOBS` values through a `SegQueue<_, Limbo>`, once per
//! exhaustion policy (Grow, Fail, Wait) at SegmentSize 1 and 64, and prints each run's segment accounting. Later
//! versions compare every reclamation strategy and backend; this one shows what Limbo costs under each policy.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread;
use std::time::{Duration, Instant};

use segpool::{Config, Limbo, OnExhausted, QueueStats, SegQueue};

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
fn run(config: Config) -> RunReport {
    let queue: Arc<SegQueue<u64, Limbo>> = Arc::new(SegQueue::with_config(config).expect("valid config"));
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

fn main() {
    println!(
        "segpool: {JOBS} values, {PRODUCERS} producers, {CONSUMERS} consumers, SegQueue<u64, Limbo>, \
         12 segments up front, limbo_len 8\n"
    );
    println!(
        "{:<10} {:>5} {:>8} {:>9} {:>9} {:>9} {:>9} {:>9} {:>10} {:>11} {:>6}",
        "policy",
        "size",
        "ns/value",
        "allocated",
        "recycled",
        "retired",
        "in limbo",
        "orphaned",
        "exhausted",
        "handed back",
        "stale"
    );
    let policies = [
        ("Grow", OnExhausted::Grow),
        ("Fail", OnExhausted::Fail),
        ("Wait(1ms)", OnExhausted::Wait(Duration::from_millis(1))),
    ];
    for segment_size in [1, 64] {
        for (name, on_exhausted) in policies {
            let report = run(Config { segment_size, segment_count: 12, on_exhausted, limbo_len: 8 });
            let s = report.stats;
            println!(
                "{:<10} {:>5} {:>8.1} {:>9} {:>9} {:>9} {:>9} {:>9} {:>10} {:>11} {:>6}",
                name,
                segment_size,
                report.elapsed.as_nanos() as f64 / JOBS as f64,
                s.segments_allocated,
                s.segments_recycled,
                s.segments_retired,
                s.retired_pending,
                s.segments_orphaned,
                s.exhaustion_events,
                report.handed_back,
                s.stale_views,
            );
        }
    }
    println!(
        "\nallocated: segments ever allocated; recycled: segments reused; in limbo: retired, not yet reusable;\n\
         orphaned: evicted from the limbo while referenced (reused on last release); exhausted: pushes that found the pool empty;\n\
         handed back: pushes refused (Fail) or timed out (Wait) and retried by the producer; stale: must be 0."
    );
}
