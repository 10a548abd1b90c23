//! Shuttle models of `SegQueue` at a scale loom cannot explore: 5 to 7 threads (plus the main thread) and 200 to
//! 400 operations per schedule, for every strategy written against the facade, at SegmentSize 1 (a segment per
//! value: the hard case) and larger. Every strategy runs growing pools (`OnExhausted::Grow`); Limbo, Hazard and
//! Epoch also run bounded pools under `OnExhausted::Fail` (pushes are refused and retried) and `OnExhausted::Wait`,
//! which Leak, never reusing a segment, cannot serve. The strategies come from `support::for_each_strategy!`, the
//! list of the std suite. Even consumers pop with `pop_batch` (up to 3 values), odd ones with `pop`.
//!
//! Every model checks, in every schedule: each value arrives exactly once, each consumer sees each producer's
//! values in order, a refused push hands its own value back (and the queue counts exactly the refusals the
//! producers saw), and no protected segment is ever seen in a later generation (`stats().stale_views == 0`).
//!
//! Run: `cargo test --release --features shuttle --test shuttle_queue`. `SEGPOOL_SHUTTLE_ITERATIONS` (default
//! 1000 schedules per model), `SEGPOOL_SHUTTLE_SCHEDULER` (`pct`, the default, or `random`) and
//! `SEGPOOL_SHUTTLE_DEPTH` (PCT depth, default 3) set the search; see `segpool::sync::model`. A failure prints
//! the command that replays its schedule (`SEGPOOL_SHUTTLE_REPLAY=...`). A research run: e.g.
//! `SEGPOOL_SHUTTLE_ITERATIONS=100000 cargo test --release --features shuttle --test shuttle_queue`, and again
//! with `SEGPOOL_SHUTTLE_SCHEDULER=random`.
//!
//! Each model's doc states its size and its time here (2 cores, `--release`, default settings, run alone; the
//! suite runs two at a time).
#![cfg(feature = "shuttle")]

#[path = "../support/mod.rs"]
mod support;

use std::time::Duration;

use segpool::sync::{Arc, AtomicUsize, Ordering, thread};
use segpool::{Config, OnExhausted, PushErrorKind, Reclaim, SegQueue};
use support::{STRIDE, assert_exactly_once, assert_fifo_per_producer, pushed, value};

/// One model: `producers` threads push `per_producer` values each, `consumers` threads pop until all are in.
#[derive(Clone, Debug)]
struct Scenario {
    producers: u32,
    per_producer: u32,
    consumers: usize,
    config: Config,
    /// Before the threads start, the main thread pushes until the first refusal, so every schedule begins with
    /// an exhausted pool (only meaningful under `Fail`: under `Wait` the push would block).
    prefill: bool,
}

/// The producer id of the main thread's values (`support::value`).
const PREFILL: u32 = 99;

/// A `Wait` long enough never to expire: shuttle's `Condvar::wait_timeout` never times out, and the deadline is
/// real time, so a waiting producer leaves only when a segment is handed back (or shuttle reports a deadlock).
const FOREVER: Duration = Duration::from_secs(3600);

impl Scenario {
    fn run<R: Reclaim>(self) {
        segpool::sync::model(move || self.execute::<R>());
    }

    fn execute<R: Reclaim>(&self) {
        let q = Arc::new(SegQueue::<u32, R>::with_config(self.config.clone()).unwrap());
        let mut prefilled = 0;
        if self.prefill {
            let mut h = q.handle();
            while h.push(value(PREFILL, prefilled)).is_ok() {
                prefilled += 1;
                assert!(prefilled < STRIDE, "a bounded pool must refuse the prefill before {STRIDE} values");
            }
        }
        let total = (self.producers * self.per_producer + prefilled) as usize;
        let popped = Arc::new(AtomicUsize::new(0));
        let producers: Vec<_> = (0..self.producers)
            .map(|p| {
                let (q, per_producer, policy) = (q.clone(), self.per_producer, self.config.on_exhausted);
                thread::spawn(move || produce(&q, p, per_producer, policy))
            })
            .collect();
        let consumers: Vec<_> = (0..self.consumers)
            .map(|c| {
                let (q, popped) = (q.clone(), popped.clone());
                thread::spawn(move || consume(&q, &popped, total, c))
            })
            .collect();
        let refused: u64 = producers.into_iter().map(|p| p.join().unwrap()).sum();
        let mut all = Vec::with_capacity(total);
        for consumer in consumers {
            let got = consumer.join().unwrap();
            assert_fifo_per_producer(&got);
            all.extend(got);
        }
        let prefill = (0..prefilled).map(|seq| value(PREFILL, seq));
        assert_exactly_once(all, pushed(self.producers, self.per_producer).chain(prefill), "every value exactly once");
        assert_eq!(q.pop(), None);
        let stats = q.stats();
        assert_eq!(stats.stale_views, 0, "a segment was reused while protected: {stats:?}");
        // The prefill's own refusal is counted by the queue too.
        assert_eq!(stats.failed_pushes, refused + u64::from(self.prefill), "{stats:?}");
        assert_eq!(stats.wait_timeouts, 0, "{stats:?}");
    }
}

