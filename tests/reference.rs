#![cfg(all(feature = "reference", not(any(feature = "loom", feature = "shuttle"))))]
//! The reference strategies, `CrossbeamEpoch` (crossbeam-epoch) and `Haphazard` (haphazard), through `SegQueue`.
//!
//! - Multi-threaded exactly-once delivery and per-producer FIFO at segment sizes 1 and 64, under `OnExhausted::Grow`
//!   and under `Fail` and `Wait` with 8 segments (a refused push hands its value back and the producer retries it).
//!   Checked: no stale views, and segments are recycled.
//! - Values still in the queue are dropped exactly once when the queue drops (also with deferred work pending).
//! - A queue moved after all its handles dropped, with reclamation still pending, keeps working.
//! - A stalled handle: Haphazard holds back only what it protects; CrossbeamEpoch holds back everything retired.

use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Barrier};
use std::thread;
use std::time::{Duration, Instant};

use segpool::{Config, CrossbeamEpoch, Haphazard, OnExhausted, PushErrorKind, QueueStats, Reclaim, SegQueue};

const WAIT: OnExhausted = OnExhausted::Wait(Duration::from_millis(20));

/// A run fails instead of hanging when nothing is pushed or popped for this long.
const WATCHDOG: Duration = Duration::from_secs(if cfg!(miri) { 600 } else { 60 });

#[derive(Clone, Copy, Debug)]
struct Case {
    segment_size: usize,
    segment_count: usize,
    on_exhausted: OnExhausted,
    producers: u64,
    consumers: usize,
    per_producer: u64,
}

fn encode(producer: u64, seq: u64) -> u64 {
    (producer << 32) | seq
}

fn decode(value: u64) -> (u64, u64) {
    (value >> 32, value & 0xffff_ffff)
}

fn config(segment_size: usize, segment_count: usize, on_exhausted: OnExhausted) -> Config {
    Config { segment_size, segment_count, on_exhausted, ..Config::default() }
}

/// Runs `case` and checks exactly-once delivery, per-producer FIFO, no stale views and recycling.
fn mpmc<R: Reclaim>(case: Case) -> QueueStats {
    let started = Instant::now();
    let q: SegQueue<u64, R> =
        SegQueue::with_config(config(case.segment_size, case.segment_count, case.on_exhausted)).expect("valid config");
    let total = case.producers * case.per_producer;
    let received = AtomicU64::new(0);
    let pushed = AtomicU64::new(0);
    // Producers stay at most this many values ahead of the consumers. Without it, under Grow the producers can
    // finish before the consumers start (the queue then just grows to hold everything), and no segment retired by
    // a consumer is ever needed again.
    let backlog = 8 * case.segment_size as u64;
    let progress = AtomicU64::new(0);
    let abort = AtomicBool::new(false);
    let start = Barrier::new(case.producers as usize + case.consumers + 1);

    let (refusals, got) = thread::scope(|s| {
        let producers: Vec<_> = (0..case.producers)
            .map(|p| {
                let (q, received, pushed, progress, abort, start) = (&q, &received, &pushed, &progress, &abort, &start);
                s.spawn(move || {
                    let mut h = q.handle();
                    start.wait();
                    let mut refusals = 0u64;
                    for seq in 0..case.per_producer {
                        while pushed.load(Ordering::Relaxed) > received.load(Ordering::Relaxed) + backlog {
                            if abort.load(Ordering::Relaxed) {
                                return refusals;
                            }
                            thread::yield_now();
                        }
                        let mut value = encode(p, seq);
                        while let Err(refused) = h.push(value) {
                            let expected_kind = match case.on_exhausted {
                                OnExhausted::Fail => PushErrorKind::Exhausted,
                                OnExhausted::Wait(_) => PushErrorKind::TimedOut,
                                OnExhausted::Grow => panic!("a push under Grow was refused: {refused:?}"),
                            };
                            assert_eq!(refused.kind(), expected_kind);
                            value = refused.into_inner();
                            assert_eq!(value, encode(p, seq), "a refused push must hand its own value back");
                            refusals += 1;
                            if abort.load(Ordering::Relaxed) {
                                return refusals;
                            }
                            thread::yield_now();
                        }
                        pushed.fetch_add(1, Ordering::Relaxed);
                        progress.fetch_add(1, Ordering::Relaxed);
                    }
                    refusals
                })
            })
            .collect();
        let consumers: Vec<_> = (0..case.consumers)
            .map(|c| {
                let (q, received, progress, abort, start) = (&q, &received, &progress, &abort, &start);
                s.spawn(move || {
                    let mut h = q.handle();
                    start.wait();
                    let mut got = Vec::new();
                    let mut next_seq = vec![0u64; case.producers as usize];
                    let mut batch = Vec::new();
                    let mut round = c;
                    while received.load(Ordering::Relaxed) < total && !abort.load(Ordering::Relaxed) {
                        round += 1;
                        batch.clear();
                        let n = if round % 2 == 0 {
                            usize::from(h.pop().map(|value| batch.push(value)).is_some())
                        } else {
                            h.pop_batch(&mut batch, 1 + round % (2 * case.segment_size))
                        };
                        if n == 0 {
                            thread::yield_now();
                            continue;
                        }
                        for &value in &batch {
                            let (p, seq) = decode(value);
                            assert!(p < case.producers && seq < case.per_producer, "{value:#x} was never pushed");
                            let next = &mut next_seq[p as usize];
                            assert!(seq >= *next, "consumer {c}: producer {p}'s seq {seq} after seq {}", *next - 1);
                            *next = seq + 1;
                        }
                        got.extend_from_slice(&batch);
                        received.fetch_add(n as u64, Ordering::Relaxed);
                        progress.fetch_add(n as u64, Ordering::Relaxed);
                    }
                    got
                })
            })
            .collect();

        start.wait();
        let mut last = (progress.load(Ordering::Relaxed), Instant::now());
        while !(producers.iter().all(|t| t.is_finished()) && consumers.iter().all(|t| t.is_finished())) {
            thread::sleep(Duration::from_millis(5));
            let now = progress.load(Ordering::Relaxed);
            if now != last.0 {
                last = (now, Instant::now());
            } else if last.1.elapsed() > WATCHDOG {
                abort.store(true, Ordering::Relaxed);
                panic!(
                    "watchdog: no progress for {WATCHDOG:?} in {case:?} with {}; received {} of {total}; {:?}",
                    R::NAME,
                    received.load(Ordering::Relaxed),
                    q.stats()
                );
            }
        }
        let refusals: u64 = producers.into_iter().map(|t| t.join().expect("producer panicked")).sum();
        let got: Vec<Vec<u64>> = consumers.into_iter().map(|t| t.join().expect("consumer panicked")).collect();
        (refusals, got)
    });

    let mut seen = vec![false; total as usize];
    for value in got.into_iter().flatten() {
        let (p, seq) = decode(value);
        let slot = &mut seen[(p * case.per_producer + seq) as usize];
        assert!(!*slot, "(producer {p}, seq {seq}) received twice");
        *slot = true;
    }
    if let Some(missing) = seen.iter().position(|&s| !s) {
        let missing = missing as u64;
        panic!("(producer {}, seq {}) never received", missing / case.per_producer, missing % case.per_producer);
    }
    assert!(q.is_empty());
    assert_eq!(q.pop(), None);
    let stats = q.stats();
    println!("{} {case:?}: {refusals} refusals in {:?}, {stats:?}", R::NAME, started.elapsed());
    assert_eq!(stats.stale_views, 0, "{}: a stale view", R::NAME);
    assert!(stats.segments_recycled > 0, "{}: no segment was recycled: {stats:?}", R::NAME);
    assert!(stats.retired_pending <= stats.segments_retired);
    match case.on_exhausted {
        OnExhausted::Grow => assert_eq!(refusals, 0),
        OnExhausted::Fail => assert_eq!(stats.failed_pushes, refusals),
        OnExhausted::Wait(_) => assert_eq!(stats.wait_timeouts, refusals),
    }
    if case.on_exhausted != OnExhausted::Grow {
        assert_eq!(stats.segments_allocated, case.segment_count as u64, "only Grow allocates");
    }
    stats
}

