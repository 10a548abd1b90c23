#![cfg(all(feature = "reference", segpool_std))]
//! The reference strategies, `CrossbeamEpoch` (crossbeam-epoch), `Haphazard` (haphazard), `FastSmr` (fast-smr) and
//! `Seize` (seize), through `SegQueue`.
//!
//! - Multi-threaded exactly-once delivery and per-producer FIFO at segment sizes 1 and 64, under `OnExhausted::Grow`
//!   and under `Fail` and `Wait` with 8 segments (a refused push hands its value back and the producer retries it).
//!   Checked: no stale views, and segments are recycled.
//! - Values still in the queue are dropped exactly once when the queue drops (also with deferred work pending).
//! - A queue moved after all its handles dropped, with reclamation still pending, keeps working.
//! - A stalled handle: Haphazard holds back only what it protects; FastSmr only the lives that overlap its reserved
//!   epoch; CrossbeamEpoch and Seize (Hyaline-1) hold back everything retired.

mod support;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::thread;
use std::time::Duration;

use segpool::{Config, CrossbeamEpoch, FastSmr, Haphazard, OnExhausted, QueueStats, Reclaim, SegQueue, Seize};
use support::{Stress, decode, encode};

const WAIT: OnExhausted = OnExhausted::Wait(Duration::from_millis(20));

fn config(segment_size: usize, segment_count: usize, on_exhausted: OnExhausted) -> Config {
    Config { segment_size, segment_count, on_exhausted, ..Config::default() }
}

/// `producers` threads push `per_producer` values each into a queue with `config`, `consumers` threads pop them:
/// the checks of [`support::Stress`] (exactly-once delivery, per-producer FIFO, no stale views), and segments are
/// recycled. Producers stay at most eight segments' worth of values ahead of the consumers, so that under Grow
/// segments retired by the consumers are needed again.
fn mpmc<R: Reclaim>(config: Config, producers: u64, consumers: usize, per_producer: u64) -> QueueStats {
    let backlog = 8 * config.segment_size as u64;
    let stats = Stress::new(config, producers, per_producer).consumers(consumers).throttle(backlog).run::<R>().stats;
    assert!(stats.segments_recycled > 0, "{}: no segment was recycled: {stats:?}", R::NAME);
    stats
}

/// Segment sizes 1 and 64, each under `Grow` (2 segments), `Fail` and `Wait` (8 segments): 3 producers, 2 consumers.
fn mpmc_cases<R: Reclaim>() {
    for (segment_size, per_producer) in [(1, 10_000), (64, 60_000)] {
        for (on_exhausted, segment_count) in [(OnExhausted::Grow, 2), (OnExhausted::Fail, 8), (WAIT, 8)] {
            mpmc::<R>(config(segment_size, segment_count, on_exhausted), 3, 2, per_producer);
        }
    }
}

#[test]
#[cfg_attr(miri, ignore = "30,000-180,000 values per case, far too slow for Miri: `small` runs the same checks")]
fn crossbeam_mpmc_exactly_once_fifo() {
    mpmc_cases::<CrossbeamEpoch>();
}

#[test]
#[cfg_attr(miri, ignore = "30,000-180,000 values per case, far too slow for Miri: `small` runs the same checks")]
fn haphazard_mpmc_exactly_once_fifo() {
    mpmc_cases::<Haphazard>();
}

#[test]
#[cfg_attr(miri, ignore = "30,000-180,000 values per case, far too slow for Miri: `small` runs the same checks")]
fn fast_smr_mpmc_exactly_once_fifo() {
    mpmc_cases::<FastSmr>();
}

#[test]
#[cfg_attr(miri, ignore = "30,000-180,000 values per case, far too slow for Miri: `small` runs the same checks")]
fn seize_mpmc_exactly_once_fifo() {
    mpmc_cases::<Seize>();
}

/// A value that counts its drops.
struct Tracked {
    value: u64,
    drops: Arc<AtomicUsize>,
}

