#![cfg(not(any(feature = "loom", feature = "shuttle")))]
//! Multi-threaded exactly-once delivery and per-producer FIFO, for every exhaustion policy, with few segments.
//!
//! P producers push values encoding `(producer, seq)`; a refused push (Fail, or Wait timing out) must hand back the
//! value it was given, and the producer yields and retries with it. Two consumers mix `pop` and `pop_batch` until
//! every value is received. Checked: every value received exactly once, each consumer sees each producer's values
//! in increasing `seq`, `pop_batch` never returns more than `max` or more than one segment, no stale views, and the
//! statistics agree with the policy (only Grow allocates, refusals are counted as failed pushes or wait timeouts).
//!
//! Segment counts: under `Grow` 1 or 2 segments. Under `Fail` and `Wait` a Limbo queue needs
//! `segment_count >= limbo_len + 2` to stay live at all (with fewer, the ring and the queue's last segment can hold
//! every segment, and then no retirement can ever evict one: see `tests/exhaustion.rs`), so those cases use exactly
//! `limbo_len + 2`, the fewest that can work.
//!
//! Sizes: 10k-24k values per run, so the file runs in a few seconds in the debug profile on two cores. No timing
//! assertions; a watchdog fails a run that makes no progress (and says so at once if the pool is provably wedged).

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Barrier};
use std::thread;
use std::time::{Duration, Instant};

use segpool::{Config, OnExhausted, PushErrorKind, QueueStats, Reclaim, SegQueue};

/// The watchdog fails a run that makes no progress (no push, no pop) for this long.
const WATCHDOG: Duration = Duration::from_secs(60);
/// ... or for this long if the statistics show that no segment can ever become free again (see `wedged`).
const WEDGE_WATCHDOG: Duration = Duration::from_secs(5);

const WAIT: OnExhausted = OnExhausted::Wait(Duration::from_millis(20));