/// Pushes `per_producer` values, retrying refused ones; returns how many pushes were refused.
fn produce<R: Reclaim>(q: &SegQueue<u32, R>, p: u32, per_producer: u32, policy: OnExhausted) -> u64 {
    let mut h = q.handle();
    let mut refused = 0;
    for seq in 0..per_producer {
        let mut pushed = value(p, seq);
        while let Err(error) = h.push(pushed) {
            assert!(
                policy == OnExhausted::Fail && error.kind() == PushErrorKind::Exhausted,
                "{policy:?} refused a push: {error}"
            );
            pushed = error.into_inner();
            assert_eq!(pushed, value(p, seq), "a refused push must hand its own value back");
            refused += 1;
            thread::yield_now();
        }
    }
    refused
}

/// Pops until `total` values are out (counted over all consumers). Odd consumers use `pop`, even ones
/// `pop_batch` with a batch of 3, so both paths race each other.
fn consume<R: Reclaim>(q: &SegQueue<u32, R>, popped: &AtomicUsize, total: usize, c: usize) -> Vec<u32> {
    let mut h = q.handle();
    let mut got = Vec::new();
    while popped.load(Ordering::Relaxed) < total {
        let n = if c.is_multiple_of(2) {
            h.pop_batch(&mut got, 3)
        } else {
            usize::from(h.pop().map(|value| got.push(value)).is_some())
        };
        if n == 0 {
            thread::yield_now();
        } else {
            popped.fetch_add(n, Ordering::Relaxed);
        }
    }
    got
}

/// 4 producers x 40 values after a prefill of 12 (the whole pool), 3 consumers (8 threads with main):
/// SegmentSize=2, six segments, a two-entry limbo, `Fail`. Segments recycle every few values; 350 to 400
/// operations per schedule with the refused pushes. (Limbo under `Fail` needs
/// `segment_count >= limbo_len + 2`: with fewer, the ring and the queue's last segment hold every segment and no
/// retirement can ever evict one again. Shuttle finds that livelock within a few schedules when the count is 3.)
fn recycling() -> Scenario {
    Scenario {
        producers: 4,
        per_producer: 40,
        consumers: 3,
        config: Config { segment_size: 2, segment_count: 6, on_exhausted: OnExhausted::Fail, limbo_len: 2 },
        prefill: true,
    }
}

/// 3 producers x 40 values after a prefill of 6 (the whole pool), 3 consumers (7 threads with main):
/// SegmentSize=1, the hard case (every value retires a segment, so reclamation runs once per value), six segments,
/// `Fail`. About 300 operations per schedule with the refused pushes.
fn size_one() -> Scenario {
    Scenario {
        producers: 3,
        per_producer: 40,
        consumers: 3,
        config: Config { segment_size: 1, segment_count: 6, on_exhausted: OnExhausted::Fail, limbo_len: 2 },
        prefill: true,
    }
}

/// 3 producers x 30 values, 2 consumers (6 threads with main): SegmentSize=1, six segments, `Wait`; 180
/// operations plus the waits. A producer that finds the pool empty blocks in `SegmentArena::wait_take` until a
/// consumer's reclamation hands a segment back; a lost wake-up leaves it blocked and shuttle reports the deadlock.
///
/// This model found a liveness bug in Hazard and Epoch: the shortage signal was raised only by `collect`, which
/// a producer calls once before it starts waiting, and each handle answered it once. Segments that one scan or
/// epoch step could not free yet stayed on the consumers' lists while the producers waited for good. Now a handle
/// gives back at every operation while a thread waits (`SegmentStore::starving`).
fn waiting() -> Scenario {
    Scenario {
        producers: 3,
        per_producer: 30,
        consumers: 2,
        config: Config { segment_size: 1, segment_count: 6, on_exhausted: OnExhausted::Wait(FOREVER), limbo_len: 2 },
        prefill: false,
    }
}

/// 4 producers x 30 values, 3 consumers (8 threads with main) under `Grow`, starting from two segments; 240
/// operations per schedule.
fn growing(size: usize) -> Scenario {
    Scenario {
        producers: 4,
        per_producer: 30,
        consumers: 3,
        config: Config { segment_size: size, segment_count: 2, on_exhausted: OnExhausted::Grow, limbo_len: 2 },
        prefill: false,
    }
}

// One module per strategy (`support::for_each_strategy!`): `limbo::recycling`, ..., `leak::growing`. Every strategy
// runs the `Grow` models; those that reuse segments (all but Leak, which under `Fail` or `Wait` would refuse every
// push once its prefill is used up) run the bounded ones too.
support::for_each_strategy! {
    |R| {
        /// [`growing`] at SegmentSize=1 (a fresh segment per value under Leak): ~0.5 s for 1000 PCT schedules of
        /// depth 3 with Leak.
        #[test]
        fn growing_size_one() {
            super::growing(1).run::<R>();
        }

        /// [`growing`] at SegmentSize=3: ~0.3 s for 1000 PCT schedules of depth 3 with Leak.
        #[test]
        fn growing() {
            super::growing(3).run::<R>();
        }
    }
    if recycles {
        /// [`recycling`]: ~1.7 s (Limbo, Hazard) to 2.1 s (Epoch) for 1000 PCT schedules of depth 3.
        #[test]
        fn recycling() {
            super::recycling().run::<R>();
        }

        /// [`size_one`]: ~1.3 s (Hazard) to 1.6 s (Limbo, Epoch) for 1000 PCT schedules of depth 3.
        #[test]
        fn size_one() {
            super::size_one().run::<R>();
        }

        /// [`waiting`]: ~0.9 s for 1000 PCT schedules of depth 3 with Limbo.
        #[test]
        fn waiting() {
            super::waiting().run::<R>();
        }
    }
}