impl Drop for Tracked {
    fn drop(&mut self) {
        self.drops.fetch_add(1, Ordering::Relaxed);
    }
}

/// Threads push and pop (some values popped, the rest left behind, reclamation still pending), then the queue
/// drops: every value is dropped exactly once, popped ones by their consumer, the rest by the queue.
fn values_dropped_once<R: Reclaim>() {
    let drops = Arc::new(AtomicUsize::new(0));
    const THREADS: u64 = if cfg!(miri) { 2 } else { 4 };
    const PER_THREAD: u64 = if cfg!(miri) { 12 } else { 2_000 };
    let q: SegQueue<Tracked, R> = SegQueue::with_config(config(3, 2, OnExhausted::Grow)).expect("valid config");
    let popped = AtomicUsize::new(0);
    thread::scope(|s| {
        for t in 0..THREADS {
            let (q, drops, popped) = (&q, &drops, &popped);
            s.spawn(move || {
                let mut h = q.handle();
                for i in 0..PER_THREAD {
                    let value = Tracked { value: encode(t, i), drops: Arc::clone(drops) };
                    assert!(h.push(value).is_ok(), "Grow never refuses");
                    if i % 3 == 0
                        && let Some(value) = h.pop()
                    {
                        assert!(decode(value.value).1 < PER_THREAD);
                        popped.fetch_add(1, Ordering::Relaxed);
                    }
                }
            });
        }
    });
    let popped = popped.into_inner();
    let total = (THREADS * PER_THREAD) as usize;
    assert_eq!(drops.load(Ordering::Relaxed), popped, "popped values are dropped by their consumer, once");
    assert_eq!(q.len(), total - popped);
    let stats = q.stats();
    assert_eq!(stats.stale_views, 0);
    drop(q);
    assert_eq!(drops.load(Ordering::Relaxed), total, "{}: every value dropped exactly once ({stats:?})", R::NAME);
}

#[test]
fn crossbeam_values_dropped_once() {
    support::bounded(|| {
        values_dropped_once::<CrossbeamEpoch>();
    })
}

#[test]
fn haphazard_values_dropped_once() {
    support::bounded(|| {
        values_dropped_once::<Haphazard>();
    })
}

#[test]
fn fast_smr_values_dropped_once() {
    support::bounded(|| {
        values_dropped_once::<FastSmr>();
    })
}

#[test]
fn seize_values_dropped_once() {
    support::bounded(|| {
        values_dropped_once::<Seize>();
    })
}