#[derive(Clone, Copy, Debug)]
struct Case {
    segment_size: usize,
    segment_count: usize,
    limbo_len: usize,
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

/// Under a bounded policy, the pool holds nothing but the queue's one segment: every other segment is retired and
/// still waits for its strategy (Limbo: in the ring). Nothing can be retired any more (a retirement needs a second
/// segment in the queue), so if pushes are being refused, none will ever succeed again. (Limbo orphans are not
/// counted: they become reusable as soon as the threads referencing them leave their operations.)
fn wedged(case: &Case, stats: &QueueStats) -> bool {
    case.on_exhausted != OnExhausted::Grow && stats.segments_allocated <= stats.retired_pending + 1
}

/// Shared between the threads of one run.
struct Shared {
    received: AtomicU64,
    progress: AtomicU64,
    abort: AtomicBool,
}

fn run<R: Reclaim>(case: Case) -> QueueStats {
    let config = Config {
        segment_size: case.segment_size,
        segment_count: case.segment_count,
        on_exhausted: case.on_exhausted,
        limbo_len: case.limbo_len,
    };
    let q: Arc<SegQueue<u64, R>> = Arc::new(SegQueue::with_config(config).expect("valid config"));
    let total = case.producers * case.per_producer;
    let shared =
        Arc::new(Shared { received: AtomicU64::new(0), progress: AtomicU64::new(0), abort: AtomicBool::new(false) });
    let start = Arc::new(Barrier::new(case.producers as usize + case.consumers));

    let producers: Vec<_> = (0..case.producers)
        .map(|p| {
            let (q, shared, start) = (q.clone(), shared.clone(), start.clone());
            thread::spawn(move || {
                let mut h = q.handle();
                start.wait();
                let mut refusals = 0u64;
                for seq in 0..case.per_producer {
                    let mut value = encode(p, seq);
                    while let Err(refused) = h.push(value) {
                        let expected_kind = match case.on_exhausted {
                            OnExhausted::Fail => PushErrorKind::Exhausted,
                            OnExhausted::Wait(_) => PushErrorKind::TimedOut,
                            OnExhausted::Grow => {
                                panic!("a push under Grow was refused ({:?})", refused.kind())
                            }
                        };
                        assert_eq!(refused.kind(), expected_kind);
                        let back = refused.into_inner();
                        assert_eq!(back, encode(p, seq), "a refused push must hand its own value back");
                        value = back;
                        refusals += 1;
                        if shared.abort.load(Ordering::Relaxed) {
                            return refusals;
                        }
                        thread::yield_now();
                    }
                    shared.progress.fetch_add(1, Ordering::Relaxed);
                }
                refusals
            })
        })
        .collect();

    let consumers: Vec<_> = (0..case.consumers)
        .map(|c| {
            let (q, shared, start) = (q.clone(), shared.clone(), start.clone());
            thread::spawn(move || {
                let mut h = q.handle();
                start.wait();
                let mut got = Vec::with_capacity(total as usize);
                let mut next_seq = vec![0u64; case.producers as usize];
                let mut batch = Vec::new();
                let mut round = c; // the consumers start out of phase
                while shared.received.load(Ordering::Relaxed) < total && !shared.abort.load(Ordering::Relaxed) {
                    round += 1;
                    batch.clear();
                    let n = if round.is_multiple_of(3) {
                        usize::from(h.pop().map(|value| batch.push(value)).is_some())
                    } else {
                        // 1..=2*segment_size: sometimes more than one segment could hold.
                        let max = 1 + round % (2 * case.segment_size);
                        let n = h.pop_batch(&mut batch, max);
                        assert!(n <= max, "pop_batch({max}) returned {n}");
                        assert!(n <= case.segment_size, "pop_batch took {n} values, more than one segment holds");
                        n
                    };
                    assert_eq!(n, batch.len(), "the count returned must be the number of values appended");
                    if n == 0 {
                        thread::yield_now();
                        continue;
                    }
                    for &value in &batch {
                        let (p, seq) = decode(value);
                        assert!(p < case.producers && seq < case.per_producer, "value {value:#x} was never pushed");
                        let next = &mut next_seq[p as usize];
                        assert!(seq >= *next, "consumer {c}: producer {p}'s seq {seq} arrived after seq {}", *next - 1);
                        *next = seq + 1;
                    }
                    got.extend_from_slice(&batch);
                    shared.received.fetch_add(n as u64, Ordering::Relaxed);
                    shared.progress.fetch_add(n as u64, Ordering::Relaxed);
                }
                got
            })
        })
        .collect();

    // Watchdog: fail instead of hanging when nothing is pushed or popped for too long.
    let mut last = (shared.progress.load(Ordering::Relaxed), Instant::now());
    while !(producers.iter().all(|t| t.is_finished()) && consumers.iter().all(|t| t.is_finished())) {
        thread::sleep(Duration::from_millis(5));
        let now = shared.progress.load(Ordering::Relaxed);
        if now != last.0 {
            last = (now, Instant::now());
            continue;
        }
        let stats = q.stats();
        let stalled = last.1.elapsed();
        if stalled > WATCHDOG || (stalled > WEDGE_WATCHDOG && wedged(&case, &stats)) {
            shared.abort.store(true, Ordering::Relaxed);
            let diagnosis = if wedged(&case, &stats) {
                "the pool is wedged: every segment but the queue's last one is retired and pending, so no \
                 retirement (and no eviction) can happen again"
            } else {
                "no diagnosis"
            };
            panic!(
                "watchdog: no push or pop for {stalled:?} in {case:?}; received {} of {total}, len {}; {diagnosis}; \
                 {stats:?}",
                shared.received.load(Ordering::Relaxed),
                q.len(),
            );
        }
    }
    let refusals: u64 = producers.into_iter().map(|t| t.join().expect("producer panicked")).sum();
    let mut seen = vec![false; total as usize];
    for consumer in consumers {
        for value in consumer.join().expect("consumer panicked") {
            let (p, seq) = decode(value);
            let slot = &mut seen[(p * case.per_producer + seq) as usize];
            assert!(!*slot, "value (producer {p}, seq {seq}) received twice");
            *slot = true;
        }
    }
    if let Some(missing) = seen.iter().position(|&s| !s) {
        let missing = missing as u64;
        panic!("value (producer {}, seq {}) never received", missing / case.per_producer, missing % case.per_producer);
    }
    assert!(q.is_empty(), "everything was received, so the queue is empty");
    let stats = q.stats();
    println!("{case:?}: {refusals} refusals, {stats:?}");
    assert_eq!(stats.stale_views, 0, "{case:?}: {stats:?}");
    match case.on_exhausted {
        OnExhausted::Grow => {
            assert_eq!((stats.failed_pushes, stats.waits, refusals), (0, 0, 0), "{stats:?}");
            assert_eq!(stats.segments_allocated, case.segment_count as u64 + stats.grown, "{stats:?}");
        }
        OnExhausted::Fail => {
            assert_eq!((stats.grown, stats.waits), (0, 0), "{stats:?}");
            assert_eq!(stats.failed_pushes, refusals, "{stats:?}");
            assert_eq!(stats.segments_allocated, case.segment_count as u64, "only Grow allocates: {stats:?}");
        }
        OnExhausted::Wait(_) => {
            assert_eq!((stats.grown, stats.failed_pushes), (0, 0), "{stats:?}");
            assert_eq!(stats.wait_timeouts, refusals, "{stats:?}");
            assert!(stats.wait_timeouts <= stats.waits, "{stats:?}");
            assert_eq!(stats.segments_allocated, case.segment_count as u64, "only Grow allocates: {stats:?}");
        }
    }
    assert!(stats.exhaustion_events >= stats.grown + stats.failed_pushes, "{stats:?}");
    stats
}

/// Both producer counts for one policy and segment size: 2 producers with the first `(segment_count, limbo_len)`,
/// 3 producers with the second.
fn stress<R: Reclaim>(on_exhausted: OnExhausted, segment_size: usize, shapes: [(usize, usize); 2]) {
    for (producers, (segment_count, limbo_len)) in [(2, shapes[0]), (3, shapes[1])] {
        let segment_count = match on_exhausted {
            OnExhausted::Grow => segment_count,
            _ => limbo_len + 2, // the fewest segments with which a bounded Limbo queue can stay live
        };
        run::<R>(Case {
            segment_size,
            segment_count,
            limbo_len,
            on_exhausted,
            producers,
            consumers: 2,
            // Enough values for the big segments to go round the pool several times.
            per_producer: match segment_size {
                1..=63 => 5_000,
                _ => 8_000,
            },
        });
    }
}

/// `(segment_count, limbo_len)` for the 2- and 3-producer runs of each segment size.
const SHAPES: [(usize, [(usize, usize); 2]); 5] = [
    (1, [(1, 1), (2, 2)]),
    (2, [(2, 1), (1, 3)]),
    (3, [(1, 1), (2, 4)]),
    (64, [(2, 2), (1, 8)]),
    (1024, [(1, 2), (2, 2)]),
];

fn stress_size<R: Reclaim>(on_exhausted: OnExhausted, segment_size: usize) {
    let (_, shapes) = SHAPES.iter().find(|(size, _)| *size == segment_size).expect("a listed size");
    stress::<R>(on_exhausted, segment_size, *shapes);
}

/// One test per (strategy, policy, segment size). A strategy lists the policies it can stay live under: `Leak`
/// never reuses a segment, so under `Fail` or `Wait` it would refuse every push once its prefill is used up.
macro_rules! stress_tests {
    ($($(#[$attr:meta])* $module:ident => $strategy:ty { $($policy_module:ident: $policy:expr),* $(,)? }),* $(,)?) => {$(
        $(#[$attr])*
        mod $module {
            use super::*;
            $(
                mod $policy_module {
                    use super::*;
                    #[test]
                    #[cfg_attr(miri, ignore = "10,000-24,000 values over 4-5 threads: hours under Miri; \
                                               tests/miri.rs and drops.rs run the same paths at Miri scale")]
                    fn size_1() { stress_size::<$strategy>($policy, 1) }
                    #[test]
                    #[cfg_attr(miri, ignore = "10,000-24,000 values over 4-5 threads: hours under Miri; \
                                               tests/miri.rs and drops.rs run the same paths at Miri scale")]
                    fn size_2() { stress_size::<$strategy>($policy, 2) }
                    #[test]
                    #[cfg_attr(miri, ignore = "10,000-24,000 values over 4-5 threads: hours under Miri; \
                                               tests/miri.rs and drops.rs run the same paths at Miri scale")]
                    fn size_3() { stress_size::<$strategy>($policy, 3) }
                    #[test]
                    #[cfg_attr(miri, ignore = "10,000-24,000 values over 4-5 threads: hours under Miri; \
                                               tests/miri.rs and drops.rs run the same paths at Miri scale")]
                    fn size_64() { stress_size::<$strategy>($policy, 64) }
                    #[test]
                    #[cfg_attr(miri, ignore = "10,000-24,000 values over 4-5 threads: hours under Miri; \
                                               tests/miri.rs and drops.rs run the same paths at Miri scale")]
                    fn size_1024() { stress_size::<$strategy>($policy, 1024) }
                }
            )*
        }
    )*};
}

stress_tests! {
    limbo => segpool::Limbo { grow: OnExhausted::Grow, fail: OnExhausted::Fail, wait: WAIT },
    leak => segpool::Leak { grow: OnExhausted::Grow },
    hazard => segpool::Hazard { grow: OnExhausted::Grow, fail: OnExhausted::Fail, wait: WAIT },
    epoch => segpool::Epoch { grow: OnExhausted::Grow, fail: OnExhausted::Fail, wait: WAIT },
    #[cfg(feature = "reference")]
    haphazard => segpool::Haphazard { grow: OnExhausted::Grow, fail: OnExhausted::Fail, wait: WAIT },
    #[cfg(feature = "reference")]
    crossbeam_epoch => segpool::CrossbeamEpoch { grow: OnExhausted::Grow, fail: OnExhausted::Fail, wait: WAIT },
}