fn cases() -> Vec<Case> {
    let mut cases = Vec::new();
    for (segment_size, per_producer) in [(1, 10_000), (64, 60_000)] {
        for (on_exhausted, segment_count) in [(OnExhausted::Grow, 2), (OnExhausted::Fail, 8), (WAIT, 8)] {
            cases.push(Case { segment_size, segment_count, on_exhausted, producers: 3, consumers: 2, per_producer });
        }
    }
    cases
}

#[test]
#[cfg_attr(miri, ignore = "30,000-180,000 values per case, far too slow for Miri: `small` runs the same checks")]
fn crossbeam_mpmc_exactly_once_fifo() {
    for case in cases() {
        mpmc::<CrossbeamEpoch>(case);
    }
}

#[test]
#[cfg_attr(miri, ignore = "30,000-180,000 values per case, far too slow for Miri: `small` runs the same checks")]
fn haphazard_mpmc_exactly_once_fifo() {
    for case in cases() {
        mpmc::<Haphazard>(case);
    }
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
    values_dropped_once::<CrossbeamEpoch>();
}

#[test]
fn haphazard_values_dropped_once() {
    values_dropped_once::<Haphazard>();
}

/// Moves the queue after every handle dropped, while retired segments may still wait for their strategy (deferred
/// closures, retired tokens), then uses it again from several threads: values intact, no stale views, and the
/// pending segments come back to the moved pool.
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
    move_after_handles_dropped::<CrossbeamEpoch>();
}

#[test]
fn haphazard_move_after_handles_dropped() {
    move_after_handles_dropped::<Haphazard>();
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

#[test]
fn crossbeam_stall_holds_back_everything() {
    let (during, after) = stall::<CrossbeamEpoch>();
    // The stalled pin lets the epoch advance at most once: nearly every segment retired during the stall waits.
    assert!(during.retired_pending + 8 >= during.segments_retired, "{during:?}");
    assert!(during.segments_allocated >= STALL_VALUES / 4, "the pool grew with the traffic: {during:?}");
    assert!(after.segments_recycled > during.segments_recycled, "reclamation resumed: {after:?}");
}

/// Small enough for Miri (`cargo +nightly miri test --test reference small`, or `scripts/miri.sh`), which checks
/// the adapters' unsafe code (haphazard's tokens and the domain borrowed by the hazard pointers) and crossbeam's. Under Miri, 12 values per producer: still three times round the 4-segment pool.
fn small<R: Reclaim>() {
    let per_producer = if cfg!(miri) { 12 } else { 40 };
    for on_exhausted in [OnExhausted::Grow, OnExhausted::Fail] {
        let case = Case { segment_size: 1, segment_count: 4, on_exhausted, producers: 2, consumers: 1, per_producer };
        mpmc::<R>(case);
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