/// Moves the queue after every handle dropped, while retired segments may still wait for their strategy (deferred
/// closures, retired tokens), then uses it again from several threads: values intact, no stale views, and the
/// pending segments come back to the moved pool (Seize's wait in the retiring guard's batch, not yet flushed).
fn move_after_handles_dropped<R: Reclaim>() {
    /// Three threads each push `PER_THREAD` values (retrying refused pushes) and pop as they go; then the rest is
    /// drained. Every value must come out exactly once.
    fn traffic<R: Reclaim>(q: &SegQueue<u64, R>, round: u64) {
        const PER_THREAD: u64 = if cfg!(miri) { 6 } else { 2_000 };
        let mut got: Vec<u64> = thread::scope(|s| {
            let threads: Vec<_> = (0..3)
                .map(|t| {
                    s.spawn(move || {
                        let mut h = q.handle();
                        let mut got = Vec::new();
                        for i in 0..PER_THREAD {
                            let mut value = encode(round * 8 + t, i);
                            while let Err(refused) = h.push(value) {
                                value = refused.into_inner();
                                got.extend(h.pop()); // make room ourselves if we can
                                thread::yield_now();
                            }
                            got.extend(h.pop());
                        }
                        got
                    })
                })
                .collect();
            threads.into_iter().flat_map(|t| t.join().expect("traffic thread panicked")).collect()
        });
        got.extend(std::iter::from_fn(|| q.pop()));
        got.sort_unstable();
        let expected: Vec<u64> = (0..3).flat_map(|t| (0..PER_THREAD).map(move |i| encode(round * 8 + t, i))).collect();
        assert!(got == expected, "round {round}: not every value came out exactly once");
    }

    let q: SegQueue<u64, R> = SegQueue::with_config(config(2, 8, OnExhausted::Fail)).expect("valid config");
    traffic(&q, 0);
    // Leave reclamation outstanding at the move: one handle stalls (pinned, or protecting the head) while another
    // retires a few segments, then both drop, so the retired segments wait in the strategy (deferred closures,
    // retired tokens). Repeated in case the strategy caught up on its own.
    for attempt in 1.. {
        assert!(attempt <= 100, "{}: could not leave reclamation pending: {:?}", R::NAME, q.stats());
        let mut stalled = q.handle();
        let mut worker = q.handle();
        let stall = stalled.stall();
        for i in 0..6 {
            let mut value = i;
            while let Err(refused) = worker.push(value) {
                value = refused.into_inner();
            }
            assert_eq!(worker.pop(), Some(i));
        }
        drop((worker, stall));
        drop(stalled);
        if q.stats().retired_pending > 0 {
            break;
        }
    }
    let before = q.stats();
    println!("{} before the moves: {before:?}", R::NAME);

    // Move it twice with no handle alive: onto the heap, then to another thread, which uses it and hands it back.
    let boxed = Box::new(q);
    let q = thread::spawn(move || {
        let q = *boxed;
        traffic(&q, 1);
        q
    })
    .join()
    .expect("the thread using the moved queue panicked");
    traffic(&q, 2);

    // Single-threaded FIFO on the twice-moved queue: 8 segments of 2 slots carry 100 values (Miri: 20) only by
    // recycling.
    let mut h = q.handle();
    for i in 0..if cfg!(miri) { 20 } else { 100 } {
        let mut value = i;
        let mut refusals = 0;
        while let Err(refused) = h.push(value) {
            value = refused.into_inner();
            refusals += 1;
            assert!(refusals < 10_000, "{}: the pool never refilled: {:?}", R::NAME, q.stats());
        }
        assert_eq!(h.pop(), Some(i));
    }
    drop(h);
    let after = q.stats();
    println!("{} after the moves: {after:?}", R::NAME);
    assert_eq!(after.stale_views, 0);
    assert_eq!(after.segments_allocated, 8, "Fail never allocates");
    assert!(after.segments_recycled > before.segments_recycled, "segments kept being recycled after the moves");
}

#[test]
fn crossbeam_move_after_handles_dropped() {
    support::bounded(|| {
        move_after_handles_dropped::<CrossbeamEpoch>();
    })
}

#[test]
fn haphazard_move_after_handles_dropped() {
    support::bounded(|| {
        move_after_handles_dropped::<Haphazard>();
    })
}

#[test]
fn fast_smr_move_after_handles_dropped() {
    support::bounded(|| {
        move_after_handles_dropped::<FastSmr>();
    })
}

#[test]
fn seize_move_after_handles_dropped() {
    support::bounded(|| {
        move_after_handles_dropped::<Seize>();
    })
}

/// Values pushed and popped during the stall in `stall`, and again after it.
const STALL_VALUES: u64 = if cfg!(miri) { 40 } else { 2_000 };

/// One handle stalls inside a pop (protecting the head segment) while another pushes and pops `STALL_VALUES`
/// values. Returns the statistics during the stall and after it ended and traffic resumed.
fn stall<R: Reclaim>() -> (QueueStats, QueueStats) {
    let q: SegQueue<u64, R> = SegQueue::with_config(config(4, 4, OnExhausted::Grow)).expect("valid config");
    let mut stalled = q.handle();
    let mut worker = q.handle();
    worker.push(0).expect("Grow");
    let during = {
        let _stall = stalled.stall();
        for i in 0..STALL_VALUES {
            worker.push(i).expect("Grow");
            worker.pop().expect("non-empty");
        }
        q.stats()
    };
    for i in 0..STALL_VALUES {
        worker.push(i).expect("Grow");
        worker.pop().expect("non-empty");
    }
    let after = q.stats();
    println!("{} stalled: {during:?}\n{} resumed: {after:?}", R::NAME, R::NAME);
    assert_eq!(after.stale_views, 0);
    (during, after)
}

#[test]
fn haphazard_stall_holds_back_only_the_protected_segment() {
    let (during, after) = stall::<Haphazard>();
    // Every time the pool runs dry, `collect` reclaims all but the stalled segment; in between, at most the pool's
    // 4 segments can have been retired since.
    assert!(during.segments_allocated < 16, "the pool barely grew during the stall: {during:?}");
    assert!(during.retired_pending <= during.segments_allocated, "{during:?}");
    assert!(after.retired_pending <= 4, "{after:?}");
}

/// 2GEIBR: the stalled pop reserved one epoch, which only the lives alive at that epoch overlap (the head segment,
/// and the tail if it was another); every later life is born after it, so reclamation goes on around the stall.
#[test]
fn fast_smr_stall_holds_back_only_the_lives_of_its_epoch() {
    let (during, after) = stall::<FastSmr>();
    assert!(during.segments_allocated < 16, "the pool barely grew during the stall: {during:?}");
    assert!(during.segments_recycled >= STALL_VALUES / 8, "reclamation went on during the stall: {during:?}");
    assert!(during.retired_pending <= during.segments_allocated, "{during:?}");
    assert!(after.retired_pending <= 4, "{after:?}");
}

#[test]
fn crossbeam_stall_holds_back_everything() {
    let (during, after) = stall::<CrossbeamEpoch>();
    // The stalled pin lets the epoch advance at most once: nearly every segment retired during the stall waits.
    assert!(during.retired_pending + 8 >= during.segments_retired, "{during:?}");
    assert!(during.segments_allocated >= STALL_VALUES / 4, "the pool grew with the traffic: {during:?}");
    assert!(after.segments_recycled > during.segments_recycled, "reclamation resumed: {after:?}");
}

/// Hyaline-1 (seize): the stalled pop's reservation holds every batch retired while it lasts (here the worker shares
/// its thread, hence its reservation, with the stall: the same thing), so under `Grow` the pool grows with the
/// traffic; when the stall ends its leave frees them all, and nothing stays pending but what waits in the retiring
/// guard's batch for the next flush.
#[test]
fn seize_stall_holds_back_everything() {
    let (during, after) = stall::<Seize>();
    assert_eq!(during.retired_pending, during.segments_retired, "nothing reclaimed during the stall: {during:?}");
    assert!(during.segments_retired >= STALL_VALUES / 4 - 1, "{during:?}");
    assert!(during.segments_allocated >= STALL_VALUES / 4, "the pool grew with the traffic: {during:?}");
    assert!(
        after.retired_pending < segpool::reclaim::seize::RETIRE_BATCH as u64,
        "every operation since the stall has left: {after:?}"
    );
    assert!(after.segments_recycled > during.segments_recycled, "reclamation resumed: {after:?}");
}

/// Small enough for Miri (`cargo +nightly miri test --test reference small`, or `scripts/miri.sh`), which checks
/// the adapters' unsafe code (haphazard's tokens and the domain borrowed by the hazard pointers) and crossbeam's. Under Miri, 12 values per producer: still three times round the 4-segment arena.
fn small<R: Reclaim>() {
    let per_producer = if cfg!(miri) { 12 } else { 40 };
    for on_exhausted in [OnExhausted::Grow, OnExhausted::Fail] {
        mpmc::<R>(config(1, 4, on_exhausted), 2, 1, per_producer);
    }
}

#[test]
fn crossbeam_small() {
    small::<CrossbeamEpoch>();
}

#[test]
fn haphazard_small() {
    small::<Haphazard>();
}

#[test]
fn fast_smr_small() {
    small::<FastSmr>();
}

#[test]
fn seize_small() {
    small::<Seize>();
}
